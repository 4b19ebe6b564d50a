//! `custos-hash`: the streaming hash engine of Custos.
//!
//! It hashes files, block devices, streams and directory trees with any subset of MD5,
//! SHA-1, SHA-256, SHA-512 and BLAKE3 in one pass over the input, and optionally cuts the
//! input into segments hashed separately under a Merkle root (`docs/segments.md`), so a
//! later check can name the byte ranges that changed.
//!
//! Inputs are read through memory-mapped windows of bounded size (never a whole image),
//! guarded against files that shrink under the map ([`Error::Shrank`]), or through plain
//! reads for streams and with `mmap: false`. The library never prints: progress and
//! cancellation go through [`Control`]. It never builds a thread pool: it reads the size of
//! the current rayon pool to know how many cores it may keep busy, and the binary decides
//! that size.
//!
//! ```
//! use custos_hash::{hash_bytes, Algorithm, HashOptions};
//! let options = HashOptions { algorithms: vec![Algorithm::Sha256], ..HashOptions::default() };
//! let outcome = hash_bytes(b"abc", &options);
//! assert_eq!(
//!     outcome.digest(Algorithm::Sha256).map(|d| d.to_hex()).as_deref(),
//!     Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
//! );
//! ```
#![warn(missing_docs)]
// Unsafe code is confined to `guard` (mmap and the SIGBUS handler), which allows it.
#![deny(unsafe_code)]

mod algorithm;
pub mod checksum_file;
mod engine;
mod error;
mod guard;
pub mod segments;
mod subtrees;
mod tree;

pub use algorithm::{Algorithm, AlgorithmHasher, Digest};
pub use engine::{
    copy_and_hash, copy_and_hash_to, copy_check_algorithm, copy_opened_and_hash_to, hash_bytes, hash_file,
    hash_path, hash_reader, hash_tree_file, open_evidence, open_tree_file, Control, HashOptions, HashOutcome,
    DEFAULT_WINDOWS_IN_FLIGHT, DEFAULT_WINDOW_SIZE,
};
pub use error::Error;
pub use segments::{SegmentList, SegmentSpec};
pub use tree::{walk_tree, EntryKind, TreeEntry};
