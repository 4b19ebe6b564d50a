//! BagIt bags: ours validate with bagit-python (the Library of Congress' reference
//! validator), and every tamper case fails our validation with a finding naming it.

use std::path::{Path, PathBuf};
use std::process::Command;

use custos_hash::{hash_path, Algorithm, Control, HashOptions};
use custos_manifest::bagit::{validate, write_tag_files, PayloadFile};
use custos_manifest::findings::{overall, Finding, Verdict};

const ALGORITHMS: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Sha512];

fn make_bag() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bag = dir.path().join("bag");
    let files: [(&str, Vec<u8>); 3] = [
        ("data/disk.img", (0..200_000u32).map(|i| (i % 251) as u8).collect()),
        ("data/notes/a b.txt", b"spaces in names\n".to_vec()),
        ("data/empty", Vec::new()),
    ];
    let options = HashOptions { algorithms: ALGORITHMS.to_vec(), ..HashOptions::default() };
    let mut payload = Vec::new();
    for (path, bytes) in &files {
        let full = bag.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(&full, bytes).expect("write");
        let outcome = hash_path(&full, &options, &Control::default()).expect("hash");
        payload.push(PayloadFile { path: (*path).to_owned(), size: outcome.size, digests: outcome.digests });
    }
    std::fs::create_dir_all(bag.join("custos")).expect("mkdir");
    std::fs::write(bag.join("custos/manifest.json"), b"{\"custos_manifest\":1}\n").expect("write");
    let info = [("External-Identifier".to_owned(), "CASE-2026-0042".to_owned())];
    write_tag_files(&bag, &payload, &ALGORITHMS, &info, "2026-11-29").expect("tag files");
    (dir, bag)
}

fn failures(findings: &[Finding]) -> Vec<(&'static str, String)> {
    findings.iter().filter(|f| f.verdict == Verdict::Fail).map(|f| (f.check, f.subject.clone())).collect()
}

fn assert_fails(bag: &Path, check: &'static str, subject: &str) {
    let findings = validate(bag, false);
    let failed = failures(&findings);
    assert!(
        failed.iter().any(|(c, s)| *c == check && s.contains(subject)),
        "expected {check} on {subject}, got {failed:?}"
    );
}

#[test]
fn a_fresh_bag_validates() {
    let (_dir, bag) = make_bag();
    let findings = validate(&bag, false);
    assert_eq!(overall(&findings), Verdict::Pass, "{:?}", failures(&findings));
    assert!(findings.iter().any(|f| f.check == "bag.payload_digest" && f.subject == "data/disk.img"));
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).expect("bag-info");
    assert!(info.contains("Payload-Oxum: 200016.3\n"), "{info}");
}

#[test]
fn bagit_python_agrees() {
    let interop_required = std::env::var("CUSTOS_INTEROP").is_ok_and(|v| v == "require");
    let available = Command::new("bagit.py").arg("--version").output().is_ok_and(|o| o.status.success());
    if !available {
        assert!(!interop_required, "CUSTOS_INTEROP=require but bagit.py (pip install bagit) is missing");
        eprintln!("skipping: bagit.py is not installed");
        return;
    }
    let (_dir, bag) = make_bag();
    let good = Command::new("bagit.py").arg("--validate").arg(&bag).output().expect("run bagit.py");
    assert!(good.status.success(), "bagit.py rejects our bag: {}", String::from_utf8_lossy(&good.stderr));
    std::fs::write(bag.join("data/notes/a b.txt"), b"changed\n").expect("tamper");
    let bad = Command::new("bagit.py").arg("--validate").arg(&bag).output().expect("run bagit.py");
    assert!(!bad.status.success(), "bagit.py must reject a changed payload");
}

#[test]
fn byte_flipped_truncated_or_appended_payload() {
    let (_dir, bag) = make_bag();
    let image = bag.join("data/disk.img");
    let original = std::fs::read(&image).expect("read");
    let mut flipped = original.clone();
    flipped[1234] ^= 1;
    for changed in [flipped, original[..150_000].to_vec(), [original.as_slice(), b"+"].concat()] {
        std::fs::write(&image, &changed).expect("tamper");
        assert_fails(&bag, "bag.payload_digest", "data/disk.img");
    }
    std::fs::write(&image, &original[..10]).expect("truncate");
    assert_fails(&bag, "bag.payload_oxum", "bag-info.txt");
}

#[test]
fn extra_and_missing_payload_files() {
    let (_dir, bag) = make_bag();
    std::fs::write(bag.join("data/planted.txt"), b"not sealed").expect("plant");
    assert_fails(&bag, "bag.extra_file", "data/planted.txt");
    std::fs::remove_file(bag.join("data/planted.txt")).expect("unplant");
    std::fs::remove_file(bag.join("data/empty")).expect("remove");
    assert_fails(&bag, "bag.missing_file", "data/empty");
}

#[test]
fn a_symlink_under_data_is_refused_not_followed() {
    let (_dir, bag) = make_bag();
    let image = bag.join("data/disk.img");
    let outside = bag.parent().expect("parent").join("outside.img");
    std::fs::rename(&image, &outside).expect("move out");
    std::os::unix::fs::symlink(&outside, &image).expect("symlink");
    assert_fails(&bag, "bag.symlink", "data/disk.img");
    assert_fails(&bag, "bag.missing_file", "data/disk.img");
}

#[test]
fn tag_manifest_deleted_or_tag_files_edited() {
    let (_dir, bag) = make_bag();
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).expect("read");
    std::fs::write(bag.join("bag-info.txt"), info.replace("CASE-2026-0042", "CASE-2026-0043")).expect("edit");
    assert_fails(&bag, "bag.tag_digest", "bag-info.txt");
    std::fs::write(bag.join("bag-info.txt"), info).expect("restore");

    std::fs::write(bag.join("custos/manifest.json"), b"{\"custos_manifest\":2}\n").expect("edit");
    assert_fails(&bag, "bag.tag_digest", "custos/manifest.json");
    std::fs::write(bag.join("custos/manifest.json"), b"{\"custos_manifest\":1}\n").expect("restore");

    std::fs::write(bag.join("custos/planted.json"), b"{}").expect("plant");
    assert_fails(&bag, "bag.unlisted_tag_file", "custos/planted.json");
    std::fs::remove_file(bag.join("custos/planted.json")).expect("unplant");

    for algorithm in ALGORITHMS {
        std::fs::remove_file(bag.join(format!("tagmanifest-{algorithm}.txt"))).expect("delete");
    }
    assert_fails(&bag, "bag.tag_manifest", "tagmanifest");
}

#[test]
fn traversal_and_absolute_paths_in_manifests() {
    for (line_path, needle) in [
        ("../../etc/passwd", "path traversal"),
        ("/etc/passwd", "path traversal"),
        ("data/../bagit.txt", "path traversal"),
    ] {
        let (_dir, bag) = make_bag();
        let manifest = bag.join("manifest-sha256.txt");
        let mut text = std::fs::read_to_string(&manifest).expect("read");
        text.push_str(&format!("{}  {line_path}\n", "00".repeat(32)));
        std::fs::write(&manifest, text).expect("write");
        let findings = validate(&bag, false);
        assert!(
            findings
                .iter()
                .any(|f| f.check == "bag.path" && f.verdict == Verdict::Fail && f.detail.contains(needle)),
            "{line_path}: {:?}",
            failures(&findings)
        );
    }
}

#[test]
fn fast_mode_says_it_did_not_hash() {
    let (_dir, bag) = make_bag();
    std::fs::write(bag.join("data/notes/a b.txt"), b"SPACES IN NAMES\n").expect("same length, other bytes");
    let findings = validate(&bag, true);
    assert_eq!(overall(&findings), Verdict::Warn, "{:?}", failures(&findings));
    assert!(findings.iter().any(|f| f.check == "bag.payload_digest" && f.detail.contains("not re-hashed")));
}
