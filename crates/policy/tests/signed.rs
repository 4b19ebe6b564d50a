//! Signed policies: a policy edited after it was signed is refused, never judged; who signed
//! is reported; signatures nobody can check vouch for nothing; the files read are bounded
//! and never block.

mod support;

use std::path::{Path, PathBuf};

use custos_manifest::envelope::SignatureFile;
use custos_manifest::keys::{Owner, PublicKey};
use custos_policy::registry::{POLICY_PAYLOAD_TYPE, REGISTRY_PAYLOAD_TYPE};
use custos_policy::{Policy, PolicyError, PolicySignature, PolicySigner};
use ed25519_dalek::SigningKey;
use support::within_deadline;

const POLICY: &str = r#"{"custos_policy":1,"id":"xa","jurisdiction":"XA","name":"Auria","effective_from":"2026-01-01T00:00:00Z","digests":{"required_any":["sha256"],"cite":"c"}}"#;

fn public(secret: &SigningKey, name: &str) -> PublicKey {
    PublicKey {
        key: secret.verifying_key(),
        owner: Owner {
            name: name.into(),
            role: "policy_officer".into(),
            organisation: None,
            jurisdiction: None,
        },
        created: "2026-01-01T00:00:00Z".into(),
    }
}

fn write_policy(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("xa.json");
    std::fs::write(&path, text).expect("policy");
    path
}

fn sign(path: &Path, signers: &[&SigningKey], payload_type: &str) {
    let bytes = std::fs::read(path).expect("policy bytes");
    let mut file = SignatureFile::new(payload_type);
    for signer in signers {
        file.sign(signer, &bytes);
    }
    std::fs::write(sig(path), file.to_bytes()).expect("signature file");
}

fn sig(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.sig", path.display()))
}

fn signature_error(result: Result<custos_policy::LoadedPolicy, PolicyError>) -> String {
    match result {
        Err(PolicyError::Signature { message, .. }) => message,
        other => panic!("not refused for its signature: {other:?}"),
    }
}

#[test]
fn unsigned_signed_and_unknown_signers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_policy(dir.path(), POLICY);
    let (ada, bob) = (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]));
    let trusted = [public(&ada, "Ada Officer")];

    let loaded = Policy::load_checked(&path, &trusted).expect("unsigned loads");
    assert_eq!(loaded.signature, PolicySignature::Unsigned);
    assert!(!loaded.signature.is_trusted());

    sign(&path, &[&ada], POLICY_PAYLOAD_TYPE);
    let loaded = Policy::load_checked(&path, &trusted).expect("signed loads");
    let ada_id = trusted[0].id().to_string();
    assert_eq!(
        loaded.signature,
        PolicySignature::SignedBy {
            signers: vec![PolicySigner { key_id: ada_id.clone(), name: "Ada Officer".into() }]
        }
    );
    assert!(loaded.signature.is_trusted());
    assert_eq!(loaded.policy.id, "xa");
    assert_eq!(
        serde_json::to_value(&loaded.signature).expect("JSON"),
        serde_json::json!({"status": "signed", "signers": [{"key_id": ada_id, "name": "Ada Officer"}]})
    );

    // Nobody given who could check the signature: it vouches for nothing.
    let loaded = Policy::load_checked(&path, &[]).expect("loads");
    assert_eq!(loaded.signature, PolicySignature::SignedByUnknownKey { key_ids: vec![ada_id.clone()] });
    assert_eq!(serde_json::to_value(&loaded.signature).expect("JSON")["status"], "unknown_key");
    assert_eq!(
        serde_json::to_value(PolicySignature::Unsigned).expect("JSON"),
        serde_json::json!({"status": "unsigned"})
    );

    // Co-signed by a trusted and an unknown key: signed by the trusted one.
    sign(&path, &[&bob, &ada, &ada], POLICY_PAYLOAD_TYPE);
    let loaded = Policy::load_checked(&path, &trusted).expect("loads");
    assert_eq!(
        loaded.signature,
        PolicySignature::SignedBy {
            signers: vec![PolicySigner { key_id: ada_id, name: "Ada Officer".into() }]
        }
    );
    // The plain loader still works on a signed policy.
    assert_eq!(Policy::load(&path).expect("loads").id, "xa");
}

#[test]
fn a_policy_edited_after_signing_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_policy(dir.path(), POLICY);
    let ada = SigningKey::from_bytes(&[1; 32]);
    let trusted = [public(&ada, "Ada Officer")];
    sign(&path, &[&ada], POLICY_PAYLOAD_TYPE);
    // Weaken the digest rule after signing.
    std::fs::write(&path, POLICY.replace(r#"["sha256"]"#, r#"["md5"]"#)).expect("edit");
    let message = signature_error(Policy::load_checked(&path, &trusted));
    assert!(message.contains("changed after it was signed") && message.contains("Ada Officer"), "{message}");
    // Also when the edit breaks the policy itself: the edit is what is reported.
    std::fs::write(&path, "{").expect("edit");
    assert!(signature_error(Policy::load_checked(&path, &trusted)).contains("changed after it was signed"));
    // One byte of whitespace is an edit too.
    std::fs::write(&path, format!("{POLICY} ")).expect("edit");
    assert!(matches!(Policy::load_checked(&path, &trusted), Err(PolicyError::Signature { .. })));
    // Restored, it verifies again.
    std::fs::write(&path, POLICY).expect("restore");
    assert!(Policy::load_checked(&path, &trusted).expect("loads").signature.is_trusted());
}

#[test]
fn damaged_or_foreign_signature_files_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_policy(dir.path(), POLICY);
    let ada = SigningKey::from_bytes(&[1; 32]);
    let trusted = [public(&ada, "Ada Officer")];

    // A registry signature replayed as a policy signature.
    sign(&path, &[&ada], REGISTRY_PAYLOAD_TYPE);
    let message = signature_error(Policy::load_checked(&path, &trusted));
    assert!(message.contains("not a policy"), "{message}");
    // Even when the caller trusts nobody: the file is wrong whoever reads it.
    assert!(matches!(Policy::load_checked(&path, &[]), Err(PolicyError::Signature { .. })));

    std::fs::write(sig(&path), b"not json").expect("write");
    assert!(signature_error(Policy::load_checked(&path, &trusted)).contains("not a signature file"));

    let empty = SignatureFile::new(POLICY_PAYLOAD_TYPE);
    std::fs::write(sig(&path), empty.to_bytes()).expect("write");
    assert!(signature_error(Policy::load_checked(&path, &trusted)).contains("no signature"));

    // A damaged entry by a key nobody gave is still a damaged file.
    let mut damaged = SignatureFile::new(POLICY_PAYLOAD_TYPE);
    damaged.sign(&SigningKey::from_bytes(&[9; 32]), POLICY.as_bytes());
    damaged.signatures[0].sig = "AAAA".into();
    std::fs::write(sig(&path), damaged.to_bytes()).expect("write");
    assert!(signature_error(Policy::load_checked(&path, &[])).contains("malformed"));

    // Too large to be a signature file: refused before it is read.
    std::fs::write(sig(&path), vec![b' '; (custos_policy::MAX_SIGNATURE_BYTES + 1) as usize]).expect("write");
    match Policy::load_checked(&path, &trusted) {
        Err(PolicyError::Unreadable { message, .. }) => assert!(message.contains("larger than"), "{message}"),
        other => panic!("accepted: {other:?}"),
    }
}

#[test]
fn special_files_are_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_policy(dir.path(), POLICY);
    let unreadable = |result: Result<custos_policy::LoadedPolicy, PolicyError>| match result {
        Err(PolicyError::Unreadable { message, .. }) => message,
        other => panic!("accepted: {other:?}"),
    };

    // A signature "file" that is a link to /dev/zero would never end.
    std::os::unix::fs::symlink("/dev/zero", sig(&path)).expect("link");
    assert!(unreadable(Policy::load_checked(&path, &[])).contains("symbolic link"));
    std::fs::remove_file(sig(&path)).expect("remove");

    // A FIFO with no writer would block a plain open forever: refused within a deadline.
    let status = std::process::Command::new("mkfifo").arg(sig(&path)).status().expect("mkfifo");
    assert!(status.success());
    let policy = path.clone();
    let message = unreadable(within_deadline(&sig(&path), move || Policy::load_checked(&policy, &[])));
    assert!(message.contains("not a regular file"), "{message}");
    std::fs::remove_file(sig(&path)).expect("remove");

    // The policy itself: a link, a directory, a FIFO.
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&path, &link).expect("link");
    assert!(unreadable(Policy::load_checked(&link, &[])).contains("symbolic link"));
    assert!(unreadable(Policy::load_checked(dir.path(), &[])).contains("not a regular file"));
    let fifo = dir.path().join("fifo.json");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let policy = fifo.clone();
    let message = unreadable(within_deadline(&fifo, move || Policy::load_checked(&policy, &[])));
    assert!(message.contains("not a regular file"), "{message}");
    assert!(unreadable(Policy::load_checked(&dir.path().join("missing.json"), &[])).contains("no such file"));

    // Too large.
    let huge = dir.path().join("huge.json");
    std::fs::write(&huge, vec![b' '; (custos_policy::MAX_DOCUMENT_BYTES + 1) as usize]).expect("write");
    assert!(unreadable(Policy::load_checked(&huge, &[])).contains("larger than"));
}
