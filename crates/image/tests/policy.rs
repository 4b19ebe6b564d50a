//! The read-error policy against the fault-injecting medium, with tests named after the NIST
//! CFTT disk-imaging requirements they pin (every visible sector acquired, unreadable sectors
//! reported with their location, benign fill of only the unreadable sectors, ...).

use std::io::{self, Read};
use std::ops::Range;

use custos_image::fault::FaultyMedium;
use custos_image::{Error, ErrorPolicy, ReadEnd, ReadOptions, Reader, RereadMode};
use proptest::prelude::*;

const SECTOR: u32 = 512;

fn pattern(len: usize) -> Vec<u8> {
    // Never zero, so a filled sector cannot pass for data.
    (0..len).map(|i| (i % 251) as u8 + 1).collect()
}

fn options(block_size: usize, retries: u32, policy: ErrorPolicy) -> ReadOptions {
    ReadOptions { block_size, retries, policy }
}

fn read_all(medium: FaultyMedium, sector: u32, options: ReadOptions) -> (Vec<u8>, Reader) {
    let size = medium.data().len() as u64;
    let mut reader = Reader::from_medium(medium, size, sector, options).expect("valid options");
    let mut out = Vec::new();
    reader.read_to_end(&mut out).expect("the fill policy never fails on a positioned medium");
    (out, reader)
}

/// The source with every sector touching a bad range zeroed: what a benign fill must give.
fn zeroed_sectors(data: &[u8], bad: &[Range<u64>], sector: u64) -> Vec<u8> {
    let mut expected = data.to_vec();
    // Bytes past the end do not exist: a bad range there touches no sector.
    for range in bad.iter().filter(|r| r.start < data.len() as u64) {
        let start = range.start / sector * sector;
        let end = (range.end.div_ceil(sector) * sector).min(data.len() as u64);
        if start < end {
            expected[start as usize..end as usize].fill(0);
        }
    }
    expected
}

/// The bad ranges as merged, sector-rounded byte ranges clipped to the size.
fn bad_sectors(bad: &[Range<u64>], sector: u64, size: u64) -> Vec<Range<u64>> {
    let mut ranges: Vec<Range<u64>> = bad
        .iter()
        .filter(|r| r.start < r.end && r.start < size)
        .map(|r| r.start / sector * sector..(r.end.div_ceil(sector) * sector).min(size))
        .collect();
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::new();
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

#[test]
fn cftt_every_visible_sector_acquired() {
    for size in [0usize, 1, 511, 512, 513, 4096, 65_536, 65_537, 200_000] {
        let data = pattern(size);
        let (out, reader) =
            read_all(FaultyMedium::new(data.clone()), SECTOR, options(8192, 2, ErrorPolicy::Fill));
        assert_eq!(out, data, "size {size}");
        let summary = reader.summary();
        assert_eq!(summary.bytes_read, size as u64);
        assert_eq!(summary.bytes_substituted, 0);
        assert!(summary.read_errors.is_empty());
        assert_eq!(summary.end, ReadEnd::Complete);
        assert_eq!(summary.sector_rereads.mode, RereadMode::NotNeeded);
    }
}

#[test]
fn cftt_size_not_multiple_of_sector() {
    // 3 blocks and a bit, the last sector partial: read as it is, never padded.
    let size = 3 * 4096 + 700;
    let data = pattern(size);
    let (out, _) = read_all(FaultyMedium::new(data.clone()), SECTOR, options(4096, 1, ErrorPolicy::Fill));
    assert_eq!(out.len(), size);
    assert_eq!(out, data);
    // A bad byte in the partial last sector: only its 700 % 512 = 188 bytes are filled.
    let bad = (size as u64 - 10)..(size as u64 - 9);
    let (out, reader) = read_all(
        FaultyMedium::new(data.clone()).bad(bad.clone()),
        SECTOR,
        options(4096, 1, ErrorPolicy::Fill),
    );
    assert_eq!(out.len(), size);
    assert_eq!(out, zeroed_sectors(&data, &[bad], 512));
    let map = reader.summary().read_errors;
    assert_eq!(map.ranges.len(), 1);
    let last_sector_start = (size as u64 / 512) * 512;
    assert_eq!(map.ranges[0].byte_offset, last_sector_start);
    assert_eq!(map.ranges[0].byte_length, size as u64 - last_sector_start);
    assert_eq!((map.ranges[0].start_sector, map.ranges[0].sector_count), (size as u64 / 512, 1));
}

#[test]
fn cftt_unreadable_sector_reported_with_location() {
    let data = pattern(64 * 1024);
    // Bytes 10_000..10_001 (sector 19) and 30_000..31_000 (sectors 58..=60).
    let medium = FaultyMedium::new(data).bad(10_000..10_001).bad(30_000..31_000);
    let (_, reader) = read_all(medium, SECTOR, options(16 * 1024, 2, ErrorPolicy::Fill));
    let map = reader.summary().read_errors;
    assert_eq!(map.sector_size, 512);
    let found: Vec<_> =
        map.ranges.iter().map(|r| (r.start_sector, r.sector_count, r.byte_offset, r.byte_length)).collect();
    assert_eq!(found, vec![(19, 1, 19 * 512, 512), (58, 3, 58 * 512, 3 * 512)]);
    for range in &map.ranges {
        assert!(range.error.contains("os error 5"), "the OS error is kept: {}", range.error);
    }
    assert_eq!(reader.summary().bytes_substituted, 4 * 512);
}

#[test]
fn cftt_benign_fill_only_unreadable_sectors() {
    // Buffered reads fail 8 KiB around the bad sector (readahead); only sector re-reads can
    // tell the good neighbours from the bad one. None of them may be zeroed or shifted.
    let data = pattern(256 * 1024);
    let bad = vec![100_000..100_100, 150_000..150_001];
    let mut medium = FaultyMedium::new(data.clone()).contagion(8192);
    for range in &bad {
        medium = medium.bad(range.clone());
    }
    let (out, reader) = read_all(medium, SECTOR, options(64 * 1024, 2, ErrorPolicy::Fill));
    assert_eq!(out.len(), data.len(), "nothing lost or added");
    assert_eq!(out, zeroed_sectors(&data, &bad, 512), "only the unreadable sectors are zero");
    let summary = reader.summary();
    assert_eq!(summary.bytes_substituted, 2 * 512);
    assert_eq!(summary.sector_rereads.mode, RereadMode::Direct);
    assert!(summary.sectors_reread > 0);
}

#[test]
fn cftt_stop_policy_stops_with_message() {
    let data = pattern(64 * 1024);
    let medium = FaultyMedium::new(data.clone()).bad(20_000..20_001);
    let mut reader =
        Reader::from_medium(medium, data.len() as u64, SECTOR, options(8192, 1, ErrorPolicy::Stop))
            .expect("valid options");
    let mut out = Vec::new();
    let error = reader.read_to_end(&mut out).expect_err("the stop policy stops");
    let ours = Error::from_io(&error).expect("the typed error travels inside the io::Error");
    let Error::UnreadableSector { offset, sector, length, attempts, source } = ours else {
        panic!("unexpected error {ours:?}");
    };
    assert_eq!((*offset, *sector, *length, *attempts), (39 * 512, 39, 512, 3));
    assert_eq!(source.raw_os_error(), Some(5));
    let message = ours.to_string();
    assert!(message.contains("sector 39") && message.contains("byte offset 19968"), "{message}");
    // Every byte before the bad sector was delivered, exactly.
    assert_eq!(out, data[..39 * 512]);
    let summary = reader.summary();
    assert_eq!(summary.bytes_read, 39 * 512);
    assert!(matches!(summary.end, ReadEnd::Stopped { offset: 19_968, .. }));
    assert!(summary.read_errors.is_empty(), "nothing was filled");
}

#[test]
fn retry_recovers_intermittent_error() {
    let data = pattern(32 * 1024);
    let medium = FaultyMedium::new(data.clone()).intermittent(5000..5001, 2);
    let (out, reader) = read_all(medium, SECTOR, options(8192, 3, ErrorPolicy::Fill));
    assert_eq!(out, data);
    let summary = reader.summary();
    assert_eq!(summary.retries_used, 2);
    assert!(summary.read_errors.is_empty());
    assert_eq!(summary.sectors_reread, 0, "the retries recovered the block");

    // With too few retries, the sector re-read still recovers it (the fault is gone by then).
    let medium = FaultyMedium::new(data.clone()).intermittent(5000..5001, 2);
    let (out, reader) = read_all(medium, SECTOR, options(8192, 1, ErrorPolicy::Fill));
    assert_eq!(out, data);
    assert!(reader.summary().read_errors.is_empty());
}

#[test]
fn short_reads_do_not_abort() {
    let data = pattern(100_000);
    for max in [1, 7, 511, 512, 4000] {
        let (out, reader) = read_all(
            FaultyMedium::new(data.clone()).short_reads(max),
            SECTOR,
            options(8192, 0, ErrorPolicy::Stop),
        );
        assert_eq!(out, data, "reads of at most {max} bytes");
        assert_eq!(reader.summary().end, ReadEnd::Complete);
    }
    // Short reads and a bad sector together: a short read leaves the failure mid-sector.
    let bad = 50_000..50_001;
    let medium = FaultyMedium::new(data.clone()).short_reads(300).bad(bad.clone());
    let (out, _) = read_all(medium, SECTOR, options(8192, 1, ErrorPolicy::Fill));
    assert_eq!(out, zeroed_sectors(&data, std::slice::from_ref(&bad), 512));
}

#[test]
fn four_k_sectors_fill_whole_4k_sectors() {
    let data = pattern(64 * 1024 + 3 * 4096);
    let bad = 9000..9001;
    let (out, reader) = read_all(
        FaultyMedium::new(data.clone()).bad(bad.clone()),
        4096,
        options(32 * 1024, 1, ErrorPolicy::Fill),
    );
    assert_eq!(out, zeroed_sectors(&data, std::slice::from_ref(&bad), 4096));
    let map = reader.summary().read_errors;
    assert_eq!((map.ranges[0].start_sector, map.ranges[0].byte_length), (2, 4096));
}

#[test]
fn a_medium_shorter_than_its_size_ends_early_without_inventing_bytes() {
    let data = pattern(10_000);
    let mut reader = Reader::from_medium(
        FaultyMedium::new(data.clone()),
        20_000,
        SECTOR,
        options(4096, 2, ErrorPolicy::Fill),
    )
    .expect("valid options");
    let mut out = Vec::new();
    reader.read_to_end(&mut out).expect("ending early is not an error");
    assert_eq!(out, data);
    assert_eq!(reader.summary().end, ReadEnd::EndedEarly { at: 10_000, expected: 20_000 });
}

#[test]
fn an_unplugged_medium_stops_even_under_fill() {
    let data = pattern(64 * 1024);
    let medium = FaultyMedium::new(data.clone()).gone_from(40_000);
    let mut reader =
        Reader::from_medium(medium, data.len() as u64, SECTOR, options(8192, 1, ErrorPolicy::Fill))
            .expect("valid options");
    let mut out = Vec::new();
    let error = reader.read_to_end(&mut out).expect_err("a gone medium is not a bad sector");
    assert!(matches!(Error::from_io(&error), Some(Error::MediumGone { offset: 32_768, .. })), "{error:?}");
    assert_eq!(out, data[..32_768]);
    assert!(reader.summary().read_errors.is_empty(), "nothing was filled");
}

#[test]
fn a_block_size_that_is_not_whole_sectors_is_refused() {
    let result =
        Reader::from_medium(FaultyMedium::new(Vec::new()), 0, 4096, options(1000, 0, ErrorPolicy::Fill));
    assert!(matches!(result, Err(Error::InvalidOption(_))));
}

/// A stream that fails after some bytes.
struct FailingStream {
    left: usize,
}

impl Read for FailingStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::from_raw_os_error(5));
        }
        let n = buf.len().min(self.left).min(1000);
        buf[..n].fill(7);
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn a_stream_error_stops_after_the_bytes_before_it() {
    let mut reader =
        Reader::from_stream(FailingStream { left: 5000 }, SECTOR, options(4096, 3, ErrorPolicy::Fill))
            .expect("valid options");
    let mut out = Vec::new();
    let error = reader.read_to_end(&mut out).expect_err("a stream cannot be re-read");
    assert!(matches!(Error::from_io(&error), Some(Error::StreamRead { offset: 5000, .. })));
    assert_eq!(out.len(), 5000);
}

#[test]
fn a_stream_is_read_to_its_end() {
    let data = pattern(70_000);
    let mut reader = Reader::from_stream(io::Cursor::new(data.clone()), SECTOR, ReadOptions::default())
        .expect("valid options");
    let mut out = Vec::new();
    reader.read_to_end(&mut out).expect("reads");
    assert_eq!(out, data);
    assert_eq!(reader.summary().end, ReadEnd::Complete);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// For any size and any set of bad ranges, with or without contagion and short reads:
    /// the image is the source with exactly the bad sectors zeroed, and the map lists
    /// exactly those sectors.
    #[test]
    fn fill_gives_source_with_exactly_bad_sectors_zeroed(
        size in 0usize..40_000,
        bad in prop::collection::vec((0u64..40_000, 1u64..2000), 0..6),
        sector_shift in 0u32..2,
        blocks in 1usize..6,
        contagion in prop::option::of(0u64..3000),
        short in prop::option::of(1usize..3000),
        retries in 0u32..3,
    ) {
        let sector = 512u32 << (sector_shift * 3); // 512 or 4096
        let data = pattern(size);
        let bad: Vec<Range<u64>> = bad.into_iter().map(|(start, len)| start..start + len).collect();
        let mut medium = FaultyMedium::new(data.clone());
        for range in &bad {
            medium = medium.bad(range.clone());
        }
        if let Some(bytes) = contagion {
            medium = medium.contagion(bytes);
        }
        if let Some(bytes) = short {
            medium = medium.short_reads(bytes);
        }
        let block = blocks * sector as usize;
        let (out, reader) = read_all(medium, sector, options(block, retries, ErrorPolicy::Fill));
        prop_assert_eq!(out.len(), size);
        prop_assert!(out == zeroed_sectors(&data, &bad, u64::from(sector)), "image differs from the source with bad sectors zeroed");
        let summary = reader.summary();
        let mapped: Vec<Range<u64>> =
            summary.read_errors.ranges.iter().map(|r| r.byte_offset..r.byte_end()).collect();
        prop_assert_eq!(mapped, bad_sectors(&bad, u64::from(sector), size as u64));
        for r in &summary.read_errors.ranges {
            prop_assert_eq!(r.start_sector, r.byte_offset / u64::from(sector));
            prop_assert_eq!(r.sector_count, r.byte_length.div_ceil(u64::from(sector)));
        }
        prop_assert_eq!(summary.bytes_read, size as u64);
        prop_assert_eq!(summary.end, ReadEnd::Complete);
    }
}
