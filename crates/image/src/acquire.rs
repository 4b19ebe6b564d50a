//! One call for the whole acquisition: read a source under the policy, hash it in the same
//! pass (and write the image, if asked), and return the record.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::time::{Instant, SystemTime};

use custos_hash::{hash_reader, Algorithm, AlgorithmHasher, Control, HashOptions, HashOutcome};
use serde::{Deserialize, Serialize};

use crate::reader::{ReadOptions, ReadSummary, Reader};
use crate::record::{AcquisitionRecord, Tool};
use crate::source::{Source, SourceInfo};
use crate::time::rfc3339_from_system_time;
use crate::Error;

/// The outcome of [`acquire`]: the record always (it says how far reading got), and the
/// digests when reading reached the end.
#[derive(Debug)]
pub struct Acquisition {
    /// What was read and how; its `digests` are filled when `result` is `Ok`.
    pub record: AcquisitionRecord,
    /// The digests, or why reading or hashing stopped.
    pub result: Result<HashOutcome, Error>,
}

/// Reads `source` under `options`, hashes the image with `hash` in the same pass, writes it
/// to `image` when given (every byte, filled sectors included, at its source offset), and
/// records the acquisition. Errors before anything is read (invalid options) are returned
/// as `Err`; errors while reading are in [`Acquisition::result`] next to the record.
pub fn acquire(
    source: Source,
    options: ReadOptions,
    hash: &HashOptions,
    control: &Control,
    tool: &Tool,
    image: Option<&mut dyn Write>,
) -> Result<Acquisition, Error> {
    // `acquire_reader` checks the hash options before anything is read.
    let info = source.info().clone();
    let reader = source.reader(options)?;
    acquire_reader(reader, info, hash, control, tool, image)
}

/// How far an acquisition got, saved so that it can continue after an interruption: the
/// image's first `image_bytes` are written and durable, their BLAKE3 is `image_blake3`,
/// and `summary` is what reading had done up to there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Bytes of the image written and synced (a whole number of sectors).
    pub image_bytes: u64,
    /// BLAKE3 of those bytes, lowercase hex.
    pub image_blake3: String,
    /// The reading so far (filled ranges, retries, sector re-reads).
    pub summary: ReadSummary,
}

/// Checkpoints taken while acquiring: every `every` bytes (a multiple of the sector size),
/// after the image is flushed, `save` is called; it must make the image durable (sync it)
/// before it records the checkpoint. An error from `save` stops the acquisition.
pub struct Checkpoints<'a> {
    /// Bytes between checkpoints.
    pub every: u64,
    /// Makes the image durable and records the checkpoint.
    pub save: &'a mut dyn FnMut(&Checkpoint) -> io::Result<()>,
}

impl std::fmt::Debug for Checkpoints<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoints").field("every", &self.every).finish_non_exhaustive()
    }
}

/// An interrupted acquisition to continue: `image` (opened for reading) holds at least the
/// checkpoint's bytes, and the writer given to [`acquire_continued`] appends right after
/// them (the caller cut the image there).
#[derive(Debug)]
pub struct Continuation<'a> {
    /// The image as written before the interruption.
    pub image: &'a File,
    /// Where it was interrupted.
    pub checkpoint: Checkpoint,
}

/// [`acquire`] with checkpoints, and optionally continuing an interrupted acquisition. A
/// continuation first reads the image's first `checkpoint.image_bytes` back from `image`
/// (hashing them with `hash` as if just read from the source) and fails with
/// [`Error::CheckpointMismatch`] unless their BLAKE3 is the checkpoint's; only then does it
/// read the source on from there. The digests are the whole image's either way.
#[allow(clippy::too_many_arguments)]
pub fn acquire_continued<'a>(
    source: Source,
    options: ReadOptions,
    hash: &HashOptions,
    control: &Control,
    tool: &Tool,
    image: &mut dyn Write,
    checkpoints: Option<Checkpoints<'a>>,
    continuation: Option<Continuation<'a>>,
) -> Result<Acquisition, Error> {
    let info = source.info().clone();
    let mut reader = source.reader(options)?;
    let mut prefix = None;
    let mut hasher = checkpoints.as_ref().map(|_| Algorithm::Blake3.hasher());
    if let Some(Continuation { image: file, checkpoint }) = continuation {
        check_checkpoint(file, &checkpoint)?;
        reader = reader.continue_from(&checkpoint.summary)?;
        hasher = Some(Algorithm::Blake3.hasher());
        prefix = Some(Prefix { file, at: 0, end: checkpoint.image_bytes, expected: checkpoint.image_blake3 });
    }
    let every = checkpoints.as_ref().map_or(0, |c| c.every);
    if every > 0 && !every.is_multiple_of(u64::from(reader.sector_size())) {
        return Err(Error::InvalidOption(format!(
            "checkpoints every {every} bytes: not a whole number of {}-byte sectors",
            reader.sector_size()
        )));
    }
    let start = prefix.as_ref().map_or(0, |p| p.end);
    let stages = Stages {
        prefix,
        hasher,
        checkpoints,
        next_checkpoint: start.checked_div(every).map_or(u64::MAX, |n| (n + 1) * every),
        position: 0,
    };
    acquire_staged(reader, info, hash, control, tool, Some(image), stages)
}

/// A checkpoint is the examiner's unsigned working file: before anything is continued from
/// it, its reading state must describe its image (as many bytes read as written, still in
/// progress, filled ranges inside the image that add up and that really are zeros there).
fn check_checkpoint(image: &File, checkpoint: &Checkpoint) -> Result<(), Error> {
    let refuse = |detail: String| Err(Error::CheckpointMismatch(detail));
    let summary = &checkpoint.summary;
    if summary.bytes_read != checkpoint.image_bytes {
        return refuse(format!(
            "it says {} bytes were read but {} written",
            summary.bytes_read, checkpoint.image_bytes
        ));
    }
    if summary.end != crate::reader::ReadEnd::InProgress {
        return refuse("it describes a reading that had already ended".into());
    }
    let mut filled: u64 = 0;
    let mut previous_end = 0;
    let mut zeros = vec![0u8; 64 << 10];
    for range in &summary.read_errors.ranges {
        let end = range.byte_offset.checked_add(range.byte_length);
        if range.byte_offset < previous_end || end.is_none_or(|end| end > checkpoint.image_bytes) {
            return refuse(format!(
                "an unreadable range at byte {} is out of order or outside the image",
                range.byte_offset
            ));
        }
        previous_end = end.unwrap_or(u64::MAX);
        filled = filled.saturating_add(range.byte_length);
        // A range filled with zeros must hold zeros in the image.
        let mut at = range.byte_offset;
        while at < previous_end {
            let want = (previous_end - at).min(zeros.len() as u64) as usize;
            image
                .read_exact_at(&mut zeros[..want], at)
                .map_err(|e| Error::CheckpointMismatch(format!("cannot read the image: {e}")))?;
            if zeros[..want].iter().any(|&b| b != 0) {
                return refuse(format!(
                    "it says bytes {}..{previous_end} could not be read and were filled with zeros, but the image holds data there",
                    range.byte_offset
                ));
            }
            at += want as u64;
        }
        zeros.fill(0);
    }
    if filled != summary.bytes_substituted {
        return refuse(format!(
            "it says {} bytes were filled, its ranges hold {filled}",
            summary.bytes_substituted
        ));
    }
    Ok(())
}

/// The image read back before the source, when continuing.
struct Prefix<'a> {
    file: &'a File,
    at: u64,
    end: u64,
    expected: String,
}

/// What the tee does besides copying: a prefix read back first, and checkpoints.
struct Stages<'a> {
    prefix: Option<Prefix<'a>>,
    /// BLAKE3 of every byte delivered, for checkpoints.
    hasher: Option<AlgorithmHasher>,
    checkpoints: Option<Checkpoints<'a>>,
    next_checkpoint: u64,
    position: u64,
}

/// [`acquire`] from a reader made elsewhere, such as [`Reader::from_medium`] over a
/// [`crate::fault::FaultyMedium`] (how tests acquire bad sectors into an image), recording
/// `info` as its source's facts.
pub fn acquire_reader(
    reader: Reader,
    info: SourceInfo,
    hash: &HashOptions,
    control: &Control,
    tool: &Tool,
    image: Option<&mut dyn Write>,
) -> Result<Acquisition, Error> {
    let stages =
        Stages { prefix: None, hasher: None, checkpoints: None, next_checkpoint: u64::MAX, position: 0 };
    acquire_staged(reader, info, hash, control, tool, image, stages)
}

fn acquire_staged(
    mut reader: Reader,
    info: SourceInfo,
    hash: &HashOptions,
    control: &Control,
    tool: &Tool,
    image: Option<&mut dyn Write>,
    stages: Stages,
) -> Result<Acquisition, Error> {
    hash.validate().map_err(Error::Hash)?;
    let options = *reader.options();
    let started_at = rfc3339_from_system_time(SystemTime::now());
    let clock = Instant::now();
    let label = Path::new(&info.path).to_owned();
    let mut tee = Tee { reader: &mut reader, image, write_error: None, stages };
    let hashed = hash_reader(&mut tee, &label, hash, control);
    let Tee { image, write_error, .. } = tee;
    let flushed = match (&hashed, image) {
        (Ok(_), Some(image)) => image.flush(),
        _ => Ok(()),
    };
    let elapsed = clock.elapsed();
    let ended_at = rfc3339_from_system_time(SystemTime::now());
    let record =
        AcquisitionRecord::new(tool.clone(), info, options, reader.summary(), started_at, ended_at, elapsed);
    let result = match (hashed, write_error, flushed) {
        (_, Some(source), _) | (Ok(_), None, Err(source)) => Err(Error::WriteImage { source }),
        (Ok(outcome), None, Ok(())) => Ok(outcome),
        (Err(error), None, _) => Err(from_hash_error(error)),
    };
    let record = match &result {
        Ok(outcome) => record.with_digests(outcome),
        Err(_) => record,
    };
    Ok(Acquisition { record, result })
}

/// Unwraps an acquisition error that travelled through the hash engine as an `io::Error`.
fn from_hash_error(error: custos_hash::Error) -> Error {
    match error {
        custos_hash::Error::Read { source, path, offset } if Error::from_io(&source).is_some() => {
            let kind = source.kind();
            match source.into_inner().map(|inner| inner.downcast::<Error>()) {
                Some(Ok(ours)) => *ours,
                // Not reached (checked above), but kept whole rather than asserted.
                Some(Err(inner)) => Error::Hash(custos_hash::Error::Read {
                    path,
                    offset,
                    source: io::Error::new(kind, inner),
                }),
                None => Error::Hash(custos_hash::Error::Read { path, offset, source: kind.into() }),
            }
        }
        other => Error::Hash(other),
    }
}

/// Passes reads through and writes every byte read to the image; when continuing, first
/// delivers the image's prefix read back (checked against its checkpoint), and takes
/// checkpoints on the way.
struct Tee<'r, 'w, 's> {
    reader: &'r mut Reader,
    image: Option<&'w mut dyn Write>,
    write_error: Option<io::Error>,
    stages: Stages<'s>,
}

impl Tee<'_, '_, '_> {
    /// Delivers the next bytes of the image's prefix, or checks it once it is all read.
    fn read_prefix(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let Some(prefix) = self.stages.prefix.as_mut() else { return Ok(None) };
        if prefix.at < prefix.end {
            let want = (prefix.end - prefix.at).min(buf.len() as u64) as usize;
            let n = prefix.file.read_at(&mut buf[..want], prefix.at)?;
            if n == 0 {
                let detail =
                    format!("the image ends at byte {}, the checkpoint is at {}", prefix.at, prefix.end);
                return Err(io::Error::other(Error::CheckpointMismatch(detail)));
            }
            prefix.at += n as u64;
            if let Some(hasher) = self.stages.hasher.as_mut() {
                hasher.update(&buf[..n]);
            }
            self.stages.position += n as u64;
            return Ok(Some(n));
        }
        let found = self.stages.hasher.clone().map(|h| h.finalize().to_hex()).unwrap_or_default();
        if found != prefix.expected {
            let detail = format!(
                "its first {} bytes have BLAKE3 {found}, the checkpoint says {}",
                prefix.end, prefix.expected
            );
            return Err(io::Error::other(Error::CheckpointMismatch(detail)));
        }
        // Only now is what follows the checkpoint cut (written, never made durable): a
        // checkpoint that does not describe the image destroys none of it, whatever it says.
        prefix.file.set_len(prefix.end)?;
        self.stages.prefix = None;
        Ok(None)
    }

    /// Records a checkpoint at the current position.
    fn checkpoint(&mut self) -> io::Result<()> {
        if let Some(image) = self.image.as_mut() {
            image.flush()?;
        }
        let Some(checkpoints) = self.stages.checkpoints.as_mut() else { return Ok(()) };
        let checkpoint = Checkpoint {
            image_bytes: self.stages.position,
            image_blake3: self.stages.hasher.clone().map(|h| h.finalize().to_hex()).unwrap_or_default(),
            summary: self.reader.summary(),
        };
        (checkpoints.save)(&checkpoint)?;
        self.stages.next_checkpoint += checkpoints.every;
        Ok(())
    }
}

impl Read for Tee<'_, '_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(n) = self.read_prefix(buf)? {
            return Ok(n);
        }
        // Reads stop at the next checkpoint, so that each is taken exactly there.
        let room = (self.stages.next_checkpoint - self.stages.position).min(buf.len() as u64) as usize;
        let n = self.reader.read(&mut buf[..room])?;
        if let Some(image) = self.image.as_mut() {
            if let Err(error) = image.write_all(&buf[..n]) {
                self.write_error = Some(error);
                // Stops the hash engine; `acquire` reports the write error itself.
                return Err(io::Error::other("the image could not be written"));
            }
        }
        if let Some(hasher) = self.stages.hasher.as_mut() {
            hasher.update(&buf[..n]);
        }
        self.stages.position += n as u64;
        if n > 0 && self.stages.position == self.stages.next_checkpoint {
            if let Err(error) = self.checkpoint() {
                self.write_error = Some(error);
                return Err(io::Error::other("the checkpoint could not be written"));
            }
        }
        Ok(n)
    }
}
