//! Where things live in a package (`docs/formats/package.md`): the paths every module that
//! reads or writes a package shares, so that custody code and package code need not know
//! each other to agree on them.

use std::collections::BTreeMap;

use crate::keys::PublicKey;
use crate::store::PackageStore;
use crate::Error;

/// Where the manifest lives in a package.
pub const MANIFEST_PATH: &str = "custos/manifest.json";
/// Where its signatures live.
pub const MANIFEST_SIGNATURES_PATH: &str = "custos/manifest.json.sig";
/// Where the custody log lives.
pub const CUSTODY_PATH: &str = "custos/custody.jsonl";
/// Where segment lists are kept (`NAME.json`, one record as in `docs/segments.md`).
pub const SEGMENTS_DIR: &str = "custos/segments";
/// Where RFC 3161 time-stamp tokens are kept: `manifest-KEYID.tsr` over the raw bytes of
/// that key's manifest signature, `event-N.tsr` over the signature of custody event N.
pub const TIMESTAMPS_DIR: &str = "custos/timestamps";
/// Where the signers' public keys are shipped (`KEYID.pub`), so verification needs no network.
pub const KEYS_DIR: &str = "custos/keys";
/// Where recorded orders' documents are kept.
pub const ORDERS_DIR: &str = "custos/orders";
/// Where custody events' attachments are kept.
pub const ATTACHMENTS_DIR: &str = "custos/attachments";

/// The most public key files a package may ship: 1,024.
pub const MAX_KEY_FILES: usize = 1024;
/// The most bytes a public key file may hold: 64 KiB (they hold a few hundred).
pub const MAX_KEY_FILE_BYTES: u64 = 64 << 10;

/// The path of the token over a manifest signature by `key_id`.
pub fn manifest_token_path(key_id: &str) -> String {
    format!("{TIMESTAMPS_DIR}/manifest-{key_id}.tsr")
}

/// The path of the token over custody event `sequence`'s signature.
pub fn event_token_path(sequence: u64) -> String {
    format!("{TIMESTAMPS_DIR}/event-{sequence}.tsr")
}

/// The path a shipped public key file has: `custos/keys/KEYID.pub`.
pub fn shipped_key_path(key: &PublicKey) -> String {
    format!("{KEYS_DIR}/{}.pub", key.id())
}

/// The public key files shipped in the package, by key id: those that parse and sit at the
/// path their key id gives (a file under another name vouches for nothing). At most
/// [`MAX_KEY_FILES`] are read, each up to [`MAX_KEY_FILE_BYTES`].
pub fn shipped_keys_in(store: &dyn PackageStore) -> Result<BTreeMap<String, PublicKey>, Error> {
    let mut keys = BTreeMap::new();
    let entries = store.list().map_err(|e| Error::Package(e.to_string()))?;
    let prefix = format!("{KEYS_DIR}/");
    let files = entries
        .iter()
        .filter_map(|e| e.utf8_path())
        .filter(|p| p.starts_with(&prefix) && p.ends_with(".pub") && !p.ends_with(".minisign.pub"));
    for path in files.take(MAX_KEY_FILES) {
        let Ok(bytes) = store.read_small(path, MAX_KEY_FILE_BYTES) else { continue };
        let Some(key) = std::str::from_utf8(&bytes).ok().and_then(|t| PublicKey::parse(t).ok()) else {
            continue;
        };
        if path == shipped_key_path(&key) {
            keys.insert(key.id().to_string(), key);
        }
    }
    Ok(keys)
}
