//! The vectors of docs/formats/vectors, made with OpenSSL from the RFC 8032 TEST 1 key:
//! the documented examples must verify, and every `fail_` vector must fail for its reason.

use custos_manifest::envelope::{SignatureFile, SignatureVerdict};
use custos_manifest::keys::PublicKey;
use custos_manifest::Error;

const TYPE: &str = "application/vnd.custos.example+json; version=1";

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/../../docs/formats/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn test1_key() -> PublicKey {
    PublicKey::parse(&String::from_utf8(vector("rfc8032-test1.pub")).expect("UTF-8"))
        .expect("the example key parses")
}

fn verify(signature_file: &str) -> Result<Vec<SignatureVerdict>, Error> {
    let key = test1_key();
    let file = SignatureFile::parse(&vector(signature_file))?;
    file.verify(TYPE, &vector("hello.json"), |id| (id == key.id().to_string()).then_some(key.key))
}

#[test]
fn the_documented_example_verifies() {
    let key = test1_key();
    assert_eq!(key.id().to_string(), "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9");
    assert_eq!(key.owner.name, "Ada Examiner");
    assert_eq!(verify("hello.json.sig").expect("verifies"), vec![SignatureVerdict::Valid(key.id())]);
}

#[test]
fn fail_vectors_fail_for_their_reason() {
    assert!(matches!(verify("fail_replayed-type.sig"), Err(Error::WrongPayloadType { .. })));
    assert!(matches!(verify("fail_flipped-signature.sig").as_deref(), Ok([SignatureVerdict::Invalid(_)])));
    match verify("fail_duplicate-key.sig") {
        Err(error @ Error::SignatureFileSyntax(_)) => {
            assert!(error.to_string().contains("duplicate key `payload_type`"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(verify("fail_unknown-version.sig"), Err(Error::UnsupportedVersion { found: 2, .. })));

    let parse = |name: &str| PublicKey::parse(&String::from_utf8(vector(name)).expect("UTF-8"));
    assert!(matches!(parse("fail_key-id-mismatch.pub"), Err(Error::KeyIdMismatch { .. })));
    match parse("fail_duplicate-field.pub") {
        Err(error) => assert!(error.to_string().contains("`name` appears twice"), "{error}"),
        Ok(key) => panic!("accepted {key:?}"),
    }
    match parse("fail_small-order-key.pub") {
        Err(error) => assert!(error.to_string().contains("small-order"), "{error}"),
        Ok(key) => panic!("accepted {key:?}"),
    }
}

#[test]
fn a_payload_changed_by_one_byte_fails() {
    let key = test1_key();
    let file = SignatureFile::parse(&vector("hello.json.sig")).expect("parses");
    let mut payload = vector("hello.json");
    payload[5] ^= 0x20;
    let verdicts = file.verify(TYPE, &payload, |_| Some(key.key)).expect("type matches");
    assert_eq!(verdicts, vec![SignatureVerdict::Invalid(key.id())]);
}

/// A package sealed by this version, committed as a vector: every later version must still
/// verify it, and its `fail_` variants must fail for their reasons.
mod package_v1 {
    use std::path::PathBuf;

    use custos_manifest::findings::{overall, Verdict};
    use custos_manifest::keys::PublicKey;
    use custos_manifest::package::{verify, Trust};

    fn path(name: &str) -> PathBuf {
        PathBuf::from(format!("{}/../../docs/formats/vectors/{name}", env!("CARGO_MANIFEST_DIR")))
    }

    fn trust() -> Trust {
        let key = |name: &str| {
            PublicKey::parse(&std::fs::read_to_string(path(&format!("keys/{name}.pub"))).expect("key file"))
                .expect("parses")
        };
        Trust { keys: vec![key("rfc8032-test1"), key("rfc8032-test2")], allow_untrusted: false }
    }

    fn failed_checks(package: &str) -> Vec<&'static str> {
        let findings = verify(&path(package), &trust(), false);
        findings.iter().filter(|f| f.verdict == Verdict::Fail).map(|f| f.check).collect()
    }

    #[test]
    fn the_version_1_package_still_verifies() {
        let findings = verify(&path("package-v1"), &trust(), false);
        let failed: Vec<_> = findings.iter().filter(|f| f.verdict != Verdict::Pass).collect();
        assert_eq!(overall(&findings), Verdict::Pass, "{failed:#?}");
        assert!(findings.iter().any(|f| f.check == "custody.transfer" && f.verdict == Verdict::Pass));
    }

    #[test]
    fn its_fail_variants_fail_for_their_reasons() {
        assert!(failed_checks("fail_package-manifest-edited").contains(&"signature.manifest"));
        let removed = failed_checks("fail_package-event-removed");
        assert!(removed.contains(&"custody.sequence") && removed.contains(&"custody.chain"), "{removed:?}");
        let flipped = failed_checks("fail_package-evidence-flipped");
        assert!(flipped.contains(&"item.digest") && flipped.contains(&"bag.payload_digest"), "{flipped:?}");
    }
}
