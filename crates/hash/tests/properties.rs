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
