//! Property tests: whatever the window size, segment size, reading path and algorithm set,
//! the engine gives the digests of an independent reference: the digest crates called
//! directly on the whole buffer, and on segments cut by `slice::chunks`.

mod common;

use common::engine_paths;
use custos_hash::{Algorithm, SegmentList, SegmentSpec};
use proptest::prelude::*;

/// The digest of `bytes` from the RustCrypto and BLAKE3 crates called directly, in one call:
/// the reference owes nothing to Custos' hashers, sinks or segment cutting.
fn independent(algorithm: Algorithm, bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    match algorithm {
        Algorithm::Md5 => md5::Md5::digest(bytes).to_vec(),
        Algorithm::Sha1 => sha1::Sha1::digest(bytes).to_vec(),
        Algorithm::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
        Algorithm::Sha512 => sha2::Sha512::digest(bytes).to_vec(),
        Algorithm::Blake3 => blake3::hash(bytes).as_bytes().to_vec(),
        other => panic!("no independent reference for {other}: add one here"),
    }
}

/// The segment digests of `bytes`, cut by `slice::chunks` and hashed by [`independent`].
fn independent_segments(spec: SegmentSpec, bytes: &[u8]) -> Vec<Vec<u8>> {
    let size = usize::try_from(spec.size).expect("a segment size that fits in memory");
    bytes.chunks(size).map(|segment| independent(spec.algorithm, segment)).collect()
}

/// Whether `list` is exactly the independent segment list of `bytes` under `spec`.
fn segments_are_independent(
    list: Option<&SegmentList>,
    spec: SegmentSpec,
    bytes: &[u8],
) -> Result<(), String> {
    let list = list.ok_or("no segment list")?;
    if list.spec != spec || list.total_size != bytes.len() as u64 {
        return Err(format!(
            "spec {:?} and size {} for {spec:?} and {}",
            list.spec,
            list.total_size,
            bytes.len()
        ));
    }
    let expected = independent_segments(spec, bytes);
    if list.digests.len() != expected.len() {
        return Err(format!("{} segments where there are {}", list.digests.len(), expected.len()));
    }
    match list
        .digests
        .iter()
        .zip(&expected)
        .position(|(found, expected)| found.as_bytes() != expected.as_slice())
    {
        Some(index) => Err(format!("segment {index} (of {}) has another digest", expected.len())),
        None => Ok(()),
    }
}

fn algorithm_subset() -> impl Strategy<Value = Vec<Algorithm>> {
    proptest::sample::subsequence(Algorithm::ALL.to_vec(), 1..=Algorithm::ALL.len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_split_gives_the_reference(
        input in proptest::collection::vec(any::<u8>(), 0..40_000),
        // Powers of two from 1 KiB up make BLAKE3 take the parallel subtree path.
        window in prop_oneof![1usize..20_000, proptest::sample::select(vec![1024usize, 2048, 4096, 8192])],
        segment in 1u64..12_000,
        algorithms in algorithm_subset(),
        segment_algorithm in proptest::sample::select(Algorithm::ALL.to_vec()),
    ) {
        let spec = SegmentSpec { size: segment, algorithm: segment_algorithm };
        // The single-buffer reference of the crate is itself checked against the independent one.
        let reference = SegmentList::of_bytes(spec, &input);
        prop_assert_eq!(segments_are_independent(Some(&reference), spec, &input), Ok(()), "SegmentList::of_bytes");
        for path in engine_paths(&input, &algorithms, Some(spec), &[window]) {
            for &algorithm in &algorithms {
                let expected = independent(algorithm, &input);
                prop_assert_eq!(path.outcome.digest(algorithm).map(|d| d.as_bytes()), Some(expected.as_slice()), "{} via {}", algorithm, path.label);
            }
            prop_assert_eq!(segments_are_independent(path.outcome.segments.as_ref(), spec, &input), Ok(()), "segments via {}", path.label);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Checksum lines come from files anyone can write: any bytes give a line, a skip or an
    /// error, never a panic.
    #[test]
    fn checksum_line_parsing_never_panics(line in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = custos_hash::checksum_file::parse_line(&line);
    }
}

/// Inputs of one window or less are read in chunks of 256 KiB: lengths on and around the
/// chunk boundaries give the reference digests, segments included.
#[test]
fn inputs_read_in_chunks_give_the_reference_at_every_boundary() {
    const CHUNK: usize = 256 * 1024;
    let spec = SegmentSpec { size: 100_000, algorithm: Algorithm::Sha256 };
    for length in [CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7, 4 * CHUNK] {
        let input: Vec<u8> = (0..length).map(|i| (i * 7 + i / 251) as u8).collect();
        // The default 8 MiB window: every length here is hashed inline, in chunks.
        for path in engine_paths(&input, &Algorithm::ALL, Some(spec), &[custos_hash::DEFAULT_WINDOW_SIZE]) {
            for algorithm in Algorithm::ALL {
                assert_eq!(
                    path.outcome.digest(algorithm).map(|d| d.as_bytes()),
                    Some(independent(algorithm, &input).as_slice()),
                    "{algorithm} of {length} bytes via {}",
                    path.label
                );
            }
            assert_eq!(
                segments_are_independent(path.outcome.segments.as_ref(), spec, &input),
                Ok(()),
                "segments of {length} bytes via {}",
                path.label
            );
        }
    }
}
