//! Known-answer tests: official vectors (NIST FIPS 180 examples, RFC 1321, BLAKE3's
//! test_vectors.json) pushed through every reading path of the engine, at boundary sizes.

mod common;

use common::{engine_paths, pattern};
use custos_hash::{hash_bytes, Algorithm, HashOptions, SegmentList, SegmentSpec};

/// (algorithm, message, expected hex) from FIPS 180-4's examples (via NIST's
/// "Examples with intermediate values") and RFC 1321's test suite.
const VECTORS: &[(Algorithm, &[u8], &str)] = &[
    (Algorithm::Md5, b"", "d41d8cd98f00b204e9800998ecf8427e"),
    (Algorithm::Md5, b"a", "0cc175b9c0f1b6a831c399e269772661"),
    (Algorithm::Md5, b"abc", "900150983cd24fb0d6963f7d28e17f72"),
    (Algorithm::Md5, b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    (Algorithm::Md5, b"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
    (
        Algorithm::Md5,
        b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        "57edf4a22be3c955ac49da2e2107b67a",
    ),
    (Algorithm::Sha1, b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (
        Algorithm::Sha1,
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    ),
    (Algorithm::Sha256, b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (Algorithm::Sha256, b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        Algorithm::Sha256,
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
    (
        Algorithm::Sha512,
        b"abc",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ),
    (
        Algorithm::Sha512,
        b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018\
         501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909",
    ),
    (Algorithm::Blake3, b"", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"),
];

#[test]
fn nist_and_rfc_vectors_through_every_path() {
    for &(algorithm, message, expected) in VECTORS {
        // Small windows so that even these short messages span several windows.
        for path in engine_paths(message, &[algorithm], None, &[1, 3, 64, 4096]) {
            assert_eq!(
                path.outcome.digest(algorithm).map(|d| d.to_hex()).as_deref(),
                Some(expected),
                "{algorithm} of {message:?} via {}",
                path.label
            );
        }
    }
}

#[test]
fn one_million_a() {
    let message = vec![b'a'; 1_000_000];
    let expected = [
        (Algorithm::Md5, "7707d6ae4e027c70eea2a935c2296f21"),
        (Algorithm::Sha1, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"),
        (Algorithm::Sha256, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        (
            Algorithm::Sha512,
            "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb\
             de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b",
        ),
    ];
    let algorithms: Vec<Algorithm> = expected.iter().map(|(a, _)| *a).collect();
    for path in engine_paths(&message, &algorithms, None, &[65_536, 999_999, 1_000_001]) {
        for (algorithm, hex) in expected {
            assert_eq!(
                path.outcome.digest(algorithm).map(|d| d.to_hex()).as_deref(),
                Some(hex),
                "{algorithm} via {}",
                path.label
            );
        }
    }
}

#[test]
fn blake3_official_vectors() {
    let text = include_str!("vectors/blake3_test_vectors.json");
    let vectors: serde_json::Value = serde_json::from_str(text).expect("vector file parses");
    let cases = vectors["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 35, "the official file has 35 cases");
    for case in cases {
        let length = case["input_len"].as_u64().expect("input_len") as usize;
        // The file gives 131 bytes of extended output; the default digest is the first 32.
        let expected = &case["hash"].as_str().expect("hash")[..64];
        let input = pattern(length);
        for path in engine_paths(&input, &[Algorithm::Blake3], None, &[1024, 4096, 8193]) {
            let got = path.outcome.digest(Algorithm::Blake3).map(|d| d.to_hex());
            assert_eq!(got.as_deref(), Some(expected), "length {length} via {}", path.label);
        }
    }
}

/// Boundary sizes around block sizes (64, 1024), the window size and the segment size.
#[test]
fn boundary_sizes_agree_with_one_shot_digests() {
    const WINDOW: usize = 4096;
    const SEGMENT: u64 = 3000;
    let sizes = [0, 1, 63, 64, 65, 1023, 1024, 1025, WINDOW - 1, WINDOW, WINDOW + 1, 2 * WINDOW + 1];
    let segment_sizes = [SEGMENT as usize - 1, SEGMENT as usize, SEGMENT as usize + 1];
    let spec = SegmentSpec { size: SEGMENT, algorithm: Algorithm::Blake3 };
    for size in sizes.into_iter().chain(segment_sizes) {
        let input = pattern(size);
        for path in engine_paths(&input, &Algorithm::ALL, Some(spec), &[WINDOW]) {
            for algorithm in Algorithm::ALL {
                assert_eq!(
                    path.outcome.digest(algorithm),
                    Some(&algorithm.digest(&input)),
                    "{algorithm}, {size} bytes via {}",
                    path.label
                );
            }
            let segments = path.outcome.segments.as_ref().expect("segments requested");
            assert_eq!(segments, &SegmentList::of_bytes(spec, &input));
            assert_eq!(segments.digests.len(), size.div_ceil(SEGMENT as usize));
            assert_eq!(path.outcome.size, size as u64);
        }
    }
}

#[test]
fn segments_alone_need_no_whole_digest() {
    let spec = SegmentSpec { size: 1000, algorithm: Algorithm::Sha256 };
    let options = HashOptions { algorithms: vec![], segments: Some(spec), ..HashOptions::default() };
    let outcome = hash_bytes(&pattern(2500), &options);
    assert!(outcome.digests.is_empty());
    assert_eq!(outcome.segments.map(|s| s.digests.len()), Some(3));
}
