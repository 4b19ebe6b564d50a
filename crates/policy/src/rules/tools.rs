//! `tools` (version 2): every custody event was signed by a build of Custos the lab
//! validated, as the event's `tool` states it (its version, or its program's SHA-256). The
//! statement is the signer's: this rule catches an unvalidated build used in good faith,
//! not a key holder who writes another program's identity.

use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, _at: i64, keys: &KeyTable, out: &mut Collected) {
    let Some(rule) = &policy.tools else {
        out.add("tools", PolicyVerdict::NotApplicable, "no tools rule", "");
        return;
    };
    for event in evidence.events {
        let subject = keys.subject(event);
        let (verdict, text) = match &event.tool {
            None => (
                PolicyVerdict::Fail,
                "records no build (signed before 0.3, or by another program)".to_owned(),
            ),
            Some(tool) => {
                let approved = rule
                    .approved
                    .iter()
                    .any(|a| *a == tool.version || tool.binary_sha256.as_deref() == Some(a.as_str()));
                let build = format!(
                    "{} {}{}",
                    quoted(&tool.name),
                    quoted(&tool.version),
                    tool.binary_sha256
                        .as_deref()
                        .map(|d| format!(" (program SHA-256 {})", short(d)))
                        .unwrap_or_default()
                );
                if approved {
                    (PolicyVerdict::Pass, format!("signed by {build}, an approved build"))
                } else {
                    (PolicyVerdict::Fail, format!("signed by {build}; approved: {}", names(&rule.approved)))
                }
            }
        };
        out.add("tools.approved", verdict, about(&subject, text), &rule.cite);
    }
}
