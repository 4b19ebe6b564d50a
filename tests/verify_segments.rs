//! `verify --by-segments`: an item with a signed segment list is checked segment by segment
//! on every core, each damaged range named, the whole-file digests said not recomputed; a
//! segment list that is not the one the signed root binds is refused.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{custos_in, noise, write};

/// 4 KiB segments over 10,000 bytes: segments 0..4096, 4096..8192, 8192..10000.
fn sealed(dir: &Path, segment_size: &str) {
    sealed_with(dir, segment_size, &[]);
}

/// [`sealed`] with more seal options.
fn sealed_with(dir: &Path, segment_size: &str, more: &[&str]) {
    support::copy_test_keys(dir);
    write(dir, "disk.img", &noise(10_000, 3));
    let mut args = vec!["seal", "--key", "rfc8032-test1", "--case", "S-1", "--out", "pkg", "--quiet"];
    if !segment_size.is_empty() {
        args.extend(["--segment-size", segment_size]);
    }
    args.extend(more);
    args.push("disk.img");
    let run = custos_in(dir, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

fn verify(dir: &Path) -> (i32, Vec<Value>) {
    let run = custos_in(dir, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--by-segments", "--json"]);
    let record: Value =
        serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    (run.code, record["findings"].as_array().cloned().unwrap_or_default())
}

fn find<'a>(findings: &'a [Value], check: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["check"] == check).collect()
}

#[test]
fn an_intact_item_passes_by_its_segments_and_says_what_was_not_recomputed() {
    let dir = tempfile::tempdir().expect("tempdir");
    sealed(dir.path(), "4K");
    let (code, findings) = verify(dir.path());
    assert_eq!(code, 0, "{findings:?}");
    let segments = find(&findings, "item.segments");
    assert_eq!(segments.len(), 1, "{findings:?}");
    let detail = segments[0]["detail"].as_str().unwrap_or("");
    assert!(detail.contains("all 3") && detail.contains("not recomputed"), "{detail}");
    assert!(find(&findings, "item.digest").is_empty(), "whole-file digests are not claimed: {findings:?}");
    let text = custos_in(dir.path(), &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--by-segments"]);
    assert!(text.stdout.contains("VERIFIED"), "{}", text.stdout);
}

#[test]
fn damaged_ranges_are_named_exactly() {
    // (offsets flipped, ranges expected)
    let cases: [(&[usize], &[[u64; 2]]); 4] = [
        (&[0], &[[0, 4096]]),
        (&[5000], &[[4096, 8192]]),
        (&[9999], &[[8192, 10_000]]),
        (&[10, 9000], &[[0, 4096], [8192, 10_000]]),
    ];
    for (offsets, expected) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        sealed(dir.path(), "4K");
        for offset in offsets {
            support::flip_bit(&dir.path().join("pkg/data/disk.img"), *offset);
        }
        let (code, findings) = verify(dir.path());
        assert_eq!(code, 1, "{offsets:?}");
        let damaged = find(&findings, "item.damaged_ranges");
        assert_eq!(damaged.len(), 1, "{offsets:?}: {findings:?}");
        let ranges: Vec<[u64; 2]> = serde_json::from_value(damaged[0]["ranges"].clone()).expect("ranges");
        assert_eq!(ranges, expected, "{offsets:?}");
        // The whole-file verification agrees that the item is damaged, on the same ranges.
        let whole = custos_in(dir.path(), &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--json"]);
        assert_eq!(whole.code, 1);
        let record: Value = serde_json::from_str(whole.stdout.trim()).expect("json");
        let whole_ranges = record["findings"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["check"] == "item.damaged_ranges"))
            .map(|f| f["ranges"].clone());
        assert_eq!(whole_ranges, Some(damaged[0]["ranges"].clone()));
    }
}

#[test]
fn a_segment_list_the_signed_root_does_not_bind_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    sealed(dir.path(), "4K");
    let pkg = dir.path().join("pkg");
    // Damage the evidence, then "repair" the stored list to match it and recompute every
    // unsigned tag manifest: the signed root still says otherwise.
    support::flip_bit(&pkg.join("data/disk.img"), 5000);
    let list = std::fs::read_dir(pkg.join("custos/segments"))
        .expect("segments folder")
        .map(|e| e.expect("entry").path())
        .next()
        .expect("a segment list");
    let mut record: Value =
        serde_json::from_str(&std::fs::read_to_string(&list).expect("read")).expect("json");
    let bytes = std::fs::read(pkg.join("data/disk.img")).expect("read");
    let fresh = blake3::hash(&bytes[4096..8192]).to_hex().to_string();
    assert_eq!(record["algorithm"], "blake3", "seal's segments are BLAKE3");
    record["digests"][1] = Value::String(fresh);
    std::fs::write(&list, record.to_string() + "\n").expect("write");
    support::recompute_tag_manifests(&pkg);
    let (code, findings) = verify(dir.path());
    assert_eq!(code, 1);
    let damaged = find(&findings, "item.damaged_ranges");
    assert!(
        // Refused by the list's own root, or (were that recomputed too) by the signed root.
        damaged
            .iter()
            .any(|f| f["verdict"] == "fail" && f["detail"].as_str().is_some_and(|d| d.contains("root"))),
        "{findings:?}"
    );
    assert!(find(&findings, "item.segments").is_empty());
}

#[test]
fn items_without_segments_are_checked_by_their_whole_digests() {
    let dir = tempfile::tempdir().expect("tempdir");
    sealed(dir.path(), "");
    let (code, findings) = verify(dir.path());
    assert_eq!(code, 0, "{findings:?}");
    assert!(!find(&findings, "item.digest").is_empty());
    assert!(find(&findings, "item.segments").is_empty());
    let refused = custos_in(dir.path(), &["verify", "pkg", "--by-segments", "--fast"]);
    // --by-segments and --fast together make no sense: clap names the conflict.
    support::assert_refused(&refused, "cannot be used with");
}

#[test]
fn sha256_segments_prove_an_item_and_name_its_damaged_ranges() {
    let dir = tempfile::tempdir().expect("tempdir");
    sealed_with(dir.path(), "4K", &["--segment-algo", "sha256"]);
    let pkg = dir.path().join("pkg");
    // The stored list holds plain SHA-256 digests of the segments' bytes.
    let list = pkg.join("custos/segments/disk.img.json");
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(&list).expect("read the list")).expect("json");
    assert_eq!(record["algorithm"], "sha256");
    let bytes = std::fs::read(pkg.join("data/disk.img")).expect("read");
    let second = support::digest_hex("sha256", &bytes[4096..8192]);
    assert_eq!(record["digests"][1].as_str(), Some(second.as_str()));

    let (code, findings) = verify(dir.path());
    assert_eq!(code, 0, "{findings:?}");
    let detail = find(&findings, "item.segments")[0]["detail"].as_str().unwrap_or("").to_owned();
    assert!(detail.contains("all 3 sha256 segments") && detail.contains("not recomputed"), "{detail}");

    support::flip_bit(&pkg.join("data/disk.img"), 4096);
    let (code, findings) = verify(dir.path());
    assert_eq!(code, 1);
    let damaged = find(&findings, "item.damaged_ranges");
    let ranges: Vec<[u64; 2]> = serde_json::from_value(damaged[0]["ranges"].clone()).expect("ranges");
    assert_eq!(ranges, [[4096, 8192]]);
}

#[test]
fn segments_without_a_collision_resistant_digest_are_refused_at_seal() {
    let dir = tempfile::tempdir().expect("tempdir");
    support::copy_test_keys(dir.path());
    write(dir.path(), "disk.img", &noise(10_000, 3));
    for weak in ["md5", "sha1"] {
        let run = custos_in(
            dir.path(),
            &[
                "seal",
                "--key",
                "rfc8032-test1",
                "--case",
                "S-1",
                "--out",
                "pkg",
                "--quiet",
                "--segment-size",
                "4K",
                "--segment-algo",
                weak,
                "disk.img",
            ],
        );
        assert_eq!(run.code, 2, "{weak}: {}", run.stderr);
        assert!(run.stderr.contains("collision-resistant"), "{weak}: {}", run.stderr);
        assert!(!dir.path().join("pkg").exists(), "{weak}: nothing is written");
    }
}

/// Seal records the one digest each copy was read back with: BLAKE3 when recorded,
/// otherwise SHA-256; nothing for evidence it did not copy.
#[test]
fn seal_records_which_digest_proved_each_copy() {
    let cases: [(&[&str], Option<&str>); 3] =
        [(&[], Some("blake3")), (&["--algo", "md5,sha1"], Some("sha256")), (&["--reference"], None)];
    for (options, expected) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        sealed_with(dir.path(), "", options);
        let manifest: Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("pkg/custos/manifest.json")).expect("read the manifest"),
        )
        .expect("json");
        let check = &manifest["items"][0]["copy_verification"];
        match expected {
            Some(algorithm) => {
                assert_eq!(check["algorithm"], algorithm, "{options:?}: {check}");
                assert_eq!(check["result"], "match");
            }
            None => assert!(check.is_null(), "{options:?}: {check}"),
        }
        let run = custos_in(
            dir.path(),
            &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--evidence", "disk.img"],
        );
        assert_eq!(run.code, 0, "{options:?}: {}{}", run.stdout, run.stderr);
    }
}

#[test]
fn a_segment_list_naming_another_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    sealed(dir.path(), "4K");
    let pkg = dir.path().join("pkg");
    // The root binds the digests, not the name: a holder renames the list's file.
    let list = pkg.join("custos/segments/disk.img.json");
    let mut record: Value =
        serde_json::from_str(&std::fs::read_to_string(&list).expect("read")).expect("json");
    record["path"] = Value::String("data/other.img".into());
    std::fs::write(&list, record.to_string() + "\n").expect("write");
    support::recompute_tag_manifests(&pkg);
    let (code, findings) = verify(dir.path());
    assert_eq!(code, 1, "{findings:?}");
    let damaged = find(&findings, "item.damaged_ranges");
    assert!(
        damaged
            .iter()
            .any(|f| f["detail"].as_str().is_some_and(|d| d.contains("is the list of \"data/other.img\""))),
        "{findings:?}"
    );
}
