//! Checkpoints and continuing an interrupted acquisition: the continued image and its
//! digests are those of one uninterrupted read; an image changed since its checkpoint is
//! refused before the source is read on.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};

use custos_hash::{Algorithm, Control, HashOptions};
use custos_image::{
    acquire_continued, Checkpoint, Checkpoints, Continuation, Error, ReadOptions, Source, Tool,
};

fn tool() -> Tool {
    Tool { name: "custos".into(), version: "test".into() }
}

fn hash() -> HashOptions {
    HashOptions { algorithms: vec![Algorithm::Sha256, Algorithm::Md5], ..HashOptions::default() }
}

/// A writer that fails once `limit` bytes are written: a destination that fills up, or a
/// crash, half-way.
struct FailsAfter {
    file: File,
    limit: u64,
    written: u64,
}

impl Write for FailsAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written >= self.limit {
            return Err(io::Error::other("No space left on device"));
        }
        let n = buf.len().min((self.limit - self.written) as usize);
        self.file.write_all(&buf[..n])?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[test]
fn a_continued_acquisition_equals_one_uninterrupted_read_and_a_changed_image_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source_path = dir.path().join("source.img");
    let bytes: Vec<u8> =
        (0..(10u32 << 20) + 512).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&source_path, &bytes).expect("source");
    let image_path = dir.path().join("image.raw");
    let options = ReadOptions { block_size: 64 << 10, ..ReadOptions::default() };

    // The first run fails after 3.5 MiB; checkpoints were taken every MiB.
    let mut saved: Vec<Checkpoint> = Vec::new();
    let mut save = |c: &Checkpoint| {
        saved.push(c.clone());
        Ok(())
    };
    let mut image =
        FailsAfter { file: File::create_new(&image_path).expect("image"), limit: 7 << 19, written: 0 };
    let first = acquire_continued(
        Source::open(&source_path).expect("open"),
        options,
        &hash(),
        &Control::default(),
        &tool(),
        &mut image,
        Some(Checkpoints { every: 1 << 20, save: &mut save }),
        None,
    )
    .expect("starts");
    assert!(matches!(first.result, Err(Error::WriteImage { .. })), "{:?}", first.result);
    let last = saved.last().cloned().expect("a checkpoint");
    assert_eq!(saved.iter().map(|c| c.image_bytes).collect::<Vec<_>>(), [1 << 20, 2 << 20, 3 << 20]);
    assert_eq!(last.summary.bytes_read, 3 << 20);
    assert_eq!(last.image_blake3, blake3::hash(&bytes[..3 << 20]).to_hex().to_string());

    // Continue: the image is cut at the checkpoint and appended to.
    let continue_run = |checkpoint: Checkpoint| {
        let file = OpenOptions::new().read(true).write(true).open(&image_path).expect("image");
        file.set_len(checkpoint.image_bytes).expect("cut");
        let mut writer = OpenOptions::new().append(true).open(&image_path).expect("append");
        acquire_continued(
            Source::open(&source_path).expect("open"),
            options,
            &hash(),
            &Control::default(),
            &tool(),
            &mut writer,
            None,
            Some(Continuation { image: &file, checkpoint }),
        )
        .expect("starts")
    };

    // A changed byte in what was written before the interruption: refused, nothing read on.
    let mut tampered = std::fs::read(&image_path).expect("image");
    tampered[12_345] ^= 1;
    std::fs::write(&image_path, &tampered).expect("tamper");
    let refused = continue_run(last.clone());
    assert!(matches!(refused.result, Err(Error::CheckpointMismatch(_))), "{:?}", refused.result);
    assert_eq!(std::fs::metadata(&image_path).expect("image").len(), 3 << 20, "nothing appended");
    tampered[12_345] ^= 1;
    std::fs::write(&image_path, &tampered[..3 << 20]).expect("restore");

    let continued = continue_run(last);
    let outcome = continued.result.expect("continued to the end");
    assert_eq!(outcome.size, bytes.len() as u64);
    assert_eq!(
        outcome.digest(Algorithm::Sha256),
        Some(&Algorithm::Sha256.digest(&bytes)),
        "the whole image's digest"
    );
    assert_eq!(outcome.digest(Algorithm::Md5), Some(&Algorithm::Md5.digest(&bytes)));
    assert!(std::fs::read(&image_path).expect("image") == bytes, "the image is the source");
    assert_eq!(continued.record.bytes_read, bytes.len() as u64);
}
