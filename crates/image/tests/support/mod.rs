//! Shared helpers of the interop tests: the skip-or-fail rule, running commands, digests.
#![allow(dead_code)]

use std::process::Command;

use custos_hash::{Algorithm, HashOptions};

/// Interop tests skip when a tool is missing, unless `CUSTOS_INTEROP=require` (CI), where a
/// missing tool is a failure: a skipped test must never pass for a passed one there.
pub fn skip_or_fail(why: &str) {
    if std::env::var("CUSTOS_INTEROP").as_deref() == Ok("require") {
        panic!("CUSTOS_INTEROP=require, but: {why}");
    }
    eprintln!("skipping: {why}");
}

/// Runs a command and returns its trimmed stdout, or why it could not run.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program).args(args).output().map_err(|e| format!("{program}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{program} {args:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `true` when running as root.
pub fn is_root() -> bool {
    run("id", &["-u"]).is_ok_and(|uid| uid == "0")
}

/// The SHA-256 of a file by coreutils' `sha256sum`: an independent implementation.
pub fn sha256sum(path: &std::path::Path) -> Result<String, String> {
    let line = run("sha256sum", &[&path.to_string_lossy()])?;
    line.split_whitespace().next().map(str::to_owned).ok_or_else(|| format!("sha256sum printed {line:?}"))
}

/// Hash options with SHA-256 only.
pub fn sha256_only() -> HashOptions {
    HashOptions { algorithms: vec![Algorithm::Sha256], ..HashOptions::default() }
}

/// Data that is never zero, so a filled sector cannot pass for data.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 + 1).collect()
}
