//! Trust across borders: a policy recognises another authority's signed key registry, and
//! only a registry that verifies under that authority's key contributes trusted keys.

mod support;

use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use custos_manifest::envelope::SignatureFile;
use custos_manifest::keys::KeyId;
use custos_policy::registry::REGISTRY_PAYLOAD_TYPE;
use custos_policy::{Policy, PolicyError};
use ed25519_dalek::SigningKey;
use support::within_deadline;

const EXAMINER: &str = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

/// Writes the registry and its signature by `signer` (the issuer, or an impostor).
fn write_registry(dir: &Path, signer: &SigningKey, revoked: bool) {
    let revocation = if revoked { r#","revoked_at":"2026-02-01T00:00:00Z""# } else { "" };
    let registry = format!(
        r#"{{"custos_key_registry":1,"id":"xb-examiners-2026","issuer":"Borealia Forensic Accreditation Office (fictional)","jurisdiction":"XB","issued_at":"2026-01-01T00:00:00Z","keys":[{{"key_id":"{EXAMINER}","principal":"Eve Examiner (XB)","roles":["examiner"]{revocation}}}]}}"#
    );
    std::fs::write(dir.join("xb-registry.json"), &registry).expect("registry");
    let mut signatures = SignatureFile::new(REGISTRY_PAYLOAD_TYPE);
    signatures.sign(signer, registry.as_bytes());
    std::fs::write(dir.join("xb-registry.json.sig"), signatures.to_bytes()).expect("signature");
}

fn write_policy(dir: &Path, issuer: &SigningKey) -> std::path::PathBuf {
    let key = issuer.verifying_key();
    let policy = format!(
        r#"{{"custos_policy":1,"id":"xa","jurisdiction":"XA","name":"Auria","effective_from":"2026-01-01T00:00:00Z",
"signatures":{{"registries":[{{"path":"xb-registry.json","issuer_key_id":"{}","issuer_public_key":"{}"}}],"cite":"mutual recognition"}}}}"#,
        KeyId::of(&key),
        BASE64.encode(key.as_bytes())
    );
    let path = dir.join("xa.json");
    std::fs::write(&path, policy).expect("policy");
    path
}

#[test]
fn a_verified_registry_contributes_its_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = SigningKey::from_bytes(&[7; 32]);
    write_registry(dir.path(), &issuer, false);
    let policy = Policy::load(&write_policy(dir.path(), &issuer)).expect("loads");
    let rule = policy.signatures.expect("rule");
    let keys: Vec<&str> = rule.all_trusted_keys().map(|k| k.principal.as_str()).collect();
    assert_eq!(keys, ["Eve Examiner (XB)"]);
}

#[test]
fn a_registry_signed_by_someone_else_or_edited_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = SigningKey::from_bytes(&[7; 32]);
    let impostor = SigningKey::from_bytes(&[8; 32]);
    write_registry(dir.path(), &impostor, false);
    let path = write_policy(dir.path(), &issuer);
    match Policy::load(&path) {
        Err(PolicyError::Registry { message, .. }) => {
            assert!(message.contains("not validly signed by its issuer"), "{message}")
        }
        other => panic!("accepted: {other:?}"),
    }
    write_registry(dir.path(), &issuer, false);
    let registry = dir.path().join("xb-registry.json");
    let text = std::fs::read_to_string(&registry).expect("read").replace("Eve Examiner", "Mal Examiner");
    std::fs::write(&registry, text).expect("edit");
    assert!(matches!(Policy::load(&path), Err(PolicyError::Registry { .. })));
    std::fs::remove_file(dir.path().join("xb-registry.json.sig")).expect("remove");
    assert!(matches!(Policy::load(&path), Err(PolicyError::Registry { .. })));
}

#[test]
fn revocations_in_a_registry_are_honoured() {
    use custos_manifest::custody::{Action, Actor, Event};
    use custos_manifest::manifest::{Case, Manifest, Tool};
    use custos_policy::{evaluate, Evidence, PolicyVerdict};

    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = SigningKey::from_bytes(&[7; 32]);
    write_registry(dir.path(), &issuer, true);
    let policy = Policy::load(&write_policy(dir.path(), &issuer)).expect("loads");
    let manifest = Manifest {
        custos_manifest: 1,
        links: Vec::new(),
        case: Case { reference: "C".into(), exhibit: None },
        sealed_at: "2026-03-01T00:00:00Z".into(),
        location: None,
        jurisdiction: None,
        tool: Tool { name: "custos".into(), version: "0".into() },
        legal_basis: vec![],
        items: vec![],
    };
    let actor = Actor {
        key_id: EXAMINER.into(),
        name: "Eve".into(),
        role: "examiner".into(),
        organisation: None,
        jurisdiction: None,
    };
    let events = vec![Event {
        manifest: "m".into(),
        ..Event::blank(Action::Sealed, actor, "2026-03-01T00:00:00Z".into())
    }];
    let signers = vec![EXAMINER.to_owned()];
    let at = custos_policy::time::parse_rfc3339("2026-04-01T00:00:00Z").expect("time");
    let findings = evaluate(
        &policy,
        &Evidence {
            manifest: &manifest,
            events: &events,
            manifest_signers: &signers,
            trusted_times: &Default::default(),
        },
        at,
    );
    let threshold = findings.iter().find(|f| f.rule == "signatures.seal_threshold").expect("finding");
    assert_eq!(threshold.verdict, PolicyVerdict::Fail);
    assert!(threshold.evidence.contains("revoked"), "{}", threshold.evidence);
}

/// Writes a registry with these key entries (JSON objects), signed by `issuer`.
fn write_registry_keys(dir: &Path, issuer: &SigningKey, keys: &str) {
    let registry = format!(
        r#"{{"custos_key_registry":1,"id":"xb-examiners-2026","issuer":"Borealia Forensic Accreditation Office (fictional)","jurisdiction":"XB","issued_at":"2026-01-01T00:00:00Z","keys":[{keys}]}}"#
    );
    std::fs::write(dir.join("xb-registry.json"), &registry).expect("registry");
    let mut signatures = SignatureFile::new(REGISTRY_PAYLOAD_TYPE);
    signatures.sign(issuer, registry.as_bytes());
    std::fs::write(dir.join("xb-registry.json.sig"), signatures.to_bytes()).expect("signature");
}

fn registry_error(result: Result<Policy, PolicyError>) -> String {
    match result {
        Err(PolicyError::Registry { message, .. }) => message,
        other => panic!("not refused for its registry: {other:?}"),
    }
}

#[test]
fn registry_entries_are_checked_like_policy_entries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = SigningKey::from_bytes(&[7; 32]);
    let path = write_policy(dir.path(), &issuer);
    let eve =
        format!(r#"{{"key_id":"{EXAMINER}","principal":"Eve","roles":["examiner"],"jurisdiction":"XB"}}"#);

    // The same key twice, once revoked: which entry would win is exactly the mistake.
    let revoked = eve.replace(r#""jurisdiction""#, r#""revoked_at":"2026-02-01T00:00:00Z","jurisdiction""#);
    write_registry_keys(dir.path(), &issuer, &format!("{eve},{revoked}"));
    let message = registry_error(Policy::load(&path));
    assert!(
        message.contains("$.keys[1].key_id") && message.contains("already listed at $.keys[0]"),
        "{message}"
    );

    write_registry_keys(dir.path(), &issuer, &eve.replace("XB", "xb"));
    let message = registry_error(Policy::load(&path));
    assert!(
        message.contains("$.keys[0].jurisdiction") && message.contains("did you mean `XB`?"),
        "{message}"
    );

    write_registry_keys(dir.path(), &issuer, &eve);
    let policy = Policy::load(&path).expect("a clean registry loads");
    let keys: Vec<_> = policy.trusted_keys().map(|k| k.jurisdiction.as_deref()).collect();
    assert_eq!(keys, [Some("XB")]);
}

#[test]
fn a_key_both_listed_and_in_a_registry_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = SigningKey::from_bytes(&[7; 32]);
    write_registry(dir.path(), &issuer, true);
    let key = issuer.verifying_key();
    // The policy lists Eve directly (unrevoked); the registry revokes her.
    let policy = format!(
        r#"{{"custos_policy":1,"id":"xa","jurisdiction":"XA","name":"Auria","effective_from":"2026-01-01T00:00:00Z",
"signatures":{{"trusted_keys":[{{"key_id":"{EXAMINER}","principal":"Eve Examiner (XB)","roles":["examiner"]}}],
"registries":[{{"path":"xb-registry.json","issuer_key_id":"{}","issuer_public_key":"{}"}}],"cite":"mutual recognition"}}}}"#,
        KeyId::of(&key),
        BASE64.encode(key.as_bytes())
    );
    let path = dir.path().join("xa.json");
    std::fs::write(&path, policy).expect("policy");
    match Policy::load(&path) {
        Err(PolicyError::Invalid { path, message }) => {
            assert_eq!(path, "$.signatures.registries[0] → xb-registry.json $.keys[0].key_id");
            assert!(message.contains("already listed at $.signatures.trusted_keys[0]"), "{message}");
        }
        other => panic!("accepted: {other:?}"),
    }
}

#[test]
fn a_registry_that_is_a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = SigningKey::from_bytes(&[7; 32]);
    let path = write_policy(dir.path(), &issuer);
    let fifo = dir.path().join("xb-registry.json");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let message = registry_error(within_deadline(&fifo, move || Policy::load(&path)));
    assert!(message.contains("not a regular file"), "{message}");
}

#[test]
fn key_registries_parse_strictly() {
    use custos_policy::registry::KeyRegistry;
    let good = format!(
        r#"{{"custos_key_registry":1,"id":"r","issuer":"i","jurisdiction":"XB","issued_at":"2026-01-01T00:00:00Z","keys":[{{"key_id":"{EXAMINER}","principal":"Eve"}}]}}"#
    );
    assert!(KeyRegistry::parse(good.as_bytes()).is_ok());
    let error = KeyRegistry::parse(good.replace("2026-01-01", "2026-13-01").as_bytes()).expect_err("time");
    assert_eq!(error.path, "$.issued_at");
    let error = KeyRegistry::parse(
        good.replace(r#""custos_key_registry":1"#, r#""custos_key_registry":2"#).as_bytes(),
    )
    .expect_err("version");
    assert!(error.message.contains("version 2"), "{error}");
    let error =
        KeyRegistry::parse(good.replace(r#""principal":"Eve""#, r#""principal":"Eve","extra":1"#).as_bytes())
            .expect_err("unknown field");
    assert!(error.message.contains("extra"), "{error}");
}
