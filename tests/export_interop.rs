//! What a court can check without Custos: the package is a bag bagit-python accepts, the
//! manifest's minisign signature verifies with the real minisign, and the exported checksum
//! lists pass sha256sum and b3sum. Each also fails once the thing it vouches for changes.

mod support;

use std::path::Path;
use std::process::Command;

use support::{custos_in, external, noise, run, tool, write};

fn sealed_package(dir: &Path) {
    let made =
        custos_in(dir, &["keygen", "--name", "Ada", "--role", "examiner", "--out", "ada", "--no-passphrase"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    write(dir, "evidence/disk.img", &noise(1_500_000, 9));
    write(dir, "evidence/log.txt", b"seized 2026-11-02\n");
    let sealed = custos_in(
        dir,
        &["seal", "--key", "ada", "--case", "C-1", "--out", "pkg", "evidence/disk.img", "evidence/log.txt"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
}

#[test]
fn minisign_verifies_the_exported_manifest_signature() {
    let Some(minisign) = tool("minisign") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed_package(d);
    let exported = custos_in(d, &["export", "minisign", "pkg", "--key", "ada"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let key = std::fs::read_dir(d.join("pkg/custos/keys"))
        .expect("keys")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".minisign.pub"))
        .expect("a minisign key");
    let key = key.to_str().expect("UTF-8");
    let verified = external(d, &minisign, &["-Vm", "pkg/custos/manifest.json", "-p", key]);
    assert!(verified.contains("Trusted comment: custos manifest, case C-1"), "{verified}");
    // The package still verifies (the export refreshed the tag manifests).
    let verify = custos_in(d, &["verify", "pkg", "--trust", "ada.pub"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    // A court checks with a key it holds, exported from Ada's own .pub, not the package's copy.
    let own = custos_in(d, &["key", "export-minisign", "ada.pub", "--out", "ada.minisign.pub"]);
    assert_eq!(own.code, 0, "{}", own.stderr);
    let verified = external(d, &minisign, &["-Vm", "pkg/custos/manifest.json", "-p", "ada.minisign.pub"]);
    assert!(verified.contains("Signature and comment signature verified"), "{verified}");
    let shown = custos_in(d, &["key", "show", "ada.pub", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).expect("JSON");
    assert_eq!(shown["fingerprint"].as_str().map(str::len), Some(39), "{shown}");
    assert!(shown["key_id"]
        .as_str()
        .is_some_and(|id| id.starts_with(&shown["fingerprint"].as_str().unwrap_or("x")[..4])));

    // One character of the manifest changed: minisign refuses it.
    let manifest = d.join("pkg/custos/manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, text.replace("C-1", "C-2")).expect("edit");
    let refused =
        run(Command::new(&minisign).current_dir(d).args(["-Vm", "pkg/custos/manifest.json", "-p", key]));
    assert_ne!(refused.code, 0, "minisign accepted an edited manifest");
}

#[test]
fn exported_checksums_pass_coreutils_and_b3sum() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed_package(d);
    let exported = custos_in(d, &["export", "checksums", "pkg", "--out", "sums"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let pkg = d.join("pkg");
    if let Some(sha256sum) = tool("sha256sum") {
        let ok = external(&pkg, &sha256sum, &["-c", "../sums/SHA256SUMS"]);
        assert_eq!(ok.matches(": OK").count(), 2, "{ok}");
    }
    if let Some(b3sum) = tool("b3sum") {
        let ok = external(&pkg, &b3sum, &["--check", "../sums/B3SUMS"]);
        assert_eq!(ok.matches(": OK").count(), 2, "{ok}");
    }
    // The bag's own manifest is already in sha256sum's format.
    if let Some(sha256sum) = tool("sha256sum") {
        let ok = external(&pkg, &sha256sum, &["-c", "manifest-sha256.txt"]);
        assert_eq!(ok.matches(": OK").count(), 2, "{ok}");
    }
    // The same lists refuse one flipped bit, naming the file: they check something.
    let payload =
        std::fs::read_dir(pkg.join("data")).expect("data").next().expect("a file").expect("entry").path();
    let name = format!("data/{}", payload.file_name().expect("name").to_string_lossy());
    support::flip_bit(&payload, 10);
    for (tool_name, args) in [
        ("sha256sum", ["-c", "../sums/SHA256SUMS"]),
        ("b3sum", ["--check", "../sums/B3SUMS"]),
        ("sha256sum", ["-c", "manifest-sha256.txt"]),
    ] {
        let Some(program) = tool(tool_name) else { continue };
        let refused = run(Command::new(&program).current_dir(&pkg).args(args));
        assert_ne!(refused.code, 0, "{tool_name} {args:?} accepted a flipped bit");
        assert!(refused.stdout.contains(&format!("{name}: FAILED")), "{tool_name}: {}", refused.stdout);
    }
}

#[test]
fn bagit_python_accepts_the_package() {
    let Some(bagit) = tool("bagit.py") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed_package(d);
    let made = custos_in(
        d,
        &["keygen", "--name", "Bob", "--role", "evidence_custodian", "--out", "bob", "--no-passphrase"],
    );
    assert_eq!(made.code, 0);
    assert_eq!(custos_in(d, &["custody", "release", "pkg", "--key", "ada", "--to", "bob.pub"]).code, 0);
    assert_eq!(custos_in(d, &["custody", "accept", "pkg", "--key", "bob"]).code, 0);
    let valid = run(Command::new(&bagit).current_dir(d).args(["--validate", "pkg"]));
    assert_eq!(valid.code, 0, "bagit.py: {}", valid.stderr);
    // And refuses the bag once one payload bit is flipped.
    let payload =
        std::fs::read_dir(d.join("pkg/data")).expect("data").next().expect("a file").expect("entry").path();
    support::flip_bit(&payload, 10);
    let refused = run(Command::new(&bagit).current_dir(d).args(["--validate", "pkg"]));
    assert_ne!(refused.code, 0, "bagit.py accepted a flipped bit: {}", refused.stderr);
    let name = format!("data/{}", payload.file_name().expect("name").to_string_lossy());
    assert!(
        refused.stderr.contains(&format!("{name} sha256 validation failed")),
        "bagit.py names the file: {}",
        refused.stderr
    );
}

/// A package of one split raw image (three 1 MiB parts) as `dir/split`, and one of the
/// `multi.E01` test set (eight segments) as `dir/e01`, both sealed by TEST 1.
fn packages_kept_in_several_files(dir: &Path) {
    support::copy_test_keys(dir);
    write(dir, "disk.img", &noise(2_500_000, 3));
    let acquired = custos_in(
        dir,
        &[
            "acquire",
            "--key",
            "rfc8032-test1",
            "--case",
            "P-1",
            "-q",
            "--split",
            "1M",
            "--out",
            "split",
            "disk.img",
        ],
    );
    assert_eq!(acquired.code, 0, "{}", acquired.stderr);
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-images/e01");
    std::fs::create_dir(dir.join("set")).expect("folder");
    for n in 1..=8 {
        std::fs::copy(images.join(format!("multi.E0{n}")), dir.join(format!("set/multi.E0{n}")))
            .expect("copy");
    }
    let sealed = custos_in(
        dir,
        &["seal", "--key", "rfc8032-test1", "--case", "P-2", "-q", "--out", "e01", "set/multi.E01"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
}

/// Text in an HTML attribute or element, decoded as `html::esc` encodes it.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The report's item re-check commands and what each must print.
fn rechecks(html: &str) -> Vec<(String, String)> {
    html.split("<code class=\"recheck\">")
        .skip(1)
        .map(|rest| {
            let command = rest.split("</code>").next().expect("a command");
            let expect = rest.split("<span class=\"mono expect\">").nth(1).expect("an expected output");
            (unescape(command), unescape(expect.split("</span>").next().expect("its end")))
        })
        .collect()
}

/// Runs a re-check command through the shell; whether it printed `expect` (spaces and tabs
/// counted alike) and ended well.
fn recheck_passes(dir: &Path, command: &str, expect: &str) -> bool {
    let done = run(Command::new("sh").arg("-c").arg(command).current_dir(dir));
    let said = done.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    done.code == 0 && said.contains(expect)
}

#[test]
fn class6_operator_report_recheck_commands_work_for_split_and_e01_items_and_refuse_a_flipped_byte() {
    let (Some(_), Some(_)) = (tool("sha256sum"), tool("ewfverify")) else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    packages_kept_in_several_files(d);
    for (package, tool_name, part) in
        [("split", "sha256sum", "data/disk.img.002"), ("e01", "ewfverify", "data/multi.E03")]
    {
        let out = format!("{package}.html");
        let made = custos_in(d, &["report", package, "--trust", "rfc8032-test1.pub", "--out", &out]);
        assert_eq!(made.code, 0, "{}{}", made.stdout, made.stderr);
        let html = std::fs::read_to_string(d.join(&out)).expect("report");
        let commands = rechecks(&html);
        assert_eq!(commands.len(), 1, "one command for the one item: {commands:?}");
        let (command, expect) = &commands[0];
        assert!(command.contains(tool_name), "{command}");
        assert!(recheck_passes(Path::new("/"), command, expect), "{command} must print {expect}");
        let signed = html
            .split("<code class=\"signed-recheck\">")
            .nth(1)
            .and_then(|rest| rest.split("</code>").next())
            .map(unescape)
            .expect("a check against the signed digests");
        let signed_passes = || tool("jq").is_none() || run(Command::new("sh").arg("-c").arg(&signed)).code == 0;
        assert!(signed_passes(), "{signed}: every part checks out");
        let part = d.join(package).join(part);
        let middle = std::fs::metadata(&part).expect("part").len() as usize / 2;
        support::flip_bit(&part, middle);
        assert!(!recheck_passes(Path::new("/"), command, expect), "{command} accepted a flipped byte");
        assert!(tool("jq").is_none() || !signed_passes(), "{signed} accepted a flipped byte");
    }
}

#[test]
fn class6_operator_exported_checksums_of_split_and_e01_items_list_the_files_and_pass_the_tools() {
    let (Some(sha256sum), Some(b3sum)) = (tool("sha256sum"), tool("b3sum")) else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    packages_kept_in_several_files(d);
    for (package, files, part) in [("split", 3, "data/disk.img.002"), ("e01", 8, "data/multi.E03")] {
        let sums = format!("{package}-sums");
        let exported = custos_in(d, &["export", "checksums", package, "--out", &sums]);
        assert_eq!(exported.code, 0, "{}", exported.stderr);
        let inside = d.join(package);
        let list = format!("../{sums}/SHA256SUMS");
        let ok = external(&inside, &sha256sum, &["-c", &list]);
        assert_eq!(ok.matches(": OK").count(), files, "every file the item is kept in: {ok}");
        let b3 = format!("../{sums}/B3SUMS");
        let ok = external(&inside, &b3sum, &["--check", &b3]);
        assert_eq!(ok.matches(": OK").count(), files, "{ok}");
        support::flip_bit(&inside.join(part), 100);
        let refused = run(Command::new(&sha256sum).current_dir(&inside).args(["-c", &list]));
        assert_ne!(refused.code, 0, "sha256sum accepted a flipped byte");
        assert!(refused.stdout.contains(&format!("{part}: FAILED")), "{}", refused.stdout);
        let refused = run(Command::new(&b3sum).current_dir(&inside).args(["--check", &b3]));
        assert_ne!(refused.code, 0, "b3sum accepted a flipped byte");
        assert!(refused.stdout.contains(&format!("{part}: FAILED")), "{}", refused.stdout);
    }
}

/// Red team (round 3): the report's first re-check commands were the bag's own lists
/// (`sha256sum -c manifest-sha256.txt`, `bagit.py --validate`), which pass after whoever holds
/// the package changes a file and rewrites them. The first commands now check the bytes
/// against the signed manifest, and the bag's lists come after, said to be unsigned.
#[test]
fn class6_operator_report_rechecks_against_signed_digests_first_and_calls_the_bag_lists_unsigned() {
    let (Some(sha256sum), Some(_jq)) = (tool("sha256sum"), tool("jq")) else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed_package(d);
    let made = custos_in(d, &["report", "pkg", "--trust", "ada.pub", "--out", "r.html"]);
    assert_eq!(made.code, 0, "{}{}", made.stdout, made.stderr);
    let html = std::fs::read_to_string(d.join("r.html")).expect("report");
    let signed = unescape(
        html.split("<code class=\"signed-recheck\">")
            .nth(1)
            .and_then(|rest| rest.split("</code>").next())
            .expect("a check against the signed digests"),
    );
    let bag_list = html.find("manifest-sha256.txt").expect("the bag's list is still offered");
    assert!(html.find("signed-recheck").expect("signed") < bag_list, "the signed check comes first");
    assert!(html[..bag_list].contains("Its lists are not signed"), "and the bag's lists are said to be unsigned");

    let genuine = run(Command::new("sh").arg("-c").arg(&signed));
    assert_eq!(genuine.code, 0, "{signed}: {}{}", genuine.stdout, genuine.stderr);
    assert_eq!(genuine.stdout.matches(": OK").count(), 2, "{}", genuine.stdout);

    // Change a file and rewrite the bag's lists, as anyone holding the package can.
    let pkg = d.join("pkg");
    support::flip_bit(&pkg.join("data/disk.img"), 1000);
    let rewritten = run(Command::new(&sha256sum).current_dir(&pkg).args(["data/disk.img", "data/log.txt"]));
    std::fs::write(pkg.join("manifest-sha256.txt"), &rewritten.stdout).expect("rewrite");
    let _ = std::fs::remove_file(pkg.join("manifest-md5.txt"));
    support::recompute_tag_manifests(&pkg);
    let bag = run(Command::new(&sha256sum).current_dir(&pkg).args(["-c", "manifest-sha256.txt"]));
    assert_eq!(bag.code, 0, "the bag's own list is fooled, as the report says: {}", bag.stderr);
    let caught = run(Command::new("sh").arg("-c").arg(&signed));
    assert_ne!(caught.code, 0, "the signed digests catch it: {}", caught.stdout);
    assert!(caught.stdout.contains("data/disk.img: FAILED"), "{}", caught.stdout);
}
