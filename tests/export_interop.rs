//! What a court can check without Custos: the package is a bag bagit-python accepts, the
//! manifest's minisign signature verifies with the real minisign, and the exported checksum
//! lists pass sha256sum and b3sum. Each also fails once the thing it vouches for changes.

mod support;

use std::path::Path;
use std::process::Command;

use support::{custos_in, external, noise, run, tool, write};

fn sealed_package(dir: &Path) {
    let made =
        custos_in(dir, &["keygen", "--name", "Ada", "--role", "examiner", "--out", "ada", "--no-passphrase"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    write(dir, "evidence/disk.img", &noise(1_500_000, 9));
    write(dir, "evidence/log.txt", b"seized 2026-11-02\n");
    let sealed = custos_in(
        dir,
        &["seal", "--key", "ada", "--case", "C-1", "--out", "pkg", "evidence/disk.img", "evidence/log.txt"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
}

#[test]
fn minisign_verifies_the_exported_manifest_signature() {
    let Some(minisign) = tool("minisign") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed_package(d);
    let exported = custos_in(d, &["export", "minisign", "pkg", "--key", "ada"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let key = std::fs::read_dir(d.join("pkg/custos/keys"))
        .expect("keys")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".minisign.pub"))
        .expect("a minisign key");
    let key = key.to_str().expect("UTF-8");
    let verified = external(d, &minisign, &["-Vm", "pkg/custos/manifest.json", "-p", key]);
    assert!(verified.contains("Trusted comment: custos manifest, case C-1"), "{verified}");
    // The package still verifies (the export refreshed the tag manifests).
    let verify = custos_in(d, &["verify", "pkg", "--trust", "ada.pub"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    // A court checks with a key it holds, exported from Ada's own .pub, not the package's copy.
    let own = custos_in(d, &["key", "export-minisign", "ada.pub", "--out", "ada.minisign.pub"]);
    assert_eq!(own.code, 0, "{}", own.stderr);
    let verified = external(d, &minisign, &["-Vm", "pkg/custos/manifest.json", "-p", "ada.minisign.pub"]);
    assert!(verified.contains("Signature and comment signature verified"), "{verified}");
    let shown = custos_in(d, &["key", "show", "ada.pub", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).expect("JSON");
    assert_eq!(shown["fingerprint"].as_str().map(str::len), Some(39), "{shown}");
    assert!(shown["key_id"]
        .as_str()
        .is_some_and(|id| id.starts_with(&shown["fingerprint"].as_str().unwrap_or("x")[..4])));

    // One character of the manifest changed: minisign refuses it.
    let manifest = d.join("pkg/custos/manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, text.replace("C-1", "C-2")).expect("edit");
    let refused =
        run(Command::new(&minisign).current_dir(d).args(["-Vm", "pkg/custos/manifest.json", "-p", key]));
    assert_ne!(refused.code, 0, "minisign accepted an edited manifest");
}

#[test]
fn exported_checksums_pass_coreutils_and_b3sum() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed_package(d);
    let exported = custos_in(d, &["export", "checksums", "pkg", "--out", "sums"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let pkg = d.join("pkg");
    if let Some(sha256sum) = tool("sha256sum") {
        let ok = external(&pkg, &sha256sum, &["-c", "../sums/SHA256SUMS"]);
        assert_eq!(ok.matches(": OK").count(), 2, "{ok}");
    }
    if let Some(b3sum) = tool("b3sum") {
        let ok = external(&pkg, &b3sum, &["--check", "../sums/B3SUMS"]);
        assert_eq!(ok.matches(": OK").count(), 2, "{ok}");
    }
    // The bag's own manifest is already in sha256sum's format.
    if let Some(sha256sum) = tool("sha256sum") {
        let ok = external(&pkg, &sha256sum, &["-c", "manifest-sha256.txt"]);
        assert_eq!(ok.matches(": OK").count(), 2, "{ok}");
    }
}

#[test]
fn bagit_python_accepts_the_package() {
    let Some(bagit) = tool("bagit.py") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed_package(d);
    let made = custos_in(
        d,
        &["keygen", "--name", "Bob", "--role", "evidence_custodian", "--out", "bob", "--no-passphrase"],
    );
    assert_eq!(made.code, 0);
    assert_eq!(custos_in(d, &["custody", "release", "pkg", "--key", "ada", "--to", "bob.pub"]).code, 0);
    assert_eq!(custos_in(d, &["custody", "accept", "pkg", "--key", "bob"]).code, 0);
    let valid = run(Command::new(&bagit).current_dir(d).args(["--validate", "pkg"]));
    assert_eq!(valid.code, 0, "bagit.py: {}", valid.stderr);
}
