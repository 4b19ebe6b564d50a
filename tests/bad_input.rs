//! Bad input: every case ends with a clear message and the documented exit code, never a
//! panic (a panic exits 101, a crash has no code; both fail these assertions).

mod support;

use support::{custos, custos_in, noise, run, run_with_stdin, write};

fn assert_clean(result: &support::Run, code: i32, needle: &str) {
    assert_eq!(result.code, code, "stdout: {}\nstderr: {}", result.stdout, result.stderr);
    assert!(
        result.stderr.contains(needle) || result.stdout.contains(needle),
        "`{needle}` not in:\n{}{}",
        result.stdout,
        result.stderr
    );
    assert!(!result.stderr.contains("panicked"), "{}", result.stderr);
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert_clean(
        &custos_in(dir.path(), &["hash", "nope.img"]),
        2,
        "cannot open nope.img: No such file or directory",
    );
}

#[test]
fn directory_where_a_file_is_expected() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("d")).expect("mkdir");
    // As a checksum file.
    assert_clean(&custos_in(dir.path(), &["hash", "--check", "d"]), 2, "cannot read the checksum file d");
    // Named in a checksum file.
    write(dir.path(), "sums", b"d41d8cd98f00b204e9800998ecf8427e  d\n");
    let result = custos_in(dir.path(), &["hash", "--check", "sums"]);
    assert_clean(&result, 1, "d is a directory");
    assert_eq!(result.stdout, "d: FAILED open or read\n");
    // As the segment list to write.
    write(dir.path(), "x", b"x");
    assert_clean(
        &custos_in(dir.path(), &["hash", "--segments", "d", "x"]),
        2,
        "cannot create segment list d",
    );
}

#[test]
fn unreadable_source_even_as_root() {
    // Opening succeeds, reading offset 0 fails with EIO for every user, root included.
    let result = run(custos().args(["hash", "/proc/self/mem"]));
    assert_clean(&result, 2, "cannot read /proc/self/mem at byte offset 0");
}

#[test]
fn empty_inputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "empty", b"");
    let result = custos_in(dir.path(), &["hash", "--algo", "md5", "empty"]);
    assert_clean(&result, 0, "d41d8cd98f00b204e9800998ecf8427e  empty");
    let result = run_with_stdin(custos().args(["hash", "--algo", "md5", "-"]), b"");
    assert_clean(&result, 0, "d41d8cd98f00b204e9800998ecf8427e  -");
    std::fs::create_dir(dir.path().join("empty-dir")).expect("mkdir");
    let result = custos_in(dir.path(), &["hash", "empty-dir"]);
    assert_eq!((result.code, result.stdout.as_str()), (0, ""));
    let result = custos_in(dir.path(), &["hash", "--check", "empty"]);
    assert_clean(&result, 1, "no properly formatted checksum lines found");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert_clean(&custos_in(dir.path(), &["hash"]), 2, "no input given");
    assert_clean(
        &custos_in(dir.path(), &["hash", "--algo", "crc32", "x"]),
        2,
        "unsupported algorithm `crc32`",
    );
    assert_clean(&custos_in(dir.path(), &["hash", "--algo", "md5,md5", "x"]), 2, "listed twice");
    assert_clean(&custos_in(dir.path(), &["hash", "--segment-size", "12Q", "x"]), 2, "invalid size `12Q`");
    assert_clean(&custos_in(dir.path(), &["hash", "--segment-size", "0", "x"]), 2, "zero is not allowed");
    assert_clean(&custos_in(dir.path(), &["hash", "--jobs", "0", "x"]), 2, "--jobs must be at least 1");
    assert_clean(
        &custos_in(dir.path(), &["hash", "--check", "--segments", "l", "x"]),
        2,
        "cannot be used with",
    );
    assert_clean(&custos_in(dir.path(), &["frobnicate"]), 2, "unrecognized subcommand");
}

#[test]
fn malformed_checksum_lines_never_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut garbage = Vec::new();
    for seed in 0..64u64 {
        let mut line = noise(1 + (seed as usize * 7) % 200, seed);
        line.retain(|&b| b != b'\n');
        garbage.extend_from_slice(&line);
        garbage.push(b'\n');
    }
    garbage.extend_from_slice(b"\\\n\\\\\nMD5 (\nMD5 () = \n  \n*\nSHA256 (x) = \n");
    write(dir.path(), "garbage", &garbage);
    let result = custos_in(dir.path(), &["hash", "--check", "garbage"]);
    assert_clean(&result, 1, "improperly formatted");
}

#[test]
fn malformed_segment_lists_are_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "img", &noise(10, 1));
    for (text, needle) in [
        ("not json", "not a segment list line"),
        (
            r#"{"custos_segments":2,"path":"img","size":10,"segment_size":4,"algorithm":"blake3","root":"00","digests":[]}"#,
            "unsupported segment list version 2",
        ),
        (
            r#"{"custos_segments":1,"path":"img","size":10,"segment_size":4,"algorithm":"rot13","root":"00","digests":[]}"#,
            "unsupported algorithm `rot13`",
        ),
        (
            r#"{"custos_segments":1,"path":"img","size":10,"segment_size":4,"algorithm":"blake3","root":"00","digests":[]}"#,
            "digest count does not fit",
        ),
        (
            r#"{"custos_segments":1,"path":"img","size":10,"segment_size":4,"algorithm":"blake3","root":"00","digests":["zz"]}"#,
            "not valid hexadecimal",
        ),
        (
            r#"{"custos_segments":1,"path":"img","size":1,"segment_size":4,"algorithm":"blake3","root":"00","digests":["00"],"extra":1}"#,
            "unknown field `extra`",
        ),
    ] {
        write(dir.path(), "list", text.as_bytes());
        assert_clean(&custos_in(dir.path(), &["hash", "--check-segments", "list"]), 2, needle);
    }
}

#[test]
fn broken_pipe_is_not_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..3000 {
        write(dir.path(), format!("t/{i:05}"), b"x");
    }
    assert_quiet_on_a_closed_pipe(dir.path(), &["hash", "t"]);
}

/// Runs custos with its standard output closed at once, as `| head -0` does: it must end
/// with status 0 and no panic.
fn assert_quiet_on_a_closed_pipe(dir: &std::path::Path, args: &[&str]) {
    let mut child = custos()
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_closed_pipe_never_panics_a_custody_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    support::seal_content_package(dir.path(), "P-1", 1_000);
    for _ in 0..40 {
        let examined = support::custos_in(
            dir.path(),
            &["custody", "record", "pkg", "--key", "rfc8032-test1", "--action", "examined"],
        );
        assert_eq!(examined.code, 0, "{}", examined.stderr);
    }
    for _ in 0..5 {
        assert_quiet_on_a_closed_pipe(dir.path(), &["custody", "log", "pkg"]);
    }
}

#[test]
fn checksums_are_never_exported_into_the_package() {
    let dir = tempfile::tempdir().expect("temp dir");
    support::seal_content_package(dir.path(), "P-2", 1_000);
    let inside = support::custos_in(dir.path(), &["export", "checksums", "pkg", "--out", "pkg/sums"]);
    assert_eq!(inside.code, 2, "{}", inside.stdout);
    assert!(inside.stderr.contains("inside the evidence package"), "{}", inside.stderr);
    assert!(!dir.path().join("pkg/sums").exists(), "refused before any folder is made");
    let outside = support::custos_in(dir.path(), &["export", "checksums", "pkg", "--out", "sums"]);
    assert_eq!(outside.code, 0, "{}", outside.stderr);
    // The printed command works from anywhere.
    let command = outside.stdout.lines().find_map(|l| l.strip_prefix("check with: ")).expect("a command");
    let checked =
        std::process::Command::new("sh").arg("-c").arg(command).current_dir("/").output().expect("sh");
    assert!(checked.status.success(), "{command}: {}", String::from_utf8_lossy(&checked.stderr));
    assert_eq!(support::custos_in(dir.path(), &["verify", "pkg", "--trust", "rfc8032-test1.pub"]).code, 0);
}

#[test]
fn an_existing_segment_list_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "img", b"abc");
    write(dir.path(), "list", b"precious fixity record\n");
    let result = custos_in(dir.path(), &["hash", "--segments", "list", "img"]);
    assert_clean(&result, 2, "an existing list is never overwritten");
    assert_eq!(std::fs::read(dir.path().join("list")).expect("list"), b"precious fixity record\n");
}

#[test]
fn wrong_key_kinds_and_cheap_checks_before_the_passphrase() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::seal_content_package(d, "K-1", 1_000);
    let secret_as_trust = support::custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.key"]);
    assert_clean(&secret_as_trust, 2, "is a secret key file");
    let public_as_key = support::custos_in(
        d,
        &["custody", "record", "pkg", "--key", "rfc8032-test1.pub", "--action", "examined"],
    );
    assert_clean(&public_as_key, 2, "is a public key file");

    // A protected key, no passphrase file and no terminal: the missing evidence is what is
    // reported, before any passphrase would be asked for.
    write(d, "pass", b"a long passphrase\n");
    let made = support::custos_in(
        d,
        &["keygen", "--name", "Eve", "--role", "examiner", "--out", "eve", "--passphrase-file", "pass"],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let sealed =
        support::custos_in(d, &["seal", "--key", "eve", "--case", "K-2", "--out", "new", "no-such-image"]);
    assert_clean(&sealed, 2, "cannot read the evidence");
    let recorded =
        support::custos_in(d, &["custody", "record", "no-such-pkg", "--key", "eve", "--action", "examined"]);
    assert_clean(&recorded, 2, "not an evidence package");
}

#[test]
fn typos_are_refused_before_they_are_signed_forever() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let role = support::custos_in(
        d,
        &["keygen", "--name", "Eve", "--role", "exmainer", "--out", "eve", "--no-passphrase"],
    );
    assert_clean(&role, 2, "did you mean `examiner`");
    support::copy_test_keys(d);
    write(d, "disk.img", b"evidence");
    let basis = support::custos_in(
        d,
        &[
            "seal",
            "--key",
            "rfc8032-test1",
            "--case",
            "T-1",
            "--legal-basis",
            "warant:W-1",
            "--out",
            "pkg",
            "disk.img",
        ],
    );
    assert_clean(&basis, 2, "did you mean `warrant`");
    let canonical = support::custos_in(
        d,
        &[
            "seal",
            "--key",
            "rfc8032-test1",
            "--case",
            "T-1",
            "--legal-basis",
            "Warrant:W-1",
            "--out",
            "pkg",
            "disk.img",
            "--json",
        ],
    );
    assert_eq!(canonical.code, 0, "{}", canonical.stderr);
    let sealed: serde_json::Value = serde_json::from_str(&canonical.stdout).expect("JSON");
    assert_eq!(sealed["manifest"]["legal_basis"][0]["kind"], "warrant");
    let none = support::custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "T-2", "--out", "pkg2", "disk.img"],
    );
    assert_eq!(none.code, 0);
    assert!(none.stderr.contains("no --legal-basis given"), "{}", none.stderr);
}

#[test]
fn an_interrupted_seal_leaves_no_package_and_is_named_next_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    write(d, "disk.img", b"evidence");
    // A failed seal (its second input is a folder holding a FIFO, which is refused once the
    // partial package exists) leaves nothing behind.
    std::fs::create_dir(d.join("folder")).expect("mkdir");
    assert!(std::process::Command::new("mkfifo")
        .arg(d.join("folder/pipe"))
        .status()
        .expect("mkfifo")
        .success());
    let failed = support::custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "I-1", "--out", "pkg", "disk.img", "folder"],
    );
    assert_eq!(failed.code, 2, "{}", failed.stdout);
    let left: Vec<String> = std::fs::read_dir(d)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!left.iter().any(|n| n == "pkg" || n.contains("custos-partial")), "{left:?}");
    // What kill -9 would leave: a hidden partial folder, never under the package's name.
    std::fs::create_dir(d.join(".pkg.custos-partial-99999")).expect("mkdir");
    let sealed = support::custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "I-1", "--out", "pkg", "disk.img"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    assert!(
        sealed.stderr.contains(".pkg.custos-partial-99999") && sealed.stderr.contains("interrupted seal"),
        "{}",
        sealed.stderr
    );
    assert_eq!(support::custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]).code, 0);
}

#[test]
fn an_image_or_hashdeep_file_given_to_check_is_named_not_listed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(d, "image.raw", &noise(2_000_000, 9));
    let image = support::custos_in(d, &["hash", "--check", "image.raw"]);
    assert_clean(&image, 1, "looks like binary data, not a checksum file");
    assert!(image.stderr.lines().count() < 20, "{} lines", image.stderr.lines().count());
    assert!(image.stderr.contains("custos hash image.raw"), "{}", image.stderr);
    // HASHDEEP-1.0 files are read (a bad record is one malformed line); another version is
    // named, not listed line by line.
    write(d, "list.hashdeep", b"%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n## x\n5,a,b,/x\n");
    let hashdeep = support::custos_in(d, &["hash", "--check", "list.hashdeep"]);
    assert_clean(&hashdeep, 1, "list.hashdeep:4: improperly formatted line: a digest is not hexadecimal");
    write(d, "list2.hashdeep", b"%%%% HASHDEEP-2.0\n%%%% size,md5,sha256,filename\n## x\n5,a,b,/x\n");
    let hashdeep = support::custos_in(d, &["hash", "--check", "list2.hashdeep"]);
    assert_clean(&hashdeep, 1, "is a hashdeep file of a version other than HASHDEEP-1.0");
    let no_tree = support::custos_in(d, &["hash", "--audit", "list.hashdeep"]);
    assert_clean(&no_tree, 2, "--audit needs at least one tree");
    let not_known = support::custos_in(d, &["hash", "--audit", "image.raw", "."]);
    assert_clean(&not_known, 2, "image.raw is not a hashdeep known file");
    write(d, "broken.hashdeep", b"%%%% HASHDEEP-1.0\n%%%% size,crc32,filename\n");
    let broken = support::custos_in(d, &["hash", "--check", "broken.hashdeep"]);
    assert_clean(&broken, 2, "unknown digest column `crc32`");
}

/// Ctrl-C or SIGTERM during a seal: the engine stops at its next window and the partial
/// package is removed; nothing that looks like a package is left, and the exit says why.
#[test]
fn a_signal_during_seal_removes_the_partial_package() {
    for (signal, name) in [("-TERM", "term"), ("-INT", "int")] {
        let mut stopped = false;
        // A larger file each time the signal came too late (the seal had finished).
        for megabytes in [64u64, 256, 1024] {
            let dir = tempfile::tempdir().expect("temp dir");
            let d = dir.path();
            support::copy_test_keys(d);
            // Sparse: cheap to make, read at page-cache speed, real bytes in the copy.
            let evidence = std::fs::File::create(d.join("disk.img")).expect("create");
            evidence.set_len(megabytes << 20).expect("size");
            let mut child = support::custos()
                .current_dir(d)
                .args(["seal", "--key", "rfc8032-test1", "--case", "S-1", "--out", "pkg", "disk.img"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("seal starts");
            let started = std::time::Instant::now();
            let partial = || {
                std::fs::read_dir(d)
                    .map(|entries| {
                        entries
                            .filter_map(|e| e.ok())
                            .any(|e| e.file_name().to_string_lossy().contains("custos-partial"))
                    })
                    .unwrap_or(false)
            };
            while !partial() && started.elapsed() < std::time::Duration::from_secs(20) {
                if child.try_wait().expect("wait").is_some() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            let pid = child.id().to_string();
            let _ = std::process::Command::new("kill").args([signal, &pid]).status();
            let output = child.wait_with_output().expect("seal ends");
            let stderr = String::from_utf8_lossy(&output.stderr);
            if output.status.success() && d.join("pkg").exists() {
                continue; // the signal came after the seal had finished
            }
            assert_eq!(output.status.code(), Some(2), "SIG{name}: {stderr}");
            assert!(stderr.contains("interrupted: nothing was sealed"), "SIG{name}: {stderr}");
            let left: Vec<String> = std::fs::read_dir(d)
                .expect("list")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            assert!(!left.iter().any(|n| n == "pkg" || n.contains("custos-partial")), "SIG{name}: {left:?}");
            stopped = true;
            break;
        }
        assert!(stopped, "SIG{name}: every seal finished before the signal arrived");
    }
}

/// A FIFO named as evidence is refused at once, never opened (an open would wait for a
/// writer forever, and a stream cannot be read back): streams go through `seal -`.
#[test]
fn a_fifo_given_to_seal_is_refused_without_waiting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    assert!(std::process::Command::new("mkfifo").arg(d.join("pipe")).status().expect("mkfifo").success());
    let sealed = support::run_with_deadline(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "F-1", "--out", "pkg", "pipe"],
        std::time::Duration::from_secs(20),
    );
    assert_eq!(sealed.code, 2, "{}", sealed.stderr);
    assert!(sealed.stderr.contains("is a FIFO") && sealed.stderr.contains("seal -"), "{}", sealed.stderr);
    assert!(!d.join("pkg").exists());
}
