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
            let stays = stays(evidence.events);
            let mut place: Option<(&str, u64)> = None;
            for event in evidence.events {
                let subject = keys.subject(event);
                if let Some(country) = event.country.as_deref() {
                    place = Some((country, event.sequence));
                }
                if let Some((country, stated)) = place {
                    let (verdict, text) = if rule.allowed_countries.iter().any(|c| c == country) {
                        let said = if stated == event.sequence {
                            format!("held in {}, as the event states", quoted(country))
                        } else {
                            format!("held in {}, as event {stated} stated", quoted(country))
                        };
                        (PolicyVerdict::Pass, about(&subject, said))
                    } else {
                        // In plain words, the same for every event of the stay, so that a
                        // report says it once.
                        let stay = stays.get(&stated).map(String::as_str).unwrap_or_default();
                        (
                            PolicyVerdict::Fail,
                            about(
                                &subject,
                                format!(
                                    "the evidence was kept in {} {stay}; these rules allow only {}",
                                    quoted(country),
                                    names_with(&rule.allowed_countries, " or ")
                                ),
                            ),
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

/// Each stay of the evidence in one country, by the event that stated it: `from 3 March
/// 2026 (event 0) to 9 March 2026 (event 5 moved it to XB)`, or `from … on`.
fn stays(events: &[Event]) -> BTreeMap<u64, String> {
    let stated: Vec<&Event> = events.iter().filter(|e| e.country.is_some()).collect();
    let when = |event: &Event| parse_rfc3339(&event.time).map_or_else(|| quoted(&event.time), human_date);
    let mut stays = BTreeMap::new();
    for (i, start) in stated.iter().enumerate() {
        // The next event that states another country ends the stay.
        let end = stated[i + 1..].iter().find(|e| e.country != start.country);
        let from = format!("from {} (event {})", when(start), start.sequence);
        let text = match end {
            Some(end) => format!(
                "{from} to {} (event {} moved it to {})",
                when(end),
                end.sequence,
                quoted(end.country.as_deref().unwrap_or_default())
            ),
            None => format!("{from} on"),
        };
        stays.insert(start.sequence, text);
    }
    stays
}

/// `3 March 2026`.
fn human_date(time: i64) -> String {
    custos_manifest::time::date_in_words(time.max(0) as u64)
}
