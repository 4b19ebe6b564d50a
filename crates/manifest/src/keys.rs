//! Key files a person can read: `NAME.pub` (public key, owner, role, creation time) and
//! `NAME.key` (the secret seed, sealed with a passphrase by default). Format in
//! `docs/formats/keys.md`.
//!
//! Secret keys are protected with Argon2id (64 MiB, 3 passes) and ChaCha20-Poly1305 whose
//! associated data binds the ciphertext to the key id. Secret material lives in
//! `Zeroizing` buffers and `SigningKey`s, both wiped on drop, and is never printed.

use std::fmt;

use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::Error;

/// Version of both key file formats.
pub const KEY_FORMAT: u32 = 1;

/// Argon2id cost: 64 MiB of memory, 3 passes, 1 lane (the RFC 9106 second recommended
/// option, fit for a 2-core machine).
const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
const ARGON2_PASSES: u32 = 3;
const ARGON2_LANES: u32 = 1;

/// Lowercase hex SHA-256 of a raw 32-byte Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The key id of a public key.
    pub fn of(key: &VerifyingKey) -> KeyId {
        KeyId(hex(&Sha256::digest(key.as_bytes())))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who a key belongs to, as recorded in its public key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The person or system.
    pub name: String,
    /// What they do (`examiner`, `evidence_custodian`, `court_clerk`, …).
    pub role: String,
    /// Their organisation, if any.
    pub organisation: Option<String>,
    /// ISO 3166-1 alpha-2 code of the jurisdiction they act in, if given.
    pub jurisdiction: Option<String>,
}

impl Owner {
    /// Checks the fields fit on one line each and the jurisdiction looks like `DE`.
    pub fn validate(&self) -> Result<(), Error> {
        let fields = [
            ("name", Some(&self.name)),
            ("role", Some(&self.role)),
            ("organisation", self.organisation.as_ref()),
        ];
        for (field, value) in fields {
            if let Some(value) = value {
                if value.trim().is_empty() || value.chars().any(char::is_control) || value.trim() != value {
                    return Err(Error::InvalidField {
                        field,
                        reason: "must be non-empty text on one line, without surrounding spaces",
                    });
                }
            }
        }
        if let Some(code) = &self.jurisdiction {
            if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(Error::InvalidField {
                    field: "jurisdiction",
                    reason: "must be an ISO 3166-1 alpha-2 code such as DE or KE",
                });
            }
        }
        Ok(())
    }
}

/// A public key with its owner: the contents of a `.pub` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The Ed25519 key.
    pub key: VerifyingKey,
    /// Who holds the secret half.
    pub owner: Owner,
    /// When the key was made, RFC 3339 with offset.
    pub created: String,
}

impl PublicKey {
    /// The key id.
    pub fn id(&self) -> KeyId {
        KeyId::of(&self.key)
    }

    /// The `.pub` file's text.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "custos-public-key: {KEY_FORMAT}\nkey-id: {}\nalgorithm: ed25519\npublic-key: {}\nname: {}\nrole: {}\n",
            self.id(),
            BASE64.encode(self.key.as_bytes()),
            self.owner.name,
            self.owner.role
        );
        if let Some(organisation) = &self.owner.organisation {
            text.push_str(&format!("organisation: {organisation}\n"));
        }
        if let Some(jurisdiction) = &self.owner.jurisdiction {
            text.push_str(&format!("jurisdiction: {jurisdiction}\n"));
        }
        text.push_str(&format!("created: {}\n", self.created));
        text
    }

    /// Parses a `.pub` file. Every field appears at most once, unknown fields are refused,
    /// and the stated key id must be the public key's: a file that names one key and carries
    /// another is rejected rather than trusted under either.
    pub fn parse(text: &str) -> Result<PublicKey, Error> {
        let fields = Fields::parse(
            text,
            "public key",
            &[
                "custos-public-key",
                "key-id",
                "algorithm",
                "public-key",
                "name",
                "role",
                "organisation",
                "jurisdiction",
                "created",
            ],
        )?;
        fields.expect_version("custos-public-key")?;
        if fields.required("algorithm")? != "ed25519" {
            return Err(Error::KeyFile {
                what: "public key",
                reason: "only ed25519 keys are supported".into(),
            });
        }
        let raw = decode_fixed::<32>(fields.required("public-key")?, "public-key")?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| Error::KeyFile {
            what: "public key",
            reason: "public-key is not a valid Ed25519 point".into(),
        })?;
        if key.is_weak() {
            return Err(Error::KeyFile {
                what: "public key",
                reason: "public-key is a small-order (weak) point".into(),
            });
        }
        let stated = fields.required("key-id")?;
        if KeyId::of(&key).to_string() != stated {
            return Err(Error::KeyIdMismatch {
                stated: stated.to_owned(),
                actual: KeyId::of(&key).to_string(),
            });
        }
        let owner = Owner {
            name: fields.required("name")?.to_owned(),
            role: fields.required("role")?.to_owned(),
            organisation: fields.optional("organisation").map(str::to_owned),
            jurisdiction: fields.optional("jurisdiction").map(str::to_owned),
        };
        owner.validate()?;
        Ok(PublicKey { key, owner, created: fields.required("created")?.to_owned() })
    }
}

/// A freshly generated key pair.
#[derive(Debug)]
pub struct KeyPair {
    /// The secret key (wiped on drop).
    pub secret: SigningKey,
    /// The public half with its owner.
    pub public: PublicKey,
}

impl KeyPair {
    /// Generates a key from the operating system's random source.
    pub fn generate(owner: Owner, created: String) -> Result<KeyPair, Error> {
        owner.validate()?;
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut()).map_err(|e| Error::Random(e.to_string()))?;
        let secret = SigningKey::from_bytes(&seed);
        let public = PublicKey { key: secret.verifying_key(), owner, created };
        Ok(KeyPair { secret, public })
    }

    /// The `.key` file's text: sealed under `passphrase`, or in the clear with `None`.
    pub fn secret_text(&self, passphrase: Option<&[u8]>) -> Result<Zeroizing<String>, Error> {
        let id = self.public.id();
        let seed = self.secret.to_bytes();
        let seed = Zeroizing::new(seed);
        let Some(passphrase) = passphrase else {
            return Ok(Zeroizing::new(format!(
                "custos-secret-key: {KEY_FORMAT}\nkey-id: {id}\nkdf: none\nsecret: {}\n",
                BASE64.encode(seed.as_ref())
            )));
        };
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 12];
        getrandom::getrandom(&mut salt).map_err(|e| Error::Random(e.to_string()))?;
        getrandom::getrandom(&mut nonce).map_err(|e| Error::Random(e.to_string()))?;
        let key = derive_key(passphrase, &salt, ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES)?;
        let cipher = ChaCha20Poly1305::new(key.as_ref().into());
        let aad = associated_data(&id);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: seed.as_ref(), aad: aad.as_bytes() })
            .map_err(|_| Error::KeyFile { what: "secret key", reason: "encryption failed".into() })?;
        Ok(Zeroizing::new(format!(
            "custos-secret-key: {KEY_FORMAT}\nkey-id: {id}\nkdf: argon2id\nkdf-memory-kib: {ARGON2_MEMORY_KIB}\nkdf-passes: {ARGON2_PASSES}\nkdf-lanes: {ARGON2_LANES}\nkdf-salt: {}\ncipher: chacha20-poly1305\nnonce: {}\nsecret: {}\n",
            BASE64.encode(salt),
            BASE64.encode(nonce),
            BASE64.encode(sealed)
        )))
    }
}

/// Whether a `.key` file needs a passphrase.
pub fn secret_key_is_protected(text: &str) -> Result<bool, Error> {
    let fields = Fields::parse(text, "secret key", SECRET_FIELDS)?;
    Ok(fields.required("kdf")? != "none")
}

const SECRET_FIELDS: &[&str] = &[
    "custos-secret-key",
    "key-id",
    "kdf",
    "kdf-memory-kib",
    "kdf-passes",
    "kdf-lanes",
    "kdf-salt",
    "cipher",
    "nonce",
    "secret",
];

/// Opens a `.key` file. A wrong passphrase and a tampered file look the same to the cipher
/// and give the same error; a file whose key does not match its key id is refused.
pub fn open_secret_key(text: &str, passphrase: Option<&[u8]>) -> Result<SigningKey, Error> {
    let fields = Fields::parse(text, "secret key", SECRET_FIELDS)?;
    fields.expect_version("custos-secret-key")?;
    let stated = fields.required("key-id")?;
    let seed: Zeroizing<[u8; 32]> = match fields.required("kdf")? {
        "none" => Zeroizing::new(decode_fixed::<32>(fields.required("secret")?, "secret")?),
        "argon2id" => {
            let passphrase = passphrase.ok_or(Error::PassphraseRequired)?;
            if fields.required("cipher")? != "chacha20-poly1305" {
                return Err(Error::KeyFile { what: "secret key", reason: "unsupported cipher".into() });
            }
            let number = |name| -> Result<u32, Error> {
                fields.required(name)?.parse().map_err(|_| Error::KeyFile {
                    what: "secret key",
                    reason: format!("{name} is not a number"),
                })
            };
            let salt = BASE64.decode(fields.required("kdf-salt")?).map_err(|_| Error::KeyFile {
                what: "secret key",
                reason: "kdf-salt is not base64".into(),
            })?;
            let nonce = decode_fixed::<12>(fields.required("nonce")?, "nonce")?;
            let key = derive_key(
                passphrase,
                &salt,
                number("kdf-memory-kib")?,
                number("kdf-passes")?,
                number("kdf-lanes")?,
            )?;
            let sealed = BASE64
                .decode(fields.required("secret")?)
                .map_err(|_| Error::KeyFile { what: "secret key", reason: "secret is not base64".into() })?;
            let opened = Zeroizing::new(
                ChaCha20Poly1305::new(key.as_ref().into())
                    .decrypt(
                        Nonce::from_slice(&nonce),
                        Payload { msg: &sealed, aad: associated_data_str(stated).as_bytes() },
                    )
                    .map_err(|_| Error::WrongPassphrase)?,
            );
            Zeroizing::new(<[u8; 32]>::try_from(opened.as_slice()).map_err(|_| Error::WrongPassphrase)?)
        }
        other => {
            return Err(Error::KeyFile { what: "secret key", reason: format!("unsupported kdf `{other}`") })
        }
    };
    let key = SigningKey::from_bytes(&seed);
    if KeyId::of(&key.verifying_key()).to_string() != stated {
        return Err(Error::KeyIdMismatch {
            stated: stated.to_owned(),
            actual: KeyId::of(&key.verifying_key()).to_string(),
        });
    }
    Ok(key)
}

fn associated_data(id: &KeyId) -> String {
    associated_data_str(&id.to_string())
}

/// Binds the ciphertext to its key id, so a sealed secret cannot be moved under another id.
fn associated_data_str(id: &str) -> String {
    format!("custos-secret-key {KEY_FORMAT} {id}")
}

fn derive_key(
    passphrase: &[u8],
    salt: &[u8],
    memory_kib: u32,
    passes: u32,
    lanes: u32,
) -> Result<Zeroizing<[u8; 32]>, Error> {
    // Refuse costs that would let a tampered file make us allocate without bound.
    if memory_kib > 4 * 1024 * 1024 || passes > 64 || lanes > 16 {
        return Err(Error::KeyFile { what: "secret key", reason: "key derivation cost out of range".into() });
    }
    let params = Params::new(memory_kib, passes, lanes, Some(32)).map_err(|e| Error::KeyFile {
        what: "secret key",
        reason: format!("bad key derivation parameters: {e}"),
    })?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Argon2Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, key.as_mut())
        .map_err(|e| Error::KeyFile { what: "secret key", reason: format!("key derivation failed: {e}") })?;
    Ok(key)
}

fn decode_fixed<const N: usize>(text: &str, field: &'static str) -> Result<[u8; N], Error> {
    BASE64
        .decode(text)
        .ok()
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        .ok_or_else(|| Error::KeyFile { what: "key", reason: format!("{field} is not base64 of {N} bytes") })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `name: value` lines, each name at most once, from a fixed set.
struct Fields<'a> {
    what: &'static str,
    entries: Vec<(&'a str, &'a str)>,
}

impl<'a> Fields<'a> {
    fn parse(text: &'a str, what: &'static str, allowed: &[&str]) -> Result<Fields<'a>, Error> {
        let mut entries: Vec<(&str, &str)> = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line.split_once(": ").ok_or_else(|| Error::KeyFile {
                what,
                reason: format!("line {} is not `name: value`", number + 1),
            })?;
            if !allowed.contains(&name) {
                return Err(Error::KeyFile {
                    what,
                    reason: format!("unknown field `{name}` on line {}", number + 1),
                });
            }
            if entries.iter().any(|(seen, _)| *seen == name) {
                return Err(Error::KeyFile { what, reason: format!("field `{name}` appears twice") });
            }
            entries.push((name, value));
        }
        Ok(Fields { what, entries })
    }

    fn optional(&self, name: &str) -> Option<&'a str> {
        self.entries.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn required(&self, name: &str) -> Result<&'a str, Error> {
        self.optional(name)
            .ok_or_else(|| Error::KeyFile { what: self.what, reason: format!("missing field `{name}`") })
    }

    fn expect_version(&self, name: &str) -> Result<(), Error> {
        let version = self.required(name)?;
        if version != KEY_FORMAT.to_string() {
            return Err(Error::UnsupportedVersion {
                what: self.what,
                found: version.parse().unwrap_or(u64::MAX),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            name: "Ada Examiner".into(),
            role: "examiner".into(),
            organisation: Some("Lab 1".into()),
            jurisdiction: Some("DE".into()),
        }
    }

    #[test]
    fn public_key_files_round_trip_and_refuse_a_swapped_key_id() {
        let pair = KeyPair::generate(owner(), "2026-11-29T14:00:00+00:00".into()).expect("key");
        let text = pair.public.to_text();
        assert_eq!(PublicKey::parse(&text).expect("parses"), pair.public);
        let other = KeyPair::generate(owner(), "2026-11-29T14:00:00+00:00".into()).expect("key");
        let swapped = text.replace(&pair.public.id().to_string(), &other.public.id().to_string());
        assert!(matches!(PublicKey::parse(&swapped), Err(Error::KeyIdMismatch { .. })));
        let doubled = format!("{text}name: Someone Else\n");
        assert!(PublicKey::parse(&doubled).is_err());
    }

    #[test]
    fn secret_keys_open_only_with_their_passphrase() {
        let pair = KeyPair::generate(owner(), "2026-11-29T14:00:00+00:00".into()).expect("key");
        let sealed = pair.secret_text(Some(b"correct horse")).expect("seal");
        assert!(
            !sealed.contains(&BASE64.encode(pair.secret.to_bytes())),
            "the seed must not appear in clear"
        );
        assert!(secret_key_is_protected(&sealed).expect("parses"));
        let opened = open_secret_key(&sealed, Some(b"correct horse")).expect("opens");
        assert_eq!(opened.to_bytes(), pair.secret.to_bytes());
        assert!(matches!(open_secret_key(&sealed, Some(b"wrong")), Err(Error::WrongPassphrase)));
        assert!(matches!(open_secret_key(&sealed, None), Err(Error::PassphraseRequired)));

        let clear = pair.secret_text(None).expect("clear");
        assert!(!secret_key_is_protected(&clear).expect("parses"));
        assert_eq!(open_secret_key(&clear, None).expect("opens").to_bytes(), pair.secret.to_bytes());
    }

    #[test]
    fn owners_are_validated() {
        let mut bad = owner();
        bad.jurisdiction = Some("Germany".into());
        assert!(bad.validate().is_err());
        let mut bad = owner();
        bad.name = "two\nlines".into();
        assert!(bad.validate().is_err());
    }
}
