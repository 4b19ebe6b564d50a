//! `custos hash --audit KNOWN TREE…`: a tree checked against a hashdeep known file, counted
//! the way `hashdeep -a -vv` counts (matched, partially matched, moved, new, not found).
//! The matching is `custos_interchange::hashdeep::audit`; this module walks, hashes, prints.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use custos_hash::Control;
use custos_interchange::hashdeep::{self, Finding, KnownFile, Observed};

use crate::hash::{engine_options, HashArgs};
use crate::jobs::{self, Input};
use crate::render;
use crate::{progress, Status};

pub fn run(args: &HashArgs) -> Result<Status> {
    let [known_path, trees @ ..] = args.paths.as_slice() else {
        bail!("--audit needs a hashdeep known file and at least one tree: custos hash --audit KNOWN TREE…");
    };
    if trees.is_empty() {
        bail!(
            "--audit needs at least one tree to audit after the known file {}",
            crate::hash::shown(known_path)
        );
    }
    let bytes = crate::render::read_input_file(known_path, crate::check::MAX_LIST_BYTES, "known file")?;
    let known = hashdeep::parse(&bytes)
        .with_context(|| format!("{} is not a hashdeep known file", crate::hash::shown(known_path)))?;
    let bad: Vec<String> =
        known.lines.iter().filter_map(|line| line.as_ref().err()).map(ToString::to_string).collect();
    for reason in bad.iter().take(10) {
        crate::render::say(&format!(
            "{}: {} (line ignored, as hashdeep does)",
            crate::hash::shown(known_path),
            render::escape(reason)
        ));
    }
    // hashdeep compares names as text: a list written with `-l` holds paths relative to where
    // it ran, one written without holds absolute paths. Walked paths follow the list's form.
    let absolute = known.entries().next().is_some_and(|entry| entry.path.starts_with(b"/"));

    let options = engine_options(args, known.algorithms.clone(), None)?;
    let bar = progress::bytes_bar(0, args.quiet);
    let inputs = jobs::expand(trees.to_vec()).into_iter().inspect(|input| {
        if let Input::File { size: Some(size), .. } = input {
            bar.inc_length(*size);
        }
    });
    let tick = |bytes: u64| bar.inc(bytes);
    let control = Control { progress: Some(&tick), cancel: None };
    let window = options.window_size as u64;
    let mut observed = Vec::new();
    let mut status = Status::Ok;
    jobs::run_ordered(
        inputs,
        |input| matches!(input, Input::File { size: Some(size), .. } if *size <= window),
        |input| jobs::hash_input(input, &options, &control),
        |input, result| -> Result<(), Infallible> {
            match result {
                Some(Ok(outcome)) => {
                    let path = if absolute {
                        std::path::absolute(input.path()).unwrap_or_else(|_| input.path().to_path_buf())
                    } else {
                        input.path().to_path_buf()
                    };
                    observed.push(Observed {
                        path: path.as_os_str().as_bytes().to_vec(),
                        size: outcome.size,
                        digests: outcome.digests.into_iter().collect(),
                    });
                }
                Some(Err(error)) => {
                    status = Status::Error;
                    bar.suspend(|| {
                        crate::render::say(&format!("{}", render::escape(&render::error_chain(&error))))
                    });
                }
                // Links and special files: recorded by a walk, never read; hashdeep -r does
                // not hash them either.
                None => {
                    if let Input::WalkFailed { error, .. } = &input {
                        status = Status::Error;
                        bar.suspend(|| {
                            crate::render::say(&format!("{}", render::escape(&render::error_chain(error))))
                        });
                    } else if !args.quiet {
                        bar.suspend(|| {
                            crate::render::say(&format!(
                                "{}: not a regular file, not audited",
                                crate::hash::shown(input.path())
                            ))
                        });
                    }
                }
            }
            Ok(())
        },
    )
    .unwrap_or_else(|never| match never {});
    bar.finish_and_clear();

    let result = hashdeep::audit(&known, &observed);
    let entries: Vec<&hashdeep::KnownEntry> = known.entries().collect();
    let verdict = if result.counts.passed() { Status::Ok } else { Status::Failed };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        let report = report(known_path, trees, &known, &observed, &result, verdict.max(status));
        render::json_line(&mut out, &report)?;
    } else {
        write_text(&mut out, &entries, &observed, &result)?;
    }
    out.flush()?;
    Ok(verdict.max(status))
}

fn text(bytes: &[u8]) -> String {
    render::escape(&String::from_utf8_lossy(bytes)).into_owned()
}

/// As `hashdeep -a -vv` prints: what differs, line by line, then the verdict and counts.
fn write_text(
    out: &mut impl Write,
    entries: &[&hashdeep::KnownEntry],
    observed: &[Observed],
    result: &hashdeep::Audit,
) -> io::Result<()> {
    for (file, finding) in observed.iter().zip(&result.findings) {
        let line = match finding {
            Finding::Matched { .. } => continue,
            Finding::New => format!("{}: No match", text(&file.path)),
            Finding::Moved { known } => {
                format!("{}: Moved from {}", text(&file.path), text(&entries[*known].path))
            }
            Finding::PartiallyMatched { known } => {
                format!("{}: Hash collision with {}", text(&file.path), text(&entries[*known].path))
            }
        };
        writeln!(out, "{line}")?;
    }
    for &index in &result.missing {
        writeln!(out, "{}: Known file not used", text(&entries[index].path))?;
    }
    let counts = &result.counts;
    writeln!(out, "custos: Audit {}", if counts.passed() { "passed" } else { "failed" })?;
    writeln!(out, "          Files matched: {}", counts.matched)?;
    writeln!(out, "Files partially matched: {}", counts.partially_matched)?;
    writeln!(out, "            Files moved: {}", counts.moved)?;
    writeln!(out, "        New files found: {}", counts.new)?;
    writeln!(out, "  Known files not found: {}", counts.missing)
}

/// The one `--json` record (docs/json.md, `hash_audit`).
fn report(
    known_path: &Path,
    trees: &[PathBuf],
    known: &KnownFile,
    observed: &[Observed],
    result: &hashdeep::Audit,
    status: Status,
) -> serde_json::Value {
    let entries: Vec<&hashdeep::KnownEntry> = known.entries().collect();
    let lossy = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let mut moved = BTreeMap::new();
    let mut partial = BTreeMap::new();
    let mut new = Vec::new();
    for (file, finding) in observed.iter().zip(&result.findings) {
        match finding {
            Finding::Matched { .. } => {}
            Finding::Moved { known } => {
                moved.insert(lossy(&file.path), lossy(&entries[*known].path));
            }
            Finding::PartiallyMatched { known } => {
                partial.insert(lossy(&file.path), lossy(&entries[*known].path));
            }
            Finding::New => new.push(lossy(&file.path)),
        }
    }
    // Sorted: a known file written by a threaded hashdeep lists its files in no set order.
    let mut missing: Vec<String> = result.missing.iter().map(|&i| lossy(&entries[i].path)).collect();
    missing.sort();
    let counts = &result.counts;
    serde_json::json!({
        "known_file": render::JsonPath::new(known_path).path,
        "trees": trees.iter().map(|t| render::JsonPath::new(t).path.into_owned()).collect::<Vec<_>>(),
        "algorithms": known.algorithms.iter().map(|a| a.name()).collect::<Vec<_>>(),
        "counts": {
            "matched": counts.matched,
            "partially_matched": counts.partially_matched,
            "moved": counts.moved,
            "new": counts.new,
            "missing": counts.missing,
        },
        "moved": moved,
        "partially_matched": partial,
        "new": new,
        "missing": missing,
        "verdict": match status {
            Status::Ok => "pass",
            Status::Failed => "fail",
            Status::Error => "error",
        },
    })
}
