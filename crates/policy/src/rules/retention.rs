//! `retention`: data of each category disposed of within its limit.

use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, at: i64, keys: &KeyTable, out: &mut Collected) {
    let sealed_at = parse_rfc3339(&evidence.manifest.sealed_at);
    match (&policy.retention, sealed_at) {
        (None, _) => out.add("retention", PolicyVerdict::NotApplicable, "no retention rule", ""),
        (Some(rule), None) => {
            out.add("retention.max_days", PolicyVerdict::Fail, "the sealing time cannot be read", &rule.cite)
        }
        (Some(rule), Some(start)) => {
            for item in &evidence.manifest.items {
                let disposed = disposal_of(evidence.events, &item.path);
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
            if !rule.min_days.is_empty() {
                min_days(rule, evidence, start, out);
            }
            if rule.disposal_witnesses > 0 {
                witnesses(rule, evidence, keys, out);
            }
        }
    }
}

/// `retention.min_days` (version 2): no item of a listed category returned or destroyed
/// before it was kept that long after sealing.
fn min_days(rule: &crate::policy::RetentionRule, evidence: &Evidence, start: i64, out: &mut Collected) {
    for item in &evidence.manifest.items {
        let Some(minimum) = item.category.and_then(|c| rule.min_days.get(category_name(c))) else { continue };
        let Some(disposed) = disposal_of(evidence.events, &item.path) else { continue };
        let path = quoted(&item.path);
        let kept = days_between(start, disposed);
        let (verdict, text) = if kept >= *minimum as f64 {
            (
                PolicyVerdict::Pass,
                format!("{path} kept {kept:.1} days before its disposal; at least {minimum} required"),
            )
        } else {
            (
                PolicyVerdict::Fail,
                format!("{path} disposed of after {kept:.1} days; it must be kept at least {minimum}"),
            )
        };
        out.add("retention.min_days", verdict, text, &rule.cite);
    }
}

/// `retention.disposal_witnesses` (version 2): each return or destruction of the evidence
/// was witnessed by that many principals the policy trusts, other than its signer's.
fn witnesses(rule: &crate::policy::RetentionRule, evidence: &Evidence, keys: &KeyTable, out: &mut Collected) {
    let numbers = super::transfer::line_numbers(evidence.events);
    let disposals = evidence.events.iter().filter(|e| is_disposal(e));
    for disposal in disposals {
        let principal = |key_id: &str| keys.get(key_id).map(|k| k.principal.as_str());
        let signer = principal(&disposal.actor.key_id);
        let by: BTreeSet<&str> = evidence
            .events
            .iter()
            .filter(|e| e.action == Action::Witnessed)
            .filter(|e| e.witnessed.as_deref().and_then(|line| numbers.get(line)) == Some(&disposal.sequence))
            .filter_map(|e| principal(&e.actor.key_id))
            .filter(|p| Some(*p) != signer)
            .collect();
        let subject = keys.subject(disposal);
        let count = by.len() as u64;
        let listed = names(&by.iter().copied().collect::<Vec<_>>());
        let (verdict, text) = if count >= rule.disposal_witnesses {
            (PolicyVerdict::Pass, about(&subject, format!("witnessed by {listed}")))
        } else {
            (
                PolicyVerdict::Fail,
                about(
                    &subject,
                    format!(
                        "witnessed by {count} other principal(s) these rules trust{}; {} required",
                        if count > 0 { format!(" ({listed})") } else { String::new() },
                        rule.disposal_witnesses
                    ),
                ),
            )
        };
        out.add("retention.disposal_witnesses", verdict, text, &rule.cite);
    }
}
