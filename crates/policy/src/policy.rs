//! The policy document.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Format version of policies.
pub const POLICY_FORMAT: u64 = 1;

/// Why a policy could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not strict JSON, or not of the policy's shape; the message names the JSON path.
    #[error("{path}: {message} (line {line}, column {column})")]
    Syntax {
        /// Where in the document (`$.signatures.trusted_keys[0].principal`), as far as known.
        path: String,
        /// What is wrong.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A version this build does not know.
    #[error("unsupported policy format version {0} (this version of Custos reads version 1)")]
    UnsupportedVersion(u64),
    /// A key registry that cannot be read or whose signature does not verify.
    #[error("key registry {path}: {message}")]
    Registry {
        /// The registry file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value that parses but cannot be right.
    #[error("{path}: {message}")]
    Invalid {
        /// Where.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// A jurisdiction's rules. Every rule group is optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Format version, [`POLICY_FORMAT`].
    pub custos_policy: u64,
    /// A stable identifier (`xa-legacy-court-2026`).
    pub id: String,
    /// The jurisdiction's code (fictional ones in the examples).
    pub jurisdiction: String,
    /// A readable name.
    pub name: String,
    /// From when the policy applies (RFC 3339).
    pub effective_from: String,
    /// Which digests are accepted.
    #[serde(default)]
    pub digests: Option<DigestRule>,
    /// Who may sign, and how many principals must seal.
    #[serde(default)]
    pub signatures: Option<SignatureRule>,
    /// Continuity of custody.
    #[serde(default)]
    pub custody: Option<CustodyRule>,
    /// Legal authority per data category.
    #[serde(default)]
    pub legal_basis: Option<LegalBasisRule>,
    /// Expedited preservation periods and their renewals.
    #[serde(default)]
    pub preservation: Option<PreservationRule>,
    /// Where custody may be held.
    #[serde(default)]
    pub storage: Option<StorageRule>,
    /// How long data of each category may be kept.
    #[serde(default)]
    pub retention: Option<RetentionRule>,
}

/// Expedited preservation (modelled on the Budapest Convention art. 16: up to 90 days,
/// renewable).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreservationRule {
    /// Length of one preservation period, from sealing or from the last renewal.
    pub max_days: u64,
    /// Whether `preservation_renewed` events may extend it (each must come before expiry).
    #[serde(default)]
    pub renewable: bool,
    /// What the rule is modelled on.
    pub cite: String,
}

/// Data localisation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageRule {
    /// ISO 3166-1 alpha-2 codes where custody may be held.
    pub allowed_countries: Vec<String>,
    /// What the rule is modelled on.
    pub cite: String,
}

/// Retention limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// For `content`, `traffic`, `subscriber`: the most days data may be kept after sealing.
    pub max_days: BTreeMap<String, u64>,
    /// Whether a `destroyed` or `returned` event must follow once the limit is reached.
    #[serde(default)]
    pub disposal_required: bool,
    /// What the rule is modelled on.
    pub cite: String,
}

/// Accepted digests.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestRule {
    /// At least one of these must be recorded for every item.
    #[serde(default)]
    pub required_any: Vec<String>,
    /// These never count alone (MD5, SHA-1: forgeable).
    #[serde(default)]
    pub never_sole: Vec<String>,
    /// What the rule is modelled on.
    pub cite: String,
}

/// A key the policy trusts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    /// The key id (hex SHA-256 of the raw public key).
    pub key_id: String,
    /// The person or office it belongs to; thresholds count principals, not keys.
    pub principal: String,
    /// Roles the key may act in.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Trusted from (RFC 3339), if limited.
    #[serde(default)]
    pub valid_from: Option<String>,
    /// Trusted until (exclusive), if limited.
    #[serde(default)]
    pub valid_until: Option<String>,
    /// Revoked at: nothing signed at or after this time counts.
    #[serde(default)]
    pub revoked_at: Option<String>,
}

/// Signers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureRule {
    /// The keys this jurisdiction trusts directly.
    #[serde(default)]
    pub trusted_keys: Vec<TrustedKey>,
    /// Signed key registries of other authorities whose keys this jurisdiction recognises.
    #[serde(default)]
    pub registries: Vec<RegistryRef>,
    /// Keys taken from verified registries by [`Policy::load`]; not part of the document.
    #[serde(skip)]
    pub registry_keys: Vec<TrustedKey>,
    /// Distinct principals that must have signed the manifest (default 1).
    #[serde(default = "one")]
    pub seal_threshold: u64,
    /// For each custody action, the roles allowed to perform it.
    #[serde(default)]
    pub roles_per_action: BTreeMap<String, Vec<String>>,
    /// What the rule is modelled on.
    pub cite: String,
}

fn one() -> u64 {
    1
}

/// A key registry the policy recognises, and the key its issuer signs it with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryRef {
    /// The registry file, relative to the policy file; its signatures are in `PATH.sig`.
    pub path: String,
    /// The issuing authority's key id.
    pub issuer_key_id: String,
    /// The issuing authority's raw Ed25519 public key, standard base64; its SHA-256 must be
    /// `issuer_key_id`.
    pub issuer_public_key: String,
}

impl SignatureRule {
    /// Every key the rule trusts: its own, then those of verified registries.
    pub fn all_trusted_keys(&self) -> impl Iterator<Item = &TrustedKey> {
        self.trusted_keys.iter().chain(&self.registry_keys)
    }
}

/// Continuity of custody.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodyRule {
    /// Longest allowed time between two consecutive events, in days.
    #[serde(default)]
    pub max_gap_days: Option<u64>,
    /// Every release must have been accepted by its receiver.
    #[serde(default)]
    pub require_acceptance: bool,
    /// The actions a log may start with.
    #[serde(default)]
    pub start_with: Vec<String>,
    /// What the rule is modelled on.
    pub cite: String,
}

/// Legal authority.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasisRule {
    /// A legal basis must be recorded at all.
    #[serde(default)]
    pub required: bool,
    /// For `content`, `traffic`, `subscriber`: the kinds of authority that suffice.
    #[serde(default)]
    pub per_category: BTreeMap<String, Vec<String>>,
    /// What the rule is modelled on.
    pub cite: String,
}

impl Policy {
    /// Parses a policy strictly, explaining mistakes with the JSON path and the line and
    /// column where they are.
    pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
        custos_manifest::strict_json::check(bytes).map_err(|e| PolicyError::Syntax {
            path: "$".into(),
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })?;
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| PolicyError::Syntax {
            path: "$".into(),
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })?;
        if let Some(version) = value.get("custos_policy").and_then(serde_json::Value::as_u64) {
            if version != POLICY_FORMAT {
                return Err(PolicyError::UnsupportedVersion(version));
            }
        }
        let policy: Policy = serde_json::from_slice(bytes).map_err(|e| PolicyError::Syntax {
            path: locate(&e.to_string()),
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })?;
        policy.validate()?;
        Ok(policy)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let invalid = |path: &str, message: &str| {
            Err(PolicyError::Invalid { path: path.into(), message: message.into() })
        };
        if crate::time::parse_rfc3339(&self.effective_from).is_none() {
            return invalid("$.effective_from", "not an RFC 3339 time such as 2026-01-01T00:00:00+00:00");
        }
        if let Some(rule) = &self.signatures {
            if rule.seal_threshold == 0 {
                return invalid("$.signatures.seal_threshold", "must be at least 1");
            }
            for (i, key) in rule.trusted_keys.iter().enumerate() {
                let path = format!("$.signatures.trusted_keys[{i}]");
                if key.key_id.len() != 64
                    || !key.key_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    return invalid(&format!("{path}.key_id"), "must be 64 lowercase hexadecimal digits");
                }
                for (field, value) in [
                    ("valid_from", &key.valid_from),
                    ("valid_until", &key.valid_until),
                    ("revoked_at", &key.revoked_at),
                ] {
                    if value.as_deref().is_some_and(|t| crate::time::parse_rfc3339(t).is_none()) {
                        return invalid(&format!("{path}.{field}"), "not an RFC 3339 time");
                    }
                }
            }
        }
        Ok(())
    }
}

/// serde's messages name the field but not the path; recover what can be recovered.
fn locate(message: &str) -> String {
    match message.split('`').nth(1) {
        Some(field) => format!("$ (field `{field}`)"),
        None => "$".into(),
    }
}
