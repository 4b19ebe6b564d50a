//! `signatures`: enough trusted principals sealed; every custody step was signed by a key
//! the policy trusts, in a role allowed to take it.

use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, _at: i64, keys: &KeyTable, out: &mut Collected) {
    match &policy.signatures {
        None => out.add("signatures.seal_threshold", PolicyVerdict::NotApplicable, "no signature rule", ""),
        Some(rule) => {
            let sealed_at = parse_rfc3339(&evidence.manifest.sealed_at);
            let mut principals = BTreeSet::new();
            let mut refused = Vec::new();
            // Each signer once: a key id repeated in the list must not be counted or
            // reported twice.
            let signers: BTreeSet<&str> = evidence.manifest_signers.iter().map(String::as_str).collect();
            for signer in signers {
                match keys.trusted_at(signer, sealed_at, evidence.trusted_times.manifest.get(signer).copied())
                {
                    Ok(key) => {
                        principals.insert(key.principal.as_str());
                    }
                    Err(reason) => refused.push(format!("{}: {reason}", short(signer))),
                }
            }
            let count = principals.len() as u64;
            let mut text = format!(
                "{count} trusted principal(s) sealed ({}); {} required",
                names(&principals.iter().copied().collect::<Vec<_>>()),
                rule.seal_threshold
            );
            if !refused.is_empty() {
                text.push_str(&format!("; not counted: {}", listing(&refused)));
            }
            let verdict =
                if count >= rule.seal_threshold { PolicyVerdict::Pass } else { PolicyVerdict::Fail };
            out.add("signatures.seal_threshold", verdict, text, &rule.cite);

            for event in evidence.events {
                let subject = keys.subject(event);
                let trusted = evidence.trusted_times.events.get(&event.sequence).copied();
                match keys.trusted_at(&event.actor.key_id, parse_rfc3339(&event.time), trusted) {
                    Err(reason) => out.add(
                        "signatures.custody_signer",
                        PolicyVerdict::Fail,
                        about(&subject, reason),
                        &rule.cite,
                    ),
                    Ok(key) => {
                        let action = action_name(event.action);
                        // The roles are the policy's entry's, never the event's own claim.
                        match rule.roles_per_action.get(action) {
                            Some(allowed) if !key.roles.iter().any(|r| allowed.contains(r)) => out.add(
                                "signatures.roles",
                                PolicyVerdict::Fail,
                                about(
                                    &subject,
                                    format!(
                                        "{} acts as {}; `{action}` needs one of {}",
                                        quoted(&key.principal),
                                        if key.roles.is_empty() {
                                            "nothing".into()
                                        } else {
                                            names(&key.roles)
                                        },
                                        names(allowed)
                                    ),
                                ),
                                &rule.cite,
                            ),
                            _ => out.add(
                                "signatures.custody_signer",
                                PolicyVerdict::Pass,
                                about(&subject, format!("trusted key of {}", quoted(&key.principal))),
                                &rule.cite,
                            ),
                        }
                    }
                }
            }
        }
    }
}
