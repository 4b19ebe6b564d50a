//! Logical evidence: `seal` takes a folder (walked as `custos hash` walks it: files copied
//! under `data/FOLDER/`, symbolic links recorded and never followed, special files refused)
//! and standard input (`custos seal - --name NAME`).

mod support;

use std::path::Path;

use support::{custos_in, write};

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("pkg/custos/manifest.json")).expect("manifest"))
        .expect("JSON")
}

/// The items' paths, in the manifest's order.
fn item_paths(manifest: &serde_json::Value) -> Vec<&str> {
    manifest["items"].as_array().expect("items").iter().map(|i| i["path"].as_str().expect("path")).collect()
}

#[test]
fn a_folder_is_sealed_file_by_file_with_its_links_recorded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    write(d, "case/top.txt", b"top");
    write(d, "case/mail/2026/inbox.mbox", &support::noise(200_000, 1));
    write(d, "case/mail/notes~1.txt", b"tilde");
    std::os::unix::fs::symlink("/etc/passwd", d.join("case/mail/outside")).expect("link");
    let sealed = custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "T-1", "--segment-size", "64K", "--out", "pkg", "case"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let manifest = manifest(d);
    let paths = item_paths(&manifest);
    assert_eq!(
        paths,
        ["data/case/mail/2026/inbox.mbox", "data/case/mail/notes~1.txt", "data/case/top.txt"],
        "walked in byte order"
    );
    assert_eq!(manifest["links"][0]["path"], "data/case/mail/outside");
    assert_eq!(manifest["links"][0]["target"], "/etc/passwd");
    assert!(!d.join("pkg/data/case/mail/outside").exists(), "a link is recorded, never followed or copied");
    for (item, source) in [
        ("data/case/mail/2026/inbox.mbox", "case/mail/2026/inbox.mbox"),
        ("data/case/top.txt", "case/top.txt"),
    ] {
        let signed =
            manifest["items"].as_array().expect("items").iter().find(|i| i["path"] == item).expect("item");
        let expected =
            std::process::Command::new("sha256sum").arg(d.join(source)).output().expect("sha256sum");
        let expected = String::from_utf8_lossy(&expected.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(signed["digests"]["sha256"], expected.as_str(), "{item}: the digest is sha256sum's");
    }
    let verified = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert!(
        verified.stdout.contains("manifest.link") && verified.stdout.contains("/etc/passwd"),
        "{}",
        verified.stdout
    );
    if let Some(bagit) = support::tool("bagit.py") {
        support::external(d, &bagit, &["--validate", "pkg"]);
    }

    // Damage to a file deep in the folder is located through its own segment list.
    support::flip_bit(&d.join("pkg/data/case/mail/2026/inbox.mbox"), 150_000);
    let damaged = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(damaged.code, 1);
    assert!(
        damaged
            .stdout
            .contains("item.damaged_ranges  data/case/mail/2026/inbox.mbox: changed: bytes 131072..196608"),
        "{}",
        damaged.stdout
    );
}

#[test]
fn a_folder_holding_a_fifo_is_refused_and_nothing_is_left() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    write(d, "case/a.txt", b"a");
    let fifo = d.join("case/pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let sealed = support::run_with_deadline(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "T-2", "--out", "pkg", "case"],
        std::time::Duration::from_secs(20),
    );
    assert_eq!(sealed.code, 2, "{}", sealed.stderr);
    assert!(sealed.stderr.contains("case/pipe is a fifo"), "{}", sealed.stderr);
    assert!(!d.join("pkg").exists());
}

#[test]
fn standard_input_is_sealed_under_its_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let bytes = support::noise(123_457, 2);
    let sealed = support::run_with_stdin(
        support::custos().current_dir(d).args([
            "seal",
            "--key",
            "rfc8032-test1",
            "--case",
            "T-3",
            "--name",
            "capture.pcap",
            "--out",
            "pkg",
            "-",
        ]),
        &bytes,
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    assert_eq!(std::fs::read(d.join("pkg/data/capture.pcap")).expect("copy"), bytes);
    assert_eq!(manifest(d)["items"][0]["acquisition"]["source"]["kind"], "stdin");
    assert_eq!(custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]).code, 0);
    let nameless = custos_in(d, &["seal", "--key", "rfc8032-test1", "--case", "T-4", "--out", "pkg2", "-"]);
    assert_eq!(nameless.code, 2);
    assert!(nameless.stderr.contains("--name"), "{}", nameless.stderr);
}

#[test]
fn acquire_takes_a_folder_as_seal_does_and_refuses_image_options_for_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    write(d, "case/a.txt", b"alpha");
    write(d, "case/sub/b.bin", &support::noise(70_000, 3));
    std::os::unix::fs::symlink("/etc/passwd", d.join("case/sub/outside")).expect("link");
    let acquired =
        custos_in(d, &["acquire", "--key", "rfc8032-test1", "--case", "T-4", "-q", "--out", "pkg", "case"]);
    assert_eq!(acquired.code, 0, "{}", acquired.stderr);
    let manifest = manifest(d);
    let paths = item_paths(&manifest);
    assert_eq!(paths, ["data/case/a.txt", "data/case/sub/b.bin"]);
    assert_eq!(manifest["links"][0]["target"], "/etc/passwd", "the link recorded, not followed");
    let verified = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    let refused = custos_in(
        d,
        &["acquire", "--key", "rfc8032-test1", "--case", "T-4", "--format", "e01", "--out", "pkg2", "case"],
    );
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("is a folder"), "{}", refused.stderr);
    assert!(!d.join("pkg2").exists());
}
