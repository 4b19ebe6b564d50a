//! Items kept in several files ([`StoredAs`]): a split raw image, whose bytes are its parts
//! concatenated, and an E01 segment set, whose bytes are the media it holds. One function
//! reads them for sealing and for verification alike: every part's own digests and the
//! item's digests (and segments) in one pass over a split image; for an E01 set, each
//! container file's digests, then its media decoded and hashed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use custos_hash::{
    hash_file, hash_reader, Algorithm, AlgorithmHasher, Control, Digest, HashOptions, HashOutcome,
};
use custos_image::e01::{E01Error, E01Reader};

use crate::manifest::PartFormat;
use crate::store::PayloadBody;

/// One part, opened.
#[derive(Debug)]
pub struct OpenedPart {
    /// Its path, for messages.
    pub path: String,
    /// Its bytes.
    pub body: PayloadBody,
}

/// What reading an item's parts found.
#[derive(Debug)]
pub struct PartsOutcome {
    /// The item's bytes (a split image's concatenation, an E01's media): digests, size and
    /// segments as the item options asked, or why an E01's media could not be read (the
    /// files' digests are known all the same, so that a damaged file is named).
    pub item: Result<HashOutcome, PartsError>,
    /// Each part's size and digests, in order.
    pub parts: Vec<(u64, BTreeMap<Algorithm, Digest>)>,
    /// The MD5 and SHA-1 an E01 stores of its media, when it does.
    pub stored: Vec<(Algorithm, Digest)>,
    /// The sector ranges `[first, count]` an E01's `error2` section records.
    pub filled_sectors: Vec<[u64; 2]>,
}

/// Why an item's parts could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum PartsError {
    /// The E01 container is damaged (a truncated or missing segment, a corrupt chunk, a
    /// checksum mismatch in a table or section): not a media mismatch.
    #[error("container damage: {0}")]
    Container(E01Error),
    /// The E01 cannot be read for another reason (an unsupported variant, an I/O error).
    #[error("{0}")]
    E01(E01Error),
    /// An E01 needs random access, which a stream (an object store) does not give.
    #[error("{0}: an E01 set is read by random access; verify a local copy (custos store pull)")]
    NeedsFile(String),
    /// Reading or hashing failed.
    #[error(transparent)]
    Hash(#[from] custos_hash::Error),
}

impl From<E01Error> for PartsError {
    fn from(error: E01Error) -> Self {
        if error.is_container_damage() {
            PartsError::Container(error)
        } else {
            PartsError::E01(error)
        }
    }
}

/// Reads an item kept in `parts`: each part hashed with `part_algorithms` (an E01's files
/// not at all when that is empty: their digests are known), the item's
/// bytes with `item`. A split image is read once (the parts' digests computed as the
/// concatenation streams through the engine); an E01 set's files are hashed, then its
/// media is decoded (every chunk checked) and hashed.
pub fn hash_parts(
    format: PartFormat,
    parts: Vec<OpenedPart>,
    item: &HashOptions,
    part_algorithms: &[Algorithm],
    label: &Path,
    control: &Control,
) -> Result<PartsOutcome, PartsError> {
    match format {
        PartFormat::Split => {
            let mut concatenation = Concatenation::new(parts, part_algorithms);
            let outcome = hash_reader(&mut concatenation, label, item, control)?;
            Ok(PartsOutcome {
                item: Ok(outcome),
                parts: concatenation.finish(),
                stored: Vec::new(),
                filled_sectors: Vec::new(),
            })
        }
        PartFormat::E01 => {
            let (files, digests) = hash_part_files(parts, part_algorithms, control)?;
            let reader = match E01Reader::from_files(files) {
                Ok(reader) => reader,
                Err(error) => {
                    return Ok(PartsOutcome {
                        item: Err(error.into()),
                        parts: digests,
                        stored: Vec::new(),
                        filled_sectors: Vec::new(),
                    })
                }
            };
            let filled_sectors = filled_sectors(&reader);
            let mut stored = Vec::new();
            if let Some(md5) = reader.stored_md5() {
                stored.push((Algorithm::Md5, Digest(md5.to_vec())));
            }
            if let Some(sha1) = reader.stored_sha1() {
                stored.push((Algorithm::Sha1, Digest(sha1.to_vec())));
            }
            let media = hash_reader(reader, label, item, control).map_err(|error| match error {
                custos_hash::Error::Read { source, .. } if E01Error::from_io(&source).is_some() => {
                    match source.into_inner().map(|inner| inner.downcast::<E01Error>()) {
                        Some(Ok(e01)) => PartsError::from(*e01),
                        _ => PartsError::E01(E01Error::InvalidOption("a chunk could not be read".into())),
                    }
                }
                other => PartsError::Hash(other),
            });
            Ok(PartsOutcome { item: media, parts: digests, stored, filled_sectors })
        }
    }
}

/// The `error2` ranges of an E01 as the manifest records them.
pub fn filled_sectors(reader: &E01Reader) -> Vec<[u64; 2]> {
    reader.acquisition_errors().iter().map(|r| [r.first_sector, r.sector_count]).collect()
}

/// Hashes each of an E01 set's files on its own with `part_algorithms` (not at all when
/// that is empty: only their sizes), and hands the files back for reading the media.
#[allow(clippy::type_complexity)]
pub fn hash_part_files(
    parts: Vec<OpenedPart>,
    part_algorithms: &[Algorithm],
    control: &Control,
) -> Result<(Vec<(PathBuf, File)>, Vec<(u64, BTreeMap<Algorithm, Digest>)>), PartsError> {
    let own = HashOptions { algorithms: part_algorithms.to_vec(), ..HashOptions::default() };
    let mut files = Vec::with_capacity(parts.len());
    let mut digests = Vec::with_capacity(parts.len());
    for part in parts {
        let PayloadBody::File(file) = part.body else { return Err(PartsError::NeedsFile(part.path)) };
        if part_algorithms.is_empty() {
            let size = file
                .metadata()
                .map_err(|source| custos_hash::Error::Open { path: part.path.clone().into(), source })?
                .len();
            digests.push((size, BTreeMap::new()));
        } else {
            let outcome = hash_file(&file, Path::new(&part.path), &own, control)?;
            digests.push((outcome.size, outcome.digests.into_iter().collect()));
        }
        files.push((PathBuf::from(part.path), file));
    }
    Ok((files, digests))
}

/// The parts of a split image read one after the other, each hashed on its own as it goes.
struct Concatenation {
    parts: std::vec::IntoIter<OpenedPart>,
    current: Option<(Source, Vec<AlgorithmHasher>, u64)>,
    algorithms: Vec<Algorithm>,
    done: Vec<(u64, BTreeMap<Algorithm, Digest>)>,
}

/// A part's bytes, read from its start whatever its descriptor's offset.
enum Source {
    File { file: File, offset: u64 },
    Stream(Box<dyn Read + Send>),
}

impl Concatenation {
    fn new(parts: Vec<OpenedPart>, algorithms: &[Algorithm]) -> Self {
        Concatenation {
            parts: parts.into_iter(),
            current: None,
            algorithms: algorithms.to_vec(),
            done: Vec::new(),
        }
    }

    fn close_current(&mut self) {
        if let Some((_, hashers, size)) = self.current.take() {
            let digests = hashers.into_iter().map(|h| (h.algorithm(), h.finalize())).collect();
            self.done.push((size, digests));
        }
    }

    fn finish(mut self) -> Vec<(u64, BTreeMap<Algorithm, Digest>)> {
        self.close_current();
        self.done
    }
}

impl Read for Concatenation {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.current.is_none() {
                let Some(part) = self.parts.next() else { return Ok(0) };
                let source = match part.body {
                    PayloadBody::File(file) => Source::File { file, offset: 0 },
                    PayloadBody::Stream(stream) => Source::Stream(stream),
                };
                let hashers = self.algorithms.iter().map(|a| a.hasher()).collect();
                self.current = Some((source, hashers, 0));
            }
            let Some((source, hashers, size)) = self.current.as_mut() else { return Ok(0) };
            let read = match source {
                Source::File { file, offset } => {
                    let n = file.read_at(buf, *offset);
                    if let Ok(n) = n {
                        *offset += n as u64;
                    }
                    n
                }
                Source::Stream(stream) => stream.read(buf),
            };
            match read {
                Ok(0) => self.close_current(),
                Ok(n) => {
                    for hasher in hashers.iter_mut() {
                        hasher.update(&buf[..n]);
                    }
                    *size += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
