//! A real block device: a loop device over a file whose size is no multiple of 4096, read
//! through `Source` and compared with `sha256sum` of the backing file and with what
//! `blockdev` reports (size in 512-byte units, sector sizes, the read-only flag).
//!
//! Needs root and `losetup`; skips otherwise, and fails under `CUSTOS_INTEROP=require`.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};

use custos_hash::{Algorithm, Control};
use custos_image::{acquire, Determined, ReadEnd, ReadOnlyState, ReadOptions, Source, SourceKind, Tool};
use support::{is_root, pattern, run, sha256_only, sha256sum, skip_or_fail};

/// Detaches the loop device when the test ends, passed or not. The read-only flag that
/// `BLKROSET` left is cleared first: it belongs to the kernel's block device, outlives the
/// detach, and would make the next user of the same loop number read-only.
struct LoopDevice(PathBuf);

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let dev = self.0.to_string_lossy();
        if let Err(why) = run("blockdev", &["--setrw", &dev]) {
            eprintln!("could not clear the read-only flag of {dev}: {why}");
        }
        if let Err(why) = run("losetup", &["--detach", &dev]) {
            eprintln!("could not detach {}: {why}", self.0.display());
        }
    }
}

fn attach(backing: &Path, sector_size: Option<u32>) -> Result<LoopDevice, String> {
    let backing = backing.to_string_lossy();
    let size_arg = sector_size.map(|s| s.to_string());
    // Attached read-write, so that the read-only flag is this crate's doing (BLKROSET);
    // `losetup --read-only` would set the disk's own flag, which outlives the detach.
    let mut args = vec!["--find", "--show"];
    if let Some(size) = size_arg.as_deref() {
        args.extend(["--sector-size", size]);
    }
    args.push(&backing);
    let device = run("losetup", &args)?;
    Ok(LoopDevice(PathBuf::from(device)))
}

fn check_loop(file_size: usize, sector_size: Option<u32>) {
    if !is_root() {
        return skip_or_fail("loop devices need root");
    }
    let mut backing = tempfile::NamedTempFile::new().expect("temporary file");
    let data = pattern(file_size);
    backing.write_all(&data).expect("write the backing file");
    backing.flush().expect("flush");
    let device = match attach(backing.path(), sector_size) {
        Ok(device) => device,
        Err(why) => return skip_or_fail(&format!("losetup could not attach a loop device: {why}")),
    };
    let dev = device.0.to_string_lossy().into_owned();
    // A loop number reused after someone else's BLKROSET keeps that flag: start read-write.
    run("blockdev", &["--setrw", &dev]).expect("blockdev --setrw");
    let expected_digest = sha256sum(backing.path()).expect("sha256sum");

    let source = Source::open(&device.0).expect("open the loop device");
    let info = source.info().clone();
    assert_eq!(info.kind, SourceKind::BlockDevice);
    assert_eq!(info.size_bytes, Some(file_size as u64));
    let logical = sector_size.unwrap_or(512);
    assert_eq!(info.logical_sector_size.bytes, logical);
    assert_eq!(info.logical_sector_size.determined, Determined::Measured);
    let blockdev_ss: u32 =
        run("blockdev", &["--getss", &dev]).expect("blockdev --getss").parse().expect("number");
    let blockdev_pbsz: u32 =
        run("blockdev", &["--getpbsz", &dev]).expect("blockdev --getpbsz").parse().expect("number");
    assert_eq!(info.logical_sector_size.bytes, blockdev_ss);
    assert_eq!(info.physical_sector_size.bytes, blockdev_pbsz);
    assert_eq!(info.read_only.state, ReadOnlyState::Set, "{:?}", info.read_only);
    assert_eq!(run("blockdev", &["--getro", &dev]).as_deref(), Ok("1"), "BLKROSET applied");
    let device_info = info.device.as_ref().expect("sysfs facts");
    assert!(device_info.name.as_deref().is_some_and(|n| n.starts_with("loop")), "{device_info:?}");
    assert_eq!(device_info.loop_backing_file.as_deref(), Some(&*backing.path().to_string_lossy()));
    assert!(!info.hidden_areas.checked);
    assert!(info.hidden_areas.detail.contains("loop"), "{}", info.hidden_areas.detail);

    let tool = Tool { name: "custos-test".into(), version: "0".into() };
    let mut image = Vec::new();
    let acquisition =
        acquire(source, ReadOptions::default(), &sha256_only(), &Control::default(), &tool, Some(&mut image))
            .expect("valid options");
    let outcome = acquisition.result.expect("the loop device reads without error");
    assert_eq!(outcome.digest(Algorithm::Sha256).map(|d| d.to_hex()), Some(expected_digest));
    assert_eq!(image, data);
    let record = acquisition.record;
    assert_eq!(record.end, ReadEnd::Complete);
    assert_eq!(record.bytes_read, file_size as u64);
    assert!(record.read_errors.is_empty());
    // `blockdev --getsz` counts 512-byte units whatever the logical sector size.
    let getsz: u64 = run("blockdev", &["--getsz", &dev]).expect("blockdev --getsz").parse().expect("number");
    assert_eq!(record.sector_count * u64::from(logical) / 512, getsz);
    assert_eq!(record.sector_remainder_bytes, 0, "a block device is whole sectors");
    assert_eq!(record.digests.len(), 1);
}

#[test]
fn loop_device_512_bytes_sectors_size_not_multiple_of_4096() {
    check_loop(1024 * 1024 + 512, None);
}

#[test]
fn loop_device_4096_bytes_sectors() {
    check_loop(1024 * 1024 + 4096 * 3, Some(4096));
}

#[test]
fn blkroset_is_applied_and_left_set() {
    if !is_root() {
        return skip_or_fail("loop devices need root");
    }
    let mut backing = tempfile::NamedTempFile::new().expect("temporary file");
    backing.write_all(&pattern(64 * 1024 + 512)).expect("write");
    let backing_path = backing.path().to_string_lossy().into_owned();
    // Attached read-write, so that setting read-only is this crate's doing.
    let device = match run("losetup", &["--find", "--show", &backing_path]) {
        Ok(device) => LoopDevice(PathBuf::from(device)),
        Err(why) => return skip_or_fail(&format!("losetup could not attach a loop device: {why}")),
    };
    let dev = device.0.to_string_lossy().into_owned();
    // A loop number reused after someone else's BLKROSET keeps that flag: start read-write.
    run("blockdev", &["--setrw", &dev]).expect("blockdev --setrw");
    assert_eq!(run("blockdev", &["--getro", &dev]).as_deref(), Ok("0"), "attached read-write");
    let source = Source::open(&device.0).expect("open");
    assert_eq!(source.info().read_only.state, ReadOnlyState::Set, "{:?}", source.info().read_only);
    assert_eq!(run("blockdev", &["--getro", &dev]).as_deref(), Ok("1"), "BLKROSET applied");
    drop(source);
    // Left set after the source is closed, as the record says.
    assert_eq!(run("blockdev", &["--getro", &dev]).as_deref(), Ok("1"), "left read-only");
}
