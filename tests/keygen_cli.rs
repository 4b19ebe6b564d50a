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

/// Red team (round 4): `--passphrase-file /dev/zero` grew to gigabytes, where every other
/// input file is bounded. A device is refused at once, a file is read to 64 KiB at most, and
/// a pipe (process substitution, which keeps the passphrase off the disk) still works.
#[test]
fn class4_bounded_the_passphrase_file_is_read_to_a_bound_and_never_from_a_device() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let keygen = |file: &str, out: &str| {
        support::run_with_deadline(
            d,
            &["keygen", "--name", "Ada", "--role", "examiner", "--out", out, "--passphrase-file", file],
            std::time::Duration::from_secs(60),
        )
    };
    let device = keygen("/dev/zero", "a");
    support::assert_refused(&device, "is a device, socket or folder");
    write(d, "long", &vec![b'x'; 1 << 20]);
    support::assert_refused(&keygen("long", "b"), "longer than 65536 bytes");
    assert!(!d.join("a.key").exists() && !d.join("b.key").exists());

    // A pipe: the passphrase given by `--passphrase-file <(…)` in a shell.
    let custos = support::custos().get_program().to_owned();
    let piped = std::process::Command::new("bash")
        .arg("-c")
        .arg(
            r#""$0" keygen --name Ada --role examiner --out c --passphrase-file <(printf 'correct horse\n')"#,
        )
        .arg(&custos)
        .current_dir(d)
        .output()
        .expect("bash");
    assert!(piped.status.success(), "{}", String::from_utf8_lossy(&piped.stderr));
    assert!(std::fs::read_to_string(d.join("c.key")).expect("key").contains("kdf: argon2id"));
}
