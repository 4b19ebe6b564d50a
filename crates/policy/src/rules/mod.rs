//! Turning (package, custody log, policy, time) into findings: one module per rule group,
//! each reading only what verification established ([`Evidence`]).

mod custody;
mod deadlines;
mod digests;
mod legal_basis;
mod notification;
mod orders;
mod preservation;
mod production;
mod retention;
mod signatures;
mod storage;
mod time;
mod tools;
mod transfer;

pub use deadlines::{deadlines, Deadline, DeadlineKind};

use std::collections::{BTreeMap, BTreeSet};

use custos_manifest::custody::{Action, Event};
use custos_manifest::manifest::Manifest;
pub use custos_manifest::verify::TrustedTimes;
use serde::Serialize;

use crate::policy::{Policy, TimestampRequirement, TrustedKey};
use crate::time::parse_rfc3339;
use crate::vocabulary::{action_name, category_name, quoted};

/// A rule's conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyVerdict {
    /// The policy has no such rule.
    NotApplicable,
    /// Met.
    Pass,
    /// Worth a look; not a failure.
    Warn,
    /// Not met.
    Fail,
}

/// One rule's finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyFinding {
    /// The policy's id.
    pub policy: String,
    /// The rule (`digests.required_any`, `signatures.seal_threshold`, …).
    pub rule: &'static str,
    /// The conclusion.
    pub verdict: PolicyVerdict,
    /// What it looked at and why it concluded so.
    pub evidence: String,
    /// What the rule is modelled on, as the policy states it.
    pub citation: String,
    /// What the finding is about when a rule is judged once per event or signature
    /// (`event 3 (accepted by Bob)`); `evidence` then begins with it and a colon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl PolicyFinding {
    /// Why the rule concluded so, without the subject (`evidence` is `subject: reason`).
    /// Findings that share a rule, a verdict and a reason read as one, listing the subjects.
    pub fn reason(&self) -> &str {
        self.subject
            .as_deref()
            .and_then(|subject| self.evidence.strip_prefix(subject))
            .and_then(|rest| rest.strip_prefix(": "))
            .unwrap_or(&self.evidence)
    }
}

/// A finding's text: about a subject or not.
struct Said {
    subject: Option<String>,
    text: String,
}

impl From<String> for Said {
    fn from(text: String) -> Said {
        Said { subject: None, text }
    }
}

impl From<&str> for Said {
    fn from(text: &str) -> Said {
        Said { subject: None, text: text.to_owned() }
    }
}

/// `subject: reason`, with the subject kept apart for grouping.
fn about(subject: &str, reason: impl Into<String>) -> Said {
    Said { subject: Some(subject.to_owned()), text: format!("{subject}: {}", reason.into()) }
}

/// The findings of one policy, as they are made.
struct Collected<'a> {
    policy: &'a str,
    findings: Vec<PolicyFinding>,
}

impl Collected<'_> {
    fn add(&mut self, rule: &'static str, verdict: PolicyVerdict, said: impl Into<Said>, citation: &str) {
        let Said { subject, text } = said.into();
        self.findings.push(PolicyFinding {
            policy: self.policy.to_owned(),
            rule,
            verdict,
            evidence: text,
            citation: citation.to_owned(),
            subject,
        });
    }
}

/// What a policy is evaluated on: only what verification established.
///
/// Every decision rests on the policy's own entries for the signing keys (found by key id):
/// the roles, principal and jurisdiction an event's `actor` claims are text its signer wrote
/// and are never used to decide, only, escaped, to describe an event whose key the policy
/// does not know.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The signed manifest (parsed after its signature verified).
    pub manifest: &'a Manifest,
    /// Custody events whose signatures and chain verified, in order. Each event's
    /// `actor.key_id` is its signer's key id (the custody verifier checks it).
    pub events: &'a [Event],
    /// Key ids of valid signatures over the manifest.
    pub manifest_signers: &'a [String],
    /// Times established by verified RFC 3161 tokens (trusted, unlike the signers' claims).
    pub trusted_times: &'a TrustedTimes,
}

/// Evaluates every rule of `policy` at `at` (seconds since the epoch).
///
/// Never panics, whatever the policy (validated or not), the evidence and `at`; the work is
/// linear in the number of items, events and signers (up to logarithmic look-ups).
pub fn evaluate(policy: &Policy, evidence: &Evidence, at: i64) -> Vec<PolicyFinding> {
    let keys = KeyTable::new(policy);
    let mut out = Collected { policy: &policy.id, findings: Vec::new() };
    match parse_rfc3339(&policy.effective_from) {
        Some(from) if from <= at => out.add(
            "policy.in_force",
            PolicyVerdict::Pass,
            format!("in force since {}", policy.effective_from),
            "",
        ),
        _ => out.add(
            "policy.in_force",
            PolicyVerdict::Fail,
            format!("not in force at the evaluation time (effective from {})", policy.effective_from),
            "",
        ),
    }

    digests::judge(policy, evidence, at, &keys, &mut out);
    signatures::judge(policy, evidence, at, &keys, &mut out);
    custody::judge(policy, evidence, at, &keys, &mut out);
    legal_basis::judge(policy, evidence, at, &keys, &mut out);
    preservation::judge(policy, evidence, at, &keys, &mut out);
    storage::judge(policy, evidence, at, &keys, &mut out);
    retention::judge(policy, evidence, at, &keys, &mut out);
    time::judge(policy, evidence, at, &keys, &mut out);
    transfer::judge(policy, evidence, at, &keys, &mut out);
    notification::judge(policy, evidence, at, &keys, &mut out);
    production::judge(policy, evidence, at, &keys, &mut out);
    tools::judge(policy, evidence, at, &keys, &mut out);
    out.findings
}

const DAY: i64 = 86_400;

/// A policy's day count as seconds, saturating instead of overflowing on absurd values.
fn days_to_seconds(days: u64) -> i64 {
    i64::try_from(days).unwrap_or(i64::MAX).saturating_mul(DAY)
}

/// A time as a date (`2026-03-01`).
fn date(time: i64) -> String {
    custos_manifest::time::rfc3339_from_unix(time.max(0) as u64).chars().take(10).collect()
}

/// When an event happened, as far as the policy can tell: the time a verified time-stamp
/// token established, else the time its signer claims (`None`: unreadable).
fn event_time(evidence: &Evidence, event: &Event) -> Option<i64> {
    evidence.trusted_times.events.get(&event.sequence).copied().or_else(|| parse_rfc3339(&event.time))
}

/// Days from `from` to `to`, for display; no overflow whatever the times (`at` is any i64).
fn days_between(from: i64, to: i64) -> f64 {
    (i128::from(to) - i128::from(from)) as f64 / DAY as f64
}

/// When all the data was first returned or destroyed, if it was: the end of preservation.
/// Only the evidence's own disposal counts, not a recipient's of its disclosed copy (which
/// names the disclosure); one that names some items disposes of those only. A disposal
/// whose time cannot be read ends nothing.
fn first_disposal(events: &[Event]) -> Option<i64> {
    events
        .iter()
        .filter(|e| is_disposal(e) && e.items.is_empty())
        .filter_map(|e| parse_rfc3339(&e.time))
        .min()
}

/// When the item at `path` was first returned or destroyed: by a disposal of all the data
/// or one that names it.
fn disposal_of(events: &[Event], path: &str) -> Option<i64> {
    events
        .iter()
        .filter(|e| is_disposal(e) && (e.items.is_empty() || e.items.iter().any(|i| i == path)))
        .filter_map(|e| parse_rfc3339(&e.time))
        .min()
}

/// A return or destruction of the evidence itself (not of a disclosed copy).
fn is_disposal(event: &Event) -> bool {
    matches!(event.action, Action::Destroyed | Action::Returned) && event.disclosure.is_none()
}

/// The policy's trusted keys by key id, built once per evaluation so that each look-up is
/// logarithmic, not a scan per event.
#[derive(Default)]
struct KeyTable<'a> {
    by_id: BTreeMap<&'a str, &'a TrustedKey>,
}

impl<'a> KeyTable<'a> {
    fn new(policy: &'a Policy) -> KeyTable<'a> {
        let mut by_id = BTreeMap::new();
        for key in policy.trusted_keys() {
            // A loaded policy lists each key once (refused otherwise). For a policy built
            // by hand with duplicates, the first entry decides, as listed.
            by_id.entry(key.key_id.as_str()).or_insert(key);
        }
        KeyTable { by_id }
    }

    fn get(&self, key_id: &str) -> Option<&'a TrustedKey> {
        self.by_id.get(key_id).copied()
    }

    /// Whether the policy trusts no key at all.
    fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The trusted key with this id, if the policy trusted it at `time`.
    /// The trusted key with this id, if the policy trusted it when it signed: at the time a
    /// verified time-stamp token establishes (`trusted`), else at the time the signer
    /// claims. A key that was ever revoked counts only with a trusted time before the
    /// revocation: whoever holds a revoked key can claim any earlier time.
    fn trusted_at(
        &self,
        key_id: &str,
        claimed: Option<i64>,
        trusted: Option<i64>,
    ) -> Result<&'a TrustedKey, String> {
        let key = self.get(key_id).ok_or_else(|| {
            "not a key this policy trusts (directly or through a verified registry)".to_owned()
        })?;
        let time = trusted.or(claimed).ok_or("the time of signing cannot be read")?;
        let principal = quoted(&key.principal);
        if let (Some(revoked), None) = (&key.revoked_at, trusted) {
            return Err(format!(
                "{principal}'s key was revoked ({}); without a trusted time-stamp nothing shows this signature came before the revocation",
                quoted(revoked)
            ));
        }
        // A bound that cannot be read (only in a policy that was never validated) excludes
        // the key: the window it was meant to close is not known.
        let bounds = [
            (Bound::From, &key.valid_from),
            (Bound::Until, &key.valid_until),
            (Bound::Revoked, &key.revoked_at),
        ];
        for (kind, bound) in bounds {
            let Some(text) = bound else { continue };
            let shown = quoted(text);
            let Some(bound) = parse_rfc3339(text) else {
                return Err(format!("{principal}'s key has an unreadable {} ({shown})", kind.field()));
            };
            match kind {
                Bound::From if time < bound => {
                    return Err(format!("{principal}'s key was not yet valid (from {shown})"))
                }
                Bound::Until if time >= bound => {
                    return Err(format!("{principal}'s key had expired ({shown})"))
                }
                Bound::Revoked if time >= bound => {
                    return Err(format!("{principal}'s key was revoked ({shown})"))
                }
                _ => {}
            }
        }
        Ok(key)
    }

    /// `event 3 (accepted by Bob Custodian)`: the principal the policy records for the
    /// signing key; for a key it does not know, the key id and, escaped, the name the event
    /// claims.
    /// The principal the policy records for a key, or the key's short id.
    fn principal_or_key(&self, key_id: &str) -> String {
        match self.get(key_id) {
            Some(key) => quoted(&key.principal),
            None => format!("key {}", short(key_id)),
        }
    }

    fn subject(&self, event: &Event) -> String {
        let action = action_name(event.action);
        match self.get(&event.actor.key_id) {
            Some(key) => format!("event {} ({action} by {})", event.sequence, quoted(&key.principal)),
            None => format!(
                "event {} ({action} by key {}, which calls itself \"{}\")",
                event.sequence,
                short(&event.actor.key_id),
                quoted(&event.actor.name)
            ),
        }
    }
}

/// The bounds of a key's trust.
#[derive(Clone, Copy)]
enum Bound {
    From,
    Until,
    Revoked,
}

impl Bound {
    fn field(self) -> &'static str {
        match self {
            Bound::From => "valid_from",
            Bound::Until => "valid_until",
            Bound::Revoked => "revoked_at",
        }
    }
}

/// The sequence numbers of `released` events no `accepted` event by their named receiver
/// answers.
///
/// The verified chain records each line's digest as the `previous` of the event after it,
/// so no log bytes are needed: a release's digest is the next event's `previous`. One pass
/// builds the maps, one pass checks: linear in the number of events.
fn unaccepted_releases(events: &[Event]) -> Vec<u64> {
    // Digest of the line with sequence n → n, from the event after it. On a (never
    // verified) log with repeated sequence numbers, the first event decides.
    let mut line_digest: BTreeMap<u64, &str> = BTreeMap::new();
    for event in events {
        if let (Some(previous), Some(before)) = (event.previous.as_deref(), event.sequence.checked_sub(1)) {
            line_digest.entry(before).or_insert(previous);
        }
    }
    // (release digest, receiver) accepted, each by its own signer.
    let accepted: BTreeSet<(&str, &str)> = events
        .iter()
        .filter(|e| e.action == Action::Accepted)
        .filter_map(|e| e.release.as_deref().map(|release| (release, e.actor.key_id.as_str())))
        .collect();
    events
        .iter()
        .filter(|e| e.action == Action::Released)
        .filter(|release| {
            let digest = line_digest.get(&release.sequence).copied();
            let receiver = release.receiver.as_deref();
            // Accepted only by the key the release names as its receiver.
            !matches!((digest, receiver), (Some(d), Some(r)) if accepted.contains(&(d, r)))
        })
        .map(|release| release.sequence)
        .collect()
}

/// Names from the evidence or the policy for a finding's text: the first few, escaped, and
/// how many more there are, so that thousands of hostile entries cannot make every finding
/// huge or rewrite a terminal.
fn names<T: AsRef<str>>(entries: &[T]) -> String {
    names_with(entries, ", ")
}

/// [`names`] with another separator (`" or "`).
fn names_with<T: AsRef<str>>(entries: &[T], separator: &str) -> String {
    bounded(entries.iter().map(|e| quoted(e.as_ref())), entries.len(), separator)
}

/// Text this module built (already escaped where it holds outside text), bounded as
/// [`names`] is.
fn listing(entries: &[String]) -> String {
    listing_with(entries, ", ")
}

/// [`listing`] with another separator (`"; "`).
fn listing_with(entries: &[String], separator: &str) -> String {
    bounded(entries.iter().cloned(), entries.len(), separator)
}

fn bounded(entries: impl Iterator<Item = String>, count: usize, separator: &str) -> String {
    const SHOWN: usize = 8;
    let mut text: Vec<String> = entries.take(SHOWN).collect();
    if count > SHOWN {
        text.push(format!("{} more", count - SHOWN));
    }
    text.join(separator)
}

fn short(key_id: &str) -> String {
    quoted(&key_id.chars().take(16).collect::<String>())
}

/// What a rule asks, in words a court reads: the title a report gives a rule id
/// (`storage.allowed_countries` → "Evidence held only in allowed countries").
pub fn rule_title(rule: &str) -> &'static str {
    match rule {
        "integrity" => "Integrity of the evidence and its records",
        "policy.in_force" => "These rules were in force",
        "digests" | "digests.required_any" => "Fingerprints (digests) of a kind the rules accept",
        "digests.never_sole" => "No weak fingerprint (such as MD5 or SHA-1) relied on alone",
        "signatures" | "signatures.seal_threshold" => "Enough independent people signed the seal",
        "signatures.custody_signer" => "Every custody step signed by a key these rules trust",
        "signatures.roles" => "Each step taken by someone in a role allowed to take it",
        "custody" | "custody.start_with" => "The custody record starts where it must",
        "custody.require_acceptance" => "Every hand-over acknowledged by its receiver",
        "custody.max_gap_days" => "No long gaps in the custody record",
        "custody.required_fields" => "Each custody step records what the custody form asks",
        "legal_basis" | "legal_basis.required" => "A legal basis is recorded",
        "legal_basis.per_category" => "The kind of legal basis the kind of data needs",
        "legal_basis.in_force" => "An order in force covered every step that touched the data",
        "preservation" | "preservation.period" => "Kept within the preservation period",
        "preservation.orders" => "Preservation orders kept in force, extended in time or ended by production",
        "transfer" | "transfer.order" => "Every disclosure made under an order in force",
        "transfer.recipient" => "Every disclosure made to a recipient these rules trust",
        "transfer.retention" => "Disclosed data not kept past its retention date",
        "transfer.onward" => "Onward transfers only with the discloser's authorisation",
        "notification" | "notification.enforcing_state" => {
            "The enforcing state notified before data was produced"
        }
        "production" | "production.due" => "Data produced within the time the order allows",
        "tools" | "tools.approved" => "Every step recorded by a validated build of Custos",
        "storage" | "storage.allowed_countries" => "Evidence held only in allowed countries",
        "retention" | "retention.max_days" => "Not kept longer than allowed",
        "retention.min_days" => "Kept at least as long as required before disposal",
        "retention.disposal_witnesses" => "Each disposal witnessed by a second principal",
        "time" | "time.trusted_timestamps" => "Times confirmed by a trusted time-stamping authority",
        _ => "A rule of this policy",
    }
}
