//! `custos hash --check` (checksum files, GNU and BSD lines of every algorithm mixed) and
//! `custos hash --check-segments` (segment lists, naming the byte ranges that changed).

use std::collections::HashMap;
use std::convert::Infallible;
use std::ffi::OsStr;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use custos_hash::checksum_file::{parse_line, ChecksumLine, LineAlgorithm};
use custos_hash::{Algorithm, Control, Digest, HashOutcome};
use serde::Serialize;

use crate::hash::{engine_options, HashArgs};
use crate::jobs::{self, Input};
use crate::render::{self, JsonPath};
use crate::{progress, Status};
use custos_hash::segments::SegmentRecord;

/// What became of one checksum line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum LineStatus {
    Ok,
    Failed,
    Unreadable,
    Malformed,
}

#[derive(Debug, Default, Serialize)]
struct Tally {
    ok: usize,
    failed: usize,
    unreadable: usize,
    malformed: usize,
}

impl Tally {
    fn add(&mut self, status: LineStatus) {
        match status {
            LineStatus::Ok => self.ok += 1,
            LineStatus::Failed => self.failed += 1,
            LineStatus::Unreadable => self.unreadable += 1,
            LineStatus::Malformed => self.malformed += 1,
        }
    }

    fn status(&self) -> Status {
        if self.failed + self.unreadable + self.malformed > 0 || self.ok == 0 {
            Status::Failed
        } else {
            Status::Ok
        }
    }
}

/// One line of one checksum file, parsed, with the algorithms it may be in.
struct Line {
    source: PathBuf,
    number: usize,
    parsed: Result<ChecksumLine, String>,
    candidates: Vec<Algorithm>,
}

pub fn run_checksum_files(args: &HashArgs) -> Result<Status> {
    let hint = args.algo.as_deref().map(Algorithm::parse_list).transpose()?;
    let sources: Vec<PathBuf> =
        if args.paths.is_empty() { vec![PathBuf::from("-")] } else { args.paths.clone() };
    let mut lines = Vec::new();
    for source in &sources {
        lines.extend(read_checksum_file(source, hint.as_deref())?);
    }

    // Every distinct path is hashed once, with every algorithm any line asks of it.
    let mut wanted: Vec<(PathBuf, Vec<Algorithm>)> = Vec::new();
    let mut index: HashMap<PathBuf, usize> = HashMap::new();
    for line in &lines {
        let Ok(parsed) = &line.parsed else { continue };
        let path = PathBuf::from(OsStr::from_bytes(&parsed.path));
        let slot = *index.entry(path.clone()).or_insert_with(|| {
            wanted.push((path, Vec::new()));
            wanted.len() - 1
        });
        for algorithm in &line.candidates {
            if !wanted[slot].1.contains(algorithm) {
                wanted[slot].1.push(*algorithm);
            }
        }
    }
    let window = usize::try_from(args.window_size).unwrap_or(usize::MAX) as u64;
    let inputs: Vec<(Input, Vec<Algorithm>)> = wanted
        .into_iter()
        .map(|(path, algorithms)| {
            let size = std::fs::metadata(&path).ok().filter(|m| m.is_file()).map(|m| m.len());
            (Input::File { path, size, in_tree: false }, algorithms)
        })
        .collect();
    let bar = progress::bytes_bar(
        inputs
            .iter()
            .map(|(input, _)| if let Input::File { size: Some(s), .. } = input { *s } else { 0 })
            .sum(),
        args.quiet,
    );
    let tick = |bytes: u64| bar.inc(bytes);
    let control = Control { progress: Some(&tick), cancel: None };
    let mut outcomes: Vec<Result<HashOutcome, String>> = Vec::with_capacity(inputs.len());
    jobs::run_ordered(
        inputs.iter(),
        |(input, _)| matches!(input, Input::File { size: Some(size), .. } if *size <= window),
        |(input, algorithms)| -> Result<HashOutcome, String> {
            let mut algorithms = algorithms.clone();
            algorithms.sort();
            let options = engine_options(args, algorithms, None).map_err(|e| e.to_string())?;
            hash_listed(input.path(), &options, &control)
        },
        |_, outcome| -> Result<(), Infallible> {
            outcomes.push(outcome);
            Ok(())
        },
    )
    .unwrap_or_else(|never| match never {});
    bar.finish_and_clear();

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut tally = Tally::default();
    let mut malformed_shown: std::collections::BTreeMap<std::path::PathBuf, usize> = Default::default();
    let mut mentioned: Vec<bool> = vec![false; outcomes.len()];
    for line in &lines {
        let report = match &line.parsed {
            Err(reason) => LineReport::malformed(line, reason),
            Ok(parsed) => {
                let slot = index[Path::new(OsStr::from_bytes(&parsed.path))];
                let first_mention = !std::mem::replace(&mut mentioned[slot], true);
                LineReport::checked(line, parsed, &outcomes[slot], first_mention)
            }
        };
        tally.add(report.status);
        // A few malformed lines are named; a file of them (an image given by mistake) is
        // not printed line by line.
        if report.status == LineStatus::Malformed && !args.json {
            let shown = malformed_shown.entry(line.source.clone()).or_insert(0usize);
            *shown += 1;
            if *shown > MALFORMED_SHOWN {
                continue;
            }
        }
        report.write(&mut out, args.json)?;
    }
    for (source, count) in &malformed_shown {
        let hint = not_a_checksum_file_hint(source);
        if *count > MALFORMED_SHOWN {
            crate::render::say(&format!(
                "{}: {} more improperly formatted lines not shown{}",
                render::escape(&source.to_string_lossy()),
                count - MALFORMED_SHOWN,
                render::escape(&hint)
            ));
        } else if !hint.is_empty() {
            crate::render::say(&format!(
                "{}{}",
                render::escape(&source.to_string_lossy()),
                render::escape(&hint)
            ));
        }
    }
    let status = tally.status();
    if args.json {
        let verdict = match status {
            Status::Ok => "pass",
            Status::Failed => "fail",
            Status::Error => "error",
        };
        render::json_line(&mut out, &serde_json::json!({ "summary": &tally, "verdict": verdict }))?;
    }
    out.flush()?;
    if !args.json {
        print_warnings(&tally);
    }
    Ok(status)
}

/// Hashes a file a checksum or segment list names. A list is input like any other: it may
/// name `/dev/zero` (which never ends), a FIFO (which waits for a writer forever) or a
/// socket, so the file is opened without blocking and read only when `fstat` says it is a
/// regular file or a block device (which have a size); anything else fails its lines.
fn hash_listed(
    path: &Path,
    options: &custos_hash::HashOptions,
    control: &Control,
) -> Result<HashOutcome, String> {
    let file = custos_hash::open_evidence(path).map_err(|e| render::error_chain(&e))?;
    custos_hash::hash_file(&file, path, options, control).map_err(|e| render::error_chain(&e))
}

/// How many malformed lines of one checksum file are named one by one.
const MALFORMED_SHOWN: usize = 10;

/// What a file full of malformed lines probably is, in words.
fn not_a_checksum_file_hint(source: &Path) -> String {
    let mut head = Vec::new();
    let read = std::fs::File::open(source).and_then(|f| io::Read::take(f, 8192).read_to_end(&mut head));
    if read.is_err() {
        return String::new();
    }
    if head.starts_with(b"%%%% HASHDEEP-") {
        format!(
            ": {} is a hashdeep file of a version other than HASHDEEP-1.0; check it with `hashdeep -a -k {} FILES…`",
            source.display(),
            source.display()
        )
    } else if head.contains(&0) {
        format!(
            ": {} looks like binary data, not a checksum file (to hash it: custos hash {})",
            source.display(),
            source.display()
        )
    } else {
        String::new()
    }
}

/// The largest checksum or segment list read: 1 GiB (some ten million lines), so a list
/// that claims terabytes (a sparse file, `/dev/zero`) is refused instead of filling memory.
pub const MAX_LIST_BYTES: u64 = 1 << 30;

fn read_checksum_file(source: &Path, hint: Option<&[Algorithm]>) -> Result<Vec<Line>> {
    let mut bytes = Vec::new();
    if source.as_os_str() == "-" {
        io::Read::take(io::stdin().lock(), MAX_LIST_BYTES + 1)
            .read_to_end(&mut bytes)
            .context("cannot read checksums from stdin")?;
        if bytes.len() as u64 > MAX_LIST_BYTES {
            anyhow::bail!("the checksums on stdin run past {MAX_LIST_BYTES} bytes: not a checksum list");
        }
    } else {
        bytes = crate::render::read_input_file(source, MAX_LIST_BYTES, "checksum file")?;
    }
    if custos_interchange::hashdeep::is_hashdeep(&bytes) {
        return read_hashdeep_file(source, &bytes);
    }
    let ambiguous = resolve_sha256_or_blake3(source, hint);
    let mut lines = Vec::new();
    for (number, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let parsed = match parse_line(raw) {
            Ok(None) => continue,
            Ok(Some(parsed)) => Ok(parsed),
            Err(error) => Err(error.to_string()),
        };
        let candidates = match &parsed {
            Ok(ChecksumLine { algorithm: LineAlgorithm::Known(a), .. }) => vec![*a],
            Ok(ChecksumLine { algorithm: LineAlgorithm::Sha256OrBlake3, .. }) => ambiguous.clone(),
            _ => Vec::new(),
        };
        lines.push(Line { source: source.to_owned(), number: number + 1, parsed, candidates });
    }
    Ok(lines)
}

/// A hashdeep file's records as checksum lines: one per digest column (the algorithm is the
/// column's, never guessed), paths relative to where the check runs, as for sha256sum.
fn read_hashdeep_file(source: &Path, bytes: &[u8]) -> Result<Vec<Line>> {
    let known = custos_interchange::hashdeep::parse(bytes)
        .with_context(|| format!("cannot read hashdeep file {}", crate::hash::shown(source)))?;
    if !known.ignored_columns.is_empty() {
        crate::render::say(&format!(
            "{}: {} columns are not checked (Custos does not compute them)",
            crate::hash::shown(source),
            render::escape(&known.ignored_columns.join(", "))
        ));
    }
    let mut lines = Vec::new();
    for line in known.lines {
        match line {
            Ok(entry) => {
                for (algorithm, digest) in entry.digests {
                    lines.push(Line {
                        source: source.to_owned(),
                        number: entry.line,
                        parsed: Ok(ChecksumLine {
                            algorithm: LineAlgorithm::Known(algorithm),
                            digest,
                            path: entry.path.clone(),
                        }),
                        candidates: vec![algorithm],
                    });
                }
            }
            Err(custos_interchange::Error::Syntax { line, reason }) => lines.push(Line {
                source: source.to_owned(),
                number: line,
                parsed: Err(reason),
                candidates: Vec::new(),
            }),
            Err(other) => lines.push(Line {
                source: source.to_owned(),
                number: 0,
                parsed: Err(other.to_string()),
                candidates: Vec::new(),
            }),
        }
    }
    Ok(lines)
}

/// A 64-digit untagged line is SHA-256 or BLAKE3. The checksum file's name decides
/// (`SHA256SUMS`, `*.sha256`; `B3SUMS`, `*.b3`, `*blake3*`), then `--algo`; otherwise both
/// are computed and either may match (both are collision-resistant, and the report names
/// the one that matched).
fn resolve_sha256_or_blake3(source: &Path, hint: Option<&[Algorithm]>) -> Vec<Algorithm> {
    let name = source.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if name.contains("sha256") {
        return vec![Algorithm::Sha256];
    }
    if name.contains("blake3") || name.ends_with("b3sums") || name.ends_with(".b3") {
        return vec![Algorithm::Blake3];
    }
    let from_hint: Vec<Algorithm> = hint
        .unwrap_or_default()
        .iter()
        .copied()
        .filter(|a| matches!(a, Algorithm::Sha256 | Algorithm::Blake3))
        .collect();
    if from_hint.is_empty() {
        vec![Algorithm::Sha256, Algorithm::Blake3]
    } else {
        from_hint
    }
}

/// The verdict on one line, for text or JSON.
#[derive(Debug, Serialize)]
struct LineReport<'a> {
    /// The checksum file's path, and `checksum_file_hex` when it is not UTF-8.
    checksum_file: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_file_hex: Option<String>,
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    algorithm: Option<&'static str>,
    status: LineStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip)]
    raw_path: Option<Vec<u8>>,
    #[serde(skip)]
    say_error: bool,
}

impl<'a> LineReport<'a> {
    fn new(line: &'a Line, status: LineStatus) -> LineReport<'a> {
        let source = JsonPath::new(&line.source);
        LineReport {
            checksum_file: source.path,
            checksum_file_hex: source.path_hex,
            line: line.number,
            path: None,
            algorithm: None,
            status,
            expected: None,
            actual: None,
            error: None,
            raw_path: None,
            say_error: false,
        }
    }

    fn malformed(line: &'a Line, reason: &str) -> LineReport<'a> {
        LineReport {
            error: Some(reason.to_owned()),
            say_error: true,
            ..LineReport::new(line, LineStatus::Malformed)
        }
    }

    /// `first_mention`: whether this is the first line naming this file, so that the reason
    /// an unreadable file failed is said once, not once per line.
    fn checked(
        line: &'a Line,
        parsed: &ChecksumLine,
        outcome: &Result<HashOutcome, String>,
        first_mention: bool,
    ) -> LineReport<'a> {
        let base = LineReport {
            path: Some(String::from_utf8_lossy(&parsed.path).into_owned()),
            expected: Some(parsed.digest.to_hex()),
            raw_path: Some(parsed.path.clone()),
            ..LineReport::new(line, LineStatus::Unreadable)
        };
        let outcome = match outcome {
            Err(error) => return LineReport { error: Some(error.clone()), say_error: first_mention, ..base },
            Ok(outcome) => outcome,
        };
        let computed: Vec<(Algorithm, &Digest)> =
            line.candidates.iter().filter_map(|&a| outcome.digest(a).map(|d| (a, d))).collect();
        let matched = computed.iter().find(|(_, d)| **d == parsed.digest);
        // Report the algorithm that matched, or else the first one tried.
        let shown = matched.or(computed.first());
        LineReport {
            algorithm: shown.map(|(a, _)| a.name()),
            actual: shown.map(|(_, d)| d.to_hex()),
            status: if matched.is_some() { LineStatus::Ok } else { LineStatus::Failed },
            ..base
        }
    }

    fn write(&self, out: &mut impl Write, json: bool) -> io::Result<()> {
        if json {
            return render::json_line(out, self);
        }
        if self.status == LineStatus::Malformed {
            let reason = self.error.as_deref().unwrap_or("malformed");
            crate::render::say(&format!(
                "{}:{}: improperly formatted line: {}",
                render::escape(&self.checksum_file),
                self.line,
                render::escape(reason)
            ));
            return Ok(());
        }
        if let (true, Some(error)) = (self.say_error, &self.error) {
            crate::render::say(&format!("{}", render::escape(error)));
        }
        // A report for people, not a checksum file: the name as `escape` shows any text
        // from input (controls, newlines and carriage returns included, as `\u{…}`), so a
        // planted name can neither fake an `OK` line nor hide a `FAILED` one.
        let path = String::from_utf8_lossy(self.raw_path.as_deref().unwrap_or_default());
        out.write_all(render::escape(&path).as_bytes())?;
        let verdict: &[u8] = match self.status {
            LineStatus::Ok => b": OK\n",
            LineStatus::Failed => b": FAILED\n",
            _ => b": FAILED open or read\n",
        };
        out.write_all(verdict)
    }
}

/// The tallies, worded as GNU's warnings, then one summary line.
fn print_warnings(tally: &Tally) {
    let plural =
        |n: usize, one: &str, many: &str| if n == 1 { format!("{n} {one}") } else { format!("{n} {many}") };
    if tally.malformed > 0 {
        crate::render::say(&format!(
            "WARNING: {} improperly formatted",
            plural(tally.malformed, "line is", "lines are")
        ));
    }
    if tally.unreadable > 0 {
        crate::render::say(&format!(
            "WARNING: {} could not be read",
            plural(tally.unreadable, "listed file", "listed files")
        ));
    }
    if tally.failed > 0 {
        crate::render::say(&format!(
            "WARNING: {} did NOT match",
            plural(tally.failed, "computed checksum", "computed checksums")
        ));
    }
    if tally.ok + tally.failed + tally.unreadable == 0 {
        crate::render::say("no properly formatted checksum lines found");
    }
    crate::render::say(&format!(
        "{} OK, {} FAILED, {} unreadable, {} malformed",
        tally.ok, tally.failed, tally.unreadable, tally.malformed
    ));
}

/// The verdict on one segment list entry.
#[derive(Debug, Serialize)]
struct SegmentReport {
    path: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    changed_ranges: Vec<ByteRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A half-open range of bytes, `start` included, `end` excluded.
#[derive(Debug, Serialize)]
struct ByteRange {
    start: u64,
    end: u64,
}

pub fn run_segment_lists(args: &HashArgs) -> Result<Status> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut status = Status::Ok;
    if args.paths.is_empty() {
        anyhow::bail!("--check-segments needs at least one segment list (written by --segments)");
    }
    for source in &args.paths {
        let bytes = crate::render::read_input_file(source, MAX_LIST_BYTES, "segment list")?;
        let text = String::from_utf8(bytes)
            .with_context(|| format!("the segment list {} is not UTF-8 text", crate::hash::shown(source)))?;
        for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let report = check_segment_record(args, line).unwrap_or_else(|error| SegmentReport {
                path: format!("{}:{}", source.to_string_lossy(), number + 1),
                status: "error",
                changed_ranges: Vec::new(),
                error: Some(error),
            });
            status = status.max(match report.status {
                "ok" => Status::Ok,
                "changed" => Status::Failed,
                _ => Status::Error,
            });
            if args.json {
                render::json_line(&mut out, &report)?;
            } else {
                match (&report.error, report.changed_ranges.is_empty()) {
                    (Some(error), _) => crate::render::say(&format!(
                        "{}: {}",
                        render::escape(&report.path),
                        render::escape(error)
                    )),
                    (None, true) => writeln!(out, "{}: OK", render::escape(&report.path))?,
                    (None, false) => {
                        let ranges: Vec<String> = report
                            .changed_ranges
                            .iter()
                            .map(|r| format!("bytes {}..{} ({} bytes)", r.start, r.end, r.end - r.start))
                            .collect();
                        writeln!(out, "{}: CHANGED {}", render::escape(&report.path), ranges.join(", "))?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(status)
}

fn check_segment_record(args: &HashArgs, line: &str) -> Result<SegmentReport, String> {
    let record: SegmentRecord =
        serde_json::from_str(line).map_err(|e| format!("not a segment list line: {e}"))?;
    let stored = record.to_list()?;
    let spec = stored.spec;
    // The file read is the one reported: its name comes from the bytes opened.
    let path = PathBuf::from(OsStr::from_bytes(&record.path_bytes()?));
    let options = engine_options(args, Vec::new(), Some(spec)).map_err(|e| e.to_string())?;
    let outcome = hash_listed(&path, &options, &Control::default())?;
    let fresh = outcome.segments.ok_or("no segments computed")?;
    let changed = fresh.changed_ranges(&stored).map_err(|_| "segment specs differ".to_owned())?;
    Ok(SegmentReport {
        path: path.to_string_lossy().into_owned(),
        status: if changed.is_empty() { "ok" } else { "changed" },
        changed_ranges: changed.into_iter().map(|r| ByteRange { start: r.start, end: r.end }).collect(),
        error: None,
    })
}
