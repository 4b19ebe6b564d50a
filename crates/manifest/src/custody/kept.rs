//! Files kept in a package beside the evidence because an event signed their digests: an
//! order's document (`custos/orders/`), the attachments of a custody event (photos,
//! worksheets, tool reports: `custos/attachments/`). The event signs where each is and what
//! its bytes are; the verifier reads each back and compares.

use serde::{Deserialize, Serialize};

/// A kept file: where it is in the package, and what its bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// `custos/orders/NAME` or `custos/attachments/NAME`.
    pub path: String,
    /// Its length in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

impl Document {
    /// The record of `bytes` given as a file named `name`, to be kept in `folder`: under a
    /// name made safe (letters, digits, `.`, `-`, `_`; no leading dot) and prefixed with the
    /// start of its digest, so that two files of one name never collide.
    pub fn of(folder: &str, name: &str, bytes: &[u8]) -> Document {
        let sha256 = super::sha256_hex(bytes);
        Document { path: Document::path_for(folder, name, &sha256), size: bytes.len() as u64, sha256 }
    }

    /// Where a file named `name` with SHA-256 `sha256` is kept in `folder`.
    pub fn path_for(folder: &str, name: &str, sha256: &str) -> String {
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
            .collect();
        // A file name is at most 255 bytes: the digest's start, and the name's first 200.
        let safe: String = safe.trim_start_matches('.').chars().take(200).collect();
        format!("{folder}/{}-{safe}", &sha256[..16.min(sha256.len())])
    }

    /// Why the record cannot be believed, if it cannot: a path outside `folder` or below a
    /// folder in it, a hidden or control-character name, a digest that is no SHA-256.
    /// `what` names the file in the message (`the order's document`).
    pub fn check(&self, folder: &str, what: &str) -> Result<(), String> {
        let name = self.path.strip_prefix(&format!("{folder}/")).unwrap_or_default();
        if name.is_empty()
            || name.contains('/')
            || name.starts_with('.')
            || name.chars().any(char::is_control)
        {
            return Err(format!("{what} must be a file in {folder}/, not {}", self.path));
        }
        if self.sha256.len() != 64
            || !self.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(format!("{what}'s digest is not a lowercase hex SHA-256"));
        }
        // The name starts with its own digest, as Custos writes it: a record cannot point at
        // a file kept for another event under the name this one would have.
        if !name.starts_with(&format!("{}-", &self.sha256[..16])) {
            return Err(format!(
                "{what}'s name {name} does not start with the first 16 digits of its SHA-256"
            ));
        }
        Ok(())
    }
}
