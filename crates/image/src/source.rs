//! Sources of an acquisition: a regular file, a block device, a FIFO or character device,
//! or stdin, opened read-only, with the facts an examiner records about them (size, sector
//! sizes, device identity, whether the kernel holds the device read-only).

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;
use serde::{Deserialize, Serialize};

use crate::device::{self, DeviceInfo, HiddenAreas};
use crate::reader::{ReadAt, ReadOptions, Reader, Reread, RereadMode};
use crate::{sys, Error};

/// The sector size assumed for sources that have none (files, streams): the traditional
/// disk sector, which is what image formats and `blockdev --getsz` count in.
pub const ASSUMED_SECTOR_SIZE: u32 = 512;

/// What kind of thing is being acquired, as `fstat` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SourceKind {
    /// A regular file (an image already made, a file-backed disk).
    RegularFile,
    /// A block device (a disk, a partition, a loop device).
    BlockDevice,
    /// A named pipe: a stream, size unknown until its end.
    Fifo,
    /// A character device (a tape, `/dev/zero`): read as a stream.
    CharacterDevice,
    /// Standard input, whatever it is connected to: read as a stream.
    Stdin,
}

impl SourceKind {
    /// `true` for sources that can be read at any offset (and so retried).
    pub fn is_positioned(self) -> bool {
        matches!(self, SourceKind::RegularFile | SourceKind::BlockDevice)
    }
}

/// Where a sector size came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Determined {
    /// Asked of the kernel (`BLKSSZGET`, `BLKPBSZGET`).
    Measured,
    /// Not a device: [`ASSUMED_SECTOR_SIZE`] is assumed.
    Assumed,
}

/// A sector size and whether it was measured or assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorSize {
    /// Bytes per sector.
    pub bytes: u32,
    /// Measured or assumed.
    pub determined: Determined,
}

/// The outcome of asking the kernel to hold a block device read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReadOnlyState {
    /// `BLKROSET` was applied here (and `BLKROGET` confirms it). It is left set: the
    /// examiner clears it (`blockdev --setrw`) when the device may be written again.
    Set,
    /// The device was already read-only.
    AlreadySet,
    /// The kernel refused `BLKROSET` (no `CAP_SYS_ADMIN`, or the driver does not allow it).
    /// The source is still opened read-only; the detail says what the kernel answered.
    Refused,
    /// Not a block device: there is no kernel read-only flag; the file is opened read-only.
    NotApplicable,
}

/// The read-only state and what the kernel said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOnly {
    /// The outcome.
    pub state: ReadOnlyState,
    /// Details (the error text when refused).
    pub detail: String,
}

/// The recorded facts of a source (everything but the open descriptor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// The path as given (`-` for stdin); non-UTF-8 bytes are replaced (U+FFFD).
    pub path: String,
    /// What it is.
    pub kind: SourceKind,
    /// Its size in bytes, when known before reading (not for streams).
    pub size_bytes: Option<u64>,
    /// The logical sector size: the unit of reads, re-reads and the error map.
    pub logical_sector_size: SectorSize,
    /// The physical sector size (a 512e disk: 512 logical, 4096 physical).
    pub physical_sector_size: SectorSize,
    /// sysfs facts, for block devices.
    pub device: Option<DeviceInfo>,
    /// Whether the kernel holds the device read-only.
    pub read_only: ReadOnly,
    /// Whether hidden areas (HPA/DCO) were checked.
    pub hidden_areas: HiddenAreas,
}

/// An opened source, read-only. Get its facts with [`Source::info`], then read it with
/// [`Source::reader`].
#[derive(Debug)]
pub struct Source {
    info: SourceInfo,
    file: File,
}

impl Source {
    /// Opens `path` read-only (`O_RDONLY | O_NOFOLLOW`; a symbolic link is refused, naming
    /// its target, so the record names the device itself), and inspects it with `fstat`.
    ///
    /// - A block device's size is found by seeking to its end (its metadata says 0), its
    ///   sector sizes by `BLKSSZGET`/`BLKPBSZGET`, and the kernel is asked to hold it
    ///   read-only (`BLKROSET`); the outcome is recorded, never hidden.
    /// - A regular file's size is its length; 512-byte sectors are assumed (and said so).
    /// - A FIFO is first opened `O_NONBLOCK` (so opening a symbolic link or a directory never
    ///   hangs), then reopened blocking, after checking that the path still names the same
    ///   FIFO: **this call then waits until a writer opens the FIFO**, because a non-blocking
    ///   reader would see end-of-file before any writer came, and acquire nothing.
    pub fn open(path: &Path) -> Result<Source, Error> {
        let open_error = |source| Error::Open { path: path.to_owned(), source };
        let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK;
        let file =
            OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(path).map_err(|source| {
                match source.raw_os_error() {
                    Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => Error::SymbolicLink {
                        path: path.to_owned(),
                        target: std::fs::canonicalize(path).ok(),
                    },
                    _ => open_error(source),
                }
            })?;
        let metadata = file.metadata().map_err(open_error)?;
        let kind = kind_of(&metadata).ok_or_else(|| Error::NotAcquirable {
            path: path.to_owned(),
            found: if metadata.is_dir() { "a directory" } else { "a socket or other special file" },
        })?;
        let file = if kind == SourceKind::Fifo {
            reopen_fifo_blocking(path, &metadata)?
        } else {
            // Reads of devices must block, never fail with EAGAIN.
            let flags = rustix::fs::fcntl_getfl(&file).map_err(|e| open_error(e.into()))?;
            rustix::fs::fcntl_setfl(&file, flags - OFlags::NONBLOCK).map_err(|e| open_error(e.into()))?;
            file
        };
        let label = path.to_string_lossy().into_owned();
        Source::inspect(file, label, kind, &metadata).map_err(open_error)
    }

    /// Standard input, read as a stream whatever it is connected to (its size is known only
    /// at its end; it cannot be re-read). Its descriptor is duplicated, so the caller's
    /// `stdin` stays usable.
    pub fn stdin() -> Result<Source, Error> {
        let open_error = |source| Error::Open { path: PathBuf::from("-"), source };
        let fd = io::stdin().as_fd().try_clone_to_owned().map_err(open_error)?;
        let file = File::from(fd);
        let metadata = file.metadata().map_err(open_error)?;
        Source::inspect(file, "-".into(), SourceKind::Stdin, &metadata).map_err(open_error)
    }

    fn inspect(mut file: File, path: String, kind: SourceKind, metadata: &Metadata) -> io::Result<Source> {
        let assumed = SectorSize { bytes: ASSUMED_SECTOR_SIZE, determined: Determined::Assumed };
        let not_applicable = |what: &str| ReadOnly {
            state: ReadOnlyState::NotApplicable,
            detail: format!("{what}: no kernel read-only flag; opened O_RDONLY"),
        };
        let no_hidden =
            |what: &str| HiddenAreas { checked: false, detail: format!("not applicable: {what}") };
        let info = match kind {
            SourceKind::BlockDevice => {
                // Metadata says 0 for block devices: the size is where the end is.
                let size = file.seek(SeekFrom::End(0))?;
                file.seek(SeekFrom::Start(0))?;
                let measured = |bytes| SectorSize { bytes, determined: Determined::Measured };
                let logical = measured(rustix::fs::ioctl_blksszget(&file)?);
                let physical = measured(rustix::fs::ioctl_blkpbszget(&file)?);
                let rdev = metadata.rdev();
                let device = device::device_info(rustix::fs::major(rdev), rustix::fs::minor(rdev));
                let hidden_areas = device::hidden_areas(&device);
                SourceInfo {
                    path,
                    kind,
                    size_bytes: Some(size),
                    logical_sector_size: logical,
                    physical_sector_size: physical,
                    device: Some(device),
                    read_only: hold_read_only(&file),
                    hidden_areas,
                }
            }
            SourceKind::RegularFile => SourceInfo {
                path,
                kind,
                size_bytes: Some(metadata.len()),
                logical_sector_size: assumed,
                physical_sector_size: assumed,
                device: None,
                read_only: not_applicable("a regular file"),
                hidden_areas: no_hidden("a regular file has no hidden areas"),
            },
            SourceKind::Fifo | SourceKind::CharacterDevice | SourceKind::Stdin => SourceInfo {
                path,
                kind,
                size_bytes: None,
                logical_sector_size: assumed,
                physical_sector_size: assumed,
                device: None,
                read_only: not_applicable("a stream"),
                hidden_areas: no_hidden("a stream shows only what its writer sends"),
            },
        };
        Ok(Source { info, file })
    }

    /// The recorded facts.
    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// A reader over this source under `options`: positioned (with retries and sector
    /// re-reads) for files and block devices, a stream otherwise.
    pub fn reader(self, options: ReadOptions) -> Result<Reader, Error> {
        let sector = self.info.logical_sector_size.bytes;
        match self.info.size_bytes {
            Some(size) if self.info.kind.is_positioned() => {
                let medium = FileMedium { file: self.file, sector_size: sector, direct: Direct::Untried };
                Reader::from_boxed_medium(Box::new(medium), size, sector, options)
            }
            _ => Reader::from_stream(self.file, sector, options),
        }
    }
}

fn kind_of(metadata: &Metadata) -> Option<SourceKind> {
    let file_type = metadata.file_type();
    if file_type.is_file() {
        Some(SourceKind::RegularFile)
    } else if file_type.is_block_device() {
        Some(SourceKind::BlockDevice)
    } else if file_type.is_fifo() {
        Some(SourceKind::Fifo)
    } else if file_type.is_char_device() {
        Some(SourceKind::CharacterDevice)
    } else {
        None
    }
}

/// Reopens a FIFO without `O_NONBLOCK` (which waits for a writer) and checks that it is the
/// FIFO first inspected, not something swapped in between.
fn reopen_fifo_blocking(path: &Path, first: &Metadata) -> Result<File, Error> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|source| Error::Open { path: path.to_owned(), source })?;
    let now = file.metadata().map_err(|source| Error::Open { path: path.to_owned(), source })?;
    if (now.dev(), now.ino()) != (first.dev(), first.ino()) || !now.file_type().is_fifo() {
        return Err(Error::Replaced { path: path.to_owned() });
    }
    Ok(file)
}

/// Asks the kernel to hold a block device read-only, and says what happened.
fn hold_read_only(file: &File) -> ReadOnly {
    match sys::block_read_only(file) {
        Ok(true) => {
            return ReadOnly {
                state: ReadOnlyState::AlreadySet,
                detail: "BLKROGET: the device was already read-only".into(),
            }
        }
        Ok(false) => {}
        Err(e) => {
            return ReadOnly { state: ReadOnlyState::Refused, detail: format!("BLKROGET failed: {e}") };
        }
    }
    if let Err(e) = sys::set_block_read_only(file) {
        return ReadOnly { state: ReadOnlyState::Refused, detail: format!("BLKROSET refused: {e}") };
    }
    match sys::block_read_only(file) {
        Ok(true) => ReadOnly {
            state: ReadOnlyState::Set,
            detail: "BLKROSET applied and confirmed by BLKROGET; left set after acquisition".into(),
        },
        Ok(false) => ReadOnly {
            state: ReadOnlyState::Refused,
            detail: "BLKROSET returned success but BLKROGET still reports read-write".into(),
        },
        Err(e) => ReadOnly {
            state: ReadOnlyState::Refused,
            detail: format!("BLKROSET returned success but BLKROGET failed: {e}"),
        },
    }
}

/// Whether sector re-reads go through a second, `O_DIRECT` descriptor.
enum Direct {
    /// Not needed yet (opened on the first re-read).
    Untried,
    /// Open, with a buffer aligned for it, and whether a read through it succeeded.
    Open { file: File, buffer: Vec<u8>, align: usize, used: bool },
    /// Not possible: why.
    Unavailable(String),
}

/// A file or block device read with `pread`, sectors re-read through `O_DIRECT` where the
/// kernel allows it.
struct FileMedium {
    file: File,
    sector_size: u32,
    direct: Direct,
}

impl FileMedium {
    /// Opens the same open file again with `O_DIRECT`, through `/proc/self/fd` so that it is
    /// certainly the same file (the path could name something else by now).
    fn open_direct(&self) -> Direct {
        let proc_path = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        let opened =
            OpenOptions::new().read(true).custom_flags(OFlags::DIRECT.bits() as i32).open(&proc_path);
        let file = match opened {
            Ok(file) => file,
            Err(e) => {
                return Direct::Unavailable(format!(
                    "O_DIRECT open refused ({e}); sectors re-read through the page cache"
                ))
            }
        };
        let same = match (file.metadata(), self.file.metadata()) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino(), a.rdev()) == (b.dev(), b.ino(), b.rdev()),
            _ => false,
        };
        if !same {
            return Direct::Unavailable(
                "the O_DIRECT reopen did not give the same file; sectors re-read through the page cache"
                    .into(),
            );
        }
        // O_DIRECT wants the buffer's address aligned (to the logical block size on Linux);
        // 4096 covers every logical sector size up to a page. An aligned window inside a
        // larger Vec needs no unsafe allocation.
        let align = (self.sector_size as usize).max(4096);
        let buffer = vec![0u8; self.sector_size as usize + align];
        Direct::Open { file, buffer, align, used: false }
    }
}

impl ReadAt for FileMedium {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }

    fn reread_sector(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if matches!(self.direct, Direct::Untried) {
            self.direct = self.open_direct();
        }
        let sector = self.sector_size as usize;
        if let Direct::Open { file, buffer, align, used } = &mut self.direct {
            let start = buffer.as_ptr().align_offset(*align);
            let window = &mut buffer[start..start + sector];
            let result = file.read_at(window, offset);
            if !matches!(&result, Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()))
            {
                *used = true;
            }
            match result {
                Ok(n) => {
                    let n = n.min(buf.len());
                    buf[..n].copy_from_slice(&window[..n]);
                    return Ok(n);
                }
                // EINVAL: this file system or driver refuses O_DIRECT reads (FUSE without
                // direct_io, some network file systems). Fall back for the rest, and say so.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                    self.direct = Direct::Unavailable(format!(
                        "O_DIRECT read refused ({e}); sectors re-read through the page cache"
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        self.file.read_at(buf, offset)
    }

    fn reread_method(&self) -> Reread {
        match &self.direct {
            Direct::Open { used: true, .. } => Reread {
                mode: RereadMode::Direct,
                detail: "sectors re-read through a second descriptor opened O_DIRECT (no page cache, no readahead)"
                    .into(),
            },
            Direct::Open { used: false, .. } | Direct::Untried => Reread {
                mode: RereadMode::Buffered,
                detail: "no sector was re-read through O_DIRECT".into(),
            },
            Direct::Unavailable(why) => Reread { mode: RereadMode::Buffered, detail: why.clone() },
        }
    }
}
