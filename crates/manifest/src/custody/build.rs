//! Which build of Custos signed an event: its version, the commit it was built from, and the
//! SHA-256 of the running program's file, so that a lab can show the tool it validated made
//! the record (a policy's `tools.approved`). Every event an append signs carries it.
//!
//! It is the signer's statement like the rest of the event: a key holder who runs another
//! program can write any identity. What it gives is a record that cannot be edited later.

use std::io::Read;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The build that signed an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// `custos`.
    pub name: String,
    /// The version (`0.1.0`).
    pub version: String,
    /// The commit it was built from, when the build knew it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// SHA-256 (hex) of the running program's file, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_sha256: Option<String>,
}

static COMMIT: OnceLock<String> = OnceLock::new();
static CURRENT: OnceLock<Build> = OnceLock::new();

/// Tells the library the commit the program was built from (the binary knows it; call once,
/// at start). Empty text means unknown.
pub fn set_commit(commit: &str) {
    let _ = COMMIT.set(commit.trim().to_owned());
}

/// The running build, worked out once per process: reading and hashing the program's file
/// costs a fraction of a second, paid only by commands that sign.
pub fn current() -> Build {
    CURRENT
        .get_or_init(|| Build {
            name: "custos".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            commit: COMMIT.get().filter(|c| !c.is_empty()).cloned(),
            binary_sha256: program_sha256(),
        })
        .clone()
}

/// SHA-256 of `/proc/self/exe` (the program as it runs, even if its path was replaced since).
fn program_sha256() -> Option<String> {
    let mut file = match std::fs::File::open("/proc/self/exe") {
        Ok(file) => file,
        Err(_) => std::fs::File::open(std::env::current_exe().ok()?).ok()?,
    };
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    Some(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
