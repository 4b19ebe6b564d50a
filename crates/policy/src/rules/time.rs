//! `time`: times confirmed by a trusted time-stamping authority.

use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, _at: i64, keys: &KeyTable, out: &mut Collected) {
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
}
