//! Transcript tests of `custos hash`: output formats, JSON contract, check mode, segment
//! checks, exit codes, and the demo.

mod support;

use support::{custos, custos_in, noise, run, run_with_stdin, write};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const ABC_MD5: &str = "900150983cd24fb0d6963f7d28e17f72";
const ABC_BLAKE3: &str = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";

#[test]
fn one_algorithm_prints_gnu_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "abc.txt", b"abc");
    let result = custos_in(dir.path(), &["hash", "--algo", "sha256", "abc.txt"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(result.stdout, format!("{ABC_SHA256}  abc.txt\n"));
}

#[test]
fn several_algorithms_print_bsd_tagged_lines_in_fixed_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "abc.txt", b"abc");
    let result = custos_in(dir.path(), &["hash", "--algo", "blake3,md5,sha256", "abc.txt"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(
        result.stdout,
        format!(
            "MD5 (abc.txt) = {ABC_MD5}\nSHA256 (abc.txt) = {ABC_SHA256}\nBLAKE3 (abc.txt) = {ABC_BLAKE3}\n"
        )
    );
}

#[test]
fn json_lines_keep_the_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "abc.txt", b"abc");
    let result = custos_in(
        dir.path(),
        &["hash", "--json", "--algo", "md5,sha256", "--segment-size", "2", "abc.txt", "missing.bin"],
    );
    assert_eq!(result.code, 2, "a missing input is an I/O error: {}", result.stderr);
    let lines: Vec<serde_json::Value> =
        result.stdout.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    assert_eq!(lines.len(), 2);
    let ok = &lines[0];
    assert_eq!(ok["path"], "abc.txt");
    assert_eq!(ok["size"], 3);
    assert_eq!(ok["digests"]["md5"], ABC_MD5);
    assert_eq!(ok["digests"]["sha256"], ABC_SHA256);
    assert_eq!(ok["segments"]["size"], 2);
    assert_eq!(ok["segments"]["algorithm"], "blake3");
    assert_eq!(ok["segments"]["count"], 2);
    assert_eq!(ok["segments"]["root"].as_str().map(str::len), Some(64));
    assert!(ok.get("error").is_none());
    let failed = &lines[1];
    assert_eq!(failed["path"], "missing.bin");
    let error = failed["error"].as_str().expect("error text");
    assert!(error.contains("cannot open missing.bin") && error.contains("No such file"), "{error}");
}

#[test]
fn a_missing_file_among_many_does_not_stop_the_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "a", b"abc");
    write(dir.path(), "c", b"");
    let result = custos_in(dir.path(), &["hash", "--algo", "sha256", "a", "b", "c"]);
    assert_eq!(result.code, 2);
    assert_eq!(result.stdout, format!("{ABC_SHA256}  a\n{EMPTY_SHA256}  c\n"));
    assert!(result.stderr.contains("cannot open b: No such file or directory"), "{}", result.stderr);
}

#[test]
fn stdin_is_hashed_with_dash() {
    let result = run_with_stdin(custos().args(["hash", "--algo", "sha256", "-"]), b"abc");
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(result.stdout, format!("{ABC_SHA256}  -\n"));
    let empty = run_with_stdin(custos().args(["hash", "--algo", "sha256", "-"]), b"");
    assert_eq!(empty.stdout, format!("{EMPTY_SHA256}  -\n"));
}

#[test]
fn trees_are_sorted_links_recorded_specials_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("t");
    write(&root, "b/inner", b"abc");
    write(&root, "a", b"abc");
    std::os::unix::fs::symlink("/etc/shadow", root.join("link")).expect("symlink");
    assert!(std::process::Command::new("mkfifo").arg(root.join("fifo")).status().expect("mkfifo").success());
    let result = custos_in(dir.path(), &["hash", "--algo", "sha256", "t"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(result.stdout, format!("{ABC_SHA256}  t/a\n{ABC_SHA256}  t/b/inner\n"));
    assert!(
        result.stderr.contains("t/link: symbolic link to /etc/shadow, recorded, not followed"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains("t/fifo: fifo skipped"), "{}", result.stderr);

    let json = custos_in(dir.path(), &["hash", "--json", "--algo", "sha256", "t"]);
    let kinds: Vec<String> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .map(|v| format!("{}:{}", v["path"].as_str().unwrap_or("?"), v["kind"].as_str().unwrap_or("file")))
        .collect();
    assert_eq!(kinds, ["t/a:file", "t/b/inner:file", "t/fifo:fifo", "t/link:symlink"]);
    let quiet = custos_in(dir.path(), &["hash", "--quiet", "--algo", "sha256", "t"]);
    assert_eq!(quiet.stderr, "");
}

#[test]
fn check_reads_mixed_gnu_and_bsd_lines_of_every_algorithm() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "abc.txt", b"abc");
    write(dir.path(), "other.bin", &noise(100_000, 1));
    let all =
        custos_in(dir.path(), &["hash", "--algo", "md5,sha1,sha256,sha512,blake3", "abc.txt", "other.bin"]);
    let gnu_md5 = custos_in(dir.path(), &["hash", "--algo", "md5", "abc.txt"]);
    let gnu_b3 = custos_in(dir.path(), &["hash", "--algo", "blake3", "other.bin"]);
    let mixed = format!("# comment lines are skipped\n{}{}{}", all.stdout, gnu_md5.stdout, gnu_b3.stdout);
    write(dir.path(), "sums.txt", mixed.as_bytes());
    let result = custos_in(dir.path(), &["hash", "--check", "sums.txt"]);
    assert_eq!(result.code, 0, "{}{}", result.stdout, result.stderr);
    assert_eq!(result.stdout.matches(": OK\n").count(), 12, "{}", result.stdout);
    assert!(result.stderr.contains("12 OK, 0 FAILED, 0 unreadable, 0 malformed"), "{}", result.stderr);
}

#[test]
fn check_reports_failed_unreadable_and_malformed_and_exits_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "abc.txt", b"abd");
    let sums = format!(
        "{ABC_SHA256}  abc.txt\nMD5 (gone.txt) = {ABC_MD5}\nthis is not a checksum line\nSHA384 (abc.txt) = 00\n{EMPTY_SHA256}  abc.txt\n"
    );
    write(dir.path(), "SHA256SUMS", sums.as_bytes());
    let result = custos_in(dir.path(), &["hash", "--check", "SHA256SUMS"]);
    assert_eq!(result.code, 1);
    assert_eq!(result.stdout, "abc.txt: FAILED\ngone.txt: FAILED open or read\nabc.txt: FAILED\n");
    for expected in [
        "SHA256SUMS:3: improperly formatted line: not a checksum line",
        "SHA256SUMS:4: improperly formatted line: unsupported algorithm tag `SHA384`",
        "cannot open gone.txt: No such file or directory",
        "WARNING: 2 lines are improperly formatted",
        "WARNING: 1 listed file could not be read",
        "WARNING: 2 computed checksums did NOT match",
        "0 OK, 2 FAILED, 1 unreadable, 2 malformed",
    ] {
        assert!(result.stderr.contains(expected), "missing `{expected}` in:\n{}", result.stderr);
    }
    let json = custos_in(dir.path(), &["hash", "--check", "--json", "SHA256SUMS"]);
    let last: serde_json::Value =
        serde_json::from_str(json.stdout.lines().last().expect("summary")).expect("JSON");
    assert_eq!(last["summary"], serde_json::json!({"ok": 0, "failed": 2, "unreadable": 1, "malformed": 2}));
}

#[test]
fn check_of_only_garbage_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "sums", b"nothing useful\n");
    let result = custos_in(dir.path(), &["hash", "--check", "sums"]);
    assert_eq!(result.code, 1);
    assert!(result.stderr.contains("no properly formatted checksum lines found"), "{}", result.stderr);
}

#[test]
fn sha256_or_blake3_is_decided_by_file_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "abc.txt", b"abc");
    // A BLAKE3 digest in a file named for SHA-256 must fail, not match by trying both.
    write(dir.path(), "SHA256SUMS", format!("{ABC_BLAKE3}  abc.txt\n").as_bytes());
    assert_eq!(custos_in(dir.path(), &["hash", "--check", "SHA256SUMS"]).code, 1);
    write(dir.path(), "B3SUMS", format!("{ABC_BLAKE3}  abc.txt\n").as_bytes());
    assert_eq!(custos_in(dir.path(), &["hash", "--check", "B3SUMS"]).code, 0);
    // No hint: either may match, and JSON names the one that did.
    write(dir.path(), "sums", format!("{ABC_BLAKE3}  abc.txt\n").as_bytes());
    let json = custos_in(dir.path(), &["hash", "--check", "--json", "sums"]);
    assert_eq!(json.code, 0);
    let first: serde_json::Value =
        serde_json::from_str(json.stdout.lines().next().expect("a line")).expect("JSON");
    assert_eq!(first["algorithm"], "blake3");
    assert_eq!(first["status"], "ok");
}

#[test]
fn awkward_file_names_round_trip_through_check() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let names: [&[u8]; 4] = [b"new\nline", b"back\\slash", b"\xff\xfenot-utf8", b" leading space"];
    for name in names {
        write(dir.path(), std::ffi::OsStr::from_bytes(name), b"abc");
    }
    let mut command = custos();
    command.current_dir(dir.path()).args(["hash", "--algo", "sha256"]);
    for name in names {
        command.arg(std::ffi::OsStr::from_bytes(name));
    }
    let result = run(&mut command);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(result.raw_stdout.starts_with(format!("\\{ABC_SHA256}  new\\nline\n").as_bytes()));
    std::fs::write(dir.path().join("sums"), &result.raw_stdout).expect("write sums");
    let check = custos_in(dir.path(), &["hash", "--check", "sums"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert!(check.stderr.contains("4 OK"), "{}", check.stderr);

    let json = custos_in(dir.path(), &["hash", "--json", "--algo", "sha256", "."]);
    assert!(json.stdout.contains("\"path_hex\":\"2e2ffffe6e6f742d75746638\""), "{}", json.stdout);
}

#[test]
fn segment_lists_name_changed_ranges() {
    let dir = tempfile::tempdir().expect("temp dir");
    let original = noise(1_000_000, 7);
    for (case, change) in [("flip", 0), ("truncate", 1), ("append", 2), ("same", 3)] {
        let image = write(dir.path(), format!("{case}.img"), &original);
        let list = dir.path().join(format!("{case}.jsonl"));
        let record = custos_in(
            dir.path(),
            &[
                "hash",
                "--algo",
                "sha256",
                "--segment-size",
                "64K",
                "--segments",
                list.to_str().expect("utf-8"),
                image.to_str().expect("utf-8"),
            ],
        );
        assert_eq!(record.code, 0, "{}", record.stderr);
        let mut changed = original.clone();
        match change {
            0 => changed[300_000] ^= 0x80,
            1 => changed.truncate(700_000),
            2 => changed.extend_from_slice(b"appended"),
            _ => {}
        }
        std::fs::write(&image, &changed).expect("rewrite");
        let check =
            custos_in(dir.path(), &["hash", "--check-segments", "--json", list.to_str().expect("utf-8")]);
        let report: serde_json::Value = serde_json::from_str(check.stdout.trim()).expect("JSON");
        let ranges = &report["changed_ranges"];
        match change {
            0 => assert_eq!(*ranges, serde_json::json!([{"start": 262_144, "end": 327_680}])),
            1 => assert_eq!(*ranges, serde_json::json!([{"start": 655_360, "end": 1_000_000}])),
            2 => assert_eq!(*ranges, serde_json::json!([{"start": 983_040, "end": 1_000_008}])),
            _ => assert_eq!(report["status"], "ok"),
        }
        assert_eq!(check.code, if change == 3 { 0 } else { 1 }, "{case}: {}", check.stdout);
    }
}

#[test]
fn an_edited_segment_list_is_caught() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "img", &noise(200_000, 3));
    let record = custos_in(dir.path(), &["hash", "--segment-size", "64K", "--segments", "list", "img"]);
    assert_eq!(record.code, 0);
    let text = std::fs::read_to_string(dir.path().join("list")).expect("list");
    let mut value: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
    value["digests"][1] = serde_json::Value::String("00".repeat(32));
    std::fs::write(dir.path().join("list"), value.to_string()).expect("write");
    let check = custos_in(dir.path(), &["hash", "--check-segments", "list"]);
    assert_eq!(check.code, 2);
    assert!(check.stderr.contains("root does not match its digests"), "{}", check.stderr);
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "big", &noise(3_000_000, 5));
    let result = custos_in(dir.path(), &["hash", "--window-size", "64K", "big"]);
    assert_eq!(result.code, 0);
    assert_eq!(result.stderr, "", "nothing but results when piped");
}

#[test]
fn demo_runs_on_the_bundled_images() {
    let result = run(custos().args(["demo"]));
    assert_eq!(result.code, 0, "{}\n{}", result.stdout, result.stderr);
    assert!(result.stdout.contains("CHANGED bytes 1048576..1310720"), "{}", result.stdout);
    assert!(result.stdout.contains("Demo complete"), "{}", result.stdout);
    // The CASE export is written and its place named; it is kept for the user, not the test.
    let line =
        result.stdout.lines().find(|l| l.starts_with("The CASE export is at ")).expect("the CASE export");
    let path = line.trim_start_matches("The CASE export is at ").trim_end_matches(" (kept after the demo).");
    let export: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("the export exists")).expect("JSON-LD");
    assert!(export["@graph"].as_array().is_some_and(|g| !g.is_empty()));
    let _ = std::fs::remove_file(path);
}
