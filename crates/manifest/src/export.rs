//! Exports that let a court confirm key facts with tools it already trusts, without Custos:
//! checksum files for `sha256sum -c` and `b3sum --check`, and a minisign signature of the
//! manifest (`minisign -Vm custos/manifest.json -p KEY.minisign.pub`).
//!
//! The minisign signature is made with the same Ed25519 key as the Custos signature, in
//! minisign's legacy (non-prehashed) form: a signature over the manifest's raw bytes, plus
//! minisign's global signature over that signature and the trusted comment. Custos' own
//! signatures are over `DSSEv1 …`-prefixed messages, which a JSON manifest can never equal,
//! so neither kind can stand in for the other.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::envelope::{SignatureFile, SignatureVerdict};
use crate::keys::{KeyId, PublicKey};
use crate::manifest::{Manifest, MANIFEST_PAYLOAD_TYPE};
use crate::package::{KEYS_DIR, MANIFEST_PATH, MANIFEST_SIGNATURES_PATH};
use crate::store::{PackageDir, PackageStore, StoreError, MAX_TAG_FILE_BYTES};
use crate::Error;

/// Where the minisign signature is written: where `minisign -Vm custos/manifest.json` looks.
pub const MINISIGN_SIGNATURE_PATH: &str = "custos/manifest.json.minisig";

/// minisign's 8-byte key id for a Custos key: the first 8 bytes of its key id.
fn minisign_key_id(key: &VerifyingKey) -> [u8; 8] {
    let digest = Sha256::digest(key.as_bytes());
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    id
}

/// A minisign public key file for `key`.
pub fn minisign_public_key(key: &PublicKey) -> String {
    let id = minisign_key_id(&key.key);
    let mut blob = b"Ed".to_vec();
    blob.extend_from_slice(&id);
    blob.extend_from_slice(key.key.as_bytes());
    format!(
        "untrusted comment: minisign public key of {} (custos key {})\n{}\n",
        key.owner.name,
        key.id(),
        BASE64.encode(blob)
    )
}

/// A minisign signature file over `message`.
pub fn minisign_signature(
    secret: &SigningKey,
    message: &[u8],
    trusted_comment: &str,
) -> Result<String, Error> {
    if trusted_comment.contains(['\n', '\r']) {
        return Err(Error::Package("a minisign trusted comment is one line".into()));
    }
    let signature = secret.sign(message).to_bytes();
    let mut blob = b"Ed".to_vec();
    blob.extend_from_slice(&minisign_key_id(&secret.verifying_key()));
    blob.extend_from_slice(&signature);
    let mut global = signature.to_vec();
    global.extend_from_slice(trusted_comment.as_bytes());
    let global_signature = secret.sign(&global).to_bytes();
    Ok(format!(
        "untrusted comment: custos manifest signature\n{}\ntrusted comment: {trusted_comment}\n{}\n",
        BASE64.encode(blob),
        BASE64.encode(global_signature)
    ))
}

/// Writes `custos/manifest.json.minisig` and `custos/keys/KEYID.minisign.pub`, then refreshes
/// the tag manifests. The key must be one that validly signed the manifest.
pub fn export_minisign(package: &Path, secret: &SigningKey, public: &PublicKey) -> Result<(), Error> {
    let failed = |what: &str, e: StoreError| Error::Package(format!("{what}: {e}"));
    let store = PackageDir::open(package).map_err(|e| failed("cannot open the package", e))?;
    store
        .check_layout()
        .map_err(|e| failed("refusing to write to a package that holds links or special files", e))?;
    // The custody appends' exclusive lock: the tag manifests are rewritten below.
    let _lock = store.write_lock().map_err(|e| failed("cannot lock the package", e))?;
    // What an earlier, interrupted write left is removed before the tag manifests are made.
    store
        .remove_temporaries()
        .map_err(|e| failed("cannot remove a temporary file left by an interrupted command", e))?;
    let manifest = store
        .read_small(MANIFEST_PATH, MAX_TAG_FILE_BYTES)
        .map_err(|e| failed("cannot read the manifest", e))?;
    let signatures = SignatureFile::parse(
        &store
            .read_small(MANIFEST_SIGNATURES_PATH, MAX_TAG_FILE_BYTES)
            .map_err(|e| failed("cannot read the signatures", e))?,
    )?;
    let verdicts = signatures.verify(MANIFEST_PAYLOAD_TYPE, &manifest, |id| {
        (id == public.id().to_string()).then_some(public.key)
    })?;
    if !verdicts.contains(&SignatureVerdict::Valid(KeyId::of(&public.key))) {
        return Err(Error::Package(format!(
            "{} did not sign this manifest; only a signer can export its signature",
            public.owner.name
        )));
    }
    let parsed = Manifest::parse(&manifest)?;
    let comment = format!(
        "custos manifest, case {}, signed by {} (key {})",
        parsed.case.reference,
        public.owner.name,
        public.id()
    );
    let comment: String = comment.chars().filter(|c| !c.is_control()).collect();
    store
        .replace(MINISIGN_SIGNATURE_PATH, minisign_signature(secret, &manifest, &comment)?.as_bytes())
        .map_err(|e| failed("cannot write the minisign signature", e))?;
    store
        .replace(&format!("{KEYS_DIR}/{}.minisign.pub", public.id()), minisign_public_key(public).as_bytes())
        .map_err(|e| failed("cannot write the minisign public key", e))?;
    crate::package::refresh_tag_manifests(&store)
}

/// Whether a `KEYID.minisign.pub` file's text carries exactly `key` (its comment line is
/// free text; the key line is what minisign uses).
pub fn minisign_public_key_matches(text: &str, key: &VerifyingKey) -> bool {
    let mut expected = b"Ed".to_vec();
    expected.extend_from_slice(&minisign_key_id(key));
    expected.extend_from_slice(key.as_bytes());
    let lines: Vec<&str> = text.lines().collect();
    matches!(lines.as_slice(), [comment, blob] if comment.starts_with("untrusted comment: ") && BASE64.decode(blob).is_ok_and(|b| b == expected))
}

/// Verifies a minisign signature file over `message` (legacy Ed25519, as
/// [`minisign_signature`] writes it) with the key `keys` finds for its 8-byte key id.
/// Returns the key and the trusted comment, or what is wrong.
pub fn verify_minisign(
    text: &str,
    message: &[u8],
    keys: impl Fn(&[u8; 8]) -> Option<VerifyingKey>,
) -> Result<(VerifyingKey, String), String> {
    let lines: Vec<&str> = text.lines().collect();
    let [comment, blob, trusted, global] = lines.as_slice() else {
        return Err("not four lines".into());
    };
    let trusted = trusted.strip_prefix("trusted comment: ").ok_or("no trusted comment")?;
    if !comment.starts_with("untrusted comment: ") {
        return Err("no untrusted comment line".into());
    }
    let blob = BASE64.decode(blob).map_err(|_| "the signature line is not base64")?;
    let (algorithm, rest) = blob.split_at_checked(2).ok_or("too short")?;
    if algorithm != b"Ed" || rest.len() != 8 + 64 {
        return Err("not a legacy Ed25519 minisign signature".into());
    }
    let id: [u8; 8] = rest[..8].try_into().map_err(|_| "too short")?;
    let key = keys(&id).ok_or("made by none of the keys it was checked against")?;
    let signature = ed25519_dalek::Signature::from_slice(&rest[8..]).map_err(|_| "malformed signature")?;
    key.verify_strict(message, &signature).map_err(|_| "does not verify over the signed file's bytes")?;
    let global = BASE64.decode(global).map_err(|_| "the global signature is not base64")?;
    let global = ed25519_dalek::Signature::from_slice(&global).map_err(|_| "malformed global signature")?;
    let mut signed = rest[8..].to_vec();
    signed.extend_from_slice(trusted.as_bytes());
    key.verify_strict(&signed, &global).map_err(|_| "the trusted comment was altered")?;
    Ok((key, trusted.to_owned()))
}

/// `SHA256SUMS` and, where items have BLAKE3 digests, `B3SUMS` text for the files that hold
/// the manifest's items, with paths relative to the package (run the tools from inside it).
/// A single-file item is listed with its own digest; an item kept in several files (a split
/// raw image, an E01 set) has no file at its path, and its digest is of the media, not of any
/// file: its parts are listed, each with its own signed digest. A path that is not a plain
/// path under `data/` (an absolute path, `..`, a newline that would start a line of its own)
/// or a digest that is not hex is refused: the file must list exactly the signed files.
pub fn checksum_files(manifest: &Manifest) -> Result<Vec<(&'static str, String)>, Error> {
    let mut files = Vec::new();
    for (name, algorithm) in [("SHA256SUMS", "sha256"), ("B3SUMS", "blake3")] {
        let mut lines = String::new();
        for item in manifest.items.iter().filter(|item| !item.reference) {
            let listed: Vec<(&str, Option<&String>)> = match &item.stored_as {
                Some(stored) => {
                    stored.parts.iter().map(|p| (p.path.as_str(), p.digests.get(algorithm))).collect()
                }
                None => vec![(item.path.as_str(), item.digests.get(algorithm))],
            };
            for (path, digest) in listed {
                crate::bagit::check_payload_path(path)
                    .map_err(|reason| Error::Package(format!("{}: {reason}", path.escape_debug())))?;
                if path.chars().any(char::is_control) {
                    return Err(Error::Package(format!(
                        "{}: a control character in a path",
                        path.escape_debug()
                    )));
                }
                let Some(digest) = digest else { continue };
                if !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Error::Package(format!("{path}: the {algorithm} digest is not hex")));
                }
                lines.push_str(&format!("{digest}  {path}\n"));
            }
        }
        if !lines.is_empty() {
            files.push((name, lines));
        }
    }
    Ok(files)
}
