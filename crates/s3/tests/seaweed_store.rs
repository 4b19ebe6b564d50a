//! The S3 store against a real SeaweedFS: push, list, capped and ranged reads, discovery,
//! pull, hostile keys, Object Lock readback.

#[path = "support/seaweed.rs"]
mod seaweed;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use custos_manifest::store::{PackageStore, PayloadBody, StoreError};
use custos_s3::{LockMode, Retention, S3Error, S3Package, S3Url};
use seaweed::Seaweed;

/// Deterministic pseudo-random bytes.
fn noise(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

const BIG: usize = (40 << 20) + 3;

/// A folder laid out like a package (push does not verify; the CLI tests use sealed ones).
fn fake_package(dir: &Path) {
    for (path, bytes) in [
        ("bagit.txt", b"BagIt-Version: 1.0\n".to_vec()),
        ("custos/manifest.json", b"{}".to_vec()),
        ("data/small.txt", b"hello".to_vec()),
        ("data/sub/empty", Vec::new()),
        ("data/big.bin", noise(BIG, 7)),
    ] {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
}

fn read_all(package: &S3Package, path: &str) -> Vec<u8> {
    let payload = package.open_payload(path).expect("open payload");
    let PayloadBody::Stream(mut stream) = payload.body else { panic!("a stream") };
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read");
    assert_eq!(bytes.len() as u64, payload.size);
    bytes
}

#[test]
fn push_list_read_find_and_pull() {
    let Some(server) = Seaweed::start() else { return };
    server.create_bucket("evidence", false);
    let work = tempfile::tempdir().expect("temp");
    let local = work.path().join("pkg");
    fake_package(&local);
    let url = S3Url::parse("s3://evidence/cases/pkg").expect("url");

    let report = custos_s3::push(server.client(), &local, &url, &Retention::default()).expect("push");
    assert_eq!(report.objects.len(), 5);
    assert_eq!(report.objects.last().expect("last").path, "custos/manifest.json", "the manifest goes last");
    assert_eq!(report.bytes, (BIG + 5 + 2 + 19) as u64);
    let big = report.objects.iter().find(|o| o.path == "data/big.bin").expect("big");
    assert!(big.etag.ends_with("-3"), "40 MiB in 16 MiB parts: {}", big.etag);
    let small = report.objects.iter().find(|o| o.path == "data/small.txt").expect("small");
    assert_eq!(small.etag, "5d41402abc4b2a76b9719d911017c592");
    // Never over an existing package.
    assert!(matches!(
        custos_s3::push(server.client(), &local, &url, &Retention::default()),
        Err(S3Error::Exists(_))
    ));

    let client = Arc::new(server.new_client());
    let package = S3Package::open(Arc::clone(&client), url.clone()).expect("open").with_range_bytes(8 << 20);
    let listed: Vec<(String, custos_hash::EntryKind)> = package
        .list()
        .expect("list")
        .into_iter()
        .map(|e| (String::from_utf8(e.path).expect("utf8"), e.kind))
        .collect();
    let names: Vec<&str> = listed.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        ["bagit.txt", "custos/manifest.json", "data/big.bin", "data/small.txt", "data/sub/empty"]
    );
    assert_eq!(listed[2].1, custos_hash::EntryKind::File { size: BIG as u64 });

    assert_eq!(package.read_small("data/small.txt", 5).expect("read"), b"hello");
    assert!(matches!(package.read_small("data/small.txt", 4), Err(StoreError::TooLarge { .. })));
    assert!(matches!(package.read_small("data/none", 4), Err(StoreError::NotFound { .. })));
    assert!(matches!(package.read_small("data/../bagit.txt", 99), Err(StoreError::BadPath { .. })));

    // 40 MiB + 3 bytes in ranges of at most 8 MiB: six GETs, the same bytes.
    assert_eq!(read_all(&package, "data/big.bin"), noise(BIG, 7));
    assert_eq!(package.ranged_gets(), 6);
    assert!(read_all(&package, "data/sub/empty").is_empty());
    assert_eq!(package.ranged_gets(), 6, "an empty object needs no GET");

    // Discovery: both packages, sorted; one inside another's folders is part of it.
    let other = S3Url::parse("s3://evidence/cases/a-other").expect("url");
    custos_s3::push(server.client(), &local, &other, &Retention::default()).expect("push");
    server.put("evidence", "cases/pkg/data/inner/custos/manifest.json", b"{}".to_vec());
    let root = S3Url::parse("s3://evidence/cases").expect("url");
    let found = custos_s3::find_packages(server.client(), &root).expect("find");
    assert_eq!(found, vec![other.clone(), url.clone()]);
    let single = custos_s3::find_packages(server.client(), &url).expect("find");
    assert_eq!(single, vec![url.clone()]);
    server.delete("evidence", "cases/pkg/data/inner/custos/manifest.json");

    // Pull reads the signed manifest before anything else: this package's is not signed, so
    // nothing is fetched and no folder is made. (Pulls of sealed packages, byte for byte,
    // are in tests/s3_cli.rs.)
    let pulled_dir = work.path().join("pulled");
    let refused = custos_s3::pull(Arc::clone(&client), &url, &pulled_dir, &[]);
    assert!(matches!(refused, Err(S3Error::Refused { .. })), "{refused:?}");
    assert!(!pulled_dir.exists());
    let _ = report;

    // No package there.
    let missing = S3Url::parse("s3://evidence/cases/none").expect("url");
    assert!(matches!(S3Package::open(Arc::clone(&client), missing.clone()), Err(S3Error::NotAPackage(_))));
    assert!(matches!(
        custos_s3::pull(Arc::clone(&client), &missing, &work.path().join("none"), &[]),
        Err(S3Error::NotAPackage(_))
    ));
    assert!(!work.path().join("none").exists());
}

#[test]
fn hostile_keys_are_never_mapped_to_package_paths() {
    let Some(server) = Seaweed::start() else { return };
    server.create_bucket("hostile", false);
    let work = tempfile::tempdir().expect("temp");
    let local = work.path().join("pkg");
    fake_package(&local);
    let url = S3Url::parse("s3://hostile/pkg").expect("url");
    custos_s3::push(server.client(), &local, &url, &Retention::default()).expect("push");
    for key in ["pkg/data/../x", "pkg/data//y", "pkg/./z", "pkg/data/w/"] {
        // SeaweedFS refuses `..` keys itself; whatever it takes must not mis-map.
        let taken = server.try_put("hostile", key, b"planted".to_vec());
        eprintln!("{key}: {}", if taken { "stored" } else { "refused by the store" });
    }
    let stored = server.keys("hostile");
    eprintln!("keys the store kept: {stored:?}");
    let package = S3Package::open(Arc::new(server.new_client()), url.clone()).expect("open");
    for entry in package.list().expect("list") {
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        let plain = !path.is_empty()
            && !path.starts_with('/')
            && path.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
        match entry.kind {
            custos_hash::EntryKind::File { .. } => {
                assert!(plain, "{path} listed as a file");
                // Whatever the store made of a planted key, a listed file is one whose key
                // is exactly prefix/path.
                assert!(stored.contains(&url.key(&path)), "{path} is not a stored key");
            }
            custos_hash::EntryKind::Special { .. } => assert!(!plain, "{path}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    // Pulling refuses a package holding a refused key (if the store kept one).
    if stored.iter().any(|k| k.contains("//") || k.contains("/../") || k.contains("/./")) {
        assert!(custos_s3::pull(Arc::new(server.new_client()), &url, &work.path().join("out"), &[]).is_err());
    }
}

#[test]
fn object_lock_retention_and_legal_hold_are_read_back() {
    let Some(server) = Seaweed::start() else { return };
    server.create_bucket("locked", true);
    let work = tempfile::tempdir().expect("temp");
    let local = work.path().join("pkg");
    fake_package(&local);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() as i64;
    let until = aws_smithy_types::DateTime::from_secs(now + 86_400);
    let retention = Retention { lock: Some((LockMode::Governance, until)), legal_hold: true };
    let url = S3Url::parse("s3://locked/pkg").expect("url");
    let report = custos_s3::push(server.client(), &local, &url, &retention).expect("push");
    for object in &report.objects {
        let readback = object.retention.as_ref().expect("read back");
        assert_eq!(readback.mode.as_deref(), Some("GOVERNANCE"), "{}", object.key);
        assert_eq!(readback.legal_hold.as_deref(), Some("ON"), "{}", object.key);
        assert!(readback.retain_until.is_some());
    }
    let compliance = Retention { lock: Some((LockMode::Compliance, until)), legal_hold: false };
    let url = S3Url::parse("s3://locked/pkg-compliance").expect("url");
    let report = custos_s3::push(server.client(), &local, &url, &compliance).expect("push");
    assert!(report
        .objects
        .iter()
        .all(|o| o.retention.as_ref().and_then(|r| r.mode.as_deref()) == Some("COMPLIANCE")));
}
