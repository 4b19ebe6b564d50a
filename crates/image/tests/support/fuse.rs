//! A FUSE file system serving one file, `disk.img`, whose chosen byte ranges fail with EIO
//! (`faulty_fuse.py`, with fusepy): real read errors through the kernel. Shared by the
//! image crate's tests and the CLI's acquisition tests (included by path).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The script, carried in the test binary so any crate's test can run it.
const SCRIPT: &str = include_str!("faulty_fuse.py");

/// The mounted file system: unmounted, and its script ended, when the test ends.
pub struct Mount {
    pub point: PathBuf,
    child: Child,
    script: PathBuf,
}

impl Mount {
    /// The faulty file.
    pub fn file(&self) -> PathBuf {
        self.point.join("disk.img")
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("fusermount").arg("-u").arg(&self.point).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.script);
    }
}

fn succeeds(program: &str, args: &[&str]) -> Result<(), String> {
    let done = Command::new(program).args(args).output().map_err(|e| format!("{program}: {e}"))?;
    if done.status.success() {
        Ok(())
    } else {
        Err(format!("{program} {args:?}: {}", String::from_utf8_lossy(&done.stderr).trim()))
    }
}

/// Why FUSE cannot be used here, if it cannot.
pub fn missing_tool() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing".into());
    }
    if succeeds("fusermount", &["-V"]).is_err() {
        return Some("fusermount is missing".into());
    }
    if let Err(why) = succeeds("python3", &["-c", "import fuse"]) {
        return Some(format!("python3 with fusepy is missing ({why}); pip install fusepy"));
    }
    None
}

/// Mounts at `point` (created if missing) a `disk.img` of `size` bytes, byte i being
/// `(i % 251) + 1`, whose reads touching any `[start, end)` of `bad` fail with EIO.
pub fn mount(point: &Path, size: u64, bad: &[(u64, u64)]) -> Result<Mount, String> {
    if let Some(why) = missing_tool() {
        return Err(why);
    }
    std::fs::create_dir_all(point).map_err(|e| e.to_string())?;
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let script = std::env::temp_dir().join(format!("custos-faulty-fuse-{}-{nanos}.py", std::process::id()));
    std::fs::write(&script, SCRIPT).map_err(|e| format!("{}: {e}", script.display()))?;
    let mut command = Command::new("python3");
    command.arg(&script).arg(point).arg(size.to_string());
    for (start, end) in bad {
        command.arg(format!("{start}:{end}"));
    }
    let child = command.stdout(Stdio::null()).spawn().map_err(|e| format!("python3: {e}"))?;
    let mount = Mount { point: point.to_owned(), child, script };
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if std::fs::metadata(mount.file()).is_ok_and(|m| m.len() == size) {
            return Ok(mount);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("the FUSE file system did not come up within 15 s".into())
}
