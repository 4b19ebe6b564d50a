//! The recorded orders a policy may rely on: those of `order_recorded` events that verified
//! and that a key this policy trusted at the time signed (when it trusts any: a policy with
//! no trusted keys leaves who signs to the verifier's `--trust`), with their times read once.

use custos_manifest::custody::Action;
use custos_manifest::order::Order;

use super::{Evidence, KeyTable};
use crate::time::parse_rfc3339;

/// An order as recorded, with its times as seconds (`None`: unreadable, never in force).
pub(super) struct Recorded<'a> {
    pub order: &'a Order,
    /// The `order_recorded` event's number.
    pub sequence: u64,
    pub issued_at: Option<i64>,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
}

impl Recorded<'_> {
    /// Whether the order authorises at `time` (from `valid_from`, until `valid_until`
    /// exclusive).
    pub fn in_force_at(&self, time: i64) -> bool {
        matches!((self.valid_from, self.valid_until), (Some(from), Some(until)) if from <= time && time < until)
    }

    /// Whether the order covers data of `category` (every category, when it names none).
    pub fn covers(&self, category: &str) -> bool {
        self.order.categories.as_ref().is_none_or(|list| list.iter().any(|c| c.name() == category))
    }

    /// `mla_request MLA-1 (valid 2026-03-01 to 2026-06-01)`, escaped.
    pub fn describe(&self) -> String {
        format!(
            "{} {} (valid {} to {})",
            self.order.kind,
            crate::vocabulary::quoted(&self.order.reference),
            day(&self.order.valid_from),
            day(&self.order.valid_until)
        )
    }
}

/// The date part of an RFC 3339 time, for reading (`2026-03-01`).
pub(super) fn day(time: &str) -> String {
    crate::vocabulary::quoted(time.get(..10).unwrap_or(time))
}

/// Every order the policy may rely on, in log order.
pub(super) struct Orders<'a> {
    pub all: Vec<Recorded<'a>>,
}

impl<'a> Orders<'a> {
    pub fn new(evidence: &Evidence<'a>, keys: &KeyTable) -> Orders<'a> {
        let all = evidence
            .events
            .iter()
            .filter(|e| e.action == Action::OrderRecorded)
            // Recorded by a key the policy trusted when it recorded the order (validity and
            // revocation as for any signer).
            .filter(|e| {
                keys.is_empty()
                    || keys
                        .trusted_at(
                            &e.actor.key_id,
                            parse_rfc3339(&e.time),
                            evidence.trusted_times.events.get(&e.sequence).copied(),
                        )
                        .is_ok()
            })
            .filter_map(|e| {
                let order = e.order.as_ref()?;
                Some(Recorded {
                    order,
                    sequence: e.sequence,
                    issued_at: parse_rfc3339(&order.issued_at),
                    valid_from: parse_rfc3339(&order.valid_from),
                    valid_until: parse_rfc3339(&order.valid_until),
                })
            })
            .collect();
        Orders { all }
    }

    /// The order with this reference (compared as people say references).
    pub fn find(&self, reference: &str) -> Option<&Recorded<'a>> {
        self.all.iter().find(|r| Order::same_reference(&r.order.reference, reference))
    }

    /// The order with this reference and every order that extends it, directly or through
    /// another: what relying on an order relies on once it was extended.
    pub fn chain(&self, reference: &str) -> Vec<&Recorded<'a>> {
        let mut chain: Vec<&Recorded<'a>> = self.find(reference).into_iter().collect();
        let mut next = 0;
        // Breadth first over `extends`; each order joins once (the log refuses cycles: an
        // order extends only one recorded before it).
        while let Some(current) = chain.get(next).map(|r| r.order.reference.clone()) {
            for order in &self.all {
                let extends =
                    order.order.extends.as_deref().is_some_and(|old| Order::same_reference(old, &current));
                if extends && !chain.iter().any(|c| c.sequence == order.sequence) {
                    chain.push(order);
                }
            }
            next += 1;
        }
        chain
    }
}

/// The first disclosure relying on one of `chain`'s orders: its (policy) time and number.
pub(super) fn first_disclosure(evidence: &Evidence, chain: &[&Recorded]) -> Option<(i64, u64)> {
    evidence
        .events
        .iter()
        .filter(|e| e.action == Action::Disclosed)
        .filter(|e| {
            e.legal_basis
                .as_deref()
                .is_some_and(|r| chain.iter().any(|o| Order::same_reference(&o.order.reference, r)))
        })
        .find_map(|e| super::event_time(evidence, e).map(|t| (t, e.sequence)))
}
