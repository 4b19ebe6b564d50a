//! Signed key registries: how one jurisdiction recognises another's examiners. An authority
//! publishes a registry of its keys (with validity windows and revocations) and signs it;
//! a policy names the registry and the authority's key, and trusts what verifies.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use custos_manifest::envelope::{SignatureFile, SignatureVerdict};
use custos_manifest::keys::KeyId;
use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use crate::load::{read_document, read_regular_file, signature_path, MAX_SIGNATURE_BYTES};
use crate::policy::{distinct_keys, PolicyError, RegistryRef, TrustedKey};

/// The DSSE payload type of key registries.
pub const REGISTRY_PAYLOAD_TYPE: &str = "application/vnd.custos.key-registry+json; version=1";
/// The DSSE payload type of policies.
pub const POLICY_PAYLOAD_TYPE: &str = "application/vnd.custos.policy+json; version=1";

/// A key registry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRegistry {
    /// Format version, 1.
    pub custos_key_registry: u64,
    /// A stable identifier.
    pub id: String,
    /// The issuing authority.
    pub issuer: String,
    /// Its jurisdiction.
    pub jurisdiction: String,
    /// When it was issued (RFC 3339).
    pub issued_at: String,
    /// The keys, with the same fields as a policy's trusted keys.
    pub keys: Vec<TrustedKey>,
}

/// Why a registry document is not a usable registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RegistryError {
    /// Where in the document (`$.keys[2].key_id`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl KeyRegistry {
    /// Parses a registry strictly and checks it as a policy's trusted keys are checked:
    /// every key entry well formed (key id, times, roles, jurisdiction), no key listed twice,
    /// no principal spelt two ways.
    pub fn parse(bytes: &[u8]) -> Result<KeyRegistry, RegistryError> {
        let registry: KeyRegistry = custos_manifest::strict_json::parse(bytes)
            .map_err(|e| RegistryError { path: "$".into(), message: e.to_string() })?;
        if registry.custos_key_registry != 1 {
            return Err(RegistryError {
                path: "$.custos_key_registry".into(),
                message: format!(
                    "unsupported registry version {} (this version of Custos reads version 1)",
                    registry.custos_key_registry
                ),
            });
        }
        if crate::time::parse_rfc3339(&registry.issued_at).is_none() {
            return Err(RegistryError { path: "$.issued_at".into(), message: "not an RFC 3339 time".into() });
        }
        let keys: Vec<(String, &TrustedKey)> =
            registry.keys.iter().enumerate().map(|(i, key)| (format!("$.keys[{i}]"), key)).collect();
        for (path, key) in &keys {
            key.validate(path).map_err(|(path, message)| RegistryError { path, message })?;
        }
        distinct_keys(&keys).map_err(|(path, message)| RegistryError { path, message })?;
        Ok(registry)
    }
}

/// Reads and verifies the registry at `path` that `reference` names: the issuer's key must
/// have the stated id and must have validly signed the registry's exact bytes; only then is
/// the registry parsed and its keys returned.
pub(crate) fn load_registry(path: &Path, reference: &RegistryRef) -> Result<KeyRegistry, PolicyError> {
    let fail = |message: String| PolicyError::Registry { path: path.display().to_string(), message };
    let issuer = BASE64
        .decode(&reference.issuer_public_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| fail("issuer_public_key is not an Ed25519 public key in base64".into()))?;
    if KeyId::of(&issuer).to_string() != reference.issuer_key_id {
        return Err(fail("issuer_public_key does not have the stated issuer_key_id".into()));
    }
    let unreadable = |e: PolicyError| match e {
        PolicyError::Unreadable { path, message } => fail(format!("{path} {message}")),
        other => other,
    };
    let bytes = read_document(path).map_err(unreadable)?;
    let signature_path = signature_path(path);
    let signatures =
        read_regular_file(&signature_path, MAX_SIGNATURE_BYTES).map_err(unreadable)?.ok_or_else(|| {
            fail(format!("its signature {} cannot be read: no such file", signature_path.display()))
        })?;
    let signatures = SignatureFile::parse(&signatures).map_err(|e| fail(e.to_string()))?;
    let verdicts = signatures
        .verify(REGISTRY_PAYLOAD_TYPE, &bytes, |id| (id == reference.issuer_key_id).then_some(issuer))
        .map_err(|e| fail(e.to_string()))?;
    if !verdicts.contains(&SignatureVerdict::Valid(KeyId::of(&issuer))) {
        return Err(fail("not validly signed by its issuer's key; none of its keys is trusted".into()));
    }
    KeyRegistry::parse(&bytes).map_err(|e| fail(e.to_string()))
}
