//! Verifying a package. The verifier first takes a [`Snapshot`]: the listing and every tag
//! file's bytes, read through the package's store under the package's shared lock, so that
//! a custody append running at the same time is seen either wholly or not at all. Then it
//! checks, on that snapshot and without further reads of tag files: the bag's structure,
//! the manifest's signatures and their signers' trust, the signed manifest's coverage of
//! the payload (every file under `data/` must be an item, compared as bytes), and the
//! custody log. Last, it reads each payload file once, after comparing its size on disk with
//! the signed size, and checks every claim about it (bag manifests, signed digests, segment
//! root) from that one read.
//!
//! Every loop over what the package supplies is linear and capped (the caps are in
//! `docs/formats/package.md`); nothing is followed through a link or read from a FIFO.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use custos_hash::segments::SegmentRecord;
use custos_hash::{
    hash_file, hash_reader, Algorithm, Control, Digest, EntryKind, HashOptions, SegmentList, SegmentSpec,
};

use crate::bagit::{self, BagClaims};
use crate::custody::{self, Event, LogInput};
use crate::envelope::{SignatureFile, SignatureVerdict};
use crate::findings::{Finding, Verdict};
use crate::keys::{KeyId, PublicKey};
use crate::manifest::{Item, Manifest, MANIFEST_PAYLOAD_TYPE};
use crate::package::{KEYS_DIR, MANIFEST_PATH, MANIFEST_SIGNATURES_PATH};
use crate::parts::{hash_parts, OpenedPart, PartsError};
use crate::receipt::Receipt;
use crate::store::{PackageDir, PackageStore, PayloadBody, StoreError, StoredEntry, MAX_TAG_FILE_BYTES};

/// The most bytes all tag files of a package may hold together: 256 MiB.
pub const MAX_TAG_BYTES: u64 = 256 << 20;
/// The most signatures a manifest's signature file may hold: 64.
pub const MAX_MANIFEST_SIGNATURES: usize = 64;
pub use crate::layout::MAX_KEY_FILES;

/// Whom to trust when verifying.
#[derive(Debug, Default)]
pub struct Trust {
    /// Keys given with `--trust`.
    pub keys: Vec<PublicKey>,
    /// Report integrity only when no signer is trusted, instead of failing.
    pub allow_untrusted: bool,
}

/// How to verify.
#[derive(Debug)]
pub struct VerifyOptions<'a> {
    /// Whom to trust.
    pub trust: &'a Trust,
    /// Skip re-hashing payload bytes (sizes are still compared).
    pub fast: bool,
    /// Check items that have a signed segment list by their segments, on every core,
    /// instead of recomputing their whole-file digests.
    pub by_segments: bool,
    /// The bytes of referenced items: the file itself when there is one referenced item, or
    /// a folder holding them under their file names.
    pub evidence: Option<&'a Path>,
    /// The time of verification (seconds since the epoch): events dated after it (beyond
    /// [`custody::MAX_CLOCK_SKEW_SECONDS`]) fail.
    pub now: i64,
    /// Receipts to compare the log with, each with a name for the findings.
    pub receipts: &'a [(String, Receipt)],
    /// Certificates of the time-stamping authorities whose tokens are trusted.
    pub tsa_certificates: &'a [custos_timestamp::Certificate],
    /// Narrower sets of them (each jurisdiction's own): the trusted times under each are
    /// established too ([`Verification::trusted_times_by_set`]), so that one jurisdiction's
    /// authority never decides another's verdict.
    pub tsa_certificate_sets: &'a [Vec<custos_timestamp::Certificate>],
    /// Told how many payload bytes will be read, then of each window read (for a progress
    /// bar); `None` for none.
    pub progress: Option<&'a dyn VerifyProgress>,
}

/// Progress of the one pass over the payload bytes.
pub trait VerifyProgress: Sync + std::fmt::Debug {
    /// Before reading: the payload bytes that will be hashed.
    fn payload(&self, total_bytes: u64);
    /// After each window: the bytes just read.
    fn read(&self, bytes: u64);
}

/// Times established by RFC 3161 tokens that verified under a trusted TSA certificate:
/// when each manifest signature (by key id) and each custody event's signature (by
/// sequence) existed at the latest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrustedTimes {
    /// Manifest signatures: key id → seconds since the epoch.
    pub manifest: BTreeMap<String, i64>,
    /// Custody events: sequence → seconds since the epoch.
    pub events: BTreeMap<u64, i64>,
}

/// What verification established, for what is judged on top of it (jurisdiction policies).
#[derive(Debug, Default)]
pub struct Verification {
    /// Every finding.
    pub findings: Vec<Finding>,
    /// The manifest, when a valid signature allowed parsing it.
    pub manifest: Option<Manifest>,
    /// Custody events signed by trusted keys, in order, that passed every check (policies
    /// judge only these).
    pub events: Vec<Event>,
    /// Key ids whose signature over the manifest is cryptographically valid (trusted or not:
    /// a policy decides whom it trusts), each once.
    pub manifest_signers: Vec<String>,
    /// The custody log's length, head and holder.
    pub custody: CustodySummary,
    /// Trusted times from verified time-stamp tokens.
    pub trusted_times: TrustedTimes,
    /// The trusted times under each of [`VerifyOptions::tsa_certificate_sets`], in order.
    pub trusted_times_by_set: Vec<TrustedTimes>,
    /// SHA-256 (hex) of `custos/manifest.json` as read.
    pub manifest_sha256: Option<String>,
}

/// What a court compares with what it was told: how many events, which is the newest (its
/// line's SHA-256), and who holds the evidence. A log proves its prefix only: a holder
/// compares the head with a receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CustodySummary {
    /// Complete events in the log.
    pub events: usize,
    /// SHA-256 (hex) of the last complete line.
    pub head: Option<String>,
    /// Who holds the evidence, and any transfer in progress.
    #[serde(flatten)]
    pub holder: crate::holder::CustodyState,
    /// SHA-256 (hex) of every complete line, in order: whether the log still holds a head
    /// seen earlier (an audit's memory, a receipt) is a lookup here.
    #[serde(skip)]
    pub line_digests: Vec<String>,
}

/// A consistent picture of a package's metadata: the listing and every tag file's bytes.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Every entry, sorted by path bytes.
    pub entries: Vec<StoredEntry>,
    /// Tag files (regular files outside `data/`) by path, with their bytes or why they
    /// could not be read.
    pub tags: BTreeMap<String, Result<Vec<u8>, String>>,
    /// What was wrong with the layout (links, special files, names that are not UTF-8,
    /// unreadable tag files).
    pub findings: Vec<Finding>,
}

impl Snapshot {
    /// Lists the package and reads every tag file, under the package's shared lock.
    pub fn take(store: &dyn PackageStore) -> Result<Snapshot, StoreError> {
        let _lock = store.read_lock()?;
        let mut snapshot = Snapshot { entries: store.list()?, ..Snapshot::default() };
        // Tag files are read smallest first within the budget: large files planted outside
        // data/ exhaust it themselves, and are named, instead of crowding out the package's
        // own small files.
        let mut by_size: Vec<&StoredEntry> = snapshot.entries.iter().collect();
        by_size.sort_by_key(|e| match e.kind {
            EntryKind::File { size } => size,
            _ => 0,
        });
        let mut total: u64 = 0;
        for entry in by_size {
            let shown = escape_bytes(&entry.path);
            let in_payload = entry.path.starts_with(b"data/");
            let Some(path) = entry.utf8_path() else {
                let check = if in_payload { "bag.name_encoding" } else { "package.name_encoding" };
                snapshot.findings.push(Finding::fail(
                    check,
                    shown,
                    "a name that is not valid UTF-8: names are compared as bytes and never converted",
                ));
                continue;
            };
            match &entry.kind {
                EntryKind::File { .. } if in_payload => {}
                EntryKind::File { size } => {
                    let read = if total.saturating_add(*size) > MAX_TAG_BYTES {
                        Err(format!(
                            "not read: with it, the files outside data/ would hold more than {MAX_TAG_BYTES} bytes together ({size} bytes here)"
                        ))
                    } else {
                        store.read_small(path, MAX_TAG_FILE_BYTES).map_err(|e| e.to_string())
                    };
                    if let Ok(bytes) = &read {
                        total += bytes.len() as u64;
                    }
                    if let Err(e) = &read {
                        snapshot.findings.push(Finding::fail("package.file", path, e.clone()));
                    }
                    snapshot.tags.insert(path.to_owned(), read);
                }
                EntryKind::Symlink { target } => snapshot.findings.push(Finding::fail(
                    if in_payload { "bag.symlink" } else { "package.link" },
                    path,
                    format!(
                        "a symbolic link (to {}); package files are never reached through links",
                        escape_bytes(std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str()))
                    ),
                )),
                EntryKind::Special { kind } => snapshot.findings.push(Finding::fail(
                    if in_payload { "bag.special_file" } else { "package.special_file" },
                    path,
                    format!("a {kind}; a package holds only regular files"),
                )),
                _ => snapshot.findings.push(Finding::fail("package.file", path, "an entry of unknown kind")),
            }
        }
        Ok(snapshot)
    }

    /// Regular files under `data/` with UTF-8 names, and their sizes at the listing.
    pub fn payload_files(&self) -> impl Iterator<Item = (&str, u64)> {
        self.entries.iter().filter_map(|entry| match entry.kind {
            EntryKind::File { size } if entry.path.starts_with(b"data/") => Some((entry.utf8_path()?, size)),
            _ => None,
        })
    }

    /// A tag file's bytes, or why there are none.
    pub fn tag(&self, path: &str) -> Result<&[u8], String> {
        match self.tags.get(path) {
            Some(Ok(bytes)) => Ok(bytes),
            Some(Err(reason)) => Err(format!("cannot be read: {reason}")),
            None => Err("missing".to_owned()),
        }
    }

    /// A tag file as UTF-8 text (RFC 8493 declares tag files UTF-8).
    pub fn tag_text(&self, path: &str) -> Result<&str, String> {
        std::str::from_utf8(self.tag(path)?).map_err(|_| "not valid UTF-8".to_owned())
    }
}

/// Verifies the package in a local folder.
pub fn verify_package(package: &Path, options: &VerifyOptions) -> Verification {
    match PackageDir::open(package) {
        Ok(store) => verify_store(&store, options),
        Err(e) => Verification {
            findings: vec![Finding::fail("package.open", package.display().to_string(), e.to_string())],
            ..Verification::default()
        },
    }
}

/// Validates a folder as a bag only (no signatures, no Custos manifest): structure, tag
/// manifests, and every payload file against the payload manifests.
pub fn validate_bag(bag: &Path, fast: bool) -> Vec<Finding> {
    let store = match PackageDir::open(bag) {
        Ok(store) => store,
        Err(e) => return vec![Finding::fail("package.open", bag.display().to_string(), e.to_string())],
    };
    let snapshot = match Snapshot::take(&store) {
        Ok(snapshot) => snapshot,
        Err(e) => return vec![Finding::fail("package.open", bag.display().to_string(), e.to_string())],
    };
    let mut findings = snapshot.findings.clone();
    let (bag_findings, claims) = bagit::check_structure(&snapshot);
    findings.extend(bag_findings);
    let reading = Reading { fast, by_segments: false, progress: None };
    check_payload(&store, &snapshot, &claims, None, &reading, &mut findings);
    findings
}

/// Verifies a package through its store: every finding, and what was established.
pub fn verify_store(store: &dyn PackageStore, options: &VerifyOptions) -> Verification {
    let mut established = Verification::default();
    let snapshot = match Snapshot::take(store) {
        Ok(snapshot) => snapshot,
        Err(e) => {
            established.findings.push(Finding::fail("package.open", store.location(), e.to_string()));
            return established;
        }
    };
    let mut findings = snapshot.findings.clone();
    established.manifest_sha256 = snapshot.tag(MANIFEST_PATH).ok().map(custody::sha256_hex);
    let (bag_findings, claims) = bagit::check_structure(&snapshot);
    findings.extend(bag_findings);
    check_custos_files(&snapshot, &mut findings);
    let shipped = shipped_keys(&snapshot, &mut findings);
    let manifest = check_signatures(&snapshot, options.trust, &shipped, &mut findings, &mut established);
    // After the signatures: a detached signature counts only by a key that signed the
    // manifest (its signature verified) or that the verifier trusts.
    check_minisign(&snapshot, &shipped, options.trust, &established.manifest_signers, &mut findings);
    if let Some(manifest) = &manifest {
        check_manifest(manifest, &claims, &snapshot, options.now, &mut findings);
        check_segment_lists(manifest, &snapshot, &mut findings);
        check_acquisitions(manifest, &mut findings);
        check_copy_verifications(manifest, &mut findings);
    }
    if manifest.is_some() {
        let reading =
            Reading { fast: options.fast, by_segments: options.by_segments, progress: options.progress };
        check_payload(store, &snapshot, &claims, manifest.as_ref(), &reading, &mut findings);
    } else {
        findings.push(Finding::warn(
            "bag.payload_digest",
            "data/",
            "not hashed: no manifest signed by a trusted key says what the bytes must be",
        ));
    }
    if let Some(manifest) = manifest {
        check_referenced(&manifest, options.evidence, options.fast, &mut findings);
        let trust = options.trust;
        let lookup = |id: &str| -> Option<(PublicKey, bool)> {
            trust
                .keys
                .iter()
                .find(|k| k.id().to_string() == id)
                .map(|k| (k.clone(), true))
                .or_else(|| shipped.get(id).map(|k| (k.clone(), false)))
        };
        let input = LogInput {
            log: snapshot.tag(custody::CUSTODY_PATH),
            manifest_bytes: snapshot.tag(MANIFEST_PATH).unwrap_or_default(),
            manifest: Some(&manifest),
            now: options.now,
            manifest_signers: Some(&established.manifest_signers),
        };
        let mut log = custody::verify_log(&input, &lookup);
        if trust.allow_untrusted {
            for finding in log.findings.iter_mut().filter(|f| f.check == "trust.signer") {
                finding.verdict = Verdict::Warn;
            }
        }
        findings.append(&mut log.findings);
        // The `sealed` event is the sealer's: the first signature on the manifest, at the
        // manifest's sealing time. (An insider with another trusted key cannot start a log
        // of his own in front of the sealer's manifest.)
        // The signature file parsed once more, here for its order (the checks above only
        // say which signatures verified).
        let signatures =
            snapshot.tag(MANIFEST_SIGNATURES_PATH).ok().and_then(|b| SignatureFile::parse(b).ok());
        let first_signer = signatures.as_ref().and_then(|f| f.signatures.first().map(|e| e.key_id.clone()));
        if let Some((sealed, _)) = log.events.first().filter(|(e, _)| e.action == custody::Action::Sealed) {
            if first_signer.as_deref() != Some(sealed.actor.key_id.as_str()) {
                findings.push(Finding::fail(
                    "custody.order",
                    "event 0",
                    format!(
                        "sealed by {}, who did not make the manifest's first signature",
                        sealed.actor.key_id
                    ),
                ));
            }
            if sealed.time != manifest.sealed_at {
                findings.push(Finding::fail(
                    "custody.time",
                    "event 0",
                    format!("the `sealed` event says {}, the manifest {}", sealed.time, manifest.sealed_at),
                ));
            }
        }
        // Every signature on the manifest is recorded in the log: the sealer's by `sealed`,
        // each later one by `cosigned`.
        let recorded: BTreeSet<&str> = log
            .events
            .iter()
            .filter(|(event, _)| matches!(event.action, custody::Action::Sealed | custody::Action::Cosigned))
            .map(|(event, _)| event.actor.key_id.as_str())
            .collect();
        for signer in established.manifest_signers.iter().filter(|id| !recorded.contains(id.as_str())) {
            findings.push(Finding::fail(
                "custody.cosign",
                signer.clone(),
                "signed the manifest, but no `sealed` or `cosigned` event records it",
            ));
        }
        check_kept_documents(&log.events, &snapshot, &mut findings);
        downgrade_orphans(&log.events, &snapshot, &mut findings);
        check_destroyed(&log, &snapshot, &mut findings);
        (established.trusted_times, established.trusted_times_by_set) =
            check_timestamps(&snapshot, &manifest, signatures.as_ref(), &log.events, options, &mut findings);
        let manifest_digest = custody::sha256_hex(input.manifest_bytes);
        for (name, receipt) in options.receipts {
            findings.push(receipt.check(name, &manifest_digest, &log.line_digests));
        }
        established.custody = CustodySummary {
            events: log.count,
            head: log.head,
            holder: log.state,
            line_digests: log.line_digests,
        };
        established.events =
            log.events.into_iter().filter_map(|(event, judged)| judged.then_some(event)).collect();
        established.manifest = Some(manifest);
    }
    established.findings = findings;
    established
}

/// Verifies every time-stamp token in `custos/timestamps/` against the signature it names,
/// under the trusted TSA certificates, and returns the trusted times, and those under each
/// narrower set of [`VerifyOptions::tsa_certificate_sets`].
fn check_timestamps(
    snapshot: &Snapshot,
    manifest: &Manifest,
    signatures: Option<&SignatureFile>,
    events: &[(Event, bool)],
    options: &VerifyOptions,
    findings: &mut Vec<Finding>,
) -> (TrustedTimes, Vec<TrustedTimes>) {
    let mut times = TrustedTimes::default();
    let mut by_set = vec![TrustedTimes::default(); options.tsa_certificate_sets.len()];
    let prefix = format!("{}/", crate::package::TIMESTAMPS_DIR);
    let tokens: Vec<&String> = snapshot.tags.keys().filter(|p| p.starts_with(&prefix)).collect();
    if tokens.is_empty() {
        return (times, by_set);
    }
    let log = snapshot.tag(custody::CUSTODY_PATH).unwrap_or_default();
    let lines: Vec<&[u8]> = log.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    for path in tokens {
        let name = &path[prefix.len()..];
        // What the token stamps: a manifest signature's bytes, or an event line's.
        let (stamped, claimed, slot) = if let Some(key_id) =
            name.strip_prefix("manifest-").and_then(|n| n.strip_suffix(".tsr"))
        {
            let entry = signatures.and_then(|s| s.signatures.iter().find(|e| e.key_id == key_id));
            let claimed = (events.first().map(|(e, _)| e.actor.key_id.as_str()) == Some(key_id))
                .then(|| crate::time::parse_rfc3339(&manifest.sealed_at))
                .flatten();
            (entry.and_then(|e| e.bytes()), claimed, Slot::Manifest(key_id.to_owned()))
        } else if let Some(sequence) = name
            .strip_prefix("event-")
            .and_then(|n| n.strip_suffix(".tsr"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            let line = usize::try_from(sequence).ok().and_then(|i| lines.get(i));
            let claimed = events
                .iter()
                .find(|(e, _)| e.sequence == sequence)
                .and_then(|(e, _)| crate::time::parse_rfc3339(&e.time));
            (line.and_then(|l| custody::signature_of(l).ok()), claimed, Slot::Event(sequence))
        } else {
            findings.push(Finding::fail("time.token", path.clone(), "not the name of a token Custos writes"));
            continue;
        };
        let Some(stamped) = stamped else {
            findings.push(Finding::fail(
                "time.token",
                path.clone(),
                "stamps a signature this package does not hold",
            ));
            continue;
        };
        if options.tsa_certificates.is_empty() {
            findings.push(Finding::warn(
                "time.token",
                path.clone(),
                "a time-stamp token, not checked: give --tsa-cert with the authority's certificate",
            ));
            continue;
        }
        let token = match snapshot.tag(path) {
            Ok(token) => token,
            Err(_) => continue,
        };
        match custos_timestamp::verify_token(token, &stamped, options.tsa_certificates) {
            Err(e) => findings.push(Finding::fail("time.token", path.clone(), e.to_string())),
            Ok(stamp) => {
                let at = crate::time::rfc3339_from_unix(stamp.time.max(0) as u64);
                if claimed.is_some_and(|c| c > stamp.time + custody::MAX_CLOCK_SKEW_SECONDS) {
                    findings.push(Finding::fail(
                        "time.claimed",
                        path.clone(),
                        format!("the signer claims a time after {at}, when the authority had already seen the signature"),
                    ));
                }
                let claimed_text = claimed
                    .map(|c| format!(" (claimed {})", crate::time::rfc3339_from_unix(c.max(0) as u64)))
                    .unwrap_or_default();
                findings.push(Finding::pass(
                    "time.token",
                    path.clone(),
                    format!("signature existed at {at}{claimed_text}, stamped by {}", stamp.tsa),
                ));
                let under = options.tsa_certificate_sets.iter().zip(by_set.iter_mut());
                let narrower = under
                    .filter(|(set, _)| custos_timestamp::verify_token(token, &stamped, set).is_ok())
                    .map(|(_, times)| times);
                for times in std::iter::once(&mut times).chain(narrower) {
                    match &slot {
                        Slot::Manifest(key_id) => {
                            times.manifest.insert(key_id.clone(), stamp.time);
                        }
                        Slot::Event(sequence) => {
                            times.events.insert(*sequence, stamp.time);
                        }
                    }
                }
            }
        }
    }
    (times, by_set)
}

/// Which signature a token stamps.
enum Slot {
    Manifest(String),
    Event(u64),
}

/// After the evidence was destroyed (a `destroyed` event by its holder): its bytes should
/// not still be in the package, and nothing but `accessed` and `witnessed` should follow.
/// Both are warnings: a package from 0.2 may hold either, and still verifies.
fn check_destroyed(log: &custody::LogVerification, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let Some((destroyed, custody::Action::Destroyed)) = log.state.ended else { return };
    // A note saying what was destroyed (the device, other copies) explains bytes kept as the
    // record of it.
    let explained = log
        .events
        .iter()
        .any(|(e, _)| e.sequence == destroyed && e.note.as_deref().is_some_and(|n| !n.trim().is_empty()));
    if let (Some((path, _)), false) = (snapshot.payload_files().next(), explained) {
        findings.push(Finding::warn(
            "custody.destroyed",
            format!("event {destroyed}"),
            format!(
                "the evidence was destroyed, but its bytes are still in the package ({path} among them), and the event's note does not say what was destroyed: say it in the destroyed event's note (custody record --action destroyed --note …)"
            ),
        ));
    }
    for (event, _) in log.events.iter().filter(|(e, _)| e.sequence > destroyed) {
        if !matches!(event.action, custody::Action::Accessed | custody::Action::Witnessed)
            && event.disclosure.is_none()
        {
            findings.push(Finding::warn(
                "custody.destroyed",
                format!("event {}", event.sequence),
                format!(
                    "`{}` after the evidence was destroyed at event {destroyed}: only accessed and witnessed may follow",
                    event.action.name()
                ),
            ));
        }
    }
}

/// Whether `path` is a kept file no event names whose bytes match the digest its name
/// starts with: what a custody command killed after writing it and before appending its
/// event leaves (the next custody command removes it).
fn is_orphan_kept_file(events: &[(Event, bool)], snapshot: &Snapshot, path: &str) -> bool {
    let in_kept_folder = [crate::layout::ATTACHMENTS_DIR, crate::layout::ORDERS_DIR].iter().any(|folder| {
        path.strip_prefix(*folder)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|name| !name.contains('/'))
    });
    let named = events.iter().any(|(e, _)| {
        e.attachments.iter().any(|a| a.path == path)
            || e.order.as_ref().and_then(|o| o.document.as_ref()).is_some_and(|d| d.path == path)
    });
    let name = path.rsplit('/').next().unwrap_or_default();
    in_kept_folder
        && !named
        && snapshot
            .tag(path)
            .is_ok_and(|bytes| name.starts_with(&format!("{}-", &custody::sha256_hex(bytes)[..16])))
}

/// An orphan kept file ([`is_orphan_kept_file`]) is an interrupted write, a warning, as a
/// writer's temporary is: not a tag file someone planted to pass for the package's.
fn downgrade_orphans(events: &[(Event, bool)], snapshot: &Snapshot, findings: &mut [Finding]) {
    for finding in findings.iter_mut() {
        if finding.check == "bag.unlisted_tag_file" && is_orphan_kept_file(events, snapshot, &finding.subject)
        {
            *finding = Finding::warn(
                "package.interrupted_write",
                finding.subject.clone(),
                "a file kept for an event that was never appended (a custody command was interrupted); the next custody command removes it",
            );
        }
    }
}

/// The files events keep in the package (orders' documents, events' attachments): each as
/// its event signed it; a file in their folders that no event names is unknown.
fn check_kept_documents(events: &[(Event, bool)], snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let mut kept: Vec<(&Event, &crate::custody::kept::Document, &'static str)> = Vec::new();
    for (event, _) in events {
        if let Some(document) = event.order.as_ref().and_then(|o| o.document.as_ref()) {
            kept.push((event, document, "order.document"));
        }
        kept.extend(event.attachments.iter().map(|a| (event, a, "custody.attachment")));
    }
    // Each file is read and hashed once, however many records name it: a forged event
    // naming one file thousands of times must not make verification hash it each time.
    let mut hashed: BTreeMap<&str, Option<(u64, String)>> = BTreeMap::new();
    for (event, document, check) in &kept {
        let subject = format!("event {} ({})", event.sequence, document.path);
        let what = if *check == "order.document" { "the order's document" } else { "the attachment" };
        let found = hashed.entry(document.path.as_str()).or_insert_with(|| {
            snapshot.tag(&document.path).ok().map(|b| (b.len() as u64, custody::sha256_hex(b)))
        });
        match found {
            None => findings.push(Finding::fail(check, subject, format!("{what} is missing"))),
            Some((length, found)) => {
                let (length, found) = (*length, found.as_str());
                if length != document.size || found != document.sha256 {
                    findings.push(Finding::fail(
                        check,
                        subject,
                        format!(
                            "{length} bytes with SHA-256 {found}; the event signed {} bytes with {}",
                            document.size, document.sha256
                        ),
                    ));
                } else {
                    findings.push(Finding::pass(check, subject, "as the event signed it"));
                }
            }
        }
    }
    for (folder, what) in [
        (crate::order::ORDERS_DIR, "an order document no recorded order names"),
        (crate::layout::ATTACHMENTS_DIR, "an attachment no event names"),
    ] {
        let prefix = format!("{folder}/");
        for path in snapshot.tags.keys().filter(|p| p.starts_with(&prefix)) {
            if !kept.iter().any(|(_, d, _)| d.path == *path) && !is_orphan_kept_file(events, snapshot, path) {
                findings.push(Finding::warn(
                    "package.unknown_file",
                    path.clone(),
                    format!("{what}; no signature covers it, and it says nothing about the evidence"),
                ));
            }
        }
    }
}

/// Segment lists that belong to no item with segments are named like any file Custos does
/// not write: a list planted for an item sealed without segments is never read, and must
/// not pass for part of the package.
fn check_segment_lists(manifest: &Manifest, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let expected: std::collections::HashSet<String> = manifest
        .items
        .iter()
        .filter(|item| item.segments.is_some())
        .map(|item| crate::package::segment_list_path(&item.path))
        .collect();
    let prefix = format!("{}/", crate::package::SEGMENTS_DIR);
    for path in snapshot.tags.keys().filter(|p| p.starts_with(&prefix) && !expected.contains(*p)) {
        findings.push(Finding::warn(
            "package.unknown_file",
            path.clone(),
            "a segment list of no item sealed with segments; no signature covers it, and it says nothing about the evidence",
        ));
    }
}

/// Files under `custos/` that Custos does not write are named (they are in no signature).
fn check_custos_files(snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let known = |path: &str| {
        let key_file = |name: &str| {
            name.strip_suffix(".minisign.pub").or_else(|| name.strip_suffix(".pub")).is_some_and(|id| {
                id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            })
        };
        matches!(path, MANIFEST_PATH | MANIFEST_SIGNATURES_PATH | custody::CUSTODY_PATH)
            || path == crate::export::MINISIGN_SIGNATURE_PATH
            || path.strip_prefix("custos/keys/").is_some_and(key_file)
            || path
                .strip_prefix("custos/timestamps/")
                .is_some_and(|name| !name.contains('/') && name.ends_with(".tsr"))
            || [crate::layout::ORDERS_DIR, crate::layout::ATTACHMENTS_DIR].iter().any(|folder| {
                path.strip_prefix(*folder)
                    .and_then(|rest| rest.strip_prefix('/'))
                    .is_some_and(|name| !name.contains('/'))
            })
            || path
                .strip_prefix("custos/segments/")
                .map(|name| name.strip_prefix("tree/").unwrap_or(name))
                .is_some_and(|name| !name.contains('/') && name.ends_with(".json"))
    };
    let bag_file = |path: &str| {
        matches!(path, "bagit.txt" | "bag-info.txt")
            || (!path.contains('/')
                && (path.starts_with("manifest-") || path.starts_with("tagmanifest-"))
                && path.ends_with(".txt"))
    };
    for path in snapshot.tags.keys().filter(|p| !known(p) && !bag_file(p)) {
        if crate::store::is_writer_temporary(path) {
            findings.push(Finding::warn(
                "package.interrupted_write",
                path.clone(),
                "a temporary file left by an interrupted custos command (killed before renaming it into place); no signature covers it. The next custody command on this package removes it",
            ));
        } else if path == "fetch.txt" {
            findings.push(Finding::fail(
                "bag.fetch",
                path.clone(),
                "lists payload to download from elsewhere: a Custos package holds its evidence",
            ));
        } else {
            findings.push(Finding::warn(
                "package.unknown_file",
                path.clone(),
                "a file Custos does not write; no signature covers it, and it says nothing about the evidence",
            ));
        }
    }
}

/// The minisign exports: each `KEYID.minisign.pub` must carry the key of `KEYID.pub`, and
/// `manifest.json.minisig` must verify over the manifest under one of them, so that a court
/// running minisign on the package's own files is not shown a planted signature or comment.
/// A shipped key counts only when its signature over the manifest verified
/// (`manifest_signers`) or the verifier trusts it: anyone can plant a key file and a
/// `.minisig` made with it.
fn check_minisign(
    snapshot: &Snapshot,
    shipped: &BTreeMap<String, PublicKey>,
    trust: &Trust,
    manifest_signers: &[String],
    findings: &mut Vec<Finding>,
) {
    for (path, text) in
        snapshot.tags.iter().filter(|(p, _)| p.starts_with("custos/keys/") && p.ends_with(".minisign.pub"))
    {
        let id = &path["custos/keys/".len()..path.len() - ".minisign.pub".len()];
        let text = text.as_deref().ok().and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default();
        match shipped.get(id) {
            Some(key) if crate::export::minisign_public_key_matches(text, &key.key) => {}
            Some(_) => findings.push(Finding::fail(
                "package.minisign",
                path.clone(),
                format!("does not carry the key of {KEYS_DIR}/{id}.pub"),
            )),
            None => findings.push(Finding::fail(
                "package.minisign",
                path.clone(),
                format!("no {KEYS_DIR}/{id}.pub holds its key"),
            )),
        }
    }
    let Ok(text) = snapshot.tag_text(crate::export::MINISIGN_SIGNATURE_PATH) else {
        if snapshot.tags.contains_key(crate::export::MINISIGN_SIGNATURE_PATH) {
            findings.push(Finding::fail(
                "package.minisign",
                crate::export::MINISIGN_SIGNATURE_PATH,
                "cannot be read as text",
            ));
        }
        return;
    };
    let manifest = snapshot.tag(MANIFEST_PATH).unwrap_or_default();
    let signer_or_trusted = |key: &ed25519_dalek::VerifyingKey| {
        let id = KeyId::of(key).to_string();
        manifest_signers.contains(&id) || trust.keys.iter().any(|k| k.key == *key)
    };
    let lookup = |id: &[u8; 8]| {
        shipped.values().map(|k| k.key).find(|k| {
            crate::keys::KeyId::of(k)
                .to_string()
                .starts_with(&id.iter().map(|b| format!("{b:02x}")).collect::<String>())
        })
    };
    match crate::export::verify_minisign(text, manifest, lookup) {
        Ok((key, _)) if !signer_or_trusted(&key) => findings.push(Finding::fail(
            "package.minisign",
            crate::export::MINISIGN_SIGNATURE_PATH,
            format!(
                "made with key {}, which neither signed the manifest nor is trusted: a signature anyone could have planted",
                KeyId::of(&key)
            ),
        )),
        Ok((key, comment)) => findings.push(Finding::pass(
            "package.minisign",
            crate::export::MINISIGN_SIGNATURE_PATH,
            format!("verifies under {} (trusted comment: {comment})", KeyId::of(&key)),
        )),
        Err(reason) => {
            findings.push(Finding::fail("package.minisign", crate::export::MINISIGN_SIGNATURE_PATH, reason))
        }
    }
}

/// The public keys shipped in `custos/keys/`, by key id (unverified claims until trusted).
/// A key file whose name is not its key id is reported and ignored.
fn shipped_keys(snapshot: &Snapshot, findings: &mut Vec<Finding>) -> BTreeMap<String, PublicKey> {
    let mut keys = BTreeMap::new();
    let files: Vec<&String> = snapshot
        .tags
        .keys()
        .filter(|p| p.starts_with("custos/keys/") && p.ends_with(".pub") && !p.ends_with(".minisign.pub"))
        .collect();
    if files.len() > MAX_KEY_FILES {
        findings.push(Finding::fail(
            "package.key_file",
            KEYS_DIR,
            format!("{} key files, more than the {MAX_KEY_FILES} allowed; none was read", files.len()),
        ));
        return keys;
    }
    for path in files {
        let parsed =
            snapshot.tag_text(path).and_then(|text| PublicKey::parse(text).map_err(|e| e.to_string()));
        match parsed {
            Ok(key) if *path == crate::layout::shipped_key_path(&key) => {
                keys.insert(key.id().to_string(), key);
            }
            Ok(key) => findings.push(Finding::fail(
                "package.key_file",
                path.clone(),
                format!("holds key {}, not the one its name says", KeyId::of(&key.key)),
            )),
            Err(e) => findings.push(Finding::fail("package.key_file", path.clone(), e)),
        }
    }
    keys
}

/// Verifies every signature over the manifest once, and parses the manifest only when a
/// trusted one (or, with `allow_untrusted`, any valid one) verified.
fn check_signatures(
    snapshot: &Snapshot,
    trust: &Trust,
    shipped: &BTreeMap<String, PublicKey>,
    findings: &mut Vec<Finding>,
    established: &mut Verification,
) -> Option<Manifest> {
    let read = |path: &str, findings: &mut Vec<Finding>| match snapshot.tag(path) {
        Ok(bytes) => Some(bytes),
        Err(reason) => {
            findings.push(Finding::fail("package.file", path, reason));
            None
        }
    };
    let bytes = read(MANIFEST_PATH, findings)?;
    let signatures = match SignatureFile::parse(read(MANIFEST_SIGNATURES_PATH, findings)?) {
        Ok(file) if file.signatures.len() > MAX_MANIFEST_SIGNATURES => {
            findings.push(Finding::fail(
                "signature.manifest",
                MANIFEST_SIGNATURES_PATH,
                format!(
                    "{} signatures, more than the {MAX_MANIFEST_SIGNATURES} allowed; none was checked",
                    file.signatures.len()
                ),
            ));
            return None;
        }
        Ok(file) => file,
        Err(e) => {
            findings.push(Finding::fail("signature.manifest", MANIFEST_SIGNATURES_PATH, e.to_string()));
            return None;
        }
    };
    let trusted = |id: &str| trust.keys.iter().find(|k| k.id().to_string() == id);
    // One pass: each signature is checked once, under the trusted key with its id, else
    // under the key the package ships with that id.
    let lookup = |id: &str| trusted(id).map(|k| k.key).or_else(|| shipped.get(id).map(|k| k.key));
    let verdicts = match signatures.verify(MANIFEST_PAYLOAD_TYPE, bytes, lookup) {
        Ok(verdicts) => verdicts,
        Err(e) => {
            findings.push(Finding::fail("signature.manifest", MANIFEST_SIGNATURES_PATH, e.to_string()));
            return None;
        }
    };
    let mut trusted_signers = BTreeSet::new();
    let mut valid_signers = BTreeSet::new();
    for verdict in verdicts {
        match verdict {
            SignatureVerdict::Valid(id) => {
                let id = id.to_string();
                if !valid_signers.insert(id.clone()) {
                    findings.push(Finding::warn("signature.manifest", id, "signed twice; counted once"));
                    continue;
                }
                match trusted(&id) {
                    Some(key) => {
                        trusted_signers.insert(id.clone());
                        findings.push(Finding::pass(
                            "signature.manifest",
                            id,
                            format!("valid, by trusted key of {}", key.owner.name),
                        ));
                    }
                    None => {
                        let claimed = shipped.get(&id).map_or("", |k| k.owner.name.as_str());
                        let verdict = if trust.allow_untrusted { Verdict::Warn } else { Verdict::Fail };
                        findings.push(Finding {
                            check: "trust.signer",
                            subject: id,
                            verdict,
                            detail: format!(
                                "signature valid, but the key is not trusted (the package's key file names {claimed}); give --trust with the signer's public key"
                            ),
                            ranges: Vec::new(),
                        });
                    }
                }
            }
            SignatureVerdict::Invalid(id) if trusted(&id.to_string()).is_some() => findings.push(Finding::fail(
                "signature.manifest",
                id.to_string(),
                "does not verify: the manifest or the signature was altered, or the signature belongs to another document",
            )),
            SignatureVerdict::Invalid(id) => findings.push(Finding::fail(
                "signature.manifest",
                id.to_string(),
                "made by an untrusted key, and it does not verify under the key the package ships",
            )),
            SignatureVerdict::Malformed(id) => {
                findings.push(Finding::fail("signature.manifest", id, "is not a 64-byte Ed25519 signature"))
            }
            SignatureVerdict::UnknownKey(id) => findings.push(Finding::fail(
                "signature.manifest",
                id,
                "made by an unknown key: neither trusted nor shipped in the package",
            )),
        }
    }
    established.manifest_signers = valid_signers.iter().cloned().collect();
    let integrity_only = trust.allow_untrusted && !valid_signers.is_empty();
    if trusted_signers.is_empty() && !integrity_only {
        findings.push(Finding::fail(
            "signature.manifest",
            MANIFEST_PATH,
            "no valid signature by a trusted key: the manifest was not parsed",
        ));
        return None;
    }
    if trusted_signers.is_empty() {
        findings.push(Finding::warn(
            "trust.signer",
            MANIFEST_PATH,
            "--allow-untrusted: integrity only; nobody trusted vouches for this package",
        ));
    }
    match Manifest::parse(bytes) {
        Ok(manifest) => Some(manifest),
        Err(e) => {
            findings.push(Finding::fail("manifest.syntax", MANIFEST_PATH, e.to_string()));
            None
        }
    }
}

/// What the signed manifest says that can be checked without reading payload bytes: its
/// items' paths and algorithms, its time, and that the bag describes the same case.
fn check_manifest(
    manifest: &Manifest,
    claims: &BagClaims,
    snapshot: &Snapshot,
    now: i64,
    findings: &mut Vec<Finding>,
) {
    match crate::time::parse_rfc3339(&manifest.sealed_at) {
        None => findings.push(Finding::fail("manifest.sealed_at", MANIFEST_PATH, "not an RFC 3339 time")),
        Some(t) if t > now + custody::MAX_CLOCK_SKEW_SECONDS => findings.push(Finding::fail(
            "manifest.sealed_at",
            MANIFEST_PATH,
            format!("sealed at {}, after the time of verification", manifest.sealed_at),
        )),
        Some(_) => {}
    }
    const WRITTEN: [&str; 6] = [
        "Source-Organization",
        "External-Identifier",
        "External-Description",
        "Bag-Software-Agent",
        "Payload-Oxum",
        "Bagging-Date",
    ];
    let unknown: Vec<&str> =
        claims.info.keys().map(String::as_str).filter(|l| !WRITTEN.contains(l)).collect();
    if !unknown.is_empty() {
        findings.push(Finding::warn(
            "bag.info",
            "bag-info.txt",
            format!("fields Custos does not write, which no signature covers: {}", unknown.join(", ")),
        ));
    }
    match claims.info.get("External-Identifier").map(Vec::as_slice) {
        Some([id]) if *id == manifest.case.reference => {}
        Some(values) => findings.push(Finding::fail(
            "bag.external_identifier",
            "bag-info.txt",
            format!("External-Identifier {values:?} is not the signed case {}", manifest.case.reference),
        )),
        None => findings.push(Finding::fail(
            "bag.external_identifier",
            "bag-info.txt",
            format!("no External-Identifier; the signed case is {}", manifest.case.reference),
        )),
    }
    let mut seen = BTreeSet::new();
    let mut in_package = BTreeSet::new();
    for item in &manifest.items {
        if !seen.insert(item.path.as_str()) {
            findings.push(Finding::fail(
                "manifest.item",
                item.path.clone(),
                "listed twice in the signed manifest",
            ));
        }
        if item.digests.is_empty() {
            findings.push(Finding::fail(
                "manifest.item",
                item.path.clone(),
                "no digest: nothing binds its bytes",
            ));
        }
        if !item.reference {
            if let Err(reason) = bagit::check_payload_path(&item.path) {
                findings.push(Finding::fail("manifest.path", item.path.clone(), reason));
            }
            for (file, _) in item.files() {
                if !in_package.insert(file) {
                    findings.push(Finding::fail(
                        "manifest.item",
                        file,
                        "listed twice in the signed manifest",
                    ));
                }
                if file != item.path {
                    if let Err(reason) = bagit::check_payload_path(file) {
                        findings.push(Finding::fail("manifest.path", file, reason));
                    }
                }
            }
        }
        if let Some(stored) = &item.stored_as {
            if stored.parts.is_empty() {
                findings.push(Finding::fail(
                    "manifest.item",
                    item.path.clone(),
                    "kept in several files, but none is listed",
                ));
            }
            for part in &stored.parts {
                if !part.digests.keys().any(|name| name.parse::<Algorithm>().is_ok()) {
                    findings.push(Finding::fail(
                        "manifest.item",
                        part.path.clone(),
                        "a part with no digest Custos knows: nothing binds its bytes",
                    ));
                }
                for name in part.digests.keys().filter(|name| name.parse::<Algorithm>().is_err()) {
                    findings.push(Finding::fail(
                        "manifest.item",
                        part.path.clone(),
                        format!("unknown algorithm `{name}`"),
                    ));
                }
            }
            // The layouts Custos writes: a split image's parts are other files than its
            // path; an E01 item is named by its first segment.
            let first = stored.parts.first().map(|p| p.path.as_str());
            let layout = match stored.format {
                crate::manifest::PartFormat::Split => stored.parts.iter().all(|p| p.path != item.path),
                crate::manifest::PartFormat::E01 => first == Some(item.path.as_str()),
            };
            if !layout {
                findings.push(Finding::fail(
                    "manifest.item",
                    item.path.clone(),
                    match stored.format {
                        crate::manifest::PartFormat::Split => {
                            "a split image whose path is also one of its parts"
                        }
                        crate::manifest::PartFormat::E01 => {
                            "an E01 item is named by its first segment, which it is not"
                        }
                    },
                ));
            }
        }
        for name in item.digests.keys().filter(|name| name.parse::<Algorithm>().is_err()) {
            findings.push(Finding::fail(
                "manifest.item",
                item.path.clone(),
                format!("unknown algorithm `{name}`"),
            ));
        }
    }
    // Coverage: the payload is what is on disk, and each file must be a signed item.
    let present: BTreeSet<&str> = snapshot.payload_files().map(|(path, _)| path).collect();
    // Referenced items live outside the package: a file at their path under data/ is not
    // them, and is covered only by an item of the package.
    for path in present.iter().filter(|p| !in_package.contains(**p)) {
        findings.push(Finding::fail(
            "manifest.coverage",
            *path,
            "under data/ but not an item of the signed manifest",
        ));
    }
    for item in manifest.items.iter().filter(|i| !i.reference) {
        for (file, _) in item.files().into_iter().filter(|(file, _)| !present.contains(file)) {
            let what = if file == item.path {
                "an item of the signed manifest that is not in the package".to_owned()
            } else {
                format!("a part of {} (signed manifest) that is not in the package", item.path)
            };
            findings.push(Finding::fail("item.missing", file, what));
        }
    }
}

/// How payload bytes are read.
struct Reading<'a> {
    fast: bool,
    by_segments: bool,
    progress: Option<&'a dyn VerifyProgress>,
}

/// Reads each payload file once and checks every claim about it.
fn check_payload(
    store: &dyn PackageStore,
    snapshot: &Snapshot,
    claims: &BagClaims,
    manifest: Option<&Manifest>,
    reading: &Reading,
    findings: &mut Vec<Finding>,
) {
    let (fast, progress) = (reading.fast, reading.progress);
    let items: BTreeMap<&str, &Item> = manifest
        .map(|m| {
            m.items
                .iter()
                .filter(|i| !i.reference && i.stored_as.is_none())
                .map(|i| (i.path.as_str(), i))
                .collect()
        })
        .unwrap_or_default();
    let parted: Vec<&Item> = manifest
        .map(|m| m.items.iter().filter(|i| !i.reference && i.stored_as.is_some()).collect())
        .unwrap_or_default();
    let part_paths: BTreeSet<&str> = parted.iter().flat_map(|i| i.files()).map(|(path, _)| path).collect();
    let tick = |bytes: u64| {
        if let Some(progress) = progress {
            progress.read(bytes);
        }
    };
    let control = Control { progress: Some(&tick), cancel: None };
    if let (Some(progress), false) = (progress, fast) {
        let hashed = snapshot
            .payload_files()
            .filter(|(path, _)| manifest.is_none() || items.contains_key(path) || part_paths.contains(path));
        progress.payload(hashed.map(|(_, size)| size).sum());
    }
    if fast {
        findings.push(Finding::warn(
            "bag.payload_digest",
            "data/",
            "not re-hashed (--fast): payload bytes were not checked, only their sizes",
        ));
    }
    for item in &parted {
        check_parted(store, claims, item, snapshot, reading, &control, findings);
    }
    for (path, _) in snapshot.payload_files() {
        let item = items.get(path).copied();
        if manifest.is_some() && item.is_none() {
            // Not signed: reported by coverage, and never hashed (it may be a huge stand-in).
            continue;
        }
        let opened = match store.open_payload(path) {
            Ok(opened) => opened,
            Err(e) => {
                findings.push(Finding::fail("bag.payload_file", path, e.to_string()));
                continue;
            }
        };
        if opened.links > 1 {
            findings.push(hard_link_warning(path, opened.links));
        }
        if let Some(item) = item.filter(|item| item.size != opened.size) {
            findings.push(Finding::fail(
                "item.size",
                path,
                format!("{} bytes on disk, the signed manifest says {}; not hashed", opened.size, item.size),
            ));
            continue;
        }
        if fast {
            continue;
        }
        if let (true, Some(item), PayloadBody::File(file)) = (reading.by_segments, item, &opened.body) {
            if let Some(signed) = &item.segments {
                check_by_segments(snapshot, item, signed, file, &control, findings);
                let bag_algorithms = claims.payload.iter().filter(|(_, entries)| entries.contains_key(path));
                for (algorithm, _) in bag_algorithms {
                    findings.push(Finding::pass(
                        "bag.payload_digest",
                        path,
                        format!("{algorithm} not recomputed (--by-segments): the signed segment root binds these bytes"),
                    ));
                }
                continue;
            }
        }
        let bag_algorithms: Vec<Algorithm> = claims
            .payload
            .iter()
            .filter(|(_, entries)| entries.contains_key(path))
            .map(|(a, _)| *a)
            .collect();
        let item_algorithms: Vec<Algorithm> =
            item.map(|i| i.digests.keys().filter_map(|n| n.parse().ok()).collect()).unwrap_or_default();
        let mut algorithms: Vec<Algorithm> = bag_algorithms.iter().chain(&item_algorithms).copied().collect();
        algorithms.sort();
        algorithms.dedup();
        if algorithms.is_empty() {
            continue;
        }
        let segments = item.and_then(|i| i.segments.as_ref()).and_then(|summary| {
            Some(SegmentSpec { size: summary.size, algorithm: summary.algorithm.parse().ok()? })
                .filter(|spec| spec.size > 0)
        });
        let options = HashOptions { algorithms, segments, ..HashOptions::default() };
        let hashed = match opened.body {
            PayloadBody::File(file) => hash_file(&file, Path::new(path), &options, &control),
            PayloadBody::Stream(stream) => hash_reader(stream, Path::new(path), &options, &control),
        };
        let outcome = match hashed {
            Ok(outcome) => outcome,
            Err(e) => {
                findings.push(Finding::fail("item.digest", path, e.to_string()));
                continue;
            }
        };
        for algorithm in bag_algorithms {
            let expected = &claims.payload[&algorithm][path];
            findings.push(bag_digest_finding(path, algorithm, expected, outcome.digest(algorithm)));
        }
        if let Some(item) = item {
            report_item(snapshot, item, &outcome, findings);
        }
    }
}

/// Checks an item kept in several files: each part's size, then (unless `--fast`) in one
/// read each part's digests against the bag and the signed manifest and the item's bytes
/// (a split image's concatenation, an E01's media) against the signed digests. E01
/// container damage is named as such, apart from a media mismatch.
fn check_parted(
    store: &dyn PackageStore,
    claims: &BagClaims,
    item: &Item,
    snapshot: &Snapshot,
    reading: &Reading,
    control: &Control,
    findings: &mut Vec<Finding>,
) {
    let Some(stored) = &item.stored_as else { return };
    let mut opened = Vec::with_capacity(stored.parts.len());
    for part in &stored.parts {
        let payload = match store.open_payload(&part.path) {
            Ok(payload) => payload,
            // Reported by coverage when it is missing.
            Err(StoreError::NotFound { .. }) => return,
            Err(e) => {
                findings.push(Finding::fail("bag.payload_file", part.path.clone(), e.to_string()));
                return;
            }
        };
        if payload.links > 1 {
            findings.push(hard_link_warning(&part.path, payload.links));
        }
        if payload.size != part.size {
            findings.push(Finding::fail(
                "item.size",
                part.path.clone(),
                format!(
                    "{} bytes on disk, the signed manifest says {} for this part of {}; not hashed",
                    payload.size, part.size, item.path
                ),
            ));
            return;
        }
        opened.push(OpenedPart { path: part.path.clone(), body: payload.body });
    }
    if !reading.fast {
        check_parts_read(item, opened, Some(claims), snapshot, control, findings);
    }
}

/// Reads an item's opened parts once and checks every claim about them: each part's
/// digests against the bag (when the parts are in the package) and the signed manifest,
/// the E01's stored digests against its media, and the item's digests.
fn check_parts_read(
    item: &Item,
    opened: Vec<OpenedPart>,
    claims: Option<&BagClaims>,
    snapshot: &Snapshot,
    control: &Control,
    findings: &mut Vec<Finding>,
) {
    let Some(stored) = &item.stored_as else { return };
    let bag_algorithms = |path: &str| -> Vec<Algorithm> {
        let Some(claims) = claims else { return Vec::new() };
        claims.payload.iter().filter(|(_, entries)| entries.contains_key(path)).map(|(a, _)| *a).collect()
    };
    let mut part_algorithms: Vec<Algorithm> = stored
        .parts
        .iter()
        .flat_map(|part| {
            let signed = part.digests.keys().filter_map(|n| n.parse().ok());
            bag_algorithms(&part.path).into_iter().chain(signed.collect::<Vec<_>>())
        })
        .collect();
    part_algorithms.sort();
    part_algorithms.dedup();
    let segments = item.segments.as_ref().and_then(|summary| {
        Some(SegmentSpec { size: summary.size, algorithm: summary.algorithm.parse().ok()? })
            .filter(|s| s.size > 0)
    });
    let algorithms: Vec<Algorithm> = item.digests.keys().filter_map(|n| n.parse().ok()).collect();
    let options = HashOptions { algorithms, segments, ..HashOptions::default() };
    let read =
        match hash_parts(stored.format, opened, &options, &part_algorithms, Path::new(&item.path), control) {
            Ok(read) => read,
            Err(error) => {
                findings.push(media_failure(item, &error));
                return;
            }
        };
    for (part, (size, digests)) in stored.parts.iter().zip(&read.parts) {
        if *size != part.size {
            findings.push(Finding::fail(
                "item.size",
                part.path.clone(),
                format!("{size} bytes read, the signed manifest says {}", part.size),
            ));
        }
        for algorithm in bag_algorithms(&part.path) {
            let Some(expected) = claims.and_then(|c| c.payload.get(&algorithm)?.get(&part.path)) else {
                continue;
            };
            findings.push(bag_digest_finding(&part.path, algorithm, expected, digests.get(&algorithm)));
        }
        let context = format!(" for this part of {}", item.path);
        compare_signed(
            "item.part_digest",
            &part.path,
            &part.digests,
            |a| digests.get(&a),
            &context,
            findings,
        );
    }
    if stored.format == crate::manifest::PartFormat::E01 && read.item.is_ok() {
        if read.filled_sectors != stored.filled_sectors {
            findings.push(Finding::fail(
                "item.e01_filled_sectors",
                item.path.clone(),
                format!(
                    "the E01 records unreadable sectors {}, the signed manifest {}",
                    sector_ranges(&read.filled_sectors),
                    sector_ranges(&stored.filled_sectors)
                ),
            ));
        } else if !read.filled_sectors.is_empty() {
            findings.push(Finding::warn(
                "item.e01_filled_sectors",
                item.path.clone(),
                format!(
                    "the tool that made this E01 could not read {} range(s) of sectors and filled them: {}",
                    read.filled_sectors.len(),
                    sector_ranges(&read.filled_sectors)
                ),
            ));
        }
    }
    let media = match &read.item {
        Ok(media) => media,
        Err(error) => {
            findings.push(media_failure(item, error));
            return;
        }
    };
    for (algorithm, stored_digest) in &read.stored {
        let Some(found) = media.digest(*algorithm) else { continue };
        if found == stored_digest {
            findings.push(Finding::pass(
                "item.e01_stored_digest",
                item.path.clone(),
                format!("the {algorithm} the E01 stores matches its media"),
            ));
        } else {
            findings.push(Finding::fail(
                "item.e01_stored_digest",
                item.path.clone(),
                format!("the E01 stores {algorithm} {stored_digest}, its media reads as {found} (the container itself reads whole)"),
            ));
        }
    }
    report_item(snapshot, item, media, findings);
}

/// `100-100, 976-978` (first and last sector of each range), or `none`.
fn sector_ranges(ranges: &[[u64; 2]]) -> String {
    if ranges.is_empty() {
        return "none".into();
    }
    let shown: Vec<String> = ranges
        .iter()
        .take(20)
        .map(|[first, count]| format!("{first}-{}", first.saturating_add(count.saturating_sub(1))))
        .collect();
    let more = ranges.len().saturating_sub(20);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// The finding for an item whose bytes could not be read whole: E01 container damage is
/// named as such (not a media mismatch).
fn media_failure(item: &Item, error: &PartsError) -> Finding {
    let check = if matches!(error, PartsError::Container(_)) { "item.container" } else { "item.digest" };
    Finding::fail(check, item.path.clone(), error.to_string())
}

/// A payload file with more than one name.
fn hard_link_warning(path: &str, links: u64) -> Finding {
    Finding::warn(
        "bag.hard_link",
        path,
        format!(
            "has {links} names: a write through another name outside the package changes this evidence (seal never makes hard links)"
        ),
    )
}

/// A payload file's digest against the bag's payload manifest for `algorithm`.
fn bag_digest_finding(
    path: &str,
    algorithm: Algorithm,
    expected: &Digest,
    found: Option<&Digest>,
) -> Finding {
    match found {
        Some(found) if found == expected => {
            Finding::pass("bag.payload_digest", path, format!("{algorithm} matches"))
        }
        found => Finding::fail(
            "bag.payload_digest",
            path,
            format!(
                "{algorithm} is {}, manifest-{algorithm}.txt says {expected}",
                found.map_or_else(|| "unknown".into(), Digest::to_hex)
            ),
        ),
    }
}

/// One finding per signed digest of `subject` that `found` computed: a pass when equal, a
/// failure naming both (and `context`) otherwise. Returns whether any differed.
fn compare_signed<'d>(
    check: &'static str,
    subject: &str,
    signed: &BTreeMap<String, String>,
    found: impl Fn(Algorithm) -> Option<&'d Digest>,
    context: &str,
    findings: &mut Vec<Finding>,
) -> bool {
    let mut changed = false;
    for (name, recorded) in signed {
        let Some(digest) = name.parse::<Algorithm>().ok().and_then(&found) else { continue };
        if digest.to_hex() == recorded.to_ascii_lowercase() {
            findings.push(Finding::pass(check, subject, matches_detail(name)));
        } else {
            changed = true;
            findings.push(Finding::fail(
                check,
                subject,
                format!("{name} is {digest}, the signed manifest says {recorded}{context}"),
            ));
        }
    }
    changed
}

/// The words of a digest found equal to the signed one ([`verified_digests`] reads them).
fn matches_detail(algorithm: &str) -> String {
    format!("{algorithm} matches the signed manifest")
}

/// What a verification recomputed and found equal to the signed manifest, item by item and
/// algorithm by algorithm: exactly the pairs an `item.digest` pass names (the sealed digest,
/// which the bytes were just shown to have). What a `fixity_verified` event records after a
/// full verification passed; an item verification did not re-hash (`--fast`, a reference
/// without `--evidence`) has no entry.
pub fn verified_digests(verification: &Verification) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut found: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let Some(manifest) = &verification.manifest else { return found };
    for item in &manifest.items {
        for (algorithm, sealed) in &item.digests {
            let detail = matches_detail(algorithm);
            let matched = verification.findings.iter().any(|f| {
                f.check == "item.digest"
                    && f.verdict == Verdict::Pass
                    && f.subject == item.path
                    && f.detail == detail
            });
            if matched {
                found
                    .entry(item.path.clone())
                    .or_default()
                    .insert(algorithm.clone(), sealed.to_ascii_lowercase());
            }
        }
    }
    found
}

/// Findings for one item from the outcome of hashing its bytes.
fn report_item(
    snapshot: &Snapshot,
    item: &Item,
    outcome: &custos_hash::HashOutcome,
    findings: &mut Vec<Finding>,
) {
    if outcome.size != item.size {
        findings.push(Finding::fail(
            "item.size",
            item.path.clone(),
            format!("{} bytes, the manifest says {}", outcome.size, item.size),
        ));
    }
    let found = |algorithm: Algorithm| outcome.digest(algorithm);
    let changed = compare_signed("item.digest", &item.path, &item.digests, found, "", findings);
    if let (true, Some(fresh), Some(summary)) = (changed, &outcome.segments, &item.segments) {
        findings.push(damaged_ranges(snapshot, &item.path, summary, fresh));
    }
}

/// Items sealed with `--reference`: their bytes are wherever the user says (`--evidence`).
fn check_referenced(manifest: &Manifest, evidence: Option<&Path>, fast: bool, findings: &mut Vec<Finding>) {
    let referenced = manifest.items.iter().filter(|i| i.reference).count();
    for item in manifest.items.iter().filter(|i| i.reference) {
        let location = match evidence {
            None => {
                findings.push(Finding::warn(
                    "item.reference",
                    item.path.clone(),
                    "kept outside the package and not checked: give --evidence PATH",
                ));
                continue;
            }
            Some(path) if path.is_dir() => match Path::new(&item.path).file_name() {
                Some(name) => path.join(name),
                None => {
                    findings.push(Finding::fail(
                        "manifest.path",
                        item.path.clone(),
                        "a reference without a file name",
                    ));
                    continue;
                }
            },
            Some(path) if referenced == 1 => path.to_owned(),
            Some(_) => {
                findings.push(Finding::fail(
                    "item.reference",
                    item.path.clone(),
                    "several referenced items: --evidence must be a folder holding them by file name",
                ));
                continue;
            }
        };
        if let Some(stored) = &item.stored_as {
            check_referenced_parts(item, stored, &location, fast, findings);
            continue;
        }
        // Opened without blocking, and only a file or block device: a FIFO or /dev/zero put
        // in the evidence's place must not hang the verification.
        let file = match custos_hash::open_evidence(&location) {
            Ok(file) => file,
            Err(e) => {
                findings.push(Finding::fail("item.reference", item.path.clone(), e.to_string()));
                continue;
            }
        };
        // Regular files: compare sizes before reading a byte (block devices report 0).
        if let Ok(metadata) = file.metadata() {
            if metadata.is_file() && metadata.len() != item.size {
                findings.push(Finding::fail(
                    "item.size",
                    item.path.clone(),
                    format!("{} bytes, the signed manifest says {}; not hashed", metadata.len(), item.size),
                ));
                continue;
            }
        }
        if fast {
            continue;
        }
        let algorithms: Vec<Algorithm> = item.digests.keys().filter_map(|n| n.parse().ok()).collect();
        let options = HashOptions { algorithms, ..HashOptions::default() };
        match custos_hash::hash_file(&file, &location, &options, &Control::default()) {
            Err(e) => findings.push(Finding::fail("item.digest", item.path.clone(), e.to_string())),
            Ok(outcome) => {
                let empty = Snapshot::default();
                report_item(&empty, item, &outcome, findings);
            }
        }
    }
}

/// A referenced item kept in several files: the first is `location` (the file given, or
/// found by name in the folder given), the others are beside it by their signed file names,
/// opened without following links or blocking. Every part's size is checked, with
/// `--fast` too; then the parts are read once.
fn check_referenced_parts(
    item: &Item,
    stored: &crate::manifest::StoredAs,
    location: &Path,
    fast: bool,
    findings: &mut Vec<Finding>,
) {
    let folder = location.parent().map(Path::to_owned).unwrap_or_default();
    let mut opened = Vec::new();
    for (index, part) in stored.parts.iter().enumerate() {
        let path = if index == 0 {
            location.to_owned()
        } else {
            let Some(name) = Path::new(&part.path).file_name() else {
                findings.push(Finding::fail(
                    "manifest.path",
                    part.path.clone(),
                    "a part without a file name",
                ));
                return;
            };
            folder.join(name)
        };
        let file =
            if index == 0 { custos_hash::open_evidence(&path) } else { custos_hash::open_tree_file(&path) };
        let file = match file {
            Ok(file) => file,
            Err(e) => {
                findings.push(Finding::fail("item.reference", part.path.clone(), e.to_string()));
                return;
            }
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or_default();
        if size != part.size {
            findings.push(Finding::fail(
                "item.size",
                part.path.clone(),
                format!(
                    "{} is {size} bytes, the signed manifest says {} for this part of {}; not hashed",
                    path.display(),
                    part.size,
                    item.path
                ),
            ));
            return;
        }
        opened.push(OpenedPart { path: path.display().to_string(), body: PayloadBody::File(file) });
    }
    findings.push(Finding::pass(
        "item.reference",
        item.path.clone(),
        format!(
            "read from {} ({} files)",
            opened.iter().map(|p| p.path.as_str()).collect::<Vec<_>>().join(", "),
            opened.len()
        ),
    ));
    if !fast {
        check_parts_read(item, opened, None, &Snapshot::default(), &Control::default(), findings);
    }
}

/// What the signed acquisition records say about how each acquired item was read: a pass
/// when every sector was read and the image (and source, if asked) read back equal; a
/// warning naming every range filled with zeros, a read that ended early, a check not done
/// or a source that read differently the second time; a failure when the record's digests
/// contradict the item's.
fn check_acquisitions(manifest: &Manifest, findings: &mut Vec<Finding>) {
    use serde_json::Value;
    // Links of sealed folders are facts about the folder, not evidence bytes: said, with
    // their targets, so nobody mistakes a missing file for a lost one.
    for link in &manifest.links {
        findings.push(Finding::pass(
            "manifest.link",
            link.path.clone(),
            format!(
                "a symbolic link in a sealed folder, recorded and not followed (it pointed to {})",
                link.target
            ),
        ));
    }
    for item in &manifest.items {
        let Some(record) = &item.acquisition else { continue };
        let path = item.path.as_str();
        let number = |key: &str| record.get(key).and_then(Value::as_u64);
        let text = |value: Option<&Value>, key: &str| {
            value.and_then(|v| v.get(key)).and_then(Value::as_str).map(str::to_owned)
        };
        // The record must be what Custos writes and describe exactly these bytes: one signer
        // wrote both, and a record of other bytes, or of a shape nobody reads, says nothing.
        let problems = acquisition_problems(record, item);
        if !problems.is_empty() {
            findings.push(Finding::fail("item.acquisition", path, problems.join("; ")));
            continue;
        }
        let source = record.get("source");
        let from = format!(
            "acquired from {} ({})",
            text(source, "path").unwrap_or_else(|| "an unrecorded source".into()),
            text(source, "kind").unwrap_or_else(|| "kind not recorded".into()).replace('_', " ")
        );
        let mut concerns = Vec::new();
        let ranges = record.get("read_errors").and_then(|m| m.get("ranges")).and_then(Value::as_array);
        let substituted = number("bytes_substituted").unwrap_or(0);
        if substituted > 0 || ranges.is_some_and(|r| !r.is_empty()) {
            let listed: Vec<String> = ranges
                .into_iter()
                .flatten()
                .map(|range| {
                    let at = |key: &str| range.get(key).and_then(Value::as_u64).unwrap_or(0);
                    format!(
                        "bytes {}..{} (sectors {}+{}): {}",
                        at("byte_offset"),
                        at("byte_offset").saturating_add(at("byte_length")),
                        at("start_sector"),
                        at("sector_count"),
                        text(Some(range), "error").unwrap_or_default()
                    )
                })
                .collect();
            concerns.push(format!(
                "{substituted} bytes in {} range(s) could not be read from the source and are zeros in the image: {}",
                listed.len(),
                listed.join("; ")
            ));
        }
        match text(record.get("end"), "status").as_deref() {
            Some("complete") => {}
            Some("ended_early") => concerns.push("reading ended early".to_owned()),
            other => concerns
                .push(format!("reading ended {}", other.unwrap_or("in an unrecorded way").replace('_', " "))),
        }
        match text(record.get("image_verification"), "result").as_deref() {
            Some("match") => {}
            Some("not_done") => concerns.push("the written image was not read back (--verify none)".into()),
            other => concerns.push(format!("image read-back: {}", other.unwrap_or("not recorded"))),
        }
        match text(record.get("source_verification"), "result").as_deref() {
            None | Some("match") => {}
            Some(other) => concerns.push(format!(
                "the source read a second time {other} from the first read ({})",
                text(record.get("source_verification"), "detail").unwrap_or_default()
            )),
        }
        if concerns.is_empty() {
            let source_check = if record.contains_key("source_verification") {
                ", and the source re-read equal"
            } else {
                ""
            };
            findings.push(Finding::pass(
                "item.acquisition",
                path,
                format!("{from}: every sector read; the image read back from disk equal{source_check}"),
            ));
        } else {
            findings.push(Finding::warn(
                "item.acquisition",
                path,
                format!("{from}: {}", concerns.join("; ")),
            ));
        }
    }
}

/// A signed copy verification must be one Custos writes: only on a copied item, a match,
/// with a digest the item (or each of its files) records. Anything else is a claim about a
/// check that cannot have happened, and fails.
fn check_copy_verifications(manifest: &Manifest, findings: &mut Vec<Finding>) {
    for item in &manifest.items {
        let Some(copy) = &item.copy_verification else { continue };
        let has_digest = match &item.stored_as {
            Some(stored) => stored.parts.iter().all(|part| part.digests.contains_key(&copy.algorithm)),
            None => item.digests.contains_key(&copy.algorithm),
        };
        // Custos reads a copy back with the strongest digest it records, always the same one.
        let recorded: Vec<Algorithm> = item.digests.keys().filter_map(|name| name.parse().ok()).collect();
        let expected = custos_hash::copy_check_algorithm(&recorded);
        let problem = if item.reference || item.acquisition.is_some() {
            Some("an item that was not copied when sealed".to_owned())
        } else if copy.result != "match" || copy.read_from != "page_cache" {
            Some(format!(
                "result {:?} read from {:?}, which Custos never records",
                copy.result, copy.read_from
            ))
        } else if !has_digest {
            Some(format!("the copy was read back with {}, a digest the item does not record", copy.algorithm))
        } else if expected.map(Algorithm::name) != Some(copy.algorithm.as_str()) {
            Some(format!(
                "the copy was read back with {}, but Custos reads a copy with these digests back with {}",
                copy.algorithm,
                expected.map_or("nothing", Algorithm::name)
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            findings.push(Finding::fail(
                "item.copy_verification",
                item.path.clone(),
                format!("the signed copy verification is not one Custos writes: {problem}"),
            ));
        }
    }
}

/// What is wrong with an acquisition record: its format, its shape, or a contradiction with
/// the item it describes (its digests, its byte count, its ranges).
fn acquisition_problems(record: &serde_json::Map<String, serde_json::Value>, item: &Item) -> Vec<String> {
    use serde_json::Value;
    let mut problems = Vec::new();
    if record.get("format").and_then(Value::as_str) != Some("custos-acquisition-record/1") {
        problems.push("not a custos-acquisition-record/1 record".to_owned());
        return problems;
    }
    let number = |key: &str| record.get(key).and_then(Value::as_u64);
    let (Some(read), Some(substituted)) = (number("bytes_read"), number("bytes_substituted")) else {
        problems.push("bytes_read and bytes_substituted must be whole numbers".to_owned());
        return problems;
    };
    if read != item.size {
        problems.push(format!("the record says {read} bytes, the item has {}", item.size));
    }
    let digests = record.get("digests").and_then(Value::as_array);
    let mut matched = 0;
    for digest in digests.into_iter().flatten() {
        let algorithm = digest.get("algorithm").and_then(Value::as_str).unwrap_or("");
        let hex = digest.get("hex").and_then(Value::as_str).unwrap_or("");
        match item.digests.get(algorithm) {
            Some(signed) if signed == hex => matched += 1,
            Some(signed) => {
                problems.push(format!("the record's {algorithm} is {hex}, the item's is {signed}"))
            }
            None => problems.push(format!("the record has a {algorithm:?} digest the item does not")),
        }
    }
    if matched == 0 {
        problems.push("no digest of the record is the item's".to_owned());
    }
    let Some(ranges) = record.get("read_errors").and_then(|m| m.get("ranges")).and_then(Value::as_array)
    else {
        problems.push("read_errors.ranges must be a list".to_owned());
        return problems;
    };
    let mut filled: u64 = 0;
    for range in ranges {
        let at = |key: &str| range.get(key).and_then(Value::as_u64);
        match (at("byte_offset"), at("byte_length"), at("start_sector"), at("sector_count")) {
            (Some(offset), Some(length), Some(_), Some(_))
                if offset.checked_add(length).is_some_and(|end| end <= read) =>
            {
                filled = filled.saturating_add(length);
            }
            _ => {
                problems.push(format!("an unreadable range that is malformed or outside the image: {range}"))
            }
        }
    }
    if filled != substituted {
        problems.push(format!("{substituted} bytes substituted, but the ranges hold {filled}"));
    }
    let complete =
        record.get("end").and_then(|e| e.get("status")).and_then(Value::as_str) == Some("complete");
    let announced = record.get("source").and_then(|s| s.get("size_bytes")).and_then(Value::as_u64);
    if let (true, Some(announced)) = (complete, announced) {
        if announced != read {
            problems.push(format!(
                "reading is said complete, but the source had {announced} bytes and {read} were read"
            ));
        }
    }
    problems
}

/// Names the byte ranges of a damaged item from its stored segment list, once the list is
/// shown to be the one whose root the signed manifest records.
fn damaged_ranges(
    snapshot: &Snapshot,
    item_path: &str,
    signed: &crate::manifest::Segments,
    fresh: &SegmentList,
) -> Finding {
    match signed_segment_list(snapshot, item_path, signed) {
        Ok(stored) => ranges_finding(item_path, fresh, &stored),
        Err(finding) => finding,
    }
}

/// The item's stored segment list, when it is the one whose root, segment size, algorithm
/// and count the signed manifest records.
fn signed_segment_list(
    snapshot: &Snapshot,
    item_path: &str,
    signed: &crate::manifest::Segments,
) -> Result<SegmentList, Finding> {
    let signed_root = signed.root.as_str();
    let list_path = crate::package::segment_list_path(item_path);
    let stored = snapshot
        .tag_text(&list_path)
        .map_err(|e| format!("{list_path}: {e}"))
        .and_then(|text| {
            serde_json::from_str::<SegmentRecord>(text.trim()).map_err(|e| format!("{list_path}: {e}"))
        })
        .and_then(|record| {
            // The root binds the digests, not the name: a list naming another file is not
            // this item's.
            if record.path != item_path || record.path_hex.is_some() {
                return Err(format!("{list_path} is the list of {:?}, not of {item_path}", record.path));
            }
            record.to_list()
        });
    match stored {
        // The root binds the digests; the signed summary binds the segment size and
        // algorithm, without which the ranges named could be stretched.
        Ok(list)
            if list.root().to_hex() == signed_root.to_ascii_lowercase()
                && list.spec.size == signed.size
                && list.spec.algorithm.name() == signed.algorithm
                && list.digests.len() as u64 == signed.count =>
        {
            Ok(list)
        }
        Ok(_) => Err(Finding::fail(
            "item.damaged_ranges",
            item_path,
            format!("{list_path} is not the list whose root the signed manifest records"),
        )),
        Err(e) => Err(Finding::fail("item.damaged_ranges", item_path, e)),
    }
}

/// The ranges where `fresh` differs from the signed `stored` list, as one finding.
fn ranges_finding(item_path: &str, fresh: &SegmentList, stored: &SegmentList) -> Finding {
    match fresh.changed_ranges(stored) {
        // Every segment is as signed, yet the whole-file digests are not: the one signed
        // manifest describes two different byte strings (only an insider can sign that).
        Ok(ranges) if ranges.is_empty() => Finding::fail(
            "item.damaged_ranges",
            item_path,
            "every segment matches the signed segment list, yet the whole-file digests differ from the signed ones: the signed manifest's segment root and its digests describe different bytes",
        ),
        Ok(ranges) => {
            let described: Vec<String> = ranges
                .iter()
                .map(|r| format!("bytes {}..{} ({} bytes)", r.start, r.end, r.end - r.start))
                .collect();
            let mut finding =
                Finding::fail("item.damaged_ranges", item_path, format!("changed: {}", described.join(", ")));
            finding.ranges = ranges.iter().map(|r| [r.start, r.end]).collect();
            finding
        }
        Err(_) => Finding::fail(
            "item.damaged_ranges",
            item_path,
            "the segment list was made with another segment size or algorithm",
        ),
    }
}

/// `--by-segments`: checks an item by its signed segment list, every segment hashed once on
/// every core, instead of by its whole-file digests (which are then not recomputed, and the
/// findings say so). The list must be the one the signed root binds; any segment that
/// differs is named by its byte range.
fn check_by_segments(
    snapshot: &Snapshot,
    item: &Item,
    signed: &crate::manifest::Segments,
    file: &std::fs::File,
    control: &Control,
    findings: &mut Vec<Finding>,
) {
    let stored = match signed_segment_list(snapshot, &item.path, signed) {
        Ok(stored) => stored,
        Err(finding) => return findings.push(finding),
    };
    let fresh = match custos_hash::segments::hash_file_segments(
        file,
        Path::new(&item.path),
        item.size,
        stored.spec,
        control,
    ) {
        Ok(fresh) => fresh,
        Err(e) => return findings.push(Finding::fail("item.digest", item.path.clone(), e.to_string())),
    };
    if fresh.digests != stored.digests {
        findings.push(ranges_finding(&item.path, &fresh, &stored));
        return;
    }
    let whole: Vec<&str> = item.digests.keys().map(String::as_str).collect();
    findings.push(Finding::pass(
        "item.segments",
        item.path.clone(),
        format!(
            "all {} {} segments match the root the signed manifest records; whole-file digests ({}) not recomputed (--by-segments)",
            stored.digests.len(),
            stored.spec.algorithm,
            whole.join(", ")
        ),
    ));
    if matches!(stored.spec.algorithm, Algorithm::Md5 | Algorithm::Sha1) {
        findings.push(Finding::warn(
            "item.segments",
            item.path.clone(),
            format!(
                "segments are hashed with {}, which is not collision resistant: verify without --by-segments",
                stored.spec.algorithm
            ),
        ));
    }
}

/// Bytes as text for a report: UTF-8 stays, every other byte is written `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut text = String::new();
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02x}"));
        }
    }
    text
}

#[cfg(test)]
mod acquisition_tests {
    use super::{
        acquisition_problems, check_copy_verifications, check_manifest, BTreeMap, BagClaims, Finding,
        Manifest, Snapshot, Verdict,
    };
    use crate::manifest::Item;

    fn item() -> Item {
        Item {
            path: "data/disk.raw".into(),
            reference: false,
            size: 4096,
            category: None,
            digests: [("sha256".to_owned(), "ab".repeat(32))].into_iter().collect(),
            segments: None,
            acquisition: None,
            stored_as: None,
            copy_verification: None,
        }
    }

    fn record(edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Map<String, serde_json::Value> {
        let mut value = serde_json::json!({
            "format": "custos-acquisition-record/1",
            "bytes_read": 4096,
            "bytes_substituted": 512,
            "digests": [{ "algorithm": "sha256", "hex": "ab".repeat(32) }],
            "read_errors": { "sector_size": 512, "ranges": [
                { "start_sector": 2, "sector_count": 1, "byte_offset": 1024, "byte_length": 512, "error": "EIO" }
            ] },
            "end": { "status": "complete" },
            "source": { "size_bytes": 4096 },
        });
        edit(&mut value);
        match value {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("an object"),
        }
    }

    /// An insider signs whatever copy verification he likes: only the one Custos writes passes.
    #[test]
    fn forged_copy_verifications_are_refused() {
        let copied = |edit: &dyn Fn(&mut Item)| {
            let mut item = Item {
                copy_verification: Some(crate::manifest::CopyVerification {
                    result: "match".into(),
                    algorithm: "sha256".into(),
                    read_from: "page_cache".into(),
                }),
                ..item()
            };
            edit(&mut item);
            let mut findings = Vec::new();
            check_copy_verifications(&manifest_of(vec![item]), &mut findings);
            findings
        };
        let failures = |findings: Vec<Finding>| {
            findings
                .into_iter()
                .filter(|f| f.check == "item.copy_verification" && f.verdict == Verdict::Fail)
                .map(|f| f.detail)
                .collect::<Vec<_>>()
        };
        assert!(failures(copied(&|_| {})).is_empty(), "the shape Custos writes");
        type Edit = dyn Fn(&mut Item);
        let cases: [(&str, &Edit); 6] = [
            ("not copied", &|item| item.reference = true),
            ("not copied", &|item| item.acquisition = Some(record(|_| {}))),
            ("never records", &|item| {
                item.copy_verification.as_mut().expect("set").result = "differs".into()
            }),
            ("never records", &|item| {
                item.copy_verification.as_mut().expect("set").read_from = "disk".into()
            }),
            ("does not record", &|item| {
                item.copy_verification.as_mut().expect("set").algorithm = "blake3".into()
            }),
            // With BLAKE3 recorded, Custos reads the copy back with BLAKE3, never SHA-256.
            ("reads a copy", &|item| {
                item.digests.insert("blake3".into(), "cd".repeat(32));
            }),
        ];
        for (expected, edit) in cases {
            let found = failures(copied(edit));
            assert!(found.len() == 1 && found[0].contains(expected), "{expected}: {found:?}");
        }
    }

    #[test]
    fn a_consistent_record_has_no_problems() {
        assert!(acquisition_problems(&record(|_| {}), &item()).is_empty());
    }

    /// An insider signs whatever record he likes: each contradiction or wrong shape fails.
    #[test]
    fn forged_records_are_refused() {
        type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("not a custos", Box::new(|r| r["format"] = "something-else/9".into())),
            ("whole numbers", Box::new(|r| r["bytes_substituted"] = "512".into())),
            ("must be a list", Box::new(|r| r["read_errors"]["ranges"] = serde_json::json!({}))),
            ("digest the item does not", Box::new(|r| r["digests"][0]["algorithm"] = "SHA256".into())),
            ("the item's is", Box::new(|r| r["digests"][0]["hex"] = "cd".repeat(32).into())),
            ("the ranges hold", Box::new(|r| r["bytes_substituted"] = 0.into())),
            ("outside the image", Box::new(|r| r["read_errors"]["ranges"][0]["byte_offset"] = 4000.into())),
            ("the source had", Box::new(|r| r["source"]["size_bytes"] = 1_000_000_000_000u64.into())),
            ("bytes, the item has", Box::new(|r| r["bytes_read"] = 70_000.into())),
            ("no digest", Box::new(|r| r["digests"] = serde_json::json!([]))),
        ];
        for (needle, edit) in cases {
            let problems = acquisition_problems(&record(edit), &item()).join("; ");
            assert!(problems.contains(needle), "{needle}: {problems}");
        }
    }

    fn part(path: &str) -> crate::manifest::Part {
        crate::manifest::Part {
            path: path.into(),
            size: 2048,
            digests: [("sha256".to_owned(), "cd".repeat(32))].into_iter().collect(),
        }
    }

    fn parted(path: &str, format: crate::manifest::PartFormat, parts: &[&str]) -> Item {
        Item {
            path: path.into(),
            stored_as: Some(crate::manifest::StoredAs {
                format,
                parts: parts.iter().map(|p| part(p)).collect(),
                filled_sectors: Vec::new(),
            }),
            ..item()
        }
    }

    /// An insider can sign a segment root and whole-file digests of different bytes: when
    /// every segment matches and the digests do not, the finding says so instead of naming
    /// no range.
    #[test]
    fn matching_segments_under_differing_digests_are_named_a_contradiction() {
        let spec = custos_hash::SegmentSpec { size: 4, algorithm: custos_hash::Algorithm::Sha256 };
        let list = custos_hash::SegmentList::of_bytes(spec, b"0123456789");
        let finding = super::ranges_finding("data/x", &list, &list);
        assert_eq!(finding.verdict, Verdict::Fail);
        assert!(finding.detail.contains("describe different bytes"), "{}", finding.detail);
        assert!(finding.ranges.is_empty());
    }

    /// A signed manifest of these items, as an insider could make it.
    fn manifest_of(items: Vec<Item>) -> Manifest {
        Manifest {
            custos_manifest: crate::manifest::MANIFEST_FORMAT,
            case: crate::manifest::Case { reference: "C".into(), exhibit: None },
            sealed_at: "2026-12-01T00:00:00+00:00".into(),
            location: None,
            jurisdiction: None,
            tool: crate::manifest::Tool { name: "custos".into(), version: "test".into() },
            legal_basis: Vec::new(),
            items,
            links: Vec::new(),
        }
    }

    /// The manifest checks an insider's signed manifest of parts goes through.
    fn manifest_findings(items: Vec<Item>) -> Vec<Finding> {
        let manifest = manifest_of(items);
        let claims = BagClaims {
            payload: BTreeMap::new(),
            info: [("External-Identifier".to_owned(), vec!["C".to_owned()])].into_iter().collect(),
        };
        let mut findings = Vec::new();
        check_manifest(&manifest, &claims, &Snapshot::default(), i64::MAX / 2, &mut findings);
        findings.retain(|f| f.check != "item.missing");
        findings
    }

    fn fails(findings: &[Finding], needle: &str) -> bool {
        findings.iter().any(|f| f.verdict == Verdict::Fail && f.detail.contains(needle))
    }

    #[test]
    fn signed_parts_in_shapes_custos_never_writes_are_refused() {
        use crate::manifest::PartFormat::{Split, E01};
        let good = parted("data/x.raw", Split, &["data/x.raw.001", "data/x.raw.002"]);
        assert!(manifest_findings(vec![good.clone()]).is_empty(), "{:?}", manifest_findings(vec![good]));
        let e01 = parted("data/x.E01", E01, &["data/x.E01", "data/x.E02"]);
        assert!(manifest_findings(vec![e01]).is_empty());
        // A split image whose path is one of its parts, listed twice.
        let found = manifest_findings(vec![parted("data/x.raw", Split, &["data/x.raw", "data/x.raw"])]);
        assert!(fails(&found, "listed twice") && fails(&found, "also one of its parts"), "{found:?}");
        // A file that is a part of one item and an item of its own, in either order.
        let a = parted("data/x.raw", Split, &["data/y", "data/x.raw.002"]);
        let b = Item { path: "data/y".into(), ..item() };
        assert!(fails(&manifest_findings(vec![a.clone(), b.clone()]), "listed twice"));
        assert!(fails(&manifest_findings(vec![b, a]), "listed twice"));
        // Parts bound only by algorithms Custos does not know.
        let mut unknown = parted("data/x.raw", Split, &["data/x.raw.001"]);
        if let Some(stored) = unknown.stored_as.as_mut() {
            stored.parts[0].digests = [("sha3".to_owned(), "00".to_owned())].into_iter().collect();
        }
        let found = manifest_findings(vec![unknown]);
        assert!(
            fails(&found, "no digest Custos knows") && fails(&found, "unknown algorithm `sha3`"),
            "{found:?}"
        );
        // An E01 item not named by its first segment; parts outside data/; no parts.
        assert!(fails(&manifest_findings(vec![parted("data/x", E01, &["data/x.E01"])]), "first segment"));
        // A part outside data/ fails by its own path and for that reason (a warning, or a
        // finding about something else, would leave it unchecked).
        for (outside, reason) in [
            ("../x.001", "path traversal"),
            ("/etc/passwd", "path traversal"),
            ("data/../../x.001", "path traversal"),
            ("bag-info.txt", "must start with data/"),
        ] {
            let found = manifest_findings(vec![parted("data/x.raw", Split, &[outside])]);
            assert!(
                found.iter().any(|f| f.verdict == Verdict::Fail
                    && f.check == "manifest.path"
                    && f.subject == outside
                    && f.detail.contains(reason)),
                "{outside}: {found:?}"
            );
        }
        assert!(fails(&manifest_findings(vec![parted("data/x.raw", Split, &[])]), "none is listed"));
    }
}
