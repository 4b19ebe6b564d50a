//! Verdicts a script can trust: `verify --json`'s top-level verdict is the overall one
//! (integrity and every policy), `--strict` fails on any warning, and an error in JSON mode
//! is a JSON record too.

mod support;

use std::path::Path;

use support::{custos_in, seal_content_package};

fn json(run: &support::Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn the_top_level_verdict_includes_every_policy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    seal_content_package(d, "V-1", 2_000);
    let xb = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/examples/xb-borealia-strict.json");
    let run = custos_in(
        d,
        &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--json", "--policy", xb.to_str().expect("UTF-8")],
    );
    assert_eq!(run.code, 1);
    let report = json(&run);
    assert_eq!(report["verdict"], "fail", "a policy failed");
    assert_eq!(report["integrity"], "pass");
    assert_eq!(report["policies"][0]["verdict"], "fail");
    assert_eq!(report["custos_verify"], 1);
    assert!(report["tool"].as_str().is_some_and(|t| t.starts_with("custos ")));
    assert_eq!(report["manifest_sha256"].as_str().map(str::len), Some(64));
    assert!(report["evaluated_at"].as_str().is_some_and(|t| t.ends_with("+00:00")));
    assert!(report["duration_ms"].is_u64());
    assert_eq!(run.stdout.lines().count(), 1, "one JSON record per line, for batch jobs");
}

#[test]
fn strict_fails_on_warnings_and_errors_are_json_records() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    seal_content_package(d, "V-2", 2_000);
    let fast = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--fast", "--json"]);
    assert_eq!(fast.code, 0, "a warning alone passes");
    assert_eq!(json(&fast)["verdict"], "warn");
    let strict =
        custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--fast", "--strict", "--json"]);
    assert_eq!(strict.code, 1, "{}", strict.stdout);
    assert_eq!(json(&strict)["verdict"], "fail");
    assert_eq!(json(&strict)["integrity"], "warn");
    assert_eq!(
        json(&strict)["outcome"],
        "FAILED: warnings count as failures (--strict); integrity VERIFIED with warnings"
    );
    assert_eq!(json(&fast)["outcome"], "VERIFIED with warnings");

    let missing = custos_in(d, &["verify", "no-such-package", "--json"]);
    assert_eq!(missing.code, 2);
    let record = json(&missing);
    assert_eq!(record["verdict"], "error");
    assert!(record["error"].as_str().is_some_and(|e| e.contains("no-such-package")), "{record}");
}

fn example_policy(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../policies/examples")
        .join(name)
        .to_str()
        .expect("UTF-8")
        .to_owned()
}

#[test]
fn class6_operator_verify_ends_with_the_overall_outcome_naming_every_rejecting_jurisdiction() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    seal_content_package(d, "V-3", 2_000);
    let (xa, xb, xc) = (
        example_policy("xa-auria-legacy-court.json"),
        example_policy("xb-borealia-strict.json"),
        example_policy("xc-cascadia-mla.json"),
    );
    let args =
        ["verify", "pkg", "--trust", "rfc8032-test1.pub", "--policy", &xa, "--policy", &xb, "--policy", &xc];
    let text = custos_in(d, &args);
    assert_eq!(text.code, 1, "{}{}", text.stdout, text.stderr);
    let last = text.stdout.lines().rev().find(|l| !l.trim().is_empty()).expect("output");
    assert_eq!(last, "pkg: NOT ACCEPTABLE in XB, XC (integrity VERIFIED)", "{}", text.stdout);
    // Integrity is said as integrity, never as the package's outcome.
    assert!(!text.stdout.contains("pkg: VERIFIED"), "{}", text.stdout);
    assert!(text.stdout.contains("integrity: VERIFIED ("), "{}", text.stdout);

    let mut with_json = args.to_vec();
    with_json.push("--json");
    let report = json(&custos_in(d, &with_json));
    assert_eq!(report["outcome"], "NOT ACCEPTABLE in XB, XC (integrity VERIFIED)");
    assert_eq!(report["not_acceptable_in"], serde_json::json!(["XB", "XC"]));
    assert_eq!(report["verdict"], "fail");

    // Accepted everywhere: the last line says so, by name.
    let accepted = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--policy", &xa]);
    assert_eq!(accepted.code, 0, "{}", accepted.stdout);
    let last = accepted.stdout.lines().rev().find(|l| !l.trim().is_empty()).expect("output");
    assert_eq!(last, "pkg: ACCEPTABLE in XA (integrity VERIFIED)");
    // Without policies the line is integrity's, as before.
    let plain = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    assert!(plain.stdout.trim_end().ends_with("failed)"), "{}", plain.stdout);
    assert!(
        plain.stdout.lines().last().is_some_and(|l| l.starts_with("pkg: VERIFIED (")),
        "{}",
        plain.stdout
    );
}

#[test]
fn class6_operator_trusting_keys_from_inside_the_package_is_refused_as_a_mistake() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    seal_content_package(d, "V-4", 2_000);
    let key_file = std::fs::read_dir(d.join("pkg/custos/keys"))
        .expect("keys")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "pub"))
        .expect("a shipped key");
    let key_file = key_file.to_str().expect("UTF-8").to_owned();
    std::os::unix::fs::symlink(d.join("pkg/custos/keys"), d.join("keys-link")).expect("link");
    std::fs::create_dir(d.join("mine")).expect("folder");
    std::os::unix::fs::symlink(&key_file, d.join("mine/examiner.pub")).expect("link");
    std::fs::hard_link(&key_file, d.join("hard.pub")).expect("hard link");
    for trust in
        ["pkg/custos/keys/", key_file.as_str(), "keys-link", "mine", "./pkg/../pkg/custos/keys", "hard.pub"]
    {
        for command in [
            vec!["verify", "pkg", "--trust", trust],
            vec!["verify", "pkg", "--trust", trust, "--json"],
            vec!["report", "pkg", "--trust", trust, "--out", "r.html"],
        ] {
            let run = custos_in(d, &command);
            assert_eq!(
                run.code, 2,
                "{command:?}: a usage error, not a verdict: {}{}",
                run.stdout, run.stderr
            );
            let said = format!("{}{}", run.stdout, run.stderr);
            assert!(said.contains("the package pkg"), "{command:?}: {said}");
            assert!(said.contains("never trust"), "{command:?}: {said}");
            assert!(!said.contains("VERIFIED"), "{command:?}: {said}");
            assert!(!d.join("r.html").exists(), "no report for a package judged by its own keys");
        }
    }
    // The signer's key held outside the package is what the verifier trusts.
    let fine = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(fine.code, 0, "{}", fine.stdout);
}

#[test]
fn class6_operator_a_report_without_a_trusted_key_is_a_usage_error_unless_untrusted_is_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    seal_content_package(d, "V-5", 2_000);
    let refused = custos_in(d, &["report", "pkg", "--out", "r.html"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("no key is trusted"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--trust SIGNER.pub"), "the fix is named: {}", refused.stderr);
    assert!(refused.stderr.contains("--allow-untrusted"), "{}", refused.stderr);
    assert!(!d.join("r.html").exists(), "no report");

    let allowed = custos_in(d, &["report", "pkg", "--allow-untrusted", "--out", "r.html"]);
    assert_eq!(allowed.code, 0, "integrity only, with a warning: {}{}", allowed.stdout, allowed.stderr);
    let html = std::fs::read_to_string(d.join("r.html")).expect("report");
    let headline = html.split("id=\"overall\"").nth(1).expect("a headline");
    assert!(
        headline.starts_with(" class=\"headline warn\">NOT CHECKED AGAINST ANY TRUSTED KEY"),
        "{}",
        &headline[..200.min(headline.len())]
    );
    // The signatures are valid: nothing says they do not verify.
    assert!(!html.contains("does not verify: that record may have been altered"), "{html}");
    assert!(!html.contains("may have been altered"), "{html}");
}
