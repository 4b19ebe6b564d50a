//! The custody log, `custos/custody.jsonl`: append-only, one signed event per line, each
//! naming the digest of the line before it, so events cannot be edited, removed, reordered
//! or forged without the log failing verification. Format: `docs/formats/custody.md`.
//!
//! A line is a signed envelope whose `payload` is the event's exact JSON text:
//! `{"payload":"{…event…}","payload_type":"…custody-event…","signatures":[…]}`.
//! A transfer is a `released` event naming the receiver's key, then an `accepted` event
//! signed by that receiver naming the release line's digest; until then it is pending.

use std::collections::BTreeMap;
use std::io::Write;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::envelope::{pae, SignatureEntry, SignedLine as Line};
use crate::findings::{Finding, Verdict};
use crate::holder::CustodyState;
use crate::keys::{KeyId, PublicKey};
use crate::package::MANIFEST_PATH;
use crate::store::{PackageDir, PackageStore, StoreError, MAX_TAG_FILE_BYTES};
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
    /// The releaser takes back a pending release (names it in `release`).
    Withdrawn,
    /// Another principal added a signature over the manifest (`custos cosign`).
    Cosigned,
    /// A fixity check found the bytes differ from the manifest (records what it observed).
    FixityFailed,
    /// The holder moved the evidence (to the event's `country` and `location`) without a
    /// change of holder.
    Moved,
    /// A legal order was recorded (the event's `order`; docs/formats/orders.md).
    OrderRecorded,
}

impl Action {
    /// Every action, in the order the format lists them.
    pub const ALL: [Action; 16] = [
        Action::Sealed,
        Action::Released,
        Action::Accepted,
        Action::Withdrawn,
        Action::Accessed,
        Action::Examined,
        Action::FixityVerified,
        Action::FixityFailed,
        Action::Cosigned,
        Action::Copied,
        Action::Disclosed,
        Action::PreservationRenewed,
        Action::Returned,
        Action::Destroyed,
        Action::Moved,
        Action::OrderRecorded,
    ];

    /// Parses the snake_case name (`fixity_verified`), exactly.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.name() == name)
    }

    /// The snake_case name, as written in events, policies and typed on the command line.
    /// An exhaustive match: a new action cannot be added without its name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Sealed => "sealed",
            Action::Released => "released",
            Action::Accepted => "accepted",
            Action::Withdrawn => "withdrawn",
            Action::Accessed => "accessed",
            Action::Examined => "examined",
            Action::FixityVerified => "fixity_verified",
            Action::FixityFailed => "fixity_failed",
            Action::Cosigned => "cosigned",
            Action::Copied => "copied",
            Action::Disclosed => "disclosed",
            Action::PreservationRenewed => "preservation_renewed",
            Action::Returned => "returned",
            Action::Destroyed => "destroyed",
            Action::Moved => "moved",
            Action::OrderRecorded => "order_recorded",
        }
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
    /// The country the evidence is in at this event (ISO 3166-1 alpha-2, or `XA`–`XZ`): it
    /// stays there until an event states another. Added in 0.3; events without it are
    /// unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
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
    /// `accepted` and `withdrawn`: SHA-256 (hex) of the release line accepted or withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `order_recorded`: the order. Added in 0.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<crate::order::Order>,
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
    /// In which country the evidence is (a code [`crate::vocabulary::country`] accepts).
    pub country: Option<String>,
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
    /// For `order_recorded`: the order.
    pub order: Option<crate::order::Order>,
}

impl NewEvent {
    /// An event with only an action and a time.
    pub fn new(action: Action, time: String) -> NewEvent {
        NewEvent {
            action,
            time,
            location: None,
            country: None,
            purpose: None,
            legal_basis: None,
            items: Vec::new(),
            observed_digests: BTreeMap::new(),
            receiver: None,
            release: None,
            note: None,
            order: None,
        }
    }
}

/// Events may be dated at most this many seconds after the time of verification (clocks of
/// the machines that signed them differ a little): 300.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;
/// The most events a log may hold: 1,000,000 (the log is also capped at
/// [`crate::store::MAX_TAG_FILE_BYTES`]).
pub const MAX_EVENTS: usize = 1_000_000;

/// Appends a signed event to the package's log. Before anything is written: the package
/// holds no link or special file, the log is opened without following links and locked
/// exclusively, and the whole existing log verifies under the keys the package ships
/// (signatures, sequence, chain, manifest digest, times); a torn last line or any junk is
/// refused, so a genuine event never chains onto something that can never verify. For
/// `accepted`, the release is the last pending release to this signer; there must be one.
/// `ship` are public key files to add to `custos/keys/` (new files only); `replace` runs
/// under the lock, after every check, and returns files to replace together with the event
/// (co-signing replaces the manifest's signature file); `then` runs after the append, still
/// under the lock (the package refreshes its tag manifests there). If anything fails after
/// writing began, the log is cut back, replaced files restored and shipped keys removed, so
/// the package is left as it was.
pub fn append(
    store: &PackageDir,
    new: NewEvent,
    key: &SigningKey,
    public: &PublicKey,
    writes: &AlongWith<'_>,
) -> Result<Appended, Error> {
    let AlongWith { ship, tsa, replace, then } = *writes;
    if public.key != key.verifying_key() {
        return Err(Error::Package("the public key file does not belong to the signing key".into()));
    }
    let refused = |what: &str, e: StoreError| Error::Package(format!("{what}: {e}"));
    store
        .check_layout()
        .map_err(|e| refused("refusing to write to a package that holds links or special files", e))?;
    let log = match store.open_append(CUSTODY_PATH) {
        Ok(log) => log,
        Err(StoreError::NotFound { .. }) if new.action == Action::Sealed => {
            store.create_append(CUSTODY_PATH).map_err(|e| refused("cannot create the custody log", e))?
        }
        Err(e) => return Err(refused("cannot open the custody log", e)),
    };
    let mut file = log.file;
    // An exclusive lock on the log itself, held until `file` is dropped: concurrent writers
    // queue instead of interleaving or both chaining to the same previous line, and
    // verifiers (shared lock) never see a half-finished append.
    store.lock(&file).map_err(|e| refused("cannot lock the custody log", e))?;
    // Temporaries an earlier command left when it was killed before renaming them into place
    // (`PackageDir::replace`): under this lock no other writer has one in flight, and they
    // must go before the tag manifests are made, or they would be listed for good.
    store
        .remove_temporaries()
        .map_err(|e| refused("cannot remove a temporary file left by an interrupted command", e))?;

    let manifest = store
        .read_small(MANIFEST_PATH, MAX_TAG_FILE_BYTES)
        .map_err(|e| refused("cannot read the manifest", e))?;
    let existing = store
        .read_small(CUSTODY_PATH, MAX_TAG_FILE_BYTES)
        .map_err(|e| refused("cannot read the custody log", e))?;
    if !existing.is_empty() && !existing.ends_with(b"\n") {
        return Err(Error::Package(
            "the custody log ends in a torn line (an interrupted write); nothing was appended".into(),
        ));
    }
    if new.action == Action::Sealed && !existing.is_empty() {
        return Err(Error::Package("the package is already sealed; nothing was appended".into()));
    }
    let parsed_manifest = crate::manifest::Manifest::parse(&manifest).ok();
    let now = crate::time::parse_rfc3339(&new.time)
        .ok_or_else(|| Error::Package(format!("the event time `{}` is not RFC 3339", new.time)))?;
    let lines: Vec<&[u8]> = existing.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let mut state = CustodyState::default();
    let mut earlier_orders: Vec<String> = Vec::new();
    if !existing.is_empty() {
        let shipped = crate::package::shipped_keys_in(store)?;
        let lookup = |id: &str| shipped.get(id).map(|k| (k.clone(), false));
        let input = LogInput {
            log: Ok(&existing),
            manifest_bytes: &manifest,
            manifest: parsed_manifest.as_ref(),
            now,
            manifest_signers: None,
        };
        let verified = verify_log(&input, &lookup);
        let problems: Vec<String> = verified
            .findings
            .iter()
            .filter(|f| f.verdict == Verdict::Fail && f.check != "trust.signer")
            .take(3)
            .map(|f| format!("{} {}: {}", f.check, f.subject, f.detail))
            .collect();
        if !problems.is_empty() {
            return Err(Error::Package(format!(
                "the custody log does not verify, so nothing was appended (an event chained onto it could never verify): {}",
                problems.join("; ")
            )));
        }
        state = verified.state;
        earlier_orders = verified
            .events
            .iter()
            .filter_map(|(event, _)| event.order.as_ref())
            .map(|o| o.reference.clone())
            .collect();
        if let Some((last, _)) = verified.events.last() {
            if crate::time::parse_rfc3339(&last.time).is_some_and(|t| t > now) {
                return Err(Error::Package(format!(
                    "this event's time {} is before the last event's ({}); check this machine's clock",
                    new.time, last.time
                )));
            }
        }
    }
    let mut new = new;
    let me = public.id().to_string();
    if new.action == Action::Accepted && new.release.is_none() {
        new.release = Some(
            state
                .pending
                .as_ref()
                .filter(|pending| pending.to == me)
                .map(|pending| pending.release.clone())
                .ok_or_else(|| Error::Package("no pending release to this key to accept".into()))?,
        );
    }
    if new.action == Action::Withdrawn && new.release.is_none() {
        new.release = Some(
            state
                .pending
                .as_ref()
                .filter(|pending| pending.from.key_id == me)
                .map(|pending| pending.release.clone())
                .ok_or_else(|| Error::Package("no pending release by this key to withdraw".into()))?,
        );
    }
    if let Some(country) = &new.country {
        if crate::vocabulary::country(country).as_deref() != Ok(country.as_str()) {
            return Err(Error::Package(format!(
                "`{country}` is not a country code as events write it (ISO 3166-1 alpha-2 in capitals, or XA to XZ)"
            )));
        }
    }
    if new.action == Action::Moved && new.country.is_none() && new.location.is_none() {
        return Err(Error::Package("a move says where to: give its country, its location, or both".into()));
    }
    check_order(new.action, &new.time, new.order.as_ref(), &earlier_orders)
        .map_err(|reason| Error::Package(format!("refused, nothing was signed: {reason}")))?;
    let event = Event {
        custos_event: EVENT_FORMAT,
        sequence: lines.len() as u64,
        previous: lines.last().map(|l| sha256_hex(l)),
        manifest: sha256_hex(&manifest),
        time: new.time,
        actor: Actor::of(public),
        action: new.action,
        location: new.location,
        country: new.country,
        purpose: new.purpose,
        legal_basis: new.legal_basis,
        items: new.items,
        observed_digests: new.observed_digests,
        receiver: new.receiver,
        release: new.release,
        note: new.note,
        order: new.order,
    };
    // The holder model decides before anything is signed.
    state
        .apply(&event, "")
        .map_err(|v| Error::Package(format!("refused, nothing was signed: {}", v.reason)))?;
    let line = signed_line(&event, key)?;
    let mut bytes = line.clone();
    bytes.push(b'\n');

    let mut replacements = replace(store)?;
    if let Some(url) = tsa {
        // Asked before anything is written: an unreachable TSA leaves the package as it was.
        let entry =
            SignatureEntry { key_id: public.id().to_string(), sig: BASE64.encode(signature_of(&line)?) };
        replacements.push((
            crate::package::event_token_path(event.sequence),
            crate::package::stamp_signature(url, &entry)?,
        ));
    }
    let mut originals = Vec::new();
    for (path, _) in &replacements {
        let old = match store.read_small(path, MAX_TAG_FILE_BYTES) {
            Ok(old) => Some(old),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(refused("cannot read a file to replace", e)),
        };
        originals.push((path.clone(), old));
    }
    let mut shipped_now = Vec::new();
    let undo = |file: &std::fs::File, shipped_now: &[String]| {
        let _ = file.set_len(existing.len() as u64).and_then(|()| file.sync_all());
        for path in shipped_now {
            let _ = store.remove(path);
        }
        for (path, old) in &originals {
            let _ = match old {
                Some(old) => store.replace(path, old),
                None => store.remove(path),
            };
        }
    };
    for (path, bytes) in &replacements {
        if let Err(e) = store.replace(path, bytes) {
            undo(&file, &shipped_now);
            return Err(refused("cannot replace a package file", e));
        }
    }
    for key_file in ship {
        let path = format!("{}/{}.pub", crate::package::KEYS_DIR, key_file.id());
        match store.create_new(&path, key_file.to_text().as_bytes()) {
            Ok(()) => shipped_now.push(path),
            Err(StoreError::Exists { .. }) => {}
            Err(e) => {
                undo(&file, &shipped_now);
                return Err(refused("cannot ship a public key", e));
            }
        }
    }
    // One write of the whole line, then fsync: a crash leaves either the old log or a torn
    // last line, which verification reports and appends refuse to build on.
    if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_all()) {
        undo(&file, &shipped_now);
        return Err(Error::Package(format!("cannot append to the custody log: {e}")));
    }
    if let Err(e) = then(store) {
        undo(&file, &shipped_now);
        // Put the tag manifests back as they describe the log without this event.
        let _ = then(store);
        return Err(e);
    }
    Ok(Appended { manifest: event.manifest.clone(), event, line })
}

/// What an append writes besides the event's line (see [`append`]).
#[derive(Clone, Copy)]
pub struct AlongWith<'a> {
    /// Public key files to ship in `custos/keys/` (new files only).
    pub ship: &'a [&'a PublicKey],
    /// A time-stamping authority to stamp the event's signature.
    pub tsa: Option<&'a str>,
    /// Files to replace together with the event, computed under the lock.
    pub replace: &'a Replacements<'a>,
    /// Runs after the append, under the lock (the tag manifests are refreshed there).
    pub then: &'a dyn Fn(&PackageDir) -> Result<(), Error>,
}

impl std::fmt::Debug for AlongWith<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlongWith")
            .field("ship", &self.ship.len())
            .field("tsa", &self.tsa)
            .finish_non_exhaustive()
    }
}

/// Files to replace along with an appended event: called under the package's lock, it
/// returns (path, new bytes) pairs.
pub type Replacements<'a> = dyn Fn(&PackageDir) -> Result<Vec<(String, Vec<u8>)>, Error> + 'a;

/// No files to replace.
pub fn nothing_to_replace(_: &PackageDir) -> Result<Vec<(String, Vec<u8>)>, Error> {
    Ok(Vec::new())
}

/// The log line of `event` signed by `key` (without its newline): a signed envelope whose
/// payload is the event's exact JSON text.
pub fn signed_line(event: &Event, key: &SigningKey) -> Result<Vec<u8>, Error> {
    let payload = serde_json::to_string(event).map_err(|e| Error::Package(e.to_string()))?;
    Line::sign(EVENT_PAYLOAD_TYPE, payload, key).to_bytes()
}

/// The raw bytes of a log line's (single) signature: what a time-stamp token stamps.
pub fn signature_of(line: &[u8]) -> Result<Vec<u8>, Error> {
    let stored: Line =
        serde_json::from_slice(line).map_err(|e| Error::Package(format!("not a custody line: {e}")))?;
    match stored.signatures.as_slice() {
        [entry] => entry.bytes().ok_or_else(|| Error::Package("a signature that is not base64".into())),
        _ => Err(Error::Package("a custody line carries exactly one signature".into())),
    }
}

/// The event inside a log line, parsed without checking its signature: for tools that
/// build on a line already verified (and for tests that forge one).
pub fn parse_line_unverified(line: &[u8]) -> Option<Event> {
    let stored: Line = serde_json::from_slice(line).ok()?;
    serde_json::from_str(&stored.payload).ok()
}

/// What the log verifier needs: the log's bytes (or why there are none), the manifest's
/// bytes (each event names their digest), the parsed manifest when its signature verified
/// (for item names, digests and the sealing time), and the time of verification.
#[derive(Debug)]
pub struct LogInput<'a> {
    /// The log, or why it could not be read.
    pub log: Result<&'a [u8], String>,
    /// The manifest's exact bytes.
    pub manifest_bytes: &'a [u8],
    /// The manifest, if it could be parsed.
    pub manifest: Option<&'a crate::manifest::Manifest>,
    /// Seconds since the epoch.
    pub now: i64,
    /// Key ids of the valid signatures over the manifest, when known: a `cosigned` event
    /// must be by one of them.
    pub manifest_signers: Option<&'a [String]>,
}

/// Verifies the log: every line's signature (under the key `keys` finds for its key id,
/// with whether that key is trusted), strict parsing, sequence, chain, manifest digest, the
/// actor's fields equal to the key file that verified them, times (RFC 3339, never going
/// backwards, not before sealing, not after `now` beyond [`MAX_CLOCK_SKEW_SECONDS`]), the
/// first event and only the first is `sealed`, transfer fields only on transfer events,
/// every acceptance against its release, fixity events against the manifest's digests,
/// the holder model ([`crate::holder`]), pending transfers.
pub fn verify_log(input: &LogInput, keys: &dyn Fn(&str) -> Option<(PublicKey, bool)>) -> LogVerification {
    let mut findings = Vec::new();
    let mut events = Vec::new();
    let bytes = match input.log {
        Ok(bytes) => bytes,
        Err(ref e) => {
            findings.push(Finding::fail("custody.log", CUSTODY_PATH, format!("cannot be read: {e}")));
            return LogVerification { findings, events, ..LogVerification::default() };
        }
    };
    let manifest_digest = sha256_hex(input.manifest_bytes);
    let sealed_at = input.manifest.and_then(|m| crate::time::parse_rfc3339(&m.sealed_at));
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        findings.push(Finding::fail(
            "custody.torn_line",
            CUSTODY_PATH,
            "the last line is incomplete (an interrupted write or a truncation); it is not accepted",
        ));
    }
    // Counted before anything is collected: a log of millions of tiny lines is refused
    // without building a list of them.
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
    if newlines > MAX_EVENTS {
        findings.push(Finding::fail(
            "custody.log",
            CUSTODY_PATH,
            format!("{newlines} lines, more than the {MAX_EVENTS} events allowed; none was checked"),
        ));
        return LogVerification { findings, events, ..LogVerification::default() };
    }
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if bytes.ends_with(b"\n") {
        lines.pop();
    }
    // A blank line is no event, and a log with one is not the log Custos wrote: the chain
    // names whole lines, so every byte of the log must belong to one.
    if let Some(blank) = lines.iter().position(|l| l.is_empty()) {
        findings.push(Finding::fail(
            "custody.log",
            format!("line {}", blank + 1),
            "a blank line: the log holds one signed event per line and nothing else",
        ));
        lines.retain(|l| !l.is_empty());
    }
    let complete = if bytes.ends_with(b"\n") { lines.len() } else { lines.len().saturating_sub(1) };
    if complete == 0 {
        findings.push(Finding::fail(
            "custody.log",
            CUSTODY_PATH,
            "no events: a sealed package starts with a `sealed` event",
        ));
    }
    if complete > MAX_EVENTS {
        findings.push(Finding::fail(
            "custody.log",
            CUSTODY_PATH,
            format!("{complete} events, more than the {MAX_EVENTS} allowed; none was checked"),
        ));
        return LogVerification { findings, events, ..LogVerification::default() };
    }
    let mut state = CustodyState::default();
    let mut last_time: Option<(usize, i64)> = None;
    // References of the orders recorded so far, for `extends` and duplicates.
    let mut orders: Vec<String> = Vec::new();
    for (index, line) in lines.iter().take(complete).enumerate() {
        let subject = format!("event {index}");
        // This event's own findings start here (counted without rescanning earlier ones).
        let first_finding = findings.len();
        let fail = |findings: &mut Vec<Finding>, check: &'static str, detail: String| {
            findings.push(Finding::fail(check, subject.clone(), detail));
        };
        let (event, key, is_trusted) = match open_line(line, keys) {
            Err(detail) => {
                fail(&mut findings, "custody.signature", detail);
                // The chain is broken here; later lines cannot be trusted to follow it.
                break;
            }
            Ok(opened) => opened,
        };
        if !is_trusted {
            findings.push(Finding::fail(
                "trust.signer",
                subject.clone(),
                format!("event signed by {}, a key no --trust covers", key.id()),
            ));
        }
        let signer = Actor::of(&key);
        if event.actor != signer {
            let differs: Vec<&str> = [
                ("key_id", event.actor.key_id != signer.key_id),
                ("name", event.actor.name != signer.name),
                ("role", event.actor.role != signer.role),
                ("organisation", event.actor.organisation != signer.organisation),
                ("jurisdiction", event.actor.jurisdiction != signer.jurisdiction),
            ]
            .into_iter()
            .filter_map(|(field, differs)| differs.then_some(field))
            .collect();
            fail(
                &mut findings,
                "custody.actor",
                format!(
                    "the event's actor differs from the key file of its signer {} in: {}",
                    signer.key_id,
                    differs.join(", ")
                ),
            );
        }
        let expected_previous = index.checked_sub(1).map(|i| sha256_hex(lines[i]));
        if event.sequence != index as u64 {
            fail(
                &mut findings,
                "custody.sequence",
                format!("sequence {} at position {index}: events were removed or reordered", event.sequence),
            );
        }
        if event.previous != expected_previous {
            fail(
                &mut findings,
                "custody.chain",
                "does not name the digest of the line before it: events were removed, reordered or edited"
                    .into(),
            );
        }
        if event.manifest != manifest_digest {
            fail(&mut findings, "custody.manifest", "names another manifest than this package's".into());
        }
        match (index, event.action) {
            (0, Action::Sealed) | (1.., Action::Accepted | Action::Released) => {}
            (0, _) => fail(&mut findings, "custody.order", "the first event must be `sealed`".into()),
            (_, Action::Sealed) => {
                fail(&mut findings, "custody.order", "only the first event may be `sealed`".into())
            }
            _ => {}
        }
        check_time(&event, index, sealed_at, input.now, &mut last_time, &mut findings);
        check_items(&event, input.manifest, &mut findings);
        if let Err(reason) = check_order(event.action, &event.time, event.order.as_ref(), &orders) {
            fail(&mut findings, "custody.order_record", reason);
        }
        if let Some(order) = &event.order {
            orders.push(order.reference.clone());
        }
        if event.action == Action::Moved && event.country.is_none() && event.location.is_none() {
            fail(
                &mut findings,
                "custody.country",
                "a move that says neither where to nor in which country".into(),
            );
        }
        if event.receiver.is_some() && event.action != Action::Released {
            fail(&mut findings, "custody.transfer", "only a `released` event names a receiver".into());
        }
        if event.release.is_some() && !matches!(event.action, Action::Accepted | Action::Withdrawn) {
            fail(
                &mut findings,
                "custody.transfer",
                "only an `accepted` or `withdrawn` event names a release".into(),
            );
        }
        let pending = state.pending.as_ref().map(|p| p.sequence);
        match state.apply(&event, &sha256_hex(line)) {
            Err(violation) => fail(&mut findings, violation.check, violation.reason),
            Ok(()) if event.action == Action::Accepted => findings.push(Finding::pass(
                "custody.transfer",
                subject.clone(),
                format!(
                    "{} accepts release {}, as its named receiver",
                    event.actor.name,
                    pending.map_or_else(|| "?".to_owned(), |p| p.to_string())
                ),
            )),
            Ok(()) => {}
        }
        if event.action == Action::Cosigned
            && input.manifest_signers.is_some_and(|signers| !signers.contains(&event.actor.key_id))
        {
            fail(
                &mut findings,
                "custody.cosign",
                "records a co-signature, but no valid signature by this key is on the manifest".into(),
            );
        }
        let own_failures = findings[first_finding..].iter().filter(|f| f.verdict == Verdict::Fail).count();
        // Where the evidence is after this event, as the holder model established it.
        let place = match &state.place {
            Some(place) if place.since == event.sequence => format!("in {}", place.country),
            Some(place) => format!("in {} (as event {} stated)", place.country, place.since),
            None => "country unknown".to_owned(),
        };
        findings.push(Finding::pass(
            "custody.event",
            subject,
            format!("{} by {} at {}, {place}", event.action.name(), event.actor.name, event.time),
        ));
        events.push((event, own_failures == 0 && is_trusted));
    }
    if let Some(pending) = &state.pending {
        findings.push(Finding::warn(
            "custody.pending",
            format!("event {}", pending.sequence),
            format!(
                "released by {} to {}, not yet accepted: custody is in transit",
                pending.from.name, pending.to
            ),
        ));
    }
    let line_digests: Vec<String> = lines.iter().take(complete).map(|l| sha256_hex(l)).collect();
    LogVerification {
        findings,
        events,
        state,
        count: complete,
        head: line_digests.last().cloned(),
        line_digests,
    }
}

/// An `order_recorded` event holds an order that can be believed, with a reference of its
/// own, extending only an order recorded before it; no other event holds one.
fn check_order(
    action: Action,
    time: &str,
    order: Option<&crate::order::Order>,
    earlier: &[String],
) -> Result<(), String> {
    use crate::order::Order;
    let recorded = |reference: &str| earlier.iter().any(|e| Order::same_reference(e, reference));
    match (action, order) {
        (Action::OrderRecorded, None) => Err("records an order, but holds none".into()),
        (Action::OrderRecorded, Some(order)) => {
            order.check()?;
            // An order is recorded after it was issued, never before.
            let issued = crate::time::parse_rfc3339(&order.issued_at);
            let at = crate::time::parse_rfc3339(time);
            if issued.zip(at).is_some_and(|(issued, at)| issued > at + MAX_CLOCK_SKEW_SECONDS) {
                return Err(format!(
                    "issued at {}, after the event that records it ({time})",
                    order.issued_at
                ));
            }
            if recorded(&order.reference) {
                return Err(format!(
                    "order {} is recorded already: an order is amended or extended by a new one that names it (extends), never recorded twice",
                    order.reference
                ));
            }
            match &order.extends {
                Some(old) if !recorded(old) => {
                    Err(format!("extends order {old}, which is not recorded before it in this log"))
                }
                _ => Ok(()),
            }
        }
        (_, Some(_)) => Err("only an `order_recorded` event holds an order".into()),
        (_, None) => Ok(()),
    }
}

/// What the log verifier established.
#[derive(Debug, Default)]
pub struct LogVerification {
    /// Every finding.
    pub findings: Vec<Finding>,
    /// Every event whose signature verified, each with whether a policy may judge it
    /// (signed by a trusted key and without a failure of its own).
    pub events: Vec<(Event, bool)>,
    /// Who holds the evidence after the events that followed the rules.
    pub state: CustodyState,
    /// Complete lines in the log.
    pub count: usize,
    /// SHA-256 (hex) of the last complete line: what a receipt of the newest event names.
    pub head: Option<String>,
    /// SHA-256 (hex) of every complete line, in order (for comparing receipts).
    pub line_digests: Vec<String>,
}

/// An event just appended, with its signed line (for a receipt).
#[derive(Debug, Clone)]
pub struct Appended {
    /// The event.
    pub event: Event,
    /// Its line in the log, without the newline.
    pub line: Vec<u8>,
    /// SHA-256 (hex) of the manifest it names.
    pub manifest: String,
}

impl Appended {
    /// A receipt of this event.
    pub fn receipt(&self) -> Result<crate::receipt::Receipt, Error> {
        crate::receipt::Receipt::new(self.manifest.clone(), self.event.sequence, &self.line)
    }
}

/// Event times: RFC 3339, never earlier than the event before, never before sealing, never
/// after the time of verification beyond the allowed skew.
fn check_time(
    event: &Event,
    index: usize,
    sealed_at: Option<i64>,
    now: i64,
    last: &mut Option<(usize, i64)>,
    findings: &mut Vec<Finding>,
) {
    let subject = format!("event {index}");
    let Some(time) = crate::time::parse_rfc3339(&event.time) else {
        findings.push(Finding::fail(
            "custody.time",
            subject,
            "the time is not RFC 3339 (YYYY-MM-DDTHH:MM:SS+HH:MM)",
        ));
        return;
    };
    if let Some((previous, previous_time)) = *last {
        if time < previous_time {
            findings.push(Finding::fail(
                "custody.time",
                subject.clone(),
                format!("dated {}, earlier than event {previous}: times never go backwards", event.time),
            ));
        }
    }
    if sealed_at.is_some_and(|sealed| time < sealed) {
        findings.push(Finding::fail(
            "custody.time",
            subject.clone(),
            format!("dated {}, before the package was sealed", event.time),
        ));
    }
    if time > now.saturating_add(MAX_CLOCK_SKEW_SECONDS) {
        findings.push(Finding::fail(
            "custody.time",
            subject,
            format!("dated {}, after the time of verification", event.time),
        ));
    }
    *last = Some((index, time));
}

/// The items an event names, and a fixity event's digests, against the manifest.
fn check_items(event: &Event, manifest: Option<&crate::manifest::Manifest>, findings: &mut Vec<Finding>) {
    let Some(manifest) = manifest else { return };
    let subject = format!("event {}", event.sequence);
    let item = |path: &str| manifest.items.iter().find(|i| i.path == path);
    let unknown: Vec<&str> = event
        .items
        .iter()
        .chain(event.observed_digests.keys())
        .map(String::as_str)
        .filter(|path| item(path).is_none())
        .collect();
    if !unknown.is_empty() {
        findings.push(Finding::fail(
            "custody.items",
            subject.clone(),
            format!("names items the manifest does not have: {}", unknown.join(", ")),
        ));
    }
    if event.action == Action::FixityVerified {
        if event.observed_digests.is_empty() {
            findings.push(Finding::fail(
                "custody.fixity",
                subject.clone(),
                "a fixity check that records no digests",
            ));
        }
        for (path, digests) in &event.observed_digests {
            let Some(item) = item(path) else { continue };
            for (algorithm, observed) in digests {
                if item.digests.get(algorithm).is_none_or(|sealed| !sealed.eq_ignore_ascii_case(observed)) {
                    findings.push(Finding::fail(
                        "custody.fixity",
                        subject.clone(),
                        format!("records {algorithm} {observed} for {path}, which is not the sealed digest"),
                    ));
                }
            }
        }
    }
}

/// Verifies one line's signature, then parses its event. Returns the event, the signer's
/// key id and whether that key is trusted.
fn open_line(
    line: &[u8],
    keys: &dyn Fn(&str) -> Option<(PublicKey, bool)>,
) -> Result<(Event, PublicKey, bool), String> {
    let stored: Line = strict_json::parse(line).map_err(|e| format!("not a custody line: {e}"))?;
    // One encoding only: the line must be exactly what Custos writes for it, so the digest
    // that names it (in the next event, in a receipt) cannot change while it still verifies.
    if serde_json::to_vec(&stored).ok().as_deref() != Some(line) {
        return Err("not in the canonical form Custos writes (re-encoded, reordered or padded)".into());
    }
    if stored.payload_type != EVENT_PAYLOAD_TYPE {
        return Err(format!("signed as `{}`, not as a custody event", stored.payload_type));
    }
    let [entry] = stored.signatures.as_slice() else {
        return Err("a custody event carries exactly one signature".into());
    };
    let (public, is_trusted) = keys(&entry.key_id).ok_or_else(|| {
        format!("signed by key {}, which is neither trusted nor shipped in the package", entry.key_id)
    })?;
    let key = public.key;
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
    Ok((event, public, is_trusted))
}

/// Whether any finding failed.
pub fn failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.verdict == Verdict::Fail)
}
