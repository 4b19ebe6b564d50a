//! The package's one door to storage. Everything Custos reads from or writes to a package
//! goes through a [`PackageStore`]: list the tree, read a small file, open a payload file.
//! A local folder ([`PackageDir`]) is the first implementation; an S3-compatible prefix will
//! be the second, and verification does not know which one it is talking to.
//!
//! Whoever holds a package can plant symbolic links, FIFOs, device nodes and hard links in
//! it, and swap them in between a check and a use. So the local door never resolves a path
//! in one go: it opens the package folder once, then every component below it with
//! `openat(…, O_NOFOLLOW)` (a link anywhere on the path is refused, also one swapped in
//! after the listing), opens files with `O_NONBLOCK` (a FIFO cannot hang a reader), checks
//! with `fstat` on the open descriptor that it holds a regular file, and reads at most a
//! documented number of bytes ([`MAX_TAG_FILE_BYTES`]). Writes create new files with
//! `O_CREAT|O_EXCL` and replace existing ones by writing a temporary file beside them and
//! renaming it over, so a link planted at the target is replaced, never written through.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use custos_hash::EntryKind;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// The most bytes a tag file (anything outside `data/`: bag manifests, the manifest, its
/// signatures, keys, segment lists, the custody log) may hold: 64 MiB.
pub const MAX_TAG_FILE_BYTES: u64 = 64 << 20;
/// The most entries (files, links, special files) a package may hold: 1,000,000.
pub const MAX_ENTRIES: usize = 1_000_000;
/// The deepest a package's folders may nest: 32 levels.
pub const MAX_DEPTH: usize = 32;
/// How long a reader or writer waits for the package's lock: 30 seconds.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The path is not a plain relative path inside the package.
    #[error("{path}: not a plain path inside the package ({reason})")]
    BadPath {
        /// The path asked for.
        path: String,
        /// Why not.
        reason: &'static str,
    },
    /// Something on the path is a symbolic link; links are never followed.
    #[error("{path}: a symbolic link on the path; package files are never reached through links")]
    Link {
        /// The path asked for.
        path: String,
    },
    /// Not a regular file (a FIFO, socket, device or folder).
    #[error("{path}: {found}, not a regular file")]
    NotRegular {
        /// The path asked for.
        path: String,
        /// What is there.
        found: &'static str,
    },
    /// Larger than the cap for files of its kind.
    #[error("{path}: {size} bytes, more than the {cap} bytes allowed for this kind of file")]
    TooLarge {
        /// The path.
        path: String,
        /// Its size (at least).
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// Folders nested deeper than [`MAX_DEPTH`].
    #[error("{path}: folders nested more than {depth} deep")]
    TooDeep {
        /// Where.
        path: String,
        /// The cap.
        depth: usize,
    },
    /// Another process holds the package's lock.
    #[error("{path}: another process has held the package's lock for {waited} s (a custody command still running, or someone blocking it); try again later")]
    Locked {
        /// The lock file.
        path: String,
        /// Seconds waited.
        waited: u64,
    },
    /// Another process is building this (unfinished) package.
    #[error("{path}: another custos process is building this package right now (an acquisition still running?); wait for it or stop it first")]
    Busy {
        /// The folder.
        path: String,
    },
    /// The package holds more entries than [`MAX_ENTRIES`].
    #[error("the package holds more than {0} entries")]
    TooManyEntries(usize),
    /// The file does not exist.
    #[error("{path}: not found")]
    NotFound {
        /// The path.
        path: String,
    },
    /// A new file's name is taken.
    #[error("{path}: already exists (never overwritten)")]
    Exists {
        /// The path.
        path: String,
    },
    /// Any other I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// What a listing found at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// The path relative to the package, `/`-separated, as raw bytes: names that are not
    /// UTF-8 are reported as they are, never converted.
    pub path: Vec<u8>,
    /// A regular file with its size, a link, or a special file.
    pub kind: EntryKind,
}

impl StoredEntry {
    /// The path as text, when it is UTF-8.
    pub fn utf8_path(&self) -> Option<&str> {
        std::str::from_utf8(&self.path).ok()
    }
}

/// A regular file opened through the door.
#[derive(Debug)]
pub struct StoredFile {
    /// The open file (read-only).
    pub file: File,
    /// Its size when opened.
    pub size: u64,
    /// Its number of hard links (more than 1: another name can change it).
    pub links: u64,
}

/// A payload file opened to be hashed.
#[derive(Debug)]
pub struct Payload {
    /// Its bytes.
    pub body: PayloadBody,
    /// Its size when opened (a stream that yields another number of bytes is caught by the
    /// item's size check after hashing).
    pub size: u64,
    /// Its number of hard links (more than 1: another name can change it); 1 where the store
    /// has no links.
    pub links: u64,
}

impl std::fmt::Debug for PayloadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayloadBody::File(file) => f.debug_tuple("File").field(file).finish(),
            PayloadBody::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// Where a payload's bytes come from.
pub enum PayloadBody {
    /// A local file, opened without following links: the engine maps it in windows.
    File(File),
    /// A stream (an object store's ranged reads): the engine reads it in windows.
    Stream(Box<dyn Read + Send>),
}

/// The door to a package's storage.
pub trait PackageStore: std::fmt::Debug {
    /// Where the package is, for messages.
    fn location(&self) -> String;
    /// Every non-directory entry, sorted by path bytes. Links and special files are listed,
    /// never followed or opened.
    fn list(&self) -> Result<Vec<StoredEntry>, StoreError>;
    /// The whole content of a regular file of at most `cap` bytes.
    fn read_small(&self, path: &str, cap: u64) -> Result<Vec<u8>, StoreError>;
    /// Opens a regular file to hash (payload): a local file the engine may map, or a
    /// stream from a remote store.
    fn open_payload(&self, path: &str) -> Result<Payload, StoreError>;
    /// Takes the package's shared lock, held until the returned guard is dropped: custody
    /// appends take the exclusive one, so a reader sees a log and tag manifests that belong
    /// together. `None` when the store has no such lock or the package no log.
    fn read_lock(&self) -> Result<Option<File>, StoreError>;
    /// A digest of the package's files as they are now, read the way verification reads
    /// them, so an audit can tell whether what it verified is what it will next see; `None`
    /// when the store cannot say.
    fn fingerprint(&self) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}

/// A package in a local folder.
#[derive(Debug)]
pub struct PackageDir {
    root: PathBuf,
    dir: OwnedFd,
}

impl PackageDir {
    /// Opens the package folder. The folder itself is what the user named (a link to it is
    /// followed, as the user chose it); nothing below it is reached through a link.
    pub fn open(root: &Path) -> Result<PackageDir, StoreError> {
        let dir = rfs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| io_error(&root.display().to_string(), e))?;
        Ok(PackageDir { root: root.to_owned(), dir })
    }

    /// Opens a folder Custos made itself (an unfinished package), never through a link: a
    /// link put in its place is refused, not followed.
    pub fn open_exact(root: &Path) -> Result<PackageDir, StoreError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let dir = rfs::open(root, flags, Mode::empty()).map_err(|e| match e {
            Errno::LOOP | Errno::NOTDIR => StoreError::NotRegular {
                path: root.display().to_string(),
                found: "a link or file, not a folder",
            },
            e => io_error(&root.display().to_string(), e),
        })?;
        Ok(PackageDir { root: root.to_owned(), dir })
    }

    /// Takes an exclusive lock on the folder itself for as long as this handle lives (one
    /// seal or acquisition at a time builds a package); [`StoreError::Busy`] at once when
    /// another process holds it.
    pub fn lock_building(&self) -> Result<(), StoreError> {
        rfs::flock(&self.dir, rfs::FlockOperation::NonBlockingLockExclusive).map_err(|e| match e {
            Errno::WOULDBLOCK => StoreError::Busy { path: self.root.display().to_string() },
            e => io_error(&self.root.display().to_string(), e),
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Opens the folder holding `path` (every component without following links) and
    /// returns it with the last component.
    fn parent_of<'p>(&self, path: &'p str) -> Result<(OwnedFd, &'p str), StoreError> {
        check_path(path)?;
        let mut components: Vec<&str> = path.split('/').collect();
        let name = components.pop().unwrap_or_default();
        let mut dir =
            rfs::openat(&self.dir, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| io_error(path, e))?;
        for component in components {
            dir = rfs::openat(
                &dir,
                component,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| match e {
                Errno::LOOP | Errno::NOTDIR => StoreError::Link { path: path.to_owned() },
                e => io_error(path, e),
            })?;
        }
        Ok((dir, name))
    }

    fn open_regular(&self, path: &str, flags: OFlags, mode: Mode) -> Result<StoredFile, StoreError> {
        let (dir, name) = self.parent_of(path)?;
        let fd = rfs::openat(
            &dir,
            name,
            flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
            mode,
        )
        .map_err(|e| match e {
            Errno::LOOP => StoreError::Link { path: path.to_owned() },
            Errno::EXIST => StoreError::Exists { path: path.to_owned() },
            // O_NONBLOCK|O_WRONLY on a FIFO with no reader.
            Errno::NXIO => StoreError::NotRegular { path: path.to_owned(), found: "a FIFO" },
            e => io_error(path, e),
        })?;
        let stat = rfs::fstat(&fd).map_err(|e| io_error(path, e))?;
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind != FileType::RegularFile {
            return Err(StoreError::NotRegular { path: path.to_owned(), found: describe(kind) });
        }
        Ok(StoredFile { file: File::from(fd), size: stat.st_size as u64, links: stat.st_nlink as u64 })
    }

    /// Opens a regular file of the package to read, without following links.
    pub fn open_file(&self, path: &str) -> Result<StoredFile, StoreError> {
        self.open_regular(path, OFlags::RDONLY, Mode::empty())
    }

    /// Creates a new file with `bytes` (never replacing one), synced to disk.
    pub fn create_new(&self, path: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let mut stored = self.open_regular(
            path,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
            Mode::from_raw_mode(0o644),
        )?;
        let written = stored.file.write_all(bytes).and_then(|()| stored.file.sync_all());
        if let Err(source) = written {
            let _ = self.remove(path);
            return Err(StoreError::Io { path: path.to_owned(), source });
        }
        Ok(())
    }

    /// Replaces `path` with `bytes` atomically: a temporary file beside it, synced, renamed
    /// over it. Whatever was at `path` (a file, or a link an attacker planted) is replaced,
    /// never written through.
    pub fn replace(&self, path: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let (dir, name) = self.parent_of(path)?;
        let temporary = format!(".{name}.custos-{}-{}.tmp", std::process::id(), unique());
        let temporary_path = match path.rsplit_once('/') {
            Some((parent, _)) => format!("{parent}/{temporary}"),
            None => temporary.clone(),
        };
        self.create_new(&temporary_path, bytes)?;
        rfs::renameat(&dir, temporary.as_str(), &dir, name).map_err(|e| {
            let _ = rfs::unlinkat(&dir, temporary.as_str(), AtFlags::empty());
            io_error(path, e)
        })?;
        rfs::fsync(&dir).map_err(|e| io_error(path, e))
    }

    /// Creates a new folder (its parent reached without following links).
    pub fn create_folder(&self, path: &str) -> Result<(), StoreError> {
        let (dir, name) = self.parent_of(path)?;
        rfs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)).map_err(|e| match e {
            Errno::EXIST => StoreError::Exists { path: path.to_owned() },
            e => io_error(path, e),
        })
    }

    /// Creates `path` and every folder above it that is missing (a sealed folder's tree),
    /// each through the store: a folder that exists is kept, anything else is an error.
    pub fn create_folders(&self, path: &str) -> Result<(), StoreError> {
        let mut so_far = String::new();
        for part in path.split('/') {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(part);
            match self.create_folder(&so_far) {
                Ok(()) | Err(StoreError::Exists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Creates a new, empty file open for reading and writing (an evidence copy, written
    /// and then read back through this one descriptor).
    pub fn create_for_copy(&self, path: &str) -> Result<File, StoreError> {
        let stored = self.open_regular(
            path,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL,
            Mode::from_raw_mode(0o644),
        )?;
        Ok(stored.file)
    }

    /// Opens an existing regular file to read and write (an unfinished image being
    /// continued). A file with another name is refused, as for [`PackageDir::open_append`].
    pub fn open_for_update(&self, path: &str) -> Result<File, StoreError> {
        let stored = self.open_regular(path, OFlags::RDWR, Mode::empty())?;
        if stored.links > 1 {
            return Err(StoreError::NotRegular { path: path.to_owned(), found: "a file with several names" });
        }
        Ok(stored.file)
    }

    /// Opens an existing regular file for appending. A file with another name (a hard link
    /// an attacker made to a file outside the package) is refused: appending to it would
    /// write outside the package.
    pub fn open_append(&self, path: &str) -> Result<StoredFile, StoreError> {
        let stored = self.open_regular(path, OFlags::WRONLY | OFlags::APPEND, Mode::empty())?;
        if stored.links > 1 {
            return Err(StoreError::NotRegular {
                path: path.to_owned(),
                found: "a file with several names (hard links)",
            });
        }
        Ok(stored)
    }

    /// Creates a new, empty file and opens it for appending.
    pub fn create_append(&self, path: &str) -> Result<StoredFile, StoreError> {
        self.open_regular(
            path,
            OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::EXCL,
            Mode::from_raw_mode(0o644),
        )
    }

    /// Takes the exclusive lock on an open custody log, waiting at most [`LOCK_WAIT`].
    pub fn lock(&self, log: &File) -> Result<(), StoreError> {
        lock_within(log, crate::layout::CUSTODY_PATH, true)
    }

    /// Takes the package's exclusive lock (the one custody appends take), held until the
    /// returned file is dropped.
    pub fn write_lock(&self) -> Result<File, StoreError> {
        let log = self.open_append(crate::layout::CUSTODY_PATH)?;
        lock_within(&log.file, crate::layout::CUSTODY_PATH, true)?;
        Ok(log.file)
    }

    /// Removes the temporary files [`PackageDir::replace`] leaves when the process is killed
    /// between writing one and renaming it over its target (see [`is_writer_temporary`]):
    /// regular files only, outside `data/`, each unlinked by name through its folder (a link
    /// is never followed). Returns the paths removed. Call it only under the package's
    /// exclusive lock, where no other writer can have a temporary in flight.
    pub fn remove_temporaries(&self) -> Result<Vec<String>, StoreError> {
        let mut removed = Vec::new();
        for entry in self.list()? {
            let Some(path) = entry.utf8_path() else { continue };
            if path.starts_with("data/") || !is_writer_temporary(path) {
                continue;
            }
            if matches!(entry.kind, EntryKind::File { .. }) {
                self.remove(path)?;
                removed.push(path.to_owned());
            }
        }
        Ok(removed)
    }

    /// Removes a file (not a folder).
    pub fn remove(&self, path: &str) -> Result<(), StoreError> {
        let (dir, name) = self.parent_of(path)?;
        rfs::unlinkat(&dir, name, AtFlags::empty()).map_err(|e| io_error(path, e))
    }

    /// Refuses a package that holds a symbolic link or a special file anywhere: before
    /// writing, the layout must be what Custos makes.
    pub fn check_layout(&self) -> Result<(), StoreError> {
        for entry in self.list()? {
            let path = String::from_utf8_lossy(&entry.path).into_owned();
            match entry.kind {
                EntryKind::File { .. } => {}
                EntryKind::Symlink { .. } => return Err(StoreError::Link { path }),
                _ => return Err(StoreError::NotRegular { path, found: "a special file" }),
            }
        }
        Ok(())
    }
}

impl PackageStore for PackageDir {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self) -> Result<Vec<StoredEntry>, StoreError> {
        // Listed through the open folder, never by path: what is listed is what the reads
        // (also through the folder) see, even if a path to the package is swapped meanwhile.
        let root =
            rfs::openat(&self.dir, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| io_error(&self.location(), e))?;
        let mut entries = Vec::new();
        list_folder(root, &[], 0, &mut entries, &mut |_, _| {})?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    fn read_small(&self, path: &str, cap: u64) -> Result<Vec<u8>, StoreError> {
        let stored = self.open_regular(path, OFlags::RDONLY, Mode::empty())?;
        if stored.size > cap {
            return Err(StoreError::TooLarge { path: path.to_owned(), size: stored.size, cap });
        }
        // Read one byte past the cap: a file that grows after the fstat is still bounded.
        let mut bytes = Vec::with_capacity(stored.size as usize);
        (&stored.file)
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| StoreError::Io { path: path.to_owned(), source })?;
        if bytes.len() as u64 > cap {
            return Err(StoreError::TooLarge { path: path.to_owned(), size: bytes.len() as u64, cap });
        }
        Ok(bytes)
    }

    fn open_payload(&self, path: &str) -> Result<Payload, StoreError> {
        let stored = self.open_file(path)?;
        Ok(Payload { size: stored.size, links: stored.links, body: PayloadBody::File(stored.file) })
    }

    fn fingerprint(&self) -> Result<Option<String>, StoreError> {
        use sha2::{Digest as _, Sha256};
        let stamp = |stat: &rfs::Stat| -> [u64; 7] {
            [
                u64::from(stat.st_mode),
                stat.st_size as u64,
                stat.st_ino,
                stat.st_mtime as u64,
                stat.st_mtime_nsec,
                stat.st_ctime as u64,
                stat.st_ctime_nsec,
            ]
        };
        // Through the open folder, in the one walk a listing makes, as every read of
        // verification: a path to the package swapped meanwhile does not change what is
        // described.
        let mut stamps: Vec<(Vec<u8>, [u64; 7])> =
            vec![(Vec::new(), stamp(&rfs::fstat(&self.dir).map_err(|e| io_error(&self.location(), e))?))];
        let root =
            rfs::openat(&self.dir, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| io_error(&self.location(), e))?;
        list_folder(root, &[], 0, &mut Vec::new(), &mut |path, stat| {
            stamps.push((path.to_vec(), stamp(stat)))
        })?;
        // In path order: the order a folder lists its entries in is no property of the files.
        stamps.sort();
        let mut hasher = Sha256::new();
        for (path, numbers) in &stamps {
            hasher.update((path.len() as u64).to_le_bytes());
            hasher.update(path);
            for number in numbers {
                hasher.update(number.to_le_bytes());
            }
        }
        Ok(Some(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()))
    }

    fn read_lock(&self) -> Result<Option<File>, StoreError> {
        // No log (or not a regular file): nothing to lock; the snapshot reports it.
        let Ok(log) = self.open_regular(crate::layout::CUSTODY_PATH, OFlags::RDONLY, Mode::empty()) else {
            return Ok(None);
        };
        lock_within(&log.file, crate::layout::CUSTODY_PATH, false)?;
        Ok(Some(log.file))
    }
}

/// Lists `dir` (at `prefix`, `depth` folders down) into `entries`, opening sub-folders with
/// `O_NOFOLLOW` and describing every entry with `fstatat(AT_SYMLINK_NOFOLLOW)`.
/// `seen` is told of every entry, folders too, with what `fstatat` said of it.
fn list_folder(
    dir: OwnedFd,
    prefix: &[u8],
    depth: usize,
    entries: &mut Vec<StoredEntry>,
    seen: &mut dyn FnMut(&[u8], &rfs::Stat),
) -> Result<(), StoreError> {
    let shown = || String::from_utf8_lossy(prefix).into_owned();
    if depth > MAX_DEPTH {
        return Err(StoreError::TooDeep { path: shown(), depth: MAX_DEPTH });
    }
    let mut reader = rfs::Dir::read_from(&dir).map_err(|e| io_error(&shown(), e))?;
    while let Some(entry) = reader.read() {
        let entry = entry.map_err(|e| io_error(&shown(), e))?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let mut path = prefix.to_vec();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        let here = || String::from_utf8_lossy(&path).into_owned();
        let stat = rfs::statat(&dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_error(&here(), e))?;
        seen(&path, &stat);
        let kind = match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => {
                let sub = rfs::openat(
                    &dir,
                    entry.file_name(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| match e {
                    Errno::LOOP | Errno::NOTDIR => StoreError::Link { path: here() },
                    e => io_error(&here(), e),
                })?;
                list_folder(sub, &path, depth + 1, entries, seen)?;
                continue;
            }
            FileType::RegularFile => EntryKind::File { size: stat.st_size as u64 },
            FileType::Symlink => {
                let target =
                    rfs::readlinkat(&dir, entry.file_name(), Vec::new()).map_err(|e| io_error(&here(), e))?;
                EntryKind::Symlink { target: PathBuf::from(std::ffi::OsStr::from_bytes(target.as_bytes())) }
            }
            FileType::Fifo => EntryKind::Special { kind: "fifo" },
            FileType::Socket => EntryKind::Special { kind: "socket" },
            FileType::BlockDevice => EntryKind::Special { kind: "block_device" },
            FileType::CharacterDevice => EntryKind::Special { kind: "char_device" },
            _ => EntryKind::Special { kind: "unknown" },
        };
        entries.push(StoredEntry { path, kind });
        if entries.len() > MAX_ENTRIES {
            return Err(StoreError::TooManyEntries(MAX_ENTRIES));
        }
    }
    Ok(())
}

/// Takes `file`'s lock (shared or exclusive), waiting at most [`LOCK_WAIT`]: a lock held
/// forever by someone else is reported, never waited on forever.
fn lock_within(file: &File, path: &str, exclusive: bool) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    loop {
        let attempt = if exclusive { file.try_lock() } else { file.try_lock_shared() };
        match attempt {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked { path: path.to_owned(), waited: LOCK_WAIT.as_secs() })
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StoreError::Io { path: path.to_owned(), source })
            }
        }
    }
}

/// A plain relative path: no empty, `.` or `..` components, no leading `/`, no NUL.
fn check_path(path: &str) -> Result<(), StoreError> {
    let bad = |reason| Err(StoreError::BadPath { path: path.to_owned(), reason });
    if path.is_empty() || path.contains('\0') || path.contains('\\') {
        return bad("empty, or holds a NUL or backslash");
    }
    if path.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return bad("empty, `.` or `..` components, or an absolute path");
    }
    Ok(())
}

fn describe(kind: FileType) -> &'static str {
    match kind {
        FileType::Directory => "a folder",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Symlink => "a symbolic link",
        _ => "not a regular file",
    }
}

fn io_error(path: &str, errno: Errno) -> StoreError {
    match errno {
        Errno::NOENT => StoreError::NotFound { path: path.to_owned() },
        errno => StoreError::Io { path: path.to_owned(), source: errno.into() },
    }
}

/// A number that differs between calls in one process, for temporary names (which are
/// created with `O_EXCL`, so a collision fails rather than overwrites).
/// Whether the last component of `path` is named as [`PackageDir::replace`] names its
/// temporary files, `.NAME.custos-PID-NUMBER.tmp`: exactly that pattern, nothing looser, so
/// no file anyone else wrote is taken for one.
pub fn is_writer_temporary(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some(rest) = name.strip_prefix('.').and_then(|rest| rest.strip_suffix(".tmp")) else {
        return false;
    };
    let Some((target, numbers)) = rest.rsplit_once(".custos-") else { return false };
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    !target.is_empty() && numbers.split_once('-').is_some_and(|(pid, unique)| digits(pid) && digits(unique))
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    COUNTER.fetch_add(1, Ordering::Relaxed) << 32 | u64::from(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package() -> (tempfile::TempDir, PackageDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("custos")).expect("mkdir");
        std::fs::write(dir.path().join("custos/a.txt"), b"hello").expect("write");
        let store = PackageDir::open(dir.path()).expect("open");
        (dir, store)
    }

    #[test]
    fn reads_regular_files_within_the_cap() {
        let (_dir, store) = package();
        assert_eq!(store.read_small("custos/a.txt", 5).expect("read"), b"hello");
        assert!(matches!(store.read_small("custos/a.txt", 4), Err(StoreError::TooLarge { .. })));
        assert!(matches!(store.read_small("custos/none", 4), Err(StoreError::NotFound { .. })));
        for bad in ["", "/etc/passwd", "../x", "custos/../custos/a.txt", "custos//a.txt", "./a"] {
            assert!(matches!(store.read_small(bad, 10), Err(StoreError::BadPath { .. })), "{bad}");
        }
    }

    #[test]
    fn never_follows_links_anywhere_on_the_path() {
        let (dir, store) = package();
        let outside = tempfile::tempdir().expect("temp dir");
        std::fs::write(outside.path().join("secret"), b"outside").expect("write");
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("custos/link"))
            .expect("link");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("folder")).expect("link");
        assert!(matches!(store.read_small("custos/link", 100), Err(StoreError::Link { .. })));
        assert!(matches!(store.read_small("folder/secret", 100), Err(StoreError::Link { .. })));
        assert!(matches!(store.create_new("folder/new", b"x"), Err(StoreError::Link { .. })));
        assert!(!outside.path().join("new").exists());
        // Replacing a planted link replaces the link, and the file outside is untouched.
        store.replace("custos/link", b"inside").expect("replace");
        assert_eq!(std::fs::read(outside.path().join("secret")).expect("read"), b"outside");
        assert_eq!(std::fs::read(dir.path().join("custos/link")).expect("read"), b"inside");
        assert!(matches!(store.check_layout(), Err(StoreError::Link { .. })));
    }

    #[test]
    fn never_appends_to_a_file_with_another_name() {
        let (dir, store) = package();
        let outside = tempfile::tempdir().expect("temp dir");
        std::fs::write(outside.path().join("victim"), b"victim\n").expect("write");
        std::fs::hard_link(outside.path().join("victim"), dir.path().join("custos/log")).expect("hard link");
        assert!(matches!(store.open_append("custos/log"), Err(StoreError::NotRegular { .. })));
        assert_eq!(std::fs::read(outside.path().join("victim")).expect("read"), b"victim\n");
    }

    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let (dir, store) = package();
        let fifo = dir.path().join("custos/fifo");
        rfs::mknodat(rfs::CWD, &fifo, FileType::Fifo, Mode::from_raw_mode(0o644), 0).expect("mkfifo");
        assert!(matches!(
            store.read_small("custos/fifo", 100),
            Err(StoreError::NotRegular { found: "a FIFO", .. })
        ));
        assert!(matches!(store.open_append("custos/fifo"), Err(StoreError::NotRegular { .. })));
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("custos/zero")).expect("link");
        assert!(matches!(store.read_small("custos/zero", 100), Err(StoreError::Link { .. })));
    }

    #[test]
    fn fingerprints_follow_every_write_and_nothing_else() {
        let (dir, store) = package();
        std::fs::create_dir_all(dir.path().join("data/sub")).expect("mkdir");
        std::fs::write(dir.path().join("data/sub/a"), b"one").expect("write");
        let first = store.fingerprint().expect("fingerprint");
        assert!(first.is_some());
        assert_eq!(first, store.fingerprint().expect("again"), "nothing changed");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("data/sub/a"), b"two").expect("rewrite");
        let rewritten = store.fingerprint().expect("fingerprint");
        assert_ne!(first, rewritten);
        std::fs::rename(dir.path().join("data/sub/a"), dir.path().join("data/sub/b")).expect("rename");
        assert_ne!(rewritten, store.fingerprint().expect("fingerprint"));
    }

    #[test]
    fn new_files_never_replace_existing_ones() {
        let (dir, store) = package();
        assert!(matches!(store.create_new("custos/a.txt", b"x"), Err(StoreError::Exists { .. })));
        assert_eq!(std::fs::read(dir.path().join("custos/a.txt")).expect("read"), b"hello");
        store.create_new("custos/b.txt", b"new").expect("create");
        assert_eq!(store.read_small("custos/b.txt", 10).expect("read"), b"new");
        let listed: Vec<Vec<u8>> = store.list().expect("list").into_iter().map(|e| e.path).collect();
        assert_eq!(listed, vec![b"custos/a.txt".to_vec(), b"custos/b.txt".to_vec()]);
    }

    #[test]
    fn names_exactly_the_temporaries_replace_writes() {
        let (_dir, store) = package();
        store.create_new("bag-info.txt", b"x").expect("create");
        let name = format!(".bag-info.txt.custos-{}-{}.tmp", std::process::id(), 12);
        assert!(is_writer_temporary(&name));
        assert!(is_writer_temporary(&format!("custos/keys/{name}")));
        for other in [
            ".custos-1-2.tmp",
            ".a.custos-1-2.txt",
            "a.custos-1-2.tmp",
            ".a.custos-x-2.tmp",
            ".a.custos-1.tmp",
            ".a.custos-1-.tmp",
        ] {
            assert!(!is_writer_temporary(other), "{other}");
        }
        store.create_new(&name, b"left").expect("create");
        assert_eq!(store.remove_temporaries().expect("removed"), vec![name]);
        assert!(store.read_small("bag-info.txt", 10).is_ok());
    }
}
