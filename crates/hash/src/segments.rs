//! Segment (piecewise) digests and the Merkle tree over them, specified in
//! `docs/segments.md`.
//!
//! An input is cut into segments of a fixed size (the last one may be shorter); each
//! segment is hashed on its own, and a Merkle root over the segment digests summarises the
//! list. Stored with the evidence, the list lets a later check name the exact byte ranges
//! that changed instead of only saying that the image is bad.

use std::ops::Range;

use crate::{Algorithm, AlgorithmHasher, Digest};

/// The default segment size: 64 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 * 1024 * 1024;

/// Domain-separation prefix of a leaf (RFC 6962 style).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node.
const NODE_PREFIX: u8 = 0x01;

/// How to cut and hash segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSpec {
    /// Bytes per segment; the last segment may be shorter. Never zero.
    pub size: u64,
    /// The algorithm for segment digests and for the tree.
    pub algorithm: Algorithm,
}

impl Default for SegmentSpec {
    fn default() -> Self {
        SegmentSpec { size: DEFAULT_SEGMENT_SIZE, algorithm: Algorithm::Blake3 }
    }
}

/// The segment digests of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentList {
    /// How the segments were cut and hashed.
    pub spec: SegmentSpec,
    /// Total input length in bytes.
    pub total_size: u64,
    /// One digest per segment, in order.
    pub digests: Vec<Digest>,
}

impl SegmentList {
    /// Computes the list for a buffer held in memory: the single-buffer reference.
    pub fn of_bytes(spec: SegmentSpec, bytes: &[u8]) -> SegmentList {
        let mut hasher = SegmentHasher::new(spec);
        hasher.update(bytes);
        hasher.finish()
    }

    /// The byte range that segment `index` covers.
    pub fn range(&self, index: usize) -> Range<u64> {
        let start = (index as u64).saturating_mul(self.spec.size);
        start.min(self.total_size)..start.saturating_add(self.spec.size).min(self.total_size)
    }

    /// The Merkle root over the segment digests (see `docs/segments.md`).
    pub fn root(&self) -> Digest {
        merkle_root(self.spec.algorithm, &self.digests)
    }

    /// Compares a fresh list (`self`) with a stored one and returns the byte ranges of the
    /// stored input that differ, adjacent ranges merged. Bytes present in only one of the
    /// two (truncation or appended data) count as changed. Empty means identical.
    ///
    /// Lists made with different segment sizes or algorithms cannot be compared; that is
    /// reported as `Err` with both specs.
    pub fn changed_ranges(
        &self,
        stored: &SegmentList,
    ) -> Result<Vec<Range<u64>>, (SegmentSpec, SegmentSpec)> {
        if self.spec != stored.spec {
            return Err((self.spec, stored.spec));
        }
        let mut changed: Vec<Range<u64>> = Vec::new();
        let count = self.digests.len().max(stored.digests.len());
        for index in 0..count {
            let ours = self.digests.get(index);
            let theirs = stored.digests.get(index);
            let same = ours == theirs && self.range(index) == stored.range(index);
            if same {
                continue;
            }
            // A segment only one side has covers that side's range alone.
            let range = match (ours.is_some(), theirs.is_some()) {
                (true, false) => self.range(index),
                (false, true) => stored.range(index),
                _ => {
                    let (a, b) = (self.range(index), stored.range(index));
                    a.start.min(b.start)..a.end.max(b.end)
                }
            };
            match changed.last_mut() {
                Some(last) if last.end >= range.start => last.end = last.end.max(range.end),
                _ => changed.push(range),
            }
        }
        Ok(changed)
    }
}

/// Bytes each thread reads at a time when hashing segments in parallel, for segments (or
/// their ends) too short to be worth a map.
const SEGMENT_READ_SIZE: usize = 1 << 20;

/// Bytes each thread maps at a time: the default engine window. Mapping saves copying every
/// byte out of the page cache (a third of the time of a BLAKE3 check); one unmap per window
/// keeps the cost of flushing the other cores' TLBs negligible.
const SEGMENT_MAP_SIZE: usize = crate::DEFAULT_WINDOW_SIZE;

/// Hashes the segments of `file` (`size` bytes when it was opened and checked) on every
/// thread of the current rayon pool, each segment read once, mapped a window at a time
/// (read when it cannot be mapped): how an item is checked by its signed segment list on
/// every core. `label` names the file in errors; `control` is told of every window and may
/// cancel. A file that is shorter than `size`, or whose length or modification time
/// changes meanwhile, is an error: no list is returned for bytes that were not all there.
pub fn hash_file_segments(
    file: &std::fs::File,
    label: &std::path::Path,
    size: u64,
    spec: SegmentSpec,
    control: &crate::Control,
) -> Result<SegmentList, crate::Error> {
    use rayon::prelude::*;
    if spec.size == 0 {
        return Err(crate::Error::InvalidOption("a segment size of 0".into()));
    }
    let before =
        file.metadata().map_err(|source| crate::Error::Read { path: label.to_owned(), offset: 0, source })?;
    let shrank = |found: u64| crate::Error::Shrank { path: label.to_owned(), expected: size, found };
    // Never map bytes that are not there: a map past the end would only fault later.
    if before.is_file() && before.len() < size {
        return Err(shrank(before.len()));
    }
    let count = size.div_ceil(spec.size);
    let digests = (0..count)
        .into_par_iter()
        .map(|index| {
            let start = index * spec.size;
            let end = (start + spec.size).min(size);
            let mut hasher = spec.algorithm.hasher();
            let mut buffer = Vec::new();
            let mut offset = start;
            while offset < end {
                if control.cancelled() {
                    return Err(crate::Error::Cancelled);
                }
                let want = ((end - offset) as usize).min(SEGMENT_MAP_SIZE);
                let mapped = if want >= SEGMENT_READ_SIZE {
                    crate::guard::MappedWindow::map(file, offset, want).ok().flatten()
                } else {
                    None
                };
                let done = match mapped {
                    Some(window) => {
                        hasher.update(window.bytes());
                        if window.faulted() {
                            return Err(shrank(file.metadata().map_or(0, |m| m.len()).min(size)));
                        }
                        want
                    }
                    None => {
                        buffer.resize(want.min(SEGMENT_READ_SIZE), 0);
                        let read = read_some(file, label, size, offset, &mut buffer)?;
                        hasher.update(&buffer[..read]);
                        read
                    }
                };
                offset += done as u64;
                control.report(done as u64);
            }
            Ok(hasher.finalize())
        })
        .collect::<Result<Vec<Digest>, crate::Error>>()?;
    let after = file.metadata().map_err(|source| crate::Error::Read {
        path: label.to_owned(),
        offset: size,
        source,
    })?;
    if after.len() != before.len() || after.modified().ok() != before.modified().ok() {
        return Err(crate::Error::Changed {
            path: label.to_owned(),
            what: "its length or modification time".into(),
        });
    }
    Ok(SegmentList { spec, total_size: size, digests })
}

/// One positioned read of up to `buffer.len()` bytes at `offset` (retried when
/// interrupted); the end of the file before `size` bytes is an error.
fn read_some(
    file: &std::fs::File,
    label: &std::path::Path,
    size: u64,
    offset: u64,
    buffer: &mut [u8],
) -> Result<usize, crate::Error> {
    use std::os::unix::fs::FileExt as _;
    loop {
        match file.read_at(buffer, offset) {
            Ok(0) => {
                return Err(crate::Error::Shrank { path: label.to_owned(), expected: size, found: offset })
            }
            Ok(read) => return Ok(read),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => return Err(crate::Error::Read { path: label.to_owned(), offset, source }),
        }
    }
}

/// Computes segment digests incrementally, for any split of the input into updates.
#[derive(Debug, Clone)]
pub struct SegmentHasher {
    spec: SegmentSpec,
    current: AlgorithmHasher,
    filled: u64,
    total: u64,
    digests: Vec<Digest>,
}

impl SegmentHasher {
    /// A hasher for `spec`. A zero size is treated as 1 byte rather than looping forever;
    /// callers validate sizes before they get here.
    pub fn new(mut spec: SegmentSpec) -> SegmentHasher {
        spec.size = spec.size.max(1);
        SegmentHasher { spec, current: spec.algorithm.hasher(), filled: 0, total: 0, digests: Vec::new() }
    }

    /// The algorithm segments are hashed with.
    pub fn algorithm(&self) -> Algorithm {
        self.spec.algorithm
    }

    /// Feeds the next bytes.
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = self.spec.size - self.filled;
            let take = usize::try_from(room).map_or(bytes.len(), |room| room.min(bytes.len()));
            let (head, rest) = bytes.split_at(take);
            self.current.update(head);
            self.filled += take as u64;
            self.total += take as u64;
            bytes = rest;
            if self.filled == self.spec.size {
                let full = std::mem::replace(&mut self.current, self.spec.algorithm.hasher());
                self.digests.push(full.finalize());
                self.filled = 0;
            }
        }
    }

    /// Finishes the last (possibly short) segment and returns the list.
    pub fn finish(mut self) -> SegmentList {
        if self.filled > 0 {
            self.digests.push(self.current.finalize());
        }
        SegmentList { spec: self.spec, total_size: self.total, digests: self.digests }
    }
}

/// The Merkle tree hash of RFC 6962 §2.1 with `algorithm` as the hash: a leaf is
/// `H(0x00 ‖ segment digest)`, an interior node `H(0x01 ‖ left ‖ right)`, a list of `n > 1`
/// leaves splits at the largest power of two below `n`, and the empty list hashes to `H("")`.
pub fn merkle_root(algorithm: Algorithm, leaves: &[Digest]) -> Digest {
    match leaves {
        [] => algorithm.digest(b""),
        [leaf] => {
            let mut hasher = algorithm.hasher();
            hasher.update(&[LEAF_PREFIX]);
            hasher.update(leaf.as_bytes());
            hasher.finalize()
        }
        _ => {
            let split = largest_power_of_two_below(leaves.len());
            let left = merkle_root(algorithm, &leaves[..split]);
            let right = merkle_root(algorithm, &leaves[split..]);
            let mut hasher = algorithm.hasher();
            hasher.update(&[NODE_PREFIX]);
            hasher.update(left.as_bytes());
            hasher.update(right.as_bytes());
            hasher.finalize()
        }
    }
}

/// For `n >= 2`, the largest power of two strictly less than `n`.
fn largest_power_of_two_below(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// One line of a segment list file (`docs/segments.md`): format version 1.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRecord {
    /// Format version; 1.
    pub custos_segments: u32,
    /// The input's path (lossy when not UTF-8).
    pub path: String,
    /// The exact path bytes in hex, when the path is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    /// Input length.
    pub size: u64,
    /// Segment size.
    pub segment_size: u64,
    /// Algorithm name.
    pub algorithm: String,
    /// Merkle root, hex.
    pub root: String,
    /// Segment digests, hex.
    pub digests: Vec<String>,
}

impl SegmentRecord {
    /// The record of `list` for an input named `path` (and `path_hex` when not UTF-8).
    pub fn new(path: String, path_hex: Option<String>, list: &SegmentList) -> SegmentRecord {
        SegmentRecord {
            custos_segments: 1,
            path,
            path_hex,
            size: list.total_size,
            segment_size: list.spec.size,
            algorithm: list.spec.algorithm.name().to_owned(),
            root: list.root().to_hex(),
            digests: list.digests.iter().map(Digest::to_hex).collect(),
        }
    }

    /// The exact bytes of the path of the input this record describes: `path_hex` when
    /// present, `path` otherwise. With both, `path` must be what `path_hex` shows (its text,
    /// lossy when not UTF-8): a record whose two names are two files is refused, so a check
    /// never reads one file and reports another.
    pub fn path_bytes(&self) -> Result<Vec<u8>, String> {
        let Some(hex) = &self.path_hex else {
            return Ok(self.path.as_bytes().to_vec());
        };
        let bytes = Digest::from_hex(hex).ok_or("path_hex is not hexadecimal")?.0;
        if String::from_utf8_lossy(&bytes) != self.path {
            return Err(format!(
                "the record names two files: path {:?} and path_hex {hex} ({:?}); it must name one",
                self.path,
                String::from_utf8_lossy(&bytes)
            ));
        }
        Ok(bytes)
    }

    /// The list this record describes, after checking it is internally consistent: known
    /// version and algorithm, digests of the right length, a count that fits the sizes, and
    /// a root that matches the digests.
    pub fn to_list(&self) -> Result<SegmentList, String> {
        if self.custos_segments != 1 {
            return Err(format!("unsupported segment list version {}", self.custos_segments));
        }
        let algorithm: Algorithm = self.algorithm.parse().map_err(|e: crate::Error| e.to_string())?;
        let spec = SegmentSpec { size: self.segment_size, algorithm };
        let digests = self
            .digests
            .iter()
            .map(|hex| Digest::from_hex(hex).filter(|d| d.0.len() == algorithm.output_len()))
            .collect::<Option<Vec<Digest>>>()
            .ok_or("a segment digest is not valid hexadecimal of the right length")?;
        let list = SegmentList { spec, total_size: self.size, digests };
        if spec.size == 0 || list.digests.len() as u64 != self.size.div_ceil(spec.size) {
            return Err("the segment list is inconsistent: its digest count does not fit its sizes".into());
        }
        if list.root().to_hex() != self.root.to_ascii_lowercase() {
            return Err("the segment list is corrupt: its root does not match its digests".into());
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(size: u64) -> SegmentSpec {
        SegmentSpec { size, algorithm: Algorithm::Blake3 }
    }

    #[test]
    fn parallel_segments_equal_the_streaming_reference() {
        use std::io::Write as _;
        // Sizes at the segment, read-chunk and map-window boundaries, and an empty file.
        let windows = SEGMENT_MAP_SIZE + SEGMENT_READ_SIZE / 2 + 3;
        for length in [0usize, 1, 4095, 4096, 4097, 3 * 4096, SEGMENT_READ_SIZE + 5, windows] {
            let data: Vec<u8> =
                (0..length as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
            let mut file = tempfile::tempfile().expect("tempfile");
            file.write_all(&data).expect("write");
            for algorithm in [Algorithm::Sha256, Algorithm::Blake3, Algorithm::Md5] {
                // Read only; mapped, then read; a whole window mapped, then its end read.
                for size in [4096u64, SEGMENT_READ_SIZE as u64 * 2, windows as u64 + 1] {
                    let spec = SegmentSpec { size, algorithm };
                    let parallel = hash_file_segments(
                        &file,
                        std::path::Path::new("t"),
                        length as u64,
                        spec,
                        &crate::Control::default(),
                    )
                    .expect("hash");
                    assert_eq!(
                        parallel,
                        SegmentList::of_bytes(spec, &data),
                        "{length} bytes, {algorithm}, {size}"
                    );
                }
            }
        }
    }

    #[test]
    fn parallel_segments_of_a_file_shorter_than_announced_fail() {
        use std::io::Write as _;
        let mut file = tempfile::tempfile().expect("tempfile");
        file.write_all(&[7u8; 10_000]).expect("write");
        let error = hash_file_segments(
            &file,
            std::path::Path::new("t"),
            20_000,
            spec(4096),
            &crate::Control::default(),
        )
        .expect_err("short");
        assert!(matches!(error, crate::Error::Shrank { .. }), "{error}");
        // Segments long enough to be mapped: refused before any map, never a fault.
        let mut file = tempfile::tempfile().expect("tempfile");
        file.write_all(&vec![7u8; SEGMENT_READ_SIZE * 3]).expect("write");
        let error = hash_file_segments(
            &file,
            std::path::Path::new("t"),
            SEGMENT_READ_SIZE as u64 * 5,
            spec(SEGMENT_READ_SIZE as u64 * 2),
            &crate::Control::default(),
        )
        .expect_err("short");
        assert!(
            matches!(error, crate::Error::Shrank { found, .. } if found == SEGMENT_READ_SIZE as u64 * 3),
            "{error}"
        );
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        let cases = [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)];
        for (n, k) in cases {
            assert_eq!(largest_power_of_two_below(n), k, "n = {n}");
        }
    }

    #[test]
    fn segments_cover_input_exactly() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let list = SegmentList::of_bytes(spec(4096), &data);
        assert_eq!(list.digests.len(), 3);
        assert_eq!(list.range(2), 8192..10_000);
        assert_eq!(list.digests[2], Algorithm::Blake3.digest(&data[8192..]));
        assert_eq!(SegmentList::of_bytes(spec(4096), &[]).digests.len(), 0);
    }

    #[test]
    fn three_leaf_root_matches_hand_computation() {
        let leaves: Vec<Digest> = [b"a", b"b", b"c"].iter().map(|b| Algorithm::Sha256.digest(*b)).collect();
        let h = |parts: &[&[u8]]| {
            let mut hasher = Algorithm::Sha256.hasher();
            parts.iter().for_each(|p| hasher.update(p));
            hasher.finalize()
        };
        let l: Vec<Digest> = leaves.iter().map(|d| h(&[&[0], d.as_bytes()])).collect();
        let left = h(&[&[1], l[0].as_bytes(), l[1].as_bytes()]);
        let expected = h(&[&[1], left.as_bytes(), l[2].as_bytes()]);
        assert_eq!(merkle_root(Algorithm::Sha256, &leaves), expected);
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // One changed range is the expected answer.
    fn changed_ranges_name_flipped_truncated_and_appended_bytes() {
        let original: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
        let stored = SegmentList::of_bytes(spec(4096), &original);

        let mut flipped = original.clone();
        flipped[5000] ^= 1;
        let fresh = SegmentList::of_bytes(spec(4096), &flipped);
        assert_eq!(fresh.changed_ranges(&stored), Ok(vec![4096..8192]));

        let fresh = SegmentList::of_bytes(spec(4096), &original[..9000]);
        assert_eq!(fresh.changed_ranges(&stored), Ok(vec![8192..20_000]));

        let mut longer = original.clone();
        longer.push(7);
        let fresh = SegmentList::of_bytes(spec(4096), &longer);
        assert_eq!(fresh.changed_ranges(&stored), Ok(vec![16_384..20_001]));

        let fresh = SegmentList::of_bytes(spec(4096), &original);
        assert_eq!(fresh.changed_ranges(&stored), Ok(vec![]));
        assert!(SegmentList::of_bytes(spec(1024), &original).changed_ranges(&stored).is_err());
    }

    #[test]
    fn a_record_whose_path_and_path_hex_disagree_names_no_file() {
        let list = SegmentList::of_bytes(spec(4), b"evidence");
        let mut record = SegmentRecord::new("a.img".into(), None, &list);
        assert_eq!(record.path_bytes(), Ok(b"a.img".to_vec()));
        record.path_hex = Some(Digest(b"b.img".to_vec()).to_hex());
        let error = record.path_bytes().expect_err("two names");
        assert!(error.contains("names two files"), "{error}");
        record.path_hex = Some(Digest(b"a.img".to_vec()).to_hex());
        assert_eq!(record.path_bytes(), Ok(b"a.img".to_vec()));
        let record = SegmentRecord::new("x\u{fffd}".into(), Some("78ff".into()), &list);
        assert_eq!(record.path_bytes(), Ok(b"x\xff".to_vec()));
        let record = SegmentRecord::new("x".into(), Some("zz".into()), &list);
        assert!(record.path_bytes().is_err());
    }
}
