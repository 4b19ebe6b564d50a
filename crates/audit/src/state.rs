//! The audit's memory, `--state FILE`: one JSON line per package result, appended as each
//! package finishes, so that a killed audit resumes where it stopped and a later run knows
//! when each package was last fully re-hashed. Format: `docs/audit.md`.
//!
//! Crash safety: a record is one `write` to a file opened for appending, so a killed
//! process loses nothing it wrote; the file is flushed to disk at least once a second and
//! when the run ends. A torn last line (power loss) is ignored when the file is read back.
//! A new run first rewrites the file to the latest record of each package, into a
//! temporary file renamed over the old one, so the file never grows without bound and is
//! never half-rewritten.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read as _, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use custos_manifest::envelope::SignedLine;
use custos_manifest::keys::KeyId;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::file::open_regular;
use crate::shard::Shard;

/// Version of the state file's records.
pub const STATE_FORMAT: u64 = 1;

/// The largest state file read: 1 GiB (a record is a few hundred bytes, so some two
/// million packages). A larger one is not a state this audit wrote.
pub const MAX_STATE_BYTES: u64 = 1 << 30;

/// An interrupted run is continued only this long after it started (7 days); after that a
/// new run checks every package again. A resumed run repeats the results its first part
/// recorded, so how long an unsigned file may speak for a package has to be bounded.
pub const MAX_RESUME_SECONDS: i64 = 7 * 86_400;

/// Clock skew allowed before a date in the state counts as in the future.
const SKEW_SECONDS: i64 = 300;

/// The DSSE payload type of a signed state line (with the auditor's key, `--key`).
pub const STATE_PAYLOAD_TYPE: &str = "application/vnd.custos.audit-state+json; version=1";

/// Who signs a state file's lines, and whose signatures it reads: with the auditor's key,
/// every line is signed, and a line nobody trusted signed stops the audit, so whoever can
/// write the file but holds no key cannot move a full check's date or fingerprint and keep
/// a damaged package on fast checks.
#[derive(Debug, Clone)]
pub struct StateSigner {
    /// Signs new lines.
    pub key: SigningKey,
    /// Other keys whose lines are believed (an earlier auditor's); the signing key always is.
    pub trusted: Vec<VerifyingKey>,
}

impl StateSigner {
    /// The line for `record`: its JSON, signed.
    fn line(&self, record: &Record) -> std::io::Result<Vec<u8>> {
        let payload = serde_json::to_string(record)?;
        SignedLine::sign(STATE_PAYLOAD_TYPE, payload, &self.key)
            .to_bytes()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// The record's JSON in a line, when a key this signer believes signed it.
    fn open(&self, line: &[u8]) -> Result<String, String> {
        let own = self.key.verifying_key();
        SignedLine::open(line, STATE_PAYLOAD_TYPE, |id| {
            std::iter::once(own).chain(self.trusted.iter().copied()).find(|k| KeyId::of(k).to_string() == id)
        })
    }
}

/// How a package was (or is to be) checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every payload byte re-hashed.
    Full,
    /// Signatures, custody and sizes only (`verify --fast`).
    Fast,
}

/// What the last check of one package established.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageState {
    /// The run that checked it.
    pub run: String,
    /// The package (as the audit found it).
    pub package: String,
    /// `pass`, `fail` or `error`.
    pub verdict: String,
    /// How it was checked.
    pub mode: Mode,
    /// When (RFC 3339).
    pub checked_at: String,
    /// SHA-256 of `custos/manifest.json`, when it could be read.
    pub manifest_sha256: Option<String>,
    /// The package's files as they were when checked (`PackageStore::fingerprint`).
    pub fingerprint: Option<String>,
    /// When every payload byte was last re-hashed and found intact, and the fingerprint
    /// then: a package may be checked fast only while both still hold.
    pub full_at: Option<String>,
    /// The fingerprint at `full_at`.
    pub full_fingerprint: Option<String>,
    /// What the last check that passed saw: the audit's memory of which package is at this
    /// path and how far its custody log went. Carried over unchanged by checks that do not
    /// pass, so a replaced package cannot become the remembered one by failing once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<Seen>,
}

/// What a passing check saw of a package (see [`PackageState::seen`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seen {
    /// When (RFC 3339).
    pub at: String,
    /// SHA-256 of `custos/manifest.json`: a sealed manifest never changes.
    pub manifest_sha256: String,
    /// Complete events in its custody log.
    pub events: u64,
    /// SHA-256 of the log's last complete line: every later log must still hold it at
    /// position `events - 1`.
    pub head: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case", deny_unknown_fields)]
enum Record {
    Run { custos_audit_state: u64, run: String, started: String, scope: String },
    Package(PackageState),
    Finished { run: String, finished: String },
}

/// Why the state file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Reading or writing it failed.
    #[error("{path}: {source}")]
    Io {
        /// The state file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Another audit is using the file.
    #[error("{path}: another audit is using this state file")]
    Busy {
        /// The state file.
        path: PathBuf,
    },
    /// A line before the last is not a record of this format.
    #[error(
        "{path}, line {line}: not an audit state record ({reason}); move the file aside to start afresh"
    )]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// An open state file during a run.
#[derive(Debug)]
pub struct State {
    path: PathBuf,
    file: File,
    /// Held for the run.
    _lock: File,
    run: String,
    latest: HashMap<String, PackageState>,
    done: HashSet<String>,
    resumed: bool,
    synced: Instant,
    signer: Option<StateSigner>,
}

impl State {
    /// Opens (or creates) the state file for a run over `scope` (what is audited and how:
    /// roots, shard, options). If the newest run in the file has the same scope and did not
    /// finish, this run continues it: packages it already checked are [`State::done`].
    /// Otherwise a new run starts. Its lines are not signed: see [`State::open_signed`].
    pub fn open(path: &Path, scope: &str, now: &str) -> Result<State, StateError> {
        State::open_with(path, scope, now, None)
    }

    /// [`State::open`] for a state whose every line is signed by `signer` (the auditor's
    /// key): a line without a believed signature stops the audit.
    pub fn open_signed(
        path: &Path,
        scope: &str,
        now: &str,
        signer: StateSigner,
    ) -> Result<State, StateError> {
        State::open_with(path, scope, now, Some(signer))
    }

    fn open_with(
        path: &Path,
        scope: &str,
        now: &str,
        signer: Option<StateSigner>,
    ) -> Result<State, StateError> {
        let io = |source| StateError::Io { path: path.to_owned(), source };
        // One audit per state file: two would compact and rename under each other. The lock
        // is on a file beside it, since compaction replaces the state file itself.
        let lock_path = path.with_file_name(format!(
            "{}.lock",
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ));
        let lock = open_regular(&lock_path, OpenOptions::new().create(true).truncate(false).write(true))
            .map_err(|source| StateError::Io { path: lock_path.clone(), source })?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => StateError::Busy { path: path.to_owned() },
            std::fs::TryLockError::Error(e) => io(e),
        })?;
        let now_seconds = custos_manifest::time::parse_rfc3339(now).unwrap_or(i64::MAX);
        let (latest, unfinished) = match open_regular(path, OpenOptions::new().read(true)) {
            Ok(file) => read_records(path, file, now_seconds, signer.as_ref())?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (HashMap::new(), None),
            Err(e) => return Err(io(e)),
        };
        // Only the same audit, and only a recent one: an old run is checked afresh.
        let resume = unfinished.filter(|unfinished| {
            unfinished.scope == scope && now_seconds.saturating_sub(unfinished.started) <= MAX_RESUME_SECONDS
        });
        let (run, done, resumed) = match resume {
            Some(Unfinished { run, done, .. }) => (run, done, true),
            None => {
                let run = run_id(scope, now);
                compact(path, &latest, signer.as_ref()).map_err(io)?;
                (run, HashSet::new(), false)
            }
        };
        let file = open_regular(path, OpenOptions::new().read(true).create(true).append(true)).map_err(io)?;
        cut_torn_tail(&file).map_err(io)?;
        let mut state = State {
            path: path.to_owned(),
            file,
            _lock: lock,
            run,
            latest,
            done,
            resumed,
            synced: Instant::now(),
            signer,
        };
        if !resumed {
            let record = Record::Run {
                custos_audit_state: STATE_FORMAT,
                run: state.run.clone(),
                started: now.to_owned(),
                scope: scope.to_owned(),
            };
            state.append(&record, true)?;
        }
        Ok(state)
    }

    /// This run's id.
    pub fn run(&self) -> &str {
        &self.run
    }

    /// Whether this run continues an interrupted one.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// Whether this run (before it was interrupted) already checked `package`.
    pub fn done(&self, package: &str) -> bool {
        self.done.contains(package)
    }

    /// Every package's last recorded check.
    pub fn all(&self) -> impl Iterator<Item = &PackageState> {
        self.latest.values()
    }

    /// The last recorded check of `package`, from this run or an earlier one.
    pub fn previous(&self, package: &str) -> Option<&PackageState> {
        self.latest.get(package)
    }

    /// Moves every package recorded under a name that `rename` maps to another (a path as
    /// an earlier version spelled it, mapped to the one name it has now) to that name, unless
    /// the new name has a record of its own, which is newer. The file is rewritten with the
    /// new names when it is next compacted; until then, results of this run are recorded
    /// under the new names.
    pub fn rename(&mut self, rename: impl Fn(&str) -> Option<String>) {
        let renamed: Vec<(String, String)> = self
            .latest
            .keys()
            .filter_map(|old| rename(old).filter(|new| new != old).map(|new| (old.clone(), new)))
            .collect();
        for (old, new) in renamed {
            if let Some(mut known) = self.latest.remove(&old) {
                if !self.latest.contains_key(&new) {
                    known.package = new.clone();
                    self.latest.insert(new.clone(), known);
                }
            }
            if self.done.remove(&old) {
                self.done.insert(new);
            }
        }
    }

    /// Records a result (in this run).
    pub fn record(&mut self, mut result: PackageState) -> Result<(), StateError> {
        result.run = self.run.clone();
        let sync = self.synced.elapsed().as_secs() >= 1;
        self.append(&Record::Package(result.clone()), sync)?;
        self.done.insert(result.package.clone());
        self.latest.insert(result.package.clone(), result);
        Ok(())
    }

    /// Ends the run: a later audit starts a new one.
    pub fn finish(&mut self, now: &str) -> Result<(), StateError> {
        self.append(&Record::Finished { run: self.run.clone(), finished: now.to_owned() }, true)
    }

    fn append(&mut self, record: &Record, sync: bool) -> Result<(), StateError> {
        let io = |source| StateError::Io { path: self.path.clone(), source };
        let mut line = record_line(record, self.signer.as_ref()).map_err(io)?;
        line.push(b'\n');
        // One write per record: a process killed between records leaves whole lines.
        self.file.write_all(&line).map_err(io)?;
        if sync {
            self.file.sync_data().map_err(io)?;
            self.synced = Instant::now();
        }
        Ok(())
    }
}

/// Removes a last line without its newline (a write cut off by a power loss), so that the
/// next record starts on a line of its own.
fn cut_torn_tail(file: &File) -> std::io::Result<()> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let length = file.metadata()?.len();
    if length == 0 {
        return Ok(());
    }
    let mut reader = file;
    let mut last = [0u8];
    reader.seek(SeekFrom::Start(length - 1))?;
    reader.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    // Find the last newline, reading backwards in blocks.
    let mut end = length;
    let mut block = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let chunk = &mut block[..(end - start) as usize];
        reader.seek(SeekFrom::Start(start))?;
        reader.read_exact(chunk)?;
        if let Some(at) = chunk.iter().rposition(|&b| b == b'\n') {
            return file.set_len(start + at as u64 + 1);
        }
        end = start;
    }
    file.set_len(0)
}

/// The newest run in a state file, when it did not finish.
struct Unfinished {
    run: String,
    scope: String,
    /// When it started (seconds since the epoch).
    started: i64,
    /// The packages it checked.
    done: HashSet<String>,
}

/// The latest record of each package, and the newest run when it did not finish.
type Loaded = (HashMap<String, PackageState>, Option<Unfinished>);

/// Reads the records of a state file. The file is nobody's signed statement: records dated
/// after `now` (seconds), or with a full check after the check that recorded it, are
/// refused, since trusting them would keep a package on fast checks or resumed forever.
fn read_records(
    path: &Path,
    file: File,
    now: i64,
    signer: Option<&StateSigner>,
) -> Result<Loaded, StateError> {
    let io = |source| StateError::Io { path: path.to_owned(), source };
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_STATE_BYTES {
        return Err(StateError::Corrupt {
            path: path.to_owned(),
            line: 0,
            reason: format!("{size} bytes, more than a state file may hold ({MAX_STATE_BYTES})"),
        });
    }
    let mut latest = HashMap::new();
    let mut newest: Option<Unfinished> = None;
    let mut lines = BufReader::new(file.take(MAX_STATE_BYTES)).split(b'\n').enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        let line = line.map_err(|source| StateError::Io { path: path.to_owned(), source })?;
        if line.is_empty() {
            continue;
        }
        let record: Result<Record, String> = match signer {
            Some(signer) => signer.open(&line).and_then(|payload| {
                serde_json::from_str(&payload).map_err(|e| format!("not an audit state record: {e}"))
            }),
            None => serde_json::from_slice(&line).map_err(|e| {
                let signed = custos_manifest::strict_json::parse::<SignedLine>(&line).is_ok();
                match signed {
                    true => "a signed line: give the auditor's --key to read this state".to_owned(),
                    false => e.to_string(),
                }
            }),
        };
        let record = match record {
            Ok(record) => record,
            // The last line may be torn by a power loss: what it held is checked again.
            Err(_) if lines.peek().is_none() => break,
            Err(reason) => {
                return Err(StateError::Corrupt { path: path.to_owned(), line: index + 1, reason })
            }
        };
        let corrupt = |reason: String| StateError::Corrupt { path: path.to_owned(), line: index + 1, reason };
        match record {
            Record::Run { custos_audit_state, run, scope, started } => {
                if custos_audit_state != STATE_FORMAT {
                    return Err(corrupt(format!(
                        "format {custos_audit_state}, this version reads {STATE_FORMAT}"
                    )));
                }
                let started = checked_date(&started, now).map_err(corrupt)?;
                newest = Some(Unfinished { run, scope, started, done: HashSet::new() });
            }
            Record::Package(result) => {
                check_dates(&result, now).map_err(corrupt)?;
                if let Some(unfinished) = newest.as_mut().filter(|newest| newest.run == result.run) {
                    unfinished.done.insert(result.package.clone());
                }
                latest.insert(result.package.clone(), result);
            }
            Record::Finished { run, .. } => {
                if newest.as_ref().is_some_and(|newest| newest.run == run) {
                    newest = None;
                }
            }
        }
    }
    Ok((latest, newest))
}

/// A date of the state file, in seconds: RFC 3339 and not after `now` (with clock skew).
fn checked_date(text: &str, now: i64) -> Result<i64, String> {
    let Some(at) = custos_manifest::time::parse_rfc3339(text) else {
        return Err(format!("`{text}` is not an RFC 3339 time"));
    };
    if at > now.saturating_add(SKEW_SECONDS) {
        return Err(format!(
            "dated {text}, after now: the state file was edited or the clock is wrong; move the file aside to start afresh"
        ));
    }
    Ok(at)
}

/// A package record's dates: none in the future, and no full check after the check that
/// recorded it.
fn check_dates(result: &PackageState, now: i64) -> Result<(), String> {
    let checked = checked_date(&result.checked_at, now)?;
    for date in [result.full_at.as_deref(), result.seen.as_ref().map(|s| s.at.as_str())].into_iter().flatten()
    {
        if checked_date(date, now)? > checked {
            return Err(format!(
                "{}: a check at {date} recorded by the check at {}: the state file was edited; move it aside to start afresh",
                result.package, result.checked_at
            ));
        }
    }
    Ok(())
}

/// A record's line (without its newline): signed when there is a signer.
fn record_line(record: &Record, signer: Option<&StateSigner>) -> std::io::Result<Vec<u8>> {
    match signer {
        Some(signer) => signer.line(record),
        None => Ok(serde_json::to_vec(record)?),
    }
}

/// Rewrites the file to the latest record of each package, atomically.
fn compact(
    path: &Path,
    latest: &HashMap<String, PackageState>,
    signer: Option<&StateSigner>,
) -> std::io::Result<()> {
    if latest.is_empty() && !path.exists() {
        return Ok(());
    }
    let mut records: Vec<&PackageState> = latest.values().collect();
    records.sort_by(|a, b| a.package.cmp(&b.package));
    let mut bytes = Vec::new();
    for record in records {
        let line = record_line(&Record::Package(record.clone()), signer)?;
        bytes.extend_from_slice(&line);
        bytes.push(b'\n');
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = OpenOptions::new().write(true).create_new(true).open(&temporary)?;
    let written = file.write_all(&bytes).and_then(|()| file.sync_all());
    if let Err(e) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(e);
    }
    // The rename itself reaches the disk with the folder.
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(folder)?.sync_all()?;
    }
    Ok(())
}

fn run_id(scope: &str, now: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(scope.as_bytes());
    hasher.update(now.as_bytes());
    hasher.update(std::process::id().to_le_bytes());
    let digest = hasher.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `package`, last checked as `previous`, must be fully re-hashed now: when it was
/// never fully checked and found intact, when its files changed since, or when its last
/// full check is due. Due dates are spread over the second half of the rotation by a
/// fraction fixed for each package, so that a store checked in full once does not come
/// due all on one night, while no package waits longer than `full_every_days`.
pub fn needs_full(
    previous: Option<&PackageState>,
    fingerprint: Option<&str>,
    now: i64,
    full_every_days: u32,
) -> bool {
    let Some(previous) = previous else { return true };
    let (Some(full_at), Some(full_fingerprint), Some(fingerprint)) =
        (previous.full_at.as_deref(), previous.full_fingerprint.as_deref(), fingerprint)
    else {
        return true;
    };
    if previous.verdict != "pass" || full_fingerprint != fingerprint {
        return true;
    }
    let Some(full_at) = custos_manifest::time::parse_rfc3339(full_at) else { return true };
    let rotation = f64::from(full_every_days) * 86_400.0;
    let due = full_at as f64 + rotation * (1.0 - 0.5 * Shard::fraction(&previous.package));
    now as f64 >= due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(package: &str, verdict: &str) -> PackageState {
        PackageState {
            run: String::new(),
            package: package.to_owned(),
            verdict: verdict.to_owned(),
            mode: Mode::Full,
            checked_at: "2026-12-01T00:00:00Z".into(),
            manifest_sha256: None,
            fingerprint: Some("f".into()),
            full_at: Some("2026-12-01T00:00:00Z".into()),
            full_fingerprint: Some("f".into()),
            seen: None,
        }
    }

    #[test]
    fn an_interrupted_run_resumes_and_a_finished_one_does_not() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("audit.state");
        let mut state = State::open(&path, "scope", "2026-12-01T00:00:00Z").expect("open");
        state.record(result("a", "pass")).expect("record");
        state.record(result("b", "fail")).expect("record");
        let run = state.run().to_owned();
        drop(state); // killed: no finish record

        let mut state = State::open(&path, "scope", "2026-12-01T01:00:00Z").expect("reopen");
        assert!(state.resumed());
        assert_eq!(state.run(), run);
        assert!(state.done("a") && state.done("b") && !state.done("c"));
        state.record(result("c", "pass")).expect("record");
        state.finish("2026-12-01T02:00:00Z").expect("finish");
        drop(state);

        let state = State::open(&path, "scope", "2026-12-02T00:00:00Z").expect("next run");
        assert!(!state.resumed());
        assert!(!state.done("a"));
        assert_eq!(state.previous("b").map(|p| p.verdict.as_str()), Some("fail"));
        assert_eq!(state.previous("c").map(|p| p.run.as_str()), Some(run.as_str()));
    }

    #[test]
    fn class2_memory_renamed_packages_keep_their_memory_and_a_newer_record_wins() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("audit.state");
        let mut state = State::open(&path, "s", "2026-12-01T00:00:00Z").expect("open");
        state.record(result("store/a", "pass")).expect("record");
        state.record(result("store/b", "fail")).expect("record");
        state.record(result("/abs/store/b", "pass")).expect("record");
        state.rename(|old| old.strip_prefix("store/").map(|rest| format!("/abs/store/{rest}")));
        let a = state.previous("/abs/store/a").expect("moved to its new name");
        assert_eq!(a.package, "/abs/store/a");
        assert!(state.previous("store/a").is_none(), "the old name is gone");
        assert_eq!(state.previous("/abs/store/b").map(|p| p.verdict.as_str()), Some("pass"));
        assert!(state.done("/abs/store/a") && !state.done("store/a"));
    }

    #[test]
    fn one_audit_at_a_time_uses_a_state_file() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("audit.state");
        let first = State::open(&path, "s", "2026-12-01T00:00:00Z").expect("open");
        let second = State::open(&path, "s", "2026-12-01T00:00:00Z").expect_err("busy");
        assert!(matches!(second, StateError::Busy { .. }), "{second}");
        drop(first);
        State::open(&path, "s", "2026-12-01T00:00:00Z").expect("free again");
    }

    #[test]
    fn another_scope_starts_a_new_run() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("audit.state");
        let mut state = State::open(&path, "shard 0/2", "2026-12-01T00:00:00Z").expect("open");
        state.record(result("a", "pass")).expect("record");
        drop(state);
        let state = State::open(&path, "shard 1/2", "2026-12-01T00:00:00Z").expect("open");
        assert!(!state.resumed());
        assert!(state.previous("a").is_some());
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_a_corrupt_one_before_it_is_not() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("audit.state");
        let mut state = State::open(&path, "s", "2026-12-01T00:00:00Z").expect("open");
        state.record(result("a", "pass")).expect("record");
        drop(state);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(b"{\"record\":\"package\",\"run\":\"x");
        std::fs::write(&path, &bytes).expect("write");
        let mut state = State::open(&path, "s", "2026-12-01T00:00:00Z").expect("torn tail tolerated");
        assert!(state.done("a"));
        state.record(result("b", "pass")).expect("record after a torn tail");
        drop(state);
        let state = State::open(&path, "s", "2026-12-01T00:00:00Z").expect("reads cleanly after");
        assert!(state.done("a") && state.done("b"));
        drop(state);

        let mut bytes = b"not json\n".to_vec();
        bytes.extend_from_slice(&std::fs::read(&path).expect("read"));
        std::fs::write(&path, &bytes).expect("write");
        let error = State::open(&path, "s", "2026-12-01T00:00:00Z").expect_err("corrupt");
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn class1_unsigned_a_state_dated_in_the_future_is_refused() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("audit.state");
        let mut state = State::open(&path, "s", "2026-12-01T00:00:00Z").expect("open");
        state.record(result("a", "pass")).expect("record");
        state.finish("2026-12-01T00:00:00Z").expect("finish");
        drop(state);
        let genuine = std::fs::read_to_string(&path).expect("read");
        // A full check moved into the future would keep the package on fast checks forever.
        let moved =
            genuine.replace(r#""full_at":"2026-12-01T00:00:00Z""#, r#""full_at":"2031-01-01T00:00:00Z""#);
        assert_ne!(moved, genuine, "the edit applies");
        std::fs::write(&path, &moved).expect("write");
        let error = State::open(&path, "s", "2026-12-02T00:00:00Z").expect_err("a future full check");
        assert!(error.to_string().contains("dated 2031-01-01T00:00:00Z, after now"), "{error}");
        // A full check after the check that recorded it, but not in the future.
        let later =
            genuine.replace(r#""full_at":"2026-12-01T00:00:00Z""#, r#""full_at":"2026-12-01T12:00:00Z""#);
        std::fs::write(&path, &later).expect("write");
        let error =
            State::open(&path, "s", "2026-12-02T00:00:00Z").expect_err("a full check after its check");
        assert!(error.to_string().contains("recorded by the check at 2026-12-01T00:00:00Z"), "{error}");
        std::fs::write(&path, &genuine).expect("write");
        State::open(&path, "s", "2026-12-02T00:00:00Z").expect("the genuine file is read");
    }

    #[test]
    fn class1_unsigned_an_interrupted_run_resumes_only_for_a_bounded_time() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("audit.state");
        let mut state = State::open(&path, "s", "2026-12-01T00:00:00Z").expect("open");
        state.record(result("a", "pass")).expect("record");
        drop(state); // interrupted, or its `finished` line removed by hand
        let state = State::open(&path, "s", "2026-12-07T23:00:00Z").expect("within 7 days");
        assert!(state.resumed() && state.done("a"));
        drop(state);
        let state = State::open(&path, "s", "2026-12-08T00:00:01Z").expect("after 7 days");
        assert!(!state.resumed(), "a run older than the bound is not resumed");
        assert!(!state.done("a"), "its results are not repeated");
    }

    #[test]
    fn class4_bounded_a_fifo_or_link_in_place_of_the_state_or_its_lock_is_refused_at_once() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("audit.state");
        assert!(std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo").success());
        let started = Instant::now();
        let error = State::open(&path, "s", "2026-12-01T00:00:00Z").expect_err("a FIFO");
        assert!(error.to_string().contains("not a regular file"), "{error}");
        assert!(started.elapsed().as_secs() < 5, "refused without waiting for a writer");
        std::fs::remove_file(&path).expect("remove");

        let elsewhere = folder.path().join("elsewhere");
        let lock = folder.path().join("audit.state.lock");
        std::fs::remove_file(&lock).expect("the lock of the refused run");
        std::os::unix::fs::symlink(&elsewhere, &lock).expect("symlink");
        let error = State::open(&path, "s", "2026-12-01T00:00:00Z").expect_err("a link as the lock");
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert!(!elsewhere.exists(), "nothing was created through the link");
    }

    #[test]
    fn class1_unsigned_a_signed_state_believes_only_lines_its_auditor_signed() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("audit.state");
        let auditor = StateSigner { key: SigningKey::from_bytes(&[7; 32]), trusted: Vec::new() };
        let mut state =
            State::open_signed(&path, "s", "2026-12-01T00:00:00Z", auditor.clone()).expect("open");
        state.record(result("a", "pass")).expect("record");
        state.finish("2026-12-01T00:00:00Z").expect("finish");
        drop(state);
        let genuine = std::fs::read_to_string(&path).expect("read");
        assert!(genuine.lines().all(|l| l.contains(STATE_PAYLOAD_TYPE)), "every line is signed: {genuine}");
        // A new run compacts and re-signs, and reads its own lines back.
        let state = State::open_signed(&path, "s", "2026-12-02T00:00:00Z", auditor.clone()).expect("reopen");
        assert_eq!(state.previous("a").map(|p| p.verdict.as_str()), Some("pass"));
        drop(state);

        // Whoever can write the file but holds no key: an edited fingerprint (what keeps a
        // changed package on fast checks) breaks the signature; an unsigned line is refused.
        let signed = std::fs::read_to_string(&path).expect("read");
        let edited = signed.replacen(r#"\"full_fingerprint\":\"f\""#, r#"\"full_fingerprint\":\"g\""#, 1);
        assert_ne!(edited, signed, "the edit applies");
        std::fs::write(
            &path,
            format!("{edited}{{\"record\":\"finished\",\"run\":\"x\",\"finished\":\"y\"}}\n"),
        )
        .expect("write");
        let error =
            State::open_signed(&path, "s", "2026-12-02T00:00:00Z", auditor.clone()).expect_err("edited");
        assert!(error.to_string().contains("does not verify"), "{error}");
        let unsigned = format!(
            "{}\n{signed}",
            serde_json::to_string(&Record::Package(result("b", "pass"))).expect("json")
        );
        std::fs::write(&path, unsigned).expect("write");
        let error =
            State::open_signed(&path, "s", "2026-12-02T00:00:00Z", auditor.clone()).expect_err("unsigned");
        assert!(
            error.to_string().contains("line 1") && error.to_string().contains("not a signed document"),
            "{error}"
        );
        // Another key's lines are believed only when trusted.
        std::fs::write(&path, &signed).expect("write");
        let other = StateSigner { key: SigningKey::from_bytes(&[9; 32]), trusted: Vec::new() };
        let error =
            State::open_signed(&path, "s", "2026-12-02T00:00:00Z", other.clone()).expect_err("another key");
        assert!(error.to_string().contains("which is not trusted here"), "{error}");
        drop(error);
        let trusting = StateSigner { trusted: vec![auditor.key.verifying_key()], ..other };
        State::open_signed(&path, "s", "2026-12-02T00:00:00Z", trusting).expect("a trusted earlier auditor");
        // A signed state read without the key says what to do.
        std::fs::write(&path, &signed).expect("write");
        let error = State::open(&path, "s", "2026-12-03T00:00:00Z").expect_err("no key");
        assert!(error.to_string().contains("give the auditor's --key"), "{error}");
    }

    #[test]
    fn a_new_run_compacts_the_file() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("audit.state");
        for day in 1..=5 {
            let now = format!("2026-12-0{day}T00:00:00Z");
            let mut state = State::open(&path, "s", &now).expect("open");
            state.record(result("a", "pass")).expect("record");
            state.finish(&now).expect("finish");
        }
        let lines = std::fs::read_to_string(&path).expect("read").lines().count();
        // The latest result, this run's start, its result and its end.
        assert_eq!(lines, 4);
    }

    #[test]
    fn full_checks_come_due() {
        let at = |text: &str| custos_manifest::time::parse_rfc3339(text).expect("time");
        let previous = result("a", "pass");
        let checked = at("2026-12-01T00:00:00Z");
        assert!(needs_full(None, Some("f"), checked, 30));
        assert!(!needs_full(Some(&previous), Some("f"), checked + 86_400, 30));
        // Changed files, an earlier failure or a missing fingerprint force a full check.
        assert!(needs_full(Some(&previous), Some("g"), checked + 86_400, 30));
        assert!(needs_full(Some(&result("a", "fail")), Some("f"), checked + 86_400, 30));
        assert!(needs_full(Some(&previous), None, checked + 86_400, 30));
        // Never later than the rotation, never before its second half.
        assert!(needs_full(Some(&previous), Some("f"), checked + 30 * 86_400, 30));
        assert!(!needs_full(Some(&previous), Some("f"), checked + 15 * 86_400 - 1, 30));
    }
}
