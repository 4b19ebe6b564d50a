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

    let missing = custos_in(d, &["verify", "no-such-package", "--json"]);
    assert_eq!(missing.code, 2);
    let record = json(&missing);
    assert_eq!(record["verdict"], "error");
    assert!(record["error"].as_str().is_some_and(|e| e.contains("no-such-package")), "{record}");
}
