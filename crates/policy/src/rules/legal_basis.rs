//! `legal_basis`: a legal basis is recorded, of the kind each category of data needs, and
//! (version 2) an order of that kind was in force at every event that touched the data.

use super::orders::{Orders, Recorded};
use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, _at: i64, keys: &KeyTable, out: &mut Collected) {
    match &policy.legal_basis {
        None => out.add("legal_basis", PolicyVerdict::NotApplicable, "no legal-basis rule", ""),
        Some(rule) => {
            // The manifest's legal bases; in version 2 also the recorded orders, which are
            // legal bases signed after sealing.
            let orders = Orders::new(evidence, keys);
            let mut kinds: BTreeSet<&str> =
                evidence.manifest.legal_basis.iter().map(|b| b.kind.as_str()).collect();
            if policy.custos_policy >= 2 {
                kinds.extend(orders.all.iter().map(|o| o.order.kind.as_str()));
            }
            // Shown once per item: made once, and bounded, so that many items and many
            // bases do not multiply into a quadratic report.
            let recorded = if kinds.is_empty() {
                "none".to_owned()
            } else {
                names(&kinds.iter().copied().collect::<Vec<_>>())
            };
            if rule.required {
                let (verdict, text) = if kinds.is_empty() {
                    (PolicyVerdict::Fail, "no legal basis recorded".to_owned())
                } else {
                    (PolicyVerdict::Pass, format!("recorded: {recorded}"))
                };
                out.add("legal_basis.required", verdict, text, &rule.cite);
            }
            for item in &evidence.manifest.items {
                let Some(category) = item.category else {
                    if !rule.per_category.is_empty() {
                        out.add(
                            "legal_basis.per_category",
                            PolicyVerdict::Warn,
                            format!(
                                "{} has no data category: the per-category rule cannot be applied",
                                quoted(&item.path)
                            ),
                            &rule.cite,
                        );
                    }
                    continue;
                };
                let name = category_name(category);
                let Some(allowed) = rule.per_category.get(name) else { continue };
                let (verdict, text) = if allowed.iter().any(|a| kinds.contains(a.as_str())) {
                    (
                        PolicyVerdict::Pass,
                        format!(
                            "{} is {name} data; recorded authority {recorded} suffices",
                            quoted(&item.path)
                        ),
                    )
                } else {
                    (
                        PolicyVerdict::Fail,
                        format!(
                            "{} is {name} data, which needs {}; recorded: {recorded}",
                            quoted(&item.path),
                            names_with(allowed, " or ")
                        ),
                    )
                };
                out.add("legal_basis.per_category", verdict, text, &rule.cite);
            }
        }
    }
    if let Some(rule) = policy.legal_basis.as_ref().filter(|rule| rule.in_force) {
        in_force(rule, evidence, keys, out);
    }
}

/// The actions that touch the data itself (version 2's `in_force`).
fn touches_the_data(action: Action) -> bool {
    matches!(
        action,
        Action::Sealed | Action::Accessed | Action::Examined | Action::Copied | Action::Disclosed
    )
}

/// `legal_basis.in_force`: every event that touches the data is covered, for each category
/// of the items it concerns, by a recorded order of a kind `per_category` allows (any kind,
/// for a category it does not list) that was in force at the event's time (the trusted time
/// where a token established one). An event naming an order (`legal_basis`; for the seal,
/// the manifest's legal-basis references) is covered only by that order and the orders that
/// extend it; other events by any recorded order.
fn in_force(rule: &crate::policy::LegalBasisRule, evidence: &Evidence, keys: &KeyTable, out: &mut Collected) {
    let orders = Orders::new(evidence, keys);
    let sealed_refs: Vec<&str> = evidence.manifest.legal_basis.iter().map(|b| b.reference.as_str()).collect();
    for event in evidence.events.iter().filter(|e| touches_the_data(e.action)) {
        let subject = keys.subject(event);
        let Some(time) = evidence
            .trusted_times
            .events
            .get(&event.sequence)
            .copied()
            .or_else(|| parse_rfc3339(&event.time))
        else {
            out.add(
                "legal_basis.in_force",
                PolicyVerdict::Fail,
                about(&subject, "its time cannot be read"),
                &rule.cite,
            );
            continue;
        };
        // Which orders may cover it.
        let named: Vec<&str> = match (event.action, event.legal_basis.as_deref()) {
            (Action::Sealed, _) => sealed_refs.iter().copied().filter(|r| orders.find(r).is_some()).collect(),
            (_, Some(reference)) => vec![reference],
            (_, None) => Vec::new(),
        };
        let candidates: Vec<&Recorded> = if named.is_empty() {
            orders.all.iter().collect()
        } else {
            named.iter().flat_map(|r| orders.chain(r)).collect()
        };
        // The categories of the items it concerns.
        let mut categories: BTreeSet<&str> = BTreeSet::new();
        let mut uncategorised = 0;
        for item in
            evidence.manifest.items.iter().filter(|i| event.items.is_empty() || event.items.contains(&i.path))
        {
            match item.category {
                Some(category) => {
                    categories.insert(category_name(category));
                }
                None => uncategorised += 1,
            }
        }
        if uncategorised > 0 && categories.is_empty() {
            out.add(
                "legal_basis.in_force",
                PolicyVerdict::Warn,
                about(&subject, format!("{uncategorised} item(s) without a data category: which order they need cannot be said")),
                &rule.cite,
            );
            continue;
        }
        let mut problems = Vec::new();
        let mut covered = Vec::new();
        for category in &categories {
            let allowed = rule.per_category.get(*category);
            let fits = |o: &Recorded| {
                allowed.is_none_or(|kinds| kinds.contains(&o.order.kind)) && o.covers(category)
            };
            match candidates.iter().find(|o| fits(o) && o.in_force_at(time)) {
                Some(order) => covered.push(format!("{category} data under {}", order.describe())),
                None => {
                    let fitting: Vec<String> =
                        candidates.iter().filter(|o| fits(o)).map(|o| o.describe()).collect();
                    let needs =
                        allowed.map(|kinds| names_with(kinds, " or ")).unwrap_or_else(|| "an order".into());
                    problems.push(if fitting.is_empty() {
                        let recorded: Vec<String> = candidates.iter().map(|o| o.describe()).collect();
                        format!(
                            "{category} data needs {needs}; recorded: {}",
                            if recorded.is_empty() { "none".into() } else { listing(&recorded) }
                        )
                    } else {
                        format!(
                            "{category} data at {}: outside the validity of {}",
                            date(time),
                            listing(&fitting)
                        )
                    });
                }
            }
        }
        let (verdict, text) = if problems.is_empty() {
            (PolicyVerdict::Pass, listing_with(&covered, "; "))
        } else {
            (PolicyVerdict::Fail, listing_with(&problems, "; "))
        };
        out.add("legal_basis.in_force", verdict, about(&subject, text), &rule.cite);
    }
}
