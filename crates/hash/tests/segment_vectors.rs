//! The segment-list vectors of docs/vectors/segments.json, computed independently (hashlib
//! and b3sum), must come out of the engine bit for bit, through every reading path.

mod common;

use common::{engine_paths, pattern};
use custos_hash::{Algorithm, SegmentSpec};

#[test]
fn documented_segment_vectors() {
    let text = include_str!("../../../docs/vectors/segments.json");
    let vectors: serde_json::Value = serde_json::from_str(text).expect("vector file parses");
    let cases = vectors["cases"].as_array().expect("cases");
    assert!(cases.len() >= 18);
    for case in cases {
        let length = case["input_len"].as_u64().expect("input_len") as usize;
        let size = case["segment_size"].as_u64().expect("segment_size");
        let algorithm: Algorithm =
            case["algorithm"].as_str().expect("algorithm").parse().expect("known algorithm");
        let expected: Vec<&str> =
            case["segments"].as_array().expect("segments").iter().map(|s| s.as_str().expect("hex")).collect();
        let root = case["root"].as_str().expect("root");
        let spec = SegmentSpec { size, algorithm };
        for path in engine_paths(&pattern(length), &[], Some(spec), &[1024, 4096]) {
            let list = path.outcome.segments.as_ref().expect("segments");
            let got: Vec<String> = list.digests.iter().map(|d| d.to_hex()).collect();
            assert_eq!(got, expected, "{algorithm}, {length} bytes, segments of {size}, via {}", path.label);
            assert_eq!(list.root().to_hex(), root, "{algorithm}, {length} bytes root via {}", path.label);
        }
    }
}
