//! `digests`: every item has a digest the jurisdiction accepts, and never only a weak one.

use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, _at: i64, _keys: &KeyTable, out: &mut Collected) {
    match &policy.digests {
        None => {
            out.add("digests.required_any", PolicyVerdict::NotApplicable, "no digest rule", "");
            out.add("digests.never_sole", PolicyVerdict::NotApplicable, "no digest rule", "");
        }
        Some(rule) => {
            for item in &evidence.manifest.items {
                let present: Vec<&str> = item.digests.keys().map(String::as_str).collect();
                if !rule.required_any.is_empty() {
                    let found: Vec<&str> = present
                        .iter()
                        .copied()
                        .filter(|a| rule.required_any.iter().any(|r| r == a))
                        .collect();
                    let (verdict, text) = if found.is_empty() {
                        (
                            PolicyVerdict::Fail,
                            format!(
                                "{} has {}; needs one of {}",
                                quoted(&item.path),
                                names(&present),
                                names(&rule.required_any)
                            ),
                        )
                    } else {
                        (PolicyVerdict::Pass, format!("{} has {}", quoted(&item.path), names(&found)))
                    };
                    out.add("digests.required_any", verdict, text, &rule.cite);
                }
                if !rule.never_sole.is_empty() {
                    let strong: Vec<&str> =
                        present.iter().copied().filter(|a| !rule.never_sole.iter().any(|w| w == a)).collect();
                    let (verdict, text) = if strong.is_empty() {
                        (
                            PolicyVerdict::Fail,
                            format!(
                                "{} has only {}, which never count alone",
                                quoted(&item.path),
                                names(&present)
                            ),
                        )
                    } else {
                        (PolicyVerdict::Pass, format!("{} also has {}", quoted(&item.path), names(&strong)))
                    };
                    out.add("digests.never_sole", verdict, text, &rule.cite);
                }
            }
        }
    }
}
