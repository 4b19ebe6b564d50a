//! `notification` (version 2): before data is disclosed under an order of a kind the policy
//! lists, for the categories it lists, the order's enforcing state was notified (a
//! `notified` event for that state and that order, or one extending it, earlier in the log;
//! modelled on Regulation (EU) 2023/1543 art. 8).

use custos_manifest::custody::Action;
use custos_manifest::order::Order;

use super::orders::Orders;
use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, _at: i64, keys: &KeyTable, out: &mut Collected) {
    let Some(rule) = &policy.notification else {
        out.add("notification", PolicyVerdict::NotApplicable, "no notification rule", "");
        return;
    };
    let orders = Orders::new(evidence, keys);
    let mut judged = 0;
    for event in evidence.events.iter().filter(|e| e.action == Action::Disclosed) {
        let named = event.legal_basis.as_deref().unwrap_or_default();
        let chain = orders.chain(named);
        let Some(order) = chain.first() else { continue };
        if !rule.order_kinds.contains(&order.order.kind) {
            continue;
        }
        // The categories disclosed that the rule names (every one, when it names none).
        let listed: BTreeSet<&str> = evidence
            .manifest
            .items
            .iter()
            .filter(|i| event.items.is_empty() || event.items.contains(&i.path))
            .filter_map(|i| i.category.map(category_name))
            .filter(|c| rule.categories.is_empty() || rule.categories.iter().any(|r| r == c))
            .collect();
        if listed.is_empty() {
            continue;
        }
        judged += 1;
        let subject = keys.subject(event);
        let data = names(&listed.iter().copied().collect::<Vec<_>>());
        let (verdict, text) = match order.order.enforcing_state.as_deref() {
            None => (
                PolicyVerdict::Fail,
                format!("{data} data under {}, which names no enforcing state to notify", order.describe()),
            ),
            Some(state) => {
                let notified = evidence.events.iter().take_while(|e| e.sequence < event.sequence).find(|e| {
                    e.action == Action::Notified
                        && e.to_state.as_deref() == Some(state)
                        && e.legal_basis.as_deref().is_some_and(|r| {
                            chain.iter().any(|o| Order::same_reference(&o.order.reference, r))
                        })
                });
                match notified {
                    Some(n) => (
                        PolicyVerdict::Pass,
                        format!(
                            "{} was notified at event {} before {data} data was disclosed",
                            quoted(state),
                            n.sequence
                        ),
                    ),
                    None => (
                        PolicyVerdict::Fail,
                        format!(
                            "{data} data disclosed under {} before {} (the enforcing state) was notified",
                            order.describe(),
                            quoted(state)
                        ),
                    ),
                }
            }
        };
        out.add("notification.enforcing_state", verdict, about(&subject, text), &rule.cite);
    }
    if judged == 0 {
        out.add(
            "notification",
            PolicyVerdict::NotApplicable,
            "no disclosure under an order this rule names",
            &rule.cite,
        );
    }
}
