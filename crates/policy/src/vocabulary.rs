//! The names a policy may use, and how a mistake in one is explained.
//!
//! A policy names custody actions, data categories and digest algorithms. A name the
//! evaluator does not know would never match anything, so a misspelt name would silently
//! switch its rule off (`"Sealed"` in `roles_per_action` lets anyone seal; `"trafic"` in
//! `retention.max_days` sets no limit on traffic data). Every name is therefore checked
//! against the vocabulary of this version when the policy is read, and a mistake is refused
//! with its JSON path and, where one is close, the name that was probably meant.

use custos_manifest::custody::Action;
use custos_manifest::manifest::Category;

/// The snake_case name of a custody action, as events and policies spell it.
pub(crate) fn action_name(action: Action) -> &'static str {
    action.name()
}

/// Every custody action, for suggestions and error messages.
pub(crate) const ACTIONS: [Action; Action::ALL.len()] = Action::ALL;

/// The name of a data category, as manifests and policies spell it (exhaustive, as above).
pub(crate) fn category_name(category: Category) -> &'static str {
    category.name()
}

const CATEGORIES: [Category; Category::ALL.len()] = Category::ALL;

/// A kind of name a policy uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vocabulary {
    /// Custody actions (`sealed`, `fixity_verified`, …).
    Action,
    /// Data categories (`content`, `traffic`, `subscriber`).
    Category,
    /// Digest algorithms (`md5`, `sha1`, `sha256`, `sha512`, `blake3`).
    Digest,
    /// Kinds of recorded orders (`preservation_order`, `epoc_pr`, …).
    OrderKind,
    /// Fields of a custody event a policy may require (`seal_number`, `condition`, …).
    FormField,
}

/// The custody-event fields `custody.required_fields` may name.
pub(crate) const FORM_FIELDS: [&str; 9] = [
    "occurred_at",
    "seal_number",
    "condition",
    "storage",
    "exhibit",
    "location",
    "country",
    "purpose",
    "note",
];

impl Vocabulary {
    /// What the names are called in messages.
    fn what(self) -> &'static str {
        match self {
            Vocabulary::Action => "custody action",
            Vocabulary::Category => "data category",
            Vocabulary::Digest => "digest algorithm",
            Vocabulary::OrderKind => "order kind",
            Vocabulary::FormField => "custody event field",
        }
    }

    /// Every known name.
    pub(crate) fn names(self) -> Vec<&'static str> {
        match self {
            Vocabulary::Action => ACTIONS.into_iter().map(action_name).collect(),
            Vocabulary::Category => CATEGORIES.into_iter().map(category_name).collect(),
            Vocabulary::Digest => custos_hash::Algorithm::ALL.into_iter().map(|a| a.name()).collect(),
            Vocabulary::OrderKind => custos_manifest::order::ORDER_KINDS.to_vec(),
            Vocabulary::FormField => FORM_FIELDS.to_vec(),
        }
    }

    /// Whether `name` is known, exactly as spelt.
    fn knows(self, name: &str) -> bool {
        match self {
            // The manifest crate's own parser decides; the list above only feeds hints.
            Vocabulary::Action => Action::parse(name).is_some_and(|a| action_name(a) == name),
            Vocabulary::Category => CATEGORIES.into_iter().any(|c| category_name(c) == name),
            Vocabulary::Digest => custos_hash::Algorithm::ALL.into_iter().any(|a| a.name() == name),
            Vocabulary::OrderKind => custos_manifest::order::ORDER_KINDS.contains(&name),
            Vocabulary::FormField => FORM_FIELDS.contains(&name),
        }
    }

    /// `Ok` for a known name, else why not, with a hint when a known name is close.
    pub(crate) fn check(self, name: &str) -> Result<(), String> {
        if self.knows(name) {
            return Ok(());
        }
        let names = self.names();
        let hint = suggest(name, &names).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
        Err(format!(
            "unknown {} `{}`{hint}; this version knows {}",
            self.what(),
            quoted(name),
            names.join(", ")
        ))
    }
}

pub(crate) use custos_manifest::vocabulary::suggest;

/// A name from the document as it may be shown: control characters escaped, so that a
/// hostile name cannot rewrite the terminal, and very long names shortened.
pub(crate) fn quoted(name: &str) -> String {
    let mut shown: String = name.chars().take(80).flat_map(char::escape_debug).collect();
    if name.chars().count() > 80 {
        shown.push('…');
    }
    shown
}

/// `parent.key`, or `parent["key"]` when the key is not a plain identifier, so that the
/// path stays unambiguous whatever the key holds.
pub(crate) fn member_path(parent: &str, key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{parent}.{key}")
    } else {
        // `quoted` escapes quotes, backslashes and control characters.
        format!("{parent}[\"{}\"]", quoted(key))
    }
}

/// Whether `code` is written as an ISO 3166-1 alpha-2 code (two uppercase ASCII letters).
pub(crate) fn is_country_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// Why `code` is not an ISO 3166-1 alpha-2 code, with the uppercase form as a hint.
pub(crate) fn country_code_error(code: &str) -> String {
    let upper = code.to_ascii_uppercase();
    let hint = if is_country_code(&upper) { format!(" (did you mean `{upper}`?)") } else { String::new() };
    format!(
        "`{}` is not an ISO 3166-1 alpha-2 code (two uppercase letters such as DE or KE){hint}",
        quoted(code)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_name_is_the_manifest_crate_s_name() {
        for action in ACTIONS {
            assert_eq!(Action::parse(action_name(action)), Some(action), "{action:?}");
            let serialised = serde_json::to_value(action).expect("serialises");
            assert_eq!(serialised.as_str(), Some(action_name(action)));
        }
    }

    #[test]
    fn every_category_name_is_the_manifest_crate_s_name() {
        for category in CATEGORIES {
            let serialised = serde_json::to_value(category).expect("serialises");
            assert_eq!(serialised.as_str(), Some(category_name(category)));
        }
    }

    #[test]
    fn suggestions_for_case_and_typos() {
        let actions = Vocabulary::Action.names();
        assert_eq!(suggest("Sealed", &actions), Some("sealed"));
        assert_eq!(suggest("SEALED", &actions), Some("sealed"));
        assert_eq!(suggest("fixity_verifed", &actions), Some("fixity_verified"));
        assert_eq!(suggest("teleported", &actions), None);
        let categories = Vocabulary::Category.names();
        assert_eq!(suggest("trafic", &categories), Some("traffic"));
        let digests = Vocabulary::Digest.names();
        assert_eq!(suggest("sha-256", &digests), Some("sha256"));
        assert_eq!(suggest("SHA256", &digests), Some("sha256"));
        assert_eq!(suggest(&"x".repeat(10_000), &digests), None);
        assert_eq!(suggest("", &digests), None);
    }

    #[test]
    fn checks_are_exact() {
        assert!(Vocabulary::Action.check("sealed").is_ok());
        assert!(Vocabulary::Action.check("Sealed").is_err());
        assert!(Vocabulary::Action.check(" sealed").is_err());
        assert!(Vocabulary::Category.check("traffic").is_ok());
        assert!(Vocabulary::Category.check("Traffic").is_err());
        assert!(Vocabulary::Digest.check("blake3").is_ok());
        assert!(Vocabulary::Digest.check("b3").is_err());
        let message = Vocabulary::Category.check("trafic").expect_err("typo");
        assert!(message.contains("did you mean `traffic`?"), "{message}");
    }

    #[test]
    fn paths_and_quoting_stay_unambiguous() {
        assert_eq!(member_path("$.a", "Sealed"), "$.a.Sealed");
        assert_eq!(member_path("$.a", "two words"), "$.a[\"two words\"]");
        assert_eq!(member_path("$.a", "\u{1b}[2J"), "$.a[\"\\u{1b}[2J\"]");
        assert_eq!(member_path("$.a", "x\"]"), "$.a[\"x\\\"]\"]");
        assert_eq!(quoted("a\nb"), "a\\nb");
        assert!(quoted(&"é".repeat(500)).ends_with('…'));
    }
}
