//! Packages in an S3-compatible store, end to end against a real SeaweedFS: `store push`,
//! `verify s3://…` (and `report`), tampering in the store, `store pull`, Object Lock
//! readback. Skips without `weed` unless CUSTOS_INTEROP=require.

#[path = "../crates/s3/tests/support/seaweed.rs"]
mod seaweed;
mod support;

use std::path::Path;

use seaweed::Seaweed;
use serde_json::Value;
use support::{custos, run, Run};

/// Runs custos in `dir` pointed at `server` (and nothing else: no profile files).
fn custos_s3(server: &Seaweed, dir: &Path, args: &[&str]) -> Run {
    let mut command = custos();
    command.current_dir(dir).args(args);
    for (name, value) in server.env() {
        command.env(name, value);
    }
    command.env_remove("AWS_PROFILE").env_remove("AWS_SESSION_TOKEN");
    run(&mut command)
}

fn json(run: &Run) -> Vec<Value> {
    run.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// The verify record's failing findings as (check, subject).
fn failures(run: &Run) -> Vec<(String, String)> {
    let record = json(run).pop().expect("a record");
    record["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .filter(|f| f["verdict"] == "fail")
                .map(|f| {
                    (
                        f["check"].as_str().unwrap_or("").to_owned(),
                        f["subject"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The keys of `<!-- s3-example: NAME -->` in docs/json.md (these examples need a running
/// store, so this test checks them, not tests/json_docs.rs).
fn documented_keys(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json.md"))
        .expect("docs/json.md");
    let marker = format!("<!-- s3-example: {name} -->");
    let mut lines = text.lines().skip_while(|l| *l != marker).skip(2);
    let record: Value = serde_json::from_str(lines.next().expect("an example")).expect("JSON");
    let mut keys: Vec<String> = record.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

fn keys_of(record: &Value) -> Vec<String> {
    let mut keys: Vec<String> = record.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn packages_in_a_store_verify_and_tampering_there_is_named() {
    let Some(server) = Seaweed::start() else { return };
    server.create_bucket("evidence", false);
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "S3-1", 70_000);
    let trust = ["--trust", "rfc8032-test1.pub"];

    let pushed = custos_s3(&server, d, &["store", "push", "pkg", "s3://evidence/cases/one", "--json"]);
    assert_eq!(pushed.code, 0, "{}{}", pushed.stdout, pushed.stderr);
    let record = json(&pushed).pop().expect("record");
    assert_eq!(keys_of(&record), documented_keys("store_push"));
    assert_eq!(record["destination"], "s3://evidence/cases/one");
    assert!(record["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .any(|o| o["key"] == "cases/one/data/disk.img"));
    let again = custos_s3(&server, d, &["store", "push", "pkg", "s3://evidence/cases/one"]);
    assert_eq!(again.code, 2, "never over an existing package: {}", again.stdout);
    assert!(again.stderr.contains("already exist"), "{}", again.stderr);

    let verified =
        custos_s3(&server, d, &["verify", "s3://evidence/cases/one", trust[0], trust[1], "--json"]);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
    assert_eq!(json(&verified)[0]["package"], "s3://evidence/cases/one");
    let human = custos_s3(&server, d, &["verify", "s3://evidence/cases/one/", trust[0], trust[1]]);
    assert_eq!(human.code, 0, "{}{}", human.stdout, human.stderr);
    assert!(human.stdout.contains("VERIFIED"), "{}", human.stdout);
    let report =
        custos_s3(&server, d, &["report", "s3://evidence/cases/one", trust[0], trust[1], "--out", "r.html"]);
    assert_eq!(report.code, 0, "{}{}", report.stdout, report.stderr);
    assert!(std::fs::read_to_string(d.join("r.html")).expect("report").contains("s3://evidence/cases/one"));

    // No package at a prefix: an error, not a verdict.
    let missing = custos_s3(&server, d, &["verify", "s3://evidence/cases/none", trust[0], trust[1]]);
    assert_eq!(missing.code, 2, "{}", missing.stdout);
    assert!(missing.stderr.contains("not an evidence package"), "{}", missing.stderr);
    let bad = custos_s3(&server, d, &["verify", "s3://evidence/cases/../one", trust[0], trust[1]]);
    support::assert_refused(&bad, "not a usable s3:// location (a `.` or `..` segment)");

    // Pull, then the copy verifies on disk; never into an existing folder.
    let pulled = custos_s3(
        &server,
        d,
        &["store", "pull", "s3://evidence/cases/one", "copy", trust[0], trust[1], "--json"],
    );
    assert_eq!(pulled.code, 0, "{}{}", pulled.stdout, pulled.stderr);
    let records = json(&pulled);
    assert_eq!(keys_of(&records[0]), documented_keys("store_pull"));
    assert_eq!(records[1]["verdict"], "pass");
    let local = run(support::custos().current_dir(d).args(["verify", "copy", trust[0], trust[1]]));
    assert_eq!(local.code, 0, "{}{}", local.stdout, local.stderr);
    let over =
        custos_s3(&server, d, &["store", "pull", "s3://evidence/cases/one", "copy", trust[0], trust[1]]);
    support::assert_refused(&over, "copy: already exists (never overwritten)");

    // Each tampering on its own fresh copy in the store.
    let tampered = |name: &str, tamper: &dyn Fn(&str)| -> Run {
        let url = format!("s3://evidence/tampered/{name}");
        let pushed = custos_s3(&server, d, &["store", "push", "pkg", &url]);
        assert_eq!(pushed.code, 0, "{}", pushed.stderr);
        tamper(&format!("tampered/{name}"));
        let verified = custos_s3(&server, d, &["verify", &url, trust[0], trust[1], "--json"]);
        assert_eq!(verified.code, 1, "{name}: {}{}", verified.stdout, verified.stderr);
        verified
    };
    let flipped = tampered("flip", &|prefix| {
        let key = format!("{prefix}/data/disk.img");
        let mut bytes = server.get("evidence", &key);
        bytes[40_000] ^= 1;
        server.put("evidence", &key, bytes);
    });
    let named = failures(&flipped);
    assert!(
        named.iter().any(|(check, subject)| (check == "item.digest" || check == "bag.payload_digest")
            && subject == "data/disk.img"),
        "{named:?}"
    );
    let deleted = tampered("delete", &|prefix| server.delete("evidence", &format!("{prefix}/data/disk.img")));
    let named = failures(&deleted);
    assert!(named.iter().any(|(_, subject)| subject == "data/disk.img"), "{named:?}");
    let planted = tampered("plant", &|prefix| {
        server.put("evidence", &format!("{prefix}/data/extra.bin"), b"x".to_vec())
    });
    let named = failures(&planted);
    assert!(
        named.iter().any(|(check, subject)| check == "manifest.coverage" && subject == "data/extra.bin"),
        "{named:?}"
    );
    // A key with an empty segment: either listed as itself (and refused), or the store
    // folds it onto data/disk.img (and the digest fails); never read as the sealed file.
    let hostile = tampered("hostile", &|prefix| {
        server.put("evidence", &format!("{prefix}/data//disk.img"), b"not the evidence".to_vec())
    });
    assert!(!failures(&hostile).is_empty());
}

#[test]
fn large_payloads_verify_through_ranged_reads() {
    let Some(server) = Seaweed::start() else { return };
    server.create_bucket("large", false);
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    // 40 MiB: three parts up, five 8 MiB ranges down.
    support::seal_content_package(d, "S3-2", 40 << 20);
    let pushed = custos_s3(&server, d, &["store", "push", "pkg", "s3://large/big"]);
    assert_eq!(pushed.code, 0, "{}{}", pushed.stdout, pushed.stderr);
    let verified = custos_s3(&server, d, &["verify", "s3://large/big", "--trust", "rfc8032-test1.pub", "-q"]);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
}

#[test]
fn retention_and_legal_hold_are_what_the_store_reports() {
    let Some(server) = Seaweed::start() else { return };
    server.create_bucket("locked", true);
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "S3-3", 5_000);
    let pushed = custos_s3(
        &server,
        d,
        &[
            "store",
            "push",
            "pkg",
            "s3://locked/held",
            "--retain-until",
            "2099-01-01",
            "--lock-mode",
            "governance",
            "--legal-hold",
            "--json",
        ],
    );
    assert_eq!(pushed.code, 0, "{}{}", pushed.stdout, pushed.stderr);
    let record = json(&pushed).pop().expect("record");
    for object in record["objects"].as_array().expect("objects") {
        assert_eq!(object["retention"]["mode"], "GOVERNANCE", "{object}");
        assert_eq!(object["retention"]["legal_hold"], "ON", "{object}");
        assert!(object["retention"]["retain_until"]
            .as_str()
            .expect("date")
            .starts_with("2099-01-01T00:00:00"));
    }
    // What Custos read back is what the store itself says, asked directly, for every
    // object under the prefix (not only those Custos lists).
    let held: Vec<String> = server.keys("locked").into_iter().filter(|k| k.starts_with("held/")).collect();
    assert_eq!(held.len(), record["objects"].as_array().expect("objects").len(), "{held:?}");
    for key in &held {
        let (mode, until, hold) = server.lock_state("locked", key);
        assert_eq!((mode.as_str(), hold.as_str()), ("GOVERNANCE", "ON"), "{key}");
        assert_eq!(until, 4_070_908_800, "{key}: retained until 2099-01-01T00:00:00Z");
    }
    let human = custos_s3(
        &server,
        d,
        &[
            "store",
            "push",
            "pkg",
            "s3://locked/compliance",
            "--retain-until",
            "2099-01-01",
            "--lock-mode",
            "compliance",
        ],
    );
    assert_eq!(human.code, 0, "{}{}", human.stdout, human.stderr);
    assert!(human.stdout.contains("retention COMPLIANCE until 2099-01-01"), "{}", human.stdout);
    // A mode without a date (and the reverse) is a usage error.
    let usage =
        custos_s3(&server, d, &["store", "push", "pkg", "s3://locked/x", "--lock-mode", "governance"]);
    support::assert_refused(&usage, "--retain-until");
}

#[test]
fn an_audit_of_a_store_names_exactly_the_damaged_packages() {
    let Some(server) = Seaweed::start() else { return };
    server.create_bucket("lab", false);
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "S3-A", 30_000);
    for n in 0..4 {
        let url = format!("s3://lab/store/case-{n}");
        let pushed = custos_s3(&server, d, &["store", "push", "pkg", &url]);
        assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    }
    let audit = |extra: &[&str]| {
        let mut args = vec!["audit", "s3://lab/store", "--trust", "rfc8032-test1.pub", "--json"];
        args.extend_from_slice(extra);
        custos_s3(&server, d, &args)
    };
    let clean = audit(&[]);
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert_eq!(json(&clean).pop().expect("summary")["pass"], 4);

    // One payload flipped, one deleted: exactly those two fail, each with its reason.
    let key = "store/case-1/data/disk.img";
    let mut bytes = server.get("lab", key);
    bytes[100] ^= 1;
    server.put("lab", key, bytes);
    server.delete("lab", "store/case-3/data/disk.img");
    let damaged = audit(&["--jobs", "2"]);
    assert_eq!(damaged.code, 1, "{}{}", damaged.stdout, damaged.stderr);
    let mut records = json(&damaged);
    let summary = records.pop().expect("summary");
    assert_eq!((summary["pass"].clone(), summary["fail"].clone()), (2.into(), 2.into()), "{summary}");
    let mut failed: Vec<(String, Vec<String>)> = records
        .iter()
        .filter(|r| r["verdict"] == "fail")
        .map(|r| {
            let checks = r["failures"]
                .as_array()
                .map(|f| f.iter().map(|f| f["check"].as_str().unwrap_or("").to_owned()).collect())
                .unwrap_or_default();
            (r["path"].as_str().unwrap_or("").to_owned(), checks)
        })
        .collect();
    failed.sort();
    assert_eq!(failed[0].0, "s3://lab/store/case-1");
    assert!(failed[0].1.contains(&"item.digest".to_owned()), "{failed:?}");
    assert_eq!(failed[1].0, "s3://lab/store/case-3");
    assert!(failed[1].1.contains(&"item.missing".to_owned()), "{failed:?}");

    // A bucket that does not exist is an error for that root, not a pass.
    let nowhere =
        custos_s3(&server, d, &["audit", "s3://no-such-bucket/x", "--trust", "rfc8032-test1.pub", "--json"]);
    support::assert_refused(&nowhere, "no-such-bucket");
}

#[test]
fn class6_operator_retention_on_a_bucket_without_object_lock_is_refused_before_any_upload() {
    let Some(server) = Seaweed::start() else { return };
    server.create_bucket("plain", false);
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "S3-L", 5_000);
    for extra in [&["--retain-until", "2099-01-01", "--lock-mode", "compliance"][..], &["--legal-hold"][..]] {
        let mut args = vec!["store", "push", "pkg", "s3://plain/held"];
        args.extend_from_slice(extra);
        let pushed = custos_s3(&server, d, &args);
        assert_eq!(pushed.code, 2, "{extra:?}: {}{}", pushed.stdout, pushed.stderr);
        assert!(
            pushed.stderr.contains("the bucket plain does not have Object Lock enabled")
                && pushed.stderr.contains("nothing was uploaded"),
            "{extra:?}: {}",
            pushed.stderr
        );
        assert_eq!(pushed.stderr.lines().count(), 1, "one sentence, no SDK dump: {}", pushed.stderr);
        assert!(
            server.keys("plain").is_empty(),
            "{extra:?}: no unprotected object left: {:?}",
            server.keys("plain")
        );
    }
    // Without protection asked for, the same bucket takes the package.
    let plain = custos_s3(&server, d, &["store", "push", "pkg", "s3://plain/held"]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
}

#[test]
fn class4_bounded_pull_checks_the_signed_manifest_first_and_fetches_only_what_it_lists() {
    let Some(server) = Seaweed::start() else { return };
    server.create_bucket("pulls", false);
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "S3-P", 20_000);
    let trust = ["--trust", "rfc8032-test1.pub"];
    let push = |name: &str| {
        let pushed = custos_s3(&server, d, &["store", "push", "pkg", &format!("s3://pulls/{name}")]);
        assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    };
    let pull = |name: &str, extra: &[&str]| {
        let mut args =
            vec!["store".to_owned(), "pull".to_owned(), format!("s3://pulls/{name}"), format!("{name}-copy")];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let pulled = custos_s3(&server, d, &args);
        assert!(!d.join(format!("{name}-copy")).exists(), "{name}: nothing is kept of a refused pull");
        pulled
    };

    // An object the manifest does not list, in the payload.
    push("extra");
    server.put("pulls", "extra/data/planted.bin", vec![0; 10_000]);
    let refused = pull("extra", &trust);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("data/planted.bin: an object in the payload that the signed manifest does not list"),
        "{}",
        refused.stderr
    );

    // The evidence object larger than its signed size.
    push("large");
    let mut bytes = server.get("pulls", "large/data/disk.img");
    bytes.extend(vec![0u8; 50_000]);
    server.put("pulls", "large/data/disk.img", bytes);
    let refused = pull("large", &trust);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("data/disk.img: 70000 bytes in the store, more than the 20000 bytes"),
        "{}",
        refused.stderr
    );

    // A manifest no trusted key signed: nothing fetched (the court's key is TEST 2's).
    push("untrusted");
    let refused = pull("untrusted", &["--trust", "rfc8032-test2.pub"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("the manifest has no valid signature by a trusted key"),
        "{}",
        refused.stderr
    );
    // A manifest edited in the store: refused even without --trust (the keys it ships).
    let manifest = String::from_utf8(server.get("pulls", "untrusted/custos/manifest.json")).expect("UTF-8");
    server.put("pulls", "untrusted/custos/manifest.json", manifest.replace("S3-P", "S3-Q").into_bytes());
    let refused = pull("untrusted", &[]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("no valid signature by a key the package ships"), "{}", refused.stderr);

    // The untouched package pulls and verifies.
    push("good");
    let pulled =
        custos_s3(&server, d, &["store", "pull", "s3://pulls/good", "good-copy", trust[0], trust[1]]);
    assert_eq!(pulled.code, 0, "{}{}", pulled.stdout, pulled.stderr);
}
