//! E01 (Expert Witness Format, EWF-E01, EnCase 6 compatible): reading images made by other
//! tools ([`E01Reader`]) and writing them ([`E01Writer`]), as `docs/formats/e01.md` specifies.
//!
//! The reader checks the container (every Adler-32, the section chain, the tables, the
//! segment numbering, each chunk as it is read) and reports damage as a typed
//! [`E01Error`] ([`E01Error::is_container_damage`]); a media digest that differs from the one
//! stored inside is for the caller to find, by hashing what the reader delivers. The writer
//! is a [`std::io::Write`] sink, so [`crate::acquire`] can tee a source into it.

mod error;
mod format;
mod reader;
mod writer;

pub use error::E01Error;
pub use reader::{AcquisitionErrorRange, E01Metadata, E01Reader, SegmentFile};
pub use writer::{
    CaseInfo, Compression, CreateFile, E01Options, E01Writer, MediaType, DEFAULT_SEGMENT_SIZE,
    MIN_SEGMENT_SIZE,
};
