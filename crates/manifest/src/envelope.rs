//! Detached Ed25519 signatures over the exact bytes of a document, with domain separation.
//!
//! What is signed is DSSE's pre-authentication encoding (PAE) of a payload type and the
//! document's bytes as they are on disk:
//!
//! ```text
//! "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body        (LEN: ASCII decimal)
//! ```
//!
//! so a signature made for one kind of document (a manifest) can never be replayed as a
//! signature on another kind (a custody event), and nothing is ever re-serialised to be
//! verified. Signatures are checked with `verify_strict` (no small-order keys, canonical S).
//! The signature file format is specified in `docs/formats/signatures.md`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::keys::KeyId;
use crate::strict_json;
use crate::Error;

/// The version of the signature file format.
pub const SIGNATURE_FORMAT: u64 = 1;

/// The pre-authentication encoding of DSSE v1.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    message.extend_from_slice(b"DSSEv1 ");
    message.extend_from_slice(payload_type.len().to_string().as_bytes());
    message.push(b' ');
    message.extend_from_slice(payload_type.as_bytes());
    message.push(b' ');
    message.extend_from_slice(payload.len().to_string().as_bytes());
    message.push(b' ');
    message.extend_from_slice(payload);
    message
}

/// One signature and the key that claims it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureEntry {
    /// Lowercase hex SHA-256 of the signer's raw public key. A hint for finding the key;
    /// the signature itself decides.
    pub key_id: String,
    /// The 64-byte Ed25519 signature, standard base64.
    pub sig: String,
}

impl SignatureEntry {
    /// The raw signature bytes (what a time-stamp token stamps), if they are base64.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        BASE64.decode(&self.sig).ok()
    }

    /// Asks the RFC 3161 time-stamping authority at `url` for a token over this signature's
    /// raw bytes.
    pub fn time_stamp(&self, url: &str) -> Result<Vec<u8>, crate::Error> {
        let bytes =
            self.bytes().ok_or_else(|| crate::Error::Package("a signature that is not base64".into()))?;
        custos_timestamp::stamp(url, &bytes).map_err(|e| crate::Error::Package(e.to_string()))
    }
}

/// A detached signature file: any number of signatures over one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// Format version; [`SIGNATURE_FORMAT`].
    pub custos_signatures: u64,
    /// What kind of document was signed (bound into every signature by the PAE).
    pub payload_type: String,
    /// The signatures.
    pub signatures: Vec<SignatureEntry>,
}

/// What became of one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureVerdict {
    /// It verifies under the trusted key with its key id.
    Valid(KeyId),
    /// No trusted key has this key id.
    UnknownKey(String),
    /// A trusted key has this id, but the signature does not verify under it.
    Invalid(KeyId),
    /// The signature bytes are not base64 of 64 bytes.
    Malformed(String),
}

impl SignatureFile {
    /// An empty signature file for documents of `payload_type`.
    pub fn new(payload_type: &str) -> SignatureFile {
        SignatureFile {
            custos_signatures: SIGNATURE_FORMAT,
            payload_type: payload_type.to_owned(),
            signatures: Vec::new(),
        }
    }

    /// Reads a signature file strictly: duplicate keys, floats, unknown fields and unknown
    /// versions are errors.
    pub fn parse(bytes: &[u8]) -> Result<SignatureFile, Error> {
        let file: SignatureFile = strict_json::parse(bytes).map_err(Error::SignatureFileSyntax)?;
        if file.custos_signatures != SIGNATURE_FORMAT {
            return Err(Error::UnsupportedVersion { what: "signature file", found: file.custos_signatures });
        }
        Ok(file)
    }

    /// The file's bytes: pretty JSON and a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Signs `payload` (the exact bytes of the document) and appends the signature.
    pub fn sign(&mut self, key: &SigningKey, payload: &[u8]) {
        let signature = key.sign(&pae(&self.payload_type, payload));
        self.signatures.push(SignatureEntry {
            key_id: KeyId::of(&key.verifying_key()).to_string(),
            sig: BASE64.encode(signature.to_bytes()),
        });
    }

    /// Verifies every signature over `payload`, finding keys with `trusted`. The payload
    /// type must be `expected_type`: a signature for another kind of document is refused
    /// before any key is looked up.
    pub fn verify(
        &self,
        expected_type: &str,
        payload: &[u8],
        trusted: impl Fn(&str) -> Option<VerifyingKey>,
    ) -> Result<Vec<SignatureVerdict>, Error> {
        if self.payload_type != expected_type {
            return Err(Error::WrongPayloadType {
                expected: expected_type.to_owned(),
                found: self.payload_type.clone(),
            });
        }
        let message = pae(&self.payload_type, payload);
        Ok(self
            .signatures
            .iter()
            .map(|entry| {
                let Some(key) = trusted(&entry.key_id) else {
                    return SignatureVerdict::UnknownKey(entry.key_id.clone());
                };
                let id = KeyId::of(&key);
                let signature =
                    match BASE64.decode(&entry.sig).ok().and_then(|b| <[u8; 64]>::try_from(b).ok()) {
                        Some(bytes) => Signature::from_bytes(&bytes),
                        None => return SignatureVerdict::Malformed(entry.key_id.clone()),
                    };
                // The key id is only a hint: a key found under the wrong id is not trusted.
                if id.to_string() != entry.key_id {
                    return SignatureVerdict::UnknownKey(entry.key_id.clone());
                }
                match key.verify_strict(&message, &signature) {
                    Ok(()) => SignatureVerdict::Valid(id),
                    Err(_) => SignatureVerdict::Invalid(id),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_specification_example() {
        // From the DSSE protocol document: PAE("http://example.com/HelloWorld", "hello world").
        let expected = b"DSSEv1 29 http://example.com/HelloWorld 11 hello world";
        assert_eq!(pae("http://example.com/HelloWorld", b"hello world"), expected.to_vec());
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn lookup(keys: &[SigningKey]) -> impl Fn(&str) -> Option<VerifyingKey> + '_ {
        move |id| keys.iter().map(SigningKey::verifying_key).find(|k| KeyId::of(k).to_string() == id)
    }

    #[test]
    fn signs_and_verifies_and_catches_tampering() {
        let signer = key(1);
        let mut file = SignatureFile::new("application/vnd.custos.test");
        file.sign(&signer, b"payload");
        let parsed = SignatureFile::parse(&file.to_bytes()).expect("round trip");
        let keys = [signer.clone()];
        let verdicts = parsed.verify("application/vnd.custos.test", b"payload", lookup(&keys)).expect("type");
        assert_eq!(verdicts, vec![SignatureVerdict::Valid(KeyId::of(&signer.verifying_key()))]);

        // One byte of the document changed.
        let verdicts = parsed.verify("application/vnd.custos.test", b"paylOad", lookup(&keys)).expect("type");
        assert!(matches!(verdicts[0], SignatureVerdict::Invalid(_)));

        // Replayed as another kind of document.
        let error = parsed.verify("application/vnd.custos.other", b"payload", lookup(&keys));
        assert!(matches!(error, Err(Error::WrongPayloadType { .. })));

        // Signed by a key nobody trusts.
        let stranger = [key(2)];
        let verdicts =
            parsed.verify("application/vnd.custos.test", b"payload", lookup(&stranger)).expect("type");
        assert!(matches!(verdicts[0], SignatureVerdict::UnknownKey(_)));

        // Signature bytes flipped.
        let mut flipped = parsed.clone();
        let mut raw = BASE64.decode(&flipped.signatures[0].sig).expect("base64");
        raw[10] ^= 1;
        flipped.signatures[0].sig = BASE64.encode(raw);
        let verdicts =
            flipped.verify("application/vnd.custos.test", b"payload", lookup(&keys)).expect("type");
        assert!(matches!(verdicts[0], SignatureVerdict::Invalid(_)));

        // Key id swapped to another trusted key's id: found key, wrong signature.
        let mut swapped = parsed.clone();
        let both = [signer, key(3)];
        swapped.signatures[0].key_id = KeyId::of(&both[1].verifying_key()).to_string();
        let verdicts =
            swapped.verify("application/vnd.custos.test", b"payload", lookup(&both)).expect("type");
        assert!(matches!(verdicts[0], SignatureVerdict::Invalid(_)));
    }

    #[test]
    fn strict_parsing_of_signature_files() {
        let duplicate = br#"{"custos_signatures":1,"payload_type":"a","payload_type":"b","signatures":[]}"#;
        assert!(matches!(SignatureFile::parse(duplicate), Err(Error::SignatureFileSyntax(_))));
        let future = br#"{"custos_signatures":2,"payload_type":"a","signatures":[]}"#;
        assert!(matches!(SignatureFile::parse(future), Err(Error::UnsupportedVersion { found: 2, .. })));
        let unknown = br#"{"custos_signatures":1,"payload_type":"a","signatures":[],"x":1}"#;
        assert!(SignatureFile::parse(unknown).is_err());
    }
}

/// One signed JSON line, as the custody log and the audit ledger store them: a payload's
/// exact JSON text, its type, and signatures over both (DSSE PAE). The payload is kept as
/// text so that what was signed is exactly what is read back, with no canonical form to
/// agree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedLine {
    /// The signed document's exact JSON text.
    pub payload: String,
    /// What kind of document it is (bound into the signature).
    pub payload_type: String,
    /// The signatures.
    pub signatures: Vec<SignatureEntry>,
}

impl SignedLine {
    /// `payload` of `payload_type`, signed by `key`.
    pub fn sign(payload_type: &str, payload: String, key: &SigningKey) -> SignedLine {
        let signature = key.sign(&pae(payload_type, payload.as_bytes()));
        SignedLine {
            payload,
            payload_type: payload_type.to_owned(),
            signatures: vec![SignatureEntry {
                key_id: KeyId::of(&key.verifying_key()).to_string(),
                sig: BASE64.encode(signature.to_bytes()),
            }],
        }
    }

    /// The line's bytes, without a newline.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(self).map_err(|e| Error::Package(e.to_string()))
    }

    /// The payload of `bytes`, a line of `expected_type` that must carry exactly one
    /// signature that verifies, by the key `signer` gives for its key id (`None`: a key not
    /// trusted here). Lines that one party writes and only its keys may vouch for (an audit
    /// ledger, an acquisition's checkpoint) are read this way; anything else is refused with
    /// the reason.
    pub fn open(
        bytes: &[u8],
        expected_type: &str,
        signer: impl Fn(&str) -> Option<VerifyingKey>,
    ) -> Result<String, String> {
        let line: SignedLine =
            crate::strict_json::parse(bytes).map_err(|e| format!("not a signed document: {e}"))?;
        if line.payload_type != expected_type {
            return Err(format!("payload type `{}`, not `{expected_type}`", line.payload_type));
        }
        let [entry] = line.signatures.as_slice() else {
            return Err(format!("{} signatures, where exactly one is expected", line.signatures.len()));
        };
        let Some(key) = signer(&entry.key_id) else {
            return Err(format!("signed by key {}, which is not trusted here", entry.key_id));
        };
        let signature = BASE64
            .decode(&entry.sig)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or("a signature that is not 64 bytes of base64")?;
        // The key id is only a hint: a key found under another id vouches for nothing.
        if KeyId::of(&key).to_string() != entry.key_id
            || key.verify_strict(&pae(expected_type, line.payload.as_bytes()), &signature).is_err()
        {
            return Err(format!(
                "the signature does not verify under key {}: the line was edited",
                entry.key_id
            ));
        }
        Ok(line.payload)
    }
}
