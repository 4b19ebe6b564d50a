//! Trusted time end to end: a seal and custody events time-stamped by a local RFC 3161
//! authority, verified offline with its certificate; tokens that are not for their
//! signature, or from an authority nobody trusts, fail.

mod support;

use std::path::Path;

use support::tsa::Tsa;
use support::{custos_in, seal_content_package, write, Run};

fn verify(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "pkg", "--trust", "rfc8032-test1.pub", "--trust", "rfc8032-test2.pub"];
    args.extend(extra);
    custos_in(dir, &args)
}

#[test]
fn a_timestamped_seal_and_transfer_verify_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let Some(tsa) = Tsa::start(&d.join("tsa"), &[]) else { return };
    support::copy_test_keys(d);
    write(d, "disk.img", &support::noise(20_000, 5));
    let sealed = custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "T-1", "--tsa", &tsa.url, "--out", "pkg", "disk.img"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let released = custos_in(
        d,
        &[
            "custody",
            "release",
            "pkg",
            "--key",
            "rfc8032-test1",
            "--to",
            "rfc8032-test2.pub",
            "--tsa",
            &tsa.url,
        ],
    );
    assert_eq!(released.code, 0, "{}", released.stderr);
    let ca = tsa.dir.join("ca.crt");
    let ca = ca.to_str().expect("UTF-8");

    let run = verify(d, &["--tsa-cert", ca]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout.matches("time.token").count(), 1, "grouped passes: {}", run.stdout);
    let json = verify(d, &["--tsa-cert", ca, "--json"]);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let tokens: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == "time.token")
        .collect();
    assert_eq!(tokens.len(), 3, "manifest signature, sealed event, release: {tokens:?}");
    assert!(tokens.iter().all(
        |f| f["verdict"] == "pass" && f["detail"].as_str().is_some_and(|d| d.contains("Custos Test TSA"))
    ));

    // A jurisdiction's policy may name the authorities it trusts, and demand tokens.
    std::fs::copy(tsa.dir.join("ca.crt"), d.join("tsa-ca.pem")).expect("copy");
    write(
        d,
        "policy.json",
        br#"{"custos_policy":1,"id":"xt","jurisdiction":"XT","name":"Test","effective_from":"2026-01-01T00:00:00Z",
            "time":{"trusted_timestamps":"required","max_skew_seconds":300,"tsa_certificates":["tsa-ca.pem"],"cite":"test"}}"#,
    );
    let judged = verify(d, &["--policy", "policy.json", "--json"]);
    assert_eq!(judged.code, 0, "{}", judged.stdout);
    let report: serde_json::Value = serde_json::from_str(&judged.stdout).expect("JSON");
    let time: Vec<&serde_json::Value> = report["policies"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "time.trusted_timestamps")
        .collect();
    assert_eq!(time.len(), 3, "{time:?}");
    assert!(time.iter().all(|f| f["verdict"] == "pass"), "{time:?}");

    // Without the authority's certificate the tokens are reported, not trusted.
    let unchecked = verify(d, &[]);
    assert!(
        unchecked.stdout.contains("WARN  time.token") && unchecked.stdout.contains("--tsa-cert"),
        "{}",
        unchecked.stdout
    );

    // An authority nobody trusts.
    let Some(other) = Tsa::start(&d.join("other"), &[]) else { return };
    let other_ca = other.dir.join("ca.crt");
    let untrusted = verify(d, &["--tsa-cert", other_ca.to_str().expect("UTF-8")]);
    assert_eq!(untrusted.code, 1);
    assert!(
        untrusted.stdout.contains("FAIL  time.token") && untrusted.stdout.contains("not a trusted"),
        "{}",
        untrusted.stdout
    );

    // A token moved to another signature's place.
    let stamps = d.join("pkg/custos/timestamps");
    let manifest_token = std::fs::read_dir(&stamps)
        .expect("tokens")
        .map(|e| e.expect("entry").path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("manifest-")))
        .expect("a manifest token");
    std::fs::copy(stamps.join("event-1.tsr"), &manifest_token).expect("swap");
    let swapped = verify(d, &["--tsa-cert", ca]);
    assert_eq!(swapped.code, 1);
    assert!(
        swapped.stdout.contains("FAIL  time.token") && swapped.stdout.contains("other bytes"),
        "{}",
        swapped.stdout
    );
}

#[test]
fn an_unreachable_authority_leaves_the_package_as_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    seal_content_package(d, "T-2", 5_000);
    let before = std::fs::read(d.join("pkg/custos/custody.jsonl")).expect("log");
    // Nothing listens on port 9 of the loopback address.
    let run = custos_in(
        d,
        &[
            "custody",
            "record",
            "pkg",
            "--key",
            "rfc8032-test1",
            "--action",
            "examined",
            "--tsa",
            "http://127.0.0.1:9/",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("time-stamping authority"), "{}", run.stderr);
    assert_eq!(std::fs::read(d.join("pkg/custos/custody.jsonl")).expect("log"), before);
    assert_eq!(verify(d, &[]).code, 0);
}

/// Red team (round 5): a signed policy named its TSA certificates by file name only, so
/// replacing `tsa-root.pem` beside it changed whose time was trusted while the policy still
/// showed as signed. A policy binds a certificate by its SHA-256 (a different file is
/// refused); a signed policy naming one without it is refused with --require-signed-policy
/// and warned about otherwise.
#[test]
fn class1_unsigned_a_signed_policy_binds_its_tsa_certificates_by_digest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let Some(tsa) = Tsa::start(&d.join("tsa"), &[]) else { return };
    let Some(other) = Tsa::start(&d.join("other"), &[]) else { return };
    support::copy_test_keys(d);
    write(d, "disk.img", &support::noise(2_000, 5));
    let sealed = custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "T-1", "--tsa", &other.url, "--out", "pkg", "disk.img"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let chosen = std::fs::read(tsa.dir.join("ca.crt")).expect("the author's choice");
    let sha256 = {
        use sha2::Digest as _;
        sha2::Sha256::digest(&chosen).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let policy = |certificate: &str| {
        format!(
            r#"{{"custos_policy":1,"id":"xt","jurisdiction":"XT","name":"Test","effective_from":"2026-01-01T00:00:00Z",
            "time":{{"trusted_timestamps":"required","tsa_certificates":[{certificate}],"cite":"test"}}}}"#
        )
    };
    // The holder of the folder puts the other authority's root in the chosen one's place.
    std::fs::copy(other.dir.join("ca.crt"), d.join("tsa-root.pem")).expect("swap");
    for (name, certificate) in [
        ("bound.json", format!(r#"{{"file":"tsa-root.pem","sha256":"{sha256}"}}"#)),
        ("named.json", r#""tsa-root.pem""#.to_owned()),
    ] {
        write(d, name, policy(&certificate).as_bytes());
        let signed = custos_in(d, &["policy", "sign", name, "--key", "rfc8032-test2"]);
        assert_eq!(signed.code, 0, "{}", signed.stderr);
    }
    let judge = |policy: &str, extra: &[&str]| {
        let mut args = vec!["--trust", "rfc8032-test2.pub", "--policy", policy];
        args.extend_from_slice(extra);
        verify(d, &args)
    };
    support::assert_refused(&judge("bound.json", &[]), "it is not the certificate the policy's author chose");
    support::assert_refused(
        &judge("named.json", &["--require-signed-policy"]),
        "names the TSA certificate tsa-root.pem without its SHA-256",
    );
    let warned = judge("named.json", &[]);
    assert!(
        warned.stderr.contains("warning: the signed policy named.json names the TSA certificate"),
        "{}",
        warned.stderr
    );

    // The file the author chose, bound: trusted time as the policy says.
    std::fs::write(d.join("tsa-root.pem"), &chosen).expect("restore");
    let bound = judge("bound.json", &["--require-signed-policy"]);
    assert!(!bound.stderr.contains("without its SHA-256"), "{}", bound.stderr);
    assert!(
        bound.stdout.contains("not a trusted"),
        "the other authority's tokens are not trusted: {}",
        bound.stdout
    );
}

/// Red team (round 6): the TSA certificates one policy names were pooled for every policy, so
/// a jurisdiction that names no authority was credited with trusted time from another's, and
/// its verdict depended on which other policies were on the command line. Each policy now
/// trusts --tsa-cert's authorities and its own, never another policy's.
#[test]
fn one_jurisdictions_time_stamping_authority_never_decides_anothers_verdict() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let Some(tsa) = Tsa::start(&d.join("tsa"), &[]) else { return };
    support::copy_test_keys(d);
    write(d, "disk.img", &support::noise(2_000, 5));
    let sealed = custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "T-2", "--tsa", &tsa.url, "--out", "pkg", "disk.img"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    std::fs::copy(tsa.dir.join("ca.crt"), d.join("xa-tsa.pem")).expect("copy");
    write(
        d,
        "xa.json",
        br#"{"custos_policy":1,"id":"xa","jurisdiction":"XA","name":"A","effective_from":"2026-01-01T00:00:00Z",
            "time":{"trusted_timestamps":"required","tsa_certificates":["xa-tsa.pem"],"cite":"a"}}"#,
    );
    write(
        d,
        "xb.json",
        br#"{"custos_policy":1,"id":"xb","jurisdiction":"XB","name":"B","effective_from":"2026-01-01T00:00:00Z",
            "time":{"trusted_timestamps":"required","cite":"b"}}"#,
    );
    let alone = verify(d, &["--policy", "xb.json"]);
    assert!(alone.stdout.contains("NOT ACCEPTABLE in XB"), "{}", alone.stdout);
    let together = verify(d, &["--policy", "xb.json", "--policy", "xa.json"]);
    assert_eq!(together.code, 1, "{}", together.stdout);
    assert!(together.stdout.contains("NOT ACCEPTABLE in XB"), "XB's verdict is its own: {}", together.stdout);
    let json = verify(d, &["--policy", "xb.json", "--policy", "xa.json", "--json"]);
    let report: serde_json::Value = serde_json::from_str(json.stdout.trim()).expect("JSON");
    let verdict = |id: &str| {
        report["policies"].as_array().expect("policies").iter().find(|p| p["id"] == id).expect("policy")
            ["verdict"]
            .clone()
    };
    assert_eq!(verdict("xa"), "pass", "{}", json.stdout);
    assert_eq!(verdict("xb"), "fail", "{}", json.stdout);
}
