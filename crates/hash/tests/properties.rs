//! Property tests: whatever the window size, segment size, reading path and algorithm set,
//! the engine gives the digests of a single-buffer reference.

mod common;

use common::engine_paths;
use custos_hash::{Algorithm, SegmentList, SegmentSpec};
use proptest::prelude::*;

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
        let reference = SegmentList::of_bytes(spec, &input);
        prop_assert_eq!(&reference, &SegmentList::of_bytes(spec, &input));
        for path in engine_paths(&input, &algorithms, Some(spec), &[window]) {
            for &algorithm in &algorithms {
                prop_assert_eq!(path.outcome.digest(algorithm), Some(&algorithm.digest(&input)), "{} via {}", algorithm, path.label);
            }
            prop_assert_eq!(path.outcome.segments.as_ref(), Some(&reference), "segments via {}", path.label);
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
        let reference = SegmentList::of_bytes(spec, &input);
        // The default 8 MiB window: every length here is hashed inline, in chunks.
        for path in engine_paths(&input, &Algorithm::ALL, Some(spec), &[custos_hash::DEFAULT_WINDOW_SIZE]) {
            for algorithm in Algorithm::ALL {
                assert_eq!(
                    path.outcome.digest(algorithm),
                    Some(&algorithm.digest(&input)),
                    "{algorithm} of {length} bytes via {}",
                    path.label
                );
            }
            assert_eq!(
                path.outcome.segments.as_ref(),
                Some(&reference),
                "segments of {length} bytes via {}",
                path.label
            );
        }
    }
}
