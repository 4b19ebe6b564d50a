//! Turning (package, custody log, policy, time) into findings.

use std::collections::BTreeSet;

use custos_manifest::custody::{Action, Event};
use custos_manifest::manifest::{Category, Manifest};
use serde::Serialize;

use crate::policy::{Policy, SignatureRule, TrustedKey};
use crate::time::parse_rfc3339;

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
}

/// What a policy is evaluated on: only what verification established.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The signed manifest (parsed after its signature verified).
    pub manifest: &'a Manifest,
    /// Custody events whose signatures and chain verified, in order.
    pub events: &'a [Event],
    /// Key ids of valid signatures over the manifest.
    pub manifest_signers: &'a [String],
}

/// Evaluates every rule of `policy` at `at` (seconds since the epoch).
pub fn evaluate(policy: &Policy, evidence: &Evidence, at: i64) -> Vec<PolicyFinding> {
    let mut findings = Vec::new();
    let mut add = |rule: &'static str, verdict: PolicyVerdict, evidence: String, citation: &str| {
        findings.push(PolicyFinding {
            policy: policy.id.clone(),
            rule,
            verdict,
            evidence,
            citation: citation.to_owned(),
        });
    };
    match parse_rfc3339(&policy.effective_from) {
        Some(from) if from <= at => add(
            "policy.in_force",
            PolicyVerdict::Pass,
            format!("in force since {}", policy.effective_from),
            "",
        ),
        _ => add(
            "policy.in_force",
            PolicyVerdict::Fail,
            format!("not in force at the evaluation time (effective from {})", policy.effective_from),
            "",
        ),
    }

    match &policy.digests {
        None => {
            add("digests.required_any", PolicyVerdict::NotApplicable, "no digest rule".into(), "");
            add("digests.never_sole", PolicyVerdict::NotApplicable, "no digest rule".into(), "");
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
                                item.path,
                                present.join(", "),
                                rule.required_any.join(", ")
                            ),
                        )
                    } else {
                        (PolicyVerdict::Pass, format!("{} has {}", item.path, found.join(", ")))
                    };
                    add("digests.required_any", verdict, text, &rule.cite);
                }
                if !rule.never_sole.is_empty() {
                    let strong: Vec<&str> =
                        present.iter().copied().filter(|a| !rule.never_sole.iter().any(|w| w == a)).collect();
                    let (verdict, text) = if strong.is_empty() {
                        (
                            PolicyVerdict::Fail,
                            format!("{} has only {}, which never count alone", item.path, present.join(", ")),
                        )
                    } else {
                        (PolicyVerdict::Pass, format!("{} also has {}", item.path, strong.join(", ")))
                    };
                    add("digests.never_sole", verdict, text, &rule.cite);
                }
            }
        }
    }

    match &policy.signatures {
        None => {
            add("signatures.seal_threshold", PolicyVerdict::NotApplicable, "no signature rule".into(), "")
        }
        Some(rule) => {
            let sealed_at = parse_rfc3339(&evidence.manifest.sealed_at);
            let mut principals = BTreeSet::new();
            let mut refused = Vec::new();
            for signer in evidence.manifest_signers {
                match trusted_at(rule, signer, sealed_at) {
                    Ok(key) => {
                        principals.insert(key.principal.clone());
                    }
                    Err(reason) => refused.push(format!("{}: {reason}", short(signer))),
                }
            }
            let count = principals.len() as u64;
            let mut text = format!(
                "{count} trusted principal(s) sealed ({}); {} required",
                principals.iter().cloned().collect::<Vec<_>>().join(", "),
                rule.seal_threshold
            );
            if !refused.is_empty() {
                text.push_str(&format!("; not counted: {}", refused.join("; ")));
            }
            let verdict =
                if count >= rule.seal_threshold { PolicyVerdict::Pass } else { PolicyVerdict::Fail };
            add("signatures.seal_threshold", verdict, text, &rule.cite);

            for event in evidence.events {
                let time = parse_rfc3339(&event.time);
                let subject =
                    format!("event {} ({:?} by {})", event.sequence, event.action, event.actor.name);
                match trusted_at(rule, &event.actor.key_id, time) {
                    Err(reason) => add(
                        "signatures.custody_signer",
                        PolicyVerdict::Fail,
                        format!("{subject}: {reason}"),
                        &rule.cite,
                    ),
                    Ok(key) => {
                        let action = action_name(event.action);
                        match rule.roles_per_action.get(&action) {
                            Some(allowed) if !key.roles.iter().any(|r| allowed.contains(r)) => add(
                                "signatures.roles",
                                PolicyVerdict::Fail,
                                format!(
                                    "{subject}: {} acts as {}; `{action}` needs one of {}",
                                    key.principal,
                                    key.roles.join(", "),
                                    allowed.join(", ")
                                ),
                                &rule.cite,
                            ),
                            _ => add(
                                "signatures.custody_signer",
                                PolicyVerdict::Pass,
                                format!("{subject}: trusted key of {}", key.principal),
                                &rule.cite,
                            ),
                        }
                    }
                }
            }
        }
    }

    match &policy.custody {
        None => add("custody", PolicyVerdict::NotApplicable, "no custody rule".into(), ""),
        Some(rule) => {
            if !rule.start_with.is_empty() {
                let first = evidence.events.first().map(|e| action_name(e.action));
                let verdict = if first.as_ref().is_some_and(|f| rule.start_with.contains(f)) {
                    PolicyVerdict::Pass
                } else {
                    PolicyVerdict::Fail
                };
                add(
                    "custody.start_with",
                    verdict,
                    format!(
                        "the log starts with {}; allowed: {}",
                        first.unwrap_or_else(|| "nothing".into()),
                        rule.start_with.join(", ")
                    ),
                    &rule.cite,
                );
            }
            if rule.require_acceptance {
                let accepted: BTreeSet<&str> =
                    evidence.events.iter().filter_map(|e| e.release.as_deref()).collect();
                let releases: Vec<&Event> =
                    evidence.events.iter().filter(|e| e.action == Action::Released).collect();
                let pending: Vec<String> = releases
                    .iter()
                    .filter(|release| {
                        !accepted
                            .iter()
                            .any(|digest| release_digest_matches(evidence.events, release, digest))
                    })
                    .map(|release| format!("event {}", release.sequence))
                    .collect();
                let (verdict, text) = if pending.is_empty() {
                    (
                        PolicyVerdict::Pass,
                        format!("all {} release(s) accepted by their receivers", releases.len()),
                    )
                } else {
                    (PolicyVerdict::Fail, format!("released but not accepted: {}", pending.join(", ")))
                };
                add("custody.require_acceptance", verdict, text, &rule.cite);
            }
            if let Some(days) = rule.max_gap_days {
                let times: Vec<(u64, i64)> = evidence
                    .events
                    .iter()
                    .filter_map(|e| parse_rfc3339(&e.time).map(|t| (e.sequence, t)))
                    .collect();
                let worst = times.windows(2).map(|w| (w[1].0, w[1].1 - w[0].1)).max_by_key(|(_, gap)| *gap);
                let limit = days_to_seconds(days);
                let (verdict, text) = match worst {
                    None => (PolicyVerdict::Pass, "fewer than two events: no gap".to_owned()),
                    Some((sequence, gap)) if gap > limit => (
                        PolicyVerdict::Fail,
                        format!(
                            "{:.1} days without an event before event {sequence}; at most {days} allowed",
                            gap as f64 / 86_400.0
                        ),
                    ),
                    Some((_, gap)) => (
                        PolicyVerdict::Pass,
                        format!("longest gap {:.1} days; at most {days} allowed", gap as f64 / 86_400.0),
                    ),
                };
                add("custody.max_gap_days", verdict, text, &rule.cite);
            }
        }
    }

    match &policy.legal_basis {
        None => add("legal_basis", PolicyVerdict::NotApplicable, "no legal-basis rule".into(), ""),
        Some(rule) => {
            let kinds: Vec<&str> = evidence.manifest.legal_basis.iter().map(|b| b.kind.as_str()).collect();
            if rule.required {
                let verdict = if kinds.is_empty() { PolicyVerdict::Fail } else { PolicyVerdict::Pass };
                let text = if kinds.is_empty() {
                    "no legal basis recorded".to_owned()
                } else {
                    format!("recorded: {}", kinds.join(", "))
                };
                add("legal_basis.required", verdict, text, &rule.cite);
            }
            for item in &evidence.manifest.items {
                let Some(category) = item.category else {
                    if !rule.per_category.is_empty() {
                        add(
                            "legal_basis.per_category",
                            PolicyVerdict::Warn,
                            format!(
                                "{} has no data category: the per-category rule cannot be applied",
                                item.path
                            ),
                            &rule.cite,
                        );
                    }
                    continue;
                };
                let name = category_name(category);
                let Some(allowed) = rule.per_category.get(name) else { continue };
                let (verdict, text) = if kinds.iter().any(|k| allowed.iter().any(|a| a == k)) {
                    (
                        PolicyVerdict::Pass,
                        format!(
                            "{} is {name} data; recorded authority {} suffices",
                            item.path,
                            kinds.join(", ")
                        ),
                    )
                } else {
                    (
                        PolicyVerdict::Fail,
                        format!(
                            "{} is {name} data, which needs {}; recorded: {}",
                            item.path,
                            allowed.join(" or "),
                            if kinds.is_empty() { "none".to_owned() } else { kinds.join(", ") }
                        ),
                    )
                };
                add("legal_basis.per_category", verdict, text, &rule.cite);
            }
        }
    }

    const DAY: i64 = 86_400;
    let sealed_at = parse_rfc3339(&evidence.manifest.sealed_at);
    match (&policy.preservation, sealed_at) {
        (None, _) => add("preservation", PolicyVerdict::NotApplicable, "no preservation rule".into(), ""),
        (Some(rule), None) => add(
            "preservation.period",
            PolicyVerdict::Fail,
            "the sealing time cannot be read".into(),
            &rule.cite,
        ),
        (Some(rule), Some(start)) => {
            let period = days_to_seconds(rule.max_days);
            let mut expires = start.saturating_add(period);
            let mut problems = Vec::new();
            // Renewals form a chain: each must come before the period it extends runs out.
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
                (PolicyVerdict::Fail, problems.join("; "))
            } else if end > expires {
                let over = (end - expires) as f64 / DAY as f64;
                (
                    PolicyVerdict::Fail,
                    format!(
                        "held {over:.1} days past the end of preservation (periods of {} days{renewable})",
                        rule.max_days
                    ),
                )
            } else {
                (
                    PolicyVerdict::Pass,
                    format!(
                        "within preservation; {:.1} days left (periods of {} days{renewable})",
                        (expires - end) as f64 / DAY as f64,
                        rule.max_days
                    ),
                )
            };
            add("preservation.period", verdict, text, &rule.cite);
        }
    }

    match &policy.storage {
        None => add("storage", PolicyVerdict::NotApplicable, "no storage rule".into(), ""),
        Some(rule) => {
            // Where custody was held: the jurisdiction of each custodian, from their key file.
            for event in evidence.events {
                let subject =
                    format!("event {} ({:?} by {})", event.sequence, event.action, event.actor.name);
                let (verdict, text) = match &event.actor.jurisdiction {
                    Some(country) if rule.allowed_countries.contains(country) => {
                        (PolicyVerdict::Pass, format!("{subject}: held in {country}"))
                    }
                    Some(country) => (
                        PolicyVerdict::Fail,
                        format!(
                            "{subject}: held in {country}; allowed: {}",
                            rule.allowed_countries.join(", ")
                        ),
                    ),
                    None => (
                        PolicyVerdict::Fail,
                        format!("{subject}: the custodian's jurisdiction is not recorded"),
                    ),
                };
                add("storage.allowed_countries", verdict, text, &rule.cite);
            }
        }
    }

    match (&policy.retention, sealed_at) {
        (None, _) => add("retention", PolicyVerdict::NotApplicable, "no retention rule".into(), ""),
        (Some(rule), None) => add(
            "retention.max_days",
            PolicyVerdict::Fail,
            "the sealing time cannot be read".into(),
            &rule.cite,
        ),
        (Some(rule), Some(start)) => {
            let disposed = first_disposal(evidence.events);
            for item in &evidence.manifest.items {
                let Some(limit) = item.category.and_then(|c| rule.max_days.get(category_name(c))) else {
                    continue;
                };
                let deadline = start.saturating_add(days_to_seconds(*limit));
                let (verdict, text) = match disposed {
                    Some(time) if time <= deadline => {
                        (PolicyVerdict::Pass, format!("{} disposed of within {limit} days", item.path))
                    }
                    Some(_) => (
                        PolicyVerdict::Fail,
                        format!("{} disposed of after the {limit}-day limit", item.path),
                    ),
                    None if at <= deadline => (
                        PolicyVerdict::Pass,
                        format!("{} held {:.1} of {limit} days", item.path, (at - start) as f64 / DAY as f64),
                    ),
                    None if rule.disposal_required => (
                        PolicyVerdict::Fail,
                        format!("{} held past its {limit}-day limit and no disposal is recorded", item.path),
                    ),
                    None => (PolicyVerdict::Warn, format!("{} held past its {limit}-day limit", item.path)),
                };
                add("retention.max_days", verdict, text, &rule.cite);
            }
        }
    }
    findings
}

/// A policy's day count as seconds, saturating instead of overflowing on absurd values.
fn days_to_seconds(days: u64) -> i64 {
    i64::try_from(days).unwrap_or(i64::MAX).saturating_mul(86_400)
}

/// When the data was first returned or destroyed, if it was: the end of both preservation
/// and retention.
fn first_disposal(events: &[Event]) -> Option<i64> {
    events
        .iter()
        .filter(|e| matches!(e.action, Action::Destroyed | Action::Returned))
        .filter_map(|e| parse_rfc3339(&e.time))
        .min()
}

/// The trusted key with this id, if the policy trusted it at `time`.
fn trusted_at<'a>(
    rule: &'a SignatureRule,
    key_id: &str,
    time: Option<i64>,
) -> Result<&'a TrustedKey, String> {
    // A key listed both directly and in a registry: the direct entry, listed first, decides.
    let key = rule
        .all_trusted_keys()
        .find(|k| k.key_id == key_id)
        .ok_or_else(|| "not a key this policy trusts (directly or through a verified registry)".to_owned())?;
    let time = time.ok_or("the time of signing cannot be read")?;
    let bound = |t: &Option<String>| t.as_deref().and_then(parse_rfc3339);
    if bound(&key.valid_from).is_some_and(|from| time < from) {
        return Err(format!(
            "{}'s key was not yet valid (from {})",
            key.principal,
            key.valid_from.as_deref().unwrap_or_default()
        ));
    }
    if bound(&key.valid_until).is_some_and(|until| time >= until) {
        return Err(format!(
            "{}'s key had expired ({})",
            key.principal,
            key.valid_until.as_deref().unwrap_or_default()
        ));
    }
    if bound(&key.revoked_at).is_some_and(|revoked| time >= revoked) {
        return Err(format!(
            "{}'s key was revoked ({})",
            key.principal,
            key.revoked_at.as_deref().unwrap_or_default()
        ));
    }
    Ok(key)
}

/// Whether `digest` is the digest of `release`'s line. The verified chain records each
/// line's digest as the `previous` of the event after it, so no log bytes are needed here.
fn release_digest_matches(events: &[Event], release: &Event, digest: &str) -> bool {
    events.iter().find(|e| e.sequence == release.sequence + 1).and_then(|next| next.previous.as_deref())
        == Some(digest)
}

fn action_name(action: Action) -> String {
    serde_json::to_value(action).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn category_name(category: Category) -> &'static str {
    match category {
        Category::Content => "content",
        Category::Traffic => "traffic",
        Category::Subscriber => "subscriber",
    }
}

fn short(key_id: &str) -> &str {
    key_id.get(..16).unwrap_or(key_id)
}
