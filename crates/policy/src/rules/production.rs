//! `production` (version 2): data is produced (disclosed under the order) within the hours
//! the policy gives each order kind, counted from the order's `valid_from` (modelled on
//! Regulation (EU) 2023/1543 art. 10: 10 days, 8 hours in an emergency).

use super::orders::{first_disclosure, Orders};
use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, at: i64, keys: &KeyTable, out: &mut Collected) {
    let Some(rule) = &policy.production else {
        out.add("production", PolicyVerdict::NotApplicable, "no production rule", "");
        return;
    };
    let orders = Orders::new(evidence, keys);
    let mut judged = 0;
    // One deadline per order as issued: an order that extends another shares its chain's.
    for order in orders.all.iter().filter(|o| o.order.extends.is_none()) {
        let Some(hours) = rule.due_hours.get(&order.order.kind) else { continue };
        judged += 1;
        let subject = format!("{} {}", order.order.kind, quoted(&order.order.reference));
        let Some(from) = order.valid_from else {
            out.add(
                "production.due",
                PolicyVerdict::Fail,
                about(&subject, "its validity cannot be read"),
                &rule.cite,
            );
            continue;
        };
        let due = due_at(from, *hours);
        let chain = orders.chain(&order.order.reference);
        let produced = first_disclosure(evidence, &chain);
        let (verdict, text) = match produced {
            Some((time, sequence)) if time <= due => (
                PolicyVerdict::Pass,
                format!("produced at event {sequence} on {}, due by {}", date(time), moment(due)),
            ),
            Some((time, sequence)) => (
                PolicyVerdict::Fail,
                format!(
                    "produced at event {sequence}, {:.1} hours after it was due ({})",
                    (time - due) as f64 / 3600.0,
                    moment(due)
                ),
            ),
            None if at > due => {
                (PolicyVerdict::Fail, format!("due by {}; nothing disclosed under it", moment(due)))
            }
            None => (
                PolicyVerdict::Pass,
                format!("due by {} ({:.1} days left)", moment(due), days_between(at, due)),
            ),
        };
        out.add("production.due", verdict, about(&subject, text), &rule.cite);
    }
    if judged == 0 {
        out.add(
            "production",
            PolicyVerdict::NotApplicable,
            "no order of a kind this rule names is recorded",
            &rule.cite,
        );
    }
}

/// A time to the minute, UTC (`2026-03-01 09:00 UTC`): production deadlines run in hours.
fn moment(time: i64) -> String {
    let text = custos_manifest::time::rfc3339_from_unix(time.max(0) as u64);
    format!("{} {} UTC", &text[..10], &text[11..16])
}

/// When production under an order that authorises from `from` is due: `hours` later.
pub(super) fn due_at(from: i64, hours: u64) -> i64 {
    from.saturating_add(i64::try_from(hours).unwrap_or(i64::MAX).saturating_mul(3600))
}
