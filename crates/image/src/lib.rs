//! `custos-image`: acquisition of evidence, read-only and exact.
//!
//! A [`Source`] is a regular file, a block device, a FIFO or stdin, opened read-only, with
//! its facts recorded ([`SourceInfo`]: size, sector sizes, device identity from sysfs, the
//! kernel read-only flag, hidden areas). Its [`Reader`] is a [`std::io::Read`] that applies
//! the read-error policy: a failing block is retried, then re-read sector by sector
//! (through `O_DIRECT` where allowed, so readahead cannot make good neighbours of a bad
//! sector fail), and only sectors that stay unreadable are filled with zeros and listed in
//! the [`ReadErrorMap`] ([`ErrorPolicy::Fill`]) or end reading with a typed error naming the
//! offset and sector ([`ErrorPolicy::Stop`]). The output offset is always the source offset.
//!
//! The reader feeds the hash engine (`custos_hash::hash_reader`); [`acquire`] does that in
//! one call, writes the image if asked, and returns the [`AcquisitionRecord`]. The image can
//! be raw (any [`std::io::Write`]) or E01 ([`e01::E01Writer`]); [`e01::E01Reader`] reads
//! E01 images made by other tools, checking the container as it goes.
//!
//! ```
//! use std::io::Read;
//! use custos_image::{fault::FaultyMedium, ErrorPolicy, ReadOptions, Reader};
//!
//! let data: Vec<u8> = (0..4096u32).map(|i| i as u8).collect();
//! let medium = FaultyMedium::new(data.clone()).bad(1024..1030);
//! let options = ReadOptions { block_size: 2048, retries: 1, policy: ErrorPolicy::Fill };
//! let mut reader = Reader::from_medium(medium, 4096, 512, options)?;
//! let mut image = Vec::new();
//! reader.read_to_end(&mut image)?;
//! let mut expected = data;
//! expected[1024..1536].fill(0); // only the bad sector, nothing else
//! assert_eq!(image, expected);
//! assert_eq!(reader.summary().read_errors.ranges[0].start_sector, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]
// Unsafe code is confined to `sys` (two block-device ioctls rustix does not wrap safely).
#![deny(unsafe_code)]

mod acquire;
mod device;
pub mod e01;
mod error;
pub mod fault;
mod map;
mod reader;
mod record;
mod source;
pub mod split;
mod sys;
mod time;

pub use acquire::{
    acquire, acquire_continued, acquire_reader, Acquisition, Checkpoint, Checkpoints, Continuation,
};
pub use device::{DeviceInfo, HiddenAreas};
pub use error::Error;
pub use map::{BadRange, ReadErrorMap};
pub use reader::{
    ErrorPolicy, ReadAt, ReadEnd, ReadOptions, ReadSummary, Reader, Reread, RereadMode, DEFAULT_BLOCK_SIZE,
    DEFAULT_RETRIES,
};
pub use record::{AcquisitionRecord, RecordDigest, Tool, RECORD_FORMAT};
pub use source::{
    Determined, ReadOnly, ReadOnlyState, SectorSize, Source, SourceInfo, SourceKind, ASSUMED_SECTOR_SIZE,
};
pub use time::{now_rfc3339, rfc3339_from_system_time};
