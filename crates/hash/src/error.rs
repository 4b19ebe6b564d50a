//! The errors of the hash engine.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while hashing. Each variant names the input it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An algorithm name that Custos does not know.
    #[error("unsupported algorithm `{0}` (supported: md5, sha1, sha256, sha512, blake3)")]
    UnsupportedAlgorithm(String),
    /// The same algorithm was asked for twice.
    #[error("algorithm `{0}` is listed twice")]
    DuplicateAlgorithm(&'static str),
    /// Options that cannot work together or at all.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The input could not be opened or inspected.
    #[error("cannot open {}", path.display())]
    Open {
        /// The input.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Reading (or mapping) failed part-way.
    #[error("cannot read {} at byte offset {offset}", path.display())]
    Read {
        /// The input.
        path: PathBuf,
        /// Where reading failed.
        offset: u64,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A directory was given where a file or stream was expected.
    #[error("{} is a directory", path.display())]
    IsADirectory {
        /// The input.
        path: PathBuf,
    },
    /// Evidence that is neither a regular file nor a block device.
    #[error("{} is {found}: evidence is read from a regular file or a block device", path.display())]
    NotEvidence {
        /// The path.
        path: PathBuf,
        /// What is there.
        found: &'static str,
    },
    /// A tree entry that was a regular file when walked is something else when opened.
    #[error("{} is now {found}, not the regular file the walk found; refusing to read it", path.display())]
    NotARegularFile {
        /// The entry.
        path: PathBuf,
        /// What is there now.
        found: &'static str,
    },
    /// The input became shorter while it was hashed (truncated under us).
    #[error("{} shrank while it was being hashed: {expected} bytes expected, only {found} present; no digest is reported", path.display())]
    Shrank {
        /// The input.
        path: PathBuf,
        /// Length when hashing started.
        expected: u64,
        /// Bytes that were actually there.
        found: u64,
    },
    /// The input was modified while it was hashed, so the digest would describe no single
    /// state of it.
    #[error("{} changed while it was being hashed ({what}); no digest is reported", path.display())]
    Changed {
        /// The input.
        path: PathBuf,
        /// What changed: length or modification time.
        what: String,
    },
    /// A copy could not be created or written.
    #[error("cannot write the copy {}", path.display())]
    Write {
        /// The copy.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A copy read back differs from what was read from its source.
    #[error("the copy {} does not match its source: {algorithm} {found}, expected {expected}; the copy was removed", path.display())]
    CopyMismatch {
        /// The copy.
        path: PathBuf,
        /// The algorithm that differed.
        algorithm: crate::Algorithm,
        /// The source's digest.
        expected: String,
        /// The copy's digest.
        found: String,
    },
    /// The caller's cancellation flag was raised.
    #[error("hashing was cancelled")]
    Cancelled,
    /// A directory walk failed.
    #[error("cannot walk {}", path.display())]
    Walk {
        /// Where the walk failed.
        path: PathBuf,
        /// Why.
        #[source]
        source: walkdir::Error,
    },
}
