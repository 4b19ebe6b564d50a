//! The audit's own working files (the state, its lock, the ledger) are opened the way
//! package files are: never through a link in the last component, never waiting on a FIFO,
//! and only when what is there is a regular file. These files are not signed (the ledger's
//! lines are, the file is not), so whoever can write beside them can plant a link that
//! would redirect a write, or a FIFO that would hang a nightly audit forever.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// Opens `path` with `options`, refusing a link, a FIFO, a device or a folder in its place.
pub(crate) fn open_regular(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    // O_NONBLOCK: opening a FIFO returns at once (or fails) instead of waiting for a peer;
    // it changes nothing for a regular file.
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    let file = options.open(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => io::Error::new(
            io::ErrorKind::InvalidInput,
            "a symbolic link is in its place: refusing to follow it (name the file itself)",
        ),
        Some(libc::ENXIO | libc::EISDIR) => not_regular(),
        _ => e,
    })?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

fn not_regular() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not a regular file (a FIFO, device or folder is in its place): refusing to use it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_fifos_devices_and_folders_are_refused_at_once() {
        let folder = tempfile::tempdir().expect("tempdir");
        let target = folder.path().join("target");
        std::fs::write(&target, b"x").expect("write");
        let link = folder.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let fifo = folder.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
        let read = || OpenOptions::new().read(true).clone();
        let append = || OpenOptions::new().read(true).append(true).create(true).clone();
        for (path, why) in [
            (&link, "symbolic link"),
            (&fifo, "not a regular file"),
            (&folder.path().to_owned(), "not a regular file"),
            (&Path::new("/dev/zero").to_owned(), "not a regular file"),
        ] {
            for mut options in [read(), append()] {
                let error = open_regular(path, &mut options).expect_err("refused");
                assert!(error.to_string().contains(why), "{}: {error}", path.display());
            }
        }
        assert!(open_regular(&target, &mut read()).is_ok());
        assert_eq!(std::fs::read(&target).expect("read"), b"x", "nothing written through the link");
    }
}
