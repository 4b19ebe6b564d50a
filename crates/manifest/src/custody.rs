//! The custody log, `custos/custody.jsonl`: append-only, one signed event per line, each
//! naming the digest of the line before it, so events cannot be edited, removed, reordered
//! or forged without the log failing verification. Format: `docs/formats/custody.md`.
//!
//! A line is a signed envelope whose `payload` is the event's exact JSON text:
//! `{"payload":"{…event…}","payload_type":"…custody-event…","signatures":[…]}`.
//! A transfer is a `released` event naming the receiver's key, then an `accepted` event
//! signed by that receiver naming the release line's digest; until then it is pending.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::envelope::{pae, SignatureEntry};
use crate::findings::{Finding, Verdict};
use crate::keys::{KeyId, PublicKey};
use crate::strict_json;
use crate::Error;

/// Where the log lives in a package.
pub const CUSTODY_PATH: &str = "custos/custody.jsonl";
/// The DSSE payload type of custody events.
pub const EVENT_PAYLOAD_TYPE: &str = "application/vnd.custos.custody-event+json; version=1";
/// Format version of events.
pub const EVENT_FORMAT: u64 = 1;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Action {
    Sealed,
    Released,
    Accepted,
    Accessed,
    Examined,
    FixityVerified,
    Copied,
    Disclosed,
    PreservationRenewed,
    Returned,
    Destroyed,
}

impl Action {
    /// Parses the snake_case name (`fixity_verified`).
    pub fn parse(name: &str) -> Option<Action> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }
}

/// Who acted: the signer, as their key file describes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Actor {
    pub key_id: String,
    pub name: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
}

impl Actor {
    /// The actor described by a public key file.
    pub fn of(key: &PublicKey) -> Actor {
        Actor {
            key_id: key.id().to_string(),
            name: key.owner.name.clone(),
            role: key.owner.role.clone(),
            organisation: key.owner.organisation.clone(),
            jurisdiction: key.owner.jurisdiction.clone(),
        }
    }
}

/// One custody event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Format version, [`EVENT_FORMAT`].
    pub custos_event: u64,
    /// 0 for the first event, then one more for each.
    pub sequence: u64,
    /// SHA-256 (hex) of the previous line's bytes, without its newline; `None` for the first.
    pub previous: Option<String>,
    /// SHA-256 (hex) of `custos/manifest.json`.
    pub manifest: String,
    /// RFC 3339 with offset.
    pub time: String,
    /// Who acted (must be the signer).
    pub actor: Actor,
    /// What they did.
    pub action: Action,
    /// Where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The legal basis relied on (a reference from the manifest or another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    /// Item paths the event concerns (all, when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Digests observed at the time (path → algorithm → hex), e.g. for `fixity_verified`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub observed_digests: BTreeMap<String, BTreeMap<String, String>>,
    /// `released`: the receiver's key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// `accepted`: SHA-256 (hex) of the release line accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One line of the log as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    payload: String,
    payload_type: String,
    signatures: Vec<SignatureEntry>,
}

/// SHA-256 hex of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a new event needs; sequence, previous digest and manifest digest are filled in.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// What happened.
    pub action: Action,
    /// When (RFC 3339 with offset).
    pub time: String,
    /// Where.
    pub location: Option<String>,
    /// Why.
    pub purpose: Option<String>,
    /// Legal basis reference.
    pub legal_basis: Option<String>,
    /// Items concerned.
    pub items: Vec<String>,
    /// Digests observed.
    pub observed_digests: BTreeMap<String, BTreeMap<String, String>>,
    /// For `released`.
    pub receiver: Option<String>,
    /// For `accepted`: filled in by [`append`] from the pending release to this signer.
    pub release: Option<String>,
    /// Free text.
    pub note: Option<String>,
}

impl NewEvent {
    /// An event with only an action and a time.
    pub fn new(action: Action, time: String) -> NewEvent {
        NewEvent {
            action,
            time,
            location: None,
            purpose: None,
            legal_basis: None,
            items: Vec::new(),
            observed_digests: BTreeMap::new(),
            receiver: None,
            release: None,
            note: None,
        }
    }
}

/// Appends a signed event to the package's log, under an exclusive lock, refusing to write
/// after a torn last line. For `accepted`, the release is the last pending release to this
/// signer; there must be one. `then` runs after the append, still under the lock (the
/// package uses it to refresh the tag manifests, which must describe the final log).
pub fn append(
    package: &Path,
    new: NewEvent,
    key: &SigningKey,
    public: &PublicKey,
    then: &dyn Fn() -> Result<(), Error>,
) -> Result<Event, Error> {
    if public.key != key.verifying_key() {
        return Err(Error::Package("the public key file does not belong to the signing key".into()));
    }
    let io = |what: &str, e: std::io::Error| Error::Package(format!("{what}: {e}"));
    let log_path = package.join(CUSTODY_PATH);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| io("cannot open the custody log", e))?;
    // An exclusive lock on the log itself, held until `file` is dropped: concurrent writers
    // queue instead of interleaving or both chaining to the same previous line.
    file.lock().map_err(|e| io("cannot lock the custody log", e))?;

    let manifest = fs::read(package.join(crate::package::MANIFEST_PATH))
        .map_err(|e| io("cannot read the manifest", e))?;
    let existing = match fs::read(&log_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io("cannot read the custody log", e)),
    };
    if !existing.is_empty() && !existing.ends_with(b"\n") {
        return Err(Error::Package(
            "the custody log ends in a torn line (an interrupted write); nothing was appended".into(),
        ));
    }
    let lines: Vec<&[u8]> = existing.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let mut new = new;
    if new.action == Action::Accepted && new.release.is_none() {
        let me = public.id().to_string();
        let (releases, accepted) = scan_transfers(&lines);
        let pending =
            releases.iter().rev().find(|(digest, receiver)| *receiver == me && !accepted.contains(digest));
        new.release = Some(
            pending
                .map(|(digest, _)| digest.clone())
                .ok_or_else(|| Error::Package("no pending release to this key to accept".into()))?,
        );
    }
    let event = Event {
        custos_event: EVENT_FORMAT,
        sequence: lines.len() as u64,
        previous: lines.last().map(|l| sha256_hex(l)),
        manifest: sha256_hex(&manifest),
        time: new.time,
        actor: Actor::of(public),
        action: new.action,
        location: new.location,
        purpose: new.purpose,
        legal_basis: new.legal_basis,
        items: new.items,
        observed_digests: new.observed_digests,
        receiver: new.receiver,
        release: new.release,
        note: new.note,
    };
    let payload = serde_json::to_string(&event).map_err(|e| Error::Package(e.to_string()))?;
    let signature = key.sign(&pae(EVENT_PAYLOAD_TYPE, payload.as_bytes()));
    let line = Line {
        payload,
        payload_type: EVENT_PAYLOAD_TYPE.to_owned(),
        signatures: vec![SignatureEntry {
            key_id: public.id().to_string(),
            sig: BASE64.encode(signature.to_bytes()),
        }],
    };
    let mut bytes = serde_json::to_vec(&line).map_err(|e| Error::Package(e.to_string()))?;
    bytes.push(b'\n');
    // One write of the whole line, then fsync: a crash leaves either the old log or a torn
    // last line, which verification reports and appends refuse to build on.
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io("cannot append to the custody log", e))?;
    then()?;
    Ok(event)
}

/// (release line digest, receiver) for every parseable release, and the digests accepted.
/// Used only to pick what to accept; verification re-checks everything with signatures.
fn scan_transfers(lines: &[&[u8]]) -> (Vec<(String, String)>, Vec<String>) {
    let mut releases = Vec::new();
    let mut accepted = Vec::new();
    for line in lines {
        let Ok(stored) = serde_json::from_slice::<Line>(line) else { continue };
        let Ok(event) = serde_json::from_str::<Event>(&stored.payload) else { continue };
        match (event.action, event.receiver, event.release) {
            (Action::Released, Some(receiver), _) => releases.push((sha256_hex(line), receiver)),
            (Action::Accepted, _, Some(release)) => accepted.push(release),
            _ => {}
        }
    }
    (releases, accepted)
}

/// Verifies the log: every line's signature (by a trusted key, or a shipped one when
/// `allow_untrusted`), strict parsing, sequence, chain, manifest digest, actor = signer,
/// the first event is `sealed`, every acceptance against its release, pending transfers.
/// Returns the findings and the events that verified.
pub fn verify_log(
    package: &Path,
    trusted: &dyn Fn(&str) -> Option<(VerifyingKey, bool)>,
) -> (Vec<Finding>, Vec<Event>) {
    let mut findings = Vec::new();
    let mut events = Vec::new();
    let bytes = match fs::read(package.join(CUSTODY_PATH)) {
        Ok(bytes) => bytes,
        Err(e) => {
            findings.push(Finding::fail("custody.log", CUSTODY_PATH, format!("cannot be read: {e}")));
            return (findings, events);
        }
    };
    let manifest_digest =
        fs::read(package.join(crate::package::MANIFEST_PATH)).map(|m| sha256_hex(&m)).unwrap_or_default();
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        findings.push(Finding::fail(
            "custody.torn_line",
            CUSTODY_PATH,
            "the last line is incomplete (an interrupted write or a truncation); it is not accepted",
        ));
    }
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let complete = if bytes.ends_with(b"\n") { lines.len() } else { lines.len().saturating_sub(1) };
    if complete == 0 {
        findings.push(Finding::fail(
            "custody.log",
            CUSTODY_PATH,
            "no events: a sealed package starts with a `sealed` event",
        ));
    }
    // release digest → (sequence, receiver)
    let mut releases: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut accepted: Vec<String> = Vec::new();
    for (index, line) in lines.iter().take(complete).enumerate() {
        let subject = format!("event {index}");
        let event = match open_line(line, trusted) {
            Err(detail) => {
                findings.push(Finding::fail("custody.signature", subject, detail));
                // The chain is broken here; later lines cannot be trusted to follow it.
                break;
            }
            Ok((event, signer, is_trusted)) => {
                if !is_trusted {
                    findings.push(Finding::fail(
                        "trust.signer",
                        subject.clone(),
                        format!("event signed by {signer}, a key no --trust covers"),
                    ));
                }
                if event.actor.key_id != signer {
                    findings.push(Finding::fail(
                        "custody.actor",
                        subject.clone(),
                        format!("the event names actor {} but was signed by {signer}", event.actor.key_id),
                    ));
                }
                event
            }
        };
        let expected_previous = index.checked_sub(1).map(|i| sha256_hex(lines[i]));
        if event.sequence != index as u64 {
            findings.push(Finding::fail(
                "custody.sequence",
                subject.clone(),
                format!("sequence {} at position {index}: events were removed or reordered", event.sequence),
            ));
        }
        if event.previous != expected_previous {
            findings.push(Finding::fail(
                "custody.chain",
                subject.clone(),
                "does not name the digest of the line before it: events were removed, reordered or edited",
            ));
        }
        if event.manifest != manifest_digest {
            findings.push(Finding::fail(
                "custody.manifest",
                subject.clone(),
                "names another manifest than this package's",
            ));
        }
        if index == 0 && event.action != Action::Sealed {
            findings.push(Finding::fail(
                "custody.order",
                subject.clone(),
                "the first event must be `sealed`",
            ));
        }
        match event.action {
            Action::Released => match &event.receiver {
                Some(receiver) => {
                    releases.insert(sha256_hex(line), (event.sequence, receiver.clone()));
                }
                None => findings.push(Finding::fail(
                    "custody.transfer",
                    subject.clone(),
                    "a release must name the receiver's key",
                )),
            },
            Action::Accepted => match event.release.as_ref().and_then(|r| releases.get(r).map(|v| (r, v))) {
                None => findings.push(Finding::fail(
                    "custody.transfer",
                    subject.clone(),
                    "an acceptance of no release in this log",
                )),
                Some((release, (sequence, receiver))) => {
                    if *receiver != event.actor.key_id {
                        findings.push(Finding::fail("custody.transfer", subject.clone(), format!("accepts release {sequence}, which names receiver {receiver}, but was signed by {}", event.actor.key_id)));
                    } else if accepted.contains(release) {
                        findings.push(Finding::fail(
                            "custody.transfer",
                            subject.clone(),
                            format!("release {sequence} was already accepted"),
                        ));
                    } else {
                        accepted.push(release.clone());
                        findings.push(Finding::pass(
                            "custody.transfer",
                            subject.clone(),
                            format!("accepts release {sequence}, signed by its named receiver"),
                        ));
                    }
                }
            },
            _ => {}
        }
        findings.push(Finding::pass(
            "custody.event",
            subject,
            format!("{:?} by {} at {}", event.action, event.actor.name, event.time),
        ));
        events.push(event);
    }
    for (digest, (sequence, receiver)) in &releases {
        if !accepted.contains(digest) {
            findings.push(Finding::warn(
                "custody.pending",
                format!("event {sequence}"),
                format!("released to {receiver}, not yet accepted: custody is in transit"),
            ));
        }
    }
    (findings, events)
}

/// Verifies one line's signature, then parses its event. Returns the event, the signer's
/// key id and whether that key is trusted.
fn open_line(
    line: &[u8],
    trusted: &dyn Fn(&str) -> Option<(VerifyingKey, bool)>,
) -> Result<(Event, String, bool), String> {
    let stored: Line = strict_json::parse(line).map_err(|e| format!("not a custody line: {e}"))?;
    if stored.payload_type != EVENT_PAYLOAD_TYPE {
        return Err(format!("signed as `{}`, not as a custody event", stored.payload_type));
    }
    let [entry] = stored.signatures.as_slice() else {
        return Err("a custody event carries exactly one signature".into());
    };
    let (key, is_trusted) = trusted(&entry.key_id).ok_or_else(|| {
        format!("signed by key {}, which is neither trusted nor shipped in the package", entry.key_id)
    })?;
    if KeyId::of(&key).to_string() != entry.key_id {
        return Err("the key found does not have the signature's key id".into());
    }
    let signature = BASE64
        .decode(&entry.sig)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b))
        .ok_or("the signature is not 64 bytes of base64")?;
    key.verify_strict(&pae(EVENT_PAYLOAD_TYPE, stored.payload.as_bytes()), &signature).map_err(|_| {
        format!(
            "the signature by {} does not verify: the event was altered or the signature belongs elsewhere",
            entry.key_id
        )
    })?;
    let event: Event =
        strict_json::parse(stored.payload.as_bytes()).map_err(|e| format!("signed, but malformed: {e}"))?;
    if event.custos_event != EVENT_FORMAT {
        return Err(format!("unsupported event format version {}", event.custos_event));
    }
    Ok((event, entry.key_id.clone(), is_trusted))
}

/// Whether any finding failed.
pub fn failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.verdict == Verdict::Fail)
}
