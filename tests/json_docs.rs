//! docs/json.md is the contract automation relies on: every example there is checked
//! against what the binary prints. Each `<!-- example: NAME -->` block is one JSON line;
//! the command's real record must be one JSON object per line with the same keys (nested
//! objects too; in arrays, the first element), and the conventions hold everywhere: no
//! blank or non-JSON lines on stdout, and full 64-hex key ids.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use support::{custos_in, Run};

/// The examples of docs/json.md by name.
fn documented() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json.md"))
        .expect("docs/json.md");
    let mut examples = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("<!-- example: ").and_then(|l| l.strip_suffix(" -->")) else {
            continue;
        };
        assert_eq!(lines.next(), Some("```json"), "example {name}: a ```json block follows the marker");
        let record = lines.next().unwrap_or_else(|| panic!("example {name} is empty"));
        let value: Value = serde_json::from_str(record)
            .unwrap_or_else(|e| panic!("example {name} is not JSON: {e}: {record}"));
        assert!(examples.insert(name.to_owned(), value).is_none(), "example {name} twice");
    }
    examples
}

/// Every line of stdout is one JSON object.
fn records(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
            assert!(value.is_object(), "every record is an object: {line}");
            value
        })
        .collect()
}

/// The key paths of a value: `a`, `a.b`, `a[].c`; arrays by their first element.
fn shape(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                out.push(path.clone());
                // Maps keyed by data (digests by algorithm, digests by path) are opaque.
                // (`moved` and `partially_matched` of hash --audit map found paths to known ones.)
                if !matches!(
                    key.as_str(),
                    "digests" | "observed_digests" | "counts" | "verdicts" | "moved" | "partially_matched"
                ) {
                    shape(inner, &path, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                shape(first, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn same_shape(name: &str, documented: &Value, actual: &Value) {
    let (mut want, mut got) = (Vec::new(), Vec::new());
    shape(documented, "", &mut want);
    shape(actual, "", &mut got);
    want.sort();
    got.sort();
    assert_eq!(want, got, "docs/json.md's example {name} differs from the binary's record:\n{actual}");
}

fn key_ids_are_full(value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "key_id" {
                    let id = inner.as_str().unwrap_or_default();
                    assert!(
                        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                        "key ids in full: {id}"
                    );
                }
                key_ids_are_full(inner);
            }
        }
        Value::Array(items) => items.iter().for_each(key_ids_are_full),
        _ => {}
    }
}

#[test]
fn every_documented_record_is_what_the_binary_prints() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "J-1", 70_000);
    let examples = documented();
    let mut checked: Vec<&str> = Vec::new();
    let mut check = |name: &'static str, run: &Run, index: usize| {
        let records = records(run);
        let record =
            records.get(index).unwrap_or_else(|| panic!("{name}: no record {index}: {}", run.stdout));
        let example = examples.get(name).unwrap_or_else(|| panic!("docs/json.md has no example {name}"));
        same_shape(name, example, record);
        key_ids_are_full(record);
        checked.push(name);
    };
    let xa = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/examples/xa-auria-legacy-court.json");
    let xa = xa.to_str().expect("UTF-8");
    let policy_copy = d.join("policy.json");
    std::fs::copy(xa, &policy_copy).expect("copy a policy");

    let hashed = custos_in(d, &["hash", "--json", "disk.img"]);
    check("hash", &hashed, 0);
    let sums = custos_in(d, &["hash", "--algo", "sha256", "disk.img"]);
    support::write(d, "disk.sha256", sums.stdout.as_bytes());
    let checked_sums = custos_in(d, &["hash", "--check", "disk.sha256", "--json"]);
    check("hash_check_line", &checked_sums, 0);
    check("hash_check_summary", &checked_sums, 1);
    custos_in(d, &["hash", "--segment-size", "16K", "--segments", "disk.seg", "disk.img"]);
    check("hash_check_segments", &custos_in(d, &["hash", "--check-segments", "disk.seg", "--json"]), 0);
    let e01 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-images/e01/compressed.E01");
    check("hash_media", &custos_in(d, &["hash", "--media", "--json", e01.to_str().expect("UTF-8")]), 0);
    check(
        "keygen",
        &custos_in(
            d,
            &["keygen", "--name", "Eve", "--role", "examiner", "--out", "eve", "--no-passphrase", "--json"],
        ),
        0,
    );
    check("key_show", &custos_in(d, &["key", "show", "rfc8032-test1.pub", "--json"]), 0);
    check(
        "key_export_minisign",
        &custos_in(
            d,
            &["key", "export-minisign", "rfc8032-test1.pub", "--out", "ada.minisign.pub", "--json"],
        ),
        0,
    );
    check(
        "seal",
        &custos_in(
            d,
            &["seal", "--key", "rfc8032-test1", "--case", "J-2", "--out", "pkg2", "disk.img", "--json"],
        ),
        0,
    );
    check(
        "custody_event",
        &custos_in(
            d,
            &["custody", "release", "pkg", "--key", "rfc8032-test1", "--to", "rfc8032-test2.pub", "--json"],
        ),
        0,
    );
    check("cosign", &custos_in(d, &["cosign", "pkg", "--key", "rfc8032-test2", "--json"]), 0);
    check(
        "custody_receipt",
        &custos_in(d, &["custody", "receipt", "pkg", "--out", "head.receipt", "--json"]),
        0,
    );
    check("custody_log", &custos_in(d, &["custody", "log", "pkg", "--json"]), 1);
    let verified = custos_in(
        d,
        &[
            "verify",
            "pkg",
            "--trust",
            "rfc8032-test1.pub",
            "--trust",
            "rfc8032-test2.pub",
            "--policy",
            xa,
            "--json",
        ],
    );
    check("verify", &verified, 0);
    check("verify_error", &custos_in(d, &["verify", "no-such-package", "--json"]), 0);
    let report = custos_in(
        d,
        &[
            "report",
            "pkg",
            "--trust",
            "rfc8032-test1.pub",
            "--out",
            "r.html",
            "--sign",
            "rfc8032-test1",
            "--json",
        ],
    );
    check("report", &report, 0);
    check(
        "key_verify",
        &custos_in(d, &["key", "verify", "r.html", "--trust", "rfc8032-test1.pub", "--json"]),
        0,
    );
    check("policy_check", &custos_in(d, &["policy", "check", xa, "--json"]), 0);
    check(
        "policy_sign",
        &custos_in(
            d,
            &["policy", "sign", policy_copy.to_str().expect("UTF-8"), "--key", "rfc8032-test2", "--json"],
        ),
        0,
    );
    check("export_checksums", &custos_in(d, &["export", "checksums", "pkg", "--out", "sums", "--json"]), 0);
    check(
        "export_minisign",
        &custos_in(d, &["export", "minisign", "pkg", "--key", "rfc8032-test1", "--json"]),
        0,
    );
    for format in ["case", "dfxml", "hashdeep"] {
        let out = format!("pkg.{format}");
        check("export_interchange", &custos_in(d, &["export", format, "pkg", "--out", &out, "--json"]), 0);
    }
    check(
        "hash_audit",
        &custos_in(&d.join("pkg"), &["hash", "--audit", "--json", "../pkg.hashdeep", "data"]),
        0,
    );
    let failed = custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "J-3", "--out", "pkg3", "no-such-file", "--json"],
    );
    assert_eq!(failed.code, 2);
    check("error", &failed, 0);

    // An audit of a store holding one damaged package, with a ledger.
    std::fs::create_dir_all(d.join("store")).expect("mkdir");
    let sealed = custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "J-3", "--out", "store/j3", "disk.img", "--quiet"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    support::flip_bit(&d.join("store/j3/data/disk.img"), 10);
    let audited = custos_in(
        d,
        &[
            "audit",
            "store",
            "--trust",
            "rfc8032-test1.pub",
            "--ledger",
            "audit.ledger",
            "--key",
            "rfc8032-test2",
            "--json",
        ],
    );
    check("audit_package", &audited, 0);
    check("audit_summary", &audited, 1);
    check(
        "audit_ledger_verify",
        &custos_in(
            d,
            &["audit", "ledger", "verify", "audit.ledger", "--trust", "rfc8032-test2.pub", "--json"],
        ),
        0,
    );

    let mut unchecked: Vec<&String> =
        examples.keys().filter(|name| !checked.contains(&name.as_str())).collect();
    unchecked.sort();
    assert!(unchecked.is_empty(), "docs/json.md examples no command was checked against: {unchecked:?}");
}

#[test]
fn the_verdict_word_agrees_with_the_exit_status_everywhere() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "J-4", 5_000);
    let cases: [(&[&str], i32, &str); 4] = [
        (&["verify", "pkg", "--trust", "rfc8032-test1.pub", "--json"], 0, "pass"),
        (&["verify", "pkg", "--trust", "rfc8032-test2.pub", "--json"], 1, "fail"),
        (
            &[
                "key",
                "verify",
                "disk.img",
                "--signature",
                "disk.img",
                "--trust",
                "rfc8032-test1.pub",
                "--json",
            ],
            1,
            "fail",
        ),
        (&["custody", "log", "no-such-package", "--json"], 2, "error"),
    ];
    for (args, code, verdict) in cases {
        let run = custos_in(d, args);
        assert_eq!(run.code, code, "{args:?}: {}{}", run.stdout, run.stderr);
        let last = records(&run).pop().unwrap_or_else(|| panic!("{args:?}: no record"));
        assert_eq!(last["verdict"], verdict, "{args:?}: {last}");
    }
}
