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

/// A check list is input: it may name `/dev/zero` (which never ends), a FIFO (which waits
/// for a writer forever) or a socket. Each such line fails on its own, with the reason, at
/// once; the regular files listed beside them are still checked.
#[test]
fn class4_bounded_check_refuses_devices_fifos_and_sockets_per_line_without_blocking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(d, "abc.txt", b"abc");
    assert!(std::process::Command::new("mkfifo").arg(d.join("fifo")).status().expect("mkfifo").success());
    let _socket = std::os::unix::net::UnixListener::bind(d.join("sock")).expect("socket");
    let sums = format!(
        "{EMPTY_SHA256}  /dev/zero\n{EMPTY_SHA256}  fifo\n{EMPTY_SHA256}  sock\n{ABC_SHA256}  abc.txt\n"
    );
    write(d, "SHA256SUMS", sums.as_bytes());
    let deadline = std::time::Duration::from_secs(30);
    let result = support::run_with_deadline(d, &["hash", "--check", "SHA256SUMS"], deadline);
    assert_eq!(result.code, 1, "{}{}", result.stdout, result.stderr);
    assert_eq!(
        result.stdout,
        "/dev/zero: FAILED open or read\nfifo: FAILED open or read\nsock: FAILED open or read\nabc.txt: OK\n"
    );
    for expected in [
        "/dev/zero is a character device: evidence is read from a regular file or a block device",
        "fifo is a FIFO: evidence is read from a regular file or a block device",
        "cannot open sock",
        "1 OK, 0 FAILED, 3 unreadable, 0 malformed",
    ] {
        assert!(result.stderr.contains(expected), "missing `{expected}` in:\n{}", result.stderr);
    }

    // A segment list naming a character device: refused the same way, not read forever.
    // No segments: the root is the empty digest (docs/segments.md).
    let list = format!(
        "{{\"custos_segments\":1,\"path\":\"/dev/zero\",\"size\":0,\"segment_size\":1024,\"algorithm\":\"sha256\",\"root\":\"{EMPTY_SHA256}\",\"digests\":[]}}\n"
    );
    write(d, "zero.segments", list.as_bytes());
    let result = support::run_with_deadline(d, &["hash", "--check-segments", "zero.segments"], deadline);
    assert_eq!(result.code, 2, "{}{}", result.stdout, result.stderr);
    assert!(!result.stdout.contains("OK"), "{}", result.stdout);
    assert!(result.stderr.contains("/dev/zero is a character device"), "{}", result.stderr);
}

/// A segment list line whose `path` and `path_hex` name two files must not report the one
/// it did not read: before the fix it hashed `b.img` (from `path_hex`) and said
/// "a.img: OK" of a file it never opened.
#[test]
fn class1_unsigned_a_segment_list_naming_two_files_is_refused_not_reported_ok() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(d, "a.img", &noise(10_000, 1));
    write(d, "b.img", &noise(10_000, 2));
    let made = custos_in(d, &["hash", "--segment-size", "4096", "--segments", "b.segments", "b.img"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let line = std::fs::read_to_string(d.join("b.segments")).expect("list");
    let b_hex: String = b"b.img".iter().map(|b| format!("{b:02x}")).collect();
    let forged =
        line.replacen("\"path\":\"b.img\"", &format!("\"path\":\"a.img\",\"path_hex\":\"{b_hex}\""), 1);
    assert_ne!(forged, line);
    write(d, "forged.segments", forged.as_bytes());
    let result = custos_in(d, &["hash", "--check-segments", "forged.segments"]);
    assert_eq!(result.code, 2, "{}{}", result.stdout, result.stderr);
    assert!(!result.stdout.contains("a.img: OK"), "{}", result.stdout);
    assert!(result.stderr.contains("the record names two files"), "{}", result.stderr);
    // The honest list names the file it was made from, and that file is the one checked.
    let result = custos_in(d, &["hash", "--check-segments", "b.segments"]);
    assert_eq!((result.code, result.stdout.as_str()), (0, "b.img: OK\n"), "{}", result.stderr);
}

/// Names with a carriage return, a newline, a backslash or a trailing space: `custos hash`
/// writes the bytes `sha256sum` (coreutils 9) writes, `sha256sum -c` reads them, and
/// `custos hash --check` reads what `sha256sum` writes, also as a CR LF file. b3sum reads
/// and writes the same lines for every name without a CR (b3sum 1.2 writes a CR raw and
/// knows no `\r` escape; a raw CR inside a name still reads back; docs/hashing.md).
#[test]
fn class6_operator_awkward_names_interoperate_with_sha256sum_and_b3sum() {
    use std::os::unix::ffi::OsStrExt;
    let Some(sha256sum) = support::tool("sha256sum") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let names: [&[u8]; 7] = [b"cr\r", b"a\rb", b"nl\nx", b"back\\slash", b"trail ", b" lead", b"plain"];
    for (i, name) in names.iter().enumerate() {
        write(d, std::ffi::OsStr::from_bytes(name), &noise(100 + i, i as u64));
    }
    let with_names = |command: &mut std::process::Command, names: &[&[u8]]| {
        command.current_dir(d);
        for name in names {
            command.arg(std::ffi::OsStr::from_bytes(name));
        }
        run(command)
    };
    let ours = with_names(custos().args(["hash", "--algo", "sha256"]), &names);
    let theirs = with_names(&mut std::process::Command::new(&sha256sum), &names);
    assert_eq!((ours.code, theirs.code), (0, 0), "{}{}", ours.stderr, theirs.stderr);
    assert_eq!(
        String::from_utf8_lossy(&ours.raw_stdout),
        String::from_utf8_lossy(&theirs.raw_stdout),
        "custos hash writes what sha256sum writes"
    );
    std::fs::write(d.join("ours.sha256"), &ours.raw_stdout).expect("write");
    let checked = run(std::process::Command::new(&sha256sum).current_dir(d).args(["-c", "ours.sha256"]));
    assert_eq!(checked.code, 0, "sha256sum -c reads custos's lines: {}{}", checked.stdout, checked.stderr);
    // Tagged lines (several algorithms) are read by sha256sum -c too.
    let tagged = with_names(custos().args(["hash", "--algo", "sha256,blake3"]), &names);
    std::fs::write(d.join("tagged.txt"), &tagged.raw_stdout).expect("write");
    let checked = run(std::process::Command::new(&sha256sum).current_dir(d).args(["-c", "tagged.txt"]));
    assert_eq!(checked.stdout.matches(": OK").count(), names.len(), "{}{}", checked.stdout, checked.stderr);

    let crlf: Vec<u8> = theirs
        .raw_stdout
        .iter()
        .flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] })
        .collect();
    std::fs::write(d.join("theirs.sha256"), &theirs.raw_stdout).expect("write");
    std::fs::write(d.join("crlf.sha256"), &crlf).expect("write");
    let checked = run(std::process::Command::new(&sha256sum).current_dir(d).args(["-c", "crlf.sha256"]));
    assert_eq!(checked.code, 0, "sha256sum -c reads CR LF lists: {}{}", checked.stdout, checked.stderr);
    for list in ["theirs.sha256", "crlf.sha256"] {
        let checked = custos_in(d, &["hash", "--check", list]);
        assert_eq!(checked.code, 0, "{list}: {}{}", checked.stdout, checked.stderr);
        assert!(
            checked.stderr.contains("7 OK, 0 FAILED, 0 unreadable, 0 malformed"),
            "{list}: {}",
            checked.stderr
        );
    }

    let Some(b3sum) = support::tool("b3sum") else { return };
    let b3_names: Vec<&[u8]> = names.iter().copied().filter(|n| !n.contains(&b'\r')).collect();
    let ours = with_names(custos().args(["hash", "--algo", "blake3"]), &b3_names);
    let theirs = with_names(&mut std::process::Command::new(&b3sum), &b3_names);
    assert_eq!(
        String::from_utf8_lossy(&ours.raw_stdout),
        String::from_utf8_lossy(&theirs.raw_stdout),
        "custos hash --algo blake3 writes what b3sum writes"
    );
    std::fs::write(d.join("ours.b3"), &ours.raw_stdout).expect("write");
    std::fs::write(d.join("B3SUMS"), &theirs.raw_stdout).expect("write");
    let checked = run(std::process::Command::new(&b3sum).current_dir(d).args(["--check", "ours.b3"]));
    assert_eq!(checked.code, 0, "b3sum --check reads custos's lines: {}{}", checked.stdout, checked.stderr);
    let checked = custos_in(d, &["hash", "--check", "B3SUMS"]);
    assert_eq!(checked.code, 0, "{}{}", checked.stdout, checked.stderr);
    assert!(checked.stderr.contains("5 OK, 0 FAILED"), "{}", checked.stderr);
    // b3sum writes a CR inside a name raw; that line reads back as coreutils reads it.
    let raw_cr = with_names(&mut std::process::Command::new(&b3sum), &[b"a\rb"]);
    assert!(raw_cr.raw_stdout.ends_with(b"  a\rb\n"), "{:?}", raw_cr.stdout);
    std::fs::write(d.join("cr.b3"), &raw_cr.raw_stdout).expect("write");
    let checked = custos_in(d, &["hash", "--check", "cr.b3"]);
    assert_eq!(checked.code, 0, "{}{}", checked.stdout, checked.stderr);
}

/// Names and link targets from a tree reach the terminal escaped in every message (skipped
/// links and special files, errors, check results), never raw; digest lines to a pipe stay
/// coreutils' bytes.
#[test]
fn class3_escaping_hostile_names_never_reach_the_terminal_raw() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let root = d.join("t");
    write(&root, std::ffi::OsStr::from_bytes(b"file\x1b[2J"), b"abc");
    std::os::unix::fs::symlink("/tmp/\x1b]0;owned\x07", root.join("link\x1b[1A")).expect("symlink");
    assert!(std::process::Command::new("mkfifo")
        .arg(root.join("fifo\x1b[31m"))
        .status()
        .expect("mkfifo")
        .success());
    let result = custos_in(d, &["hash", "--algo", "sha256", "t"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(!result.stderr.contains('\x1b') && !result.stderr.contains('\x07'), "{:?}", result.stderr);
    assert!(
        result.stderr.contains("t/link\\u{1b}[1A: symbolic link to /tmp/\\u{1b}]0;owned\\u{7}"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains("t/fifo\\u{1b}[31m: fifo skipped"), "{}", result.stderr);
    // The digest line is for sha256sum -c: the name's bytes as they are.
    assert_eq!(result.stdout, format!("{ABC_SHA256}  t/file\x1b[2J\n"));

    let sums = format!("{ABC_SHA256}  gone\x1b[2K\r\x1b[32mall: OK\n{ABC_SHA256}  t/file\x1b[2J\n");
    write(d, "SHA256SUMS", sums.as_bytes());
    let result = custos_in(d, &["hash", "--check", "SHA256SUMS"]);
    assert_eq!(result.code, 1);
    for text in [&result.stdout, &result.stderr] {
        assert!(!text.contains('\x1b') && !text.contains('\r'), "{text:?}");
    }
    assert_eq!(
        result.stdout,
        "gone\\u{1b}[2K\\u{d}\\u{1b}[32mall: OK: FAILED open or read\nt/file\\u{1b}[2J: OK\n"
    );
    let missing = custos_in(d, &["hash", "--algo", "sha256", "no\x1b[2Jsuch"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no\\u{1b}[2Jsuch") && !missing.stderr.contains('\x1b'),
        "{:?}",
        missing.stderr
    );
}

/// On a terminal a digest line is shown escaped (a name cannot clear the screen); in a pipe
/// it is coreutils' bytes. `script` gives the command a terminal.
#[test]
fn class3_escaping_digest_lines_are_escaped_on_a_terminal_and_exact_in_a_pipe() {
    let Some(script) = support::tool("script") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(d, "evil\x1b[2Jx", b"abc");
    let custos = env!("CARGO_BIN_EXE_custos");
    let command =
        format!("'{custos}' hash -q --algo sha256 evil*; '{custos}' hash -q --algo sha256 evil* | od -c");
    let shown = run(std::process::Command::new(script).current_dir(d).args(["-qec", &command, "/dev/null"]));
    assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
    assert!(shown.stdout.contains(&format!("{ABC_SHA256}  evil\\u{{1b}}[2Jx")), "{:?}", shown.stdout);
    assert!(!shown.stdout.contains('\x1b'), "{:?}", shown.stdout);
    // Through the pipe, od shows the raw escape byte (octal 033).
    assert!(shown.stdout.contains(" 033 "), "{:?}", shown.stdout);
}
