//! `custos hash`: digests of files, devices, stdin and trees, as checksum lines or JSON.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use custos_hash::segments::SegmentRecord;
use custos_hash::{Algorithm, Control, EntryKind, HashOptions, HashOutcome, SegmentSpec};
use serde::Serialize;

use crate::jobs::{self, Input};
use crate::render::{self, JsonPath};
use crate::{check, progress, size, Status};

#[derive(Debug, Args)]
pub struct HashArgs {
    /// Files, block devices, directories (hashed as trees) or `-` for stdin. With --check,
    /// checksum files; with --check-segments, segment lists.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Comma-separated algorithms: md5, sha1, sha256, sha512, blake3 [default: sha256,blake3]
    #[arg(long, short = 'a', value_name = "LIST")]
    pub algo: Option<String>,

    /// Also hash fixed-size segments (e.g. 64M) under a Merkle root (see docs/segments.md)
    #[arg(long, value_name = "SIZE", value_parser = size::parse_size)]
    pub segment_size: Option<u64>,

    /// Algorithm for segment digests and the Merkle tree
    #[arg(long, value_name = "ALGO", default_value = "blake3")]
    pub segment_algo: Algorithm,

    /// Write every input's segment list to FILE (JSON lines; implies segments, 64M unless
    /// --segment-size says otherwise)
    #[arg(long, value_name = "FILE")]
    pub segments: Option<PathBuf>,

    /// Check checksum files (GNU `HEX  PATH` or BSD `TAG (PATH) = HEX` lines, any algorithm,
    /// or hashdeep's `%%%% HASHDEEP-1.0` files)
    #[arg(long, short = 'c', conflicts_with_all = ["segments", "segment_size", "check_segments"])]
    pub check: bool,

    /// Re-hash the inputs of segment lists written by --segments and name changed byte ranges
    #[arg(long, conflicts_with_all = ["segments", "segment_size", "algo"])]
    pub check_segments: bool,

    /// Audit trees against a hashdeep known file, counting matched, moved, new and missing
    /// files as `hashdeep -a -vv` does: custos hash --audit KNOWN TREE…
    #[arg(long, conflicts_with_all = ["check", "check_segments", "segments", "segment_size", "algo", "media"])]
    pub audit: bool,

    /// Hash the media an E01 image set holds (give its .E01; .E02… are found), check the
    /// MD5/SHA-1 stored inside, and tell container damage apart from a media mismatch
    #[arg(long, conflicts_with_all = ["check", "check_segments", "segments"])]
    pub media: bool,

    /// Read instead of memory-mapping
    #[arg(long)]
    pub no_mmap: bool,

    /// Bytes per mapped or read window (memory use ≈ 4 windows)
    #[arg(long, value_name = "SIZE", value_parser = size::parse_size, default_value = "8M")]
    pub window_size: u64,

    /// Threads for hashing many files at once and for BLAKE3 [default: number of CPUs]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// No progress bar and no notes about skipped entries
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// One JSON object per input per line
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: HashArgs) -> Result<Status> {
    build_thread_pool(args.jobs)?;
    if args.check {
        return check::run_checksum_files(&args);
    }
    if args.check_segments {
        return check::run_segment_lists(&args);
    }
    if args.audit {
        return crate::hash_audit::run(&args);
    }
    if args.paths.is_empty() {
        bail!("no input given: name files, directories or `-` for stdin (see custos hash --help)");
    }
    if args.media {
        return crate::media::run(&args);
    }
    let algorithms = Algorithm::parse_list(args.algo.as_deref().unwrap_or("sha256,blake3"))?;
    let segment_size =
        args.segment_size.or(args.segments.as_ref().map(|_| custos_hash::segments::DEFAULT_SEGMENT_SIZE));
    let segments = segment_size.map(|size| SegmentSpec { size, algorithm: args.segment_algo });
    let options = engine_options(&args, algorithms, segments)?;

    // A segment list is a fixity record: never overwrite one.
    let mut segment_file = match &args.segments {
        Some(path) => Some(BufWriter::new(File::create_new(path).with_context(|| {
            format!("cannot create segment list {} (an existing list is never overwritten)", shown(path))
        })?)),
        None => None,
    };
    // The bar's length grows as the walk finds inputs.
    let bar = progress::bytes_bar(0, args.quiet);
    let inputs = jobs::expand(args.paths.clone()).into_iter().inspect(|input| {
        if let Input::File { size: Some(size), .. } = input {
            bar.inc_length(*size);
        }
    });
    let tick = |bytes: u64| bar.inc(bytes);
    let control = Control { progress: Some(&tick), cancel: None };
    let stdout = io::stdout();
    // Digest lines are coreutils' bytes for pipes and files; on a terminal they are shown,
    // so what a name could do to a terminal is escaped there (docs/hashing.md, Output).
    let terminal = std::io::IsTerminal::is_terminal(&stdout);
    let mut out = BufWriter::new(stdout.lock());
    let mut status = Status::Ok;
    let window = options.window_size as u64;
    jobs::run_ordered(
        inputs,
        |input| matches!(input, Input::File { size: Some(size), .. } if *size <= window),
        |input| jobs::hash_input(input, &options, &control),
        |input, result| -> Result<()> {
            let input = &input;
            let outcome = match result {
                None => {
                    status = status.max(report_unhashed(&mut out, input, args.json, args.quiet)?);
                    return Ok(());
                }
                Some(Err(error)) => {
                    status = Status::Error;
                    bar.suspend(|| write_error(&mut out, input, &error, args.json))?;
                    return Ok(());
                }
                Some(Ok(outcome)) => outcome,
            };
            bar.suspend(|| write_outcome(&mut out, input, &outcome, args.json, terminal))?;
            if let (Some(file), Some(list)) = (segment_file.as_mut(), &outcome.segments) {
                let json_path = JsonPath::new(input.path());
                let record = SegmentRecord::new(json_path.path.into_owned(), json_path.path_hex, list);
                render::json_line(file, &record)?;
            }
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    out.flush()?;
    if let Some(mut file) = segment_file {
        file.flush().context("cannot write the segment list")?;
    }
    Ok(status)
}

/// The rayon pool is built here, once, and only here: libraries use whatever pool exists.
fn build_thread_pool(jobs: Option<usize>) -> Result<()> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = jobs {
        if jobs == 0 {
            bail!("--jobs must be at least 1");
        }
        builder = builder.num_threads(jobs);
    }
    // Already built (the demo hashes several times in one process): keep it.
    let _ = builder.build_global();
    Ok(())
}

/// The engine options every mode shares.
pub fn engine_options(
    args: &HashArgs,
    algorithms: Vec<Algorithm>,
    segments: Option<SegmentSpec>,
) -> Result<HashOptions> {
    let window_size =
        usize::try_from(args.window_size).context("--window-size is too large for this machine")?;
    let options =
        HashOptions { algorithms, segments, window_size, mmap: !args.no_mmap, ..HashOptions::default() };
    options.validate()?;
    Ok(options)
}

/// Text: one algorithm prints `HEX  PATH` exactly as sha256sum does (b3sum too, but for
/// names with a carriage return, which coreutils escapes and b3sum 1.2 does not); several
/// print BSD tagged lines, which `sha256sum -c` reads too. On a `terminal` the line is shown
/// through `escape`: a name's other control characters and bidirectional overrides appear
/// as `\u{…}` instead of acting on the terminal (a pipe or file gets coreutils' bytes).
fn write_outcome(
    out: &mut impl Write,
    input: &Input,
    outcome: &HashOutcome,
    json: bool,
    terminal: bool,
) -> io::Result<()> {
    if json {
        return render::json_line(out, &HashRecord::outcome(input, outcome));
    }
    let tagged = outcome.digests.len() > 1;
    for (algorithm, digest) in &outcome.digests {
        let line = custos_hash::checksum_file::format_line(
            *algorithm,
            digest,
            render::path_bytes(input.path()),
            tagged,
        );
        if terminal {
            out.write_all(render::escape(&String::from_utf8_lossy(&line)).as_bytes())?;
        } else {
            out.write_all(&line)?;
        }
        out.write_all(b"\n")?;
    }
    if let Some(list) = &outcome.segments {
        // Segment roots go to stderr in text mode: stdout stays a valid checksum file.
        crate::render::say(&format!(
            "{}: {} segments of {} bytes, {} Merkle root {}",
            shown(input.path()),
            list.digests.len(),
            list.spec.size,
            list.spec.algorithm,
            list.root()
        ));
    }
    Ok(())
}

fn write_error(
    out: &mut impl Write,
    input: &Input,
    error: &custos_hash::Error,
    json: bool,
) -> io::Result<()> {
    let message = render::error_chain(error);
    if json {
        let record = HashRecord { error: Some(message), verdict: Some("error"), ..HashRecord::bare(input) };
        return render::json_line(out, &record);
    }
    crate::render::say(&format!("{}", render::escape(&message)));
    Ok(())
}

/// A path from input as a message shows it: through `escape`, so a name cannot rewrite the
/// terminal it is printed on.
pub(crate) fn shown(path: &std::path::Path) -> String {
    render::escape(&path.to_string_lossy()).into_owned()
}

/// Symlinks and special files found in trees; walk failures.
fn report_unhashed(out: &mut impl Write, input: &Input, json: bool, quiet: bool) -> Result<Status> {
    let (note, record, status) = match input {
        Input::Skipped { kind: EntryKind::Symlink { target }, .. } => (
            format!("symbolic link to {}, recorded, not followed", shown(target)),
            HashRecord {
                kind: Some("symlink"),
                target: Some(target.to_string_lossy().into_owned()),
                ..HashRecord::bare(input)
            },
            Status::Ok,
        ),
        Input::Skipped { kind: EntryKind::Special { kind }, .. } => (
            format!("{} skipped: special files are recorded, never read", kind.replace('_', " ")),
            HashRecord { kind: Some(kind), ..HashRecord::bare(input) },
            Status::Ok,
        ),
        Input::WalkFailed { error, .. } => {
            let message = render::error_chain(error);
            (message.clone(), HashRecord { error: Some(message), ..HashRecord::bare(input) }, Status::Error)
        }
        _ => return Ok(Status::Ok),
    };
    if json {
        render::json_line(out, &record)?;
    } else if status == Status::Error {
        crate::render::say(&format!("{}", render::escape(&note)));
    } else if !quiet {
        crate::render::say(&format!("{}: {note}", shown(input.path())));
    }
    Ok(status)
}

/// One line of `--json` output. The keys `path`, `size`, `digests`, `segments` and `error`
/// are a contract; `kind` and `target` describe entries that were recorded, not hashed.
#[derive(Debug, Serialize)]
struct HashRecord<'a> {
    #[serde(flatten)]
    path: JsonPath<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    digests: Option<BTreeMap<&'static str, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    segments: Option<SegmentSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// `error` when the input could not be hashed (the JSON conventions' verdict word).
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<&'static str>,
}

impl<'a> HashRecord<'a> {
    fn bare(input: &'a Input) -> HashRecord<'a> {
        HashRecord {
            path: JsonPath::new(input.path()),
            size: None,
            digests: None,
            segments: None,
            kind: None,
            target: None,
            error: None,
            verdict: None,
        }
    }

    fn outcome(input: &'a Input, outcome: &HashOutcome) -> HashRecord<'a> {
        HashRecord {
            size: Some(outcome.size),
            digests: Some(outcome.digests.iter().map(|(a, d)| (a.name(), d.to_hex())).collect()),
            segments: outcome.segments.as_ref().map(|list| SegmentSummary {
                size: list.spec.size,
                algorithm: list.spec.algorithm.name(),
                count: list.digests.len(),
                root: list.root().to_hex(),
            }),
            ..HashRecord::bare(input)
        }
    }
}

#[derive(Debug, Serialize)]
struct SegmentSummary {
    size: u64,
    algorithm: &'static str,
    count: usize,
    root: String,
}
