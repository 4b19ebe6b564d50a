//! Acquires a file or device into an E01 set with MD5 and SHA-1 in the same pass, as
//! `custos acquire` will: for measuring the writer against `ewfacquire`.
//!
//! `cargo run --release -p custos-image --example e01_acquire -- SOURCE BASE none|fast|best [THREADS]`

use std::path::Path;
use std::time::Instant;

use custos_hash::{Algorithm, Control, HashOptions};
use custos_image::e01::{Compression, E01Options, E01Writer};
use custos_image::{acquire, ReadOptions, Source, Tool};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (source, base, level, threads) = match &args[..] {
        [_, source, base, level] => (source, base, level, 1),
        [_, source, base, level, threads] => (source, base, level, threads.parse()?),
        _ => return Err("usage: e01_acquire SOURCE BASE none|fast|best [THREADS]".into()),
    };
    let compression = match level.as_str() {
        "none" => Compression::None,
        "fast" => Compression::Fast,
        "best" => Compression::Best,
        other => return Err(format!("unknown compression {other}").into()),
    };
    let clock = Instant::now();
    let source = Source::open(Path::new(source))?;
    let mut writer = E01Writer::create(base, E01Options { compression, threads, ..E01Options::default() })?;
    let hash = HashOptions { algorithms: vec![Algorithm::Md5, Algorithm::Sha1], ..HashOptions::default() };
    let tool = Tool { name: "e01_acquire".into(), version: env!("CARGO_PKG_VERSION").into() };
    let outcome =
        acquire(source, ReadOptions::default(), &hash, &Control::default(), &tool, Some(&mut writer))?;
    let digests = outcome.result?;
    writer.set_read_errors(&outcome.record.read_errors)?;
    let md5: [u8; 16] = digests.digests[0].1.as_bytes().try_into()?;
    let sha1: [u8; 20] = digests.digests[1].1.as_bytes().try_into()?;
    let segments = writer.finish(Some(md5), Some(sha1))?;
    println!(
        "{} segment(s), {:.2} s, md5 {}",
        segments.len(),
        clock.elapsed().as_secs_f64(),
        digests.digests[0].1.to_hex()
    );
    Ok(())
}
