//! The acquisition record: what was read, from what, how, when, by which tool, and every
//! range that could not be read. Serialized as JSON with stable snake_case names
//! (`docs/acquisition.md`).

use std::time::Duration;

use custos_hash::HashOutcome;
use serde::{Deserialize, Serialize};

use crate::map::ReadErrorMap;
use crate::reader::{ReadEnd, ReadOptions, ReadSummary, Reread};
use crate::source::SourceInfo;

/// The record format's name and version, the record's first field.
pub const RECORD_FORMAT: &str = "custos-acquisition-record/1";

/// The tool that made the acquisition; the caller names it (the CLI passes its own name
/// and version), so the library never claims a version it cannot know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// Name (`custos`).
    pub name: String,
    /// Version (`0.1.0`).
    pub version: String,
}

/// A digest of the acquired stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordDigest {
    /// Algorithm name (`sha256`).
    pub algorithm: String,
    /// Lower-case hex.
    pub hex: String,
}

/// The record of one acquisition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcquisitionRecord {
    /// Always [`RECORD_FORMAT`].
    pub format: String,
    /// Who made it.
    pub tool: Tool,
    /// The source's facts: path, kind, announced size, sector sizes, device identity,
    /// read-only state, hidden areas.
    pub source: SourceInfo,
    /// How it was read: block size, retries, policy.
    pub parameters: ReadOptions,
    /// When reading started (RFC 3339, UTC).
    pub started_at: String,
    /// When reading ended (RFC 3339, UTC).
    pub ended_at: String,
    /// Milliseconds spent reading (from a monotonic clock).
    pub elapsed_ms: u64,
    /// Bytes in the acquired image (the output), filled sectors included.
    pub bytes_read: u64,
    /// Bytes of the image that are zeros standing for unreadable sectors.
    pub bytes_substituted: u64,
    /// Whole logical sectors in the image (`bytes_read / logical sector size`).
    pub sector_count: u64,
    /// Bytes after the last whole sector: non-zero when the image size is not a multiple
    /// of the sector size (the partial sector is acquired as it is, never padded).
    pub sector_remainder_bytes: u64,
    /// Block reads repeated after a failure.
    pub retries_used: u64,
    /// Sectors re-read one by one.
    pub sectors_reread: u64,
    /// How sectors were re-read (`direct`, `buffered`, `not_needed`) and why.
    pub sector_rereads: Reread,
    /// Every range filled with zeros.
    pub read_errors: ReadErrorMap,
    /// How reading ended (`complete`, `ended_early`, `stopped`).
    pub end: ReadEnd,
    /// Digests of the image, when it was hashed (empty when reading stopped).
    pub digests: Vec<RecordDigest>,
}

impl AcquisitionRecord {
    /// Builds a record from a source's facts and what the reader did. Times are RFC 3339
    /// UTC text ([`crate::now_rfc3339`]); `elapsed` is measured by the caller.
    pub fn new(
        tool: Tool,
        source: SourceInfo,
        parameters: ReadOptions,
        summary: ReadSummary,
        started_at: String,
        ended_at: String,
        elapsed: Duration,
    ) -> AcquisitionRecord {
        let sector = u64::from(summary.read_errors.sector_size.max(1));
        AcquisitionRecord {
            format: RECORD_FORMAT.to_owned(),
            tool,
            source,
            parameters,
            started_at,
            ended_at,
            elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            bytes_read: summary.bytes_read,
            bytes_substituted: summary.bytes_substituted,
            sector_count: summary.bytes_read / sector,
            sector_remainder_bytes: summary.bytes_read % sector,
            retries_used: summary.retries_used,
            sectors_reread: summary.sectors_reread,
            sector_rereads: summary.sector_rereads,
            read_errors: summary.read_errors,
            end: summary.end,
            digests: Vec::new(),
        }
    }

    /// Adds the digests of the hashed image.
    pub fn with_digests(mut self, outcome: &HashOutcome) -> AcquisitionRecord {
        self.digests = outcome
            .digests
            .iter()
            .map(|(algorithm, digest)| RecordDigest {
                algorithm: algorithm.name().to_owned(),
                hex: digest.to_hex(),
            })
            .collect();
        self
    }

    /// `true` when every byte of the source was read, none filled, and reading was not cut
    /// short.
    pub fn is_complete_and_exact(&self) -> bool {
        matches!(self.end, ReadEnd::Complete) && self.bytes_substituted == 0
    }
}
