//! `copy_and_hash`: evidence copies made in the same pass as their digests, read back and
//! compared, never overwriting anything, and never left behind unverified.

mod common;

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

use common::pattern;
use custos_hash::{copy_and_hash, Algorithm, Control, Error, HashOptions};

fn options(window_size: usize, mmap: bool) -> HashOptions {
    HashOptions {
        algorithms: vec![Algorithm::Md5, Algorithm::Sha256, Algorithm::Blake3],
        window_size,
        mmap,
        ..HashOptions::default()
    }
}

#[test]
fn copies_are_exact_verified_and_read_only() {
    const WINDOW: usize = 64 * 1024;
    let dir = tempfile::tempdir().expect("temp dir");
    for size in [0, 1, 20_000, WINDOW - 1, WINDOW, WINDOW + 1, 5 * WINDOW + 17] {
        for mmap in [true, false] {
            let input = pattern(size);
            let source = dir.path().join(format!("source-{size}-{mmap}"));
            std::fs::write(&source, &input).expect("write source");
            let copy = dir.path().join(format!("copy-{size}-{mmap}"));
            let outcome = copy_and_hash(&source, &copy, &options(WINDOW, mmap), &Control::default())
                .unwrap_or_else(|e| panic!("{size} bytes, mmap {mmap}: {e}"));
            assert_eq!(std::fs::read(&copy).expect("read copy"), input, "{size} bytes, mmap {mmap}");
            for algorithm in [Algorithm::Md5, Algorithm::Sha256, Algorithm::Blake3] {
                assert_eq!(outcome.digest(algorithm), Some(&algorithm.digest(&input)));
            }
            assert!(std::fs::metadata(&copy).expect("metadata").permissions().readonly());
        }
    }
}

#[test]
fn an_existing_destination_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("source");
    std::fs::write(&source, b"new evidence").expect("write");
    let existing = dir.path().join("existing");
    std::fs::write(&existing, b"older evidence").expect("write");
    let result = copy_and_hash(&source, &existing, &options(4096, true), &Control::default());
    assert!(matches!(result, Err(Error::Write { .. })), "{result:?}");
    assert_eq!(std::fs::read(&existing).expect("read"), b"older evidence");
}

#[test]
fn a_copy_that_differs_when_read_back_is_refused_and_removed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("source");
    std::fs::write(&source, pattern(3000)).expect("write");
    let copy = dir.path().join("copy");
    // After the (single) window is written, corrupt the copy behind the engine's back, as
    // failing storage would.
    let corrupted = AtomicBool::new(false);
    let corrupt = |_bytes: u64| {
        if !corrupted.swap(true, Ordering::SeqCst) {
            let file =
                std::fs::OpenOptions::new().write(true).open(dir.path().join("copy")).expect("open copy");
            file.write_all_at(b"X", 100).expect("corrupt");
        }
    };
    let control = Control { progress: Some(&corrupt), cancel: None };
    match copy_and_hash(&source, &copy, &options(4096, false), &control) {
        Err(error @ Error::CopyMismatch { .. }) => {
            assert!(error.to_string().contains("does not match its source"), "{error}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert!(!copy.exists(), "an unverified copy must not be left behind");
}

#[test]
fn a_source_truncated_during_the_copy_leaves_nothing() {
    const WINDOW: usize = 64 * 1024;
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("source");
    let mut file = std::fs::File::create(&source).expect("create");
    file.write_all(&pattern(8 * WINDOW)).expect("write");
    let copy = dir.path().join("copy");
    let truncated = AtomicBool::new(false);
    let truncate = |_bytes: u64| {
        if !truncated.swap(true, Ordering::SeqCst) {
            file.set_len(WINDOW as u64).expect("truncate");
        }
    };
    let control = Control { progress: Some(&truncate), cancel: None };
    let result = copy_and_hash(&source, &copy, &options(WINDOW, true), &control);
    assert!(matches!(result, Err(Error::Shrank { .. })), "{result:?}");
    assert!(!copy.exists());
}

#[test]
fn only_files_and_devices_are_copied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("copy");
    let result = copy_and_hash(dir.path(), &copy, &options(4096, true), &Control::default());
    assert!(matches!(result, Err(Error::IsADirectory { .. })), "{result:?}");
    assert!(!copy.exists());
    let result =
        copy_and_hash("/proc/self/status".as_ref(), &copy, &options(4096, true), &Control::default());
    match result {
        Err(error) => assert!(error.to_string().contains("no length to check a copy against"), "{error}"),
        Ok(_) => panic!("a procfs file must not be copied as if it were empty"),
    }
    assert!(!copy.exists());
}
