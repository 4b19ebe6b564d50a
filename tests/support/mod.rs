//! Helpers for the end-to-end tests: running the built `custos`, running reference tools,
//! and making test data.
#![allow(dead_code)]

pub mod tsa;

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `custos` binary Cargo built for these tests.
pub fn custos() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_custos"));
    command.stdin(Stdio::null());
    command
}

/// What a finished command said.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

pub fn run(command: &mut Command) -> Run {
    finish(command.output().expect("command starts"))
}

/// Runs with `input` on stdin.
pub fn run_with_stdin(command: &mut Command, input: &[u8]) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("command starts");
    // A command that refuses before reading its input closes the pipe: its answer is what
    // the test looks at, not the broken pipe.
    let _ = child.stdin.take().expect("stdin").write_all(input);
    finish(child.wait_with_output().expect("command ends"))
}

fn finish(output: Output) -> Run {
    Run {
        // A signal (a crash) has no code: -1 makes every exit-code assertion fail.
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        raw_stdout: output.stdout,
    }
}

/// Runs custos with `args` in `dir`.
pub fn custos_in(dir: &Path, args: &[&str]) -> Run {
    run(custos().current_dir(dir).args(args))
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn noise(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: impl AsRef<OsStr>, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name.as_ref());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent");
    }
    std::fs::write(&path, bytes).expect("write test file");
    path
}

/// Flips one bit of the byte at `offset` of a sealed (read-only) file, as a tamperer would.
pub fn flip_bit(path: &Path, offset: usize) {
    let mut permissions = std::fs::metadata(path).expect("the file").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(path, permissions).expect("writable");
    let mut bytes = std::fs::read(path).expect("read");
    bytes[offset] ^= 0x01;
    std::fs::write(path, &bytes).expect("tamper");
}

/// Whether interop tests must run (CI sets CUSTOS_INTEROP=require).
pub fn interop_required() -> bool {
    std::env::var("CUSTOS_INTEROP").is_ok_and(|v| v == "require")
}

/// Skips a test that cannot run here, saying why, or fails it when interop tests are
/// required (CI): a silent early `return` would pass without checking anything.
pub fn skip_or_fail(why: &str) {
    if interop_required() {
        panic!("CUSTOS_INTEROP=require, but: {why}");
    }
    eprintln!("skipping: {why} (set CUSTOS_INTEROP=require to make this fail)");
}

/// Asserts a command was refused (exit 2) for `reason`, found in its error output. Exit 2
/// alone is also what a usage error or a missing file gives: a refusal test names why.
pub fn assert_refused(run: &Run, reason: &str) {
    assert_eq!(run.code, 2, "expected a refusal for {reason:?}:\n{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(reason) || run.stdout.contains(reason),
        "refused, but not for {reason:?}:\n{}{}",
        run.stdout,
        run.stderr
    );
}

/// The path of an external tool, or `None` (the test then skips) when it is not installed
/// and not required. When required and missing, the test fails.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
    });
    match found {
        Some(path) => Some(path),
        None if interop_required() => panic!("CUSTOS_INTEROP=require but `{name}` is not installed"),
        None => {
            eprintln!("skipping: `{name}` is not installed (set CUSTOS_INTEROP=require to make this fail)");
            None
        }
    }
}

/// Runs an external tool in `dir` and returns its stdout, asserting success.
pub fn external(dir: &Path, program: &Path, args: &[&str]) -> String {
    let result = run(Command::new(program).current_dir(dir).args(args));
    assert_eq!(result.code, 0, "{} {:?} failed: {}", program.display(), args, result.stderr);
    result.stdout
}

/// Copies the public RFC 8032 test keys (`rfc8032-test1` and `-test2`, `.key` and `.pub`,
/// the keys the example policies trust) into `dir`.
pub fn copy_test_keys(dir: &Path) {
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats/vectors/keys");
    for name in ["rfc8032-test1", "rfc8032-test2"] {
        for suffix in ["key", "pub"] {
            let file = format!("{name}.{suffix}");
            std::fs::copy(keys.join(&file), dir.join(&file)).expect("copy a test key");
        }
    }
}

/// Makes a key pair without a passphrase in `dir` (`out.key`, `out.pub`) for a third party
/// of a test (another authority), by `custos keygen`.
pub fn party_key(dir: &Path, name: &str, role: &str, out: &str) {
    let made = custos_in(dir, &["keygen", "--name", name, "--role", role, "--out", out, "--no-passphrase"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
}

/// Seals `dir/disk.img` (`size` noise bytes) as content data under a warrant into `dir/pkg`
/// with the RFC 8032 TEST 1 key, after copying the test keys into `dir`.
pub fn seal_content_package(dir: &Path, case: &str, size: usize) {
    copy_test_keys(dir);
    write(dir, "disk.img", &noise(size, size as u64));
    let sealed = custos_in(
        dir,
        &[
            "seal",
            "--key",
            "rfc8032-test1",
            "--case",
            case,
            "--category",
            "content",
            "--legal-basis",
            "warrant:W-1",
            "--out",
            "pkg",
            "disk.img",
        ],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
}

/// Runs `custos` with a deadline: a hang is a failure, not a stuck test run. Output is read
/// while the command runs, so a long report cannot block it on a full pipe.
pub fn run_with_deadline(dir: &Path, args: &[&str], deadline: std::time::Duration) -> Run {
    run_command_with_deadline(custos().current_dir(dir).args(args), deadline)
}

/// Runs any command and fails the test, after killing it, if it has not ended within
/// `deadline`.
pub fn run_command_with_deadline(command: &mut Command, deadline: std::time::Duration) -> Run {
    let shown = format!("{command:?}");
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starts");
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = match receiver.recv_timeout(deadline) {
        Ok(output) => output.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("{shown} hung for more than {deadline:?}");
        }
    };
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        raw_stdout: output.stdout,
    }
}

/// What any BagIt tool does after changing a bag: rewrite every tag manifest over every tag
/// file. Written here independently of Custos, with the RustCrypto digests.
pub fn recompute_tag_manifests(pkg: &Path) {
    let mut files = Vec::new();
    collect(pkg, pkg, &mut files);
    files.sort();
    for algorithm in ["md5", "sha256"] {
        let manifest = pkg.join(format!("tagmanifest-{algorithm}.txt"));
        if !manifest.exists() {
            continue;
        }
        let mut text = String::new();
        for relative in &files {
            let bytes = std::fs::read(pkg.join(relative)).expect("read tag file");
            let digest = digest_hex(algorithm, &bytes);
            text.push_str(&format!("{digest}  {}\n", relative.replace('%', "%25")));
        }
        std::fs::write(manifest, text).expect("write tag manifest");
    }
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let relative = path.strip_prefix(root).expect("inside").to_string_lossy().into_owned();
        if relative == "data" || relative.starts_with("tagmanifest-") {
            continue;
        }
        if path.symlink_metadata().expect("lstat").is_dir() {
            collect(root, &path, files);
        } else if path.is_file() {
            files.push(relative);
        }
    }
}

/// A BagIt manifest's digest of `bytes`: `md5`, `sha1`, `sha512`, otherwise SHA-256.
pub fn digest_hex(algorithm: &str, bytes: &[u8]) -> String {
    match algorithm {
        "md5" => hex_of(&<md5::Md5 as sha2::Digest>::digest(bytes)),
        "sha1" => hex_of(&<sha1::Sha1 as sha2::Digest>::digest(bytes)),
        "sha512" => hex_of(&<sha2::Sha512 as sha2::Digest>::digest(bytes)),
        _ => hex_of(&<sha2::Sha256 as sha2::Digest>::digest(bytes)),
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a holder who edits the payload does next: rewrite every payload manifest
/// (`manifest-ALG.txt`) over the files now under `data/`, then every tag manifest. Written
/// here independently of Custos, with the RustCrypto digests.
pub fn recompute_bag(pkg: &Path) {
    let mut files = Vec::new();
    collect_payload(pkg, &pkg.join("data"), &mut files);
    files.sort();
    for algorithm in ["md5", "sha1", "sha256", "sha512"] {
        let manifest = pkg.join(format!("manifest-{algorithm}.txt"));
        if !manifest.exists() {
            continue;
        }
        let mut text = String::new();
        for relative in &files {
            let bytes = std::fs::read(pkg.join(relative)).expect("read payload file");
            let digest = digest_hex(algorithm, &bytes);
            text.push_str(&format!("{digest}  {relative}\n"));
        }
        std::fs::write(manifest, text).expect("write payload manifest");
    }
    recompute_tag_manifests(pkg);
}

fn collect_payload(root: &Path, dir: &Path, files: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.symlink_metadata().expect("lstat").is_dir() {
            collect_payload(root, &path, files);
        } else if path.is_file() {
            files.push(path.strip_prefix(root).expect("inside").to_string_lossy().into_owned());
        }
    }
}
