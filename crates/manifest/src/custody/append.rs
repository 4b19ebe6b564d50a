//! Appending an event to a package's log: every check first, then one write under a lock,
//! undone if anything after it fails.

use std::io::Write;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;

use super::disclosure::awaiting;
use super::log::{content_problems, verify_log, LogInput};
use super::occurrence::Chronology;
use super::{sha256_hex, signature_of, signed_line, Action, Actor, Event, NewEvent, EVENT_FORMAT};
use crate::envelope::SignatureEntry;
use crate::findings::Verdict;
use crate::holder::CustodyState;
use crate::keys::PublicKey;
use crate::layout::{CUSTODY_PATH, MANIFEST_PATH};
use crate::store::{PackageDir, PackageStore, StoreError, MAX_TAG_FILE_BYTES};
use crate::Error;

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
    let mut earlier_events: Vec<Event> = Vec::new();
    if !existing.is_empty() {
        let shipped = crate::layout::shipped_keys_in(store)?;
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
        earlier_events = verified.events.iter().map(|(event, _)| event.clone()).collect();
        remove_orphans(store, &earlier_events)?;
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
    if new.action == Action::Accepted
        && new.release.is_none()
        && new.disclosure.is_none()
        && !awaits_disclosure(&state, &me)
    {
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
    let disclosure = disclosure_line(&state, &new, &me)?;
    if let Some((destroyed, Action::Destroyed)) = state.ended {
        if !matches!(new.action, Action::Accessed | Action::Witnessed) && disclosure.is_none() {
            return Err(Error::Package(format!(
                "refused, nothing was signed: the evidence was destroyed at event {destroyed}; only accessed and witnessed may follow"
            )));
        }
    }
    let (hold, witnessed) = hold_lines(&state, &new, &me)?;
    if let Some(country) = &new.country {
        if crate::vocabulary::country(country).as_deref() != Ok(country.as_str()) {
            return Err(Error::Package(format!(
                "`{country}` is not a country code as events write it (ISO 3166-1 alpha-2 in capitals, or XA to XZ)"
            )));
        }
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
        country: new.country,
        purpose: new.purpose,
        legal_basis: new.legal_basis,
        items: new.items,
        observed_digests: new.observed_digests,
        receiver: new.receiver,
        release: new.release,
        note: new.note,
        order: new.order,
        conditions: new.conditions,
        retain_until: new.retain_until,
        onward: new.onward,
        authorisation: new.authorisation,
        disclosure,
        to_state: new.to_state,
        occurred_at: new.occurred_at,
        seal_number: new.seal_number,
        condition: new.condition,
        storage: new.storage,
        exhibit: new.exhibit,
        attachments: new.attachments,
        hold,
        witnessed,
        tool: Some(super::build::current()),
    };
    // An event made now that names an order names one recorded (older logs may hold any
    // text there, so only new events are held to this); the `sealed` event names the
    // manifest's own legal basis, recorded before any order can be.
    if let (Some(reference), false) = (&event.legal_basis, event.action == Action::Sealed) {
        if !earlier_orders.iter().any(|e| crate::order::Order::same_reference(e, reference)) {
            return Err(Error::Package(format!(
                "refused, nothing was signed: order {reference} is not recorded in this package (custos order add)"
            )));
        }
    }
    // Chronology of when things happened, as the verifier reads it.
    let sealed_at = parsed_manifest.as_ref().and_then(|m| crate::time::parse_rfc3339(&m.sealed_at));
    let mut chronology = Chronology::default();
    for earlier in &earlier_events {
        chronology.check(earlier, sealed_at);
    }
    if let Some((_, reason)) = chronology.check(&event, sealed_at).into_iter().next() {
        return Err(Error::Package(format!("refused, nothing was signed: {reason}")));
    }
    if let Some((_, reason)) =
        content_problems(&event, &earlier_orders, parsed_manifest.as_ref()).into_iter().next()
    {
        return Err(Error::Package(format!("refused, nothing was signed: {reason}")));
    }
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
        replacements.push((crate::layout::event_token_path(event.sequence), entry.time_stamp(url)?));
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
        let path = crate::layout::shipped_key_path(key_file);
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

/// Whether `me` has no release pending to it but a disclosure awaiting its acceptance: its
/// `accepted` then concerns the disclosure.
fn awaits_disclosure(state: &CustodyState, me: &str) -> bool {
    state.pending.as_ref().is_none_or(|pending| pending.to != me)
        && !awaiting(state, me, Action::Accepted, None).is_empty()
}

/// The digest of the `disclosed` line a new event concerns: the one its number names, or
/// the one only it can mean (see [`NewEvent::disclosure`]); `None` for events that concern
/// none. Refused when the number names no disclosure, or when several could be meant.
fn disclosure_line(state: &CustodyState, new: &NewEvent, me: &str) -> Result<Option<String>, Error> {
    let refused = |reason: String| Error::Package(format!("refused, nothing was signed: {reason}"));
    if let Some(number) = new.disclosure {
        return state
            .disclosures
            .iter()
            .find(|d| d.sequence == number)
            .map(|d| Some(d.line.clone()))
            .ok_or_else(|| refused(format!("event {number} is not a disclosure in this log")));
    }
    let holds = state.holder.as_ref().is_some_and(|holder| holder.key_id == me);
    let candidates = match new.action {
        Action::Accepted if new.release.is_none() && awaits_disclosure(state, me) => {
            awaiting(state, me, Action::Accepted, None)
        }
        Action::Returned | Action::Destroyed if !holds => awaiting(state, me, new.action, None),
        Action::Disclosed if new.authorisation.is_some() => {
            awaiting(state, me, Action::Disclosed, new.authorisation.as_deref())
        }
        _ => return Ok(None),
    };
    match candidates.as_slice() {
        [] => Ok(None),
        [only] => Ok(Some(only.line.clone())),
        several => Err(refused(format!(
            "this could concern disclosure {}: say which",
            several.iter().map(|d| d.sequence.to_string()).collect::<Vec<_>>().join(" or ")
        ))),
    }
}

/// The line digests a `hold_lifted` or `witnessed` event names: the event its number names,
/// or the one only it can mean (the one hold this signer placed; the last return or
/// destruction).
fn hold_lines(
    state: &CustodyState,
    new: &NewEvent,
    me: &str,
) -> Result<(Option<String>, Option<String>), Error> {
    let refused = |reason: String| Error::Package(format!("refused, nothing was signed: {reason}"));
    match new.action {
        Action::HoldLifted => {
            let mine: Vec<_> =
                state.holds.iter().filter(|h| new.hold.is_none_or(|n| h.sequence == n)).collect();
            let own: Vec<_> = mine.iter().filter(|h| h.by.key_id == me).collect();
            match (new.hold, own.as_slice(), mine.as_slice()) {
                (_, [only], _) => Ok((Some(only.line.clone()), None)),
                (_, [], [other]) => Err(refused(format!(
                    "only {}, who placed the hold at event {}, may lift it",
                    other.by.name, other.sequence
                ))),
                (Some(n), [], _) => Err(refused(format!("event {n} is not a hold in place"))),
                (None, [], _) => Err(refused("this key placed no hold that is in place".into())),
                (None, _, _) => Err(refused("this key placed several holds: say which (--hold SEQ)".into())),
                (Some(_), _, _) => Err(refused("several holds match".into())),
            }
        }
        Action::Witnessed => {
            let disposal = match new.witnessed {
                Some(n) => state.disposals.iter().find(|d| d.sequence == n),
                None => state.disposals.last(),
            };
            disposal
                .map(|d| (None, Some(d.line.clone())))
                .ok_or_else(|| refused("no return or destruction of the evidence to witness".into()))
        }
        _ => Ok((None, None)),
    }
}

/// Removes the files in the kept folders (attachments, orders' documents) that no event of
/// the log names: left by a custody command killed between writing them and appending its
/// event, or planted; either way they are no part of the signed record, and the tag
/// manifests refreshed after this append would otherwise list them for good.
fn remove_orphans(store: &PackageDir, events: &[Event]) -> Result<(), Error> {
    let entries = store.list().map_err(|e| Error::Package(e.to_string()))?;
    let named = |path: &str| {
        events.iter().any(|e| {
            e.attachments.iter().any(|a| a.path == path)
                || e.order.as_ref().and_then(|o| o.document.as_ref()).is_some_and(|d| d.path == path)
        })
    };
    for path in entries.iter().filter_map(|e| e.utf8_path()) {
        let kept = [crate::layout::ATTACHMENTS_DIR, crate::layout::ORDERS_DIR].iter().any(|folder| {
            path.strip_prefix(*folder)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|name| !name.contains('/'))
        });
        if kept && !named(path) {
            store
                .remove(path)
                .map_err(|e| Error::Package(format!("cannot remove {path}, which no event names: {e}")))?;
        }
    }
    Ok(())
}
