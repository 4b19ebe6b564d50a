//! One call for the whole acquisition: read a source under the policy, hash it in the same
//! pass (and write the image, if asked), and return the record.

use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Instant, SystemTime};

use custos_hash::{hash_reader, Control, HashOptions, HashOutcome};

use crate::reader::{ReadOptions, Reader};
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

/// [`acquire`] from a reader made elsewhere, such as [`Reader::from_medium`] over a
/// [`crate::fault::FaultyMedium`] (how tests acquire bad sectors into an image), recording
/// `info` as its source's facts.
pub fn acquire_reader(
    mut reader: Reader,
    info: SourceInfo,
    hash: &HashOptions,
    control: &Control,
    tool: &Tool,
    image: Option<&mut dyn Write>,
) -> Result<Acquisition, Error> {
    hash.validate().map_err(Error::Hash)?;
    let options = *reader.options();
    let started_at = rfc3339_from_system_time(SystemTime::now());
    let clock = Instant::now();
    let label = Path::new(&info.path).to_owned();
    let mut tee = Tee { reader: &mut reader, image, write_error: None };
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

/// Passes reads through and writes every byte read to the image.
struct Tee<'r, 'w> {
    reader: &'r mut Reader,
    image: Option<&'w mut dyn Write>,
    write_error: Option<io::Error>,
}

impl Read for Tee<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        if let Some(image) = self.image.as_mut() {
            if let Err(error) = image.write_all(&buf[..n]) {
                self.write_error = Some(error);
                // Stops the hash engine; `acquire` reports the write error itself.
                return Err(io::Error::other("the image could not be written"));
            }
        }
        Ok(n)
    }
}
