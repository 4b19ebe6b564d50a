//! The CASE, DFXML and hashdeep exports checked by the ecosystem's own tools
//! (`case_validate` from case-utils, `xmllint`, Python's XML parser, `hashdeep`), and
//! `custos hash --audit` counted against real `hashdeep -a -vv` on a tree with moved, new,
//! missing and changed files. Each test skips when its tool is missing and fails instead
//! under `CUSTOS_INTEROP=require` (as in CI).

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{custos_in, external, noise, run, tool, write};

/// The names a hostile evidence folder could hold (XML and JSON specials, non-ASCII).
const HOSTILE: &str = "we<ird>&\"name' ö.txt";

/// `pkg`: disk.img (with 64 KiB segments, MD5/SHA-1/SHA-256/BLAKE3) and the hostile name,
/// sealed by Ada with an exhibit number and a warrant, then examined.
fn package(dir: &Path) {
    let made = custos_in(
        dir,
        &["keygen", "--name", "Ada & <Co>", "--role", "examiner", "--out", "ada", "--no-passphrase"],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    write(dir, "evidence/disk.img", &noise(300_000, 12));
    write(dir, format!("evidence/{HOSTILE}"), b"seized 2026-11-02\n");
    let sealed = custos_in(
        dir,
        &[
            "seal",
            "--key",
            "ada",
            "--case",
            "C-12",
            "--exhibit",
            "A-1",
            "--legal-basis",
            "warrant:W-1:AG Berlin",
            "--location",
            "Lab 1",
            "--algo",
            "md5,sha1,sha256,blake3",
            "--segment-size",
            "64K",
            "--out",
            "pkg",
            "evidence/disk.img",
            &format!("evidence/{HOSTILE}"),
        ],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let examined = custos_in(
        dir,
        &["custody", "record", "pkg", "--action", "examined", "--key", "ada", "--purpose", "triage"],
    );
    assert_eq!(examined.code, 0, "{}", examined.stderr);
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("pkg/custos/manifest.json")).expect("manifest"))
        .expect("JSON")
}

#[test]
fn case_export_validates_with_case_utils_and_keeps_its_ids() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    package(d);
    let exported = custos_in(d, &["export", "case", "pkg", "--out", "pkg.jsonld", "--json"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let record: Value = serde_json::from_str(&exported.stdout).expect("one record");
    assert_eq!(record["written"][0]["kind"], "case_jsonld");
    assert_eq!(record["signature"], "verified_with_shipped_keys");
    // Stable: the same package gives the same document (ids included), to stdout too.
    let again = custos_in(d, &["export", "case", "pkg"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let text = std::fs::read_to_string(d.join("pkg.jsonld")).expect("written");
    let ids = |text: &str| -> Vec<String> {
        let v: Value = serde_json::from_str(text).expect("JSON-LD");
        v["@graph"]
            .as_array()
            .expect("graph")
            .iter()
            .map(|n| n["@id"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!(ids(&text), ids(&again.stdout));
    assert!(text.contains(&HOSTILE.replace('"', "\\\"")), "the name, JSON-escaped");
    assert!(text.contains("\"uco-types:hashMethod\": \"SHA1\""));
    assert!(!text.contains("\"BLAKE3\""), "BLAKE3 is noted, never a Hash");
    // Never overwritten.
    let twice = custos_in(d, &["export", "case", "pkg", "--out", "pkg.jsonld"]);
    assert_eq!(twice.code, 2, "{}", twice.stderr);

    let Some(case_validate) = tool("case_validate") else { return };
    let valid = run(Command::new(&case_validate).current_dir(d).args([
        "--built-version",
        "case-1.5.0",
        "pkg.jsonld",
    ]));
    assert_eq!(valid.code, 0, "case_validate: {}{}", valid.stdout, valid.stderr);
    assert!(valid.stdout.contains("Conforms: True"), "{}", valid.stdout);
    // The validator is not a rubber stamp: a hash value that is not hex fails it.
    let digest = manifest(d)["items"][0]["digests"]["sha256"].as_str().expect("sha256").to_owned();
    std::fs::write(d.join("bad.jsonld"), text.replace(&digest, "not-hex")).expect("write");
    let invalid = run(Command::new(&case_validate).current_dir(d).args([
        "--built-version",
        "case-1.5.0",
        "bad.jsonld",
    ]));
    assert_ne!(invalid.code, 0, "case_validate accepted a non-hex hashValue: {}", invalid.stdout);
}

#[test]
fn dfxml_export_is_well_formed_and_reads_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    package(d);
    let exported = custos_in(d, &["export", "dfxml", "pkg", "--out", "pkg.xml"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    assert!(exported.stderr.contains("signed by Ada & <Co>"), "{}", exported.stderr);
    if let Some(xmllint) = tool("xmllint") {
        external(d, &xmllint, &["--noout", "pkg.xml"]);
    }
    let Some(python) = tool("python3") else { return };
    // A real XML parser reads every fileobject back: name, size and digests as sealed.
    let script = r#"
import json, sys, xml.etree.ElementTree as ET
ns = {"d": "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"}
root = ET.parse(sys.argv[1]).getroot()
out = {"program": root.find("d:creator/d:program", ns).text, "files": {}}
for fo in root.findall("d:fileobject", ns):
    out["files"][fo.find("d:filename", ns).text] = {
        "size": int(fo.find("d:filesize", ns).text),
        "digests": {h.get("type").lower(): h.text for h in fo.findall("d:hashdigest", ns)},
        "runs": [[int(r.get("file_offset")), int(r.get("len"))] for r in fo.findall("d:byte_runs/d:byte_run", ns)],
    }
print(json.dumps(out))
"#;
    let read = external(d, &python, &["-c", script, "pkg.xml"]);
    let read: Value = serde_json::from_str(&read).expect("the reader's JSON");
    assert_eq!(read["program"], "custos");
    let sealed = manifest(d);
    for item in sealed["items"].as_array().expect("items") {
        let path = item["path"].as_str().expect("path");
        let found = &read["files"][path];
        assert_eq!(found["size"], item["size"], "{path}");
        for algorithm in ["md5", "sha1", "sha256"] {
            assert_eq!(found["digests"][algorithm], item["digests"][algorithm], "{path} {algorithm}");
        }
        assert!(found["digests"].get("blake3").is_none());
        assert_eq!(
            found["runs"].as_array().map(Vec::len),
            item["segments"]["count"].as_u64().map(|n| n as usize)
        );
    }
    assert_eq!(read["files"]["data/disk.img"]["runs"][4], serde_json::json!([262_144, 37_856]));
}

#[test]
fn hashdeep_accepts_the_export_and_custos_reads_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    package(d);
    let exported = custos_in(d, &["export", "hashdeep", "pkg", "--out", "pkg.hashdeep"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let text = std::fs::read_to_string(d.join("pkg.hashdeep")).expect("written");
    assert!(
        text.starts_with("%%%% HASHDEEP-1.0\n%%%% size,md5,sha1,sha256,filename\n## Invoked from: "),
        "{text}"
    );
    // custos reads it back: every digest of every item checks out from inside the package.
    let checked = custos_in(&d.join("pkg"), &["hash", "--check", "../pkg.hashdeep"]);
    assert_eq!(checked.code, 0, "{}{}", checked.stdout, checked.stderr);
    assert_eq!(checked.stdout.matches(": OK").count(), 6, "{}", checked.stdout);
    let audited = custos_in(&d.join("pkg"), &["hash", "--audit", "../pkg.hashdeep", "data"]);
    assert_eq!(audited.code, 0, "{}{}", audited.stdout, audited.stderr);
    assert!(audited.stdout.contains("Files matched: 2"), "{}", audited.stdout);

    let Some(_hashdeep) = tool("hashdeep") else { return };
    // The command the export prints, run as printed, even with a FIFO and a link to an
    // endless device planted in data/ (red team, round 3: it waited on the FIFO forever).
    let command = exported
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("audit with: "))
        .unwrap_or_else(|| panic!("the export prints the command: {}", exported.stdout))
        .to_owned();
    for planted in [None, Some("fifo"), Some("link")] {
        match planted {
            Some("fifo") => assert!(std::process::Command::new("mkfifo")
                .arg(d.join("pkg/data/planted.fifo"))
                .status()
                .expect("mkfifo")
                .success()),
            Some(_) => {
                std::os::unix::fs::symlink("/dev/zero", d.join("pkg/data/planted.link")).expect("link")
            }
            None => {}
        }
        // timeout(1) kills the shell and hashdeep alike (its own process group) when late.
        let passed = support::run_command_with_deadline(
            std::process::Command::new("timeout")
                .args(["-s", "KILL", "50", "sh", "-c", &command])
                .current_dir(d),
            std::time::Duration::from_secs(60),
        );
        assert_eq!(
            passed.code, 0,
            "{planted:?}: the printed command ended in time: {}{}",
            passed.stdout, passed.stderr
        );
        assert!(
            passed.stdout.contains("hashdeep: Audit passed"),
            "{planted:?}: {}{}",
            passed.stdout,
            passed.stderr
        );
        assert!(passed.stdout.contains("Files matched: 2"), "{planted:?}: {}", passed.stdout);
    }
}

#[test]
fn exports_refuse_what_cannot_be_vouched_for_or_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    package(d);
    // A hashdeep line cannot hold a newline in a name: refused, nothing written.
    write(d, "odd/new\nline", b"x");
    let sealed =
        custos_in(d, &["seal", "--key", "ada", "--case", "C-13", "--out", "odd-pkg", "odd/new\nline"]);
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let refused = custos_in(d, &["export", "hashdeep", "odd-pkg", "--out", "odd.hashdeep"]);
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert!(refused.stderr.contains("cannot hold a newline"), "{}", refused.stderr);
    assert!(!d.join("odd.hashdeep").exists());
    // CASE and DFXML escape it instead.
    for format in ["case", "dfxml"] {
        let exported = custos_in(d, &["export", format, "odd-pkg", "--out", &format!("odd.{format}")]);
        assert_eq!(exported.code, 0, "{format}: {}", exported.stderr);
    }
    if let Some(xmllint) = tool("xmllint") {
        external(d, &xmllint, &["--noout", "odd.dfxml"]);
    }
    // Inside the package: refused (the package would no longer verify).
    let inside = custos_in(d, &["export", "case", "pkg", "--out", "pkg/case.jsonld"]);
    assert_eq!(inside.code, 2, "{}", inside.stderr);
    assert!(inside.stderr.contains("inside the evidence package"), "{}", inside.stderr);
    // An edited manifest no longer verifies: nothing is exported as if it did.
    let manifest = d.join("pkg/custos/manifest.json");
    let mut permissions = std::fs::metadata(&manifest).expect("manifest").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&manifest, permissions).expect("writable");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, text.replace("C-12", "C-99")).expect("edit");
    for format in ["case", "dfxml", "hashdeep"] {
        let out = format!("forged.{format}");
        let forged = custos_in(d, &["export", format, "pkg", "--out", &out, "--json"]);
        assert_eq!(forged.code, 2, "{format}: {}", forged.stdout);
        assert!(forged.stdout.contains("\"verdict\":\"error\""), "{}", forged.stdout);
        assert!(forged.stdout.contains("no valid signature"), "{}", forged.stdout);
        assert!(!d.join(&out).exists());
    }
}

/// A tree audited by both: a file moved, one changed, one removed, a duplicate removed, one
/// added, and a known list with one forged SHA-256 (a partial match). The counts agree.
#[test]
fn audit_counts_agree_with_hashdeep() {
    let Some(hashdeep) = tool("hashdeep") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let t = d.join("t");
    for (name, bytes) in [
        ("a", &b"a\n"[..]),
        ("b", b"b\n"),
        ("sub/c", b"c\n"),
        ("d", b"d\n"),
        ("dup1", b"dup\n"),
        ("dup2", b"dup\n"),
    ] {
        write(&t, name, bytes);
    }
    let known = external(&t, &hashdeep, &["-c", "md5,sha256", "-l", "-r", "."]);
    let forged_d = known
        .lines()
        .map(|line| {
            if line.ends_with(",./d") {
                let mut fields: Vec<String> = line.split(',').map(str::to_owned).collect();
                fields[2] = "0".repeat(64);
                fields.join(",")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(d.join("known.txt"), forged_d).expect("known list");
    std::fs::rename(t.join("a"), t.join("sub/a2")).expect("move");
    std::fs::write(t.join("b"), b"B\n").expect("change");
    std::fs::remove_file(t.join("dup2")).expect("remove");
    write(&t, "e", b"e\n");

    let counts = |text: &str| -> Vec<(String, u64)> {
        let labels = [
            "Files matched",
            "Files partially matched",
            "Files moved",
            "New files found",
            "Known files not found",
        ];
        labels
            .iter()
            .map(|label| {
                let line = text
                    .lines()
                    .find(|l| l.trim_start().starts_with(label))
                    .unwrap_or_else(|| panic!("{label}: {text}"));
                let n = line.rsplit(':').next().and_then(|n| n.trim().parse().ok()).expect("a count");
                (label.to_string(), n)
            })
            .collect()
    };
    let reference = run(Command::new(&hashdeep).current_dir(&t).args([
        "-a",
        "-vv",
        "-l",
        "-k",
        "../known.txt",
        "-r",
        ".",
    ]));
    assert_eq!(reference.code, 1, "hashdeep fails this audit: {}", reference.stdout);
    let mine = custos_in(&t, &["hash", "--audit", "../known.txt", "."]);
    assert_eq!(mine.code, 1, "{}{}", mine.stdout, mine.stderr);
    assert_eq!(
        counts(&mine.stdout),
        counts(&reference.stdout),
        "custos:\n{}\nhashdeep:\n{}",
        mine.stdout,
        reference.stdout
    );
    assert_eq!(counts(&mine.stdout).iter().map(|(_, n)| *n).collect::<Vec<_>>(), [2, 1, 1, 2, 2]);
    // Moved and not-used lines name the same files as hashdeep's.
    for line in ["./sub/a2: Moved from ./a", "./b: Known file not used", "./dup2: Known file not used"] {
        assert!(reference.stdout.contains(line), "hashdeep: {}", reference.stdout);
        assert!(mine.stdout.contains(line), "custos: {}", mine.stdout);
    }
    let json = custos_in(&t, &["hash", "--audit", "--json", "../known.txt", "."]);
    let record: Value = serde_json::from_str(&json.stdout).expect("one record");
    assert_eq!(record["verdict"], "fail");
    assert_eq!(record["moved"]["./sub/a2"], "./a");
    assert_eq!(record["missing"], serde_json::json!(["./b", "./dup2"]));
    // An untouched copy passes both.
    std::fs::rename(t.join("sub/a2"), t.join("a")).expect("move back");
    std::fs::write(t.join("b"), b"b\n").expect("restore");
    write(&t, "dup2", b"dup\n");
    std::fs::remove_file(t.join("e")).expect("remove the new file");
    let known = external(&t, &hashdeep, &["-c", "md5,sha256", "-l", "-r", "."]);
    std::fs::write(d.join("clean.txt"), known).expect("known list");
    let clean = custos_in(&t, &["hash", "--audit", "../clean.txt", "."]);
    assert_eq!(clean.code, 0, "{}", clean.stdout);
    let reference = external(&t, &hashdeep, &["-a", "-vv", "-l", "-k", "../clean.txt", "-r", "."]);
    assert_eq!(counts(&clean.stdout), counts(&reference));
}
