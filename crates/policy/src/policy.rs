//! The policy document.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::vocabulary::{country_code_error, is_country_code, member_path, quoted, Vocabulary};

/// Format version of policies this version writes and reads; version 1 is read too.
pub const POLICY_FORMAT: u64 = 2;

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
    #[error("unsupported policy format version {0} (this version of Custos reads versions 1 and 2)")]
    UnsupportedVersion(u64),
    /// A key registry that cannot be read or whose signature does not verify.
    #[error("key registry {path}: {message}")]
    Registry {
        /// The registry file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value that parses but cannot be right: an unknown name, a duplicate, a malformed
    /// code or time.
    #[error("{path}: {message}")]
    Invalid {
        /// Where in the document, as a JSON path (`$.signatures.roles_per_action.Sealed`).
        path: String,
        /// What is wrong, with the name probably meant when one is close.
        message: String,
    },
    /// A file that cannot be read safely: missing, unreadable, a symbolic link, not a
    /// regular file (a FIFO or device could block or never end), or too large.
    #[error("{path}: {message}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The policy's detached signature file (`POLICY.sig`) exists but does not vouch for
    /// these bytes: a signature does not verify (the policy was edited after signing), or
    /// the file is malformed or signs another kind of document.
    #[error("{path}: {message}")]
    Signature {
        /// The signature file.
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
    /// Trusted time: RFC 3161 tokens over signatures.
    #[serde(default)]
    pub time: Option<TimeRule>,
    /// Disclosures to other authorities (version 2).
    #[serde(default)]
    pub transfer: Option<TransferRule>,
    /// Notification of the enforcing state (version 2).
    #[serde(default)]
    pub notification: Option<NotificationRule>,
    /// Production deadlines per order kind (version 2).
    #[serde(default)]
    pub production: Option<ProductionRule>,
    /// The builds of Custos a lab validated (version 2).
    #[serde(default)]
    pub tools: Option<ToolsRule>,
}

/// The builds a lab validated: each custody event must have been signed by one of them, as
/// the event's `tool` states (its version, or the SHA-256 of its program file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsRule {
    /// Versions (`0.3.0`) or program SHA-256 digests (64 lowercase hex) approved.
    pub approved: Vec<String>,
    /// What the rule is modelled on.
    pub cite: String,
}

/// Disclosures to other authorities: each under an order in force, to a recipient the
/// policy trusts, with a retention date honoured (modelled on CETS 224 art. 14).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRule {
    /// The order kinds a disclosure may rely on (any recorded order, when empty).
    #[serde(default)]
    pub order_kinds: Vec<String>,
    /// Roles a recipient's key must hold in the policy's trusted keys (any trusted key, when
    /// empty).
    #[serde(default)]
    pub recipient_roles: Vec<String>,
    /// Every disclosure states until when the recipient may keep the data.
    #[serde(default)]
    pub retention_date_required: bool,
    /// What the rule is modelled on.
    pub cite: String,
}

/// Notification of the enforcing state before data is produced under some orders
/// (modelled on Regulation (EU) 2023/1543 art. 8).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationRule {
    /// The order kinds that need it.
    pub order_kinds: Vec<String>,
    /// The data categories that need it (every category, when empty).
    #[serde(default)]
    pub categories: Vec<String>,
    /// What the rule is modelled on.
    pub cite: String,
}

/// How soon data must be produced under an order, per order kind (modelled on Regulation
/// (EU) 2023/1543 art. 10).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductionRule {
    /// Order kind → hours from the order's `valid_from` within which a disclosure under it
    /// must be made.
    pub due_hours: BTreeMap<String, u64>,
    /// What the rule is modelled on.
    pub cite: String,
}

/// One kind of preservation order's periods (version 2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreservationPeriod {
    /// The shortest period an order of this kind may order, in days.
    #[serde(default)]
    pub min_days: Option<u64>,
    /// The longest, in days: preservation lapses this long after the order's `valid_from`
    /// unless extended or turned into production.
    pub max_days: u64,
    /// What each extension adds, in days (no extension allowed when absent).
    #[serde(default)]
    pub extension_days: Option<u64>,
    /// How many extensions are allowed (no limit when absent).
    #[serde(default)]
    pub max_extensions: Option<u64>,
}

/// Trusted time (RFC 3161 time-stamp tokens verified under a trusted TSA certificate).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRule {
    /// Whether every manifest signature and custody event needs a verified token.
    pub trusted_timestamps: TimestampRequirement,
    /// The most seconds a signer's claimed time may differ from the trusted time.
    #[serde(default)]
    pub max_skew_seconds: Option<u64>,
    /// Certificates (PEM or DER files, relative to the policy file) of the time-stamping
    /// authorities this jurisdiction trusts; used with any given by `--tsa-cert`.
    #[serde(default)]
    pub tsa_certificates: Vec<CertificateFile>,
    /// What the rule is modelled on.
    pub cite: String,
}

/// A certificate file a policy names: by its name alone (`"tsa-root.pem"`), or with its
/// SHA-256 (`{"file": "tsa-root.pem", "sha256": "…"}`), which binds the file's bytes to the
/// policy, so that a signature over the policy covers the certificate too.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CertificateFile {
    /// Named only: whoever can write the file chooses its content.
    Named(String),
    /// Named with the SHA-256 (lowercase hex) its bytes must have.
    Bound(BoundFile),
}

/// A file and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundFile {
    /// The file, relative to the policy file.
    pub file: String,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

impl CertificateFile {
    /// The file, relative to the policy file.
    pub fn file(&self) -> &str {
        match self {
            CertificateFile::Named(file) | CertificateFile::Bound(BoundFile { file, .. }) => file,
        }
    }

    /// The SHA-256 its bytes must have, when the policy binds it.
    pub fn sha256(&self) -> Option<&str> {
        match self {
            CertificateFile::Named(_) => None,
            CertificateFile::Bound(BoundFile { sha256, .. }) => Some(sha256),
        }
    }
}

/// `required` or `optional`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampRequirement {
    /// Every signature needs a verified token.
    Required,
    /// Tokens are checked where present.
    Optional,
}

/// Expedited preservation (modelled on the Budapest Convention art. 16: up to 90 days,
/// renewable).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreservationRule {
    /// Version 1: length of one preservation period, from sealing or from the last renewal.
    #[serde(default)]
    pub max_days: Option<u64>,
    /// Version 1: whether `preservation_renewed` events may extend it (each must come
    /// before expiry).
    #[serde(default)]
    pub renewable: bool,
    /// Version 2: the periods of each kind of preservation order (`epoc_pr`,
    /// `preservation_order`), counted from the recorded orders themselves.
    #[serde(default)]
    pub per_kind: BTreeMap<String, PreservationPeriod>,
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
    #[serde(default)]
    pub max_days: BTreeMap<String, u64>,
    /// Version 2: per category, the fewest days data must be kept after sealing before it
    /// may be returned or destroyed.
    #[serde(default)]
    pub min_days: BTreeMap<String, u64>,
    /// Version 2: how many principals other than the one who signed it must witness each
    /// return or destruction (`witnessed` events by keys the policy trusts).
    #[serde(default)]
    pub disposal_witnesses: u64,
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
    /// ISO 3166-1 alpha-2 code of the country where the key's holder keeps custody, as the
    /// policy's author (or the registry's issuer) establishes it. The storage rule reads the
    /// country from here, never from the event or the key file in the package, whose text
    /// the key's holder writes.
    #[serde(default)]
    pub jurisdiction: Option<String>,
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
    /// Version 2: for each custody action, the custody-form fields its events must carry
    /// (`seal_number`, `condition`, `storage`, `exhibit`, `occurred_at`, `location`,
    /// `country`, `purpose`, `note`).
    #[serde(default)]
    pub required_fields: BTreeMap<String, Vec<String>>,
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
    /// Version 2: every event that touches the data is covered by a recorded order of a
    /// kind `per_category` allows, for the data's categories, valid at the event's time.
    #[serde(default)]
    pub in_force: bool,
    /// For `content`, `traffic`, `subscriber`: the kinds of authority that suffice.
    #[serde(default)]
    pub per_category: BTreeMap<String, Vec<String>>,
    /// What the rule is modelled on.
    pub cite: String,
}

impl Policy {
    /// Parses a policy strictly, explaining mistakes with the JSON path and the line and
    /// column where they are. Beyond its shape, every name is checked against the
    /// vocabulary of this version and every list against duplicates (see
    /// `docs/formats/policy.md`, "Reading"): a mistake is refused, never read as a rule
    /// that matches nothing.
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
            if !(1..=POLICY_FORMAT).contains(&version) {
                return Err(PolicyError::UnsupportedVersion(version));
            }
        }
        let policy: Policy = serde_json::from_slice(bytes).map_err(|e| PolicyError::Syntax {
            path: locate(&e.to_string()),
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })?;
        policy.validate().map_err(|(path, message)| PolicyError::Invalid { path, message })?;
        Ok(policy)
    }

    /// Every check beyond the document's shape; the error is (JSON path, message).
    fn validate(&self) -> Result<(), (String, String)> {
        time("$.effective_from", &self.effective_from)?;
        self.validate_version_2()?;
        if let Some(rule) = &self.digests {
            names("$.digests.required_any", &rule.required_any, Vocabulary::Digest)?;
            names("$.digests.never_sole", &rule.never_sole, Vocabulary::Digest)?;
        }
        if let Some(rule) = &self.signatures {
            if rule.seal_threshold == 0 {
                return Err(("$.signatures.seal_threshold".into(), "must be at least 1".into()));
            }
            let listed: Vec<(String, &TrustedKey)> = rule
                .trusted_keys
                .iter()
                .enumerate()
                .map(|(i, key)| (format!("$.signatures.trusted_keys[{i}]"), key))
                .collect();
            for (path, key) in &listed {
                key.validate(path)?;
            }
            distinct_keys(&listed)?;
            let mut paths = BTreeMap::new();
            for (i, registry) in rule.registries.iter().enumerate() {
                let path = format!("$.signatures.registries[{i}]");
                if registry.path.trim().is_empty() {
                    return Err((format!("{path}.path"), "must name the registry file".into()));
                }
                if let Some(first) = paths.insert(registry.path.as_str(), i) {
                    return Err((
                        format!("{path}.path"),
                        format!(
                            "`{}` is already named at $.signatures.registries[{first}]",
                            quoted(&registry.path)
                        ),
                    ));
                }
                key_id(&format!("{path}.issuer_key_id"), &registry.issuer_key_id)?;
            }
            for (action, roles) in &rule.roles_per_action {
                let path = member_path("$.signatures.roles_per_action", action);
                Vocabulary::Action.check(action).map_err(|message| (path.clone(), message))?;
                role_list(&path, roles)?;
            }
        }
        if let Some(rule) = &self.custody {
            names("$.custody.start_with", &rule.start_with, Vocabulary::Action)?;
        }
        if let Some(rule) = &self.legal_basis {
            for (category, kinds) in &rule.per_category {
                let path = member_path("$.legal_basis.per_category", category);
                Vocabulary::Category.check(category).map_err(|message| (path.clone(), message))?;
                distinct(&path, kinds)?;
                for (i, kind) in kinds.iter().enumerate() {
                    // The manifest's own rule for kinds (`--legal-basis KIND:REF`): a kind
                    // spelt otherwise could never be recorded, so the rule could never pass
                    // and the mistake would only show as an unexplained failure.
                    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                        let lower = kind.to_lowercase().replace([' ', '-'], "_");
                        let hint = if !lower.is_empty()
                            && lower.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                        {
                            format!(" (did you mean `{lower}`?)")
                        } else {
                            String::new()
                        };
                        return Err((
                            format!("{path}[{i}]"),
                            format!(
                                "`{}` is not a legal-basis kind: kinds are lower_case (warrant, production_order, mla_request, …){hint}",
                                quoted(kind)
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(rule) = &self.storage {
            distinct("$.storage.allowed_countries", &rule.allowed_countries)?;
            for (i, code) in rule.allowed_countries.iter().enumerate() {
                if !is_country_code(code) {
                    return Err((format!("$.storage.allowed_countries[{i}]"), country_code_error(code)));
                }
            }
        }
        if let Some(rule) = &self.retention {
            for (field, map) in [("max_days", &rule.max_days), ("min_days", &rule.min_days)] {
                for category in map.keys() {
                    let path = member_path(&format!("$.retention.{field}"), category);
                    Vocabulary::Category.check(category).map_err(|message| (path, message))?;
                }
            }
            for (category, min) in &rule.min_days {
                if rule.max_days.get(category).is_some_and(|max| max < min) {
                    return Err((
                        member_path("$.retention.min_days", category),
                        "is more than max_days for the same category: no day would be allowed".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The rules version 2 added: refused in a version 1 document (whose readers would
    /// refuse them as unknown keys), and checked against the vocabulary.
    fn validate_version_2(&self) -> Result<(), (String, String)> {
        let used: Vec<&str> = [
            ("$.transfer", self.transfer.is_some()),
            ("$.notification", self.notification.is_some()),
            ("$.production", self.production.is_some()),
            ("$.tools", self.tools.is_some()),
            ("$.legal_basis.in_force", self.legal_basis.as_ref().is_some_and(|r| r.in_force)),
            ("$.preservation.per_kind", self.preservation.as_ref().is_some_and(|r| !r.per_kind.is_empty())),
            (
                "$.custody.required_fields",
                self.custody.as_ref().is_some_and(|r| !r.required_fields.is_empty()),
            ),
            ("$.retention.min_days", self.retention.as_ref().is_some_and(|r| !r.min_days.is_empty())),
            (
                "$.retention.disposal_witnesses",
                self.retention.as_ref().is_some_and(|r| r.disposal_witnesses > 0),
            ),
        ]
        .into_iter()
        .filter_map(|(path, used)| used.then_some(path))
        .collect();
        if self.custos_policy < 2 {
            if let Some(path) = used.first() {
                return Err((
                    (*path).to_owned(),
                    "is a version 2 rule: write \"custos_policy\": 2 (version 2 also fails the storage rule for an event that states no country)".into(),
                ));
            }
        }
        if let Some(rule) = &self.preservation {
            match (rule.max_days, rule.per_kind.is_empty()) {
                (None, true) => {
                    return Err((
                        "$.preservation".into(),
                        "needs max_days (a period from sealing) or per_kind (periods per order kind)".into(),
                    ))
                }
                (Some(_), false) => {
                    return Err((
                        "$.preservation".into(),
                        "has both max_days and per_kind: preservation runs from sealing or from the orders, not both".into(),
                    ))
                }
                _ => {}
            }
            for (kind, period) in &rule.per_kind {
                let path = member_path("$.preservation.per_kind", kind);
                Vocabulary::OrderKind.check(kind).map_err(|message| (path.clone(), message))?;
                if period.min_days.is_some_and(|min| min > period.max_days) {
                    return Err((format!("{path}.min_days"), "is more than max_days".into()));
                }
                if period.max_extensions.is_some() && period.extension_days.is_none() {
                    return Err((format!("{path}.max_extensions"), "needs extension_days".into()));
                }
            }
        }
        if let Some(rule) = &self.transfer {
            names("$.transfer.order_kinds", &rule.order_kinds, Vocabulary::OrderKind)?;
            role_list("$.transfer.recipient_roles", &rule.recipient_roles)?;
        }
        if let Some(rule) = &self.notification {
            if rule.order_kinds.is_empty() {
                return Err((
                    "$.notification.order_kinds".into(),
                    "names no order kind: the rule would judge nothing".into(),
                ));
            }
            names("$.notification.order_kinds", &rule.order_kinds, Vocabulary::OrderKind)?;
            names("$.notification.categories", &rule.categories, Vocabulary::Category)?;
        }
        if let Some(rule) = &self.custody {
            for (action, fields) in &rule.required_fields {
                let path = member_path("$.custody.required_fields", action);
                Vocabulary::Action.check(action).map_err(|message| (path.clone(), message))?;
                names(&path, fields, Vocabulary::FormField)?;
            }
        }
        if let Some(rule) = &self.tools {
            if rule.approved.is_empty() {
                return Err(("$.tools.approved".into(), "names no build: every event would fail".into()));
            }
            for (i, entry) in rule.approved.iter().enumerate() {
                one_line(&format!("$.tools.approved[{i}]"), entry)?;
            }
            distinct("$.tools.approved", &rule.approved)?;
        }
        if let Some(rule) = &self.production {
            for kind in rule.due_hours.keys() {
                let path = member_path("$.production.due_hours", kind);
                Vocabulary::OrderKind.check(kind).map_err(|message| (path, message))?;
            }
        }
        Ok(())
    }

    /// Every key the policy trusts, directly or through a verified registry.
    pub fn trusted_keys(&self) -> impl Iterator<Item = &TrustedKey> {
        self.signatures.iter().flat_map(SignatureRule::all_trusted_keys)
    }
}

impl TrustedKey {
    /// Checks one entry of a policy's `trusted_keys` or a registry's `keys`; `path` is the
    /// entry's JSON path. The error is (JSON path, message).
    pub(crate) fn validate(&self, path: &str) -> Result<(), (String, String)> {
        key_id(&format!("{path}.key_id"), &self.key_id)?;
        one_line(&format!("{path}.principal"), &self.principal)?;
        role_list(&format!("{path}.roles"), &self.roles)?;
        let mut bounds = [None; 3];
        for (slot, (field, value)) in bounds.iter_mut().zip([
            ("valid_from", &self.valid_from),
            ("valid_until", &self.valid_until),
            ("revoked_at", &self.revoked_at),
        ]) {
            if let Some(text) = value {
                *slot = Some(time(&format!("{path}.{field}"), text)?);
            }
        }
        if let [Some(from), Some(until), _] = bounds {
            if until <= from {
                return Err((
                    format!("{path}.valid_until"),
                    "is not after valid_from: the key would never be trusted".into(),
                ));
            }
        }
        if let Some(code) = &self.jurisdiction {
            if !is_country_code(code) {
                return Err((format!("{path}.jurisdiction"), country_code_error(code)));
            }
        }
        Ok(())
    }
}

/// Refuses a key listed twice among `keys` (each with its JSON path), and two principals
/// written differently only in case or spacing.
///
/// One entry per key: with two, one would silently win (a revocation in the other ignored,
/// roles or jurisdiction taken from the wrong one). One spelling per principal: the seal
/// threshold counts distinct principals, so `Ada Examiner` and `ada examiner` would count
/// one person twice.
pub(crate) fn distinct_keys(keys: &[(String, &TrustedKey)]) -> Result<(), (String, String)> {
    let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
    let mut principals: BTreeMap<String, (&str, &str)> = BTreeMap::new();
    for (path, key) in keys {
        if let Some(first) = ids.insert(key.key_id.as_str(), path.as_str()) {
            return Err((
                format!("{path}.key_id"),
                format!(
                    "key {} is already listed at {first}: a key is listed once, so that one entry alone decides its roles, validity, revocation and jurisdiction",
                    key.key_id
                ),
            ));
        }
        let folded = key.principal.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        match principals.get(&folded) {
            Some((first, spelling)) if *spelling != key.principal => {
                return Err((
                    format!("{path}.principal"),
                    format!(
                        "`{}` differs from `{}` at {first} only in case or spacing: thresholds count principals by name, so write one principal one way",
                        quoted(&key.principal),
                        quoted(spelling)
                    ),
                ))
            }
            Some(_) => {}
            None => {
                principals.insert(folded, (path.as_str(), key.principal.as_str()));
            }
        }
    }
    Ok(())
}

/// An RFC 3339 time, as seconds since the epoch.
fn time(path: &str, text: &str) -> Result<i64, (String, String)> {
    crate::time::parse_rfc3339(text).ok_or_else(|| {
        (
            path.to_owned(),
            format!("`{}` is not an RFC 3339 time such as 2026-01-01T00:00:00+00:00, nor a date such as 2026-01-01", quoted(text)),
        )
    })
}

/// A key id: 64 lowercase hexadecimal digits.
fn key_id(path: &str, id: &str) -> Result<(), (String, String)> {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err((path.to_owned(), "must be 64 lowercase hexadecimal digits".into()));
    }
    Ok(())
}

/// Text shown to readers: not empty, one line, no surrounding spaces.
fn one_line(path: &str, text: &str) -> Result<(), (String, String)> {
    if text.trim().is_empty() || text.trim() != text || text.chars().any(char::is_control) {
        return Err((
            path.to_owned(),
            "must be non-empty text on one line, without surrounding spaces".into(),
        ));
    }
    Ok(())
}

/// Roles: free names (a policy's own, like the role line of key files), each one line,
/// none twice.
fn role_list(path: &str, roles: &[String]) -> Result<(), (String, String)> {
    for (i, role) in roles.iter().enumerate() {
        one_line(&format!("{path}[{i}]"), role)?;
    }
    distinct(path, roles)
}

/// Names from a vocabulary, none twice.
fn names(path: &str, list: &[String], vocabulary: Vocabulary) -> Result<(), (String, String)> {
    for (i, name) in list.iter().enumerate() {
        vocabulary.check(name).map_err(|message| (format!("{path}[{i}]"), message))?;
    }
    distinct(path, list)
}

/// Refuses an entry listed twice: harmless in itself, but a sign the list is not what its
/// author meant (a copy meant to be edited into another name).
fn distinct(path: &str, list: &[String]) -> Result<(), (String, String)> {
    let mut seen = BTreeMap::new();
    for (i, entry) in list.iter().enumerate() {
        if let Some(first) = seen.insert(entry.as_str(), i) {
            return Err((
                format!("{path}[{i}]"),
                format!("`{}` is already listed at {path}[{first}]", quoted(entry)),
            ));
        }
    }
    Ok(())
}

/// serde's messages name the field but not the path; recover what can be recovered.
fn locate(message: &str) -> String {
    match message.split('`').nth(1) {
        Some(field) => format!("$ (field `{field}`)"),
        None => "$".into(),
    }
}
