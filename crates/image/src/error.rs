//! The errors of acquisition: opening a source, and reading it under the read-error policy.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while opening or acquiring a source. Each variant names the
/// source, and read failures name the byte offset and sector.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source could not be opened or inspected (`fstat`, seeking to its end).
    #[error("cannot open {} read-only", path.display())]
    Open {
        /// The source.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The path names something that cannot be acquired (a directory, a socket) or a symbolic
    /// link, which is never followed: the caller names the device or file itself.
    #[error("{} is {found}; give a regular file, a block device or a FIFO", path.display())]
    NotAcquirable {
        /// The source.
        path: PathBuf,
        /// What is there.
        found: &'static str,
    },
    /// The path is a symbolic link. Links are never followed, so that the record names the
    /// device or file actually read (a `/dev/disk/by-id` link can be re-pointed).
    #[error("{} is a symbolic link{}; give the device or file itself", path.display(),
        target.as_ref().map(|t| format!(" to {}", t.display())).unwrap_or_default())]
    SymbolicLink {
        /// The link.
        path: PathBuf,
        /// Where it points now, if it resolves.
        target: Option<PathBuf>,
    },
    /// A FIFO was replaced by something else between the first (non-blocking) open and the
    /// blocking reopen.
    #[error("{} changed between two opens (it is no longer the same FIFO); refusing to read it", path.display())]
    Replaced {
        /// The source.
        path: PathBuf,
    },
    /// Options that cannot work (a block size that is not a whole number of sectors).
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// Under [`crate::ErrorPolicy::Stop`], a sector stayed unreadable after every retry and
    /// the sector-by-sector re-read. Bytes before `offset` were delivered; nothing after.
    #[error(
        "sector {sector} (byte offset {offset}, {length} bytes) is unreadable after {attempts} attempts; \
         stopped as the policy asks (use the fill policy to substitute zeros and continue)"
    )]
    UnreadableSector {
        /// The first unreadable byte.
        offset: u64,
        /// Its sector, in logical sectors from the start of the source.
        sector: u64,
        /// Bytes of that sector that could not be read.
        length: u64,
        /// Reads tried for the failing block (first read, retries, and the sector re-read).
        attempts: u32,
        /// The last error the operating system gave.
        #[source]
        source: io::Error,
    },
    /// The medium went away while it was read (`ENODEV`, `ENXIO`, `ENOMEDIUM`: unplugged,
    /// ejected). Not a bad sector, so no policy fills it; bytes before `offset` were delivered.
    #[error("the medium is gone at byte offset {offset} (unplugged or ejected?); acquisition stops")]
    MediumGone {
        /// The first byte not delivered.
        offset: u64,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A stream (stdin, a pipe, a character device) failed. A stream cannot be re-read, so
    /// no policy can recover it: the bytes of the failed read are gone.
    #[error(
        "reading the stream failed at byte offset {offset}; a stream cannot be re-read, so acquisition stops"
    )]
    StreamRead {
        /// Bytes delivered before the failure.
        offset: u64,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The image could not be written.
    #[error("cannot write the image")]
    WriteImage {
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The image written before an interruption is not what its checkpoint recorded.
    #[error("the image written before the interruption differs from its checkpoint: {0}")]
    CheckpointMismatch(String),
    /// Hashing the acquired stream failed (a hash option, or a read error reported through
    /// the engine).
    #[error("hashing the acquired stream failed")]
    Hash(#[source] custos_hash::Error),
}

impl Error {
    /// Recovers an acquisition error that went through [`std::io::Read`] (which can only
    /// return [`io::Error`]), for example from inside the hash engine's error.
    pub fn from_io(error: &io::Error) -> Option<&Error> {
        error.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
    }

    /// The I/O error kind used when this error travels through [`std::io::Read`].
    pub(crate) fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::UnreadableSector { source, .. }
            | Error::StreamRead { source, .. }
            | Error::MediumGone { source, .. } => source.kind(),
            _ => io::ErrorKind::Other,
        }
    }
}
