//! `preservation`: kept within the preservation period (version 1: from sealing, renewed
//! by events; version 2: per order kind, from the preservation order, extended by orders).

use super::orders::{day, first_disclosure, Orders, Recorded};
use super::*;
use crate::policy::PreservationRule;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, at: i64, keys: &KeyTable, out: &mut Collected) {
    let Some(rule) = &policy.preservation else {
        out.add("preservation", PolicyVerdict::NotApplicable, "no preservation rule", "");
        return;
    };
    match rule.max_days {
        Some(days) => from_sealing(rule, days, evidence, at, out),
        None => per_order(rule, evidence, at, keys, out),
    }
}

/// Version 1: one period from sealing, renewed by `preservation_renewed` events.
fn from_sealing(rule: &PreservationRule, max_days: u64, evidence: &Evidence, at: i64, out: &mut Collected) {
    let sealed_at = parse_rfc3339(&evidence.manifest.sealed_at);
    match (rule, sealed_at) {
        (rule, None) => {
            out.add("preservation.period", PolicyVerdict::Fail, "the sealing time cannot be read", &rule.cite)
        }
        (rule, Some(start)) => {
            let period = days_to_seconds(max_days);
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
                        max_days
                    ),
                )
            } else {
                (
                    PolicyVerdict::Pass,
                    format!(
                        "within preservation; {:.1} days left (periods of {} days{renewable})",
                        days_between(end, expires),
                        max_days
                    ),
                )
            };
            out.add("preservation.period", verdict, text, &rule.cite);
        }
    }
}

/// Version 2: each preservation order (an order of a kind in `per_kind` that extends none)
/// orders a preservation from its `valid_from` to its `valid_until` (between `min_days` and
/// `max_days` long), which lapses then unless an order of the same kind extending it is
/// issued before the lapse (each moving the end at most `extension_days` further, at most
/// `max_extensions` times), or production ends it first: an order of another kind that
/// extends it, or a disclosure under it; the data's return or destruction ends it too.
fn per_order(rule: &PreservationRule, evidence: &Evidence, at: i64, keys: &KeyTable, out: &mut Collected) {
    let orders = Orders::new(evidence, keys);
    let mut judged = 0;
    for start in orders.all.iter().filter(|o| o.order.extends.is_none()) {
        let Some(period) = rule.per_kind.get(&start.order.kind) else { continue };
        judged += 1;
        let subject = format!("{} {}", start.order.kind, quoted(&start.order.reference));
        let (verdict, text) = match judge_one(start, period, &orders, evidence, at) {
            Ok(text) => (PolicyVerdict::Pass, text),
            Err(text) => (PolicyVerdict::Fail, text),
        };
        out.add("preservation.orders", verdict, about(&subject, text), &rule.cite);
    }
    if judged == 0 {
        let kinds: Vec<&str> = rule.per_kind.keys().map(String::as_str).collect();
        out.add(
            "preservation.orders",
            PolicyVerdict::NotApplicable,
            format!("no preservation order of a kind this rule names ({}) is recorded", names(&kinds)),
            &rule.cite,
        );
    }
}

/// Where one preservation stands: when it lapses (after its extensions) and what ended it,
/// if anything did; or why it broke the rule.
pub(super) struct Preserved {
    pub lapse: i64,
    pub extensions: u64,
    pub ended: Option<(i64, String)>,
}

/// One preservation's state, or the text of the failure that broke it.
pub(super) fn preserved(
    start: &Recorded,
    period: &crate::policy::PreservationPeriod,
    orders: &Orders,
    evidence: &Evidence,
) -> Result<Preserved, String> {
    let (Some(from), Some(until)) = (start.valid_from, start.valid_until) else {
        return Err("its validity cannot be read".into());
    };
    let ordered_days = days_between(from, until);
    if ordered_days > period.max_days as f64 {
        return Err(format!(
            "orders preservation for {ordered_days:.1} days; at most {} allowed",
            period.max_days
        ));
    }
    if let Some(min) = period.min_days {
        if ordered_days < min as f64 {
            return Err(format!("orders preservation for {ordered_days:.1} days; at least {min} required"));
        }
    }
    // It lapses when the order says it ends (at most max_days after it starts, as checked).
    let mut lapse = until;
    let mut extensions = 0u64;
    let mut produced: Option<(i64, String)> = None;
    // The chain in log order: each extension must be issued before the lapse it extends.
    let mut chain = orders.chain(&start.order.reference);
    chain.sort_by_key(|o| o.sequence);
    for next in chain.iter().skip(1) {
        let issued = next.issued_at.unwrap_or(i64::MAX);
        if next.order.kind != start.order.kind {
            // Production under the preserved data ends the preservation.
            if produced.is_none() {
                produced = Some((issued, format!("{} {}", next.order.kind, quoted(&next.order.reference))));
            }
            continue;
        }
        let Some(extension) = period.extension_days else {
            return Err(format!(
                "extended by {}, but this kind of order cannot be extended",
                quoted(&next.order.reference)
            ));
        };
        if issued > lapse {
            return Err(format!(
                "lapsed on {}; the extension {} was issued after it ({})",
                date(lapse),
                quoted(&next.order.reference),
                day(&next.order.issued_at)
            ));
        }
        extensions += 1;
        if period.max_extensions.is_some_and(|max| extensions > max) {
            return Err(format!(
                "extended {extensions} times; at most {} allowed",
                period.max_extensions.unwrap_or_default()
            ));
        }
        let Some(new_end) = next.valid_until else {
            return Err(format!(
                "the extension {} has a validity that cannot be read",
                quoted(&next.order.reference)
            ));
        };
        if days_between(lapse, new_end) > extension as f64 {
            return Err(format!(
                "the extension {} adds {:.1} days; at most {extension} allowed",
                quoted(&next.order.reference),
                days_between(lapse, new_end)
            ));
        }
        lapse = lapse.max(new_end);
    }
    // A disclosure under any order of the chain is production.
    let disclosed = first_disclosure(evidence, &chain)
        .map(|(time, sequence)| (time, format!("the disclosure at event {sequence}")));
    let disposed =
        first_disposal(evidence.events).map(|t| (t, "the data's return or destruction".to_owned()));
    let ended = [produced, disclosed, disposed].into_iter().flatten().min_by_key(|(time, _)| *time);
    Ok(Preserved { lapse, extensions, ended })
}

/// One preservation: the text of a pass, or of a failure.
fn judge_one(
    start: &Recorded,
    period: &crate::policy::PreservationPeriod,
    orders: &Orders,
    evidence: &Evidence,
    at: i64,
) -> Result<String, String> {
    let Preserved { lapse, extensions, ended } = preserved(start, period, orders, evidence)?;
    let extended = if extensions > 0 { format!(", extended {extensions} time(s)") } else { String::new() };
    match ended {
        Some((time, by)) if time <= lapse => {
            Ok(format!("ended by {by} on {}, before it lapsed on {}{extended}", date(time), date(lapse)))
        }
        _ if at > lapse => Err(format!(
            "lapsed on {}{extended}; no extension or production was recorded before it",
            date(lapse)
        )),
        _ => {
            Ok(format!("in force until {} ({:.1} days left){extended}", date(lapse), days_between(at, lapse)))
        }
    }
}
