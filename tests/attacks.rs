//! The attack suite: each class of attack from "Verification that holds against an
//! adversary", applied to a genuine package the way an attacker would (ordinary file
//! operations, and a BagIt tool's recomputation of the unsigned tag manifests), through the
//! `custos` binary. Outsider: can change any byte of a package but holds no trusted key.
//! Insider: holds one trusted key (the RFC 8032 TEST 2 key, Bob's here).

mod support;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::Digest as _;
use support::{copy_test_keys, custos_in, noise, recompute_tag_manifests, run_with_deadline, write, Run};

/// RFC 8032 section 7.1, TEST 1 and TEST 2 secret keys (public test keys).
const TEST1_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const TEST2_SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
const EVENT_TYPE: &str = "application/vnd.custos.custody-event+json; version=1";

struct Case {
    _dir: tempfile::TempDir,
    root: PathBuf,
    pkg: PathBuf,
}

/// A genuine package: two evidence files sealed by TEST 1 (Ada) with md5 and sha256 bag
/// manifests, released to TEST 2 (Bob) and accepted.
fn genuine() -> Case {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_owned();
    copy_test_keys(&root);
    write(&root, "evidence/disk.img", &noise(300_000, 7));
    write(&root, "evidence/report 100%.txt", b"a genuine name with a percent sign\n");
    let sealed = custos_in(
        &root,
        &[
            "seal",
            "--key",
            "rfc8032-test1",
            "--case",
            "CASE-9",
            "--legal-basis",
            "warrant:W-9",
            "--algo",
            "md5,sha256,blake3",
            "--out",
            "pkg",
            "evidence/disk.img",
            "evidence/report 100%.txt",
        ],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let released = custos_in(
        &root,
        &["custody", "release", "pkg", "--key", "rfc8032-test1", "--to", "rfc8032-test2.pub"],
    );
    assert_eq!(released.code, 0, "{}", released.stderr);
    let accepted = custos_in(&root, &["custody", "accept", "pkg", "--key", "rfc8032-test2"]);
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    let pkg = root.join("pkg");
    Case { _dir: dir, root, pkg }
}

fn verify(case: &Case, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "pkg", "--trust", "rfc8032-test1.pub", "--trust", "rfc8032-test2.pub"];
    args.extend(extra);
    custos_in(&case.root, &args)
}

/// Asserts verification fails (exit 1) with a FAIL line of `check` that mentions `needle`.
fn assert_caught(case: &Case, check: &str, needle: &str) -> Run {
    let run = verify(case, &[]);
    assert_eq!(run.code, 1, "expected exit 1 for {check}: {}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.lines().any(|l| l.starts_with("FAIL") && l.contains(check) && l.contains(needle)),
        "expected FAIL {check} mentioning `{needle}`:\n{}",
        run.stdout
    );
    run
}

fn make_writable(path: &Path) {
    assert!(Command::new("chmod").arg("-R").arg("u+w").arg(path).status().expect("chmod").success());
}

/// Makes an examiner's key pair `dir/out.key`, `dir/out.pub` (no passphrase) and returns the
/// public key file's text.
fn new_examiner_key(dir: &Path, name: &str, out: &str) -> String {
    let made =
        custos_in(dir, &["keygen", "--name", name, "--role", "examiner", "--out", out, "--no-passphrase"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    std::fs::read_to_string(dir.join(format!("{out}.pub"))).expect("the public key")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn append_line(path: &Path, line: &str) {
    let mut text = std::fs::read_to_string(path).expect("read");
    text.push_str(line);
    text.push('\n');
    std::fs::write(path, text).expect("write");
}

/// Every file of a folder with its bytes (links as their targets), to show a failed command
/// left the package byte-identical.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let meta = path.symlink_metadata().expect("lstat");
        if meta.file_type().is_symlink() {
            all.insert(
                path.clone(),
                std::fs::read_link(&path).expect("readlink").as_os_str().as_bytes().to_vec(),
            );
        } else if meta.is_dir() {
            all.extend(snapshot(&path));
        } else {
            all.insert(path.clone(), std::fs::read(&path).expect("read"));
        }
    }
    all
}

fn log_lines(case: &Case) -> Vec<String> {
    std::fs::read_to_string(case.pkg.join("custos/custody.jsonl"))
        .expect("log")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn seed(hex_seed: &str) -> SigningKey {
    let bytes: Vec<u8> =
        (0..32).map(|i| u8::from_str_radix(&hex_seed[2 * i..2 * i + 2], 16).expect("hex")).collect();
    SigningKey::from_bytes(&bytes.try_into().expect("32 bytes"))
}

/// An insider's forged event: the last event copied, changed by `edit`, chained, sequenced
/// and signed with `key` (a trusted key), then appended with ordinary file writes and the
/// tag manifests recomputed. Returns nothing: verification must catch what it is.
fn forge_event(case: &Case, key: &SigningKey, edit: impl FnOnce(&mut serde_json::Value)) {
    let lines = log_lines(case);
    let last = lines.last().expect("a log");
    let line: serde_json::Value = serde_json::from_str(last).expect("line");
    let mut event: serde_json::Value =
        serde_json::from_str(line["payload"].as_str().expect("payload")).expect("event");
    let object = event.as_object_mut().expect("object");
    object.insert("sequence".into(), (lines.len() as u64).into());
    object.insert("previous".into(), hex(&sha2::Sha256::digest(last.as_bytes())).into());
    for field in [
        "release",
        "receiver",
        "note",
        "observed_digests",
        "items",
        "purpose",
        "location",
        "country",
        "legal_basis",
        "order",
        "conditions",
        "retain_until",
        "onward",
        "authorisation",
        "disclosure",
        "to_state",
        "occurred_at",
        "seal_number",
        "condition",
        "storage",
        "exhibit",
        "attachments",
        "hold",
        "witnessed",
    ] {
        object.remove(field);
    }
    object.insert("action".into(), "examined".into());
    let key_id = hex(&sha2::Sha256::digest(key.verifying_key().as_bytes()));
    let actor = object.get_mut("actor").and_then(|a| a.as_object_mut()).expect("actor");
    if actor["key_id"] != key_id.as_str() {
        // Take the signer's actor from the first event it signed.
        let own = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("line"))
            .map(|l| serde_json::from_str::<serde_json::Value>(l["payload"].as_str().expect("p")).expect("e"))
            .find(|e| e["actor"]["key_id"] == key_id.as_str())
            .expect("the signer has signed an event before");
        *actor = own["actor"].as_object().expect("actor").clone();
    }
    edit(&mut event);
    let payload = serde_json::to_string(&event).expect("json");
    let message = format!("DSSEv1 {} {EVENT_TYPE} {} {payload}", EVENT_TYPE.len(), payload.len());
    let signature = key.sign(message.as_bytes());
    let line = serde_json::json!({
        "payload": payload,
        "payload_type": EVENT_TYPE,
        "signatures": [{ "key_id": key_id, "sig": base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()) }],
    });
    append_line(&case.pkg.join("custos/custody.jsonl"), &line.to_string());
    recompute_tag_manifests(&case.pkg);
}

#[test]
fn the_genuine_package_verifies_and_a_percent_sign_in_a_name_is_no_problem() {
    let case = genuine();
    let run = verify(&case, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("VERIFIED"), "{}", run.stdout);
    let manifest = std::fs::read_to_string(case.pkg.join("manifest-sha256.txt")).expect("read");
    assert!(manifest.contains("data/report 100%25.txt"), "RFC 8493 encodes `%`: {manifest}");
}

// Class 1: coverage is what is on disk, compared as bytes.

#[test]
fn class1_a_file_planted_and_listed_only_in_the_md5_manifest() {
    let case = genuine();
    make_writable(&case.pkg);
    write(&case.pkg, "data/planted.txt", b"planted\n");
    append_line(
        &case.pkg.join("manifest-md5.txt"),
        &format!("{}  data/planted.txt", hex(&md5::Md5::digest(b"planted\n"))),
    );
    recompute_tag_manifests(&case.pkg);
    assert_caught(&case, "manifest.coverage", "data/planted.txt");
    assert_caught(&case, "bag.extra_file", "manifest-sha256.txt");
}

#[test]
fn class1_a_file_planted_with_a_new_payload_manifest_of_its_own() {
    let case = genuine();
    make_writable(&case.pkg);
    write(&case.pkg, "data/planted.txt", b"planted\n");
    let digest = hex(&sha2::Sha512::digest(b"planted\n"));
    std::fs::write(case.pkg.join("manifest-sha512.txt"), format!("{digest}  data/planted.txt\n"))
        .expect("write");
    recompute_tag_manifests(&case.pkg);
    assert_caught(&case, "manifest.coverage", "data/planted.txt");
    assert_caught(&case, "bag.extra_file", "not in manifest-sha512.txt");
}

#[test]
fn class1_a_file_planted_in_every_bag_manifest_is_still_not_signed() {
    let case = genuine();
    make_writable(&case.pkg);
    write(&case.pkg, "data/planted.txt", b"planted\n");
    append_line(
        &case.pkg.join("manifest-md5.txt"),
        &format!("{}  data/planted.txt", hex(&md5::Md5::digest(b"planted\n"))),
    );
    append_line(
        &case.pkg.join("manifest-sha256.txt"),
        &format!("{}  data/planted.txt", hex(&sha2::Sha256::digest(b"planted\n"))),
    );
    let info = std::fs::read_to_string(case.pkg.join("bag-info.txt")).expect("read");
    let oxum = info.lines().find_map(|l| l.strip_prefix("Payload-Oxum: ")).expect("oxum").to_owned();
    let (bytes, files) = oxum.split_once('.').expect("oxum");
    let fixed = format!("{}.{}", bytes.parse::<u64>().expect("n") + 8, files.parse::<u64>().expect("n") + 1);
    std::fs::write(case.pkg.join("bag-info.txt"), info.replace(&oxum, &fixed)).expect("write");
    recompute_tag_manifests(&case.pkg);
    let run = assert_caught(&case, "manifest.coverage", "data/planted.txt");
    assert!(!run.stdout.contains("FAIL  bag."), "the bag itself is consistent: {}", run.stdout);
}

#[test]
fn class1_a_name_that_is_not_utf8_fails_and_is_shown_as_bytes() {
    let case = genuine();
    make_writable(&case.pkg);
    let name = std::ffi::OsStr::from_bytes(b"data/caf\xe9.txt");
    std::fs::write(case.pkg.join(name), b"latin-1 name\n").expect("write");
    assert_caught(&case, "bag.name_encoding", "caf\\xe9.txt");
}

// Class 2: one safe way to read a package file.

#[test]
fn class2_fifos_in_place_of_tag_files_never_hang_verify() {
    for victim in ["bagit.txt", "custos/custody.jsonl", "custos/manifest.json.sig"] {
        let case = genuine();
        make_writable(&case.pkg);
        std::fs::remove_file(case.pkg.join(victim)).expect("remove");
        assert!(Command::new("mkfifo").arg(case.pkg.join(victim)).status().expect("mkfifo").success());
        let run = run_with_deadline(
            &case.root,
            &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--trust", "rfc8032-test2.pub"],
            Duration::from_secs(60),
        );
        assert_eq!(run.code, 1, "{victim}: {}", run.stdout);
        assert!(run.stdout.contains("package.special_file") && run.stdout.contains(victim), "{}", run.stdout);
    }
}

#[test]
fn class2_links_to_dev_zero_and_outside_key_files_are_never_read() {
    let case = genuine();
    make_writable(&case.pkg);
    std::fs::remove_file(case.pkg.join("bagit.txt")).expect("remove");
    std::os::unix::fs::symlink("/dev/zero", case.pkg.join("bagit.txt")).expect("link");
    let run = run_with_deadline(
        &case.root,
        &["verify", "pkg", "--trust", "rfc8032-test1.pub"],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("package.link") && run.stdout.contains("/dev/zero"), "{}", run.stdout);

    // A key file that is a link to a file outside the package.
    let keys = case.pkg.join("custos/keys");
    let key_file = std::fs::read_dir(&keys).expect("keys").next().expect("a key").expect("entry").path();
    let outside = case.root.join("outside.pub");
    std::fs::rename(&key_file, &outside).expect("move out");
    std::os::unix::fs::symlink(&outside, &key_file).expect("link");
    let run = verify(&case, &[]);
    assert!(run.stdout.contains("package.link") && run.stdout.contains("custos/keys/"), "{}", run.stdout);
}

#[test]
fn class2_a_sparse_stand_in_is_refused_by_its_size_before_hashing() {
    let case = genuine();
    make_writable(&case.pkg);
    let image = case.pkg.join("data/disk.img");
    std::fs::remove_file(&image).expect("remove");
    std::fs::File::create(&image).expect("create").set_len(1 << 30).expect("sparse 1 GiB");
    let run = assert_caught(&case, "item.size", "not hashed");
    assert!(run.stdout.contains("1073741824 bytes on disk"), "{}", run.stdout);
}

// Class 3: one safe way to write.

#[test]
fn class3_custody_commands_never_write_through_links() {
    for victim in ["tagmanifest-sha256.txt", "custos/custody.jsonl"] {
        let case = genuine();
        make_writable(&case.pkg);
        let outside = case.root.join("outside.txt");
        std::fs::write(&outside, b"not part of the package\n").expect("write");
        std::fs::remove_file(case.pkg.join(victim)).expect("remove");
        std::os::unix::fs::symlink(&outside, case.pkg.join(victim)).expect("link");
        let before = snapshot(&case.pkg);
        let run = custos_in(
            &case.root,
            &["custody", "record", "pkg", "--key", "rfc8032-test2", "--action", "examined"],
        );
        assert_eq!(run.code, 2, "{victim}: {}", run.stdout);
        assert!(run.stderr.contains("link"), "{}", run.stderr);
        assert_eq!(std::fs::read(&outside).expect("read"), b"not part of the package\n", "{victim}");
        assert_eq!(snapshot(&case.pkg), before, "{victim}: the package changed");
    }
}

#[test]
fn class3_a_dangling_key_link_creates_nothing_outside() {
    let case = genuine();
    make_writable(&case.pkg);
    // Carol's key is not in the package yet; a link waits where it would be shipped.
    let text = new_examiner_key(&case.root, "Carol", "carol");
    let id = text.lines().find_map(|l| l.strip_prefix("key-id: ")).expect("key id");
    let target = case.root.join("created-outside.pub");
    std::os::unix::fs::symlink(&target, case.pkg.join(format!("custos/keys/{id}.pub"))).expect("link");
    let before = snapshot(&case.pkg);
    let run =
        custos_in(&case.root, &["custody", "release", "pkg", "--key", "rfc8032-test2", "--to", "carol.pub"]);
    support::assert_refused(&run, "link");
    assert!(!target.exists(), "a file was created outside the package");
    assert_eq!(snapshot(&case.pkg), before);
}

#[test]
fn class3_junk_in_the_log_is_refused_before_a_genuine_event_chains_onto_it() {
    let case = genuine();
    make_writable(&case.pkg);
    append_line(
        &case.pkg.join("custos/custody.jsonl"),
        r#"{"payload":"junk","payload_type":"x","signatures":[]}"#,
    );
    let before = snapshot(&case.pkg);
    let run = custos_in(
        &case.root,
        &["custody", "record", "pkg", "--key", "rfc8032-test2", "--action", "examined"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("does not verify") && run.stderr.contains("nothing was appended"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&case.pkg), before);
}

// Class 4: hostile text never panics.

#[test]
fn class4_multibyte_times_in_an_event_and_in_at_never_panic() {
    let case = genuine();
    make_writable(&case.pkg);
    forge_event(&case, &seed(TEST2_SEED), |event| event["time"] = "2026-11-29T20:00:0é+00:00".into());
    let policy =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/examples/xb-borealia-strict.json");
    let policy = policy.to_str().expect("UTF-8");
    let run = verify(&case, &["--policy", policy]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("custody.time") && run.stdout.contains("not RFC 3339"), "{}", run.stdout);
    let at = verify(&case, &["--policy", policy, "--at", "2026-11-29T00:00:0é+00:00"]);
    assert_eq!(at.code, 2, "{}", at.stderr);
    assert!(at.stderr.contains("not an RFC 3339 time"), "{}", at.stderr);
}

// Class 5: bounded work.

#[test]
fn class5_hundreds_of_junk_signatures_are_refused_at_once() {
    let case = genuine();
    make_writable(&case.pkg);
    let path = case.pkg.join("custos/manifest.json.sig");
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let junk = serde_json::json!({ "key_id": file["signatures"][0]["key_id"], "sig": "A".repeat(88) });
    let signatures = file["signatures"].as_array_mut().expect("array");
    signatures.extend(std::iter::repeat_n(junk, 400));
    std::fs::write(&path, serde_json::to_vec(&file).expect("json")).expect("write");
    recompute_tag_manifests(&case.pkg);
    let run = run_with_deadline(
        &case.root,
        &["verify", "pkg", "--trust", "rfc8032-test1.pub"],
        Duration::from_secs(30),
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("more than the 64 allowed"), "{}", run.stdout);
}

// Class 6: custody facts a court assumes (insider with one trusted key).

#[test]
fn class6_a_release_field_on_an_ordinary_event_is_no_acceptance() {
    let case = genuine();
    make_writable(&case.pkg);
    let release = hex(&sha2::Sha256::digest(log_lines(&case)[1].as_bytes()));
    forge_event(&case, &seed(TEST1_SEED), |event| event["release"] = release.into());
    assert_caught(&case, "custody.transfer", "only an `accepted` or `withdrawn` event names a release");
}

#[test]
fn class6_the_actor_must_be_the_key_file_that_verified_the_event() {
    let case = genuine();
    make_writable(&case.pkg);
    // Bob claims to be someone else, in another country, in a genuinely signed event.
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["actor"]["name"] = "Somebody Else".into();
        event["actor"]["jurisdiction"] = "XB".into();
    });
    assert_caught(&case, "custody.actor", "name, jurisdiction");
}

#[test]
fn class6_an_edited_public_key_file_in_the_package_is_caught() {
    let case = genuine();
    make_writable(&case.pkg);
    let keys = case.pkg.join("custos/keys");
    for entry in std::fs::read_dir(&keys).expect("keys") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("name: ", "name: Not ")).expect("write");
    }
    recompute_tag_manifests(&case.pkg);
    // Verified with only the package's keys, the events no longer match them.
    let run = custos_in(&case.root, &["verify", "pkg", "--allow-untrusted"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("custody.actor") && run.stdout.contains("name"), "{}", run.stdout);
}

#[test]
fn class6_events_dated_ahead_or_before_sealing_fail() {
    for (time, needle) in [
        ("2027-12-01T00:00:00+00:00", "after the time of verification"),
        ("2020-11-29T00:00:00+00:00", "before the package was sealed"),
    ] {
        let case = genuine();
        make_writable(&case.pkg);
        forge_event(&case, &seed(TEST2_SEED), |event| event["time"] = time.into());
        assert_caught(&case, "custody.time", needle);
    }
}

#[test]
fn class6_a_fixity_event_must_record_the_sealed_digests_of_real_items() {
    let case = genuine();
    make_writable(&case.pkg);
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "fixity_verified".into();
        event["observed_digests"] = serde_json::json!({
            "data/disk.img": { "sha256": "00".repeat(32) },
            "data/elsewhere.img": { "sha256": "11".repeat(32) },
        });
    });
    assert_caught(&case, "custody.fixity", "not the sealed digest");
    assert_caught(&case, "custody.items", "data/elsewhere.img");
}

// Class 8: the BagIt layer is complete.

#[test]
fn class8_deleting_bag_info_or_a_payload_manifest_is_caught() {
    for victim in ["bag-info.txt", "manifest-md5.txt"] {
        let case = genuine();
        make_writable(&case.pkg);
        std::fs::remove_file(case.pkg.join(victim)).expect("remove");
        assert_caught(&case, "bag.missing_tag_file", victim);
    }
    // With the tag manifests recomputed, bag-info.txt is still required.
    let case = genuine();
    make_writable(&case.pkg);
    std::fs::remove_file(case.pkg.join("bag-info.txt")).expect("remove");
    recompute_tag_manifests(&case.pkg);
    assert_caught(&case, "bag.info", "missing");
}

#[test]
fn class8_declaration_and_external_identifier_are_checked() {
    let case = genuine();
    make_writable(&case.pkg);
    std::fs::write(case.pkg.join("bagit.txt"), "BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n")
        .expect("write");
    let info = std::fs::read_to_string(case.pkg.join("bag-info.txt")).expect("read");
    std::fs::write(case.pkg.join("bag-info.txt"), info.replace("CASE-9", "CASE-10")).expect("write");
    recompute_tag_manifests(&case.pkg);
    assert_caught(&case, "bag.declaration", "2.0");
    assert_caught(&case, "bag.external_identifier", "CASE-9");
}

#[test]
fn class8_a_hard_link_under_data_is_reported() {
    let case = genuine();
    make_writable(&case.pkg);
    std::fs::hard_link(case.pkg.join("data/disk.img"), case.root.join("other-name.img")).expect("hard link");
    let run = verify(&case, &[]);
    assert_eq!(run.code, 0, "the bytes are intact: {}", run.stdout);
    assert!(run.stdout.contains("WARN  bag.hard_link") && run.stdout.contains("2 names"), "{}", run.stdout);
}

// Class 9: attacker text is escaped on the terminal.

#[test]
fn class9_escape_sequences_in_a_planted_name_cannot_forge_the_verdict() {
    let case = genuine();
    make_writable(&case.pkg);
    write(&case.pkg, "data/x\u{1b}[2K\r\u{1b}[1A\u{1b}[2Kpkg: VERIFIED (9 passed)\n", b"planted");
    let run = verify(&case, &[]);
    assert_eq!(run.code, 1);
    assert!(!run.raw_stdout.contains(&0x1b) && !run.raw_stdout.contains(&b'\r'), "{}", run.stdout);
    assert!(run.stdout.contains("\\u{1b}[2K\\u{d}"), "{}", run.stdout);
    assert!(
        run.stdout.trim_end().ends_with("failed)") && run.stdout.contains("pkg: FAILED"),
        "{}",
        run.stdout
    );
}

// Class 10: verify reads a consistent state.

#[test]
fn class10_verify_during_appends_never_reports_false_failures() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let case = genuine();
    let root = case.root.clone();
    // The appender starts once verification is running, and paces its appends, so that
    // verifies fall between and onto them on a fast machine and a loaded one alike.
    let verifying = std::sync::Arc::new(AtomicBool::new(false));
    let appended = std::sync::Arc::new(AtomicUsize::new(0));
    let appender = {
        let (verifying, appended) = (verifying.clone(), appended.clone());
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            while !verifying.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(5));
            }
            for _ in 0..15 {
                let run = custos_in(
                    &root,
                    &["custody", "record", "pkg", "--key", "rfc8032-test2", "--action", "accessed"],
                );
                assert_eq!(run.code, 0, "{}", run.stderr);
                appended.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(40));
            }
        })
    };
    // Every verify succeeds, whichever append it meets (a wait for the lock is no failure).
    // A verify overlapped the appends when an append finished while it ran, or when it saw
    // the log part-way grown.
    let mut runs = 0;
    let mut overlapped = 0;
    while !appender.is_finished() || runs < 5 {
        let before = appended.load(Ordering::SeqCst);
        verifying.store(true, Ordering::Relaxed);
        let run = verify(&case, &["--fast", "--json"]);
        let after = appended.load(Ordering::SeqCst);
        assert_eq!(run.code, 0, "every verify during appends succeeds:\n{}{}", run.stdout, run.stderr);
        let record: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        let events = record["custody"]["events"].as_u64().expect("events");
        overlapped += usize::from(before != after || (3 < events && events < 3 + 15));
        runs += 1;
    }
    appender.join().expect("appender");
    assert_eq!(log_lines(&case).len(), 3 + 15);
    assert!(overlapped > 0, "none of {runs} verifies overlapped an append: the race never happened");
}

// Found by attacking our own code (a red-team pass with fresh eyes).

#[test]
fn redteam_a_long_log_of_replayed_lines_is_checked_in_linear_time() {
    let case = genuine();
    make_writable(&case.pkg);
    let first = log_lines(&case)[0].clone();
    let log = case.pkg.join("custos/custody.jsonl");
    let genuine = std::fs::read_to_string(&log).expect("read");
    // The work is compared for n and 4n replayed lines in this one test, so a slow or busy
    // machine moves both alike: linear work takes about 4 times as long, quadratic 16.
    let time = |lines: usize| {
        let junk: String = std::iter::repeat_n(format!("{first}\n"), lines).collect();
        std::fs::write(&log, format!("{genuine}{junk}")).expect("write");
        (0..3)
            .map(|_| {
                let started = std::time::Instant::now();
                let run = run_with_deadline(
                    &case.root,
                    &[
                        "verify",
                        "pkg",
                        "--fast",
                        "--trust",
                        "rfc8032-test1.pub",
                        "--trust",
                        "rfc8032-test2.pub",
                    ],
                    Duration::from_secs(120),
                );
                assert_eq!(run.code, 1);
                assert!(
                    run.stdout.contains("custody.sequence"),
                    "{}",
                    &run.stdout[..run.stdout.len().min(2000)]
                );
                started.elapsed()
            })
            .min()
            .expect("three runs")
    };
    let small = time(5_000);
    let large = time(20_000);
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    assert!(
        ratio < 8.0,
        "4 times the lines took {ratio:.1} times as long ({small:?}, {large:?}): not linear"
    );
}

#[test]
fn redteam_a_manifest_full_of_junk_lines_is_one_finding_not_millions() {
    let case = genuine();
    make_writable(&case.pkg);
    std::fs::write(case.pkg.join("manifest-sha1.txt"), "x y\n".repeat(200_000)).expect("write");
    let run = verify(&case, &["--fast"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("more than 20 malformed lines"),
        "{}",
        &run.stdout[..run.stdout.len().min(2000)]
    );
    assert!(run.stdout.lines().count() < 200, "{} lines", run.stdout.lines().count());
}

#[test]
fn redteam_a_file_at_a_referenced_items_path_is_not_covered_by_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    copy_test_keys(root);
    write(root, "data/disk.img", &noise(10_000, 3));
    let sealed = custos_in(
        root,
        &["seal", "--key", "rfc8032-test1", "--case", "C-R", "--reference", "--out", "pkg", "data/disk.img"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    make_writable(&root.join("pkg"));
    write(&root.join("pkg"), "data/disk.img", b"planted bytes at the referenced path");
    let run = custos_in(root, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("FAIL  manifest.coverage"), "{}", run.stdout);
}

#[test]
fn redteam_an_insider_cannot_start_a_log_of_his_own_in_front_of_the_sealers_manifest() {
    let case = genuine();
    make_writable(&case.pkg);
    // Bob keeps Ada's signed manifest and writes a new log: `sealed` by himself.
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["sequence"] = 0.into();
        event["previous"] = serde_json::Value::Null;
        event["action"] = "sealed".into();
    });
    let forged = log_lines(&case).pop().expect("forged line");
    std::fs::write(case.pkg.join("custos/custody.jsonl"), format!("{forged}\n")).expect("write");
    recompute_tag_manifests(&case.pkg);
    assert_caught(&case, "custody.order", "did not make the manifest's first signature");
}

#[test]
fn redteam_planted_minisign_files_and_fetch_txt_fail() {
    let case = genuine();
    make_writable(&case.pkg);
    let ada_id = hex(&sha2::Sha256::digest(seed(TEST1_SEED).verifying_key().as_bytes()));
    // A minisign key file under Ada's id that carries another key, and a signature by it.
    let mallory = SigningKey::from_bytes(&[7u8; 32]);
    let mut blob = b"Ed".to_vec();
    blob.extend_from_slice(&sha2::Sha256::digest(mallory.verifying_key().as_bytes())[..8]);
    blob.extend_from_slice(mallory.verifying_key().as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD;
    std::fs::write(
        case.pkg.join(format!("custos/keys/{ada_id}.minisign.pub")),
        format!("untrusted comment: minisign public key\n{}\n", b64.encode(&blob)),
    )
    .expect("write");
    std::fs::write(case.pkg.join("fetch.txt"), "https://example.invalid/x 10 data/x\n").expect("write");
    recompute_tag_manifests(&case.pkg);
    assert_caught(&case, "package.minisign", "does not carry the key");
    assert_caught(&case, "bag.fetch", "download");
}

/// Class 1 (unsigned files decide nothing): a `.minisig` made with a key that never signed
/// the manifest, shipped with its own key files, is a signature anyone could plant.
#[test]
fn class1_unsigned_a_minisign_signature_by_a_key_that_never_signed_the_manifest_fails() {
    let case = genuine();
    make_writable(&case.pkg);
    let public_text = new_examiner_key(&case.root, "Mallory", "m");
    let public = custos_manifest::keys::PublicKey::parse(&public_text).expect("public key");
    let secret_text = std::fs::read_to_string(case.root.join("m.key")).expect("m.key");
    let secret = custos_manifest::keys::open_secret_key(&secret_text, None).expect("secret key");
    let keys = case.pkg.join("custos/keys");
    std::fs::write(keys.join(format!("{}.pub", public.id())), &public_text).expect("key file");
    std::fs::write(
        keys.join(format!("{}.minisign.pub", public.id())),
        custos_manifest::export::minisign_public_key(&public),
    )
    .expect("minisign key file");
    let manifest = std::fs::read(case.pkg.join("custos/manifest.json")).expect("manifest");
    let signature =
        custos_manifest::export::minisign_signature(&secret, &manifest, "custos manifest of CASE-9")
            .expect("signature");
    std::fs::write(case.pkg.join(custos_manifest::export::MINISIGN_SIGNATURE_PATH), signature)
        .expect("write");
    recompute_tag_manifests(&case.pkg);
    assert_caught(&case, "package.minisign", "neither signed the manifest nor is trusted");
}

#[test]
fn redteam_a_log_must_be_in_the_one_encoding_custos_writes() {
    let case = genuine();
    make_writable(&case.pkg);
    let log = case.pkg.join("custos/custody.jsonl");
    let lines = log_lines(&case);
    // The last line re-encoded (a space after the first colon) still parses and verifies
    // its signature, but would change the head every receipt names.
    let mut edited = lines.clone();
    let last = edited.pop().expect("line").replacen("\":", "\": ", 1);
    edited.push(last);
    std::fs::write(&log, edited.iter().map(|l| format!("{l}\n")).collect::<String>()).expect("write");
    recompute_tag_manifests(&case.pkg);
    assert_caught(&case, "custody.signature", "canonical form");
    // A blank line between events.
    std::fs::write(&log, format!("{}\n\n{}\n{}\n", lines[0], lines[1], lines[2])).expect("write");
    recompute_tag_manifests(&case.pkg);
    assert_caught(&case, "custody.log", "blank line");
}

#[test]
fn redteam_a_package_named_through_a_link_verifies() {
    let case = genuine();
    std::os::unix::fs::symlink(&case.pkg, case.root.join("current")).expect("link");
    let run = custos_in(
        &case.root,
        &["verify", "current", "--trust", "rfc8032-test1.pub", "--trust", "rfc8032-test2.pub"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
}

// Anchors outside the package: their own ways in.

#[test]
fn anchors_a_cosigned_event_without_a_signature_on_the_manifest_fails() {
    let case = genuine();
    make_writable(&case.pkg);
    forge_event(&case, &seed(TEST2_SEED), |event| event["action"] = "cosigned".into());
    assert_caught(&case, "custody.cosign", "no valid signature by this key");
}

#[test]
fn anchors_only_the_releaser_withdraws_and_only_a_pending_release() {
    let case = genuine();
    make_writable(&case.pkg);
    let release = hex(&sha2::Sha256::digest(log_lines(&case)[1].as_bytes()));
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "withdrawn".into();
        event["release"] = release.into();
    });
    assert_caught(&case, "custody.transfer", "no release is pending");
}

#[test]
fn anchors_an_insider_who_no_longer_holds_the_evidence_cannot_destroy_it() {
    let case = genuine();
    make_writable(&case.pkg);
    forge_event(&case, &seed(TEST1_SEED), |event| event["action"] = "destroyed".into());
    assert_caught(&case, "custody.holder", "holds the evidence");
}

#[test]
fn anchors_planted_time_stamp_files_fail() {
    let case = genuine();
    make_writable(&case.pkg);
    write(&case.pkg, "custos/timestamps/evil.tsr", b"not a token");
    write(&case.pkg, format!("custos/timestamps/manifest-{}.tsr", "ab".repeat(32)), b"not a token");
    recompute_tag_manifests(&case.pkg);
    assert_caught(&case, "time.token", "not the name of a token Custos writes");
    assert_caught(&case, "time.token", "stamps a signature this package does not hold");
}

/// Signed reports (`report --sign`, `key verify`): a signature proves these bytes, by this
/// key, with this trusted comment, and nothing else.
#[test]
fn report_signatures_bind_the_bytes_the_key_and_the_comment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    write(d, "evidence.img", &noise(40_000, 3));
    let sealed =
        custos_in(d, &["seal", "--key", "rfc8032-test1", "--case", "S-9", "--out", "pkg", "evidence.img"]);
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    // Two different reports (b is a quick check, so its text differs).
    for (name, extra) in [("a.html", None), ("b.html", Some("--fast"))] {
        let mut args =
            vec!["report", "pkg", "--trust", "rfc8032-test1.pub", "--out", name, "--sign", "rfc8032-test1"];
        args.extend(extra);
        let made = custos_in(d, &args);
        assert_eq!(made.code, 0, "{}", made.stderr);
    }
    assert_ne!(std::fs::read(d.join("a.html")).expect("a"), std::fs::read(d.join("b.html")).expect("b"));
    let check = |file: &str, signature: &str, key: &str| {
        custos_in(d, &["key", "verify", file, "--signature", signature, "--trust", key])
    };
    assert_eq!(check("a.html", "a.html.minisig", "rfc8032-test1.pub").code, 0, "the genuine pair verifies");

    // Replayed onto another report.
    let replayed = check("b.html", "a.html.minisig", "rfc8032-test1.pub");
    assert_eq!(replayed.code, 1);
    assert!(replayed.stdout.contains("does not verify"), "{}", replayed.stdout);
    // Checked against another key: a key swap is no signature at all.
    let swapped = check("a.html", "a.html.minisig", "rfc8032-test2.pub");
    assert_eq!(swapped.code, 1);
    assert!(swapped.stdout.contains("none of the keys"), "{}", swapped.stdout);

    // The trusted comment (it names the case and the digest) cannot be edited.
    let text = std::fs::read_to_string(d.join("a.html.minisig")).expect("signature");
    let edited = text.replace("case \"S-9\"", "case \"S-1\"");
    assert_ne!(edited, text);
    write(d, "edited.minisig", edited.as_bytes());
    let comment = check("a.html", "edited.minisig", "rfc8032-test1.pub");
    assert_eq!(comment.code, 1);
    assert!(comment.stdout.contains("trusted comment was altered"), "{}", comment.stdout);

    // Truncated, empty, binary and oversized signature files fail (exit 1) without a panic
    // or a hang.
    let lines: Vec<&str> = text.lines().collect();
    write(d, "short.minisig", lines[..3].join("\n").as_bytes());
    write(d, "empty.minisig", b"");
    write(d, "binary.minisig", &noise(500, 4));
    let mut huge = text.clone().into_bytes();
    huge.extend(std::iter::repeat_n(b'A', 10 << 20));
    write(d, "huge.minisig", &huge);
    for bad in ["short.minisig", "empty.minisig", "binary.minisig", "huge.minisig"] {
        let run = run_with_deadline(
            d,
            &["key", "verify", "a.html", "--signature", bad, "--trust", "rfc8032-test1.pub"],
            Duration::from_secs(10),
        );
        assert_eq!(run.code, 1, "{bad}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.starts_with("BAD signature"), "{bad}: {}", run.stdout);
    }
    // A secret key where a trusted public key belongs is refused with a reason.
    let wrong = check("a.html", "a.html.minisig", "rfc8032-test1.key");
    assert_eq!(wrong.code, 2);
    assert!(wrong.stderr.contains("secret key"), "{}", wrong.stderr);
}

/// Package text in the report is data, never markup: a case reference, a file name, a
/// note and a key name made of HTML and bidirectional overrides are escaped.
#[test]
fn report_hostile_text_is_escaped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    write(d, "<img src=x onerror=alert(1)>.img", &noise(1_000, 5));
    let sealed = custos_in(
        d,
        &[
            "seal",
            "--key",
            "rfc8032-test1",
            "--case",
            "<script>alert(1)</script>",
            "--location",
            "evil\u{202e}txt",
            "--out",
            "pkg",
            "<img src=x onerror=alert(1)>.img",
        ],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let made = custos_in(d, &["report", "pkg", "--trust", "rfc8032-test1.pub", "--out", "r.html"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let html = std::fs::read_to_string(d.join("r.html")).expect("report");
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "markup escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains('\u{202e}'), "a bidi override is shown, not obeyed");
    assert!(html.contains("evil\\u{202e}txt"));
}

/// Red team, second round: a key a policy trusts is shown as the policy names it, never as
/// the package's own key file claims (an insider rewrote his name to a judge's).
#[test]
fn redteam2_a_policy_trusted_key_is_shown_by_the_policys_principal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    let text = std::fs::read_to_string(d.join("rfc8032-test1.pub")).expect("key");
    let forged: String = text
        .lines()
        .map(|l| if l.starts_with("name: ") { "name: Hon. Judge Jane Doe".to_owned() } else { l.to_owned() })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::create_dir(d.join("ins")).expect("dir");
    std::fs::copy(d.join("rfc8032-test1.key"), d.join("ins/judge.key")).expect("key");
    write(d, "ins/judge.pub", forged.as_bytes());
    write(d, "disk.img", &noise(5_000, 1));
    let sealed = custos_in(
        d,
        &[
            "seal",
            "--key",
            "ins/judge",
            "--case",
            "INS",
            "--legal-basis",
            "warrant:W",
            "--out",
            "pkg",
            "disk.img",
        ],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let xa = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/examples/xa-auria-legacy-court.json");
    let made = custos_in(d, &["report", "pkg", "--policy", xa.to_str().expect("UTF-8"), "--out", "r.html"]);
    let html = std::fs::read_to_string(d.join("r.html")).expect("report");
    assert!(
        !html.contains("Hon. Judge Jane Doe"),
        "the claimed name is never shown as trusted ({})",
        made.code
    );
    assert!(html.contains("Ada Examiner (test key, RFC 8032 TEST 1)"), "the policy's principal is");
}

/// --allow-untrusted checks integrity only: no policy accepts what no trusted key signed.
#[test]
fn redteam2_no_policy_accepts_a_package_no_trusted_key_signed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let made =
        custos_in(d, &["keygen", "--name", "Mallory", "--role", "examiner", "--out", "m", "--no-passphrase"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    write(d, "disk.img", &noise(5_000, 3));
    let sealed = custos_in(d, &["seal", "--key", "m", "--case", "U", "--out", "pkg", "disk.img"]);
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    // A policy with only a digest rule, which the package meets.
    write(
        d,
        "digests-only.json",
        br#"{"custos_policy": 1, "id": "xm", "jurisdiction": "XM", "name": "digests only", "effective_from": "2026-01-01T00:00:00Z",
            "digests": {"required_any": ["sha256"], "cite": "test"}}"#,
    );
    let checked = custos_in(d, &["policy", "check", "digests-only.json"]);
    assert_eq!(checked.code, 0, "{}{}", checked.stdout, checked.stderr);
    let run =
        custos_in(d, &["verify", "pkg", "--allow-untrusted", "--policy", "digests-only.json", "--json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let record: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
    assert_eq!(record["policies"][0]["verdict"], "fail", "{record}");
}

/// Hostile inputs to `key verify` and `acquire`: no hang, no crash, a clear exit 2.
#[test]
fn redteam2_key_verify_and_acquire_refuse_fifos_devices_and_absurd_sizes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    write(d, "r.html", b"<p>report</p>");
    assert!(Command::new("mkfifo").arg(d.join("r.html.minisig")).status().expect("mkfifo").success());
    assert!(Command::new("mkfifo").arg(d.join("fifo.html")).status().expect("mkfifo").success());
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.html")).expect("link");
    write(d, "zero.html.minisig", b"untrusted comment: x\n");
    for (args, reason) in [
        (
            vec!["key", "verify", "r.html", "--trust", "rfc8032-test1.pub"],
            "r.html.minisig: is not a regular file",
        ),
        (
            vec![
                "key",
                "verify",
                "fifo.html",
                "--signature",
                "zero.html.minisig",
                "--trust",
                "rfc8032-test1.pub",
            ],
            "fifo.html: is not a regular file",
        ),
        (vec!["key", "verify", "zero.html", "--trust", "rfc8032-test1.pub"], "zero.html: is a symbolic link"),
        (
            vec![
                "acquire",
                "--key",
                "rfc8032-test1",
                "--case",
                "B",
                "--block-size",
                "1T",
                "--out",
                "pkg",
                "r.html",
                "--json",
            ],
            "--block-size 1099511627776: at most 67108864",
        ),
        (
            vec![
                "acquire",
                "--key",
                "rfc8032-test1",
                "--case",
                "B",
                "--retries",
                "4294967295",
                "--out",
                "pkg",
                "r.html",
            ],
            "4294967295 is not in 0..=100",
        ),
        (
            vec!["seal", "--key", "rfc8032-test1", "--case", "F", "--dry-run", "--out", "pkg", "fifo.html"],
            "fifo.html is a FIFO, socket or character device",
        ),
    ] {
        let run = run_with_deadline(d, &args, Duration::from_secs(10));
        support::assert_refused(&run, reason);
    }
    assert!(!d.join("pkg").exists());
    let leftovers = std::fs::read_dir(d)
        .expect("list")
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains("custos-partial"));
    assert!(!leftovers, "nothing half-made is left");
    // A dry run of a FIFO acquisition opens nothing, so it cannot wait for a writer.
    let dry = run_with_deadline(
        d,
        &[
            "acquire",
            "--key",
            "rfc8032-test1",
            "--case",
            "D",
            "--name",
            "s.raw",
            "--dry-run",
            "--out",
            "pkg",
            "fifo.html",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stdout.contains("not opened in a dry run"), "{}", dry.stdout);
}

/// The signed comment of a report fixes the digest and the signer's key first; a case
/// reference that imitates them is quoted, escaped and cut short.
#[test]
fn redteam2_a_case_reference_cannot_pose_as_the_digest_or_the_signer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    write(d, "disk.img", &noise(1_000, 2));
    let case = format!("C, sha256 {}, signed by Chief Judge\u{202e}{}", "0".repeat(64), "x".repeat(20_000));
    let sealed =
        custos_in(d, &["seal", "--key", "rfc8032-test1", "--case", &case, "--out", "pkg", "disk.img"]);
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let made = custos_in(
        d,
        &["report", "pkg", "--trust", "rfc8032-test1.pub", "--out", "r.html", "--sign", "rfc8032-test2"],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let checked = custos_in(d, &["key", "verify", "r.html", "--trust", "rfc8032-test2.pub", "--json"]);
    assert_eq!(checked.code, 0, "a long case still gives a signature that verifies: {}", checked.stdout);
    let record: serde_json::Value = serde_json::from_str(checked.stdout.trim()).expect("JSON");
    let comment = record["trusted_comment"].as_str().expect("comment");
    assert!(comment.starts_with("custos report sha256 "), "{comment}");
    assert!(!comment.contains('\u{202e}') && comment.len() < 600, "{comment}");
    assert!(comment.contains("case \"C, sha256 0000"), "the case is quoted: {comment}");
}

/// Characters that must never reach a terminal raw: every C0 control (newline and carriage
/// return included: they start a fake line), DEL, every C1 control (CSI among them), and
/// the bidirectional and invisible characters that reorder or hide what is shown.
fn hostile_characters() -> Vec<char> {
    let mut all: Vec<char> =
        (1u32..0x20).chain([0x7f]).chain(0x80..0xa0).filter_map(char::from_u32).collect();
    all.extend([
        '\u{061c}', '\u{200b}', '\u{200e}', '\u{200f}', '\u{2028}', '\u{202a}', '\u{202e}', '\u{2066}',
    ]);
    all.extend(['\u{2069}', '\u{feff}']);
    all
}

/// Asserts `marker` (which holds a hostile character) appears in neither output raw.
fn assert_never_raw(run: &Run, marker: &str, what: &str) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains(marker), "{what}: {marker:?} reached {stream} raw:\n{text}");
    }
}

/// Class 3 (hostile input never reaches the terminal raw): every hostile character, in a
/// name that an error message repeats, is escaped at the one boundary where text leaves the
/// program, whichever command and error path carries it.
#[test]
fn class3_escaping_every_control_character_through_every_error_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    support::seal_content_package(d, "CASE-3", 10_000);
    std::fs::create_dir_all(d.join("store")).expect("store");
    for (index, c) in hostile_characters().into_iter().enumerate() {
        let marker = format!("A{c}Z");
        let name = format!("missing-{marker}");
        let runs: Vec<(&str, Vec<String>)> = vec![
            ("hash", vec!["hash".into(), name.clone()]),
            ("verify", vec!["verify".into(), name.clone(), "--trust".into(), "rfc8032-test1.pub".into()]),
            ("custody log", vec!["custody".into(), "log".into(), name.clone()]),
            ("key show", vec!["key".into(), "show".into(), name.clone()]),
        ];
        for (what, args) in runs {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = custos_in(d, &args);
            assert_eq!(run.code, 2, "{what} {index}: {}", run.stderr);
            assert_never_raw(&run, &marker, what);
        }
    }
}

/// Class 3: text inside files (unknown field names in a receipt and an audit state, names
/// in a checksum list, a seal's evidence path, an audit root) is escaped too.
#[test]
fn class3_escaping_text_from_files_and_arguments_of_every_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    support::seal_content_package(d, "CASE-3", 10_000);
    let marker = "A\u{1b}[2K\rVERIFIED\u{202e}Z";
    let json_marker = "A\\u001b[2K\\rVERIFIED\u{202e}Z";
    write(d, "receipt.json", format!("{{\"custos_receipt\":1,\"{json_marker}\":1}}").as_bytes());
    let state_line = format!("{{\"record\":\"run\",\"{json_marker}\":1}}\n{{\"record\":\"finished\"}}\n");
    write(d, "audit.state", state_line.as_bytes());
    write(d, "list.sha256", format!("{}  {marker}\n", "0".repeat(64)).as_bytes());
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("receipt", vec!["verify", "pkg", "--trust", "rfc8032-test1.pub", "--receipt", "receipt.json"]),
        ("state", vec!["audit", ".", "--trust", "rfc8032-test1.pub", "--state", "audit.state"]),
        ("check", vec!["hash", "--check", "list.sha256"]),
        ("seal", vec!["seal", "--key", "rfc8032-test1", "--case", "C", "--out", "out", marker]),
        ("audit root", vec!["audit", marker, "--trust", "rfc8032-test1.pub"]),
        ("export", vec!["export", "checksums", marker]),
        ("report", vec!["report", marker, "--trust", "rfc8032-test1.pub", "--out", "r.html"]),
    ];
    for (what, args) in cases {
        let run = run_with_deadline(d, &args, Duration::from_secs(60));
        assert_ne!(run.code, 0, "{what}: {}{}", run.stdout, run.stderr);
        assert_never_raw(&run, "\u{1b}[2K", what);
        assert_never_raw(&run, "\rVERIFIED", what);
        assert_never_raw(&run, "\u{202e}", what);
    }
}

/// Class 3: a policy's names and citations, shown in verdict lines, are escaped too (a policy
/// read from a shared folder can come from anyone).
#[test]
fn class3_escaping_policy_names_and_citations_in_verdict_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    support::seal_content_package(d, "CASE-3", 10_000);
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/examples/xb-borealia-strict.json");
    let mut policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(source).expect("policy")).expect("JSON");
    policy["name"] = serde_json::Value::String("Borealia\u{1b}[2K\rVERIFIED\u{202e}".to_owned());
    for section in ["digests", "custody", "legal_basis", "signatures"] {
        if let Some(rule) = policy.get_mut(section).filter(|r| r.get("cite").is_some()) {
            rule["cite"] = serde_json::Value::String("s. 1\u{1b}]0;owned\u{7}".to_owned());
        }
    }
    write(d, "hostile.json", &serde_json::to_vec(&policy).expect("JSON"));
    let run = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--policy", "hostile.json"]);
    assert!(run.stdout.contains("Borealia"), "the policy was judged: {}{}", run.stdout, run.stderr);
    assert_never_raw(&run, "\u{1b}", "policy names");
    assert_never_raw(&run, "\u{202e}", "policy names");
    assert_never_raw(&run, "\u{7}", "policy citations");
}

/// Red team (round 3): a package's own folder name drew a fake `VERIFIED` verdict line over
/// a failed one, since the verdict line printed the path raw.
#[test]
fn class3_escaping_a_package_path_cannot_forge_the_verdict_line() {
    let case = genuine();
    let forged = "\u{1b}[H\u{1b}[2Jcase7: VERIFIED (17 passed, 0 warnings, 0 failed)\u{1b}[8m";
    std::fs::rename(&case.pkg, case.root.join(forged)).expect("rename");
    let mut args = vec!["verify", forged, "--trust", "rfc8032-test1.pub", "--trust", "rfc8032-test2.pub"];
    let run = custos_in(&case.root, &args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_never_raw(&run, "\u{1b}", "the verdict line");
    args.push("--json");
    assert_eq!(custos_in(&case.root, &args).code, 0);
}

/// Red team (round 3): JSON output carried bidirectional overrides and C1 controls raw
/// (serde_json escapes only U+0000 to U+001F), so a record shown by `cat` or a log viewer
/// could reorder what it says. They are `\uXXXX` escapes now, and the text reads back exact.
#[test]
fn class3_escaping_json_records_carry_no_raw_bidi_or_c1_characters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    let name = "evil\u{202e}gpj.exe\u{9b}\u{200b}";
    write(d, name, b"evidence");
    let sealed = custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "C\u{2067}", "--out", "pkg", name, "--json"],
    );
    assert_eq!(sealed.code, 0, "{}{}", sealed.stdout, sealed.stderr);
    let verified = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--json"]);
    let hashed = custos_in(d, &["hash", "--json", name]);
    for (what, run) in [("seal", &sealed), ("verify", &verified), ("hash", &hashed)] {
        for raw in ["\u{202e}", "\u{9b}", "\u{200b}", "\u{2067}"] {
            assert!(!run.stdout.contains(raw), "{what} --json printed {raw:?} raw: {}", run.stdout);
        }
    }
    assert!(hashed.stdout.contains("evil\\u202egpj.exe\\u009b\\u200b"), "{}", hashed.stdout);
    let record: serde_json::Value = serde_json::from_str(hashed.stdout.trim()).expect("one JSON record");
    assert_eq!(record["path"], name, "the exact name reads back: {}", hashed.stdout);
}

/// Red team (round 3): the operator's input files (keys, receipts, TSA certificates,
/// checksum lists, receipts folders) never hang on a FIFO nor read a device without end.
#[test]
fn class4_bounded_the_operators_input_files_are_regular_files_of_bounded_size() {
    let case = genuine();
    let d = &case.root;
    assert!(Command::new("mkfifo").arg(d.join("fifo")).status().expect("mkfifo").success());
    std::fs::create_dir(d.join("keys")).expect("keys");
    std::fs::copy(d.join("rfc8032-test1.pub"), d.join("keys/ada.pub")).expect("copy");
    assert!(Command::new("mkfifo").arg(d.join("keys/x.pub")).status().expect("mkfifo").success());
    std::fs::create_dir(d.join("receipts")).expect("receipts");
    assert!(Command::new("mkfifo").arg(d.join("receipts/r.json")).status().expect("mkfifo").success());
    let sparse = std::fs::File::create(d.join("huge.sha256")).expect("create");
    sparse.set_len(20 << 30).expect("a 20 GiB sparse list");
    let deadline = Duration::from_secs(30);
    for (args, reason) in [
        (vec!["verify", "pkg", "--trust", "rfc8032-test1.pub", "--receipt", "fifo"], "not a regular file"),
        (vec!["verify", "pkg", "--trust", "fifo"], "not a regular file"),
        (vec!["verify", "pkg", "--trust", "keys"], "not a regular file"),
        (vec!["verify", "pkg", "--trust", "rfc8032-test1.pub", "--tsa-cert", "fifo"], "not a regular file"),
        (vec!["audit", ".", "--trust", "rfc8032-test1.pub", "--receipts", "receipts"], "not a regular file"),
        (vec!["hash", "--check", "huge.sha256"], "is larger than"),
        (vec!["hash", "--check", "/dev/zero"], "not a regular file"),
        (vec!["hash", "--check-segments", "/dev/zero"], "not a regular file"),
    ] {
        let run = run_with_deadline(d, &args, deadline);
        support::assert_refused(&run, reason);
    }
}

/// Red team (round 3): operator mistakes that read as verdicts. No --trust, an empty
/// --trust folder, a --trust path inside another package, a mistyped --evidence path, a
/// report written into the package.
#[test]
fn class6_operator_mistakes_found_by_the_third_red_team_are_said_as_mistakes() {
    let case = genuine();
    let d = &case.root;
    std::fs::create_dir(d.join("empty")).expect("empty");
    let other = d.join("other");
    std::fs::create_dir(&other).expect("other");
    write(&other, "e.img", b"other evidence");
    let sealed =
        custos_in(&other, &["seal", "--key", "../rfc8032-test2", "--case", "O", "--out", "pkg", "e.img"]);
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    for (args, reason) in [
        (vec!["verify", "pkg"], "no --trust key"),
        (vec!["report", "pkg", "--trust", "empty", "--out", "r.html"], "--trust"),
        (vec!["audit", ".", "--trust", "empty"], "no --trust key"),
        (vec!["verify", "pkg", "--trust", "other/pkg/custos/keys"], "is inside the evidence package"),
        (
            vec!["verify", "pkg", "--trust", "rfc8032-test1.pub", "--evidence", "no/such/typo"],
            "does not exist",
        ),
        (
            vec!["report", "pkg", "--trust", "rfc8032-test1.pub", "--out", "pkg/data/r.html"],
            "is inside the evidence package",
        ),
    ] {
        let run = custos_in(d, &args);
        support::assert_refused(&run, reason);
    }
    assert!(!d.join("pkg/data/r.html").exists());
    assert_eq!(verify(&case, &[]).code, 0, "the package is untouched");
}

/// Red team (round 4): a policy, receipt or TSA certificate kept inside the package was
/// relied on (a policy planted there trusting the planter's key read ACCEPTABLE; a receipt
/// rewritten with the log hid a rollback). Like --trust keys, each is refused from inside
/// the package being checked, or any other, as the operator's mistake it is.
#[test]
fn class6_operator_nothing_the_verifier_relies_on_comes_from_inside_a_package() {
    let case = genuine();
    let d = &case.root;
    let policy =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/examples/xa-auria-legacy-court.json");
    std::fs::copy(&policy, d.join("pkg/policy.json")).expect("plant a policy");
    let receipt = custos_in(d, &["custody", "receipt", "pkg", "--out", "r.json"]);
    assert_eq!(receipt.code, 0, "{}", receipt.stderr);
    std::fs::copy(d.join("r.json"), d.join("pkg/custos/r.json")).expect("plant a receipt");
    std::fs::create_dir(d.join("receipts")).expect("receipts");
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "1", "-subj", "/CN=TSA"])
        .args(["-keyout", "tsa.key", "-out", "pkg/custos/tsa.pem"])
        .current_dir(d)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let trust = ["--trust", "rfc8032-test1.pub", "--trust", "rfc8032-test2.pub"];
    let with = |extra: &[&'static str], command: &[&'static str]| -> Vec<&'static str> {
        let mut args = command.to_vec();
        args.extend_from_slice(&trust);
        args.extend_from_slice(extra);
        args
    };
    for (args, reason) in [
        (with(&["--policy", "pkg/policy.json"], &["verify", "pkg"]), "--policy pkg/policy.json"),
        (with(&["--receipt", "pkg/custos/r.json"], &["verify", "pkg"]), "--receipt pkg/custos/r.json"),
        (with(&["--tsa-cert", "pkg/custos/tsa.pem"], &["verify", "pkg"]), "--tsa-cert pkg/custos/tsa.pem"),
        (with(&["--policy", "pkg/policy.json", "--out", "r.html"], &["report", "pkg"]), "--policy"),
        (with(&["--policy", "pkg/policy.json"], &["audit", "."]), "--policy"),
    ] {
        let run = custos_in(d, &args);
        support::assert_refused(&run, reason);
        support::assert_refused(&run, "is inside");
        assert!(run.stderr.contains("never the verifier's own rules"), "{args:?}: {}", run.stderr);
    }
}

/// Red team (round 4): receipts, keys, an audit's state and ledger, and a package written
/// into a package made it fail (a file no manifest lists): the operator's mistake read as a
/// verdict. Each is refused before anything is written or read, as exports and reports were.
#[test]
fn class6_operator_nothing_is_written_inside_a_package_by_mistake() {
    let case = genuine();
    let d = &case.root;
    let key = ["--key", "rfc8032-test2"];
    let with = |command: &[&'static str], extra: &[&'static str]| -> Vec<&'static str> {
        let mut args = command.to_vec();
        args.extend_from_slice(extra);
        args
    };
    for (args, flag) in [
        (
            with(
                &["seal", "--key", "rfc8032-test1", "--case", "C", "--out", "new"],
                &["--receipt", "new/data/r.json", "evidence/disk.img"],
            ),
            "--receipt new/data/r.json",
        ),
        (
            with(
                &["seal", "--key", "rfc8032-test1", "--case", "C", "--out", "pkg/data/inner"],
                &["evidence/disk.img"],
            ),
            "--out pkg/data/inner",
        ),
        (
            with(
                &["custody", "record", "pkg", "--action", "accessed"],
                &[key[0], key[1], "--receipt", "pkg/data/r.json"],
            ),
            "--receipt pkg/data/r.json",
        ),
        (
            with(&["cosign", "pkg"], &[key[0], key[1], "--receipt", "pkg/custos/r.json"]),
            "--receipt pkg/custos/r.json",
        ),
        (vec!["custody", "receipt", "pkg", "--out", "pkg/r.json"], "--out pkg/r.json"),
        (
            vec![
                "keygen",
                "--name",
                "X",
                "--role",
                "examiner",
                "--no-passphrase",
                "--out",
                "pkg/custos/keys/x",
            ],
            "--out pkg/custos/keys/x",
        ),
        (
            vec!["audit", ".", "--trust", "rfc8032-test1.pub", "--state", "pkg/data/audit.state"],
            "--state pkg/data/audit.state",
        ),
        (
            with(
                &["audit", ".", "--trust", "rfc8032-test1.pub"],
                &[key[0], key[1], "--ledger", "pkg/audit.ledger"],
            ),
            "--ledger pkg/audit.ledger",
        ),
        (vec!["export", "checksums", "pkg", "--out", "pkg/sums/deeper"], "--out pkg/sums/deeper"),
        (vec!["export", "hashdeep", "pkg", "--out", "pkg/custos/x.hashdeep"], "--out pkg/custos/x.hashdeep"),
    ] {
        let run = custos_in(d, &args);
        support::assert_refused(&run, flag);
        support::assert_refused(&run, "is inside the evidence package");
    }
    assert!(!d.join("new").exists(), "nothing was sealed");
    assert!(!d.join("pkg/sums").exists(), "no folder was made");
    assert_eq!(verify(&case, &["--strict"]).code, 0, "the package is untouched");
}

/// Red team (round 4): two files of one name sealed by reference could never verify (found
/// by file name), and a wrong --evidence path (a file for several items, another folder)
/// read as a failed check. The seal is refused; a path that holds none of the items is the
/// operator's mistake; one item missing from the right folder is still a failed check.
#[test]
fn class6_operator_evidence_by_reference_is_found_by_a_name_and_a_wrong_path_is_a_mistake() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    write(d, "r1/d.img", b"one");
    write(d, "r2/d.img", b"two");
    write(d, "r2/e.img", b"three");
    let seal = |out: &str, files: &[&str]| {
        let mut args = vec!["seal", "--key", "rfc8032-test1", "--case", "C", "--reference", "--out", out];
        args.extend_from_slice(files);
        custos_in(d, &args)
    };
    support::assert_refused(&seal("same", &["r1/d.img", "r2/d.img"]), "are both named d.img");
    assert!(!d.join("same").exists());
    let sealed = seal("pkg", &["r1/d.img", "r2/e.img"]);
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    std::fs::create_dir(d.join("wrong")).expect("wrong");
    std::fs::create_dir(d.join("right")).expect("right");
    std::fs::copy(d.join("r1/d.img"), d.join("right/d.img")).expect("copy");
    std::fs::copy(d.join("r2/e.img"), d.join("right/e.img")).expect("copy");
    let verify = |evidence: &str| {
        custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--evidence", evidence])
    };
    support::assert_refused(&verify("r1/d.img"), "is a file, and 2 items were sealed by reference");
    support::assert_refused(
        &verify("wrong"),
        "holds none of the 2 item(s) sealed by reference (d.img, e.img)",
    );
    assert_eq!(verify("right").code, 0, "the right folder verifies");
    std::fs::remove_file(d.join("right/e.img")).expect("remove one");
    let missing = verify("right");
    assert_eq!(missing.code, 1, "one item gone from the right folder is a failed check: {}", missing.stdout);
    assert!(missing.stdout.contains("item.reference"), "{}", missing.stdout);
}

/// Red team (round 4), smaller mistakes: an empty folder (a mount point with nothing
/// mounted) sealed as a package of nothing that verified; --evidence ignored without a word;
/// a dry run accepting a --name the real run refuses; `./r.html` and `r.html` taken for two
/// files; a segment list planted for an item sealed without segments passing unnamed.
#[test]
fn class6_operator_smaller_mistakes_found_by_the_fourth_red_team() {
    let case = genuine();
    let d = &case.root;
    std::fs::create_dir(d.join("mnt")).expect("mnt");
    let empty = custos_in(d, &["seal", "--key", "rfc8032-test1", "--case", "C", "--out", "nothing", "mnt"]);
    support::assert_refused(&empty, "nothing to seal: mnt holds no regular file");
    assert!(!d.join("nothing").exists());

    let unused = verify(&case, &["--evidence", "evidence"]);
    assert_eq!(unused.code, 0, "{}", unused.stderr);
    assert!(unused.stderr.contains("--evidence evidence is not used"), "{}", unused.stderr);

    let acquire = ["acquire", "evidence/disk.img", "--name", "disk\\1.raw", "--key", "rfc8032-test1"];
    let named = custos_in(d, &[&acquire[..], &["--case", "C", "--out", "a"]].concat());
    let dry = custos_in(d, &[&acquire[..], &["--case", "C", "--out", "a", "--dry-run"]].concat());
    for run in [&named, &dry] {
        support::assert_refused(run, "--name \"disk\\\\1.raw\"");
    }

    let same = custos_in(
        d,
        &["report", "pkg", "--trust", "rfc8032-test1.pub", "--out", "r.html", "--pdf", "./r.html"],
    );
    support::assert_refused(&same, "must be different files");

    write(d, "pkg/custos/segments/disk.img.json", b"{}");
    recompute_tag_manifests(&d.join("pkg"));
    let planted = verify(&case, &[]);
    assert!(
        planted.stdout.contains("package.unknown_file")
            && planted.stdout.contains("custos/segments/disk.img.json"),
        "{}",
        planted.stdout
    );
}

// Custody commands sign only what a full check established, and a command killed midway
// never leaves a good package failing for good.

/// The package's custody log and every tag manifest, to show a refused command wrote nothing.
fn written_by_custody(case: &Case) -> Vec<Vec<u8>> {
    ["custos/custody.jsonl", "tagmanifest-md5.txt", "tagmanifest-sha256.txt"]
        .iter()
        .map(|name| std::fs::read(case.pkg.join(name)).unwrap_or_default())
        .collect()
}

/// Class 6 (operator): `fixity_verified` is a signed claim that the package verifies. It is
/// made only after the judgement `verify` makes passed, never over a planted file or an
/// edited bag-info.txt (whose edit the refreshed tag manifests would otherwise cover), and a
/// package sealed by reference is read from `--evidence` (refused without it, as a mistake).
#[test]
fn class6_operator_fixity_verified_is_signed_only_after_a_full_verify() {
    let record = |case: &Case, extra: &[&str]| {
        let mut args =
            vec!["custody", "record", "pkg", "--key", "rfc8032-test2", "--action", "fixity_verified", "-q"];
        args.extend(extra);
        custos_in(&case.root, &args)
    };
    // A genuine package: recorded, with the sealed digests, and it still verifies.
    let case = genuine();
    let recorded = record(&case, &[]);
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    let event =
        custos_manifest::custody::parse_line_unverified(log_lines(&case).last().expect("a line").as_bytes())
            .expect("an event");
    assert_eq!(event.action, custos_manifest::custody::Action::FixityVerified);
    let sealed = std::fs::read_to_string(case.pkg.join("manifest-sha256.txt")).expect("manifest");
    let disk = &event.observed_digests["data/disk.img"]["sha256"];
    assert!(sealed.contains(&format!("{disk}  data/disk.img")), "{sealed}");
    assert_eq!(event.observed_digests.len(), 2, "every item: {:?}", event.observed_digests);
    assert_eq!(verify(&case, &[]).code, 0);

    // A file planted under data/ with the bag's manifests recomputed: the items re-hash fine,
    // but the package does not verify (manifest.coverage); nothing is signed or rewritten.
    let case = genuine();
    make_writable(&case.pkg);
    write(&case.pkg, "data/planted.txt", b"planted\n");
    support::recompute_bag(&case.pkg);
    let before = written_by_custody(&case);
    let refused = record(&case, &[]);
    assert_eq!(refused.code, 1, "a failed check: {}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("the fixity check failed") && refused.stderr.contains("manifest.coverage"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.contains("FAIL  manifest.coverage data/planted.txt"), "{}", refused.stdout);
    assert_eq!(written_by_custody(&case), before, "nothing signed, no tag manifest refreshed");

    // bag-info.txt naming another case (an unsigned edit the tag manifests would otherwise
    // be refreshed over).
    let case = genuine();
    make_writable(&case.pkg);
    let info = std::fs::read_to_string(case.pkg.join("bag-info.txt")).expect("bag-info");
    std::fs::write(
        case.pkg.join("bag-info.txt"),
        info.replace("External-Identifier: CASE-9", "External-Identifier: CASE-OTHER"),
    )
    .expect("write");
    let before = written_by_custody(&case);
    let refused = record(&case, &[]);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("bag.external_identifier"), "{}", refused.stderr);
    assert_eq!(written_by_custody(&case), before);

    // Sealed by reference: without --evidence a mistake (exit 2) that says what to give;
    // with it, the event records the referenced bytes' digests and verify accepts it; the
    // evidence changed, nothing is signed.
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_owned();
    let d = root.as_path();
    copy_test_keys(d);
    write(d, "ev/disk.img", &noise(5_000, 3));
    let sealed = custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "C-1", "--reference", "--out", "pkg", "ev/disk.img"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let ref_case = Case { _dir: dir, root: root.clone(), pkg: root.join("pkg") };
    let before = written_by_custody(&ref_case);
    let mistake =
        custos_in(d, &["custody", "record", "pkg", "--key", "rfc8032-test1", "--action", "fixity_verified"]);
    assert_eq!(mistake.code, 2, "an operator's mistake: {}", mistake.stderr);
    assert!(mistake.stderr.contains("give --evidence"), "{}", mistake.stderr);
    assert_eq!(written_by_custody(&ref_case), before);
    let fixity_with_evidence = [
        "custody",
        "record",
        "pkg",
        "--key",
        "rfc8032-test1",
        "--action",
        "fixity_verified",
        "--evidence",
        "ev",
    ];
    let recorded = custos_in(d, &fixity_with_evidence);
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    let verified = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--evidence", "ev"]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert!(!verified.stdout.contains("custody.fixity"), "{}", verified.stdout);
    make_writable(&d.join("ev"));
    write(d, "ev/disk.img", &noise(5_000, 4));
    let before = written_by_custody(&ref_case);
    let refused = custos_in(d, &fixity_with_evidence);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("item.digest"), "{}", refused.stderr);
    assert_eq!(written_by_custody(&ref_case), before);
}

/// Class 5 (once): cosign replaces the signature file, then appends its event. Killed in
/// between, the package holds a signature no event records (custody.cosign fails); the rerun
/// of the same cosign, by the same key, completes it instead of saying "already signed".
#[test]
fn class5_once_a_cosign_killed_midway_is_completed_by_its_rerun() {
    let case = genuine();
    make_writable(&case.pkg);
    // What the killed cosign left: Bob's signature added to the signature file, no event.
    let manifest = std::fs::read(case.pkg.join("custos/manifest.json")).expect("manifest");
    let signatures_path = case.pkg.join("custos/manifest.json.sig");
    let mut signatures =
        custos_manifest::envelope::SignatureFile::parse(&std::fs::read(&signatures_path).expect("sig"))
            .expect("signature file");
    signatures.sign(&seed(TEST2_SEED), &manifest);
    std::fs::write(&signatures_path, signatures.to_bytes()).expect("write");
    assert_caught(&case, "custody.cosign", "no `sealed` or `cosigned` event records it");

    let completed = custos_in(&case.root, &["cosign", "pkg", "--key", "rfc8032-test2"]);
    assert_eq!(completed.code, 0, "{}", completed.stderr);
    let event =
        custos_manifest::custody::parse_line_unverified(log_lines(&case).last().expect("a line").as_bytes())
            .expect("an event");
    assert_eq!(event.action, custos_manifest::custody::Action::Cosigned);
    assert_eq!(
        std::fs::read(&signatures_path).expect("sig"),
        signatures.to_bytes(),
        "the signature is kept as made"
    );
    let run = verify(&case, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // Once recorded, signing again is refused, as before.
    let again = custos_in(&case.root, &["cosign", "pkg", "--key", "rfc8032-test2"]);
    support::assert_refused(&again, "has already signed this manifest");
}

/// Class 6 (operator): a custody command killed before renaming its temporary tag manifest
/// (or key file) into place leaves `.NAME.custos-PID-N.tmp`. Verify names it as such; the
/// next custody command removes it under the lock and never lists it, so the package does
/// not carry it for good.
#[test]
fn class6_operator_a_temporary_left_by_a_killed_custody_command_is_removed_not_listed() {
    let case = genuine();
    make_writable(&case.pkg);
    let top = ".tagmanifest-sha256.txt.custos-4242-123456.tmp";
    let key = "custos/keys/.0123.pub.custos-4242-99.tmp";
    std::fs::write(case.pkg.join(top), b"stale\n").expect("write");
    std::fs::write(case.pkg.join(key), b"stale\n").expect("write");
    let run = verify(&case, &[]);
    assert_eq!(run.code, 0, "the package is as before, with a warning: {}", run.stdout);
    for name in [top, key] {
        assert!(
            run.stdout.lines().any(|l| l.starts_with("WARN  package.interrupted_write")
                && l.contains(name)
                && l.contains("The next custody command on this package removes it")),
            "{}",
            run.stdout
        );
    }
    let recorded = custos_in(
        &case.root,
        &["custody", "record", "pkg", "--key", "rfc8032-test2", "--action", "examined"],
    );
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    assert!(!case.pkg.join(top).exists() && !case.pkg.join(key).exists(), "removed");
    let listed = std::fs::read_to_string(case.pkg.join("tagmanifest-sha256.txt")).expect("tag manifest");
    assert!(!listed.contains(".tmp"), "{listed}");
    let strict = verify(&case, &["--strict"]);
    assert_eq!(strict.code, 0, "{}", strict.stdout);
}

/// Issue 21 (where the evidence is): a country in an event is signed, but the signer is
/// the only one who vouches for it. An insider who does not hold the evidence cannot move it;
/// the holder cannot state a country that is not a code (`Germany`, `de`), nor move it
/// without saying where to.
#[test]
fn an_insider_cannot_move_the_evidence_or_state_a_country_that_is_no_code() {
    let case = genuine();
    make_writable(&case.pkg);
    // Ada, trusted, released the evidence to Bob and no longer holds it.
    forge_event(&case, &seed(TEST1_SEED), |event| {
        event["action"] = "moved".into();
        event["country"] = "XB".into();
    });
    assert_caught(&case, "custody.holder", "`moved` by Ada Examiner");

    for (country, action) in [(Some("Germany"), "examined"), (Some("de"), "examined"), (None, "moved")] {
        let case = genuine();
        make_writable(&case.pkg);
        forge_event(&case, &seed(TEST2_SEED), |event| {
            event["action"] = action.into();
            if let Some(country) = country {
                event["country"] = country.into();
            }
        });
        let needle = if country.is_some() { "is not a country code" } else { "neither where to" };
        assert_caught(&case, "custody.country", needle);
    }
}

/// Issue 21 (orders as signed records): an insider who signs events directly cannot record
/// an order without one, an order on another kind of event, an order that cannot be
/// believed, or one that extends an order never recorded.
#[test]
fn an_insider_cannot_record_an_order_the_format_refuses() {
    let order = serde_json::json!({
        "kind": "production_order", "reference": "P-1", "issuer": "Court", "issuing_state": "XB",
        "issued_at": "2026-03-01T00:00:00+00:00", "valid_from": "2026-03-01T00:00:00+00:00",
        "valid_until": "2026-04-01T00:00:00+00:00"
    });
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("records an order, but holds none", Box::new(|e| e["action"] = "order_recorded".into())),
        ("only an `order_recorded` event holds an order", {
            let order = order.clone();
            Box::new(move |e| e["order"] = order.clone())
        }),
        ("is before valid from", {
            let order = order.clone();
            Box::new(move |e| {
                e["action"] = "order_recorded".into();
                e["order"] = order.clone();
                e["order"]["valid_until"] = "2026-01-01T00:00:00+00:00".into();
            })
        }),
        ("covers no kind of data", {
            let order = order.clone();
            Box::new(move |e| {
                e["action"] = "order_recorded".into();
                e["order"] = order.clone();
                e["order"]["categories"] = serde_json::json!([]);
            })
        }),
        ("after the event that records it", {
            let order = order.clone();
            Box::new(move |e| {
                e["action"] = "order_recorded".into();
                e["order"] = order.clone();
                e["order"]["issued_at"] = "2031-01-01T00:00:00+00:00".into();
                e["order"]["valid_from"] = "2031-01-01T00:00:00+00:00".into();
                e["order"]["valid_until"] = "2032-01-01T00:00:00+00:00".into();
            })
        }),
        ("which is not recorded before it", {
            let order = order.clone();
            Box::new(move |e| {
                e["action"] = "order_recorded".into();
                e["order"] = order.clone();
                e["order"]["extends"] = "P-0".into();
            })
        }),
    ];
    for (needle, edit) in cases {
        let case = genuine();
        make_writable(&case.pkg);
        forge_event(&case, &seed(TEST2_SEED), |event| edit(event));
        assert_caught(&case, "custody.order_record", needle);
    }
}

// Class 6 (insider with one trusted key): the facts of cross-border transfers.

/// The genuine package, where Bob (the holder) then records the order MLA-1 and discloses
/// it to Ada with onward transfer forbidden, and Ada accepts. Returns the case and the
/// digest of the disclosure's line.
fn disclosed_to_ada() -> (Case, String) {
    let case = genuine();
    let bob = |args: &[&str]| {
        let done = custos_in(&case.root, args);
        assert_eq!(done.code, 0, "{args:?}: {}", done.stderr);
    };
    bob(&[
        "order",
        "add",
        "pkg",
        "--key",
        "rfc8032-test2",
        "--kind",
        "mla_request",
        "--reference",
        "MLA-1",
        "--issuer",
        "Cascadia Ministry of Justice",
        "--issuing-state",
        "XC",
        "--issued-at",
        "2026-01-01",
        "--valid-from",
        "2026-01-01",
        "--valid-until",
        "2036-01-01",
    ]);
    bob(&[
        "custody",
        "disclose",
        "pkg",
        "--key",
        "rfc8032-test2",
        "--to",
        "rfc8032-test1.pub",
        "--order",
        "MLA-1",
        "--purpose",
        "trial",
    ]);
    bob(&["custody", "accept", "pkg", "--key", "rfc8032-test1"]);
    let lines = log_lines(&case);
    let disclosure = hex(&sha2::Sha256::digest(lines[lines.len() - 2].as_bytes()));
    assert_eq!(verify(&case, &[]).code, 0, "the genuine disclosure verifies");
    (case, disclosure)
}

#[test]
fn class6_a_recipient_cannot_pass_on_what_it_received_under_onward_forbidden() {
    let (case, disclosure) = disclosed_to_ada();
    forge_event(&case, &seed(TEST1_SEED), |event| {
        event["action"] = "disclosed".into();
        event["receiver"] = "aa".repeat(32).into();
        event["purpose"] = "sold on".into();
        event["legal_basis"] = "MLA-1".into();
        event["onward"] = "forbidden".into();
        event["disclosure"] = disclosure.into();
        event["authorisation"] = "AUTH-FORGED".into();
    });
    assert_caught(&case, "custody.onward", "disclosure 4 forbids onward transfer");
}

#[test]
fn class6_only_the_discloser_authorises_onward_transfer() {
    let (case, disclosure) = disclosed_to_ada();
    forge_event(&case, &seed(TEST1_SEED), |event| {
        event["action"] = "onward_authorised".into();
        event["receiver"] = "aa".repeat(32).into();
        event["disclosure"] = disclosure.into();
        event["authorisation"] = "AUTH-SELF".into();
    });
    assert_caught(&case, "custody.onward", "only Bob Custodian, who made disclosure 4, may authorise");
}

#[test]
fn class6_a_disclosure_without_an_order_or_of_an_unrecorded_one_fails() {
    for order in [None, Some("MLA-404")] {
        let (case, _) = disclosed_to_ada();
        forge_event(&case, &seed(TEST2_SEED), |event| {
            event["action"] = "disclosed".into();
            event["receiver"] = "aa".repeat(32).into();
            event["purpose"] = "trial".into();
            event["onward"] = "forbidden".into();
            if let Some(order) = order {
                event["legal_basis"] = order.into();
            }
        });
        let needle = match order {
            None => "`disclosed` names the order it concerns",
            Some(_) => "names order MLA-404, which is not recorded before it",
        };
        assert_caught(&case, "custody.disclosure", needle);
    }
}

#[test]
fn class6_disclosure_fields_on_other_events_and_a_notification_of_no_state_fail() {
    let (case, disclosure) = disclosed_to_ada();
    forge_event(&case, &seed(TEST1_SEED), |event| {
        event["action"] = "examined".into();
        event["retain_until"] = "2099-01-01T00:00:00+00:00".into();
        event["disclosure"] = disclosure.into();
    });
    assert_caught(&case, "custody.fields", "`examined` events do not carry retain_until, disclosure");

    let (case, _) = disclosed_to_ada();
    forge_event(&case, &seed(TEST1_SEED), |event| {
        event["action"] = "notified".into();
        event["legal_basis"] = "MLA-1".into();
        event["to_state"] = "Borealia".into();
    });
    assert_caught(&case, "custody.notification", "`Borealia` is not a country code");
}

#[test]
fn class6_a_recipient_cannot_accept_twice_nor_dispose_of_anothers_copy() {
    let (case, disclosure) = disclosed_to_ada();
    forge_event(&case, &seed(TEST1_SEED), |event| {
        event["action"] = "accepted".into();
        event["disclosure"] = disclosure.clone().into();
    });
    assert_caught(&case, "custody.disclosure", "disclosure 4 was accepted already (event 5)");

    let (case, disclosure) = disclosed_to_ada();
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "destroyed".into();
        event["disclosure"] = disclosure.into();
    });
    assert_caught(&case, "custody.disclosure", "`destroyed` of disclosure 4, which was made to another key");

    let (case, disclosure) = disclosed_to_ada();
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "accepted".into();
        event["disclosure"] = disclosure.into();
    });
    assert_caught(&case, "custody.disclosure", "accepts disclosure 4, which was made to another key");
}

#[test]
fn class6_a_bare_disclosure_as_0_2_recorded_it_still_verifies_and_grants_nothing() {
    // Version 0.2 recorded `custody record --action disclosed --note …`: no recipient, no
    // order, no terms. A package sealed then must verify now.
    let case = genuine();
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "disclosed".into();
        event["note"] = "copy to the defence".into();
    });
    let run = verify(&case, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // By anyone but the holder, as then, it fails.
    let case = genuine();
    forge_event(&case, &seed(TEST1_SEED), |event| {
        event["action"] = "disclosed".into();
    });
    assert_caught(&case, "custody.holder", "`disclosed` by Ada Examiner");
}

#[test]
fn class6_a_receiver_that_is_not_a_key_id_fails_whatever_its_spelling() {
    // Compared as text, Ada's own key id in capitals, or no key at all, would pass the rule
    // that a disclosure goes to someone else.
    let ada_upper = hex(&sha2::Sha256::digest(seed(TEST1_SEED).verifying_key().as_bytes())).to_uppercase();
    for receiver in [ada_upper.as_str(), "", "nobody"] {
        let (case, _) = disclosed_to_ada();
        forge_event(&case, &seed(TEST1_SEED), |event| {
            event["action"] = "released".into();
            event["receiver"] = receiver.into();
        });
        assert_caught(&case, "custody.transfer", "the receiver is not a key id");
    }
    let (case, _) = disclosed_to_ada();
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "disclosed".into();
        event["receiver"] = ada_upper.clone().into();
        event["purpose"] = "p".into();
        event["legal_basis"] = "MLA-1".into();
        event["onward"] = "forbidden".into();
    });
    assert_caught(&case, "custody.disclosure", "the receiver is not a key id");
}

// Class 6 (insider): when things happened (occurred_at), issue "custody record".

#[test]
fn class6_a_backdated_or_future_occurrence_fails() {
    // Before the seal: only the physical exhibit's steps may have happened then.
    let case = genuine();
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "examined".into();
        event["occurred_at"] = "2000-01-01T00:00:00+00:00".into();
    });
    assert_caught(&case, "custody.occurred", "happened before the package was sealed");
    // After it was signed: nothing is recorded in advance.
    let case = genuine();
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "examined".into();
        event["occurred_at"] = "2099-01-01T00:00:00+00:00".into();
    });
    assert_caught(&case, "custody.occurred", "happened after it was signed");
    // A seizure that does not say when it happened.
    let case = genuine();
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "seized".into();
    });
    assert_caught(&case, "custody.occurred", "`seized` says when it happened");
    // A late record slipped in as an earlier step: the acceptance (event 2) happened at its
    // signing time; an examination recorded after it cannot claim to have happened before.
    let case = genuine();
    let accepted_at = {
        let lines = log_lines(&case);
        let line: serde_json::Value = serde_json::from_str(&lines[2]).expect("line");
        let event: serde_json::Value =
            serde_json::from_str(line["payload"].as_str().expect("payload")).expect("event");
        custos_test_time_minus(event["time"].as_str().expect("time"), 1)
    };
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "examined".into();
        event["occurred_at"] = accepted_at.into();
    });
    assert_caught(&case, "custody.occurred", "happened before event 2, which is recorded before it");
}

/// An RFC 3339 time `seconds` earlier (the log writes `…+00:00`).
fn custos_test_time_minus(time: &str, seconds: i64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("{time} - {seconds} seconds"), "+%Y-%m-%dT%H:%M:%S+00:00"])
        .output()
        .expect("date");
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

#[test]
fn class6_an_attachment_outside_its_folder_fails() {
    for path in [
        "custos/manifest.json",
        "custos/attachments/../custody.jsonl",
        "custos/attachments/.hidden",
        "data/disk.img",
    ] {
        let case = genuine();
        forge_event(&case, &seed(TEST2_SEED), |event| {
            event["action"] = "examined".into();
            event["attachments"] =
                serde_json::json!([{ "path": path, "size": 1, "sha256": "ab".repeat(32) }]);
        });
        assert_caught(&case, "custody.attachment", "an attachment must be a file in custos/attachments/");
    }
}

#[test]
fn class6_a_hold_is_lifted_only_by_who_placed_it_and_a_witness_is_someone_else() {
    // Bob (the holder) places a hold; Ada (insider) lifts it herself, then Bob destroys.
    let case = genuine();
    let placed = custos_in(
        &case.root,
        &[
            "custody",
            "record",
            "pkg",
            "--key",
            "rfc8032-test2",
            "--action",
            "legal_hold",
            "--note",
            "appeal pending",
        ],
    );
    assert_eq!(placed.code, 0, "{}", placed.stderr);
    let hold_line = hex(&sha2::Sha256::digest(log_lines(&case)[3].as_bytes()));
    forge_event(&case, &seed(TEST1_SEED), |event| {
        event["action"] = "hold_lifted".into();
        event["hold"] = hold_line.into();
    });
    assert_caught(&case, "custody.hold", "only Bob Custodian, who placed the hold at event 3, may lift it");
    // Destroyed under the hold, signed directly.
    let case = genuine();
    let placed = custos_in(
        &case.root,
        &[
            "custody",
            "record",
            "pkg",
            "--key",
            "rfc8032-test2",
            "--action",
            "legal_hold",
            "--note",
            "appeal pending",
        ],
    );
    assert_eq!(placed.code, 0, "{}", placed.stderr);
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "destroyed".into();
    });
    assert_caught(&case, "custody.hold", "`destroyed` while the evidence is on legal hold (event 3");
    // The destroyer witnessing its own destruction.
    let case = genuine();
    let destroyed = custos_in(
        &case.root,
        &["custody", "record", "pkg", "--key", "rfc8032-test2", "--action", "destroyed"],
    );
    assert_eq!(destroyed.code, 0, "{}", destroyed.stderr);
    let destroyed_line = hex(&sha2::Sha256::digest(log_lines(&case)[3].as_bytes()));
    forge_event(&case, &seed(TEST2_SEED), |event| {
        event["action"] = "witnessed".into();
        event["witnessed"] = destroyed_line.into();
    });
    assert_caught(&case, "custody.hold", "a witness is a second principal");
}

#[test]
fn class6_an_attachment_record_must_match_its_name_and_name_a_file_once() {
    let case = genuine();
    let added = custos_in(
        &case.root,
        &[
            "custody",
            "record",
            "pkg",
            "--key",
            "rfc8032-test2",
            "--action",
            "examined",
            "--attach",
            "evidence/disk.img",
        ],
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    let path = {
        let lines = log_lines(&case);
        let line: serde_json::Value = serde_json::from_str(lines.last().expect("line")).expect("line");
        let event: serde_json::Value =
            serde_json::from_str(line["payload"].as_str().expect("payload")).expect("event");
        event["attachments"][0]["path"].as_str().expect("path").to_owned()
    };
    // A record pointing at that file under another digest: it would make any later file of
    // that name look like this record's.
    forge_event(&case, &seed(TEST1_SEED), |event| {
        event["action"] = "examined".into();
        event["attachments"] = serde_json::json!([{ "path": path, "size": 3, "sha256": "cd".repeat(32) }]);
    });
    assert_caught(&case, "custody.attachment", "does not start with the first 16 digits of its SHA-256");
    // One file named many times is named once too many, and read once.
    let case = genuine();
    let added = custos_in(
        &case.root,
        &[
            "custody",
            "record",
            "pkg",
            "--key",
            "rfc8032-test2",
            "--action",
            "examined",
            "--attach",
            "evidence/disk.img",
        ],
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    let record = {
        let lines = log_lines(&case);
        let line: serde_json::Value = serde_json::from_str(lines.last().expect("line")).expect("line");
        let event: serde_json::Value =
            serde_json::from_str(line["payload"].as_str().expect("payload")).expect("event");
        event["attachments"][0].clone()
    };
    forge_event(&case, &seed(TEST1_SEED), |event| {
        event["action"] = "examined".into();
        event["attachments"] = serde_json::Value::Array(vec![record; 5000]);
    });
    let run = run_with_deadline(
        &case.root,
        &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--trust", "rfc8032-test2.pub"],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("more than once"), "{}", run.stdout);
}
