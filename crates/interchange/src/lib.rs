//! `custos-interchange`: a sealed Custos package described in the formats other labs'
//! tools already read, and hashdeep's known-hash files read back.
//!
//! - [`case`]: CASE 1.5.0 / UCO JSON-LD (evidence items with typed hashes, the seal and every
//!   custody event as investigative actions with provenance records).
//! - [`dfxml`]: Digital Forensics XML (a `fileobject` per item, with segment byte runs).
//! - [`hashdeep`]: `%%%% HASHDEEP-1.0` known-hash files, written, parsed, and audited the way
//!   `hashdeep -a` counts matched, moved, new and missing files.
//!
//! Every export takes an [`ExportSource`] (read by `custos_manifest::package::read_for_export`,
//! which refuses a package whose manifest signature or custody log does not verify) and
//! returns text: writing files is the caller's job. What each format can and cannot carry is
//! in `docs/formats/case.md`, `dfxml.md` and `hashdeep.md`.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod case;
pub mod dfxml;
pub mod hashdeep;

pub use custos_manifest::package::ExportSource;

use sha1::{Digest as _, Sha1};

/// Why an export or a hashdeep file could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An item path the format cannot hold exactly (a newline or comma in a hashdeep line).
    #[error("{path}: {reason}")]
    UnrepresentablePath {
        /// The path, with controls escaped.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// A digest in the manifest that is not lowercase-able hex of the right length.
    #[error("{path}: the {algorithm} digest is not hexadecimal")]
    BadDigest {
        /// The item's path, escaped.
        path: String,
        /// The algorithm.
        algorithm: String,
    },
    /// The format needs something the package does not have.
    #[error("{0}")]
    Unsupported(String),
    /// A hashdeep file line that is not understood (1-based line number).
    #[error("line {line}: {reason}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Who made an export, for the provenance the formats record about themselves.
#[derive(Debug, Clone, Copy)]
pub struct Exporter<'a> {
    /// The exporting Custos' version (`CARGO_PKG_VERSION` of the binary).
    pub version: &'a str,
    /// The command line that made the export, as one string.
    pub command_line: &'a str,
    /// When, RFC 3339 with offset.
    pub time: &'a str,
    /// The folder relative paths in the export are relative to (the package's folder).
    pub invoked_from: &'a str,
}

/// One sentence saying which keys signed the manifest and what that check was worth, for the
/// exports' own notes: a lab reading the export sees that the digests are claims verified
/// against the keys the package ships, not yet against keys it trusts.
pub fn signature_statement(source: &ExportSource) -> String {
    let signers: Vec<String> =
        source.signers.iter().map(|key| format!("{} (key {})", key.owner.name, key.id())).collect();
    format!(
        "custos/manifest.json (SHA-256 {}) is signed by {}; the signature verified over its exact bytes against the key the package ships when this was exported; whether that key belongs to whom it names is checked by custos verify --trust",
        source.manifest_sha256,
        signers.join(", ")
    )
}

/// The fixed namespace of Custos' name-based UUIDs (a UUID of its own, so that no other
/// producer's version-5 ids collide with these).
const NAMESPACE: [u8; 16] =
    [0x3c, 0x0e, 0x5a, 0x1f, 0x7b, 0x42, 0x4d, 0x8e, 0x9a, 0x61, 0x2f, 0xd4, 0x0b, 0x77, 0xc3, 0x58];

/// An RFC 9562 version-5 (SHA-1, name-based) UUID of `name` in Custos' namespace: the same
/// name gives the same id on every export, so two exports of one package name the same nodes.
pub fn uuid5(name: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(NAMESPACE);
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Whether `digest` is hex (either case).
fn is_hex(digest: &str) -> bool {
    !digest.is_empty() && digest.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A path for an error message: controls escaped so a planted name cannot forge a line.
fn shown(path: &str) -> String {
    path.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid5_is_stable_and_well_formed() {
        // Pinned, computed apart from this code: Python's
        // `uuid.uuid5(uuid.UUID("3c0e5a1f-7b42-4d8e-9a61-2fd40b77c358"), NAME)`. A change here
        // renames every node of every export already handed to another lab.
        for (name, expected) in [
            ("pkg/file/data/a", "877073ad-579f-54e7-a9b6-8f54049fe6dd"),
            ("pkg/file/data/b", "061b779c-784b-5f0a-92d9-5a9ba73fa739"),
            ("", "77d95465-b656-56bd-a74c-e18719bb550d"),
        ] {
            assert_eq!(uuid5(name), expected, "{name:?}");
        }
        let a = uuid5("pkg/file/data/a");
        assert_ne!(a, uuid5("pkg/file/data/b"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5", "version 5: {a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "RFC variant: {a}");
    }
}

/// A small package for the unit tests: two items (one with a hostile name and segments), a
/// `sealed` and an `examined` event.
#[cfg(test)]
pub(crate) mod tests_support {

    use custos_hash::segments::{SegmentList, SegmentSpec};
    use custos_hash::Algorithm;
    use custos_manifest::custody::{Action, Actor, Event};
    use custos_manifest::keys::PublicKey;
    use custos_manifest::manifest::{Case, Item, LegalBasis, Manifest, Segments, Tool, MANIFEST_FORMAT};

    use crate::{ExportSource, Exporter};

    pub const HOSTILE: &str = "data/a<b>&\"c\nd ö.txt";

    pub fn exporter() -> Exporter<'static> {
        Exporter {
            version: "0.1.0",
            command_line: "custos export case pkg",
            time: "2026-12-01T12:00:00+00:00",
            invoked_from: "/cases/pkg",
        }
    }

    fn item(path: &str, bytes: &[u8], segments: Option<&SegmentList>) -> Item {
        let digests = [Algorithm::Md5, Algorithm::Sha256, Algorithm::Blake3]
            .into_iter()
            .map(|a| (a.name().to_owned(), a.digest(bytes).to_hex()))
            .collect();
        Item {
            path: path.to_owned(),
            reference: false,
            size: bytes.len() as u64,
            category: None,
            digests,
            segments: segments.map(|list| Segments {
                size: list.spec.size,
                algorithm: list.spec.algorithm.name().to_owned(),
                count: list.digests.len() as u64,
                root: list.root().to_hex(),
            }),
            acquisition: None,
            stored_as: None,
            copy_verification: None,
        }
    }

    pub fn sample() -> ExportSource {
        let key = PublicKey::parse(include_str!("../../../docs/formats/vectors/keys/rfc8032-test1.pub"))
            .expect("the test key parses");
        let disk = vec![7u8; 10_000];
        let list = SegmentList::of_bytes(SegmentSpec { size: 4096, algorithm: Algorithm::Sha256 }, &disk);
        let manifest = Manifest {
            custos_manifest: MANIFEST_FORMAT,
            case: Case { reference: "C-1 <&>".into(), exhibit: Some("A-1".into()) },
            sealed_at: "2026-11-29T14:00:00+00:00".into(),
            location: Some("Lab 1".into()),
            jurisdiction: Some("DE".into()),
            tool: Tool { name: "custos".into(), version: "0.1.0".into() },
            legal_basis: vec![LegalBasis::parse("warrant:W-1:AG Berlin").expect("parses")],
            items: vec![item("data/disk.img", &disk, Some(&list)), item(HOSTILE, b"x", None)],
            links: Vec::new(),
        };
        let event = |sequence: u64, action: Action, previous: Option<String>| Event {
            sequence,
            previous,
            manifest: "ab".repeat(32),
            location: Some("Lab 1".into()),
            legal_basis: Some("W-1".into()),
            note: Some("a note with <xml> & \"quotes\"".into()),
            ..Event::blank(action, Actor::of(&key), format!("2026-11-29T14:0{sequence}:00+00:00"))
        };
        ExportSource {
            manifest,
            manifest_sha256: "ab".repeat(32),
            signers: vec![key.clone()],
            events: vec![event(0, Action::Sealed, None), event(1, Action::Examined, Some("cd".repeat(32)))],
            segments: [("data/disk.img".to_owned(), list)].into_iter().collect(),
        }
    }
}
