//! Custody anchored outside the package, end to end: who holds the evidence, receipts that
//! catch a log cut short or rewritten, and the `custody` summary in `verify --json`.

mod support;

use std::path::Path;

use support::{custos_in, seal_content_package, Run};

/// A package sealed by TEST 1 (Ada), with a receipt of every event kept outside it.
fn sealed_with_receipts(dir: &Path) {
    seal_content_package(dir, "CASE-11", 50_000);
    let head = custos_in(dir, &["custody", "receipt", "pkg", "--out", "r0.json"]);
    assert_eq!(head.code, 0, "{}", head.stderr);
}

fn verify(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "pkg", "--trust", "rfc8032-test1.pub", "--trust", "rfc8032-test2.pub"];
    args.extend(extra);
    custos_in(dir, &args)
}

fn drop_last_line(dir: &Path) {
    let log = dir.join("pkg/custos/custody.jsonl");
    let text = std::fs::read_to_string(&log).expect("log");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&log, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).expect("write");
    // What any BagIt tool does afterwards: the tag manifests are unsigned.
    let refreshed = custos_manifest::package::refresh_tag_manifests(
        &custos_manifest::store::PackageDir::open(&dir.join("pkg")).expect("open"),
    );
    refreshed.expect("refresh");
}

#[test]
fn only_the_holder_may_release_and_verify_names_the_holder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed_with_receipts(d);
    let by_bob =
        custos_in(d, &["custody", "release", "pkg", "--key", "rfc8032-test2", "--to", "rfc8032-test1.pub"]);
    assert_eq!(by_bob.code, 2, "{}", by_bob.stdout);
    assert!(
        by_bob.stderr.contains("holds the evidence") && by_bob.stderr.contains("nothing was signed"),
        "{}",
        by_bob.stderr
    );
    let to_herself =
        custos_in(d, &["custody", "release", "pkg", "--key", "rfc8032-test1", "--to", "rfc8032-test1.pub"]);
    assert_eq!(to_herself.code, 2);
    let released =
        custos_in(d, &["custody", "release", "pkg", "--key", "rfc8032-test1", "--to", "rfc8032-test2.pub"]);
    assert_eq!(released.code, 0, "{}", released.stderr);
    assert!(
        released.stdout.contains("custody passes only when") && released.stdout.contains("custody accept"),
        "{}",
        released.stdout
    );
    let pending = verify(d, &[]);
    assert!(pending.stdout.contains("in transit: released by"), "{}", pending.stdout);
    let accepted = custos_in(d, &["custody", "accept", "pkg", "--key", "rfc8032-test2"]);
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    let json = verify(d, &["--json"]);
    assert_eq!(json.code, 0, "{}", json.stdout);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let custody = &report["custody"];
    assert_eq!(custody["events"], 3);
    assert_eq!(custody["head"].as_str().map(str::len), Some(64));
    assert_eq!(custody["holder"]["name"], "Bob Custodian", "{custody}");
    assert!(custody["holder"]["key_id"].as_str().is_some_and(|id| id.len() == 64));
    assert!(custody["pending"].is_null());
    let text = verify(d, &[]);
    assert!(
        text.stdout.contains("custody: 3 event(s), head ") && text.stdout.contains("held by Bob"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_receipt_catches_a_log_cut_short_or_rewritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed_with_receipts(d);
    let disclosed = custos_in(
        d,
        &[
            "custody",
            "record",
            "pkg",
            "--key",
            "rfc8032-test1",
            "--action",
            "examined",
            "--receipt",
            "r1.json",
        ],
    );
    assert_eq!(disclosed.code, 0, "{}", disclosed.stderr);
    assert!(disclosed.stderr.contains("receipt of event 1"), "{}", disclosed.stderr);
    let intact = verify(d, &["--receipt", "r0.json", "--receipt", "r1.json"]);
    assert_eq!(intact.code, 0, "{}", intact.stdout);
    assert!(intact.stdout.contains("custody.receipt"), "{}", intact.stdout);

    // The holder cuts the examination off the end: the shorter log verifies on its own...
    drop_last_line(d);
    assert_eq!(verify(d, &[]).code, 0, "a log proves only its prefix");
    // ...but not against the receipt.
    let cut = verify(d, &["--receipt", "r1.json"]);
    assert_eq!(cut.code, 1, "{}", cut.stdout);
    assert!(
        cut.stdout.contains("FAIL  custody.rollback") && cut.stdout.contains("dropped"),
        "{}",
        cut.stdout
    );

    // Another history grown in its place is a fork.
    let other = custos_in(d, &["custody", "record", "pkg", "--key", "rfc8032-test1", "--action", "accessed"]);
    assert_eq!(other.code, 0, "{}", other.stderr);
    let fork = verify(d, &["--receipt", "r1.json", "--receipt", "r0.json"]);
    assert_eq!(fork.code, 1);
    assert!(
        fork.stdout.contains("FAIL  custody.fork") && fork.stdout.contains("rewritten"),
        "{}",
        fork.stdout
    );
    assert!(fork.stdout.contains("pass  custody.receipt"), "r0 still holds: {}", fork.stdout);

    // A receipt from another package, and an edited receipt.
    std::fs::create_dir(d.join("other")).expect("mkdir");
    seal_content_package(&d.join("other"), "CASE-12", 1_000);
    let foreign = custos_in(&d.join("other"), &["custody", "receipt", "pkg", "--out", "../foreign.json"]);
    assert_eq!(foreign.code, 0, "{}", foreign.stderr);
    let wrong = verify(d, &["--receipt", "foreign.json"]);
    assert!(
        wrong.stdout.contains("FAIL  custody.receipt") && wrong.stdout.contains("another package"),
        "{}",
        wrong.stdout
    );
    let text = std::fs::read_to_string(d.join("r0.json")).expect("read");
    std::fs::write(d.join("edited.json"), text.replacen("\"sequence\": 0", "\"sequence\": 1", 1))
        .expect("write");
    let edited = verify(d, &["--receipt", "edited.json"]);
    assert_eq!(edited.code, 2, "{}", edited.stdout);
    assert!(edited.stderr.contains("not a usable receipt"), "{}", edited.stderr);
    // Receipts are never overwritten.
    let again = custos_in(d, &["custody", "receipt", "pkg", "--out", "r0.json"]);
    assert_eq!(again.code, 2);
}

#[test]
fn a_cosigned_package_meets_a_four_eyes_rule() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    seal_content_package(d, "CASE-13", 10_000);
    let policy =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/examples/xb-borealia-strict.json");
    let policy = policy.to_str().expect("UTF-8");
    let threshold = |run: &Run| -> String {
        let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        let findings = report["policies"][0]["findings"].as_array().expect("findings").clone();
        let finding =
            findings.iter().find(|f| f["rule"] == "signatures.seal_threshold").expect("threshold rule");
        finding["verdict"].as_str().expect("verdict").to_owned()
    };
    assert_eq!(threshold(&verify(d, &["--json", "--policy", policy])), "fail", "one principal of two");

    let cosigned = custos_in(d, &["cosign", "pkg", "--key", "rfc8032-test2", "--receipt", "cosign.json"]);
    assert_eq!(cosigned.code, 0, "{}", cosigned.stderr);
    assert!(cosigned.stdout.contains("co-signed the manifest"), "{}", cosigned.stdout);
    let again = custos_in(d, &["cosign", "pkg", "--key", "rfc8032-test2"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already signed"), "{}", again.stderr);
    let plain = verify(d, &["--receipt", "cosign.json"]);
    assert_eq!(plain.code, 0, "{}", plain.stdout);
    assert_eq!(threshold(&verify(d, &["--json", "--policy", policy])), "pass", "two principals");
    // minisign-style independent check is unaffected: the manifest bytes did not change.
    let log = custos_in(d, &["custody", "log", "pkg"]);
    assert!(log.stdout.contains("cosigned"), "{}", log.stdout);
}

#[test]
fn a_signature_slipped_in_without_its_event_or_an_event_without_its_signature_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    seal_content_package(d, "CASE-14", 10_000);
    // Bob co-signs properly, then the event is cut and the tag manifests refreshed.
    assert_eq!(custos_in(d, &["cosign", "pkg", "--key", "rfc8032-test2"]).code, 0);
    drop_last_line(d);
    let run = verify(d, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("FAIL  custody.cosign") && run.stdout.contains("no `sealed` or `cosigned` event"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_releaser_may_withdraw_a_pending_release() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    seal_content_package(d, "CASE-15", 10_000);
    assert_eq!(
        custos_in(d, &["custody", "release", "pkg", "--key", "rfc8032-test1", "--to", "rfc8032-test2.pub"])
            .code,
        0
    );
    let not_bob = custos_in(d, &["custody", "withdraw", "pkg", "--key", "rfc8032-test2"]);
    assert_eq!(not_bob.code, 2, "{}", not_bob.stdout);
    let withdrawn = custos_in(d, &["custody", "withdraw", "pkg", "--key", "rfc8032-test1"]);
    assert_eq!(withdrawn.code, 0, "{}", withdrawn.stderr);
    let late = custos_in(d, &["custody", "accept", "pkg", "--key", "rfc8032-test2"]);
    assert_eq!(late.code, 2, "nothing is pending any more: {}", late.stdout);
    let run = verify(d, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("held by Ada"), "{}", run.stdout);
}

#[test]
fn a_failed_fixity_check_exits_1_and_can_be_recorded_as_such() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    seal_content_package(d, "CASE-16", 20_000);
    let ok =
        custos_in(d, &["custody", "record", "pkg", "--key", "rfc8032-test1", "--action", "fixity_verified"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let image = d.join("pkg/data/disk.img");
    assert!(std::process::Command::new("chmod").arg("u+w").arg(&image).status().expect("chmod").success());
    let mut bytes = std::fs::read(&image).expect("read");
    bytes[1000] ^= 1;
    std::fs::write(&image, bytes).expect("write");
    let failed =
        custos_in(d, &["custody", "record", "pkg", "--key", "rfc8032-test1", "--action", "fixity_verified"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stdout.contains("FAIL") && failed.stdout.contains("sha256 is"), "{}", failed.stdout);
    assert!(failed.stderr.contains("--action fixity_failed"), "{}", failed.stderr);
    let recorded =
        custos_in(d, &["custody", "record", "pkg", "--key", "rfc8032-test1", "--action", "fixity_failed"]);
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    let log = custos_in(d, &["custody", "log", "pkg"]);
    assert!(log.stdout.contains("fixity_failed"), "{}", log.stdout);
    // The package itself still fails, naming the item.
    assert!(verify(d, &[]).stdout.contains("FAIL  item.digest"));
}
