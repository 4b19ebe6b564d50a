//! Turning (package, custody log, policy, time) into findings.

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

    match &policy.digests {
        None => {
            out.add("digests.required_any", PolicyVerdict::NotApplicable, "no digest rule", "");
            out.add("digests.never_sole", PolicyVerdict::NotApplicable, "no digest rule", "");
        }
        Some(rule) => {
            for item in &evidence.manifest.items {
                let present: Vec<&str> = item.digests.keys().map(String::as_str).collect();
                if !rule.required_any.is_empty() {
                    let found: Vec<&str> = present
                        .iter()
                        .copied()
                        .filter(|a| rule.required_any.iter().any(|r| r == a))
                        .collect();
                    let (verdict, text) = if found.is_empty() {
                        (
                            PolicyVerdict::Fail,
                            format!(
                                "{} has {}; needs one of {}",
                                quoted(&item.path),
                                names(&present),
                                names(&rule.required_any)
                            ),
                        )
                    } else {
                        (PolicyVerdict::Pass, format!("{} has {}", quoted(&item.path), names(&found)))
                    };
                    out.add("digests.required_any", verdict, text, &rule.cite);
                }
                if !rule.never_sole.is_empty() {
                    let strong: Vec<&str> =
                        present.iter().copied().filter(|a| !rule.never_sole.iter().any(|w| w == a)).collect();
                    let (verdict, text) = if strong.is_empty() {
                        (
                            PolicyVerdict::Fail,
                            format!(
                                "{} has only {}, which never count alone",
                                quoted(&item.path),
                                names(&present)
                            ),
                        )
                    } else {
                        (PolicyVerdict::Pass, format!("{} also has {}", quoted(&item.path), names(&strong)))
                    };
                    out.add("digests.never_sole", verdict, text, &rule.cite);
                }
            }
        }
    }

    match &policy.signatures {
        None => out.add("signatures.seal_threshold", PolicyVerdict::NotApplicable, "no signature rule", ""),
        Some(rule) => {
            let sealed_at = parse_rfc3339(&evidence.manifest.sealed_at);
            let mut principals = BTreeSet::new();
            let mut refused = Vec::new();
            // Each signer once: a key id repeated in the list must not be counted or
            // reported twice.
            let signers: BTreeSet<&str> = evidence.manifest_signers.iter().map(String::as_str).collect();
            for signer in signers {
                match keys.trusted_at(signer, sealed_at, evidence.trusted_times.manifest.get(signer).copied())
                {
                    Ok(key) => {
                        principals.insert(key.principal.as_str());
                    }
                    Err(reason) => refused.push(format!("{}: {reason}", short(signer))),
                }
            }
            let count = principals.len() as u64;
            let mut text = format!(
                "{count} trusted principal(s) sealed ({}); {} required",
                names(&principals.iter().copied().collect::<Vec<_>>()),
                rule.seal_threshold
            );
            if !refused.is_empty() {
                text.push_str(&format!("; not counted: {}", listing(&refused)));
            }
            let verdict =
                if count >= rule.seal_threshold { PolicyVerdict::Pass } else { PolicyVerdict::Fail };
            out.add("signatures.seal_threshold", verdict, text, &rule.cite);

            for event in evidence.events {
                let subject = keys.subject(event);
                let trusted = evidence.trusted_times.events.get(&event.sequence).copied();
                match keys.trusted_at(&event.actor.key_id, parse_rfc3339(&event.time), trusted) {
                    Err(reason) => out.add(
                        "signatures.custody_signer",
                        PolicyVerdict::Fail,
                        about(&subject, reason),
                        &rule.cite,
                    ),
                    Ok(key) => {
                        let action = action_name(event.action);
                        // The roles are the policy's entry's, never the event's own claim.
                        match rule.roles_per_action.get(action) {
                            Some(allowed) if !key.roles.iter().any(|r| allowed.contains(r)) => out.add(
                                "signatures.roles",
                                PolicyVerdict::Fail,
                                about(
                                    &subject,
                                    format!(
                                        "{} acts as {}; `{action}` needs one of {}",
                                        quoted(&key.principal),
                                        if key.roles.is_empty() {
                                            "nothing".into()
                                        } else {
                                            names(&key.roles)
                                        },
                                        names(allowed)
                                    ),
                                ),
                                &rule.cite,
                            ),
                            _ => out.add(
                                "signatures.custody_signer",
                                PolicyVerdict::Pass,
                                about(&subject, format!("trusted key of {}", quoted(&key.principal))),
                                &rule.cite,
                            ),
                        }
                    }
                }
            }
        }
    }

    match &policy.custody {
        None => out.add("custody", PolicyVerdict::NotApplicable, "no custody rule", ""),
        Some(rule) => {
            if !rule.start_with.is_empty() {
                let first = evidence.events.first().map(|e| action_name(e.action));
                let verdict = if first.is_some_and(|f| rule.start_with.iter().any(|s| s == f)) {
                    PolicyVerdict::Pass
                } else {
                    PolicyVerdict::Fail
                };
                out.add(
                    "custody.start_with",
                    verdict,
                    format!(
                        "the log starts with {}; allowed: {}",
                        first.unwrap_or("nothing"),
                        names(&rule.start_with)
                    ),
                    &rule.cite,
                );
            }
            if rule.require_acceptance {
                let pending = unaccepted_releases(evidence.events);
                let releases = evidence.events.iter().filter(|e| e.action == Action::Released).count();
                let (verdict, text) = if pending.is_empty() {
                    (PolicyVerdict::Pass, format!("all {releases} release(s) accepted by their receivers"))
                } else {
                    let pending: Vec<String> = pending.iter().map(|s| format!("event {s}")).collect();
                    (PolicyVerdict::Fail, format!("released but not accepted: {}", listing(&pending)))
                };
                out.add("custody.require_acceptance", verdict, text, &rule.cite);
            }
            if let Some(days) = rule.max_gap_days {
                let limit = days_to_seconds(days);
                // An event whose time cannot be read could hide a gap: it fails the rule
                // rather than being skipped.
                let unreadable: Vec<String> = evidence
                    .events
                    .iter()
                    .filter(|e| parse_rfc3339(&e.time).is_none())
                    .map(|e| format!("event {}", e.sequence))
                    .collect();
                let times: Vec<(u64, i64)> = evidence
                    .events
                    .iter()
                    .filter_map(|e| parse_rfc3339(&e.time).map(|t| (e.sequence, t)))
                    .collect();
                let worst = times
                    .windows(2)
                    .filter_map(|w| match w {
                        [(_, before), (sequence, after)] => Some((*sequence, after.saturating_sub(*before))),
                        _ => None,
                    })
                    .max_by_key(|(_, gap)| *gap);
                let (verdict, text) = match worst {
                    _ if !unreadable.is_empty() => (
                        PolicyVerdict::Fail,
                        format!(
                            "the time of {} cannot be read: gaps cannot be measured",
                            listing(&unreadable)
                        ),
                    ),
                    None => (PolicyVerdict::Pass, "fewer than two events: no gap".to_owned()),
                    Some((sequence, gap)) if gap > limit => (
                        PolicyVerdict::Fail,
                        format!(
                            "{:.1} days without an event before event {sequence}; at most {days} allowed",
                            gap as f64 / DAY as f64
                        ),
                    ),
                    Some((_, gap)) => (
                        PolicyVerdict::Pass,
                        format!("longest gap {:.1} days; at most {days} allowed", gap as f64 / DAY as f64),
                    ),
                };
                out.add("custody.max_gap_days", verdict, text, &rule.cite);
            }
        }
    }

    match &policy.legal_basis {
        None => out.add("legal_basis", PolicyVerdict::NotApplicable, "no legal-basis rule", ""),
        Some(rule) => {
            let kinds: BTreeSet<&str> =
                evidence.manifest.legal_basis.iter().map(|b| b.kind.as_str()).collect();
            // Shown once per item: made once, and bounded, so that many items and many
            // bases do not multiply into a quadratic report.
            let recorded = if kinds.is_empty() {
                "none".to_owned()
            } else {
                names(&kinds.iter().copied().collect::<Vec<_>>())
            };
            if rule.required {
                let (verdict, text) = if kinds.is_empty() {
                    (PolicyVerdict::Fail, "no legal basis recorded".to_owned())
                } else {
                    (PolicyVerdict::Pass, format!("recorded: {recorded}"))
                };
                out.add("legal_basis.required", verdict, text, &rule.cite);
            }
            for item in &evidence.manifest.items {
                let Some(category) = item.category else {
                    if !rule.per_category.is_empty() {
                        out.add(
                            "legal_basis.per_category",
                            PolicyVerdict::Warn,
                            format!(
                                "{} has no data category: the per-category rule cannot be applied",
                                quoted(&item.path)
                            ),
                            &rule.cite,
                        );
                    }
                    continue;
                };
                let name = category_name(category);
                let Some(allowed) = rule.per_category.get(name) else { continue };
                let (verdict, text) = if allowed.iter().any(|a| kinds.contains(a.as_str())) {
                    (
                        PolicyVerdict::Pass,
                        format!(
                            "{} is {name} data; recorded authority {recorded} suffices",
                            quoted(&item.path)
                        ),
                    )
                } else {
                    (
                        PolicyVerdict::Fail,
                        format!(
                            "{} is {name} data, which needs {}; recorded: {recorded}",
                            quoted(&item.path),
                            names_with(allowed, " or ")
                        ),
                    )
                };
                out.add("legal_basis.per_category", verdict, text, &rule.cite);
            }
        }
    }

    let sealed_at = parse_rfc3339(&evidence.manifest.sealed_at);
    match (&policy.preservation, sealed_at) {
        (None, _) => out.add("preservation", PolicyVerdict::NotApplicable, "no preservation rule", ""),
        (Some(rule), None) => {
            out.add("preservation.period", PolicyVerdict::Fail, "the sealing time cannot be read", &rule.cite)
        }
        (Some(rule), Some(start)) => {
            let period = days_to_seconds(rule.max_days);
            let mut expires = start.saturating_add(period);
            let mut problems = Vec::new();
            // Renewals form a chain: each must come before the period it extends runs out.
            // A renewal whose time cannot be read extends nothing.
            for renewal in evidence.events.iter().filter(|e| e.action == Action::PreservationRenewed) {
                let Some(time) = parse_rfc3339(&renewal.time) else { continue };
                if !rule.renewable {
                    problems.push(format!(
                        "event {} renews a preservation this policy does not allow to be renewed",
                        renewal.sequence
                    ));
                } else if time > expires {
                    problems.push(format!(
                        "event {} renews after the preservation had already expired",
                        renewal.sequence
                    ));
                } else {
                    expires = time.saturating_add(period);
                }
            }
            // Preservation ends with the data's return or destruction, else it runs on.
            let end = first_disposal(evidence.events).unwrap_or(at);
            let renewable = if rule.renewable { ", renewable" } else { "" };
            let (verdict, text) = if !problems.is_empty() {
                (PolicyVerdict::Fail, listing_with(&problems, "; "))
            } else if end > expires {
                (
                    PolicyVerdict::Fail,
                    format!(
                        "held {:.1} days past the end of preservation (periods of {} days{renewable})",
                        days_between(expires, end),
                        rule.max_days
                    ),
                )
            } else {
                (
                    PolicyVerdict::Pass,
                    format!(
                        "within preservation; {:.1} days left (periods of {} days{renewable})",
                        days_between(end, expires),
                        rule.max_days
                    ),
                )
            };
            out.add("preservation.period", verdict, text, &rule.cite);
        }
    }

    match &policy.storage {
        None => out.add("storage", PolicyVerdict::NotApplicable, "no storage rule", ""),
        Some(rule) => {
            // Where the evidence was at each event: the country the last event that stated one
            // signed (only the holder may state it; the verifier fails any other). Before any
            // event states one, version 1 falls back to the jurisdiction the policy records
            // for the key that signed the event; never the event's `actor.jurisdiction`,
            // copied from the key file shipped in the package, which its holder can rewrite.
            let mut place: Option<(&str, u64)> = None;
            for event in evidence.events {
                let subject = keys.subject(event);
                if let Some(country) = event.country.as_deref() {
                    place = Some((country, event.sequence));
                }
                if let Some((country, stated)) = place {
                    let said = if stated == event.sequence {
                        format!("held in {}, as the event states", quoted(country))
                    } else {
                        format!("held in {}, as event {stated} stated", quoted(country))
                    };
                    let (verdict, text) = if rule.allowed_countries.iter().any(|c| c == country) {
                        (PolicyVerdict::Pass, about(&subject, said))
                    } else {
                        (
                            PolicyVerdict::Fail,
                            about(&subject, format!("{said}; allowed: {}", names(&rule.allowed_countries))),
                        )
                    };
                    out.add("storage.allowed_countries", verdict, text, &rule.cite);
                    continue;
                }
                let (verdict, text) = match keys.get(&event.actor.key_id) {
                    None => (
                        PolicyVerdict::Fail,
                        about(&subject, "signed by a key this policy does not trust, so where custody was held is not established"),
                    ),
                    Some(TrustedKey { jurisdiction: None, .. }) => (
                        PolicyVerdict::Fail,
                        about(&subject, "the policy records no jurisdiction for this key"),
                    ),
                    Some(TrustedKey { jurisdiction: Some(country), .. })
                        if rule.allowed_countries.iter().any(|c| c == country) =>
                    {
                        (PolicyVerdict::Pass, about(&subject, format!("held in {}", quoted(country))))
                    }
                    Some(TrustedKey { jurisdiction: Some(country), .. }) => (
                        PolicyVerdict::Fail,
                        about(
                            &subject,
                            format!("held in {}; allowed: {}", quoted(country), names(&rule.allowed_countries)),
                        ),
                    ),
                };
                out.add("storage.allowed_countries", verdict, text, &rule.cite);
            }
        }
    }

    match (&policy.retention, sealed_at) {
        (None, _) => out.add("retention", PolicyVerdict::NotApplicable, "no retention rule", ""),
        (Some(rule), None) => {
            out.add("retention.max_days", PolicyVerdict::Fail, "the sealing time cannot be read", &rule.cite)
        }
        (Some(rule), Some(start)) => {
            let disposed = first_disposal(evidence.events);
            for item in &evidence.manifest.items {
                let Some(limit) = item.category.and_then(|c| rule.max_days.get(category_name(c))) else {
                    continue;
                };
                let path = quoted(&item.path);
                let deadline = start.saturating_add(days_to_seconds(*limit));
                let (verdict, text) = match disposed {
                    Some(time) if time <= deadline => {
                        (PolicyVerdict::Pass, format!("{path} disposed of within {limit} days"))
                    }
                    Some(_) => {
                        (PolicyVerdict::Fail, format!("{path} disposed of after the {limit}-day limit"))
                    }
                    None if at <= deadline => (
                        PolicyVerdict::Pass,
                        format!("{path} held {:.1} of {limit} days", days_between(start, at)),
                    ),
                    None if rule.disposal_required => (
                        PolicyVerdict::Fail,
                        format!("{path} held past its {limit}-day limit and no disposal is recorded"),
                    ),
                    None => (PolicyVerdict::Warn, format!("{path} held past its {limit}-day limit")),
                };
                out.add("retention.max_days", verdict, text, &rule.cite);
            }
        }
    }
    match &policy.time {
        None => out.add("time", PolicyVerdict::NotApplicable, "no trusted-time rule", ""),
        Some(rule) => {
            // Every manifest signature (claimed: when its `sealed`/`cosigned` event says) and
            // every judged event (claimed: its own time), against the trusted time.
            let claimed_signing = |key_id: &str| {
                evidence
                    .events
                    .iter()
                    .find(|e| {
                        e.actor.key_id == key_id && matches!(e.action, Action::Sealed | Action::Cosigned)
                    })
                    .and_then(|e| parse_rfc3339(&e.time))
                    .or_else(|| parse_rfc3339(&evidence.manifest.sealed_at))
            };
            let signers: BTreeSet<&str> = evidence.manifest_signers.iter().map(String::as_str).collect();
            let mut checks: Vec<(String, Option<i64>, Option<i64>)> = signers
                .iter()
                .map(|id| {
                    (
                        format!("the manifest signature by {}", keys.principal_or_key(id)),
                        claimed_signing(id),
                        evidence.trusted_times.manifest.get(*id).copied(),
                    )
                })
                .collect();
            checks.extend(evidence.events.iter().map(|e| {
                (
                    keys.subject(e),
                    parse_rfc3339(&e.time),
                    evidence.trusted_times.events.get(&e.sequence).copied(),
                )
            }));
            for (subject, claimed, trusted) in checks {
                let (verdict, text) = match (trusted, claimed) {
                    (None, _) if rule.trusted_timestamps == TimestampRequirement::Required => {
                        (PolicyVerdict::Fail, about(&subject, "no verified time-stamp token"))
                    }
                    (None, _) => (PolicyVerdict::NotApplicable, about(&subject, "no time-stamp token")),
                    (Some(trusted), Some(claimed))
                        if rule.max_skew_seconds.is_some_and(|max| trusted.abs_diff(claimed) > max) =>
                    {
                        (
                            PolicyVerdict::Fail,
                            about(
                                &subject,
                                format!(
                                    "claims {}, the trusted time is {} ({} s apart; at most {} allowed)",
                                    custos_manifest::time::rfc3339_from_unix(claimed.max(0) as u64),
                                    custos_manifest::time::rfc3339_from_unix(trusted.max(0) as u64),
                                    trusted.abs_diff(claimed),
                                    rule.max_skew_seconds.unwrap_or_default()
                                ),
                            ),
                        )
                    }
                    (Some(trusted), _) => (
                        PolicyVerdict::Pass,
                        about(
                            &subject,
                            format!(
                                "time-stamped at {}",
                                custos_manifest::time::rfc3339_from_unix(trusted.max(0) as u64)
                            ),
                        ),
                    ),
                };
                out.add("time.trusted_timestamps", verdict, text, &rule.cite);
            }
        }
    }
    out.findings
}

const DAY: i64 = 86_400;

/// A policy's day count as seconds, saturating instead of overflowing on absurd values.
fn days_to_seconds(days: u64) -> i64 {
    i64::try_from(days).unwrap_or(i64::MAX).saturating_mul(DAY)
}

/// Days from `from` to `to`, for display; no overflow whatever the times (`at` is any i64).
fn days_between(from: i64, to: i64) -> f64 {
    (i128::from(to) - i128::from(from)) as f64 / DAY as f64
}

/// When the data was first returned or destroyed, if it was: the end of both preservation
/// and retention. A disposal whose time cannot be read ends nothing.
fn first_disposal(events: &[Event]) -> Option<i64> {
    events
        .iter()
        .filter(|e| matches!(e.action, Action::Destroyed | Action::Returned))
        .filter_map(|e| parse_rfc3339(&e.time))
        .min()
}

/// The policy's trusted keys by key id, built once per evaluation so that each look-up is
/// logarithmic, not a scan per event.
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
        "legal_basis" | "legal_basis.required" => "A legal basis is recorded",
        "legal_basis.per_category" => "The kind of legal basis the kind of data needs",
        "preservation" | "preservation.period" => "Kept within the preservation period",
        "storage" | "storage.allowed_countries" => "Evidence held only in allowed countries",
        "retention" | "retention.max_days" => "Not kept longer than allowed",
        "time" | "time.trusted_timestamps" => "Times confirmed by a trusted time-stamping authority",
        _ => "A rule of this policy",
    }
}
