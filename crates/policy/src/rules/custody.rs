//! `custody`: where the record starts, every hand-over acknowledged, no long gaps.

use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, _at: i64, keys: &KeyTable, out: &mut Collected) {
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
            if !rule.required_fields.is_empty() {
                required_fields(rule, evidence, keys, out);
            }
        }
    }
}

/// `custody.required_fields`: each event of a listed action carries every field listed for
/// it (a custody form filled in), one finding per such event.
fn required_fields(
    rule: &crate::policy::CustodyRule,
    evidence: &Evidence,
    keys: &KeyTable,
    out: &mut Collected,
) {
    for event in evidence.events {
        let Some(fields) = rule.required_fields.get(action_name(event.action)) else { continue };
        // A field counts only with something visible in it: a blank seal number (an unset
        // variable in a lab's script) is no seal number.
        let filled = |value: &Option<String>| {
            value.as_deref().is_some_and(|text| {
                text.chars().any(|c| !c.is_whitespace() && !custos_manifest::safe_text::is_unsafe(c))
            })
        };
        let present = |field: &str| match field {
            "occurred_at" => filled(&event.occurred_at),
            "seal_number" => filled(&event.seal_number),
            "condition" => filled(&event.condition),
            "storage" => filled(&event.storage),
            "exhibit" => filled(&event.exhibit),
            "location" => filled(&event.location),
            "country" => filled(&event.country),
            "purpose" => filled(&event.purpose),
            "note" => filled(&event.note),
            // A name this version does not know is refused when the policy is read; were it
            // not, it would be missing, never present.
            _ => false,
        };
        let missing: Vec<&str> = fields.iter().map(String::as_str).filter(|f| !present(f)).collect();
        let subject = keys.subject(event);
        let (verdict, text) = if missing.is_empty() {
            (PolicyVerdict::Pass, about(&subject, format!("records {}", names(fields))))
        } else {
            (PolicyVerdict::Fail, about(&subject, format!("does not record {}", names(&missing))))
        };
        out.add("custody.required_fields", verdict, text, &rule.cite);
    }
}
