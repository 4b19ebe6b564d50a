//! Names with a fixed vocabulary that people type and signatures make permanent: legal-basis
//! kinds and key holders' roles. A typo signed into a manifest or key file stays there
//! forever (`warant`, `exmainer`), and a policy looking for `warrant` never matches it; so
//! input is taken case-insensitively, written in its canonical form, and a name that is not
//! known is refused with the closest known one.

/// Kinds of legal authority (`--legal-basis KIND:REFERENCE[:AUTHORITY]`).
pub const LEGAL_BASIS_KINDS: [&str; 8] = [
    "warrant",
    "court_order",
    "production_order",
    "preservation_order",
    "mla_request",
    "consent",
    "seizure_record",
    "statutory_power",
];

/// Roles of key holders (`custos keygen --role`).
pub const ROLES: [&str; 11] = [
    "examiner",
    "evidence_custodian",
    "investigator",
    "first_responder",
    "analyst",
    "prosecutor",
    "court_clerk",
    "judge",
    "defence_expert",
    "auditor",
    "policy_officer",
];

/// The 249 codes ISO 3166-1 assigns (alpha-2), as Debian's iso-codes lists them.
const ASSIGNED_COUNTRIES: &str = "
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
";

/// A country as events and policies write it: an ISO 3166-1 alpha-2 code that the standard
/// assigns, or one of the user-assigned `XA` to `XZ` (fictional jurisdictions, or a state the
/// standard does not list), in capitals. Taken in any case; anything else is refused, since a
/// signed `Germany` or `UK` would never match a policy's `DE` or `GB`.
pub fn country(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_uppercase();
    let user_assigned = code.len() == 2 && code.starts_with('X') && code.as_bytes()[1].is_ascii_uppercase();
    if user_assigned || (code.len() == 2 && ASSIGNED_COUNTRIES.split_whitespace().any(|c| c == code)) {
        return Ok(code);
    }
    let hint = match code.as_str() {
        "UK" => " (the United Kingdom is GB)",
        "EL" => " (Greece is GR)",
        _ if code.len() != 2 => " (two letters, such as DE, FR or XA)",
        _ => "",
    };
    Err(format!("`{text}` is not an ISO 3166-1 alpha-2 country code{hint}"))
}

/// `word` in its canonical form if it is one of `known` (any case; spaces and hyphens
/// taken as underscores), else why not, with the closest known name.
pub fn canonical(word: &str, known: &[&'static str], what: &str) -> Result<&'static str, String> {
    let folded: String = word
        .trim()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c.to_ascii_lowercase() })
        .collect();
    if let Some(name) = known.iter().find(|k| **k == folded) {
        return Ok(name);
    }
    let hint = suggest(&folded, known).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
    Err(format!("`{}` is not a known {what}: {hint}known: {}", word.escape_debug(), known.join(", ")))
}

/// The known name closest to `word`: the same letters in another case, else one at most two
/// edits away (the closest, the first of equals). Long words are not compared (bounded work).
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    if word.chars().count() > 64 {
        return None;
    }
    let lower = word.to_lowercase();
    if let Some(same) = known.iter().find(|k| k.to_lowercase() == lower) {
        return Some(same);
    }
    known
        .iter()
        .map(|k| (edit_distance(&lower, k), *k))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters (both words are short: see [`suggest`]).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn countries_are_the_iso_3166_codes_and_the_user_assigned_ones() {
        assert_eq!(super::country("de").as_deref(), Ok("DE"));
        assert_eq!(super::country(" XB ").as_deref(), Ok("XB"));
        assert!(super::country("UK").expect_err("not a code").contains("GB"));
        assert!(
            super::country("Germany").is_err()
                && super::country("QQ").is_err()
                && super::country("").is_err()
        );
        assert!(super::country("X1").is_err());
        // Independently: every code Debian's iso-codes lists, and no other assigned one.
        let listed = std::fs::read_to_string("/usr/share/iso-codes/json/iso_3166-1.json");
        let Ok(listed) = listed else {
            assert!(
                std::env::var("CUSTOS_INTEROP").as_deref() != Ok("require"),
                "CUSTOS_INTEROP=require, but iso-codes is not installed"
            );
            eprintln!("skipped: iso-codes is not installed");
            return;
        };
        let listed: serde_json::Value = serde_json::from_str(&listed).expect("JSON");
        let codes: Vec<&str> =
            listed["3166-1"].as_array().expect("list").iter().filter_map(|c| c["alpha_2"].as_str()).collect();
        assert_eq!(codes.len(), super::ASSIGNED_COUNTRIES.split_whitespace().count());
        for code in codes {
            assert_eq!(super::country(code).as_deref(), Ok(code));
        }
    }

    use super::*;

    #[test]
    fn canonical_forms_and_suggestions() {
        assert_eq!(canonical("Warrant", &LEGAL_BASIS_KINDS, "legal basis"), Ok("warrant"));
        assert_eq!(canonical("MLA request", &LEGAL_BASIS_KINDS, "legal basis"), Ok("mla_request"));
        assert_eq!(canonical("evidence-custodian", &ROLES, "role"), Ok("evidence_custodian"));
        let typo = canonical("warant", &LEGAL_BASIS_KINDS, "legal basis").expect_err("typo");
        assert!(typo.contains("did you mean `warrant`"), "{typo}");
        let typo = canonical("exmainer", &ROLES, "role").expect_err("typo");
        assert!(typo.contains("did you mean `examiner`"), "{typo}");
        assert!(canonical("teleporter", &ROLES, "role").is_err_and(|e| !e.contains("did you mean")));
    }
}
