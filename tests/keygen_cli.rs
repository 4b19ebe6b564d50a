//! `custos keygen`: readable key files, mode 0600 for the secret, passphrase protection by
//! default, no overwriting, clear errors.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{custos_in, write};

#[test]
fn writes_a_protected_key_pair() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "pass", b"correct horse battery staple\n");
    let result = custos_in(
        dir.path(),
        &[
            "keygen",
            "--name",
            "Ada Examiner",
            "--role",
            "examiner",
            "--org",
            "Lab 1",
            "--jurisdiction",
            "DE",
            "--out",
            "ada",
            "--passphrase-file",
            "pass",
            "--json",
        ],
    );
    assert_eq!(result.code, 0, "{}", result.stderr);
    let report: serde_json::Value = serde_json::from_str(result.stdout.trim()).expect("JSON");
    assert_eq!(report["protected"], true);
    let key_id = report["key_id"].as_str().expect("key id").to_owned();
    assert_eq!(key_id.len(), 64);

    let secret = std::fs::read_to_string(dir.path().join("ada.key")).expect("secret");
    let mode = std::fs::metadata(dir.path().join("ada.key")).expect("metadata").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the secret key must be private to its owner");
    assert!(secret.contains("kdf: argon2id") && secret.contains(&format!("key-id: {key_id}")), "{secret}");
    assert!(!secret.contains("correct horse"));

    let public = std::fs::read_to_string(dir.path().join("ada.pub")).expect("public");
    for line in [
        format!("key-id: {key_id}"),
        "name: Ada Examiner".into(),
        "role: examiner".into(),
        "organisation: Lab 1".into(),
        "jurisdiction: DE".into(),
    ] {
        assert!(public.contains(&line), "{line} missing from:\n{public}");
    }
    let opened = custos_manifest_check(&secret, Some(b"correct horse battery staple"));
    assert_eq!(opened, key_id);

    // Never overwrites.
    let again = custos_in(
        dir.path(),
        &["keygen", "--name", "Eve", "--role", "examiner", "--out", "ada", "--no-passphrase"],
    );
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("ada.key")).expect("secret"), secret);
}

/// Opens a secret key file through the library and returns its key id.
fn custos_manifest_check(text: &str, passphrase: Option<&[u8]>) -> String {
    let key = custos_manifest::keys::open_secret_key(text, passphrase).expect("opens with its passphrase");
    custos_manifest::keys::KeyId::of(&key.verifying_key()).to_string()
}

#[test]
fn unprotected_keys_warn_and_bad_owners_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let result = custos_in(
        dir.path(),
        &["keygen", "--name", "Robot", "--role", "auditor", "--out", "robot", "--no-passphrase"],
    );
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(result.stderr.contains("NOT protected"), "{}", result.stderr);
    let secret = std::fs::read_to_string(dir.path().join("robot.key")).expect("secret");
    assert!(secret.contains("kdf: none"));

    let bad = custos_in(
        dir.path(),
        &[
            "keygen",
            "--name",
            "X",
            "--role",
            "examiner",
            "--jurisdiction",
            "Germany",
            "--out",
            "x",
            "--no-passphrase",
        ],
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("ISO 3166-1 alpha-2"), "{}", bad.stderr);
    assert!(!dir.path().join("x.key").exists());

    // Without a terminal, a passphrase must come from a file.
    let no_tty = custos_in(dir.path(), &["keygen", "--name", "Y", "--role", "examiner", "--out", "y"]);
    assert_eq!(no_tty.code, 2);
    assert!(no_tty.stderr.contains("--passphrase-file"), "{}", no_tty.stderr);
}
