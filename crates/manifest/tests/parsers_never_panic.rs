//! Property tests for every parser that reads untrusted input: whatever the bytes (random,
//! or a valid document with bytes mutated), they return a value or an error and never
//! panic. Short runs here; the same properties can be run longer with PROPTEST_CASES.

use custos_manifest::envelope::SignatureFile;
use custos_manifest::keys::{open_secret_key, PublicKey};
use custos_manifest::manifest::Manifest;
use custos_manifest::strict_json;
use proptest::prelude::*;

const VALID_SIGNATURES: &str = include_str!("../../../docs/formats/vectors/hello.json.sig");
const VALID_PUBLIC_KEY: &str = include_str!("../../../docs/formats/vectors/rfc8032-test1.pub");
const VALID_SECRET_KEY: &str = include_str!("../../../docs/formats/vectors/keys/rfc8032-test1.key");
const VALID_MANIFEST: &str = include_str!("../../../docs/formats/vectors/package-v1/custos/manifest.json");
const VALID_LOG: &str = include_str!("../../../docs/formats/vectors/package-v1/custos/custody.jsonl");

/// A valid document with a few bytes replaced, inserted or removed.
fn mutated(valid: &'static str) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..3), 1..8).prop_map(move |edits| {
        let mut bytes = valid.as_bytes().to_vec();
        for (at, byte, kind) in edits {
            let at = usize::from(at) % (bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        bytes
    })
}

fn inputs(valid: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..512), mutated(valid)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_time_parser_never_panics(text in "\\PC{0,40}", valid in 0i64..4_102_444_800, at in 0usize..25, ch in any::<char>()) {
        let _ = custos_manifest::time::parse_rfc3339(&text);
        // A valid time with one character replaced by any character (multi-byte included).
        let written = custos_manifest::time::rfc3339_from_unix(valid as u64);
        prop_assert_eq!(custos_manifest::time::parse_rfc3339(&written), Some(valid));
        let edited: String = written.chars().enumerate().map(|(i, c)| if i == at { ch } else { c }).collect();
        let _ = custos_manifest::time::parse_rfc3339(&edited);
    }

    #[test]
    fn strict_json_never_panics(bytes in inputs(VALID_MANIFEST)) {
        let _ = strict_json::check(&bytes);
    }

    #[test]
    fn signature_files_never_panic(bytes in inputs(VALID_SIGNATURES)) {
        if let Ok(file) = SignatureFile::parse(&bytes) {
            let _ = file.verify(&file.payload_type.clone(), b"payload", |_| None);
        }
    }

    #[test]
    fn public_key_files_never_panic(bytes in inputs(VALID_PUBLIC_KEY)) {
        let _ = PublicKey::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn secret_key_files_never_panic(bytes in inputs(VALID_SECRET_KEY)) {
        let _ = open_secret_key(&String::from_utf8_lossy(&bytes), Some(b"x"));
    }

    #[test]
    fn manifests_never_panic(bytes in inputs(VALID_MANIFEST)) {
        let _ = Manifest::parse(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The custody log and the bag manifests, read through a whole verification of a copy
    /// of the version-1 vector package with one file mangled.
    #[test]
    fn package_verification_never_panics(log in inputs(VALID_LOG), manifest in inputs("0123abcd  data/exhibit.txt\n")) {
        let dir = tempfile::tempdir().expect("temp dir");
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats/vectors/package-v1");
        let copy = dir.path().join("pkg");
        copy_dir(&source, &copy);
        std::fs::write(copy.join("custos/custody.jsonl"), &log).expect("write log");
        std::fs::write(copy.join("manifest-md5.txt"), &manifest).expect("write manifest");
        let findings = custos_manifest::package::verify(&copy, &custos_manifest::package::Trust::default(), false);
        prop_assert!(!findings.is_empty());
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
