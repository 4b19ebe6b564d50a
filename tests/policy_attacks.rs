//! Attacks on jurisdiction policies, end to end through the `custos` binary: a policy with a
//! mistake is refused (never silently weaker), a signed policy edited afterwards is refused,
//! an insider's rewritten key file gains her no country or role, and planted special files
//! neither hang nor exhaust the reader.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{custos_in, run_with_deadline, write};

const ADA: &str = "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9";
const BOB: &str = "39f713d0a644253f04529421b9f51b9b08979d08295959c4f3990ee617f5139f";

/// A policy trusting the RFC 8032 test keys (Ada TEST 1, Bob TEST 2) with `rules` added.
fn policy_text(ada_fields: &str, rules: &str) -> String {
    format!(
        r#"{{"custos_policy":1,"id":"xt-2026","jurisdiction":"XT","name":"Testland","effective_from":"2026-01-01T00:00:00Z",
"signatures":{{"trusted_keys":[
  {{"key_id":"{ADA}","principal":"Ada Examiner","roles":["examiner"]{ada_fields}}},
  {{"key_id":"{BOB}","principal":"Bob Custodian","roles":["evidence_custodian"],"jurisdiction":"DE"}}],
  "cite":"Testland Evidence Act s. 1"}}{rules}}}
"#
    )
}

/// A policy officer's key (unprotected, for the test).
fn officer(dir: &Path) {
    let made = custos_in(
        dir,
        &[
            "keygen",
            "--name",
            "Olga Officer",
            "--role",
            "policy_officer",
            "--out",
            "officer",
            "--no-passphrase",
        ],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
}

/// Typos that used to switch rules off silently are refused by `policy check`, by
/// `policy sign` and by `verify --policy`, each naming the JSON path and the likely name.
#[test]
fn mistakes_in_a_policy_are_refused_everywhere() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "PA-1", 10_000);
    let cases = [
        (
            policy_text(r#","jurisdiction":"DE""#, "").replace(
                r#""cite":"Testland"#,
                r#""roles_per_action":{"Sealed":["examiner"]},"cite":"Testland"#,
            ),
            "$.signatures.roles_per_action.Sealed",
            "did you mean `sealed`?",
        ),
        (
            policy_text(r#","jurisdiction":"DE""#, r#","retention":{"max_days":{"trafic":30},"cite":"r"}"#),
            "$.retention.max_days.trafic",
            "did you mean `traffic`?",
        ),
        (
            policy_text(
                r#","jurisdiction":"DE"},{"key_id":"21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9","principal":"Ada Examiner","revoked_at":"2026-01-02T00:00:00Z""#,
                "",
            ),
            "$.signatures.trusted_keys[1].key_id",
            "already listed at $.signatures.trusted_keys[0]",
        ),
        (
            policy_text(r#","jurisdiction":"de""#, ""),
            "$.signatures.trusted_keys[0].jurisdiction",
            "did you mean `DE`?",
        ),
    ];
    for (text, path, hint) in cases {
        write(d, "policy.json", text.as_bytes());
        for args in [
            &["policy", "check", "policy.json"][..],
            &["verify", "pkg", "--policy", "policy.json"][..],
            &["policy", "sign", "policy.json", "--key", "rfc8032-test2"][..],
        ] {
            let run = custos_in(d, args);
            assert_eq!(run.code, 2, "{args:?} accepted a policy with a mistake at {path}: {}", run.stdout);
            assert!(run.stderr.contains(path) && run.stderr.contains(hint), "{args:?}: {}", run.stderr);
        }
        assert!(!d.join("policy.json.sig").exists(), "a mistake was signed");
    }
}

/// A signed policy edited afterwards is refused, never judged; who signed is reported; a
/// policy nobody trusted signed can be required away.
#[test]
fn signed_policies_hold_and_edits_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "PA-2", 10_000);
    officer(d);
    write(d, "policy.json", policy_text(r#","jurisdiction":"DE""#, "").as_bytes());

    // Unsigned: fine unless a signature is required.
    let check = custos_in(d, &["policy", "check", "policy.json", "--json"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let report: serde_json::Value = serde_json::from_str(&check.stdout).expect("JSON");
    assert_eq!(report["signature"]["status"], "unsigned");
    let required = custos_in(d, &["policy", "check", "policy.json", "--require-signed"]);
    assert_eq!(required.code, 2);
    assert!(required.stderr.contains("is not signed by a trusted key"), "{}", required.stderr);
    let required = custos_in(d, &["verify", "pkg", "--policy", "policy.json", "--require-signed-policy"]);
    assert_eq!(required.code, 2, "{}", required.stdout);
    assert!(
        required.stderr.contains("--require-signed-policy: policy.json is not signed by a trusted key"),
        "{}",
        required.stderr
    );

    let signed = custos_in(d, &["policy", "sign", "policy.json", "--key", "officer"]);
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let check = custos_in(d, &["policy", "check", "policy.json", "--trust", "officer.pub", "--json"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let report: serde_json::Value = serde_json::from_str(&check.stdout).expect("JSON");
    assert_eq!(report["signature"]["status"], "signed");
    assert_eq!(report["signature"]["signers"][0]["name"], "Olga Officer");
    // Without the officer's key, the signature cannot be checked and vouches for nothing.
    let unchecked = custos_in(d, &["policy", "check", "policy.json", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&unchecked.stdout).expect("JSON");
    assert_eq!(report["signature"]["status"], "unknown_key");
    let required = custos_in(d, &["policy", "check", "policy.json", "--require-signed"]);
    support::assert_refused(&required, "is not signed by a trusted key");

    // Judged with the signature required: the report says who signed.
    let judged = custos_in(
        d,
        &[
            "verify",
            "pkg",
            "--trust",
            "officer.pub",
            "--policy",
            "policy.json",
            "--require-signed-policy",
            "--json",
        ],
    );
    assert_eq!(judged.code, 0, "{}\n{}", judged.stdout, judged.stderr);
    let report: serde_json::Value = serde_json::from_str(&judged.stdout).expect("JSON");
    assert_eq!(report["policies"][0]["signature"]["status"], "signed");
    assert_eq!(report["policies"][0]["verdict"], "pass");
    let text = custos_in(d, &["verify", "pkg", "--trust", "officer.pub", "--policy", "policy.json"]);
    assert!(text.stdout.contains("policy signed by Olga Officer"), "{}", text.stdout);

    // Someone lowers the bar after signing: raise nothing, judge nothing.
    let edited = std::fs::read_to_string(d.join("policy.json"))
        .expect("policy")
        .replace(r#""roles":["examiner"]"#, r#""roles":["examiner","evidence_custodian"]"#);
    write(d, "policy.json", edited.as_bytes());
    for args in [
        &["policy", "check", "policy.json", "--trust", "officer.pub"][..],
        &["verify", "pkg", "--trust", "officer.pub", "--policy", "policy.json"][..],
    ] {
        let run = custos_in(d, args);
        assert_eq!(run.code, 2, "{args:?} judged an edited policy: {}", run.stdout);
        assert!(run.stderr.contains("changed after it was signed"), "{args:?}: {}", run.stderr);
    }
    // Nor does its signer co-sign the edit over her stale signature.
    let resign = custos_in(d, &["policy", "sign", "policy.json", "--key", "officer"]);
    assert_eq!(resign.code, 2, "{}", resign.stdout);
    assert!(resign.stderr.contains("changed since Olga Officer signed it"), "{}", resign.stderr);

    // A signature file of another kind of document is refused whoever reads it.
    let registry_sig = std::fs::read_to_string(d.join("policy.json.sig"))
        .expect("sig")
        .replace("vnd.custos.policy+json", "vnd.custos.key-registry+json");
    write(d, "policy.json.sig", registry_sig.as_bytes());
    let run = custos_in(d, &["policy", "check", "policy.json"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a policy"), "{}", run.stderr);
}

/// An insider rewrites the key file she ships in the package to claim another name,
/// country and role. The policy's own entry for her key decides all three.
#[test]
fn an_insiders_rewritten_key_file_gains_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let forged = std::fs::read_to_string(d.join("rfc8032-test1.pub"))
        .expect("key file")
        .replace("name: Ada Examiner", "name: Bea Borealis")
        .replace("role: examiner", "role: evidence_custodian")
        .replace("jurisdiction: DE", "jurisdiction: XB");
    assert!(forged.contains("jurisdiction: XB"), "the test key file changed shape: {forged}");
    write(d, "rfc8032-test1.pub", forged.as_bytes());
    write(d, "disk.img", &support::noise(10_000, 9));
    let sealed =
        custos_in(d, &["seal", "--key", "rfc8032-test1", "--case", "PA-3", "--out", "pkg", "disk.img"]);
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let log = custos_in(d, &["custody", "log", "pkg", "--json"]);
    assert!(log.stdout.contains("\"jurisdiction\":\"XB\""), "the event carries the claim: {}", log.stdout);

    let storage = r#","storage":{"allowed_countries":["XB"],"cite":"Testland Localisation Decree"}"#;
    let roles = r#""roles_per_action":{"sealed":["evidence_custodian"]},"cite":"Testland"#;
    write(
        d,
        "policy.json",
        policy_text(r#","jurisdiction":"DE""#, storage).replacen(r#""cite":"Testland"#, roles, 1).as_bytes(),
    );
    let judged = custos_in(d, &["verify", "pkg", "--policy", "policy.json", "--json"]);
    assert_eq!(judged.code, 1, "{}", judged.stdout);
    let report: serde_json::Value = serde_json::from_str(&judged.stdout).expect("JSON");
    let findings = report["policies"][0]["findings"].as_array().expect("findings");
    let of = |rule: &str| findings.iter().filter(|f| f["rule"] == rule).cloned().collect::<Vec<_>>();
    let storage_findings = of("storage.allowed_countries");
    assert_eq!(storage_findings.len(), 1, "{findings:#?}");
    assert_eq!(storage_findings[0]["verdict"], "fail");
    assert!(
        storage_findings[0]["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("held in DE") && e.contains("Ada Examiner")),
        "{storage_findings:#?}"
    );
    let role_findings = of("signatures.roles");
    assert_eq!(role_findings.len(), 1, "the claimed role counts for nothing: {findings:#?}");
    assert!(
        findings.iter().all(|f| !f["evidence"].as_str().unwrap_or_default().contains("Bea Borealis")),
        "the forged name is not shown as the policy's principal: {findings:#?}"
    );

    // A policy that records no country for her key cannot place her custody anywhere.
    write(d, "policy.json", policy_text("", storage).as_bytes());
    let judged = custos_in(d, &["verify", "pkg", "--policy", "policy.json"]);
    assert_eq!(judged.code, 1, "{}", judged.stdout);
    assert!(judged.stdout.contains("the policy records no jurisdiction for this key"), "{}", judged.stdout);
}

/// Planted special files where a policy, its signature or a registry belongs are refused at
/// once: a FIFO would block a plain reader forever, /dev/zero would never end.
#[test]
fn special_files_never_hang_the_policy_reader() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "PA-4", 10_000);
    write(d, "policy.json", policy_text(r#","jurisdiction":"DE""#, "").as_bytes());
    let deadline = Duration::from_secs(20);

    let mkfifo = |path: &Path| {
        assert!(std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo").success());
    };
    mkfifo(&d.join("policy.json.sig"));
    for args in [&["policy", "check", "policy.json"][..], &["verify", "pkg", "--policy", "policy.json"][..]] {
        let run = run_with_deadline(d, args, deadline);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
        assert!(run.stderr.contains("not a regular file"), "{args:?}: {}", run.stderr);
    }
    std::fs::remove_file(d.join("policy.json.sig")).expect("remove");

    std::os::unix::fs::symlink("/dev/zero", d.join("zero.json")).expect("link");
    let run = run_with_deadline(d, &["policy", "check", "zero.json"], deadline);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    std::os::unix::fs::symlink("/dev/zero", d.join("policy.json.sig")).expect("link");
    let run = run_with_deadline(d, &["verify", "pkg", "--policy", "policy.json"], deadline);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    std::fs::remove_file(d.join("policy.json.sig")).expect("remove");

    mkfifo(&d.join("fifo.json"));
    let run = run_with_deadline(d, &["policy", "check", "fifo.json"], deadline);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    let run = run_with_deadline(d, &["policy", "sign", "fifo.json", "--key", "rfc8032-test2"], deadline);
    support::assert_refused(&run, "not a regular file");
}

/// A policy never passes a package whose integrity failed, whatever its own rules say.
#[test]
fn no_policy_passes_a_package_that_failed_verification() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "PA-5", 10_000);
    write(d, "policy.json", policy_text(r#","jurisdiction":"DE""#, "").as_bytes());
    let genuine = custos_in(d, &["verify", "pkg", "--policy", "policy.json", "--json"]);
    assert_eq!(genuine.code, 0, "{}", genuine.stdout);

    let victim = d.join("pkg/data/disk.img");
    assert!(std::process::Command::new("chmod").arg("u+w").arg(&victim).status().expect("chmod").success());
    let mut bytes = std::fs::read(&victim).expect("read");
    bytes[100] ^= 1;
    std::fs::write(&victim, bytes).expect("write");
    let judged = custos_in(d, &["verify", "pkg", "--policy", "policy.json", "--json"]);
    assert_eq!(judged.code, 1, "{}", judged.stdout);
    let report: serde_json::Value = serde_json::from_str(&judged.stdout).expect("JSON");
    assert_eq!(report["verdict"], "fail");
    let policy = &report["policies"][0];
    assert_eq!(policy["verdict"], "fail", "{policy:#}");
    assert!(
        policy["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] == "integrity" && f["verdict"] == "fail"),
        "{policy:#}"
    );
}
