//! Reads an E01 set's media through `E01Reader`, hashes it with MD5 and SHA-1 in one pass and
//! compares the stored digests, as `ewfverify -d sha1` does: for measuring the reader.
//!
//! `cargo run --release -p custos-image --example e01_verify -- x.E01`

use std::path::Path;

use custos_hash::{hash_reader, Algorithm, Control, HashOptions};
use custos_image::e01::E01Reader;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: e01_verify x.E01")?;
    let reader = E01Reader::open(&path)?;
    let (md5, sha1) = (reader.stored_md5(), reader.stored_sha1());
    let options = HashOptions { algorithms: vec![Algorithm::Md5, Algorithm::Sha1], ..HashOptions::default() };
    let outcome = hash_reader(reader, Path::new(&path), &options, &Control::default())?;
    let same = |stored: Option<&[u8]>, computed: &[u8]| stored.is_none_or(|s| s == computed);
    let ok = same(md5.as_ref().map(|m| &m[..]), outcome.digests[0].1.as_bytes())
        && same(sha1.as_ref().map(|s| &s[..]), outcome.digests[1].1.as_bytes());
    println!(
        "md5 {} sha1 {}: {}",
        outcome.digests[0].1.to_hex(),
        outcome.digests[1].1.to_hex(),
        if ok { "match" } else { "MISMATCH" }
    );
    if ok {
        Ok(())
    } else {
        Err("stored digests do not match".into())
    }
}
