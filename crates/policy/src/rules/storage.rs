//! `storage`: the evidence was only ever in allowed countries, as signed events state.

use super::*;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, _at: i64, keys: &KeyTable, out: &mut Collected) {
    match &policy.storage {
        None => out.add("storage", PolicyVerdict::NotApplicable, "no storage rule", ""),
        Some(rule) => {
            // Where the evidence was at each event: the country the last event that stated one
            // signed (only the holder may state it; the verifier fails any other). Before any
            // event states one, version 1 falls back to the jurisdiction the policy records
            // for the key that signed the event; never the event's `actor.jurisdiction`,
            // copied from the key file shipped in the package, which its holder can rewrite.
            let mut place: Option<(&str, u64)> = None;
            for event in evidence.events {
                let subject = keys.subject(event);
                if let Some(country) = event.country.as_deref() {
                    place = Some((country, event.sequence));
                }
                if let Some((country, stated)) = place {
                    let said = if stated == event.sequence {
                        format!("held in {}, as the event states", quoted(country))
                    } else {
                        format!("held in {}, as event {stated} stated", quoted(country))
                    };
                    let (verdict, text) = if rule.allowed_countries.iter().any(|c| c == country) {
                        (PolicyVerdict::Pass, about(&subject, said))
                    } else {
                        (
                            PolicyVerdict::Fail,
                            about(&subject, format!("{said}; allowed: {}", names(&rule.allowed_countries))),
                        )
                    };
                    out.add("storage.allowed_countries", verdict, text, &rule.cite);
                    continue;
                }
                if policy.custos_policy >= 2 {
                    // Version 2 places the evidence only where signed events say it is.
                    out.add(
                        "storage.allowed_countries",
                        PolicyVerdict::Fail,
                        about(&subject, "no event up to this one states where the evidence is (--country), so it cannot be shown to be in an allowed country"),
                        &rule.cite,
                    );
                    continue;
                }
                let (verdict, text) = match keys.get(&event.actor.key_id) {
                    None => (
                        PolicyVerdict::Fail,
                        about(&subject, "signed by a key this policy does not trust, so where custody was held is not established"),
                    ),
                    Some(TrustedKey { jurisdiction: None, .. }) => (
                        PolicyVerdict::Fail,
                        about(&subject, "the policy records no jurisdiction for this key"),
                    ),
                    Some(TrustedKey { jurisdiction: Some(country), .. })
                        if rule.allowed_countries.iter().any(|c| c == country) =>
                    {
                        (PolicyVerdict::Pass, about(&subject, format!("held in {}", quoted(country))))
                    }
                    Some(TrustedKey { jurisdiction: Some(country), .. }) => (
                        PolicyVerdict::Fail,
                        about(
                            &subject,
                            format!("held in {}; allowed: {}", quoted(country), names(&rule.allowed_countries)),
                        ),
                    ),
                };
                out.add("storage.allowed_countries", verdict, text, &rule.cite);
            }
        }
    }
}
