//! Deterministic directory walks: regular files to hash, symbolic links recorded but never
//! followed, special files (FIFOs, sockets, devices) recorded and skipped.

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::Error;

/// What a walk found at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryKind {
    /// A regular file of this length (at the time of the walk).
    File {
        /// Length in bytes.
        size: u64,
    },
    /// A symbolic link, recorded with its target and not followed: following links would let
    /// a link inside an evidence tree pull in data from outside it.
    Symlink {
        /// Where the link points (unresolved).
        target: PathBuf,
    },
    /// A FIFO, socket or device node: recorded, never read (reading a FIFO could block
    /// forever, and a device under a tree is not the tree's content).
    Special {
        /// `fifo`, `socket`, `block_device` or `char_device`.
        kind: &'static str,
    },
}

/// One entry of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// The path, starting with the walked root.
    pub path: PathBuf,
    /// What is there.
    pub kind: EntryKind,
}

/// Walks `root` in byte order of file names at every level, yielding every non-directory
/// entry. A root that is itself a symbolic link to a directory is followed (it is what the
/// user named); links below it are not.
pub fn walk_tree(root: &Path) -> impl Iterator<Item = Result<TreeEntry, Error>> {
    WalkDir::new(root).follow_links(false).sort_by_file_name().into_iter().filter_map(|entry| match entry {
        Err(source) => Some(Err(Error::Walk {
            path: source.path().map_or_else(|| PathBuf::from("?"), Path::to_owned),
            source,
        })),
        Ok(entry) => classify(entry).transpose(),
    })
}

fn classify(entry: walkdir::DirEntry) -> Result<Option<TreeEntry>, Error> {
    let file_type = entry.file_type();
    let kind = if file_type.is_dir() {
        return Ok(None);
    } else if file_type.is_file() {
        let metadata =
            entry.metadata().map_err(|source| Error::Walk { path: entry.path().to_owned(), source })?;
        EntryKind::File { size: metadata.len() }
    } else if file_type.is_symlink() {
        let target = fs::read_link(entry.path())
            .map_err(|source| Error::Open { path: entry.path().to_owned(), source })?;
        EntryKind::Symlink { target }
    } else {
        let kind = if file_type.is_fifo() {
            "fifo"
        } else if file_type.is_socket() {
            "socket"
        } else if file_type.is_block_device() {
            "block_device"
        } else {
            "char_device"
        };
        EntryKind::Special { kind }
    };
    Ok(Some(TreeEntry { path: entry.into_path(), kind }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_is_sorted_records_links_and_skips_nothing_silently() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        fs::create_dir(root.join("b")).expect("mkdir");
        fs::write(root.join("b/z"), b"z").expect("write");
        fs::write(root.join("a"), b"aa").expect("write");
        fs::write(root.join("c"), b"").expect("write");
        std::os::unix::fs::symlink("/etc/passwd", root.join("link")).expect("symlink");
        let status = std::process::Command::new("mkfifo").arg(root.join("pipe")).status().expect("mkfifo");
        assert!(status.success());

        let entries: Vec<TreeEntry> = walk_tree(root).collect::<Result<_, _>>().expect("walk");
        let names: Vec<String> = entries
            .iter()
            .map(|e| e.path.strip_prefix(root).expect("under root").display().to_string())
            .collect();
        assert_eq!(names, ["a", "b/z", "c", "link", "pipe"]);
        assert_eq!(entries[0].kind, EntryKind::File { size: 2 });
        assert_eq!(entries[3].kind, EntryKind::Symlink { target: "/etc/passwd".into() });
        assert_eq!(entries[4].kind, EntryKind::Special { kind: "fifo" });
    }
}
