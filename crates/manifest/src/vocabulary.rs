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
