//! The errors of E01 reading and writing, split so a caller can tell damage to the container
//! (a segment cut short or missing, a checksum that does not match, a chunk that does not
//! decompress) from everything else (a file that cannot be opened, a disk that is full).

use std::io;
use std::path::PathBuf;

/// What went wrong reading or writing an E01 image. [`E01Error::is_container_damage`] tells
/// damage to the evidence container apart from other failures. A media digest that differs
/// from the one stored inside is not an error of the reader: the caller hashes the media and
/// compares.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum E01Error {
    /// A segment file could not be opened, read, created, written or synced (not damage: the
    /// file system said no).
    #[error("{}: {action} failed", path.display())]
    Io {
        /// The segment file.
        path: PathBuf,
        /// What was being done (`open`, `read`, `write`, `sync`).
        action: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is empty: no EWF file header at all.
    #[error("{} is empty, not an E01 segment file", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file does not start with the EWF-E01 signature.
    #[error("{} is not an E01 segment file (its first bytes are {found}, not the EVF signature)", path.display())]
    BadSignature {
        /// The file.
        path: PathBuf,
        /// Its first bytes, in hex.
        found: String,
    },
    /// An EWF variant Custos does not read (Ex01, L01, SMART-style tables).
    #[error("{}: {what} is not supported; Custos reads EWF-E01 (EnCase 2 to 7, FTK Imager, libewf) media images", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The variant.
        what: String,
    },
    /// The segment file ends before a structure it declares (a segment cut short).
    #[error("{} is truncated: {what} at offset {offset} needs {needed} bytes but the file has {file_size}", path.display())]
    Truncated {
        /// The segment file.
        path: PathBuf,
        /// What was cut short.
        what: String,
        /// Where it starts.
        offset: u64,
        /// Bytes it needs from `offset`.
        needed: u64,
        /// The file's size.
        file_size: u64,
    },
    /// The set continues (its last segment ends with `next`) but the next segment file is
    /// not there.
    #[error("segment {number} of the image is missing: {} does not exist", expected.display())]
    MissingSegment {
        /// The segment's number.
        number: u32,
        /// The path it should have.
        expected: PathBuf,
    },
    /// A segment file carries another segment number than its name says.
    #[error("{} says it is segment {found}, but its place in the set is {expected}", path.display())]
    SegmentNumber {
        /// The file.
        path: PathBuf,
        /// Its place by name.
        expected: u32,
        /// What its header says.
        found: u32,
    },
    /// A stored Adler-32 does not match the bytes it covers (a section descriptor, the
    /// volume, a table, error2, hash, digest, or an uncompressed chunk).
    #[error("{}: the checksum of the {what} at offset {offset} does not match (stored {stored:08x}, computed {computed:08x})", path.display())]
    Checksum {
        /// The segment file.
        path: PathBuf,
        /// Which structure.
        what: String,
        /// Where it starts.
        offset: u64,
        /// The Adler-32 stored.
        stored: u32,
        /// The Adler-32 of the bytes found.
        computed: u32,
    },
    /// A compressed chunk does not decompress (bad zlib data, its own Adler-32 wrong, or the
    /// wrong number of bytes).
    #[error("{}: chunk {chunk} at offset {offset} is corrupt: {detail}", path.display())]
    CorruptChunk {
        /// The segment file.
        path: PathBuf,
        /// The chunk's index in the media (chunk 0 holds the first 32 KiB at 512-byte sectors).
        chunk: u64,
        /// Where its stored bytes start.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// A structure is well checksummed but inconsistent (a table pointing outside its
    /// sectors section, a chunk count that disagrees with the volume, sections out of order).
    #[error("{}: {detail} (offset {offset})", path.display())]
    Malformed {
        /// The segment file.
        path: PathBuf,
        /// Where.
        offset: u64,
        /// What is inconsistent.
        detail: String,
    },
    /// Options that cannot work (a sector size of 0, a segment size below the minimum, an
    /// error range beyond the media).
    #[error("invalid E01 option: {0}")]
    InvalidOption(String),
    /// EWF stores whole sectors only: the media written ends inside a sector.
    #[error(
        "the media is {bytes} bytes, not a whole number of {sector_size}-byte sectors; E01 stores whole sectors only"
    )]
    PartialSector {
        /// Bytes written.
        bytes: u64,
        /// The sector size.
        sector_size: u32,
    },
    /// The image needs more segment files than EWF can name (`.ZZZ` is the last).
    #[error("the image needs more than {max} segment files; use a larger segment size")]
    TooManySegments {
        /// The most segments EWF can name.
        max: u32,
    },
    /// A compression thread stopped unexpectedly.
    #[error("an E01 compression thread stopped unexpectedly")]
    CompressionThread,
    /// The writer failed earlier (a write error); nothing more can be written.
    #[error("the E01 writer failed earlier and cannot continue")]
    Poisoned,
}

impl E01Error {
    /// `true` when the error is damage to the evidence container (truncated or missing
    /// segment, bad signature, checksum mismatch, corrupt chunk, inconsistent structure);
    /// `false` for file system errors, unsupported variants and bad options.
    pub fn is_container_damage(&self) -> bool {
        matches!(
            self,
            E01Error::Empty { .. }
                | E01Error::BadSignature { .. }
                | E01Error::Truncated { .. }
                | E01Error::MissingSegment { .. }
                | E01Error::SegmentNumber { .. }
                | E01Error::Checksum { .. }
                | E01Error::CorruptChunk { .. }
                | E01Error::Malformed { .. }
        )
    }

    /// Recovers an E01 error that went through [`std::io::Read`] (which can only return
    /// [`io::Error`]), for example from inside the hash engine's error.
    pub fn from_io(error: &io::Error) -> Option<&E01Error> {
        error.get_ref().and_then(|inner| inner.downcast_ref::<E01Error>())
    }

    /// Wraps this error for [`std::io::Read`]/[`std::io::Write`]: container damage travels
    /// as `InvalidData`, other errors keep their kind.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            E01Error::Io { source, .. } => source.kind(),
            _ if self.is_container_damage() => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}
