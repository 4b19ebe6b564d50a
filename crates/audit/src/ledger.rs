//! The audit ledger, `--ledger FILE`: one signed line per audited package, each naming the
//! digest of the line before it, kept outside the packages so that recording a nightly
//! check needs no write access to evidence. Format: `docs/audit.md`.
//!
//! A line is a [`SignedLine`] whose payload is an [`Entry`]. Editing, removing, reordering
//! or inserting a line breaks the chain or a signature; cutting lines off the end does not,
//! which is why [`verify`] reports the head (the last line's digest) for the auditor to keep
//! elsewhere, and checks a head kept earlier (`--head`).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use custos_manifest::custody::sha256_hex;
use custos_manifest::envelope::SignedLine;
use custos_manifest::keys::{KeyId, PublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::file::open_regular;

/// The DSSE payload type of ledger entries.
pub const ENTRY_PAYLOAD_TYPE: &str = "application/vnd.custos.audit-entry+json; version=1";
/// Format version of entries.
pub const ENTRY_FORMAT: u64 = 1;
/// The longest line a ledger may hold: 64 KiB (an entry is a few hundred bytes).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// One audited package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// [`ENTRY_FORMAT`].
    pub custos_audit_entry: u64,
    /// The entry's position in the ledger, from 0.
    pub sequence: u64,
    /// SHA-256 (hex) of the line before, `None` for the first.
    pub previous: Option<String>,
    /// When the package was checked (RFC 3339).
    pub time: String,
    /// The package as the audit found it.
    pub package: String,
    /// SHA-256 of its `custos/manifest.json`, when it could be read.
    pub manifest_sha256: Option<String>,
    /// Its custody log's head then.
    pub head: Option<String>,
    /// `pass`, `fail` or `error`.
    pub verdict: String,
    /// `full` (every byte re-hashed) or `fast`.
    pub mode: String,
    /// How many checks failed.
    pub failures: u64,
}

/// What an entry needs; its sequence and previous digest are filled in on append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// See [`Entry::time`].
    pub time: String,
    /// See [`Entry::package`].
    pub package: String,
    /// See [`Entry::manifest_sha256`].
    pub manifest_sha256: Option<String>,
    /// See [`Entry::head`].
    pub head: Option<String>,
    /// See [`Entry::verdict`].
    pub verdict: String,
    /// See [`Entry::mode`].
    pub mode: String,
    /// See [`Entry::failures`].
    pub failures: u64,
}

/// Why the ledger cannot be appended to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The ledger.
        path: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Its last line is not one this key can continue.
    #[error("{path}: {reason}; run `custos audit ledger verify` on it and keep the file as it is")]
    Tail {
        /// The ledger.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// A ledger open for appending, locked against other audits for as long as it is open.
#[derive(Debug)]
pub struct Ledger {
    path: String,
    file: File,
    key: SigningKey,
    next: u64,
    previous: Option<String>,
}

impl Ledger {
    /// Opens (or creates) the ledger at `path` to append entries signed by `key`. Its last
    /// line must be a complete entry signed by `key` or by one of `trusted` (an earlier
    /// auditor's key): the chain continues from it, so a forged last line would otherwise
    /// have genuine entries chained onto it.
    pub fn open(path: &Path, key: SigningKey, trusted: &[PublicKey]) -> Result<Ledger, LedgerError> {
        let name = path.display().to_string();
        let io = |source| LedgerError::Io { path: name.clone(), source };
        let mut file =
            open_regular(path, OpenOptions::new().read(true).append(true).create(true)).map_err(io)?;
        // Exclusive for the run: two audits appending at once would fork the chain.
        file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => LedgerError::Tail {
                path: name.clone(),
                reason: "another audit is appending to this ledger".into(),
            },
            std::fs::TryLockError::Error(e) => io(e),
        })?;
        let tail = last_line(&mut file).map_err(io)?;
        let (next, previous) = match tail {
            Tail::Empty => (0, None),
            Tail::Torn => {
                return Err(LedgerError::Tail {
                    path: name,
                    reason: "its last line is incomplete (a write was cut off)".into(),
                })
            }
            Tail::Line(line, before) => {
                let own = key.verifying_key();
                let own_id = KeyId::of(&own).to_string();
                let signer = |id: &str| {
                    if id == own_id {
                        return Some(own);
                    }
                    trusted.iter().find(|k| k.id().to_string() == id).map(|k| k.key)
                };
                let entry = check_line_with(&line, signer)
                    .and_then(|entry| chained(&entry, before.as_deref()).map(|()| entry))
                    .map_err(|reason| LedgerError::Tail {
                        path: name.clone(),
                        reason: format!("its last line cannot be continued: {reason}"),
                    })?;
                (entry.sequence + 1, Some(sha256_hex(&line)))
            }
        };
        Ok(Ledger { path: name, file, key, next, previous })
    }

    /// Appends one signed entry and returns it; the line reaches the disk before this
    /// returns.
    pub fn append(&mut self, new: NewEntry) -> Result<Entry, LedgerError> {
        let io = |source| LedgerError::Io { path: self.path.clone(), source };
        let entry = Entry {
            custos_audit_entry: ENTRY_FORMAT,
            sequence: self.next,
            previous: self.previous.clone(),
            time: new.time,
            package: new.package,
            manifest_sha256: new.manifest_sha256,
            head: new.head,
            verdict: new.verdict,
            mode: new.mode,
            failures: new.failures,
        };
        let payload = serde_json::to_string(&entry).map_err(|e| io(e.into()))?;
        let line = SignedLine::sign(ENTRY_PAYLOAD_TYPE, payload, &self.key)
            .to_bytes()
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        let mut bytes = line.clone();
        bytes.push(b'\n');
        self.file.write_all(&bytes).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.next += 1;
        self.previous = Some(sha256_hex(&line));
        Ok(entry)
    }
}

enum Tail {
    Empty,
    Torn,
    /// The last line, and the line before it (`None`: the last is the first).
    Line(Vec<u8>, Option<Vec<u8>>),
}

/// The ledger's last two lines, read from its end (a line is at most [`MAX_LINE_BYTES`]).
fn last_line(file: &mut File) -> std::io::Result<Tail> {
    let length = file.seek(SeekFrom::End(0))?;
    if length == 0 {
        return Ok(Tail::Empty);
    }
    let start = length.saturating_sub(2 * (MAX_LINE_BYTES as u64 + 1));
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.take(length - start).read_to_end(&mut tail)?;
    let Some(body) = tail.strip_suffix(b"\n") else { return Ok(Tail::Torn) };
    let (before, last) = match body.iter().rposition(|&b| b == b'\n') {
        Some(at) => (Some(&body[..at]), &body[at + 1..]),
        None if start == 0 => (None, body),
        None => return Ok(Tail::Torn),
    };
    let previous = match before {
        None => None,
        Some(before) => match before.iter().rposition(|&b| b == b'\n') {
            Some(at) => Some(before[at + 1..].to_vec()),
            None if start == 0 => Some(before.to_vec()),
            None => return Ok(Tail::Torn),
        },
    };
    Ok(Tail::Line(last.to_vec(), previous))
}

/// Whether `entry` (the last line's) is chained to `previous`, the line before it: a valid
/// line copied to the end (a replay) names another line before it, or another number.
fn chained(entry: &Entry, previous: Option<&[u8]>) -> Result<(), String> {
    let expected = match previous {
        None => (0, None),
        Some(line) => (parse_entry(line)?.sequence.wrapping_add(1), Some(sha256_hex(line))),
    };
    if (entry.sequence, entry.previous.clone()) != expected {
        return Err(format!(
            "it is numbered {} after {}, but follows line {} ({}): a line copied or moved there",
            entry.sequence,
            entry.previous.as_deref().unwrap_or("no line"),
            expected.0,
            expected.1.as_deref().unwrap_or("the start")
        ));
    }
    Ok(())
}

/// The entry in a line, read strictly, without checking its signature.
fn parse_entry(line: &[u8]) -> Result<Entry, String> {
    let signed: SignedLine = custos_manifest::strict_json::parse(line).map_err(|e| e.to_string())?;
    if signed.payload_type != ENTRY_PAYLOAD_TYPE {
        return Err(format!("payload type `{}`, not an audit entry", signed.payload_type));
    }
    let entry: Entry =
        custos_manifest::strict_json::parse(signed.payload.as_bytes()).map_err(|e| e.to_string())?;
    if entry.custos_audit_entry != ENTRY_FORMAT {
        return Err(format!("entry format {}, this version reads {ENTRY_FORMAT}", entry.custos_audit_entry));
    }
    Ok(entry)
}

/// One problem found in a ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// What verifying a ledger established.
#[derive(Debug, Default, Serialize)]
pub struct Verified {
    /// Lines read.
    pub entries: usize,
    /// SHA-256 of the last line: keep it to show later that nothing was cut off.
    pub head: Option<String>,
    /// Every problem; none means every line is signed by a trusted key and chained.
    pub problems: Vec<Problem>,
    /// How many entries each verdict has (`pass`, `fail`, `error`).
    pub verdicts: std::collections::BTreeMap<String, u64>,
    /// Whether the head given to hold the ledger to is one of its lines.
    pub holds_head: Option<bool>,
}

/// Verifies a whole ledger: every line strictly parsed, signed by one of `trusted`,
/// numbered in order and naming the line before it. `expected_head` (a head kept from an
/// earlier run) must be the digest of one of its lines, or the ledger was cut or replaced.
pub fn verify(bytes: &[u8], trusted: &[PublicKey], expected_head: Option<&str>) -> Verified {
    let mut verified = Verified::default();
    let mut problem = |line: usize, reason: String| verified.problems.push(Problem { line, reason });
    let mut previous: Option<String> = None;
    let mut seen_head = false;
    let (body, torn) = match bytes.strip_suffix(b"\n") {
        Some(body) => (body, false),
        None => (bytes, !bytes.is_empty()),
    };
    let mut entries = 0;
    if !body.is_empty() {
        for (index, line) in body.split(|&b| b == b'\n').enumerate() {
            let number = index + 1;
            entries += 1;
            let digest = sha256_hex(line);
            seen_head |= expected_head.is_some_and(|head| head.eq_ignore_ascii_case(&digest));
            if line.len() > MAX_LINE_BYTES {
                problem(number, format!("{} bytes, more than a line may hold", line.len()));
            } else {
                match check_line(line, trusted) {
                    Err(reason) => problem(number, reason),
                    Ok(entry) => {
                        if entry.sequence != index as u64 {
                            problem(number, format!("numbered {}, expected {index}", entry.sequence));
                        }
                        if entry.previous != previous {
                            problem(
                                number,
                                format!(
                                    "names {} as the line before, which is {}",
                                    entry.previous.as_deref().unwrap_or("no line"),
                                    previous.as_deref().unwrap_or("no line")
                                ),
                            );
                        }
                        *verified.verdicts.entry(entry.verdict.clone()).or_default() += 1;
                    }
                }
            }
            previous = Some(digest);
        }
    }
    if torn {
        problem(
            entries,
            "the last line is incomplete (no newline): a write was cut off or bytes appended".into(),
        );
    }
    verified.entries = entries;
    verified.head = previous;
    verified.holds_head = expected_head.map(|_| seen_head);
    if verified.holds_head == Some(false) {
        let head = expected_head.unwrap_or_default().to_owned();
        verified.problems.push(Problem {
            line: entries,
            reason: format!(
                "no line has the head {head}: entries were cut off the end, or this is another ledger"
            ),
        });
    }
    verified
}

fn check_line(line: &[u8], trusted: &[PublicKey]) -> Result<Entry, String> {
    check_line_with(line, |id| trusted.iter().find(|k| k.id().to_string() == id).map(|k| k.key))
}

/// A line strictly parsed, with exactly one signature, by the key `signer` gives for its
/// key id (none: not trusted), over the entry.
fn check_line_with(line: &[u8], signer: impl Fn(&str) -> Option<VerifyingKey>) -> Result<Entry, String> {
    SignedLine::open(line, ENTRY_PAYLOAD_TYPE, signer)?;
    parse_entry(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_manifest::keys::Owner;

    fn key(seed: u8) -> (SigningKey, PublicKey) {
        let secret = SigningKey::from_bytes(&[seed; 32]);
        let owner =
            Owner { name: "Audit".into(), role: "auditor".into(), organisation: None, jurisdiction: None };
        let public = PublicKey { key: secret.verifying_key(), owner, created: "2026-12-01T00:00:00Z".into() };
        (secret, public)
    }

    fn entry(package: &str, verdict: &str) -> NewEntry {
        NewEntry {
            time: "2026-12-01T00:00:00Z".into(),
            package: package.into(),
            manifest_sha256: Some("ab".repeat(32)),
            head: Some("cd".repeat(32)),
            verdict: verdict.into(),
            mode: "full".into(),
            failures: u64::from(verdict != "pass"),
        }
    }

    fn ledger_with(entries: usize) -> (tempfile::TempDir, std::path::PathBuf, PublicKey) {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("audit.ledger");
        let (secret, public) = key(7);
        // In two runs: the second continues the chain of the first.
        for run in 0..2 {
            let mut ledger = Ledger::open(&path, secret.clone(), &[]).expect("open");
            for i in 0..entries / 2 {
                ledger
                    .append(entry(&format!("pkg-{run}-{i}"), if i == 1 { "fail" } else { "pass" }))
                    .expect("append");
            }
        }
        (folder, path, public)
    }

    #[test]
    fn a_ledger_verifies_across_runs() {
        let (_folder, path, public) = ledger_with(6);
        let bytes = std::fs::read(&path).expect("read");
        let verified = verify(&bytes, &[public], None);
        assert!(verified.problems.is_empty(), "{:?}", verified.problems);
        assert_eq!(verified.entries, 6);
        assert_eq!(verified.verdicts.get("fail"), Some(&2));
        let last = bytes.strip_suffix(b"\n").and_then(|b| b.rsplit(|&c| c == b'\n').next()).expect("line");
        assert_eq!(verified.head, Some(sha256_hex(last)));
    }

    #[test]
    fn every_edit_is_found() {
        let (_folder, path, public) = ledger_with(6);
        let bytes = std::fs::read(&path).expect("read");
        let lines: Vec<&[u8]> = bytes.strip_suffix(b"\n").expect("newline").split(|&b| b == b'\n').collect();
        let join = |lines: &[&[u8]]| {
            let mut out = lines.join(&b'\n');
            out.push(b'\n');
            out
        };
        let problems = |bytes: &[u8]| verify(bytes, std::slice::from_ref(&public), None).problems;
        // A verdict changed from fail to pass, the payload re-encoded: the signature breaks.
        let text = String::from_utf8(lines[1].to_vec()).expect("utf8");
        let edited = text.replacen("\\\"fail\\\"", "\\\"pass\\\"", 1);
        assert_ne!(text, edited);
        let mut changed = lines.clone();
        changed[1] = edited.as_bytes();
        let found = problems(&join(&changed));
        assert!(found.iter().any(|p| p.line == 2 && p.reason.contains("does not verify")), "{found:?}");
        // A line removed from the middle, two swapped, one duplicated.
        let mut removed = lines.clone();
        removed.remove(2);
        assert!(problems(&join(&removed)).iter().any(|p| p.line == 3));
        let mut swapped = lines.clone();
        swapped.swap(3, 4);
        assert!(problems(&join(&swapped)).iter().any(|p| p.line == 4));
        let mut duplicated = lines.clone();
        duplicated.insert(3, lines[2]);
        assert!(problems(&join(&duplicated)).iter().any(|p| p.line == 4));
        // Bytes appended without a newline; a line by an untrusted key.
        let mut appended = bytes.clone();
        appended.extend_from_slice(b"{}");
        assert!(problems(&appended).iter().any(|p| p.reason.contains("incomplete")));
        let (_, stranger) = key(9);
        assert!(verify(&bytes, &[stranger], None).problems.len() == 6);
    }

    #[test]
    fn a_cut_off_end_is_found_with_a_kept_head() {
        let (_folder, path, public) = ledger_with(6);
        let bytes = std::fs::read(&path).expect("read");
        let head = verify(&bytes, std::slice::from_ref(&public), None).head.expect("head");
        let lines: Vec<&[u8]> = bytes.strip_suffix(b"\n").expect("newline").split(|&b| b == b'\n').collect();
        let mut cut = lines[..4].join(&b'\n');
        cut.push(b'\n');
        // Alone, the cut ledger is a valid shorter one: that is why heads are kept.
        assert!(verify(&cut, std::slice::from_ref(&public), None).problems.is_empty());
        let held = verify(&cut, std::slice::from_ref(&public), Some(&head));
        assert_eq!(held.holds_head, Some(false));
        assert!(held.problems.iter().any(|p| p.reason.contains("cut off")));
        assert_eq!(verify(&bytes, &[public], Some(&head)).holds_head, Some(true));
    }

    #[test]
    fn a_torn_tail_stops_appending_and_a_second_audit_is_refused() {
        let (_folder, path, _) = ledger_with(2);
        let (secret, _) = key(7);
        let first = Ledger::open(&path, secret.clone(), &[]).expect("open");
        let second = Ledger::open(&path, secret.clone(), &[]).expect_err("locked");
        assert!(second.to_string().contains("another audit"), "{second}");
        drop(first);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(b"{\"payload\":");
        std::fs::write(&path, &bytes).expect("write");
        let error = Ledger::open(&path, secret, &[]).expect_err("torn");
        assert!(error.to_string().contains("incomplete"), "{error}");
    }

    #[test]
    fn class1_unsigned_nothing_is_chained_onto_a_forged_last_line() {
        let (_folder, path, _) = ledger_with(2);
        let (auditor, _) = key(7);
        let (mallory, mallory_public) = key(9);
        let genuine = std::fs::read(&path).expect("read");
        // A last line in the ledger's own format, signed by a key that is not the auditor's.
        let forged = {
            let mut forger = genuine.clone();
            let entry = Entry {
                custos_audit_entry: ENTRY_FORMAT,
                sequence: 2,
                previous: Some(sha256_hex(
                    genuine.strip_suffix(b"\n").and_then(|b| b.rsplit(|&c| c == b'\n').next()).expect("line"),
                )),
                time: "2026-12-01T00:00:00Z".into(),
                package: "pkg-planted".into(),
                manifest_sha256: None,
                head: None,
                verdict: "pass".into(),
                mode: "full".into(),
                failures: 0,
            };
            let payload = serde_json::to_string(&entry).expect("json");
            forger.extend(SignedLine::sign(ENTRY_PAYLOAD_TYPE, payload, &mallory).to_bytes().expect("line"));
            forger.push(b'\n');
            forger
        };
        std::fs::write(&path, &forged).expect("write");
        let error = Ledger::open(&path, auditor.clone(), &[]).expect_err("a forged tail");
        assert!(error.to_string().contains("its last line cannot be continued: signed by key"), "{error}");
        assert_eq!(std::fs::read(&path).expect("read"), forged, "nothing appended");
        // A tail signed by another key the auditor trusts (an earlier auditor's) continues.
        Ledger::open(&path, auditor.clone(), std::slice::from_ref(&mallory_public))
            .expect("a trusted signer");
        // A genuine line whose entry was edited after signing.
        let edited = String::from_utf8(genuine.clone()).expect("utf8").replacen("pkg-1-0", "pkg-1-X", 1);
        std::fs::write(&path, edited).expect("write");
        let error = Ledger::open(&path, auditor, &[]).expect_err("an edited tail");
        assert!(error.to_string().contains("does not verify"), "{error}");
    }

    #[test]
    fn class4_bounded_a_fifo_or_link_in_place_of_the_ledger_is_refused_at_once() {
        let folder = tempfile::tempdir().expect("tempdir");
        let (auditor, _) = key(7);
        let fifo = folder.path().join("fifo.ledger");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
        let error = Ledger::open(&fifo, auditor.clone(), &[]).expect_err("a FIFO");
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let link = folder.path().join("link.ledger");
        std::os::unix::fs::symlink(folder.path().join("elsewhere"), &link).expect("symlink");
        let error = Ledger::open(&link, auditor, &[]).expect_err("a link");
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert!(!folder.path().join("elsewhere").exists());
    }

    #[test]
    fn class1_unsigned_nothing_is_chained_onto_a_replayed_line() {
        let (_folder, path, _) = ledger_with(6);
        let (auditor, _) = key(7);
        let genuine = std::fs::read(&path).expect("read");
        let lines: Vec<&[u8]> =
            genuine.strip_suffix(b"\n").expect("newline").split(|&b| b == b'\n').collect();
        // A genuine, validly signed line copied to the end.
        let mut replayed = genuine.clone();
        replayed.extend_from_slice(lines[1]);
        replayed.push(b'\n');
        std::fs::write(&path, &replayed).expect("write");
        let error = Ledger::open(&path, auditor.clone(), &[]).expect_err("a replayed tail");
        assert!(error.to_string().contains("a line copied or moved there"), "{error}");
        assert_eq!(std::fs::read(&path).expect("read"), replayed, "nothing appended");
        // The first line alone at the end of another: numbered 0 after a line.
        let mut first = genuine.clone();
        first.extend_from_slice(lines[0]);
        first.push(b'\n');
        std::fs::write(&path, &first).expect("write");
        assert!(Ledger::open(&path, auditor.clone(), &[]).is_err());
        // The genuine ledger continues.
        std::fs::write(&path, &genuine).expect("write");
        Ledger::open(&path, auditor, &[]).expect("the genuine chain continues");
    }
}
