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

use crate::policy::{Policy, PolicyError, RegistryRef, TrustedKey};

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

impl Policy {
    /// Reads a policy file and every key registry it names (relative to the policy's
    /// folder), verifying each registry's signature by its issuer before trusting its keys.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let bytes = std::fs::read(path)
            .map_err(|e| PolicyError::Invalid { path: path.display().to_string(), message: e.to_string() })?;
        let mut policy = Policy::parse(&bytes)?;
        let folder = path.parent().unwrap_or(Path::new("."));
        if let Some(rule) = policy.signatures.as_mut() {
            for reference in rule.registries.clone() {
                let registry = load_registry(&folder.join(&reference.path), &reference)?;
                rule.registry_keys.extend(registry.keys);
            }
        }
        Ok(policy)
    }
}

fn load_registry(path: &Path, reference: &RegistryRef) -> Result<KeyRegistry, PolicyError> {
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
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let signature_path = format!("{}.sig", path.display());
    let signatures = std::fs::read(&signature_path)
        .map_err(|e| fail(format!("its signature {signature_path} cannot be read: {e}")))?;
    let signatures = SignatureFile::parse(&signatures).map_err(|e| fail(e.to_string()))?;
    let verdicts = signatures
        .verify(REGISTRY_PAYLOAD_TYPE, &bytes, |id| (id == reference.issuer_key_id).then_some(issuer))
        .map_err(|e| fail(e.to_string()))?;
    if !verdicts.contains(&SignatureVerdict::Valid(KeyId::of(&issuer))) {
        return Err(fail("not validly signed by its issuer's key; none of its keys is trusted".into()));
    }
    let registry: KeyRegistry =
        custos_manifest::strict_json::parse(&bytes).map_err(|e| fail(e.to_string()))?;
    if registry.custos_key_registry != 1 {
        return Err(fail(format!("unsupported registry version {}", registry.custos_key_registry)));
    }
    Ok(registry)
}
