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
