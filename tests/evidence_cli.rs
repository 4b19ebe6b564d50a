//! `custos seal`, `custody` and `verify` end to end: a package sealed with a protected key,
//! custody transferred, verified, and a tampered copy failing with its reason.

mod support;

use std::path::Path;

use support::{custos_in, noise, write};

fn setup(dir: &Path) {
    write(dir, "pass", b"a long passphrase\n");
    for (name, role) in [("ada", "examiner"), ("bob", "evidence_custodian")] {
        let made = custos_in(
            dir,
            &["keygen", "--name", name, "--role", role, "--out", name, "--passphrase-file", "pass"],
        );
        assert_eq!(made.code, 0, "{}", made.stderr);
    }
    write(dir, "evidence/disk.img", &noise(2_500_000, 4));
    let sealed = custos_in(
        dir,
        &[
            "seal",
            "--key",
            "ada",
            "--passphrase-file",
            "pass",
            "--case",
            "CASE-7",
            "--exhibit",
            "A-1",
            "--legal-basis",
            "warrant:W-1/26:Court",
            "--category",
            "content",
            "--algo",
            "md5,sha256,blake3",
            "--out",
            "pkg",
            "evidence/disk.img",
        ],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    assert!(sealed.stdout.contains("sealed pkg"), "{}", sealed.stdout);
}

/// Runs custos signing as Ada (her key and passphrase appended to `args`).
fn as_ada(dir: &Path, args: &[&str]) -> support::Run {
    let mut all = args.to_vec();
    all.extend(["--key", "ada", "--passphrase-file", "pass"]);
    custos_in(dir, &all)
}

/// Flips one bit of a sealed (read-only) file, as an attacker with write access would.
fn flip(path: &Path, offset: usize) {
    assert!(std::process::Command::new("chmod").arg("u+w").arg(path).status().expect("chmod").success());
    let mut bytes = std::fs::read(path).expect("read");
    bytes[offset] ^= 0x10;
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn seal_transfer_verify_and_catch_tampering() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    setup(d);
    let released = as_ada(d, &["custody", "release", "pkg", "--to", "bob.pub", "--purpose", "storage"]);
    assert_eq!(released.code, 0, "{}", released.stderr);
    let pending = custos_in(d, &["verify", "pkg", "--trust", "ada.pub", "--trust", "bob.pub"]);
    assert_eq!(pending.code, 0, "a pending transfer warns: {}", pending.stdout);
    assert!(
        pending.stdout.contains("VERIFIED with warnings") && pending.stdout.contains("in transit"),
        "{}",
        pending.stdout
    );

    let accepted = custos_in(d, &["custody", "accept", "pkg", "--key", "bob", "--passphrase-file", "pass"]);
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    let json = custos_in(d, &["verify", "pkg", "--trust", "ada.pub", "--trust", "bob.pub", "--json"]);
    assert_eq!(json.code, 0, "{}", json.stdout);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(report["verdict"], "pass");
    assert!(report["findings"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x["check"] == "custody.transfer")));

    let log = custos_in(d, &["custody", "log", "pkg"]);
    assert!(
        log.stdout.contains("sealed") && log.stdout.contains("released") && log.stdout.contains("accepted"),
        "{}",
        log.stdout
    );

    // No key trusted at all: the operator's mistake, said with its fix.
    support::assert_refused(&custos_in(d, &["verify", "pkg"]), "no --trust key");
    // Untrusted signer: the key trusted is not the one that signed.
    let carol = custos_in(
        d,
        &["keygen", "--name", "Carol", "--role", "examiner", "--out", "carol", "--no-passphrase"],
    );
    assert_eq!(carol.code, 0, "{}", carol.stderr);
    let untrusted = custos_in(d, &["verify", "pkg", "--trust", "carol.pub"]);
    assert_eq!(untrusted.code, 1);
    assert!(untrusted.stdout.contains("trust.signer"), "{}", untrusted.stdout);

    // A tampered copy: one bit of the evidence.
    let copy = d.join("copy");
    assert!(std::process::Command::new("cp")
        .arg("-r")
        .arg(d.join("pkg"))
        .arg(&copy)
        .status()
        .expect("cp")
        .success());
    flip(&copy.join("data/disk.img"), 1_000_000);
    let tampered = custos_in(d, &["verify", "copy", "--trust", "ada.pub", "--trust", "bob.pub"]);
    assert_eq!(tampered.code, 1);
    assert!(
        tampered.stdout.contains("FAIL  item.digest") && tampered.stdout.contains("the signed manifest says"),
        "{}",
        tampered.stdout
    );
    assert!(tampered.stdout.contains("copy: FAILED"), "{}", tampered.stdout);
    // --fast skips the bytes and says so.
    let fast = custos_in(d, &["verify", "copy", "--fast", "--trust", "ada.pub", "--trust", "bob.pub"]);
    assert!(fast.stdout.contains("not re-hashed"), "{}", fast.stdout);
}

#[test]
fn bad_input_to_the_evidence_commands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    setup(d);
    // Never overwrites a package.
    let again = as_ada(d, &["seal", "--case", "X", "--out", "pkg", "evidence/disk.img"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("never overwritten"), "{}", again.stderr);
    // A wrong passphrase.
    write(d, "wrong", b"not it\n");
    let wrong = custos_in(
        d,
        &["custody", "record", "pkg", "--key", "ada", "--passphrase-file", "wrong", "--action", "examined"],
    );
    assert_eq!(wrong.code, 2);
    assert!(wrong.stderr.contains("wrong passphrase"), "{}", wrong.stderr);
    // Accepting with nothing released.
    let nothing = custos_in(d, &["custody", "accept", "pkg", "--key", "bob", "--passphrase-file", "pass"]);
    assert_eq!(nothing.code, 2);
    assert!(nothing.stderr.contains("no pending release"), "{}", nothing.stderr);
    // Not a package; unknown action; bad legal basis.
    support::assert_refused(&custos_in(d, &["verify", "evidence"]), "is not an evidence package");
    let unknown = as_ada(d, &["custody", "record", "pkg", "--action", "teleported"]);
    assert!(unknown.stderr.contains("unknown action"), "{}", unknown.stderr);
    let basis =
        as_ada(d, &["seal", "--case", "X", "--legal-basis", "Warrant", "--out", "p2", "evidence/disk.img"]);
    support::assert_refused(&basis, "invalid legal basis: use KIND:REFERENCE");
    assert!(!d.join("p2").exists());
}

#[test]
fn fixity_verified_records_what_was_observed_and_refuses_a_failed_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    setup(d);
    let recorded = as_ada(d, &["custody", "record", "pkg", "--action", "fixity_verified"]);
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    let log = custos_in(d, &["custody", "log", "pkg", "--json"]);
    let last: serde_json::Value =
        serde_json::from_str(log.stdout.lines().last().expect("an event")).expect("JSON");
    assert_eq!(last["action"], "fixity_verified");
    assert_eq!(last["observed_digests"]["data/disk.img"]["md5"].as_str().map(str::len), Some(32));

    flip(&d.join("pkg/data/disk.img"), 3);
    let refused = as_ada(d, &["custody", "record", "pkg", "--action", "fixity_verified"]);
    assert_eq!(refused.code, 1, "a failed check is a failure, not a usage error");
    assert!(refused.stderr.contains("the fixity check failed"), "{}", refused.stderr);
    assert!(refused.stdout.contains("data/disk.img: md5 is"), "{}", refused.stdout);
}

#[test]
fn referenced_evidence_is_checked_only_when_supplied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    setup(d);
    write(d, "big/image.raw", &noise(3_000_000, 8));
    let sealed = as_ada(d, &["seal", "--case", "C-9", "--reference", "--out", "refpkg", "big/image.raw"]);
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    assert!(!d.join("refpkg/data/image.raw").exists(), "a reference is not copied");

    let without = custos_in(d, &["verify", "refpkg", "--trust", "ada.pub"]);
    assert_eq!(without.code, 0, "{}", without.stdout);
    assert!(without.stdout.contains("not checked: give --evidence"), "{}", without.stdout);

    let with = custos_in(d, &["verify", "refpkg", "--trust", "ada.pub", "--evidence", "big/image.raw"]);
    assert_eq!(with.code, 0, "{}", with.stdout);
    assert!(with.stdout.contains("pass  item.digest"), "{}", with.stdout);
    let with_dir = custos_in(d, &["verify", "refpkg", "--trust", "ada.pub", "--evidence", "big"]);
    assert_eq!(with_dir.code, 0, "{}", with_dir.stdout);

    write(d, "other/image.raw", &noise(3_000_000, 9));
    let wrong = custos_in(d, &["verify", "refpkg", "--trust", "ada.pub", "--evidence", "other/image.raw"]);
    assert_eq!(wrong.code, 1, "{}", wrong.stdout);
    assert!(wrong.stdout.contains("FAIL  item.digest"), "{}", wrong.stdout);
}

#[test]
fn segments_name_the_damaged_range_of_a_sealed_item() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    setup(d);
    let sealed = as_ada(
        d,
        &["seal", "--case", "C-3", "--segment-size", "256K", "--out", "segpkg", "evidence/disk.img"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    assert!(d.join("segpkg/custos/segments/disk.img.json").is_file());
    let clean = custos_in(d, &["verify", "segpkg", "--trust", "ada.pub"]);
    assert_eq!(clean.code, 0, "{}", clean.stdout);

    flip(&d.join("segpkg/data/disk.img"), 800_000);
    let damaged = custos_in(d, &["verify", "segpkg", "--trust", "ada.pub"]);
    assert_eq!(damaged.code, 1);
    assert!(
        damaged.stdout.contains("item.damaged_ranges")
            && damaged.stdout.contains("bytes 786432..1048576 (262144 bytes)"),
        "{}",
        damaged.stdout
    );

    // A segment list swapped for another cannot name ranges: its root is not the signed one.
    let list = d.join("segpkg/custos/segments/disk.img.json");
    let text = std::fs::read_to_string(&list).expect("list");
    let mut record: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
    record["digests"][0] = serde_json::Value::String("00".repeat(32));
    std::fs::write(&list, record.to_string()).expect("write");
    let swapped = custos_in(d, &["verify", "segpkg", "--trust", "ada.pub"]);
    assert!(
        swapped.stdout.contains("root does not match") || swapped.stdout.contains("not the list whose root"),
        "{}",
        swapped.stdout
    );
}

/// One package, the three example jurisdictions, different verdicts for stated reasons.
#[test]
fn policies_judge_one_package_differently() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    support::seal_content_package(d, "P-1", 100_000);
    let policies: Vec<String> = ["xa-auria-legacy-court", "xb-borealia-strict", "xc-cascadia-mla"]
        .iter()
        .map(|p| root.join(format!("policies/examples/{p}.json")).display().to_string())
        .collect();
    let mut args = vec!["verify", "pkg", "--json"];
    for policy in &policies {
        args.extend(["--policy", policy.as_str()]);
    }
    let judged = custos_in(d, &args);
    assert_eq!(judged.code, 1, "a failed policy fails the run: {}", judged.stdout);
    let report: serde_json::Value = serde_json::from_str(&judged.stdout).expect("JSON");
    assert_eq!(report["integrity"], "pass", "integrity itself is fine");
    assert_eq!(report["verdict"], "fail", "the overall verdict includes the policies");
    let verdicts: Vec<(String, String)> = report["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .map(|p| {
            (
                p["jurisdiction"].as_str().unwrap_or("?").to_owned(),
                p["verdict"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [("XA".into(), "pass".into()), ("XB".into(), "fail".into()), ("XC".into(), "fail".into())]
    );
    let text =
        custos_in(d, &args[..args.len()].iter().copied().filter(|a| *a != "--json").collect::<Vec<_>>());
    assert!(text.stdout.contains("content data, which needs mla_request"), "{}", text.stdout);
    assert!(text.stdout.contains("1 trusted principal(s) sealed"), "{}", text.stdout);
    assert!(text.stdout.contains("[Fictional Borealia Digital Evidence Act art. 7"), "{}", text.stdout);

    write(d, "bad.json", b"{\"custos_policy\":1,\n\"id\":\"a\",\n\"id\":\"b\"}");
    let bad = custos_in(d, &["policy", "check", "bad.json"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("duplicate key `id`") && bad.stderr.contains("line 3"), "{}", bad.stderr);
}

/// An authority signs a registry with `custos policy sign`; a policy that recognises the
/// registry trusts its keys; an unsigned or edited registry makes the policy unusable.
#[test]
fn signed_registries_carry_trust_across_borders() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    write(d, "disk.img", &noise(10_000, 3));
    assert_eq!(
        custos_in(d, &["seal", "--key", "rfc8032-test1", "--case", "X-1", "--out", "pkg", "disk.img"]).code,
        0
    );
    let field = |file: &str, name: &str| {
        let text = std::fs::read_to_string(d.join(file)).expect("key file");
        text.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned)).expect("field")
    };
    let examiner = field("rfc8032-test1.pub", "key-id");
    let (issuer_id, issuer_key) =
        (field("rfc8032-test2.pub", "key-id"), field("rfc8032-test2.pub", "public-key"));
    write(d, "registry.json", format!(r#"{{"custos_key_registry":1,"id":"xb-2026","issuer":"Borealia accreditation office (fictional)","jurisdiction":"XB","issued_at":"2026-01-01T00:00:00Z","keys":[{{"key_id":"{examiner}","principal":"Ada (accredited in XB)","roles":["examiner"]}}]}}"#).as_bytes());
    write(d, "policy.json", format!(r#"{{"custos_policy":1,"id":"xa-recognition","jurisdiction":"XA","name":"Auria","effective_from":"2026-01-01T00:00:00Z","signatures":{{"registries":[{{"path":"registry.json","issuer_key_id":"{issuer_id}","issuer_public_key":"{issuer_key}"}}],"cite":"fictional mutual recognition treaty art. 2"}}}}"#).as_bytes());

    let unsigned = custos_in(d, &["verify", "pkg", "--policy", "policy.json"]);
    assert_eq!(unsigned.code, 2, "{}", unsigned.stdout);
    assert!(unsigned.stderr.contains("registry.json.sig"), "{}", unsigned.stderr);

    let signed = custos_in(d, &["policy", "sign", "registry.json", "--key", "rfc8032-test2"]);
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let judged = custos_in(d, &["verify", "pkg", "--policy", "policy.json", "--json"]);
    assert_eq!(judged.code, 0, "{}", judged.stdout);
    assert!(
        judged.stdout.contains("1 trusted principal(s) sealed (Ada (accredited in XB))"),
        "{}",
        judged.stdout
    );

    let text = std::fs::read_to_string(d.join("registry.json"))
        .expect("registry")
        .replace("examiner\"]", "examiner\",\"judge\"]");
    std::fs::write(d.join("registry.json"), text).expect("edit");
    let edited = custos_in(d, &["verify", "pkg", "--policy", "policy.json"]);
    assert_eq!(edited.code, 2);
    assert!(edited.stderr.contains("not validly signed by its issuer"), "{}", edited.stderr);
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[test]
fn class6_operator_a_package_acquired_under_sudo_is_given_to_the_user_who_ran_sudo() {
    use std::os::unix::fs::MetadataExt as _;
    if !running_as_root() {
        eprintln!("skipping: changing owners needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    write(d, "disk.img", &noise(200_000, 5));
    let made = support::run(
        support::custos().current_dir(d).env("SUDO_UID", "4242").env("SUDO_GID", "4343").args([
            "acquire",
            "--key",
            "rfc8032-test1",
            "--case",
            "SU-1",
            "-q",
            "--out",
            "pkg",
            "disk.img",
        ]),
    );
    assert_eq!(made.code, 0, "{}{}", made.stdout, made.stderr);
    assert!(made.stderr.contains("given to the user who ran sudo (uid 4242, gid 4343)"), "{}", made.stderr);
    let mut seen = 0;
    let mut stack = vec![d.join("pkg")];
    while let Some(path) = stack.pop() {
        let metadata = std::fs::symlink_metadata(&path).expect("entry");
        assert_eq!((metadata.uid(), metadata.gid()), (4242, 4343), "{}", path.display());
        seen += 1;
        if metadata.is_dir() {
            stack.extend(std::fs::read_dir(&path).expect("folder").map(|e| e.expect("entry").path()));
        }
    }
    assert!(seen > 8, "the folders and every file: {seen}");
    // Only the new package: the key and the source stay whose they were.
    assert_eq!(std::fs::metadata(d.join("rfc8032-test1.key")).expect("key").uid(), 0);
    assert_eq!(std::fs::metadata(d.join("disk.img")).expect("source").uid(), 0);
    // Ownership is not signed: the package verifies the same.
    assert_eq!(custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]).code, 0);
    // Without sudo's variables nothing changes owner.
    let plain = custos_in(
        d,
        &["acquire", "--key", "rfc8032-test1", "--case", "SU-2", "-q", "--out", "own", "disk.img"],
    );
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert_eq!(std::fs::metadata(d.join("own/custos/manifest.json")).expect("manifest").uid(), 0);
}

#[test]
fn class6_operator_a_custody_command_denied_by_permissions_says_whose_the_package_is_and_the_fix() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    use std::os::unix::process::CommandExt as _;
    if !running_as_root() {
        eprintln!("skipping: running as another user needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    support::seal_content_package(d, "SU-3", 5_000);
    assert_eq!(std::fs::metadata(d.join("pkg")).expect("package").uid(), 0, "root's, as after sudo");
    // The examiner's own key, readable by her only (uid 65534 here).
    std::fs::create_dir(d.join("mine")).expect("folder");
    for suffix in ["key", "pub"] {
        let to = d.join(format!("mine/ada.{suffix}"));
        std::fs::copy(d.join(format!("rfc8032-test1.{suffix}")), &to).expect("copy");
        std::os::unix::fs::chown(&to, Some(65534), Some(65534)).expect("chown");
    }
    std::os::unix::fs::chown(d.join("mine"), Some(65534), Some(65534)).expect("chown");
    let denied = support::run(
        support::custos()
            .current_dir(d)
            .uid(65534)
            .gid(65534)
            .args(["custody", "record", "pkg", "--key", "mine/ada", "--action", "examined"]),
    );
    assert_eq!(denied.code, 2, "{}{}", denied.stdout, denied.stderr);
    assert!(denied.stderr.contains("pkg belongs to root (uid 0)"), "whose it is: {}", denied.stderr);
    assert!(denied.stderr.contains("sudo chown -R 65534:65534 pkg"), "the fix: {}", denied.stderr);
}
