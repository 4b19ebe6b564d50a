//! A local RFC 3161 time-stamping authority for tests: `tsa_server.py` (beside this file)
//! makes a test CA and TSA certificate and serves `openssl ts -reply` over HTTP on
//! 127.0.0.1. Shared by the CLI tests and `custos-timestamp`'s own.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running test TSA; killed when dropped.
pub struct Tsa {
    child: Child,
    /// Its URL (`http://127.0.0.1:PORT/`).
    pub url: String,
    /// Its folder: `ca.crt`, `tsa.crt`, keys and configuration.
    pub dir: PathBuf,
}

impl Drop for Tsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tsa {
    /// Starts a TSA whose files go to `dir`; `options` as `tsa_server.py` takes them
    /// (`--no-eku`, `--rsa`). `None` (the test then skips) when python3 or openssl is not
    /// installed, unless CUSTOS_INTEROP=require, which makes that a failure.
    pub fn start(dir: &Path, options: &[&str]) -> Option<Tsa> {
        for tool in ["python3", "openssl"] {
            let found = std::env::var_os("PATH")
                .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()));
            if !found {
                if std::env::var("CUSTOS_INTEROP").is_ok_and(|v| v == "require") {
                    panic!("CUSTOS_INTEROP=require but `{tool}` is not installed");
                }
                eprintln!(
                    "skipping: `{tool}` is not installed (set CUSTOS_INTEROP=require to make this fail)"
                );
                return None;
            }
        }
        // Every crate whose tests use this lives at crates/NAME.
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/support/tsa_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir)
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts the test TSA");
        let mut port = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut port)
            .expect("the TSA prints its port");
        assert!(!port.trim().is_empty(), "the test TSA did not start (are python3 and openssl installed?)");
        Some(Tsa { child, url: format!("http://127.0.0.1:{}/", port.trim()), dir: dir.to_owned() })
    }
}
