//! `custos audit`: a store with a few damaged packages names exactly those and why; an
//! interrupted audit resumes; unchanged packages are checked fast between full checks;
//! shards split a store; the ledger verifies and names an edited entry; faults are reported
//! and the audit goes on.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{custos_in, noise, write, Run};

/// A store of `count` sealed packages, `store/case-N`, with the RFC 8032 test keys in `dir`.
fn store(dir: &Path, count: usize) {
    support::copy_test_keys(dir);
    std::fs::create_dir_all(dir.join("store/2026")).expect("mkdir");
    for n in 0..count {
        let evidence = format!("evidence-{n}.img");
        write(dir, &evidence, &noise(50_000 + n * 1000, n as u64));
        let out = format!("store/2026/case-{n}");
        let case = format!("CASE-{n}");
        let sealed = custos_in(
            dir,
            &["seal", "--key", "rfc8032-test1", "--case", &case, "--out", &out, "--quiet", &evidence],
        );
        assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    }
}

fn records(run: &Run) -> (Vec<Value>, Value) {
    let mut lines: Vec<Value> =
        run.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let summary = lines.pop().expect("a summary line");
    assert_eq!(summary["summary"], true, "{summary}");
    (lines, summary)
}

/// Another case's package put in case-0's place: a copy of case-1 (which verifies on its own).
fn replace_case_0_by_a_copy_of_case_1(d: &Path) {
    let case0 = d.join("store/2026/case-0");
    let writable = std::process::Command::new("chmod").arg("-R").arg("u+w").arg(&case0).status();
    assert!(writable.expect("chmod").success());
    std::fs::remove_dir_all(&case0).expect("remove");
    let copied =
        std::process::Command::new("cp").arg("-a").arg(d.join("store/2026/case-1")).arg(&case0).status();
    assert!(copied.expect("cp").success());
}

fn audit(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["audit", "store", "--trust", "rfc8032-test1.pub", "--json"];
    args.extend_from_slice(extra);
    custos_in(dir, &args)
}

fn verdicts(packages: &[Value]) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = packages
        .iter()
        .map(|p| {
            (p["path"].as_str().unwrap_or("").to_owned(), p["verdict"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    found.sort();
    found
}

fn checks(record: &Value) -> Vec<String> {
    record["failures"]
        .as_array()
        .map_or(Vec::new(), |f| f.iter().map(|f| f["check"].as_str().unwrap_or("").to_owned()).collect())
}

#[test]
fn an_audit_names_exactly_the_damaged_packages_and_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 6);
    let clean = audit(d, &[]);
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    let (packages, summary) = records(&clean);
    assert_eq!(packages.len(), 6);
    assert_eq!(summary["pass"], 6);
    for key in ["path", "case", "verdict", "failures", "bytes", "seconds", "head", "holder"] {
        assert!(packages[0].get(key).is_some(), "{key} missing: {}", packages[0]);
    }
    assert_eq!(packages[0]["holder"]["name"], "Ada Examiner");

    // Four kinds of damage in four packages; two stay intact.
    support::flip_bit(&d.join("store/2026/case-1/data/evidence-1.img"), 4000);
    let truncated = d.join("store/2026/case-2/data/evidence-2.img");
    let bytes = std::fs::read(&truncated).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1]).expect("truncate");
    write(&d.join("store/2026/case-3/data"), "planted.txt", b"not evidence");
    let log = d.join("store/2026/case-4/custos/custody.jsonl");
    let mut text = std::fs::read(&log).expect("read");
    text.insert(10, b' ');
    std::fs::write(&log, text).expect("write");

    let damaged = audit(d, &[]);
    assert_eq!(damaged.code, 1, "{}{}", damaged.stdout, damaged.stderr);
    let (packages, summary) = records(&damaged);
    let by_path = |n: usize| {
        packages
            .iter()
            .find(|p| p["path"].as_str().is_some_and(|s| s.ends_with(&format!("case-{n}"))))
            .unwrap_or_else(|| panic!("case-{n} not reported"))
    };
    assert_eq!((summary["pass"].clone(), summary["fail"].clone()), (2.into(), 4.into()), "{summary}");
    for intact in [0, 5] {
        assert_eq!(by_path(intact)["verdict"], "pass");
    }
    assert!(checks(by_path(1)).contains(&"item.digest".to_owned()), "{}", by_path(1));
    assert!(checks(by_path(2)).contains(&"item.size".to_owned()), "{}", by_path(2));
    assert!(checks(by_path(3)).contains(&"manifest.coverage".to_owned()), "{}", by_path(3));
    assert!(
        checks(by_path(4)).iter().any(|c| c.starts_with("custody.") || c.starts_with("bag.tag")),
        "{}",
        by_path(4)
    );

    // The human report names them too, and says the audit failed.
    let text = custos_in(d, &["audit", "store", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(text.code, 1);
    assert!(text.stdout.contains("FAIL  store/2026/case-1"), "{}", text.stdout);
    assert!(text.stdout.contains("FAILED: some packages did not verify"), "{}", text.stdout);
}

#[test]
fn an_untrusted_signer_fails_every_package() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 2);
    let run = custos_in(d, &["audit", "store", "--trust", "rfc8032-test2.pub", "--json"]);
    assert_eq!(run.code, 1);
    let (packages, _) = records(&run);
    assert!(packages
        .iter()
        .all(|p| p["verdict"] == "fail" && checks(p).contains(&"trust.signer".to_owned())));
}

#[test]
fn an_interrupted_audit_resumes_without_losing_a_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 5);
    let first = audit(d, &["--state", "audit.state"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // Killed after three results: the run's end and its last two results never written.
    let state = d.join("audit.state");
    let text = std::fs::read_to_string(&state).expect("state");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.last().is_some_and(|l| l.contains("\"finished\"")), "{text}");
    let kept = &lines[..lines.len() - 3];
    std::fs::write(&state, kept.join("\n") + "\n{\"record\":\"package\",\"ru").expect("cut");

    let resumed = audit(d, &["--state", "audit.state"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let (packages, summary) = records(&resumed);
    assert_eq!(summary["resumed"], true, "{summary}");
    assert_eq!(summary["already_checked"], 3);
    assert_eq!(summary["packages"], 5, "the verdict covers what was checked before the interruption too");
    assert_eq!(packages.len(), 2, "only what the interrupted run had not checked (and no earlier failure)");
    // Packages are checked in parallel, so results come in the order checks finish: the
    // same two packages, in either order.
    let first_paths: Vec<String> = records(&first).0.iter().map(|p| p["path"].to_string()).collect();
    let mut again: Vec<String> = packages.iter().map(|p| p["path"].to_string()).collect();
    let mut cut = first_paths[3..].to_vec();
    again.sort();
    cut.sort();
    assert_eq!(again, cut);

    // That run finished: the next one starts afresh.
    let next = audit(d, &["--state", "audit.state", "--fast"]);
    let (packages, summary) = records(&next);
    assert_eq!((summary["resumed"].clone(), packages.len()), (false.into(), 5));
}

#[test]
fn unchanged_packages_are_checked_fast_until_a_full_check_is_due() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 3);
    let first = audit(d, &["--state", "s"]);
    let (_, summary) = records(&first);
    assert_eq!((summary["full"].clone(), summary["fast"].clone()), (3.into(), 0.into()));
    let second = audit(d, &["--state", "s"]);
    let (packages, summary) = records(&second);
    assert_eq!((summary["full"].clone(), summary["fast"].clone()), (0.into(), 3.into()), "{summary}");
    assert!(packages.iter().all(|p| p["bytes"] == 0 && p["mode"] == "fast"));

    // A package written to since (a custody event) is checked in full again.
    let recorded = custos_in(
        d,
        &["custody", "record", "store/2026/case-1", "--key", "rfc8032-test1", "--action", "accessed"],
    );
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    // The payload damaged in place with its times put back: a fast check cannot see it,
    // but the changed ctime makes the package due for a full one.
    let damaged = d.join("store/2026/case-2/data/evidence-2.img");
    let modified = std::fs::metadata(&damaged).and_then(|m| m.modified()).expect("mtime");
    support::flip_bit(&damaged, 100);
    std::fs::File::options()
        .write(true)
        .open(&damaged)
        .and_then(|f| f.set_modified(modified))
        .expect("set mtime");
    let third = audit(d, &["--state", "s"]);
    assert_eq!(third.code, 1, "{}", third.stdout);
    let (packages, _) = records(&third);
    let mode = |n: usize| {
        packages.iter().find(|p| p["path"].as_str().is_some_and(|s| s.ends_with(&format!("case-{n}")))).map(
            |p| (p["mode"].as_str().unwrap_or("").to_owned(), p["verdict"].as_str().unwrap_or("").to_owned()),
        )
    };
    assert_eq!(mode(0), Some(("fast".into(), "pass".into())));
    assert_eq!(mode(1), Some(("full".into(), "pass".into())));
    assert_eq!(mode(2), Some(("full".into(), "fail".into())));
    // A failed package is checked in full every time until it passes.
    let fourth = audit(d, &["--state", "s"]);
    let (packages, _) = records(&fourth);
    assert!(packages.iter().any(|p| p["mode"] == "full" && p["verdict"] == "fail"));
    // --full-every 0: everything is due.
    let (_, summary) = records(&audit(d, &["--state", "s", "--full-every", "0"]));
    assert_eq!(summary["full"], 3, "{summary}");
}

#[test]
fn shards_split_a_store_into_disjoint_parts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 7);
    let mut seen = Vec::new();
    for index in 0..3 {
        let shard = format!("{index}/3");
        let run = audit(d, &["--shard", &shard, "--fast"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let (packages, summary) = records(&run);
        assert_eq!(summary["shard"], shard.as_str());
        seen.extend(verdicts(&packages));
    }
    seen.sort();
    let (all, _) = records(&audit(d, &["--fast"]));
    assert_eq!(seen, verdicts(&all), "every package in exactly one shard");
    let bad = custos_in(d, &["audit", "store", "--shard", "3/3", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--shard 3/3"), "{}", bad.stderr);
}

#[test]
fn the_ledger_verifies_and_names_an_edited_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 3);
    support::flip_bit(&d.join("store/2026/case-1/data/evidence-1.img"), 10);
    for _ in 0..2 {
        let run = audit(d, &["--ledger", "audit.ledger", "--key", "rfc8032-test2"]);
        assert_eq!(run.code, 1, "{}", run.stderr);
    }
    let verify = |extra: &[&str]| {
        let mut args =
            vec!["audit", "ledger", "verify", "audit.ledger", "--trust", "rfc8032-test2.pub", "--json"];
        args.extend_from_slice(extra);
        custos_in(d, &args)
    };
    let good = verify(&[]);
    assert_eq!(good.code, 0, "{}{}", good.stdout, good.stderr);
    let record: Value = serde_json::from_str(good.stdout.trim()).expect("json");
    assert_eq!(record["entries"], 6);
    assert_eq!(record["verdicts"]["fail"], 2);
    let head = record["head"].as_str().expect("head").to_owned();

    // The examiner's key does not vouch for the auditor's ledger.
    let stranger =
        custos_in(d, &["audit", "ledger", "verify", "audit.ledger", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(stranger.code, 1);

    // A failure turned into a pass.
    let ledger = d.join("audit.ledger");
    let original = std::fs::read_to_string(&ledger).expect("ledger");
    let lines: Vec<&str> = original.lines().collect();
    let line = lines.iter().position(|l| l.contains("\\\"fail\\\"")).expect("a failing entry");
    let mut edited: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    edited[line] = edited[line].replace("\\\"fail\\\"", "\\\"pass\\\"");
    std::fs::write(&ledger, edited.join("\n") + "\n").expect("write");
    let caught = verify(&[]);
    assert_eq!(caught.code, 1, "{}", caught.stdout);
    let record: Value = serde_json::from_str(caught.stdout.trim()).expect("json");
    assert_eq!(record["problems"][0]["line"], line + 1, "{record}");

    // Entries cut off the end: only a kept head shows it.
    std::fs::write(&ledger, lines[..4].join("\n") + "\n").expect("write");
    assert_eq!(verify(&[]).code, 0);
    let cut = verify(&["--head", &head]);
    assert_eq!(cut.code, 1, "{}", cut.stdout);
    assert!(cut.stdout.contains("cut off"), "{}", cut.stdout);
}

#[test]
fn faults_are_reported_and_the_audit_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 3);
    // A seal in progress is not audited but named; a package whose payload is a FIFO is
    // refused without hanging; a root with no package is an error, not a silent pass.
    std::fs::create_dir_all(d.join("store/2026/.case-9.custos-partial-42/custos")).expect("mkdir");
    std::fs::write(d.join("store/2026/.case-9.custos-partial-42/custos/manifest.json"), b"{").expect("write");
    let payload = d.join("store/2026/case-0/data/evidence-0.img");
    std::fs::remove_file(&payload).expect("rm");
    let made = std::process::Command::new("mkfifo").arg(&payload).status().expect("mkfifo");
    assert!(made.success());
    std::fs::create_dir_all(d.join("empty")).expect("mkdir");
    let run = support::run_with_deadline(
        d,
        &["audit", "store", "empty", "--trust", "rfc8032-test1.pub", "--json"],
        std::time::Duration::from_secs(60),
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let (packages, summary) = records(&run);
    assert_eq!(summary["being_sealed"].as_array().map(Vec::len), Some(1), "{summary}");
    // The partial seal is an error too: renaming a package to look like one must not hide it.
    assert_eq!(
        (summary["pass"].clone(), summary["fail"].clone(), summary["error"].clone()),
        (2.into(), 1.into(), 2.into())
    );
    let empty = packages.iter().find(|p| p["path"] == "empty").expect("the empty root reported");
    assert_eq!(empty["verdict"], "error");
    assert!(empty["failures"][0]["reason"].as_str().is_some_and(|r| r.contains("mounted")));
}

#[test]
fn packages_that_vanish_or_change_during_the_audit_do_not_stop_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 12);
    // Another process keeps moving one package away and back while the audit runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mover = {
        let (stop, from, to) = (stop.clone(), d.join("store/2026/case-5"), d.join("moved-away"));
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::rename(&from, &to);
                std::thread::sleep(std::time::Duration::from_millis(1));
                let _ = std::fs::rename(&to, &from);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    };
    // Runs until one audit met the package moving (not found, or an error), at least three.
    let mut disrupted = 0;
    let mut runs = 0;
    while runs < 3 || (disrupted == 0 && runs < 20) {
        runs += 1;
        let run = audit(d, &["--jobs", "2"]);
        let (packages, summary) = records(&run);
        // Whatever the timing: every other package is there and passes (an audit that
        // stopped early or dropped one would fail here), the moving one is pass or error
        // (never a false fail), and the exit status agrees with the summary.
        let found = verdicts(&packages);
        for n in (0..12).filter(|n| *n != 5) {
            let name = format!("case-{n}");
            assert!(
                found.iter().any(|(path, verdict)| path.ends_with(&name) && verdict == "pass"),
                "run {runs}: {name} passes: {found:?}"
            );
        }
        let moving: Vec<&String> = found
            .iter()
            .filter(|(path, _)| path.ends_with("case-5") || path == "store")
            .map(|(_, v)| v)
            .collect();
        assert!(moving.iter().all(|v| *v == "pass" || *v == "error"), "run {runs}: {moving:?}");
        disrupted += usize::from(!moving.contains(&&"pass".to_owned()));
        let expected = if summary["error"] == 0 { 0 } else { 2 };
        assert_eq!(run.code, expected, "{summary}");
    }
    assert!(
        disrupted > 0,
        "in {runs} audits the moving package was never caught moving: the race never happened"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    mover.join().expect("mover");
}

#[test]
fn receipts_hold_each_package_to_its_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 2);
    std::fs::create_dir_all(d.join("receipts")).expect("mkdir");
    let recorded = custos_in(
        d,
        &[
            "custody",
            "record",
            "store/2026/case-0",
            "--key",
            "rfc8032-test1",
            "--action",
            "accessed",
            "--receipt",
            "receipts/case-0.json",
        ],
    );
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    assert_eq!(audit(d, &["--receipts", "receipts"]).code, 0);
    // The holder drops the last event: alone the log is still valid; the receipt catches it.
    let log = d.join("store/2026/case-0/custos/custody.jsonl");
    let text = std::fs::read_to_string(&log).expect("log");
    let kept: Vec<&str> = text.lines().collect();
    std::fs::write(&log, kept[..kept.len() - 1].join("\n") + "\n").expect("write");
    support::recompute_tag_manifests(&d.join("store/2026/case-0"));
    let alone = audit(d, &[]);
    assert_eq!(alone.code, 0, "without the receipt the shorter log verifies: {}", alone.stdout);
    let run = audit(d, &["--receipts", "receipts"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let (packages, _) = records(&run);
    let failing = packages.iter().find(|p| p["verdict"] == "fail").expect("a failure");
    assert!(failing["path"].as_str().is_some_and(|p| p.ends_with("case-0")));
}

#[test]
fn a_resumed_run_keeps_the_failures_found_before_the_interruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 3);
    support::flip_bit(&d.join("store/2026/case-0/data/evidence-0.img"), 7);
    let first = audit(d, &["--state", "s", "--jobs", "1"]);
    assert_eq!(first.code, 1);
    // Killed after the first result (the damaged package).
    let state = d.join("s");
    let text = std::fs::read_to_string(&state).expect("state");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].contains("case-0") && lines[1].contains("\"fail\""), "{text}");
    std::fs::write(&state, lines[..2].join("\n") + "\n").expect("cut");
    let resumed = audit(d, &["--state", "s", "--jobs", "1"]);
    assert_eq!(resumed.code, 1, "an earlier failure is not forgotten: {}", resumed.stdout);
    let (packages, summary) = records(&resumed);
    assert_eq!((summary["fail"].clone(), summary["packages"].clone()), (1.into(), 3.into()), "{summary}");
    assert!(
        packages.iter().any(|p| p["verdict"] == "fail" && checks(p) == ["audit.earlier"]),
        "{packages:?}"
    );
}

#[test]
fn packages_that_disappear_or_are_made_unrecognisable_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 4);
    assert_eq!(audit(d, &["--state", "s"]).code, 0);
    // One deleted, one renamed to look like a seal in progress, one whose manifest became
    // a FIFO: each is reported, none silently dropped.
    std::fs::remove_dir_all(d.join("store/2026/case-1")).expect("rm");
    std::fs::rename(d.join("store/2026/case-2"), d.join("store/2026/.case-2.custos-partial-1")).expect("mv");
    let manifest = d.join("store/2026/case-3/custos/manifest.json");
    std::fs::remove_file(&manifest).expect("rm");
    assert!(std::process::Command::new("mkfifo").arg(&manifest).status().expect("mkfifo").success());
    let run = support::run_with_deadline(
        d,
        &["audit", "store", "--trust", "rfc8032-test1.pub", "--state", "s", "--json"],
        std::time::Duration::from_secs(60),
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    let (packages, summary) = records(&run);
    assert_eq!(summary["pass"], 1, "{summary}");
    let failed: Vec<Vec<String>> = packages.iter().filter(|p| p["verdict"] == "error").map(checks).collect();
    assert!(failed.iter().any(|c| c == &["audit.missing".to_owned()]), "{failed:?}");
    assert_eq!(failed.iter().filter(|c| c[0] == "audit.discover").count(), 2, "{failed:?}");
}

#[test]
fn strict_audits_with_state_do_not_fail_their_fast_nights() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 2);
    for night in 0..3 {
        let run = audit(d, &["--state", "s", "--strict"]);
        assert_eq!(run.code, 0, "night {night}: {}", run.stdout);
    }
}

/// Class 2 (an audit remembers what it saw): a case's folder replaced by a copy of another
/// case's package verifies on its own; the audit that passed the original there fails it,
/// on every later run too, and the original's receipt that nothing answers is reported.
#[test]
fn class2_memory_a_package_replaced_by_another_fails_and_its_receipt_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 2);
    std::fs::create_dir_all(d.join("receipts")).expect("mkdir");
    let recorded = custos_in(
        d,
        &["custody", "record", "store/2026/case-0", "--key", "rfc8032-test1", "--action", "accessed"],
    );
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    let receipt = custos_in(d, &["custody", "receipt", "store/2026/case-0", "--out", "receipts/case-0.json"]);
    assert_eq!(receipt.code, 0, "{}", receipt.stderr);
    let first = audit(d, &["--state", "audit.state", "--receipts", "receipts"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);

    replace_case_0_by_a_copy_of_case_1(d);
    let alone = custos_in(d, &["verify", "store/2026/case-0", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(alone.code, 0, "the copy verifies on its own: {}", alone.stdout);

    for night in 0..2 {
        let run = audit(d, &["--state", "audit.state", "--receipts", "receipts"]);
        assert_eq!(run.code, 1, "night {night}: {}", run.stdout);
        let (packages, summary) = records(&run);
        let replaced = packages
            .iter()
            .find(|p| p["path"].as_str().is_some_and(|p| p.ends_with("case-0")))
            .expect("case-0 reported");
        assert_eq!(replaced["verdict"], "fail", "night {night}: {replaced}");
        assert!(checks(replaced).contains(&"audit.replaced".to_owned()), "night {night}: {replaced}");
        let unused = packages
            .iter()
            .find(|p| checks(p) == ["audit.receipt_unused"])
            .unwrap_or_else(|| panic!("night {night}: the unused receipt is reported: {packages:?}"));
        assert!(unused["path"].as_str().is_some_and(|p| p.ends_with("receipts/case-0.json")), "{unused}");
        assert_eq!(summary["fail"], 2, "night {night}: {summary}");
    }
}

/// Red team (round 3): the audit's memory was keyed by the root as spelled, so a package
/// replaced after an audit of `store` passed an audit of `./store` or `/abs/store`. Every
/// spelling is one name now, and a state written with the old names keeps its memory.
#[test]
fn class2_memory_holds_however_the_store_is_spelled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 2);
    let first = audit(d, &["--state", "audit.state"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    // The state as 0.2 wrote it: packages named as the root was spelled.
    let state = std::fs::read_to_string(d.join("audit.state")).expect("state");
    let real = std::fs::canonicalize(d.join("store")).expect("real path");
    let legacy = state.replace(&format!("\"package\":\"{}/", real.display()), "\"package\":\"store/");
    assert!(legacy.contains("\"package\":\"store/2026/case-0\""), "{legacy}");
    std::fs::write(d.join("legacy.state"), legacy).expect("write");

    replace_case_0_by_a_copy_of_case_1(d);

    let absolute = real.display().to_string();
    for (state, root) in [
        ("audit.state", "./store"),
        ("audit.state", absolute.as_str()),
        ("audit.state", "store/2026/.."),
        ("legacy.state", "./store"),
    ] {
        let run = custos_in(d, &["audit", root, "--trust", "rfc8032-test1.pub", "--json", "--state", state]);
        assert_eq!(run.code, 1, "{state} {root}: {}", run.stdout);
        let (packages, _) = records(&run);
        let replaced = packages
            .iter()
            .find(|p| p["path"].as_str().is_some_and(|p| p.ends_with("case-0")))
            .unwrap_or_else(|| panic!("{state} {root}: case-0 reported: {}", run.stdout));
        assert!(checks(replaced).contains(&"audit.replaced".to_owned()), "{state} {root}: {replaced}");
        assert!(
            !packages.iter().any(|p| checks(p).contains(&"audit.missing".to_owned())),
            "{state} {root}: nothing is missing under another spelling: {}",
            run.stdout
        );
    }
}

/// Class 2: the last custody event dropped between two audits (the holder silently goes
/// back) fails `audit.rollback`; another event put in its place fails `audit.fork`.
#[test]
fn class2_memory_events_dropped_or_replaced_since_the_last_audit_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 1);
    let record = |action: &str| {
        let run = custos_in(
            d,
            &["custody", "record", "store/2026/case-0", "--key", "rfc8032-test1", "--action", action],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
    };
    record("accessed");
    assert_eq!(audit(d, &["--state", "audit.state"]).code, 0);
    let log = d.join("store/2026/case-0/custos/custody.jsonl");
    let genuine = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = genuine.lines().collect();
    let drop_last = || {
        std::fs::write(&log, lines[..lines.len() - 1].join("\n") + "\n").expect("write");
        support::recompute_tag_manifests(&d.join("store/2026/case-0"));
    };
    drop_last();
    assert_eq!(
        custos_in(d, &["verify", "store/2026/case-0", "--trust", "rfc8032-test1.pub"]).code,
        0,
        "the shorter log verifies on its own"
    );
    let rolled_back = audit(d, &["--state", "audit.state"]);
    assert_eq!(rolled_back.code, 1, "{}", rolled_back.stdout);
    let (packages, _) = records(&rolled_back);
    assert!(checks(&packages[0]).contains(&"audit.rollback".to_owned()), "{}", packages[0]);
    assert!(packages[0]["failures"].to_string().contains("events were removed since"), "{}", packages[0]);
    // Another event where the dropped one was.
    record("examined");
    let forked = audit(d, &["--state", "audit.state"]);
    assert_eq!(forked.code, 1, "{}", forked.stdout);
    let (packages, _) = records(&forked);
    assert!(checks(&packages[0]).contains(&"audit.fork".to_owned()), "{}", packages[0]);
    // The log put back as it was passes again, and it may grow.
    std::fs::write(&log, &genuine).expect("restore");
    support::recompute_tag_manifests(&d.join("store/2026/case-0"));
    assert_eq!(audit(d, &["--state", "audit.state"]).code, 0);
    record("accessed");
    assert_eq!(audit(d, &["--state", "audit.state"]).code, 0, "a longer log holds what was seen");
}

/// Class 1 (unsigned files decide nothing): a resumed run repeats an earlier result only for
/// a package whose files have not changed since; a changed one is checked again.
#[test]
fn class1_unsigned_a_resumed_audit_checks_again_what_changed_since() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 3);
    let first = audit(d, &["--state", "audit.state", "--jobs", "1"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // The run's end removed: it looks interrupted after all three results.
    let state = d.join("audit.state");
    let text = std::fs::read_to_string(&state).expect("state");
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains("\"finished\"")).collect();
    std::fs::write(&state, kept.join("\n") + "\n").expect("write");
    support::flip_bit(&d.join("store/2026/case-1/data/evidence-1.img"), 100);
    let resumed = audit(d, &["--state", "audit.state", "--jobs", "1"]);
    assert_eq!(resumed.code, 1, "the changed package is not passed from the state: {}", resumed.stdout);
    let (packages, summary) = records(&resumed);
    assert_eq!(summary["resumed"], true, "{summary}");
    assert_eq!(summary["already_checked"], 2, "{summary}");
    let failed: Vec<&Value> = packages.iter().filter(|p| p["verdict"] == "fail").collect();
    assert_eq!(failed.len(), 1, "{packages:?}");
    assert!(failed[0]["path"].as_str().is_some_and(|p| p.ends_with("case-1")));
    assert!(checks(failed[0]).contains(&"bag.payload_digest".to_owned()), "{}", failed[0]);
}

/// Class 6 (operator mistakes are said as mistakes): an audit without --trust would fail
/// every package for want of a trusted signer; it stops with a usage error naming the fix.
#[test]
fn class6_operator_an_audit_without_trust_is_a_mistake_not_a_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 2);
    let run = custos_in(d, &["audit", "store", "--json"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("no --trust key") && run.stderr.contains("--allow-untrusted"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("\"fail\""), "no package is called failed: {}", run.stdout);
    let allowed = custos_in(d, &["audit", "store", "--allow-untrusted", "--json"]);
    assert_ne!(allowed.code, 2, "{}", allowed.stderr);
    assert_eq!(records(&allowed).0.len(), 2);
}

/// Class 6: trusting the keys a package under audit ships is refused as a mistake (exit 2),
/// as for `verify`, instead of passing every package that trusts itself.
#[test]
fn class6_operator_an_audit_trusting_keys_inside_a_package_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 2);
    let run = custos_in(d, &["audit", "store", "--trust", "store/2026/case-1/custos/keys", "--json"]);
    support::assert_refused(&run, "never trust");
    assert!(!run.stdout.contains("\"pass\""), "no package is called passed: {}", run.stdout);
}

/// Class 1: with the auditor's key, every line of the state is signed. Whoever can write the
/// state but holds no key cannot move a full check's date or fingerprint to keep a changed
/// package on fast checks: the audit stops and says why.
#[test]
fn class1_unsigned_a_state_signed_by_the_auditor_refuses_edits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    store(d, 2);
    let signed = ["--state", "audit.state", "--key", "rfc8032-test2"];
    let first = audit(d, &signed);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = audit(d, &signed);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(records(&second).1["fast"], 2, "unchanged packages are checked fast");
    let state = d.join("audit.state");
    let genuine = std::fs::read_to_string(&state).expect("state");
    assert!(genuine.lines().all(|l| l.contains("audit-state+json")), "{genuine}");
    // The tamperer changes a package and writes its new fingerprint into the state.
    support::flip_bit(&d.join("store/2026/case-0/data/evidence-0.img"), 10);
    let edited = {
        let mut lines: Vec<String> = genuine.lines().map(str::to_owned).collect();
        let at = lines.iter().position(|l| l.contains("case-0")).expect("case-0's line");
        lines[at] = lines[at].replacen("full_fingerprint", "full_fingerprinT", 1);
        lines.join("\n") + "\n"
    };
    std::fs::write(&state, edited).expect("write");
    let refused = audit(d, &signed);
    support::assert_refused(&refused, "does not verify");
    // Without the key the signed state is not read as if it were a hint.
    std::fs::write(&state, &genuine).expect("write");
    let keyless = audit(d, &["--state", "audit.state"]);
    support::assert_refused(&keyless, "give the auditor's --key");
    // The genuine state still works, and the changed package is checked in full and fails.
    let caught = audit(d, &signed);
    assert_eq!(caught.code, 1, "{}", caught.stdout);
}

/// Red team (round 7): the audit believed state and ledger lines signed by any --trust key,
/// and those are the examiners being audited: one of them signed a state line calling her
/// own tampered package a full pass, and the auditor's next run passed it on a fast check.
/// Only the auditor's own key (and earlier auditors' named with --previous-auditor) writes
/// an audit's memory; a line by anyone else stops the audit.
#[test]
fn class1_unsigned_an_examiner_trusted_to_sign_packages_cannot_write_the_audits_memory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    store(d, 1);
    let made = custos_in(
        d,
        &["keygen", "--name", "Aud Itor", "--role", "auditor", "--out", "aud", "--no-passphrase"],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let audit = |extra: &[&str]| {
        let mut args = vec!["audit", "store", "--trust", "rfc8032-test1.pub", "--key", "aud", "--json"];
        args.extend_from_slice(extra);
        custos_in(d, &args)
    };
    let first = audit(&["--state", "a.state", "--ledger", "a.ledger"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);

    // Ada, whose key the audit trusts to judge her packages, signs lines of her own.
    let ada = ed25519_dalek::SigningKey::from_bytes(
        &(0..32)
            .map(|i| {
                u8::from_str_radix(
                    &"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"[2 * i..2 * i + 2],
                    16,
                )
                .expect("hex")
            })
            .collect::<Vec<u8>>()
            .try_into()
            .expect("32 bytes"),
    );
    let forged = |file: &str, payload_type: &str, payload: String| {
        let line = custos_manifest::envelope::SignedLine::sign(payload_type, payload, &ada)
            .to_bytes()
            .expect("line");
        let mut bytes = std::fs::read(d.join(file)).expect("file");
        bytes.extend_from_slice(&line);
        bytes.push(b'\n');
        std::fs::write(d.join(file), bytes).expect("write");
    };
    let state = std::fs::read(d.join("a.state")).expect("state");
    // Two lines: a last line that does not verify could be a torn write, one before it cannot.
    for _ in 0..2 {
        forged(
            "a.state",
            custos_audit::state::STATE_PAYLOAD_TYPE,
            r#"{"record":"finished","run":"forged","finished":"2026-12-01T00:00:00+00:00"}"#.to_owned(),
        );
    }
    let refused = audit(&["--state", "a.state"]);
    support::assert_refused(&refused, "a.state");
    std::fs::write(d.join("a.state"), state).expect("restore");

    let ledger_line = std::fs::read_to_string(d.join("a.ledger")).expect("ledger");
    let entry: Value = serde_json::from_str(ledger_line.lines().last().expect("a line")).expect("line");
    let mut payload: Value =
        serde_json::from_str(entry["payload"].as_str().expect("payload")).expect("entry");
    {
        use sha2::Digest as _;
        let last = ledger_line.lines().last().expect("a line");
        payload["previous"] = sha2::Sha256::digest(last.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .into();
    }
    payload["sequence"] = (payload["sequence"].as_u64().expect("sequence") + 1).into();
    forged("a.ledger", custos_audit::ledger::ENTRY_PAYLOAD_TYPE, payload.to_string());
    let refused = audit(&["--ledger", "a.ledger"]);
    support::assert_refused(&refused, "its last line cannot be continued");

    // Red team (round 8): the examiner named as an earlier auditor, by mistake.
    let named = audit(&["--state", "b.state", "--previous-auditor", "rfc8032-test1.pub"]);
    support::assert_refused(&named, "is also a --trust key");
}
