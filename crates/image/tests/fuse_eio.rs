//! Real read errors through the kernel: a FUSE file (`tests/support/faulty_fuse.py`) whose
//! chosen byte ranges fail with EIO, acquired with the fill policy. The image must be the
//! file with exactly the bad sectors zeroed, and the map must name exactly those sectors.
//!
//! Needs python3 with fusepy, fusermount and /dev/fuse; skips otherwise, and fails under
//! `CUSTOS_INTEROP=require`.

#[path = "support/fuse.rs"]
mod fuse;
mod support;

use std::path::PathBuf;

use custos_hash::Control;
use custos_image::{
    acquire, ErrorPolicy, ReadEnd, ReadOnlyState, ReadOptions, RereadMode, Source, SourceKind, Tool,
};
use fuse::{missing_tool, mount};
use support::{pattern, run, sha256_only, skip_or_fail};

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

/// Detaches a loop device (clearing the read-only flag BLKROSET left, which outlives it).
struct LoopDevice(PathBuf);

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let dev = self.0.to_string_lossy();
        let _ = run("blockdev", &["--setrw", &dev]);
        let _ = run("losetup", &["--detach", &dev]);
    }
}

/// A real block device with real bad sectors: a loop device over the faulty FUSE file, with
/// the loop driver in direct-I/O mode so that errors keep the granularity of a sector (in
/// buffered mode the loop driver reads its backing file by 4 KiB pages, and a whole page
/// fails). Sectors are then re-read through O_DIRECT on the block device.
#[test]
fn loop_device_over_fuse_file_with_eio_sectors() {
    if let Some(why) = missing_tool() {
        return skip_or_fail(&why);
    }
    if run("id", &["-u"]).as_deref() != Ok("0") {
        return skip_or_fail("loop devices need root");
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let size: u64 = 1024 * 1024 + 512;
    let bad = [(100_000, 100_001), (600_000, 601_100)];
    let mount = match mount(dir.path(), size, &bad) {
        Ok(mount) => mount,
        Err(why) => return skip_or_fail(&why),
    };
    let backing = mount.point.join("disk.img");
    let device = match run("losetup", &["--find", "--show", "--direct-io=on", &backing.to_string_lossy()]) {
        Ok(device) => LoopDevice(PathBuf::from(device)),
        Err(why) => return skip_or_fail(&format!("losetup could not attach the FUSE file: {why}")),
    };
    let name = device.0.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dio = std::fs::read_to_string(format!("/sys/block/{name}/loop/dio")).unwrap_or_default();
    if dio.trim() != "1" {
        return skip_or_fail("the loop driver refused direct I/O on the FUSE file");
    }
    let source = Source::open(&device.0).expect("open the loop device");
    assert_eq!(source.info().kind, SourceKind::BlockDevice);
    let options = ReadOptions { block_size: 64 * 1024, retries: 1, policy: ErrorPolicy::Fill };
    let tool = Tool { name: "custos".into(), version: "0.1.0".into() };
    let mut image = Vec::new();
    let acquisition = acquire(source, options, &sha256_only(), &Control::default(), &tool, Some(&mut image))
        .expect("valid options");
    let record = acquisition.record;
    acquisition.result.expect("the fill policy reads to the end");
    eprintln!("{}", serde_json::to_string_pretty(&record).expect("json"));

    let mut expected = pattern(size as usize);
    let mut expected_ranges = Vec::new();
    for (start, end) in bad {
        let first = start / 512 * 512;
        let last = end.div_ceil(512) * 512;
        expected[first as usize..last as usize].fill(0);
        expected_ranges.push((first / 512, (last - first) / 512));
    }
    assert!(image == expected, "the image is the device with exactly the bad sectors zeroed");
    let found: Vec<_> = record.read_errors.ranges.iter().map(|r| (r.start_sector, r.sector_count)).collect();
    assert_eq!(found, expected_ranges);
    assert_eq!(record.sector_rereads.mode, RereadMode::Direct);
    // The FUSE file system is read-only, so losetup attached the device read-only already.
    let state = record.source.read_only.state;
    assert!(matches!(state, ReadOnlyState::Set | ReadOnlyState::AlreadySet), "{state:?}");
}
