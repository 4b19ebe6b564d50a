//! `preservation`: kept within the preservation period (version 1: from sealing, renewed
//! by events; version 2: per order kind, from the preservation order, extended by orders).

use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, at: i64, _keys: &KeyTable, out: &mut Collected) {
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

}
