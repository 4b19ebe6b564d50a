//! The E01 reader: validates a segment set's structure (every checksum, the section chain,
//! the tables, the segment numbering) when it opens, then serves the media as
//! [`Read`] + [`Seek`], checking each chunk as it is decompressed.
//!
//! Case metadata comes from the `ewf` crate (behind [`backend_metadata`], so it can be
//! swapped); the structure and the chunks are checked here, because `ewf` 0.4.10 does not
//! check the Adler-32 of stored chunks, stops inflating once a chunk's buffer is full (so the
//! zlib checksum of a full chunk is never read), pads short chunks with zeros, reads error2
//! entries from the wrong offset, and fails on valid images whose last chunk is stored and
//! partial. Damage must be an error, not different media.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use flate2::{Decompress, FlushDecompress, Status};

use super::error::E01Error;
use super::format::{
    self, le_u32, le_u64, parse_descriptor, segment_path, Volume, COMPRESSED_BIT, DESCRIPTOR_SIZE,
    ERROR2_HEADER_SIZE, EVF2_SIGNATURE, EVF_SIGNATURE, FILE_HEADER_SIZE, LVF_SIGNATURE, MAX_SEGMENTS,
    TABLE_HEADER_SIZE, VOLUME_SIZE,
};

/// Chunks larger than this are refused (EnCase allows at most 32 768 sectors of 512 bytes,
/// 16 MiB); a forged volume section must not make us allocate gigabytes.
const MAX_CHUNK_SIZE: u64 = 16 * 1024 * 1024;

/// One segment file of the set, so a caller can hash the container files too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    /// Its path.
    pub path: PathBuf,
    /// Its size in bytes when the set was opened.
    pub size: u64,
}

/// A range of sectors the acquiring tool could not read (and filled), from `error2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquisitionErrorRange {
    /// The first sector.
    pub first_sector: u64,
    /// How many sectors.
    pub sector_count: u64,
}

/// Case metadata stored in the image's header sections, as the acquiring tool wrote it
/// (`None` when absent or empty). Dates are the stored text (for example `2026 12 1 9 9 16`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct E01Metadata {
    /// Case number.
    pub case_number: Option<String>,
    /// Evidence number.
    pub evidence_number: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Examiner name.
    pub examiner: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Acquisition date, as stored.
    pub acquiry_date: Option<String>,
    /// System date at acquisition, as stored.
    pub system_date: Option<String>,
    /// The acquiring software's version.
    pub acquiry_software: Option<String>,
    /// The acquiring operating system.
    pub operating_system: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Chunk {
    segment: usize,
    offset: u64,
    stored: u64,
    compressed: bool,
}

/// An E01 image opened for reading: its media as [`Read`] + [`Seek`], and what it stores
/// about the media (size, sector size, MD5/SHA-1, acquisition errors, case metadata).
///
/// [`E01Reader::open`] checks the whole structure first and fails with a typed
/// [`E01Error`] on any damage ([`E01Error::is_container_damage`]); reads fail with the same
/// errors (wrapped in [`io::Error`], see [`E01Error::from_io`]) when a chunk is corrupt.
/// Comparing the media's digest with the stored one is the caller's job.
#[derive(Debug)]
pub struct E01Reader {
    segments: Vec<SegmentFile>,
    files: Vec<File>,
    chunks: Vec<Chunk>,
    volume: Volume,
    media_size: u64,
    chunk_size: u64,
    md5: Option<[u8; 16]>,
    sha1: Option<[u8; 20]>,
    errors: Vec<AcquisitionErrorRange>,
    metadata: E01Metadata,
    position: u64,
    cached: Option<u64>,
    page: Vec<u8>,
    raw: Vec<u8>,
}

/// What one pass over the sections gathers.
#[derive(Default)]
struct Walk {
    volume: Option<Volume>,
    chunks: Vec<Chunk>,
    md5: Option<[u8; 16]>,
    sha1: Option<[u8; 20]>,
    errors: Vec<AcquisitionErrorRange>,
    /// Sections that may appear once in a set, by kind, with the segment and offset of
    /// the first: a second one is damage (see [`once_only`]).
    seen: Vec<(&'static str, PathBuf, u64)>,
    /// The inflated body of the first `header`, `header2` and `xheader` section: EnCase
    /// writes copies (two `header2`, or two `header`), libewf shows the first, so a later
    /// copy must say the same.
    headers: Vec<(String, Vec<u8>)>,
}

/// The section kinds that may appear once in a whole set, and the name a second one is
/// reported by. `volume` and `disk` are one section under two names; `data` repeats (a copy
/// of the volume in later segments), as do `sectors`/`table`/`table2` (one group per chunk
/// run) and the header sections (copies, compared instead).
fn once_only(kind: &str) -> Option<&'static str> {
    match kind {
        "volume" | "disk" => Some("volume"),
        "error2" => Some("error2"),
        "hash" => Some("hash"),
        "digest" => Some("digest"),
        _ => None,
    }
}

/// The fewest stored bytes a zlib stream of `bytes` bytes can have: a 2-byte header, a
/// 4-byte Adler-32, and deflate data, which cannot compress better than 1032 to 1 (one
/// 258-byte match in two bits); 1100 leaves a margin. A table entry whose chunk is shorter
/// cannot hold its media, so a set's media is at most about 1100 times its stored bytes.
fn min_compressed(bytes: u64) -> u64 {
    6 + bytes / 1100
}

/// Why chunk `index` cannot hold its media, or `None` when it can (or when the volume's
/// geometry is unusable, which is refused on its own).
fn lacks_room(volume: &Volume, index: u64, chunk: &Chunk) -> Option<String> {
    let chunk_size = u64::from(volume.sectors_per_chunk) * u64::from(volume.bytes_per_sector);
    if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
        return None;
    }
    let media_size = volume.sector_count.checked_mul(u64::from(volume.bytes_per_sector))?;
    let expected = media_size.checked_sub(index.checked_mul(chunk_size)?)?.min(chunk_size);
    let needed = if chunk.compressed { min_compressed(expected) } else { expected + 4 };
    (chunk.stored < needed).then(|| {
        format!(
            "its {} stored bytes cannot hold {expected} bytes of media ({} needs at least {needed})",
            chunk.stored,
            if chunk.compressed { "a zlib stream of them" } else { "a stored chunk and its checksum" }
        )
    })
}

impl Walk {
    /// Adds the next chunk of the media. Once the volume is known, each chunk is checked as
    /// it comes (no more chunks than the volume has, each with room for its media), so a
    /// forged table cannot make the walk hold more entries than the file has bytes.
    fn push(&mut self, chunk: Chunk, path: &Path, table_at: u64) -> Result<(), E01Error> {
        if let Some(volume) = &self.volume {
            let index = self.chunks.len() as u64;
            if index >= u64::from(volume.chunk_count) {
                return Err(E01Error::Malformed {
                    path: path.to_owned(),
                    offset: table_at,
                    detail: format!("the tables list more chunks than the volume's {}", volume.chunk_count),
                });
            }
            if let Some(detail) = lacks_room(volume, index, &chunk) {
                return Err(E01Error::CorruptChunk {
                    path: path.to_owned(),
                    chunk: index,
                    offset: chunk.offset,
                    detail,
                });
            }
        }
        self.chunks.push(chunk);
        Ok(())
    }
}

impl E01Reader {
    /// Opens the set whose first segment is `path` (`x.E01` or `x.e01`), finding `x.E02`… by
    /// name, and checks its structure.
    pub fn open(path: impl AsRef<Path>) -> Result<E01Reader, E01Error> {
        let first = path.as_ref();
        let ext = first.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !ext.eq_ignore_ascii_case("e01") {
            return Err(E01Error::InvalidOption(format!(
                "{} is not a first segment: open the file named .E01",
                first.display()
            )));
        }
        let lower = ext == "e01";
        let base = first.with_extension("");
        let next = |number: u32| -> Result<Option<(PathBuf, File)>, E01Error> {
            let path = if number == 1 {
                first.to_owned()
            } else {
                segment_path(&base, number, lower).ok_or(E01Error::TooManySegments { max: MAX_SEGMENTS })?
            };
            match open_segment(&path) {
                Ok(file) => Ok(Some((path, file))),
                Err(e) if number > 1 && e.kind() == io::ErrorKind::NotFound => {
                    Err(E01Error::MissingSegment { number, expected: path })
                }
                Err(source) => Err(E01Error::Io { path, action: "open", source }),
            }
        };
        E01Reader::from_segments(next, None)
    }

    /// Reads a set from segment files the caller opened (through a package's safe-open
    /// door, say), in order, each with the path that names it in errors. Every file must
    /// belong to the set and the set must end with the last one: a missing or an extra
    /// segment is an error. The second parser (case metadata) reads the same open files
    /// through `/proc/self/fd`, never by their names.
    pub fn from_files(files: Vec<(PathBuf, File)>) -> Result<E01Reader, E01Error> {
        let count = files.len();
        let last_label = files.last().map(|(path, _)| path.clone());
        let mut files = files.into_iter();
        let next = |number: u32| -> Result<Option<(PathBuf, File)>, E01Error> {
            match files.next() {
                Some(opened) => Ok(Some(opened)),
                None => Err(E01Error::MissingSegment {
                    number,
                    expected: last_label.clone().unwrap_or_default().with_extension(format!("E{number:02}")),
                }),
            }
        };
        E01Reader::from_segments(next, Some(count))
    }

    /// The common core: walks segment 1, 2, … as `next` yields them until one ends with
    /// `done`; with `expected`, that must be the last of exactly that many files.
    fn from_segments(
        mut next: impl FnMut(u32) -> Result<Option<(PathBuf, File)>, E01Error>,
        expected: Option<usize>,
    ) -> Result<E01Reader, E01Error> {
        let by_fd = expected.is_some();
        let mut walk = Walk::default();
        let mut segments = Vec::new();
        let mut files = Vec::new();
        let mut number = 1u32;
        loop {
            if number > MAX_SEGMENTS {
                return Err(E01Error::TooManySegments { max: MAX_SEGMENTS });
            }
            let Some((path, file)) = next(number)? else {
                return Err(E01Error::InvalidOption("no segment files were given".into()));
            };
            let size = file
                .metadata()
                .map_err(|source| E01Error::Io { path: path.clone(), action: "stat", source })?
                .len();
            let last = walk_segment(&file, &path, size, number, files.len(), &mut walk)?;
            segments.push(SegmentFile { path, size });
            files.push(file);
            if last == "done" {
                break;
            }
            number += 1;
        }
        if let Some(count) = expected.filter(|&count| count != files.len()) {
            let first_path = segments[0].path.clone();
            return Err(E01Error::Malformed {
                path: first_path,
                offset: 0,
                detail: format!(
                    "the set ends (its `done` section) in segment {}, but {count} segment files were given",
                    files.len()
                ),
            });
        }
        let first_path = segments[0].path.clone();
        let malformed = |detail: String| E01Error::Malformed { path: first_path.clone(), offset: 0, detail };
        let volume = walk.volume.ok_or_else(|| malformed("there is no volume section".into()))?;
        let chunk_size = u64::from(volume.sectors_per_chunk) * u64::from(volume.bytes_per_sector);
        if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
            return Err(E01Error::Unsupported {
                path: first_path,
                what: format!(
                    "a chunk of {} sectors of {} bytes",
                    volume.sectors_per_chunk, volume.bytes_per_sector
                ),
            });
        }
        let media_size = volume
            .sector_count
            .checked_mul(u64::from(volume.bytes_per_sector))
            .ok_or_else(|| malformed(format!("{} sectors overflow", volume.sector_count)))?;
        if walk.chunks.len() as u64 != u64::from(volume.chunk_count)
            || media_size.div_ceil(chunk_size) != u64::from(volume.chunk_count)
        {
            return Err(malformed(format!(
                "the tables list {} chunks, the volume says {} chunks for {} sectors",
                walk.chunks.len(),
                volume.chunk_count,
                volume.sector_count
            )));
        }
        // Every chunk must have room for its media: with chunks that do not overlap (checked
        // in the walk), the media can be no larger than what the segment files can hold,
        // so a small file cannot claim terabytes and keep a reader busy for hours.
        // (Checked as tables are read too, once the volume is known; here for a set whose
        // tables came first.)
        for (index, chunk) in walk.chunks.iter().enumerate() {
            if let Some(detail) = lacks_room(&volume, index as u64, chunk) {
                return Err(E01Error::CorruptChunk {
                    path: segments[chunk.segment].path.clone(),
                    chunk: index as u64,
                    offset: chunk.offset,
                    detail,
                });
            }
        }
        let paths: Vec<PathBuf> = if by_fd {
            // The same open files, whatever their names now point to.
            use std::os::fd::AsRawFd as _;
            files.iter().map(|f| PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()))).collect()
        } else {
            segments.iter().map(|s| s.path.clone()).collect()
        };
        let (metadata, backend_size) = backend_metadata(&paths).map_err(&malformed)?;
        if backend_size != media_size {
            return Err(malformed(format!(
                "two parsers disagree on the media size ({media_size} and {backend_size} bytes)"
            )));
        }
        Ok(E01Reader {
            segments,
            files,
            chunks: walk.chunks,
            volume,
            media_size,
            chunk_size,
            md5: walk.md5,
            sha1: walk.sha1,
            errors: walk.errors,
            metadata,
            position: 0,
            cached: None,
            page: Vec::new(),
            raw: Vec::new(),
        })
    }

    /// Media bytes (sectors × bytes per sector).
    pub fn media_size(&self) -> u64 {
        self.media_size
    }

    /// Bytes per sector.
    pub fn bytes_per_sector(&self) -> u32 {
        self.volume.bytes_per_sector
    }

    /// Sectors per chunk (64 in nearly every image).
    pub fn sectors_per_chunk(&self) -> u32 {
        self.volume.sectors_per_chunk
    }

    /// The number of chunks.
    pub fn chunk_count(&self) -> u64 {
        self.chunks.len() as u64
    }

    /// The compression level the volume section records: 0 none, 1 fast/good, 2 best.
    pub fn compression_level(&self) -> u8 {
        self.volume.compression_level
    }

    /// The segment set identifier GUID of the volume section (zeros when the tool wrote none).
    pub fn set_identifier(&self) -> [u8; 16] {
        self.volume.guid
    }

    /// The MD5 of the media stored in the image (`digest` or `hash` section), if any.
    pub fn stored_md5(&self) -> Option<[u8; 16]> {
        self.md5
    }

    /// The SHA-1 of the media stored in the image (`digest` section), if any.
    pub fn stored_sha1(&self) -> Option<[u8; 20]> {
        self.sha1
    }

    /// The sector ranges the acquiring tool could not read (`error2`), empty if none.
    pub fn acquisition_errors(&self) -> &[AcquisitionErrorRange] {
        &self.errors
    }

    /// The case metadata stored in the header sections.
    pub fn metadata(&self) -> &E01Metadata {
        &self.metadata
    }

    /// The segment files, in order, with their sizes.
    pub fn segments(&self) -> &[SegmentFile] {
        &self.segments
    }

    /// Loads chunk `index` into `self.page`, checked.
    fn load(&mut self, index: u64) -> Result<(), E01Error> {
        if self.cached == Some(index) {
            return Ok(());
        }
        self.cached = None;
        let chunk = self.chunks[index as usize];
        let path = &self.segments[chunk.segment].path;
        let expected = (self.media_size - index * self.chunk_size).min(self.chunk_size) as usize;
        let corrupt = |detail: String| E01Error::CorruptChunk {
            path: path.clone(),
            chunk: index,
            offset: chunk.offset,
            detail,
        };
        // A chunk's stored bytes run to the next entry or the end of its sectors section;
        // a forged section must not make us read gigabytes for one chunk. Anything past a
        // chunk and a half cannot belong to it (the checksum is then looked for right
        // after the media's bytes).
        let cap = self.chunk_size + self.chunk_size / 2 + 4096;
        let chunk = Chunk { stored: chunk.stored.min(cap), ..chunk };
        self.raw.resize(chunk.stored as usize, 0);
        self.files[chunk.segment].read_exact_at(&mut self.raw, chunk.offset).map_err(|source| {
            if source.kind() == io::ErrorKind::UnexpectedEof {
                E01Error::Truncated {
                    path: path.clone(),
                    what: format!("chunk {index}"),
                    offset: chunk.offset,
                    needed: chunk.stored,
                    file_size: self.files[chunk.segment].metadata().map_or(0, |m| m.len()),
                }
            } else {
                E01Error::Io { path: path.clone(), action: "read", source }
            }
        })?;
        if chunk.compressed {
            let mut inflate = Decompress::new(true);
            self.page.clear();
            // One byte more than a chunk: a stream that fills it is too long.
            self.page.reserve_exact(self.chunk_size as usize + 1);
            let status = inflate
                .decompress_vec(&self.raw, &mut self.page, FlushDecompress::Finish)
                .map_err(|e| corrupt(format!("bad zlib data: {e}")))?;
            if status != Status::StreamEnd {
                return Err(corrupt(format!(
                    "the zlib stream does not end within {} stored bytes and {} output bytes",
                    chunk.stored, self.chunk_size
                )));
            }
            // Some tools keep a trailing partial sector's bytes in the last chunk; only the
            // whole sectors are media.
            let last = index + 1 == self.chunks.len() as u64;
            if self.page.len() != expected
                && !(last && self.page.len() > expected && self.page.len() as u64 <= self.chunk_size)
            {
                return Err(corrupt(format!("it inflates to {} bytes, not {expected}", self.page.len())));
            }
            self.page.truncate(expected);
        } else {
            let raw = &self.raw;
            if raw.len() < expected + 4 {
                return Err(corrupt(format!(
                    "{} stored bytes cannot hold {expected} bytes and a checksum",
                    raw.len()
                )));
            }
            // The checksum follows the stored data; a writer may store more than the media's
            // whole sectors in the last chunk (the checksum then ends the stored bytes).
            let ok = format::adler_ok(raw) || format::adler_ok(&raw[..expected + 4]);
            if !ok {
                return Err(E01Error::Checksum {
                    path: path.clone(),
                    what: format!("uncompressed chunk {index}"),
                    offset: chunk.offset,
                    stored: le_u32(raw, raw.len() - 4),
                    computed: format::adler32(&raw[..raw.len() - 4]),
                });
            }
            self.page.clear();
            self.page.extend_from_slice(&raw[..expected]);
        }
        self.cached = Some(index);
        Ok(())
    }
}

impl Read for E01Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.position >= self.media_size {
            return Ok(0);
        }
        let index = self.position / self.chunk_size;
        self.load(index).map_err(E01Error::into_io)?;
        let within = (self.position - index * self.chunk_size) as usize;
        let n = (self.page.len() - within).min(buf.len());
        buf[..n].copy_from_slice(&self.page[within..within + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for E01Reader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.media_size.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the media")
        })?;
        self.position = target;
        Ok(target)
    }
}

/// Case metadata and the media size from the `ewf` crate, run only on a set whose structure
/// was checked. Third-party parsing of evidence: a panic in it becomes an error, not a crash.
pub(crate) fn backend_metadata(paths: &[PathBuf]) -> Result<(E01Metadata, u64), String> {
    let opened = std::panic::catch_unwind(|| ewf::EwfReader::open_segments(paths));
    let reader = match opened {
        Ok(Ok(reader)) => reader,
        Ok(Err(e)) => return Err(format!("the ewf parser refuses it: {e}")),
        Err(_) => return Err("the ewf parser failed on it".into()),
    };
    let m = reader.metadata();
    let metadata = E01Metadata {
        case_number: m.case_number.clone(),
        evidence_number: m.evidence_number.clone(),
        description: m.description.clone(),
        examiner: m.examiner.clone(),
        notes: m.notes.clone(),
        acquiry_date: m.acquiry_date.clone(),
        system_date: m.system_date.clone(),
        acquiry_software: m.acquiry_software.clone(),
        operating_system: m.os_version.clone(),
    };
    Ok((metadata, reader.total_size()))
}

/// Opens a segment file to read without waiting (a FIFO named like a segment would block
/// forever) and refuses anything but a regular file.
fn open_segment(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device or folder)",
        ));
    }
    Ok(file)
}

/// Walks the sections of one segment file, checking each, and returns the type of the last
/// one (`next` or `done`).
fn walk_segment(
    file: &File,
    path: &Path,
    size: u64,
    number: u32,
    index: usize,
    walk: &mut Walk,
) -> Result<String, E01Error> {
    let read = |offset: u64, len: u64, what: &str| -> Result<Vec<u8>, E01Error> {
        let truncated = || E01Error::Truncated {
            path: path.to_owned(),
            what: what.to_owned(),
            offset,
            needed: len,
            file_size: size,
        };
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(truncated());
        }
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, offset).map_err(|source| match source.kind() {
            io::ErrorKind::UnexpectedEof => truncated(),
            _ => E01Error::Io { path: path.to_owned(), action: "read", source },
        })?;
        Ok(buf)
    };
    if size == 0 {
        return Err(E01Error::Empty { path: path.to_owned() });
    }
    let head = read(0, (FILE_HEADER_SIZE as u64).min(size), "file header")?;
    if head.len() >= 8 && head[..8] == EVF2_SIGNATURE {
        return Err(E01Error::Unsupported { path: path.to_owned(), what: "EWF2 (Ex01)".into() });
    }
    if head.len() >= 8 && head[..8] == LVF_SIGNATURE {
        return Err(E01Error::Unsupported {
            path: path.to_owned(),
            what: "a logical evidence file (L01)".into(),
        });
    }
    if head.len() < FILE_HEADER_SIZE || head[..8] != EVF_SIGNATURE {
        if EVF_SIGNATURE.starts_with(&head[..head.len().min(8)]) {
            return Err(E01Error::Truncated {
                path: path.to_owned(),
                what: "file header".into(),
                offset: 0,
                needed: FILE_HEADER_SIZE as u64,
                file_size: size,
            });
        }
        let found = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(E01Error::BadSignature { path: path.to_owned(), found });
    }
    let found = u32::from(u16::from_le_bytes([head[9], head[10]]));
    if found != number {
        return Err(E01Error::SegmentNumber { path: path.to_owned(), expected: number, found });
    }
    let malformed =
        |offset: u64, detail: String| E01Error::Malformed { path: path.to_owned(), offset, detail };
    // The hash and digest sections both hold the media's MD5: two that differ are a
    // container that contradicts itself (libewf believes one, we would believe the other).
    let store_md5 = |stored: &mut Option<[u8; 16]>, md5: [u8; 16], offset: u64| match stored {
        Some(earlier) if *earlier != md5 => {
            Err(malformed(offset, "the hash and digest sections store different MD5s of the media".into()))
        }
        _ => {
            *stored = Some(md5);
            Ok(())
        }
    };
    let checksum = |what: &str, offset: u64, data: &[u8]| -> Result<(), E01Error> {
        if format::adler_ok(data) {
            return Ok(());
        }
        Err(E01Error::Checksum {
            path: path.to_owned(),
            what: what.to_owned(),
            offset,
            stored: le_u32(data, data.len().saturating_sub(4)),
            computed: format::adler32(&data[..data.len().saturating_sub(4)]),
        })
    };
    let mut offset = FILE_HEADER_SIZE as u64;
    let mut sectors: Option<(u64, u64)> = None;
    let mut table: Option<Vec<u8>> = None;
    loop {
        let raw = read(offset, DESCRIPTOR_SIZE as u64, "section descriptor")?;
        let mut d = [0u8; DESCRIPTOR_SIZE];
        d.copy_from_slice(&raw);
        checksum("section descriptor", offset, &d)?;
        let desc =
            parse_descriptor(&d).ok_or_else(|| malformed(offset, "unreadable section descriptor".into()))?;
        let kind = desc.kind.as_str();
        if kind == "next" || kind == "done" {
            return Ok(desc.kind);
        }
        if desc.size < DESCRIPTOR_SIZE as u64 {
            return Err(malformed(offset, format!("the {kind} section claims {} bytes", desc.size)));
        }
        let body_len = desc.size - DESCRIPTOR_SIZE as u64;
        let body_at = offset + DESCRIPTOR_SIZE as u64;
        if offset.checked_add(desc.size).is_none_or(|end| end > size) {
            return Err(E01Error::Truncated {
                path: path.to_owned(),
                what: format!("{kind} section"),
                offset,
                needed: desc.size,
                file_size: size,
            });
        }
        // A second volume, error2, hash or digest section would make two readers tell two
        // stories (libewf merges error2 ranges, keeps one of two hashes): refused.
        if let Some(name) = once_only(kind) {
            if let Some((_, first_path, first_at)) = walk.seen.iter().find(|(seen, ..)| *seen == name) {
                return Err(malformed(
                    offset,
                    format!(
                        "a second {name} section (the first is in {} at offset {first_at}); a set has one",
                        first_path.display()
                    ),
                ));
            }
            walk.seen.push((name, path.to_owned(), offset));
        }
        // Bodies read into memory are small structures; chunks stay on disk.
        let small = |limit: u64| -> Result<Vec<u8>, E01Error> {
            if body_len > limit {
                return Err(malformed(
                    offset,
                    format!("the {kind} section is {body_len} bytes, more than {limit}"),
                ));
            }
            read(body_at, body_len, kind)
        };
        match kind {
            "volume" | "disk" | "data" => {
                if body_len < VOLUME_SIZE as u64 {
                    return Err(E01Error::Unsupported {
                        path: path.to_owned(),
                        what: format!("a {body_len}-byte volume section (EWF-S01/SMART or EnCase 1)"),
                    });
                }
                let body = read(body_at, VOLUME_SIZE as u64, kind)?;
                checksum(&format!("{kind} section"), body_at, &body)?;
                let volume =
                    Volume::decode(&body).ok_or_else(|| malformed(body_at, "unreadable volume".into()))?;
                match walk.volume {
                    None => walk.volume = Some(volume),
                    Some(v) => {
                        let geometry = |v: &Volume| {
                            (v.chunk_count, v.sectors_per_chunk, v.bytes_per_sector, v.sector_count)
                        };
                        if geometry(&v) != geometry(&volume) {
                            return Err(malformed(
                                offset,
                                format!("the {kind} section disagrees with the volume section"),
                            ));
                        }
                    }
                }
            }
            "sectors" => {
                sectors = Some((body_at, offset + desc.size));
                table = None;
            }
            "table" | "table2" => {
                let body = small(64 << 20)?;
                let (start, end) = sectors.ok_or_else(|| E01Error::Unsupported {
                    path: path.to_owned(),
                    what: "a table without a sectors section (EnCase 1 layout)".into(),
                })?;
                if body.len() < TABLE_HEADER_SIZE {
                    return Err(malformed(offset, format!("the {kind} section has no room for its header")));
                }
                checksum(&format!("{kind} header"), body_at, &body[..TABLE_HEADER_SIZE])?;
                let count = le_u32(&body, 0) as usize;
                let entries_end = TABLE_HEADER_SIZE + count * 4;
                if body.len() < entries_end {
                    return Err(malformed(offset, format!("the {kind} section cannot hold {count} entries")));
                }
                if body.len() >= entries_end + 4 {
                    checksum(
                        &format!("{kind} entries"),
                        body_at + TABLE_HEADER_SIZE as u64,
                        &body[TABLE_HEADER_SIZE..entries_end + 4],
                    )?;
                }
                if kind == "table2" {
                    // A mirror of the table: any difference is damage to one of them.
                    if table.as_deref().is_some_and(|t| t != &body[..]) {
                        return Err(malformed(offset, "table2 differs from the table it mirrors".into()));
                    }
                    if table.is_some() {
                        continue_at(&mut offset, &desc, size, path)?;
                        continue;
                    }
                }
                let base = le_u64(&body, 8);
                let mut previous: Option<Chunk> = None;
                for i in 0..count {
                    let entry = le_u32(&body, TABLE_HEADER_SIZE + i * 4);
                    let at = base.checked_add(u64::from(entry & !COMPRESSED_BIT));
                    let at = at.filter(|&a| a >= start && a < end).ok_or_else(|| {
                        malformed(offset, format!("{kind} entry {i} points outside its sectors section"))
                    })?;
                    // Each chunk is stored once: an entry pointing into bytes an earlier
                    // table already gave a chunk (a second table for one sectors section,
                    // overlapping sectors sections) would serve the same bytes again and
                    // again, so a small file could claim any media size. Within a table the
                    // entries go forwards and each chunk ends where the next begins.
                    if previous.is_none() {
                        if let Some(last) = walk.chunks.last().filter(|c| c.segment == index) {
                            if at < last.offset + last.stored {
                                return Err(malformed(
                                    offset,
                                    format!(
                                        "{kind} entry {i} points at bytes {}..{} that chunk {} already holds; every chunk must be stored once",
                                        at,
                                        last.offset + last.stored,
                                        walk.chunks.len() - 1
                                    ),
                                ));
                            }
                        }
                    }
                    if let Some(mut p) = previous.take() {
                        if at <= p.offset {
                            return Err(malformed(offset, format!("{kind} entry {i} goes backwards")));
                        }
                        p.stored = at - p.offset;
                        walk.push(p, path, offset)?;
                    }
                    previous = Some(Chunk {
                        segment: index,
                        offset: at,
                        stored: 0,
                        compressed: entry & COMPRESSED_BIT != 0,
                    });
                }
                if let Some(mut p) = previous {
                    p.stored = end - p.offset;
                    walk.push(p, path, offset)?;
                }
                table = Some(body);
            }
            "error2" => {
                let body = small(64 << 20)?;
                if body.len() < ERROR2_HEADER_SIZE {
                    return Err(malformed(offset, "the error2 section has no room for its header".into()));
                }
                checksum("error2 header", body_at, &body[..ERROR2_HEADER_SIZE])?;
                let count = le_u32(&body, 0) as usize;
                let end = ERROR2_HEADER_SIZE + count * 8;
                if body.len() < end + 4 {
                    return Err(malformed(offset, format!("the error2 section cannot hold {count} entries")));
                }
                checksum(
                    "error2 entries",
                    body_at + ERROR2_HEADER_SIZE as u64,
                    &body[ERROR2_HEADER_SIZE..end + 4],
                )?;
                walk.errors = (0..count)
                    .map(|i| AcquisitionErrorRange {
                        first_sector: u64::from(le_u32(&body, ERROR2_HEADER_SIZE + i * 8)),
                        sector_count: u64::from(le_u32(&body, ERROR2_HEADER_SIZE + i * 8 + 4)),
                    })
                    .collect();
            }
            "hash" => {
                let body = small(4096)?;
                if body.len() < format::HASH_SIZE {
                    return Err(malformed(offset, "the hash section is too small".into()));
                }
                checksum("hash section", body_at, &body[..format::HASH_SIZE])?;
                let mut md5 = [0u8; 16];
                md5.copy_from_slice(&body[..16]);
                if md5 != [0; 16] {
                    store_md5(&mut walk.md5, md5, offset)?;
                }
            }
            "digest" => {
                let body = small(4096)?;
                if body.len() < format::DIGEST_SIZE {
                    return Err(malformed(offset, "the digest section is too small".into()));
                }
                checksum("digest section", body_at, &body[..format::DIGEST_SIZE])?;
                let mut md5 = [0u8; 16];
                md5.copy_from_slice(&body[..16]);
                let mut sha1 = [0u8; 20];
                sha1.copy_from_slice(&body[16..36]);
                if md5 != [0; 16] {
                    store_md5(&mut walk.md5, md5, offset)?;
                }
                if sha1 != [0; 20] {
                    walk.sha1 = Some(sha1);
                }
            }
            "header" | "header2" | "xheader" => {
                // The descriptor's checksum does not cover the body; zlib's own Adler-32 does.
                // Case metadata that fails it is damage, not "no metadata".
                let body = small(16 << 20)?;
                let text = inflate_all(&body, 64 << 20).map_err(|detail| {
                    malformed(offset, format!("the {kind} section does not decompress: {detail}"))
                })?;
                // Copies are normal (EnCase writes two); libewf shows the first, the
                // metadata parser may take another: copies that differ are damage.
                match walk.headers.iter().find(|(seen, _)| seen == kind) {
                    Some((_, first)) if *first != text => {
                        return Err(malformed(
                            offset,
                            format!("this {kind} section differs from the first {kind} section; copies must be identical"),
                        ));
                    }
                    Some(_) => {}
                    None => walk.headers.push((kind.to_owned(), text)),
                }
            }
            "ltypes" | "ltree" => {
                return Err(E01Error::Unsupported {
                    path: path.to_owned(),
                    what: "a logical evidence file (L01)".into(),
                });
            }
            // header, header2, session, xheader, xhash and sections we do not know carry no
            // media; their checksummed descriptors were checked above.
            _ => {}
        }
        continue_at(&mut offset, &desc, size, path)?;
    }
}

/// Inflates a whole zlib stream (checking its Adler-32) of at most `limit` bytes; the
/// inflated bytes, or why it failed.
fn inflate_all(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut inflate = Decompress::new(true);
    let mut out = Vec::with_capacity((data.len() * 4).clamp(4096, limit));
    loop {
        let consumed = inflate.total_in() as usize;
        let produced = out.len();
        let status = inflate
            // `None`, not `Finish`: miniz_oxide fails a `Finish` call that is resumed after
            // the output buffer filled up.
            .decompress_vec(&data[consumed..], &mut out, FlushDecompress::None)
            .map_err(|e| format!("bad zlib data: {e}"))?;
        if status == Status::StreamEnd {
            return Ok(out);
        }
        if out.len() == out.capacity() {
            if out.len() >= limit {
                return Err(format!("it inflates to more than {limit} bytes"));
            }
            out.reserve(out.len().min(limit - out.len()).max(4096));
        } else if inflate.total_in() as usize == consumed && out.len() == produced {
            return Err("the zlib stream is cut short".into());
        }
    }
}

/// Moves to the next section, which must lie after this one and within the file (so the walk
/// always ends).
fn continue_at(offset: &mut u64, desc: &format::Descriptor, size: u64, path: &Path) -> Result<(), E01Error> {
    if desc.next <= *offset {
        return Err(E01Error::Malformed {
            path: path.to_owned(),
            offset: *offset,
            detail: format!("the {} section's next offset {} does not move forward", desc.kind, desc.next),
        });
    }
    if desc.next.saturating_add(DESCRIPTOR_SIZE as u64) > size {
        return Err(E01Error::Truncated {
            path: path.to_owned(),
            what: format!("section after {}", desc.kind),
            offset: desc.next,
            needed: DESCRIPTOR_SIZE as u64,
            file_size: size,
        });
    }
    *offset = desc.next;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::e01::format::{descriptor, file_header};

    /// A one-segment file: the file header, then the given descriptors back to back.
    fn segment(dir: &Path, descriptors: &[[u8; DESCRIPTOR_SIZE]]) -> PathBuf {
        let path = dir.join("crafted.E01");
        let mut bytes = file_header(1).to_vec();
        for d in descriptors {
            bytes.extend_from_slice(d);
        }
        fs::write(&path, bytes).expect("write");
        path
    }

    #[test]
    fn a_section_pointing_at_itself_ends_the_walk_with_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = FILE_HEADER_SIZE as u64;
        let path = segment(dir.path(), &[descriptor("session", at, 76), descriptor("done", at + 76, 0)]);
        let error = E01Reader::open(&path).expect_err("a loop");
        assert!(matches!(error, E01Error::Malformed { .. }), "{error:?}");
    }

    #[test]
    fn a_section_pointing_backwards_is_malformed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = FILE_HEADER_SIZE as u64;
        let path = segment(dir.path(), &[descriptor("session", at + 76, 76), descriptor("session", at, 76)]);
        let error = E01Reader::open(&path).expect_err("backwards");
        assert!(matches!(error, E01Error::Malformed { .. }), "{error:?}");
    }

    #[test]
    fn a_section_larger_than_its_file_is_truncated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = FILE_HEADER_SIZE as u64;
        let path = segment(dir.path(), &[descriptor("sectors", at + u64::MAX / 2, u64::MAX / 2)]);
        let error = E01Reader::open(&path).expect_err("huge");
        assert!(matches!(error, E01Error::Truncated { .. }), "{error:?}");
    }

    #[test]
    fn a_set_without_a_volume_is_malformed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = FILE_HEADER_SIZE as u64;
        let path = segment(dir.path(), &[descriptor("done", at, 0)]);
        let error = E01Reader::open(&path).expect_err("no volume");
        assert!(matches!(error, E01Error::Malformed { .. }), "{error:?}");
    }

    #[test]
    fn a_volume_claiming_huge_chunks_is_refused_before_allocating() {
        let dir = tempfile::tempdir().expect("tempdir");
        let volume = Volume {
            media_type: 1,
            chunk_count: 1,
            sectors_per_chunk: u32::MAX,
            bytes_per_sector: 4096,
            sector_count: 1,
            media_flags: 1,
            compression_level: 0,
            error_granularity: 64,
            guid: [0; 16],
        };
        let at = FILE_HEADER_SIZE as u64;
        let size = (DESCRIPTOR_SIZE + VOLUME_SIZE) as u64;
        let mut bytes = file_header(1).to_vec();
        bytes.extend_from_slice(&descriptor("volume", at + size, size));
        bytes.extend_from_slice(&volume.encode());
        bytes.extend_from_slice(&descriptor("done", at + size, 0));
        let path = dir.path().join("huge.E01");
        fs::write(&path, bytes).expect("write");
        let error = E01Reader::open(&path).expect_err("huge chunks");
        assert!(matches!(error, E01Error::Unsupported { .. }), "{error:?}");
    }

    #[test]
    fn inflate_all_tells_cut_and_overlong_streams() {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut encoder, &[7u8; 100_000]).expect("compress");
        let stream = encoder.finish().expect("finish");
        let got = inflate_all(&stream, 1 << 20);
        assert_eq!(got.map(|out| out.len()), Ok(100_000));
        assert!(inflate_all(&stream[..stream.len() - 2], 1 << 20).is_err());
        assert!(inflate_all(&stream, 50_000).is_err());
        let mut flipped = stream.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1; // the zlib Adler-32
        assert!(inflate_all(&flipped, 1 << 20).is_err());
    }
}
