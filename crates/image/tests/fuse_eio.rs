//! Real read errors through the kernel: a FUSE file (`tests/support/faulty_fuse.py`) whose
//! chosen byte ranges fail with EIO, acquired with the fill policy. The image must be the
//! file with exactly the bad sectors zeroed, and the map must name exactly those sectors.
//!
//! Needs python3 with fusepy, fusermount and /dev/fuse; skips otherwise, and fails under
//! `CUSTOS_INTEROP=require`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use custos_hash::Control;
use custos_image::{acquire, ErrorPolicy, ReadEnd, ReadOptions, Source, SourceKind, Tool};
use support::{pattern, run, sha256_only, skip_or_fail};

/// Unmounts the file system and ends the script when the test ends, passed or not.
struct Mount {
    point: PathBuf,
    child: Child,
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = run("fusermount", &["-u", &self.point.to_string_lossy()]);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn missing_tool() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing".into());
    }
    if run("fusermount", &["-V"]).is_err() {
        return Some("fusermount is missing".into());
    }
    if let Err(why) = run("python3", &["-c", "import fuse"]) {
        return Some(format!("python3 with fusepy is missing ({why}); pip install fusepy"));
    }
    None
}

fn mount(point: &Path, size: u64, bad: &[(u64, u64)]) -> Result<Mount, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/faulty_fuse.py");
    let mut command = Command::new("python3");
    command.arg(&script).arg(point).arg(size.to_string());
    for (start, end) in bad {
        command.arg(format!("{start}:{end}"));
    }
    let child = command.stdout(Stdio::null()).spawn().map_err(|e| format!("python3: {e}"))?;
    let mount = Mount { point: point.to_owned(), child };
    let file = point.join("disk.img");
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if std::fs::metadata(&file).is_ok_and(|m| m.len() == size) {
            return Ok(mount);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("the FUSE file system did not come up within 15 s".into())
}

#[test]
fn fuse_file_with_eio_ranges_is_filled_exactly() {
    if let Some(why) = missing_tool() {
        return skip_or_fail(&why);
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let size: u64 = 1024 * 1024 + 300;
    // One byte in sector 195, sectors 976..=978, and the partial last sector.
    let bad = [(100_000, 100_001), (500_000, 501_000), (size - 5, size - 4)];
    let mount = match mount(dir.path(), size, &bad) {
        Ok(mount) => mount,
        Err(why) => return skip_or_fail(&why),
    };
    let path = mount.point.join("disk.img");
    let source = Source::open(&path).expect("open the FUSE file");
    assert_eq!(source.info().kind, SourceKind::RegularFile);
    let options = ReadOptions { block_size: 64 * 1024, retries: 1, policy: ErrorPolicy::Fill };
    let tool = Tool { name: "custos-test".into(), version: "0".into() };
    let mut image = Vec::new();
    let acquisition = acquire(source, options, &sha256_only(), &Control::default(), &tool, Some(&mut image))
        .expect("valid options");
    let record = acquisition.record;
    acquisition.result.expect("the fill policy reads to the end");
    eprintln!("sector re-reads: {:?}", record.sector_rereads);

    let mut expected = pattern(size as usize);
    let mut expected_ranges = Vec::new();
    for (start, end) in bad {
        let first = start / 512 * 512;
        let last = (end.div_ceil(512) * 512).min(size);
        expected[first as usize..last as usize].fill(0);
        expected_ranges.push((first, last - first));
    }
    assert_eq!(image.len() as u64, size, "nothing lost or added");
    assert!(image == expected, "the image is the file with exactly the bad sectors zeroed");
    let found: Vec<_> = record.read_errors.ranges.iter().map(|r| (r.byte_offset, r.byte_length)).collect();
    assert_eq!(found, expected_ranges);
    for range in &record.read_errors.ranges {
        assert!(range.error.contains("os error 5"), "{}", range.error);
    }
    assert_eq!(record.end, ReadEnd::Complete);
    assert_eq!(record.bytes_substituted, expected_ranges.iter().map(|r| r.1).sum::<u64>());
    assert!(!record.sector_rereads.detail.is_empty());
}
