//! The evidence manifest, `custos/manifest.json`: what was sealed, for which case, under
//! which legal basis, with every digest. Written once, signed as the exact bytes written
//! (payload type [`MANIFEST_PAYLOAD_TYPE`]), read back strictly and only after its
//! signatures verified. Format: `docs/formats/manifest.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::strict_json;
use crate::Error;

/// Format version written by this build.
pub const MANIFEST_FORMAT: u64 = 1;

/// The DSSE payload type of manifests; binds signatures to this kind of document.
pub const MANIFEST_PAYLOAD_TYPE: &str = "application/vnd.custos.manifest+json; version=1";

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version, [`MANIFEST_FORMAT`].
    pub custos_manifest: u64,
    /// The case this evidence belongs to.
    pub case: Case,
    /// When it was sealed: RFC 3339 with offset.
    pub sealed_at: String,
    /// Where it was sealed, as the sealer described it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// ISO 3166-1 alpha-2 code of the sealing jurisdiction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    /// The software that sealed it.
    pub tool: Tool,
    /// The legal authority for the acquisition.
    #[serde(default)]
    pub legal_basis: Vec<LegalBasis>,
    /// The evidence items.
    pub items: Vec<Item>,
    /// Symbolic links found in sealed folders: recorded, never followed or copied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// A symbolic link in a sealed folder, as it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Where it was, as an item path would be (`data/FOLDER/…`); no file is there.
    pub path: String,
    /// What it pointed to, unresolved.
    pub target: String,
}

/// Case reference and exhibit number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The case reference.
    pub reference: String,
    /// The exhibit number, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exhibit: Option<String>,
}

/// Tool name and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `custos`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// One legal-basis record (`--legal-basis KIND:REFERENCE[:AUTHORITY]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    /// `warrant`, `production_order`, `preservation_order`, `mla_request`, `consent`, …
    pub kind: String,
    /// The document's reference.
    pub reference: String,
    /// Who issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
}

impl LegalBasis {
    /// Parses `KIND:REFERENCE[:AUTHORITY]`. KIND is one of
    /// [`crate::vocabulary::LEGAL_BASIS_KINDS`], in any case, written in its canonical form.
    pub fn parse(text: &str) -> Result<LegalBasis, Error> {
        let mut parts = text.splitn(3, ':');
        let kind = parts.next().unwrap_or_default().trim();
        let reference = parts.next().unwrap_or_default().trim();
        let authority = parts.next().map(str::trim).filter(|a| !a.is_empty());
        if kind.is_empty() || reference.is_empty() {
            return Err(Error::InvalidField {
                field: "legal basis",
                reason: "use KIND:REFERENCE[:AUTHORITY], e.g. warrant:AG-Berlin-1-Gs-1/26",
            });
        }
        let kind =
            crate::vocabulary::canonical(kind, &crate::vocabulary::LEGAL_BASIS_KINDS, "legal basis kind")
                .map_err(|reason| Error::Package(format!("--legal-basis {text}: {reason}")))?;
        Ok(LegalBasis {
            kind: kind.to_owned(),
            reference: reference.to_owned(),
            authority: authority.map(str::to_owned),
        })
    }
}

/// The kind of data an item holds, which decides the legal authority it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Content data (messages, files).
    Content,
    /// Traffic data (who communicated with whom, when).
    Traffic,
    /// Subscriber information.
    Subscriber,
    /// Data requested only to identify a user (IP addresses, ports, times of a connection).
    /// Added in 0.3.
    Identification,
}

impl Category {
    /// Every category, in the order the format lists them.
    pub const ALL: [Category; 4] =
        [Category::Subscriber, Category::Identification, Category::Traffic, Category::Content];

    /// The name manifests, policies and the command line use (an exhaustive match: a new
    /// category cannot be added without its name).
    pub fn name(self) -> &'static str {
        match self {
            Category::Content => "content",
            Category::Traffic => "traffic",
            Category::Subscriber => "subscriber",
            Category::Identification => "identification",
        }
    }

    /// Parses a name, exactly.
    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|category| category.name() == name)
    }
}

/// One evidence item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Path inside the package (`data/…`), or, for a `reference` item, the external path.
    pub path: String,
    /// True when the bytes are not in the package but at `path` outside it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reference: bool,
    /// Length in bytes.
    pub size: u64,
    /// What kind of data it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Algorithm name → lowercase hex digest.
    pub digests: BTreeMap<String, String>,
    /// Segment summary, when segments were computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Segments>,
    /// How the item was acquired (`custos acquire`): the acquisition record of
    /// docs/acquisition.md, signed with the item (source, device, parameters, times, every
    /// range that could not be read, and the image and source verifications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquisition: Option<serde_json::Map<String, serde_json::Value>>,
    /// When the item's bytes are kept in several files (a split raw image, an E01 segment
    /// set): how, and each file. No file is at `path` then; `size`, `digests` and
    /// `segments` are those of the item's bytes (an E01's media), not of the files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_as: Option<StoredAs>,
    /// How the package's copy was proven equal to the source when `custos seal` copied it
    /// (absent for references, and for acquisitions, whose record has its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_verification: Option<CopyVerification>,
}

/// The read-back of a copy made when sealing: the copy (each file of an item kept in
/// several) was synced, read back through its own descriptor and hashed with one strong
/// digest, which matched the source's. Equal strong digests mean equal bytes, so the other
/// digests of the source are the copy's too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyVerification {
    /// `match`: a copy that differs is never sealed.
    pub result: String,
    /// The digest the copy was read back with: `blake3` when it was asked for, otherwise
    /// `sha256`.
    pub algorithm: String,
    /// `page_cache`: the copy is synced to disk first, but the kernel may serve the
    /// read-back from memory (acquisitions drop the cached pages and read from the disk).
    pub read_from: String,
}

/// How an item's bytes are kept in several files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredAs {
    /// What the files are.
    pub format: PartFormat,
    /// The files, in order.
    pub parts: Vec<Part>,
    /// For an E01: the sector ranges `[first, count]` its `error2` section records, which
    /// the acquiring tool could not read and filled. Empty when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filled_sectors: Vec<[u64; 2]>,
}

/// What the files of a [`StoredAs`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartFormat {
    /// A split raw image: the item's bytes are the parts, concatenated.
    Split,
    /// An EWF-E01 segment set (`.E01`, `.E02`, …): the item's bytes are its media.
    E01,
}

impl PartFormat {
    /// The word written in the manifest.
    pub fn word(self) -> &'static str {
        match self {
            PartFormat::Split => "split",
            PartFormat::E01 => "e01",
        }
    }
}

/// One file of a [`StoredAs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// Its path in the package (`data/…`), or outside it for a `reference` item.
    pub path: String,
    /// Its length in bytes.
    pub size: u64,
    /// Algorithm name → lowercase hex digest of the file's own bytes.
    pub digests: BTreeMap<String, String>,
}

impl Item {
    /// The files that hold the item's bytes: its parts, or the one file at its path.
    pub fn files(&self) -> Vec<(&str, u64)> {
        match &self.stored_as {
            Some(stored) => stored.parts.iter().map(|p| (p.path.as_str(), p.size)).collect(),
            None => vec![(self.path.as_str(), self.size)],
        }
    }
}

/// The segment summary of an item (the full list is in `custos/segments/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segments {
    /// Segment size in bytes.
    pub size: u64,
    /// Algorithm of segment digests and tree.
    pub algorithm: String,
    /// Number of segments.
    pub count: u64,
    /// Merkle root, lowercase hex.
    pub root: String,
}

impl Manifest {
    /// The bytes to write (and sign): pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Parses manifest bytes strictly. Call only after the signatures over these exact
    /// bytes verified.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, Error> {
        let manifest: Manifest = strict_json::parse(bytes).map_err(Error::ManifestSyntax)?;
        if manifest.custos_manifest != MANIFEST_FORMAT {
            return Err(Error::UnsupportedVersion { what: "manifest", found: manifest.custos_manifest });
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            custos_manifest: MANIFEST_FORMAT,
            links: Vec::new(),
            case: Case { reference: "CASE-2026-0042".into(), exhibit: Some("A-1".into()) },
            sealed_at: "2026-11-29T14:00:00+00:00".into(),
            location: Some("Lab 1, Berlin".into()),
            jurisdiction: Some("DE".into()),
            tool: Tool { name: "custos".into(), version: "0.1.0".into() },
            legal_basis: vec![
                LegalBasis::parse("warrant:AG Berlin 1 Gs 1/26:Amtsgericht Berlin").expect("parses")
            ],
            items: vec![Item {
                path: "data/disk.img".into(),
                reference: false,
                size: 3,
                category: Some(Category::Content),
                digests: [("sha256".to_owned(), "ab".repeat(32))].into_iter().collect(),
                segments: None,
                acquisition: None,
                stored_as: None,
                copy_verification: None,
            }],
        }
    }

    #[test]
    fn round_trips_and_rejects_what_it_must() {
        let bytes = sample().to_bytes();
        assert_eq!(Manifest::parse(&bytes).expect("parses"), sample());
        let text = String::from_utf8(bytes).expect("UTF-8");
        let future = text.replace("\"custos_manifest\": 1", "\"custos_manifest\": 2");
        assert!(matches!(
            Manifest::parse(future.as_bytes()),
            Err(Error::UnsupportedVersion { found: 2, .. })
        ));
        let duplicate = text.replacen("\"size\": 3", "\"size\": 3,\n      \"size\": 4", 1);
        assert!(matches!(Manifest::parse(duplicate.as_bytes()), Err(Error::ManifestSyntax(_))));
        let huge = text.replace("\"size\": 3", "\"size\": 9007199254740993");
        assert!(matches!(Manifest::parse(huge.as_bytes()), Err(Error::ManifestSyntax(_))));
        let unknown = text.replace("\"sealed_at\"", "\"note\": \"x\",\n  \"sealed_at\"");
        assert!(Manifest::parse(unknown.as_bytes()).is_err());
    }

    #[test]
    fn legal_basis_syntax() {
        let basis = LegalBasis::parse("mla_request:MLA-2026-7").expect("parses");
        assert_eq!(
            (basis.kind.as_str(), basis.reference.as_str(), basis.authority),
            ("mla_request", "MLA-2026-7", None)
        );
        for bad in ["", "warrant", ":ref", "warant:ref"] {
            assert!(LegalBasis::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(LegalBasis::parse("Warrant:ref").expect("any case").kind, "warrant");
    }
}
