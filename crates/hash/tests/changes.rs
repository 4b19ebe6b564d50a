//! Inputs that change under the engine: each must end in a clear error, never a crash and
//! never a digest.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use custos_hash::{hash_path, Algorithm, Control, Error, HashOptions};

const WINDOW: usize = 64 * 1024;

fn image(windows: usize) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&vec![0x5a; WINDOW * windows]).expect("write");
    // An old modification time, so that any later write visibly moves it even on file
    // systems with coarse timestamps.
    let old = SystemTime::now() - Duration::from_secs(3600);
    file.as_file().set_modified(old).expect("set mtime");
    file
}

fn options(mmap: bool) -> HashOptions {
    HashOptions {
        algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        window_size: WINDOW,
        windows_in_flight: 2,
        mmap,
        ..HashOptions::default()
    }
}

/// Runs `hash_path`, calling `meddle` once after the first window has been read.
fn hash_while(
    file: &tempfile::NamedTempFile,
    mmap: bool,
    meddle: impl Fn(&File) + Sync,
) -> Result<(), Error> {
    let calls = AtomicU64::new(0);
    let writer = OpenOptions::new().write(true).open(file.path()).expect("open for writing");
    let progress = |_bytes: u64| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            meddle(&writer);
        }
    };
    let control = Control { progress: Some(&progress), cancel: None };
    hash_path(file.path(), &options(mmap), &control).map(|_| ())
}

#[test]
fn truncated_while_hashed_is_an_error() {
    for mmap in [true, false] {
        let file = image(8);
        let result = hash_while(&file, mmap, |f| f.set_len(WINDOW as u64 + 10).expect("truncate"));
        match result {
            Err(Error::Shrank { expected, found, .. }) => {
                assert_eq!(expected, 8 * WINDOW as u64);
                assert!(found < expected, "found {found}");
            }
            other => panic!("mmap {mmap}: expected Shrank, got {other:?}"),
        }
    }
}

#[test]
fn truncated_to_nothing_while_hashed_is_an_error() {
    let file = image(8);
    let error = hash_while(&file, true, |f| f.set_len(0).expect("truncate")).expect_err("must fail");
    let message = error.to_string();
    assert!(message.contains("shrank while it was being hashed"), "{message}");
}

#[test]
fn rewritten_while_hashed_is_an_error() {
    for mmap in [true, false] {
        let file = image(4);
        let result = hash_while(&file, mmap, |f| {
            f.write_all_at(b"tampered", 3 * WINDOW as u64).expect("write");
        });
        assert!(matches!(result, Err(Error::Changed { .. })), "mmap {mmap}: {result:?}");
    }
}

#[test]
fn grown_while_hashed_is_an_error() {
    let file = image(4);
    let result = hash_while(&file, true, |f| {
        f.write_all_at(b"appended", 4 * WINDOW as u64).expect("append");
    });
    match result {
        Err(Error::Changed { what, .. }) => assert!(what.contains("length"), "{what}"),
        other => panic!("expected Changed, got {other:?}"),
    }
}

#[test]
fn cancellation_stops_with_cancelled() {
    let file = image(8);
    let cancel = AtomicBool::new(false);
    let progress = |_bytes: u64| cancel.store(true, Ordering::SeqCst);
    let control = Control { progress: Some(&progress), cancel: Some(&cancel) };
    let result = hash_path(file.path(), &options(true), &control);
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
}

#[test]
fn progress_adds_up_to_the_size() {
    let file = image(5);
    let total = AtomicU64::new(0);
    let progress = |bytes: u64| {
        total.fetch_add(bytes, Ordering::SeqCst);
    };
    let control = Control { progress: Some(&progress), cancel: None };
    let outcome = hash_path(file.path(), &options(true), &control).expect("hash");
    assert_eq!(total.load(Ordering::SeqCst), outcome.size);
    assert_eq!(outcome.size, 5 * WINDOW as u64);
}

#[test]
fn a_directory_is_not_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let result = hash_path(dir.path(), &HashOptions::default(), &Control::default());
    assert!(matches!(result, Err(Error::IsADirectory { .. })), "{result:?}");
}

/// procfs files say 0 bytes in metadata yet have contents; trusting the metadata would give
/// the empty digest silently. /proc/self/mem fails to read at offset 0 even as root.
#[test]
fn zero_length_metadata_is_read_to_the_end() {
    let outcome = hash_path("/proc/self/status".as_ref(), &HashOptions::default(), &Control::default())
        .expect("procfs file");
    assert!(outcome.size > 0);
    let result = hash_path("/proc/self/mem".as_ref(), &HashOptions::default(), &Control::default());
    assert!(matches!(result, Err(Error::Read { offset: 0, .. })), "{result:?}");
}

/// A tree entry swapped for a symbolic link after the walk must not be followed out of the
/// tree, and one swapped for a FIFO must not block: both are refused with a clear error.
#[test]
fn tree_entries_swapped_after_the_walk_are_refused() {
    use custos_hash::hash_tree_file;
    let dir = tempfile::tempdir().expect("temp dir");
    let link = dir.path().join("swapped-link");
    std::os::unix::fs::symlink("/etc/hostname", &link).expect("symlink");
    let result = hash_tree_file(&link, &HashOptions::default(), &Control::default());
    match result {
        Err(error @ Error::NotARegularFile { .. }) => {
            assert!(error.to_string().contains("is now a symbolic link"), "{error}");
        }
        other => panic!("a symlink must be refused, got {other:?}"),
    }
    let fifo = dir.path().join("swapped-fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let result = hash_tree_file(&fifo, &HashOptions::default(), &Control::default());
    assert!(matches!(result, Err(Error::NotARegularFile { .. })), "{result:?}");
    // A regular file is hashed as usual.
    std::fs::write(dir.path().join("plain"), b"abc").expect("write");
    let outcome = hash_tree_file(&dir.path().join("plain"), &HashOptions::default(), &Control::default());
    assert_eq!(outcome.map(|o| o.size).ok(), Some(3));
}
