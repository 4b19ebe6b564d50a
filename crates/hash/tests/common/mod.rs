//! Helpers shared by the integration tests: the BLAKE3 vector input pattern, and running one
//! input through every reading path of the engine.
#![allow(dead_code)]

use std::io::Write;

use custos_hash::{
    hash_bytes, hash_path, hash_reader, Algorithm, Control, HashOptions, HashOutcome, SegmentSpec,
};

/// The repeating 0..=250 pattern of BLAKE3's test vectors.
pub fn pattern(length: usize) -> Vec<u8> {
    (0..length).map(|i| (i % 251) as u8).collect()
}

/// One way of hashing, and what it gave.
pub struct PathResult {
    pub label: String,
    pub outcome: HashOutcome,
}

/// Hashes `input` in memory, as a stream, and as a file both mapped and read, with each of
/// `windows`, and returns every outcome (each labelled for assertion messages).
pub fn engine_paths(
    input: &[u8],
    algorithms: &[Algorithm],
    segments: Option<SegmentSpec>,
    windows: &[usize],
) -> Vec<PathResult> {
    let base = HashOptions { algorithms: algorithms.to_vec(), segments, ..HashOptions::default() };
    let mut results = vec![PathResult { label: "memory".into(), outcome: hash_bytes(input, &base) }];
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(input).expect("write input");
    file.flush().expect("flush");
    for &window_size in windows {
        for mmap in [true, false] {
            let options = HashOptions { window_size, windows_in_flight: 3, mmap, ..base.clone() };
            let outcome = hash_path(file.path(), &options, &Control::default()).expect("hash file");
            results.push(PathResult { label: format!("file, window {window_size}, mmap {mmap}"), outcome });
        }
        let options = HashOptions { window_size, ..base.clone() };
        let outcome = hash_reader(input, "-".as_ref(), &options, &Control::default()).expect("hash stream");
        results.push(PathResult { label: format!("stream, window {window_size}"), outcome });
    }
    results
}
