//! `custody`: where the record starts, every hand-over acknowledged, no long gaps.

use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, _at: i64, _keys: &KeyTable, out: &mut Collected) {
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
}
