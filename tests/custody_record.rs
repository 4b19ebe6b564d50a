//! The custody record practice standards ask for (issue "The custody record that practice
//! standards ask for"): what happened to the physical exhibit before sealing, when each
//! event happened beside when it was signed, and the fields of a custody form.

mod support;

use std::path::Path;

use support::{copy_test_keys, custos_in, write, Run};

/// A time `days` from now (UTC), as `date` prints it.
fn days_ago(days: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("{} days", -days), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date");
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

fn sealed(d: &Path) {
    copy_test_keys(d);
    write(d, "phone.img", b"a phone image");
    let done = custos_in(
        d,
        &[
            "seal",
            "--key",
            "rfc8032-test1",
            "--case",
            "C-26",
            "--exhibit",
            "A-1",
            "--category",
            "content",
            "--out",
            "pkg",
            "phone.img",
        ],
    );
    assert_eq!(done.code, 0, "{}", done.stderr);
}

fn record(d: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["custody", "record", "pkg", "--key", "rfc8032-test1"];
    args.extend_from_slice(extra);
    custos_in(d, &args)
}

#[test]
fn the_exhibit_is_recorded_from_seizure_with_when_it_happened_and_the_custody_form() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed(d);
    let (seized, moved, arrived) = (days_ago(3), days_ago(2), days_ago(1));
    let ok = |extra: &[&str]| {
        let done = record(d, extra);
        assert_eq!(done.code, 0, "{extra:?}: {}", done.stderr);
    };
    ok(&[
        "--action",
        "seized",
        "--occurred-at",
        &seized,
        "--location",
        "Flat 3, 12 High St",
        "--seal-number",
        "EB-0042",
        "--condition",
        "screen cracked, powered off",
        "--exhibit",
        "A-1",
    ]);
    ok(&[
        "--action",
        "transported",
        "--occurred-at",
        &moved,
        "--seal-number",
        "EB-0042",
        "--condition",
        "seal intact",
    ]);
    ok(&[
        "--action",
        "received_at_lab",
        "--occurred-at",
        &arrived,
        "--storage",
        "locker 4",
        "--seal-number",
        "EB-0042",
    ]);
    ok(&["--action", "examined", "--exhibit", "A-1", "--storage", "locker 4"]);

    let log = custos_in(d, &["custody", "log", "pkg"]);
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert!(lines[1].contains("seized") && lines[1].contains("recorded 3.0 days later"), "{}", log.stdout);
    assert!(
        lines[1].contains("seal EB-0042, condition screen cracked, powered off, exhibit A-1"),
        "{}",
        log.stdout
    );
    assert!(lines[3].contains("stored in locker 4"), "{}", log.stdout);
    let verified = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--json"]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    let report: serde_json::Value = serde_json::from_str(verified.stdout.trim()).expect("JSON");
    let seizure = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == "custody.event" && f["subject"] == "event 1")
        .expect("event 1");
    let detail = seizure["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("seized by Ada Examiner at ")
            && detail.contains(&format!(", happened {}", seized.replace('Z', "+00:00"))),
        "{detail}"
    );
    assert!(detail.contains("(recorded 3.0 days later)"), "{detail}");

    // A policy that asks for the custody form's fields.
    let policy = r#"{"custos_policy":2,"id":"lab","jurisdiction":"GB","name":"Lab","effective_from":"2026-01-01",
        "custody":{"required_fields":{"seized":["seal_number","condition","occurred_at"],"examined":["exhibit","seal_number"]},"cite":"Lab procedure 4.2"}}"#;
    write(d, "lab.json", policy.as_bytes());
    let judged =
        custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--policy", "lab.json", "--json"]);
    let report: serde_json::Value = serde_json::from_str(judged.stdout.trim()).expect("JSON");
    let findings: Vec<(String, String)> = report["policies"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "custody.required_fields")
        .map(|f| {
            (
                f["verdict"].as_str().unwrap_or_default().to_owned(),
                f["evidence"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert_eq!(findings[0].0, "pass", "{findings:?}");
    assert_eq!(findings[1].0, "fail", "{findings:?}");
    assert!(findings[1].1.ends_with("does not record seal_number"), "{findings:?}");
    // Version 1 has no such rule: said with the fix.
    write(d, "v1.json", policy.replace("\"custos_policy\":2", "\"custos_policy\":1").as_bytes());
    let v1 = custos_in(d, &["policy", "check", "v1.json"]);
    support::assert_refused(&v1, "$.custody.required_fields: is a version 2 rule");
}

#[test]
fn when_it_happened_keeps_to_chronology() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed(d);
    support::assert_refused(
        &record(d, &["--action", "seized"]),
        "say when it happened with --occurred-at TIME",
    );
    support::assert_refused(
        &record(d, &["--action", "examined", "--occurred-at", &days_ago(2)]),
        "happened before the package was sealed: only seized, transported and received_at_lab may",
    );
    support::assert_refused(
        &record(d, &["--action", "seized", "--occurred-at", &days_ago(-2)]),
        "happened after it was signed",
    );
    assert_eq!(record(d, &["--action", "transported", "--occurred-at", &days_ago(2)]).code, 0);
    support::assert_refused(
        &record(d, &["--action", "seized", "--occurred-at", &days_ago(3)]),
        "happened before event 1, which is recorded before it",
    );
    support::assert_refused(
        &record(d, &["--action", "examined", "--occurred-at", "yesterday"]),
        "--occurred-at yesterday: not an RFC 3339 time",
    );
}

#[test]
fn notes_and_attachments_are_kept_with_their_digests_signed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed(d);
    write(d, "photo 1.jpg", b"\xff\xd8 a photo of the phone");
    write(d, "worksheet.txt", b"examined; nothing removed\n");
    let done = record(
        d,
        &[
            "--action",
            "examined",
            "--note",
            "photographed, opened",
            "--attach",
            "photo 1.jpg",
            "--attach",
            "worksheet.txt",
        ],
    );
    assert_eq!(done.code, 0, "{}", done.stderr);
    let log = custos_in(d, &["custody", "log", "pkg", "--json"]);
    let event: serde_json::Value =
        serde_json::from_str(log.stdout.lines().nth(1).expect("event 1")).expect("JSON");
    let attachments = event["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 2);
    let photo = attachments[0]["path"].as_str().expect("path").to_owned();
    assert!(photo.starts_with("custos/attachments/") && photo.ends_with("-photo_1.jpg"), "{photo}");
    assert_eq!(attachments[0]["sha256"], support::digest_hex("sha256", b"\xff\xd8 a photo of the phone"));
    let verify = || custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    let verified = verify();
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert!(verified.stdout.contains("pass  custody.attachment   2 checks"), "{}", verified.stdout);
    support::assert_refused(&record(d, &["--action", "examined", "--attach", "missing.jpg"]), "missing.jpg");
    support::assert_refused(
        &record(d, &["--action", "examined", "--attach", "worksheet.txt", "--attach", "worksheet.txt"]),
        "is attached twice",
    );

    // A file planted beside them is named; an attachment edited (and the tag manifests
    // recomputed by whoever holds the package) fails.
    let pkg = d.join("pkg");
    std::process::Command::new("chmod").arg("-R").arg("u+w").arg(&pkg).status().expect("chmod");
    write(&pkg, "custos/attachments/planted.txt", b"planted");
    support::recompute_tag_manifests(&pkg);
    let planted = verify();
    assert!(
        planted.stdout.contains(
            "WARN  package.unknown_file custos/attachments/planted.txt: an attachment no event names"
        ),
        "{}",
        planted.stdout
    );
    std::fs::write(pkg.join(&photo), b"another photo").expect("edit");
    support::recompute_tag_manifests(&pkg);
    let edited = verify();
    assert_eq!(edited.code, 1, "{}", edited.stdout);
    assert!(
        edited.stdout.contains("FAIL  custody.attachment") && edited.stdout.contains("the event signed"),
        "{}",
        edited.stdout
    );
}

#[test]
fn a_legal_hold_stops_disposal_and_a_policy_wants_it_witnessed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed(d);
    let bob = |extra: &[&str]| {
        let mut args = vec!["custody", "record", "pkg", "--key", "rfc8032-test2"];
        args.extend_from_slice(extra);
        custos_in(d, &args)
    };
    support::assert_refused(&bob(&["--action", "legal_hold"]), "a legal hold says why");
    support::assert_refused(&bob(&["--action", "legal_hold", "--note", " "]), "a legal hold says why");
    assert_eq!(bob(&["--action", "legal_hold", "--note", "civil proceedings pending"]).code, 0);
    support::assert_refused(
        &record(d, &["--action", "destroyed"]),
        "while the evidence is on legal hold (event 1, placed by Bob Custodian)",
    );
    support::assert_refused(
        &record(d, &["--action", "hold_lifted"]),
        "only Bob Custodian, who placed the hold at event 1, may lift it",
    );
    assert_eq!(bob(&["--action", "hold_lifted"]).code, 0);
    assert_eq!(record(d, &["--action", "destroyed"]).code, 0);
    support::assert_refused(
        &record(d, &["--action", "examined"]),
        "the evidence was destroyed at event 3; only accessed and witnessed may follow",
    );
    support::assert_refused(&record(d, &["--action", "witnessed"]), "a witness is a second principal");

    // The package still holds the bytes: said, not failed (a package from 0.2 may).
    let trust = ["--trust", "rfc8032-test1.pub", "--trust", "rfc8032-test2.pub"];
    let verified = custos_in(d, &[&["verify", "pkg"][..], &trust[..]].concat());
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert!(
        verified.stdout.contains("WARN  custody.destroyed")
            && verified.stdout.contains("its bytes are still in the package"),
        "{}",
        verified.stdout
    );

    let policy = r#"{"custos_policy":2,"id":"lab","jurisdiction":"GB","name":"Lab","effective_from":"2026-01-01",
        "signatures":{"trusted_keys":[
          {"key_id":"21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9","principal":"Ada","roles":["examiner"]},
          {"key_id":"39f713d0a644253f04529421b9f51b9b08979d08295959c4f3990ee617f5139f","principal":"Bob","roles":["evidence_custodian"]}],"cite":"c"},
        "retention":{"min_days":{"content":30},"disposal_witnesses":1,"cite":"Lab procedure 9"}}"#;
    write(d, "lab.json", policy.as_bytes());
    let judge = || {
        let run =
            custos_in(d, &[&["verify", "pkg", "--policy", "lab.json", "--json"][..], &trust[..]].concat());
        let report: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
        report["policies"][0]["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["rule"] == "retention.disposal_witnesses")
            .map(|f| {
                (
                    f["verdict"].as_str().unwrap_or_default().to_owned(),
                    f["evidence"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let unwitnessed = judge();
    assert_eq!(unwitnessed[0].0, "fail", "{unwitnessed:?}");
    assert!(
        unwitnessed[0].1.ends_with("witnessed by 0 other principal(s) these rules trust; 1 required"),
        "{unwitnessed:?}"
    );
    assert_eq!(bob(&["--action", "witnessed"]).code, 0);
    let witnessed = judge();
    assert_eq!(witnessed[0].0, "pass", "{witnessed:?}");
    assert!(witnessed[0].1.ends_with("witnessed by Bob"), "{witnessed:?}");
    support::assert_refused(&bob(&["--action", "witnessed"]), "Bob Custodian witnessed event 3 already");
    // Destroyed the day it was sealed: content must be kept 30 days first.
    let run = custos_in(d, &[&["verify", "pkg", "--policy", "lab.json", "--json"][..], &trust[..]].concat());
    let report: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
    let kept = report["policies"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "retention.min_days")
        .expect("a min_days finding");
    assert_eq!(kept["verdict"], "fail");
    assert!(
        kept["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("disposed of after 0.0 days; it must be kept at least 30")),
        "{kept}"
    );
}

#[test]
fn verify_and_report_record_each_access_when_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed(d);
    let verified = custos_in(
        d,
        &[
            "verify",
            "pkg",
            "--trust",
            "rfc8032-test1.pub",
            "--record-access",
            "--key",
            "rfc8032-test2",
            "--json",
        ],
    );
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
    assert_eq!(verified.stdout.lines().count(), 1, "the JSON record stays one line");
    assert!(
        verified
            .stderr
            .contains("recorded this access as event 1 of the custody log (signed by Bob Custodian)"),
        "{}",
        verified.stderr
    );
    let made = custos_in(
        d,
        &[
            "report",
            "pkg",
            "--trust",
            "rfc8032-test1.pub",
            "--trust",
            "rfc8032-test2.pub",
            "--out",
            "r.html",
            "--record-access",
            "--key",
            "rfc8032-test2",
        ],
    );
    assert_eq!(made.code, 0, "{}{}", made.stdout, made.stderr);
    let log = custos_in(d, &["custody", "log", "pkg", "--json"]);
    let events: Vec<serde_json::Value> =
        log.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(events[1]["action"], "accessed");
    assert!(
        events[1]["note"]
            .as_str()
            .is_some_and(|n| n.starts_with("custos verify: ") && n.contains("VERIFIED")),
        "{}",
        events[1]
    );
    assert_eq!(events[2]["action"], "accessed");
    let html = std::fs::read(d.join("r.html")).expect("report");
    let digest = support::digest_hex("sha256", &html);
    assert!(
        events[2]["note"].as_str().is_some_and(|n| n.starts_with("custos report: ") && n.contains(&digest)),
        "{}",
        events[2]
    );
    let exported = custos_in(
        d,
        &["export", "case", "pkg", "--out", "pkg.jsonld", "--record-access", "--key", "rfc8032-test2"],
    );
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let log = custos_in(d, &["custody", "log", "pkg", "--json"]);
    let last: serde_json::Value =
        serde_json::from_str(log.stdout.lines().last().expect("an event")).expect("JSON");
    let graph = std::fs::read(d.join("pkg.jsonld")).expect("export");
    assert_eq!(last["action"], "accessed");
    assert_eq!(
        last["note"],
        format!("custos export case: wrote pkg.jsonld (SHA-256 {})", support::digest_hex("sha256", &graph))
    );
    // Asked without a key, or for a package in an object store: a mistake, said before any work.
    let keyless = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--record-access"]);
    assert_eq!(keyless.code, 2);
    assert!(keyless.stderr.contains("--key"), "{}", keyless.stderr);
    support::assert_refused(
        &custos_in(
            d,
            &[
                "verify",
                "s3://bucket/pkg",
                "--trust",
                "rfc8032-test1.pub",
                "--record-access",
                "--key",
                "rfc8032-test2",
            ],
        ),
        "which is not done in an object store",
    );
}

#[test]
fn blank_form_fields_are_mistakes_and_an_interrupted_attachment_is_cleaned_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed(d);
    for flag in ["--seal-number", "--condition", "--storage", "--exhibit"] {
        support::assert_refused(
            &record(d, &["--action", "examined", flag, "  "]),
            &format!("{flag} is empty"),
        );
    }
    // What a custody command killed between writing an attachment and appending its event
    // leaves: a file named by its digest that no event names. A warning, then removed by the
    // next custody command, which then verifies clean.
    let pkg = d.join("pkg");
    std::process::Command::new("chmod").arg("-R").arg("u+w").arg(&pkg).status().expect("chmod");
    let bytes = b"a photo never recorded";
    let name = format!("{}-photo.jpg", &support::digest_hex("sha256", bytes)[..16]);
    write(&pkg, format!("custos/attachments/{name}"), bytes);
    let verify = || custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    let left = verify();
    assert_eq!(left.code, 0, "{}", left.stdout);
    assert!(
        left.stdout.contains(&format!("WARN  package.interrupted_write custos/attachments/{name}")),
        "{}",
        left.stdout
    );
    assert_eq!(record(d, &["--action", "examined"]).code, 0);
    assert!(!pkg.join("custos/attachments").join(&name).exists(), "removed");
    let clean = verify();
    assert!(clean.stdout.contains("VERIFIED (") && !clean.stdout.contains("WARN"), "{}", clean.stdout);
}

#[test]
fn every_event_names_the_build_that_signed_it_and_a_lab_approves_builds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed(d);
    assert_eq!(record(d, &["--action", "examined"]).code, 0);
    let log = custos_in(d, &["custody", "log", "pkg", "--json"]);
    let events: Vec<serde_json::Value> =
        log.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let program = std::fs::read(env!("CARGO_BIN_EXE_custos")).expect("the program");
    for event in &events {
        assert_eq!(event["tool"]["name"], "custos");
        assert_eq!(event["tool"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            event["tool"]["binary_sha256"],
            support::digest_hex("sha256", &program),
            "the running program's digest"
        );
    }
    let judge = |approved: &str| {
        let policy = format!(
            r#"{{"custos_policy":2,"id":"lab","jurisdiction":"GB","name":"Lab","effective_from":"2026-01-01","tools":{{"approved":[{approved}],"cite":"validation record 7"}}}}"#
        );
        write(d, "lab.json", policy.as_bytes());
        let run = custos_in(
            d,
            &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--policy", "lab.json", "--json"],
        );
        let report: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
        report["policies"][0]["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["rule"] == "tools.approved")
            .map(|f| {
                (
                    f["verdict"].as_str().unwrap_or_default().to_owned(),
                    f["evidence"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let by_version = judge(&format!("\"{}\"", env!("CARGO_PKG_VERSION")));
    assert!(by_version.len() == 2 && by_version.iter().all(|(v, _)| v == "pass"), "{by_version:?}");
    let by_digest = judge(&format!("\"{}\"", support::digest_hex("sha256", &program)));
    assert!(by_digest.iter().all(|(v, _)| v == "pass"), "{by_digest:?}");
    let other = judge("\"9.9.9\"");
    assert!(other.iter().all(|(v, e)| v == "fail" && e.ends_with("approved: 9.9.9")), "{other:?}");
}
