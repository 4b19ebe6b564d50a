//! Deadlines: what must happen by when, from the signed facts and the policies' rules,
//! soonest first. Missed preservation is the first thing evidence is lost to.

use serde::Serialize;

use super::orders::{first_disclosure, Orders};
use super::preservation::{preserved, Preserved};
use super::*;

/// What falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// A preservation lapses unless extended or turned into production (a policy's
    /// `preservation.per_kind`).
    PreservationLapse,
    /// Data must be produced under an order (a policy's `production.due_hours`).
    ProductionDue,
    /// A recipient must return or destroy disclosed data (the disclosure's `retain_until`).
    RetentionEnd,
    /// An order (with every order extending it) stops authorising (its `valid_until`).
    OrderEnd,
}

/// One deadline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deadline {
    /// What falls due.
    pub kind: DeadlineKind,
    /// When (RFC 3339, UTC).
    pub due: String,
    /// Seconds since the epoch, for sorting and filtering.
    #[serde(skip)]
    pub due_at: i64,
    /// Days from the evaluation time (negative: overdue).
    pub days_left: f64,
    /// What it concerns (`preservation_order PRES-1`, `disclosure 8 to 3930e7b4…`), escaped.
    pub subject: String,
    /// The policy whose rule sets it; `None` for a date the signed facts themselves state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

fn deadline(kind: DeadlineKind, due_at: i64, at: i64, subject: String, policy: Option<&str>) -> Deadline {
    Deadline {
        kind,
        due: custos_manifest::time::rfc3339_from_unix(due_at.max(0) as u64),
        due_at,
        days_left: days_between(at, due_at),
        subject,
        policy: policy.map(str::to_owned),
    }
}

/// Every open deadline of a package at `at`: each order's end (when still ahead) and each
/// disclosure's retention date (until the recipient returns or destroys the data), from the
/// signed facts; then, for each policy, each preservation's lapse (until extended past, or
/// ended) and each production due (until something is produced). Soonest first; overdue
/// ones (negative `days_left`) stay listed.
pub fn deadlines(policies: &[&Policy], evidence: &Evidence, at: i64) -> Vec<Deadline> {
    let mut all = Vec::new();
    // The signed facts, read as the verifier established them (no policy's trust decides).
    let everyone = KeyTable::default();
    let orders = Orders::new(evidence, &everyone);
    for root in orders.all.iter().filter(|o| o.order.extends.is_none()) {
        let chain = orders.chain(&root.order.reference);
        if let Some(end) = chain.iter().filter_map(|o| o.valid_until).max().filter(|end| *end >= at) {
            let subject = format!("{} {}", root.order.kind, quoted(&root.order.reference));
            all.push(deadline(DeadlineKind::OrderEnd, end, at, subject, None));
        }
    }
    let numbers = super::transfer::line_numbers(evidence.events);
    for event in evidence.events.iter().filter(|e| e.action == custos_manifest::custody::Action::Disclosed) {
        let Some(end) = event.retain_until.as_deref().and_then(parse_rfc3339) else { continue };
        let disposed = evidence.events.iter().any(|e| {
            matches!(
                e.action,
                custos_manifest::custody::Action::Returned | custos_manifest::custody::Action::Destroyed
            ) && e.disclosure.as_deref().and_then(|line| numbers.get(line)) == Some(&event.sequence)
        });
        if !disposed {
            let to = event.receiver.as_deref().unwrap_or_default();
            let subject = format!("disclosure {} to key {}", event.sequence, short(to));
            all.push(deadline(DeadlineKind::RetentionEnd, end, at, subject, None));
        }
    }
    for policy in policies {
        let keys = KeyTable::new(policy);
        let orders = Orders::new(evidence, &keys);
        if let Some(rule) = &policy.preservation {
            for start in orders.all.iter().filter(|o| o.order.extends.is_none()) {
                let Some(period) = rule.per_kind.get(&start.order.kind) else { continue };
                let Ok(Preserved { lapse, ended: None, .. }) = preserved(start, period, &orders, evidence)
                else {
                    continue;
                };
                let subject = format!("{} {}", start.order.kind, quoted(&start.order.reference));
                all.push(deadline(DeadlineKind::PreservationLapse, lapse, at, subject, Some(&policy.id)));
            }
        }
        if let Some(rule) = &policy.production {
            for order in orders.all.iter().filter(|o| o.order.extends.is_none()) {
                let (Some(hours), Some(from)) = (rule.due_hours.get(&order.order.kind), order.valid_from)
                else {
                    continue;
                };
                if first_disclosure(evidence, &orders.chain(&order.order.reference)).is_some() {
                    continue;
                }
                let due = super::production::due_at(from, *hours);
                let subject = format!("{} {}", order.order.kind, quoted(&order.order.reference));
                all.push(deadline(DeadlineKind::ProductionDue, due, at, subject, Some(&policy.id)));
            }
        }
    }
    all.sort_by(|a, b| a.due_at.cmp(&b.due_at).then(a.kind.cmp(&b.kind)));
    all
}
