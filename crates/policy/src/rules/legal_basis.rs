//! `legal_basis`: a legal basis is recorded, of the kind each category of data needs, and
//! (version 2) an order of that kind was in force at every event that touched the data.

use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, _at: i64, _keys: &KeyTable, out: &mut Collected) {
    match &policy.legal_basis {
        None => out.add("legal_basis", PolicyVerdict::NotApplicable, "no legal-basis rule", ""),
        Some(rule) => {
            let kinds: BTreeSet<&str> =
                evidence.manifest.legal_basis.iter().map(|b| b.kind.as_str()).collect();
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

}
