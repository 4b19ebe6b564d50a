//! The read-error map: every range of the source that stayed unreadable and was filled with
//! zeros, in sectors and in bytes, with the operating system's error.

use serde::{Deserialize, Serialize};

/// One unreadable range, filled with zeros in the output.
///
/// `byte_offset`/`byte_length` are exact; `start_sector`/`sector_count` are the logical
/// sectors they touch (a range ending in the source's last, partial sector counts that
/// sector once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRange {
    /// First unreadable sector (logical sectors from the start of the source).
    pub start_sector: u64,
    /// Number of sectors in the range.
    pub sector_count: u64,
    /// Byte offset of the first unreadable byte.
    pub byte_offset: u64,
    /// Bytes filled with zeros.
    pub byte_length: u64,
    /// The operating system's error text for the last failed read of the range
    /// (for example "Input/output error (os error 5)").
    pub error: String,
}

impl BadRange {
    /// One past the last byte of the range.
    pub fn byte_end(&self) -> u64 {
        self.byte_offset + self.byte_length
    }
}

/// The unreadable ranges of one acquisition, in increasing offset order, never overlapping.
/// Adjacent ranges with the same error are merged into one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadErrorMap {
    /// Logical sector size the sectors are counted in.
    pub sector_size: u32,
    /// The ranges.
    pub ranges: Vec<BadRange>,
}

impl ReadErrorMap {
    /// An empty map counting in sectors of `sector_size` bytes.
    pub fn new(sector_size: u32) -> ReadErrorMap {
        ReadErrorMap { sector_size, ranges: Vec::new() }
    }

    /// `true` when every byte was read.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Bytes filled with zeros, over all ranges.
    pub fn bytes_substituted(&self) -> u64 {
        self.ranges.iter().map(|r| r.byte_length).sum()
    }

    /// Records `length` unreadable bytes at `offset`. Ranges must be added in increasing
    /// offset order (the reader reads sequentially); one that starts where the previous one
    /// ends, with the same error, extends it.
    pub(crate) fn add(&mut self, offset: u64, length: u64, error: String) {
        if length == 0 {
            return;
        }
        let sector = u64::from(self.sector_size.max(1));
        if let Some(last) = self.ranges.last_mut() {
            debug_assert!(last.byte_end() <= offset, "ranges are added in order");
            if last.byte_end() == offset && last.error == error {
                last.byte_length += length;
                last.sector_count = sectors_touched(last.byte_offset, last.byte_length, sector);
                return;
            }
        }
        self.ranges.push(BadRange {
            start_sector: offset / sector,
            sector_count: sectors_touched(offset, length, sector),
            byte_offset: offset,
            byte_length: length,
            error,
        });
    }
}

/// The number of sectors that bytes `offset..offset + length` touch.
fn sectors_touched(offset: u64, length: u64, sector: u64) -> u64 {
    let first = offset / sector;
    let last = (offset + length - 1) / sector;
    last - first + 1
}

#[cfg(test)]
mod tests {
    use super::ReadErrorMap;

    #[test]
    fn adjacent_ranges_with_the_same_error_merge() {
        let mut map = ReadErrorMap::new(512);
        map.add(1024, 512, "EIO".into());
        map.add(1536, 512, "EIO".into());
        map.add(2048, 512, "other".into());
        map.add(4096, 100, "EIO".into());
        assert_eq!(map.ranges.len(), 3);
        assert_eq!((map.ranges[0].start_sector, map.ranges[0].sector_count), (2, 2));
        assert_eq!((map.ranges[0].byte_offset, map.ranges[0].byte_length), (1024, 1024));
        assert_eq!((map.ranges[2].start_sector, map.ranges[2].sector_count), (8, 1));
        assert_eq!(map.bytes_substituted(), 1024 + 512 + 100);
    }

    #[test]
    fn a_partial_sector_counts_once() {
        let mut map = ReadErrorMap::new(512);
        map.add(600, 100, "EIO".into());
        assert_eq!((map.ranges[0].start_sector, map.ranges[0].sector_count), (1, 1));
        map.add(700, 400, "EIO".into());
        assert_eq!((map.ranges[0].start_sector, map.ranges[0].sector_count), (1, 2));
    }
}
