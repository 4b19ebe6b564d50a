//! Verifying a custody log: each line's signature, the chain, times, items, orders and the
//! holder model, event by event.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::Signature;

use super::disclosure::misplaced_fields;
use super::occurrence::{recorded_after, Chronology};
use super::order::{check_order, check_order_named};
use super::{
    sha256_hex, Action, Actor, Event, EVENT_FORMAT, EVENT_PAYLOAD_TYPE, MAX_CLOCK_SKEW_SECONDS, MAX_EVENTS,
};
use crate::envelope::{pae, SignedLine as Line};
use crate::findings::{Finding, Verdict};
use crate::holder::CustodyState;
use crate::keys::{KeyId, PublicKey};
use crate::layout::CUSTODY_PATH;
use crate::strict_json;

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
    let mut chronology = Chronology::default();
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
        for (check, reason) in chronology.check(&event, sealed_at) {
            fail(&mut findings, check, reason);
        }
        for (check, reason) in content_problems(&event, &orders, input.manifest) {
            fail(&mut findings, check, reason);
        }
        let pending = state.pending.as_ref().map(|p| p.sequence);
        match state.apply(&event, &sha256_hex(line)) {
            Err(violation) => fail(&mut findings, violation.check, violation.reason),
            Ok(()) if event.action == Action::Accepted && event.disclosure.is_some() => {
                let accepted = state.disclosures.iter().find(|d| d.accepted == Some(event.sequence));
                findings.push(Finding::pass(
                    "custody.disclosure",
                    subject.clone(),
                    format!(
                        "{} acknowledges disclosure {}, as its named recipient",
                        event.actor.name,
                        accepted.map_or_else(|| "?".to_owned(), |d| d.sequence.to_string())
                    ),
                ))
            }
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
        // An order counts as recorded for later events only when its event failed nothing
        // but (perhaps) trust, which appends do not judge: a broken record names no order.
        if let Some(order) = &event.order {
            let broken = findings[first_finding..]
                .iter()
                .any(|f| f.verdict == Verdict::Fail && f.check != "trust.signer");
            if !broken {
                orders.push(order.reference.clone());
            }
        }
        // Where the evidence is after this event, as the holder model established it.
        let place = match &state.place {
            Some(place) if place.since == event.sequence => format!("in {}", place.country),
            Some(place) => format!("in {} (as event {} stated)", place.country, place.since),
            None => "country unknown".to_owned(),
        };
        // When it happened, when that is not when it was signed; a late record says so.
        let happened = match (&event.occurred_at, recorded_after(&event)) {
            (Some(at), late) if late >= 3600 => {
                format!(", happened {at} (recorded {:.1} days later)", late as f64 / 86_400.0)
            }
            (Some(at), _) => format!(", happened {at}"),
            (None, _) => String::new(),
        };
        findings.push(Finding::pass(
            "custody.event",
            subject,
            format!("{} by {} at {}{happened}, {place}", event.action.name(), event.actor.name, event.time),
        ));
        events.push((event, own_failures == 0 && is_trusted));
    }
    for unaccepted in state.disclosures.iter().filter(|d| d.accepted.is_none()) {
        findings.push(Finding::warn(
            "custody.pending",
            format!("event {}", unaccepted.sequence),
            format!(
                "disclosed by {} to {}, not yet acknowledged by the recipient",
                unaccepted.from.name, unaccepted.to
            ),
        ));
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
fn item_problems(event: &Event, manifest: Option<&crate::manifest::Manifest>) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let Some(manifest) = manifest else { return problems };
    let item = |path: &str| manifest.items.iter().find(|i| i.path == path);
    let unknown: Vec<&str> = event
        .items
        .iter()
        .chain(event.observed_digests.keys())
        .map(String::as_str)
        .filter(|path| item(path).is_none())
        .collect();
    if !unknown.is_empty() {
        problems.push((
            "custody.items",
            format!("names items the manifest does not have: {}", unknown.join(", ")),
        ));
    }
    if event.action == Action::FixityVerified {
        if event.observed_digests.is_empty() {
            problems.push(("custody.fixity", "a fixity check that records no digests".into()));
        }
        for (path, digests) in &event.observed_digests {
            let Some(item) = item(path) else { continue };
            for (algorithm, observed) in digests {
                if item.digests.get(algorithm).is_none_or(|sealed| !sealed.eq_ignore_ascii_case(observed)) {
                    problems.push((
                        "custody.fixity",
                        format!("records {algorithm} {observed} for {path}, which is not the sealed digest"),
                    ));
                }
            }
        }
    }
    problems
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

/// What is wrong with an event's own fields, given the references of the orders recorded
/// before it and the manifest (when it could be read): each (check, reason). The verifier fails each; an append refuses to sign an
/// event with any, so that nothing is signed that could never verify.
pub(crate) fn content_problems(
    event: &Event,
    orders: &[String],
    manifest: Option<&crate::manifest::Manifest>,
) -> Vec<(&'static str, String)> {
    let mut problems = item_problems(event, manifest);
    if let Err(reason) = check_order(event.action, &event.time, event.order.as_ref(), orders) {
        problems.push(("custody.order_record", reason));
    }
    if event.action == Action::Moved && event.country.is_none() && event.location.is_none() {
        problems.push(("custody.country", "a move that says neither where to nor in which country".into()));
    }
    if event.receiver.is_some()
        && !matches!(event.action, Action::Released | Action::Disclosed | Action::OnwardAuthorised)
    {
        problems.push((
            "custody.transfer",
            "only a `released`, `disclosed` or `onward_authorised` event names a receiver".into(),
        ));
    }
    // A receiver is a key id as Custos writes them: compared as text, another spelling of a
    // key (capitals) or no key at all would pass every "not your own key" rule.
    if let Some(receiver) = &event.receiver {
        let key_id = receiver.len() == 64 && receiver.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !key_id {
            let check =
                if event.action == Action::Released { "custody.transfer" } else { "custody.disclosure" };
            problems.push((check, "the receiver is not a key id (64 lowercase hexadecimal digits)".into()));
        }
    }
    if event.release.is_some() && !matches!(event.action, Action::Accepted | Action::Withdrawn) {
        problems.push(("custody.transfer", "only an `accepted` or `withdrawn` event names a release".into()));
    }
    let misplaced = misplaced_fields(event);
    if !misplaced.is_empty() {
        problems.push((
            "custody.fields",
            format!("`{}` events do not carry {}", event.action.name(), misplaced.join(", ")),
        ));
    }
    if let Err(reason) = check_order_named(event, orders) {
        let check =
            if event.action == Action::Notified { "custody.notification" } else { "custody.disclosure" };
        problems.push((check, reason));
    }
    let mut named = std::collections::HashSet::new();
    for attachment in &event.attachments {
        if let Err(reason) = attachment.check(crate::layout::ATTACHMENTS_DIR, "an attachment") {
            problems.push(("custody.attachment", reason));
            break;
        } else if !named.insert(attachment.path.as_str()) {
            // Once: a forged event naming one file a million times gets one finding.
            problems.push(("custody.attachment", format!("names {} more than once", attachment.path)));
            break;
        }
    }
    if event.action == Action::Notified {
        match event.to_state.as_deref() {
            None => problems.push(("custody.notification", "a notification names the state notified".into())),
            Some(state) if crate::vocabulary::country(state).as_deref() != Ok(state) => problems.push((
                "custody.notification",
                format!("`{state}` is not a country code (ISO 3166-1 alpha-2 in capitals, or XA to XZ)"),
            )),
            Some(_) => {}
        }
    }
    problems
}
