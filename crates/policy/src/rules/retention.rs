//! `retention`: data of each category disposed of within its limit.

use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, at: i64, _keys: &KeyTable, out: &mut Collected) {
    let sealed_at = parse_rfc3339(&evidence.manifest.sealed_at);
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
}
