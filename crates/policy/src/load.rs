//! Reading a policy from disk: its bytes, its detached signatures, its key registries.
//!
//! Files are read without following a final symbolic link, without blocking, only when they
//! are regular files, and up to a size cap: a policy folder may have been prepared by
//! someone else, and a FIFO would hang the reader, `/dev/zero` would exhaust its memory.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use custos_manifest::envelope::{SignatureFile, SignatureVerdict};
use custos_manifest::keys::PublicKey;
use serde::Serialize;

use crate::policy::{distinct_keys, Policy, PolicyError, TrustedKey};
use crate::registry::{load_registry, POLICY_PAYLOAD_TYPE};
use crate::vocabulary::quoted;

/// The largest policy or key registry read (far above any real one).
pub const MAX_DOCUMENT_BYTES: u64 = 4 << 20;
/// The largest detached signature file read (thousands of signatures).
pub const MAX_SIGNATURE_BYTES: u64 = 1 << 20;

/// A policy as loaded from its file, with what its detached signatures established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedPolicy {
    /// The policy, with the keys of its verified registries.
    pub policy: Policy,
    /// Who signed the policy's exact bytes.
    pub signature: PolicySignature,
}

/// Who vouches for a policy's bytes. There is no state for a signature that does not
/// verify: such a policy is refused when loaded ([`PolicyError::Signature`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PolicySignature {
    /// No `POLICY.sig` beside the policy.
    Unsigned,
    /// Signed by these keys, each given by the caller as trusted, each signature valid over
    /// the policy's exact bytes. Signatures by other keys may be present as well.
    #[serde(rename = "signed")]
    SignedBy {
        /// The trusted signers, in the order of the signature file, each once.
        signers: Vec<PolicySigner>,
    },
    /// Signatures are present, but none by a key the caller trusts: nobody given could
    /// check them, so they vouch for nothing.
    #[serde(rename = "unknown_key")]
    SignedByUnknownKey {
        /// The key ids the signatures name, each once.
        key_ids: Vec<String>,
    },
}

impl PolicySignature {
    /// Whether a trusted key validly signed the policy.
    pub fn is_trusted(&self) -> bool {
        matches!(self, PolicySignature::SignedBy { .. })
    }
}

/// A trusted key that validly signed a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicySigner {
    /// Its key id.
    pub key_id: String,
    /// Its holder's name, from the trusted public key file the caller gave.
    pub name: String,
}

impl Policy {
    /// Reads a policy file and every key registry it names (relative to the policy's
    /// folder), verifying each registry's signature by its issuer before trusting its keys.
    /// The policy's own signatures are checked as by [`Policy::load_checked`] with no trusted
    /// key: a malformed `POLICY.sig` is refused; who signed is not reported.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        Policy::load_checked(path, &[]).map(|loaded| loaded.policy)
    }

    /// Reads a policy file, its detached signatures (`POLICY.sig`, if present) and every
    /// key registry it names.
    ///
    /// Each signature is checked over the exact bytes that are then parsed, under the key in
    /// `trusted` with its key id. Loading fails when the signature file is malformed, signs
    /// another kind of document, holds no signature, or holds a signature that does not
    /// verify under the trusted key it names (the policy was edited after signing).
    /// Signatures by keys not in `trusted` cannot be checked: they make the policy
    /// [`PolicySignature::SignedByUnknownKey`] when no trusted key signed.
    pub fn load_checked(path: &Path, trusted: &[PublicKey]) -> Result<LoadedPolicy, PolicyError> {
        let bytes = read_document(path)?;
        // The signature first: an edited policy is reported as edited, whatever the edit broke.
        let signature = check_signatures(path, &bytes, trusted)?;
        let mut policy = Policy::parse(&bytes)?;
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if let Some(rule) = policy.signatures.as_mut() {
            let mut registry_keys: Vec<(String, TrustedKey)> = Vec::new();
            for (i, reference) in rule.registries.iter().enumerate() {
                let registry = load_registry(&folder.join(&reference.path), reference)?;
                registry_keys.extend(registry.keys.into_iter().enumerate().map(|(j, key)| {
                    (format!("$.signatures.registries[{i}] → {} $.keys[{j}]", quoted(&reference.path)), key)
                }));
            }
            // Across the policy and all its registries, each key once (see `distinct_keys`).
            let everything: Vec<(String, &TrustedKey)> = rule
                .trusted_keys
                .iter()
                .enumerate()
                .map(|(i, key)| (format!("$.signatures.trusted_keys[{i}]"), key))
                .chain(registry_keys.iter().map(|(path, key)| (path.clone(), key)))
                .collect();
            distinct_keys(&everything).map_err(|(path, message)| PolicyError::Invalid { path, message })?;
            rule.registry_keys = registry_keys.into_iter().map(|(_, key)| key).collect();
        }
        Ok(LoadedPolicy { policy, signature })
    }
}

/// `PATH.sig`.
pub(crate) fn signature_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".sig");
    PathBuf::from(name)
}

/// What the policy's signature file says about `bytes`.
fn check_signatures(
    path: &Path,
    bytes: &[u8],
    trusted: &[PublicKey],
) -> Result<PolicySignature, PolicyError> {
    let signature_path = signature_path(path);
    let fail =
        |message: String| PolicyError::Signature { path: signature_path.display().to_string(), message };
    let Some(text) = read_regular_file(&signature_path, MAX_SIGNATURE_BYTES)? else {
        return Ok(PolicySignature::Unsigned);
    };
    let file = SignatureFile::parse(&text).map_err(|e| fail(format!("not a signature file: {e}")))?;
    if file.payload_type != POLICY_PAYLOAD_TYPE {
        return Err(fail(format!(
            "signs a document of type `{}`, not a policy (`{POLICY_PAYLOAD_TYPE}`)",
            quoted(&file.payload_type)
        )));
    }
    if file.signatures.is_empty() {
        return Err(fail("holds no signature".into()));
    }
    // Every entry must at least be well formed, trusted or not: a damaged entry is a
    // damaged file, not an unknown signer.
    for (i, entry) in file.signatures.iter().enumerate() {
        let id_ok = entry.key_id.len() == 64
            && entry.key_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        let signature_ok = BASE64.decode(&entry.sig).is_ok_and(|raw| raw.len() == 64);
        if !id_ok || !signature_ok {
            return Err(fail(format!(
                "signature {i} is malformed (a key id of 64 hex digits and 64 bytes of base64 expected)"
            )));
        }
    }
    let by_id: BTreeMap<String, &PublicKey> = trusted.iter().map(|key| (key.id().to_string(), key)).collect();
    let verdicts = file
        .verify(POLICY_PAYLOAD_TYPE, bytes, |id| by_id.get(id).map(|key| key.key))
        .map_err(|e| fail(e.to_string()))?;
    let mut signers: Vec<PolicySigner> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for verdict in verdicts {
        match verdict {
            SignatureVerdict::Valid(id) => {
                let key_id = id.to_string();
                if !signers.iter().any(|s| s.key_id == key_id) {
                    let name = by_id.get(&key_id).map(|key| key.owner.name.clone()).unwrap_or_default();
                    signers.push(PolicySigner { key_id, name });
                }
            }
            SignatureVerdict::Invalid(id) => {
                let name = by_id.get(&id.to_string()).map(|key| key.owner.name.as_str()).unwrap_or_default();
                return Err(fail(format!(
                    "the signature by {name} ({id}) does not verify over {}: the policy was changed after it was signed, or the signature was damaged",
                    path.display()
                )));
            }
            SignatureVerdict::Malformed(id) => {
                return Err(fail(format!("the signature by {id} is malformed")))
            }
            SignatureVerdict::UnknownKey(id) => {
                if !unknown.contains(&id) {
                    unknown.push(id);
                }
            }
        }
    }
    Ok(if !signers.is_empty() {
        PolicySignature::SignedBy { signers }
    } else {
        PolicySignature::SignedByUnknownKey { key_ids: unknown }
    })
}

/// A policy or registry's bytes; a missing file is an error.
pub(crate) fn read_document(path: &Path) -> Result<Vec<u8>, PolicyError> {
    read_regular_file(path, MAX_DOCUMENT_BYTES)?.ok_or_else(|| PolicyError::Unreadable {
        path: path.display().to_string(),
        message: "no such file".into(),
    })
}

/// Reads a regular file of at most `limit` bytes: `Ok(None)` when it does not exist.
/// A symbolic link (as the last component), a FIFO, a device, a directory or a larger file
/// is refused ([`PolicyError::Unreadable`]) before anything is read from it. This is how
/// policies, registries and their signature files are read.
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, PolicyError> {
    let fail = |message: String| PolicyError::Unreadable { path: path.display().to_string(), message };
    let file = match OpenOptions::new()
        .read(true)
        // No following a final symbolic link, and no waiting for a FIFO's writer.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(fail("is a symbolic link; give the file itself".into()))
        }
        Err(e) => return Err(fail(format!("cannot be opened: {e}"))),
    };
    let metadata = file.metadata().map_err(|e| fail(format!("cannot be examined: {e}")))?;
    if !metadata.is_file() {
        return Err(fail("is not a regular file (a directory, FIFO, socket or device)".into()));
    }
    if metadata.len() > limit {
        return Err(fail(format!("is larger than {limit} bytes")));
    }
    let mut bytes = Vec::new();
    // The cap holds even if the file grows after it was examined.
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| fail(format!("cannot be read: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(fail(format!("is larger than {limit} bytes")));
    }
    Ok(Some(bytes))
}
