//! The E01 writer: a [`std::io::Write`] sink that stores media as EnCase 6 compatible
//! EWF-E01 segment files, chunk by chunk, as `ewfacquire -f encase6` lays them out
//! (`docs/formats/e01.md` lists every section and field written).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::{Compress, FlushCompress, Status};

use super::error::E01Error;
use super::format::{
    self, descriptor, file_header, segment_path, Volume, COMPRESSED_BIT, DESCRIPTOR_SIZE, MAX_SEGMENTS,
    MAX_TABLE_ENTRIES, SECTORS_PER_CHUNK, TABLE_HEADER_SIZE, VOLUME_SIZE,
};
use crate::map::ReadErrorMap;

/// The default segment size: 1400 MiB, ewfacquire's default ("1.4 GiB"), small enough for
/// FAT32 and for the 31-bit chunk offsets of EnCase 6 tables.
pub const DEFAULT_SEGMENT_SIZE: u64 = 1400 * 1024 * 1024;

/// The smallest segment size accepted. Every segment holds at least one chunk, so a segment
/// can exceed a limit smaller than one stored chunk plus its sections (≈ 35 KiB for
/// incompressible data at 512-byte sectors).
pub const MIN_SEGMENT_SIZE: u64 = 4096;

/// How chunks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Every chunk stored as it is, followed by its Adler-32 (volume compression level 0).
    #[default]
    None,
    /// Deflate level 1 in zlib framing (EnCase's "fast", level 1 in the volume section).
    Fast,
    /// Deflate level 9 in zlib framing (EnCase's "best", level 2 in the volume section).
    Best,
}

impl Compression {
    fn volume_level(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Fast => 1,
            Compression::Best => 2,
        }
    }
}

/// The kind of media, as the volume section records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MediaType {
    /// A removable storage device (0x00).
    Removable,
    /// A fixed disk (0x01), what ewfacquire writes by default.
    #[default]
    Fixed,
    /// An optical disc (0x03).
    Optical,
    /// Physical memory (0x10).
    Memory,
}

impl MediaType {
    fn code(self) -> u8 {
        match self {
            MediaType::Removable => 0x00,
            MediaType::Fixed => 0x01,
            MediaType::Optical => 0x03,
            MediaType::Memory => 0x10,
        }
    }
}

/// The case metadata written into the `header2` and `header` sections. Tabs and line breaks
/// in values are replaced by spaces (the format separates values with them); the `header`
/// section is ASCII, so other characters appear there as `?` (`header2` keeps them, in
/// UTF-16).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseInfo {
    /// Case number (`c`).
    pub case_number: String,
    /// Evidence number (`n`).
    pub evidence_number: String,
    /// Description (`a`).
    pub description: String,
    /// Examiner name (`e`).
    pub examiner: String,
    /// Notes (`t`).
    pub notes: String,
    /// Media model (`md`, header2 only).
    pub model: String,
    /// Media serial number (`sn`, header2 only).
    pub serial_number: String,
    /// The acquiring software's version (`av`; EnCase shows at most 11 characters). The
    /// caller names it: the library cannot know the tool's version.
    pub software_version: String,
    /// The acquiring operating system (`ov`).
    pub operating_system: String,
}

/// How to write an E01 image.
#[derive(Debug, Clone)]
pub struct E01Options {
    /// The largest size of one segment file, in bytes (at least [`MIN_SEGMENT_SIZE`]). The
    /// last segment may exceed it by the error2 entries (8 bytes per range) when ranges are
    /// many, since they are known only at the end.
    pub segment_size: u64,
    /// Chunk compression.
    pub compression: Compression,
    /// Bytes per sector (512 unless the medium has larger logical sectors); chunks are 64
    /// sectors.
    pub sector_size: u32,
    /// The kind of media.
    pub media_type: MediaType,
    /// `true` for a physical device (media flag 0x02), `false` for a logical one.
    pub physical: bool,
    /// The case metadata.
    pub case: CaseInfo,
    /// The acquisition date recorded (`m`); the system date (`u`) is the time of `create`.
    pub acquired_at: SystemTime,
    /// Threads that compress chunks while the caller reads and hashes; 0 compresses in the
    /// writing thread. Ignored without compression. The output is the same either way.
    pub threads: usize,
}

impl Default for E01Options {
    fn default() -> Self {
        E01Options {
            segment_size: DEFAULT_SEGMENT_SIZE,
            compression: Compression::None,
            sector_size: 512,
            media_type: MediaType::Fixed,
            physical: true,
            case: CaseInfo::default(),
            acquired_at: SystemTime::now(),
            threads: 1,
        }
    }
}

/// A sectors section being filled: where its descriptor is, and its table entries.
#[derive(Debug)]
struct Group {
    sectors_offset: u64,
    entries: Vec<u32>,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    file: BufWriter<File>,
    pos: u64,
    chunks: u64,
    group: Option<Group>,
}

/// Writes media into EnCase 6 compatible E01 segment files (`base.E01`, `base.E02`, …).
///
/// Bytes written through [`Write`] are cut into chunks of 64 sectors, compressed as the
/// options say (a chunk that does not shrink is stored raw with its Adler-32), and
/// appended to the current segment; a new segment starts when the next chunk would pass
/// the segment size. [`E01Writer::finish`] writes the closing sections (error2, digest,
/// hash, done), fills in the final chunk and sector counts, and syncs every file.
///
/// The writer does not hash the media: the caller passes the MD5 and SHA-1 of its own
/// one-pass hashing (`custos_hash`) to `finish`, so the media is hashed once.
///
/// ```no_run
/// use std::io::Write;
/// use custos_image::e01::{E01Options, E01Writer, Compression};
///
/// let options = E01Options { compression: Compression::Fast, ..E01Options::default() };
/// let mut writer = E01Writer::create("/evidence/disk", options)?;
/// writer.write_all(&[0u8; 4096])?;
/// let segments = writer.finish(None, None)?; // /evidence/disk.E01
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct E01Writer<'a> {
    base: PathBuf,
    options: E01Options,
    chunk_size: usize,
    pending: Vec<u8>,
    encoded: Vec<u8>,
    compressor: Option<Compress>,
    pool: Option<Pool>,
    media_bytes: u64,
    chunk_count: u64,
    segment: Option<Segment>,
    written: Vec<PathBuf>,
    /// The closed segments' files, kept open to patch the counts and sync at the end.
    closed: Vec<File>,
    /// Makes each new segment file.
    create_file: CreateFile<'a>,
    /// Whether `finish` syncs the folder too (the caller's job when it made the files).
    sync_folder: bool,
    /// Where each volume/data body is (segment index, offset), patched with the final
    /// counts at the end: the size of a stream is known only then.
    volumes: Vec<(usize, u64)>,
    guid: [u8; 16],
    errors: Vec<(u64, u64)>,
    failed: bool,
}

/// Makes a new segment file at the path given (see [`E01Writer::create_with`]).
pub type CreateFile<'a> = Box<dyn FnMut(&Path) -> io::Result<File> + 'a>;

impl std::fmt::Debug for E01Writer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E01Writer")
            .field("base", &self.base)
            .field("media_bytes", &self.media_bytes)
            .field("segments", &self.written)
            .finish_non_exhaustive()
    }
}

/// Bytes every segment keeps free for the sections that close it: a `next` section, or in
/// the last segment a data section, an error2 header, digest, hash and done.
const TAIL_RESERVE: u64 = (DESCRIPTOR_SIZE + VOLUME_SIZE) as u64
    + (DESCRIPTOR_SIZE + format::ERROR2_HEADER_SIZE + 4) as u64
    + (DESCRIPTOR_SIZE + format::DIGEST_SIZE) as u64
    + (DESCRIPTOR_SIZE + format::HASH_SIZE) as u64
    + DESCRIPTOR_SIZE as u64;

/// Chunk offsets in a table are 31-bit, relative to the sectors section.
const MAX_GROUP_BYTES: u64 = 0x7fff_ffff;

impl<'a> E01Writer<'a> {
    /// Creates `base.E01` (never overwriting an existing file) and writes its header
    /// sections. `base` is the path without extension, as `ewfacquire -t` takes it.
    pub fn create(base: impl AsRef<Path>, options: E01Options) -> Result<E01Writer<'a>, E01Error> {
        // `create_new`: an existing segment is evidence too, and is never overwritten.
        let create = |path: &Path| OpenOptions::new().write(true).create_new(true).open(path);
        E01Writer::start(base.as_ref(), options, Box::new(create), true)
    }

    /// Like [`E01Writer::create`], but each segment file (`base.E01`, `base.E02`, …, as
    /// named) is made by `create_file`, which must make a new, empty, writable file that
    /// did not exist; a package makes them through its safe-open door this way. Syncing the
    /// folder that holds them is then the caller's job.
    pub fn create_with(
        base: impl AsRef<Path>,
        options: E01Options,
        create_file: CreateFile<'a>,
    ) -> Result<E01Writer<'a>, E01Error> {
        E01Writer::start(base.as_ref(), options, create_file, false)
    }

    fn start(
        base: &Path,
        options: E01Options,
        create_file: CreateFile<'a>,
        sync_folder: bool,
    ) -> Result<E01Writer<'a>, E01Error> {
        if options.sector_size == 0
            || !options.sector_size.is_multiple_of(512)
            || options.sector_size > 65_536
        {
            return Err(E01Error::InvalidOption(format!(
                "the sector size must be a multiple of 512 bytes up to 64 KiB, not {}",
                options.sector_size
            )));
        }
        if options.segment_size < MIN_SEGMENT_SIZE {
            return Err(E01Error::InvalidOption(format!(
                "the segment size must be at least {MIN_SEGMENT_SIZE} bytes, not {}",
                options.segment_size
            )));
        }
        let chunk_size = (options.sector_size * SECTORS_PER_CHUNK) as usize;
        let level = match options.compression {
            Compression::None => None,
            Compression::Fast => Some(flate2::Compression::fast()),
            Compression::Best => Some(flate2::Compression::best()),
        };
        let compressor = level.map(|level| Compress::new(level, true));
        // Stored chunks cost only an Adler-32: threads would not pay for themselves.
        let pool = match level {
            Some(level) if options.threads > 0 => Some(Pool::start(options.threads, level, base)?),
            _ => None,
        };
        let mut guid = [0u8; 16];
        getrandom::getrandom(&mut guid).map_err(|e| E01Error::Io {
            path: base.to_owned(),
            action: "get random bytes for the segment set GUID",
            source: io::Error::other(e.to_string()),
        })?;
        // A random (version 4, RFC 4122) GUID, as EnCase 5 and later write. Its first three
        // fields are stored little-endian (as libewf prints them), so the version nibble is
        // the high one of byte 7.
        guid[7] = (guid[7] & 0x0f) | 0x40;
        guid[8] = (guid[8] & 0x3f) | 0x80;
        let mut writer = E01Writer {
            base: base.to_owned(),
            options,
            chunk_size,
            pending: Vec::with_capacity(chunk_size),
            encoded: Vec::with_capacity(chunk_size + 64),
            compressor,
            pool,
            media_bytes: 0,
            chunk_count: 0,
            segment: None,
            written: Vec::new(),
            closed: Vec::new(),
            create_file,
            sync_folder,
            volumes: Vec::new(),
            guid,
            errors: Vec::new(),
            failed: false,
        };
        writer.open_segment()?;
        Ok(writer)
    }

    /// Records sector ranges `(first sector, sector count)` that were filled with zeros
    /// because they could not be read; written to the error2 section at the end. Replaces
    /// any ranges set before. Ranges are sorted and merged; each must fit EWF's 32-bit
    /// sector numbers.
    pub fn set_acquisition_errors(&mut self, ranges: &[(u64, u64)]) -> Result<(), E01Error> {
        let mut sorted: Vec<(u64, u64)> = ranges.iter().copied().filter(|r| r.1 > 0).collect();
        sorted.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(sorted.len());
        for (start, count) in sorted {
            let end = start
                .checked_add(count)
                .ok_or_else(|| E01Error::InvalidOption(format!("error range at sector {start} overflows")))?;
            if end > u64::from(u32::MAX) {
                return Err(E01Error::InvalidOption(format!(
                    "error range {start}..{end} is beyond sector 2^32, which error2 cannot record"
                )));
            }
            match merged.last_mut() {
                Some(last) if last.0 + last.1 >= start => last.1 = last.1.max(end - last.0),
                _ => merged.push((start, count)),
            }
        }
        self.errors = merged;
        Ok(())
    }

    /// Records the filled ranges of an acquisition's [`ReadErrorMap`], converted to this
    /// image's sectors (a range covers every sector it touches).
    pub fn set_read_errors(&mut self, map: &ReadErrorMap) -> Result<(), E01Error> {
        let sector = u64::from(self.options.sector_size);
        let ranges: Vec<(u64, u64)> = map
            .ranges
            .iter()
            .filter(|r| r.byte_length > 0)
            .map(|r| {
                let first = r.byte_offset / sector;
                let end = r.byte_end().div_ceil(sector);
                (first, end - first)
            })
            .collect();
        self.set_acquisition_errors(&ranges)
    }

    /// Media bytes written so far.
    pub fn media_bytes(&self) -> u64 {
        self.media_bytes
    }

    /// Writes the last chunk and the closing sections (error2 when ranges were set, digest
    /// when `sha1` is given, hash when `md5` is given, done), fills in the chunk and sector
    /// counts, syncs every segment file and the directory, and returns the segment paths in
    /// order. `md5`/`sha1` are the digests of the media as the caller hashed it; `sha1`
    /// needs `md5` (the digest section holds both).
    pub fn finish(mut self, md5: Option<[u8; 16]>, sha1: Option<[u8; 20]>) -> Result<Vec<PathBuf>, E01Error> {
        if self.failed {
            return Err(E01Error::Poisoned);
        }
        let sector = u64::from(self.options.sector_size);
        if !self.media_bytes.is_multiple_of(sector) {
            return Err(E01Error::PartialSector {
                bytes: self.media_bytes,
                sector_size: self.options.sector_size,
            });
        }
        if sha1.is_some() && md5.is_none() {
            return Err(E01Error::InvalidOption("a SHA-1 is stored only together with the MD5".into()));
        }
        let sectors = self.media_bytes / sector;
        if let Some(&(start, count)) = self.errors.last() {
            if start + count > sectors {
                return Err(E01Error::InvalidOption(format!(
                    "error range {start}..{} is beyond the media's {sectors} sectors",
                    start + count
                )));
            }
        }
        if !self.pending.is_empty() {
            let chunk = std::mem::take(&mut self.pending);
            self.write_chunk(chunk)?;
        }
        self.drain(true)?;
        if let Some(pool) = self.pool.take() {
            pool.stop()?;
        }
        self.close_group()?;
        if self.written.len() == 1 {
            // A single segment carries a copy of the volume as a data section too.
            self.write_volume_section("data")?;
        }
        if !self.errors.is_empty() {
            let ranges: Vec<(u32, u32)> = self.errors.iter().map(|&(s, n)| (s as u32, n as u32)).collect();
            self.write_section("error2", &format::error2(&ranges))?;
        }
        if let (Some(md5), Some(sha1)) = (md5, sha1) {
            self.write_section("digest", &format::digest(&md5, &sha1))?;
        }
        if let Some(md5) = md5 {
            self.write_section("hash", &format::hash(&md5))?;
        }
        self.close_segment("done")?;
        let volume = self.volume(sectors)?.encode();
        for &(index, offset) in &self.volumes {
            let path = &self.written[index];
            self.closed[index].write_all_at(&volume, offset).map_err(io_error(path, "write"))?;
        }
        for (file, path) in self.closed.iter().zip(&self.written) {
            file.sync_all().map_err(io_error(path, "sync"))?;
        }
        if self.sync_folder {
            let dir = match self.base.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
                _ => PathBuf::from("."),
            };
            File::open(&dir).and_then(|d| d.sync_all()).map_err(io_error(&dir, "sync"))?;
        }
        Ok(std::mem::take(&mut self.written))
    }

    fn volume(&self, sectors: u64) -> Result<Volume, E01Error> {
        let chunk_count = u32::try_from(self.chunk_count).map_err(|_| {
            E01Error::InvalidOption(format!("{} chunks is more than EWF-E01 can count", self.chunk_count))
        })?;
        Ok(Volume {
            media_type: self.options.media_type.code(),
            chunk_count,
            sectors_per_chunk: SECTORS_PER_CHUNK,
            bytes_per_sector: self.options.sector_size,
            sector_count: sectors,
            media_flags: 0x01 | if self.options.physical { 0x02 } else { 0 },
            compression_level: self.options.compression.volume_level(),
            error_granularity: SECTORS_PER_CHUNK,
            guid: self.guid,
        })
    }

    fn segment(&mut self) -> Result<&mut Segment, E01Error> {
        self.segment.as_mut().ok_or(E01Error::Poisoned)
    }

    /// Appends one section (descriptor and body) at the end of the current segment.
    fn write_section(&mut self, kind: &str, body: &[u8]) -> Result<u64, E01Error> {
        let segment = self.segment()?;
        let offset = segment.pos;
        let size = (DESCRIPTOR_SIZE + body.len()) as u64;
        let path = segment.path.clone();
        segment.file.write_all(&descriptor(kind, offset + size, size)).map_err(io_error(&path, "write"))?;
        segment.file.write_all(body).map_err(io_error(&path, "write"))?;
        segment.pos += size;
        Ok(offset)
    }

    /// Writes a volume or data section (zero counts for now; patched in `finish`).
    fn write_volume_section(&mut self, kind: &str) -> Result<(), E01Error> {
        let body = self.volume(0)?.encode();
        let offset = self.write_section(kind, &body)?;
        self.volumes.push((self.written.len() - 1, offset + DESCRIPTOR_SIZE as u64));
        Ok(())
    }

    fn open_segment(&mut self) -> Result<(), E01Error> {
        let number = self.written.len() as u32 + 1;
        if number > MAX_SEGMENTS {
            return Err(E01Error::TooManySegments { max: MAX_SEGMENTS });
        }
        let path =
            segment_path(&self.base, number, false).ok_or(E01Error::TooManySegments { max: MAX_SEGMENTS })?;
        let file = (self.create_file)(&path).map_err(io_error(&path, "create"))?;
        let mut file = BufWriter::with_capacity(1 << 20, file);
        file.write_all(&file_header(number as u16)).map_err(io_error(&path, "write"))?;
        self.written.push(path.clone());
        self.segment =
            Some(Segment { path, file, pos: format::FILE_HEADER_SIZE as u64, chunks: 0, group: None });
        if number == 1 {
            let (header2, header) = self.header_sections();
            self.write_section("header2", &header2)?;
            self.write_section("header2", &header2)?;
            self.write_section("header", &header)?;
            self.write_volume_section("volume")?;
        } else {
            self.write_volume_section("data")?;
        }
        Ok(())
    }

    /// Writes the table and table2 of the open sectors section and fixes its descriptor.
    fn close_group(&mut self) -> Result<(), E01Error> {
        let segment = self.segment()?;
        let Some(group) = segment.group.take() else { return Ok(()) };
        let path = segment.path.clone();
        let table_offset = segment.pos;
        let size = table_offset - group.sectors_offset;
        segment.file.flush().map_err(io_error(&path, "write"))?;
        segment
            .file
            .get_ref()
            .write_all_at(&descriptor("sectors", table_offset, size), group.sectors_offset)
            .map_err(io_error(&path, "write"))?;
        let body = format::table(group.sectors_offset, &group.entries);
        self.write_section("table", &body)?;
        self.write_section("table2", &body)?;
        Ok(())
    }

    /// Ends the current segment with `next` or `done` (whose descriptors point at themselves
    /// and have size 0, as EnCase writes them).
    fn close_segment(&mut self, kind: &str) -> Result<(), E01Error> {
        self.close_group()?;
        let Some(mut segment) = self.segment.take() else { return Err(E01Error::Poisoned) };
        let path = segment.path.clone();
        segment.file.write_all(&descriptor(kind, segment.pos, 0)).map_err(io_error(&path, "write"))?;
        let file = segment.file.into_inner().map_err(|e| io_error(&path, "write")(e.into_error()))?;
        self.closed.push(file);
        Ok(())
    }

    /// Encodes a full (or the last) chunk, here or on the compression threads, and stores
    /// the chunks that are ready, in order.
    fn write_chunk(&mut self, chunk: Vec<u8>) -> Result<(), E01Error> {
        let Some(pool) = self.pool.as_mut() else {
            let mut encoded = std::mem::take(&mut self.encoded);
            let compressed = encode(self.compressor.as_mut(), &chunk, &mut encoded);
            let result = self.store_chunk(&encoded, compressed);
            self.encoded = encoded;
            self.pending = chunk;
            self.pending.clear();
            return result;
        };
        pool.submit(chunk)?;
        // The chunk went to a thread; the next one needs its own buffer.
        self.pending = Vec::with_capacity(self.chunk_size);
        self.drain(false)
    }

    /// Stores encoded chunks in order: those ready, and with `all`, every one submitted
    /// (else only until few enough are in flight).
    fn drain(&mut self, all: bool) -> Result<(), E01Error> {
        loop {
            let Some(pool) = self.pool.as_mut() else { return Ok(()) };
            if let Some(encoded) = pool.ready.remove(&pool.stored) {
                pool.stored += 1;
                self.store_chunk(&encoded.bytes, encoded.compressed)?;
                continue;
            }
            let in_flight = pool.submitted - pool.stored;
            if in_flight == 0 || (!all && in_flight < pool.max_in_flight) {
                return Ok(());
            }
            let encoded = pool.done.recv().map_err(|_| E01Error::CompressionThread)?;
            pool.ready.insert(encoded.index, encoded);
        }
    }

    /// Appends one encoded chunk to the current segment, starting a new group or segment
    /// first when it would not fit.
    fn store_chunk(&mut self, encoded: &[u8], compressed: bool) -> Result<(), E01Error> {
        let stored = encoded.len() as u64;
        let segment_size = self.options.segment_size;
        let segment = self.segment()?;
        let entries = segment.group.as_ref().map_or(0, |g| g.entries.len()) as u64;
        let tables = 2 * (DESCRIPTOR_SIZE + TABLE_HEADER_SIZE + 4) as u64 + 2 * 4 * (entries + 1);
        let opening = if segment.group.is_some() { 0 } else { DESCRIPTOR_SIZE as u64 };
        if segment.chunks > 0 && segment.pos + opening + stored + tables + TAIL_RESERVE > segment_size {
            self.close_segment("next")?;
            self.open_segment()?;
        }
        let segment = self.segment()?;
        let full = segment.group.as_ref().is_some_and(|g| {
            g.entries.len() >= MAX_TABLE_ENTRIES || segment.pos + stored - g.sectors_offset > MAX_GROUP_BYTES
        });
        if full {
            self.close_group()?;
        }
        let Some(segment) = self.segment.as_mut() else { return Err(E01Error::Poisoned) };
        let path = segment.path.clone();
        if segment.group.is_none() {
            // The sectors descriptor gets its size and next offset when the group closes.
            segment.file.write_all(&descriptor("sectors", 0, 0)).map_err(io_error(&path, "write"))?;
            segment.group = Some(Group { sectors_offset: segment.pos, entries: Vec::new() });
            segment.pos += DESCRIPTOR_SIZE as u64;
        }
        let Some(group) = segment.group.as_mut() else { return Err(E01Error::Poisoned) };
        let relative = (segment.pos - group.sectors_offset) as u32;
        group.entries.push(if compressed { relative | COMPRESSED_BIT } else { relative });
        segment.file.write_all(encoded).map_err(io_error(&path, "write"))?;
        segment.pos += stored;
        segment.chunks += 1;
        self.chunk_count += 1;
        Ok(())
    }

    /// Builds the header2 (UTF-16LE) and header (ASCII) bodies, zlib-compressed.
    fn header_sections(&self) -> (Vec<u8>, Vec<u8>) {
        let case = &self.options.case;
        let clean = |s: &str| s.replace(['\t', '\r', '\n'], " ");
        let acquired = self.options.acquired_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let system = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let main2 = [
            clean(&case.description),
            clean(&case.case_number),
            clean(&case.evidence_number),
            clean(&case.examiner),
            clean(&case.notes),
            clean(&case.model),
            clean(&case.serial_number),
            clean(&case.software_version),
            clean(&case.operating_system),
            acquired.to_string(),
            system.to_string(),
            "0".into(),
            String::new(),
        ]
        .join("\t");
        // EnCase 6 writes three categories (main, srce, sub); the two empty ones keep the
        // shape EnCase expects.
        let text2 = format!(
            "3\nmain\na\tc\tn\te\tt\tmd\tsn\tav\tov\tm\tu\tp\tdc\n{main2}\n\n\
             srce\n0\t1\np\tn\tid\tev\ttb\tlo\tpo\tah\tgu\taq\n0\t0\n\t\t\t\t\t-1\t-1\t\t\t\n\n\
             sub\n0\t1\np\tn\tid\tnu\tco\tgu\n0\t0\n\t\t\t\t1\t\n\n"
        );
        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend(text2.encode_utf16().flat_map(u16::to_le_bytes));
        let ascii =
            |s: &str| clean(s).chars().map(|c| if c.is_ascii() { c } else { '?' }).collect::<String>();
        let main = [
            ascii(&case.case_number),
            ascii(&case.evidence_number),
            ascii(&case.description),
            ascii(&case.examiner),
            ascii(&case.notes),
            ascii(&case.software_version),
            ascii(&case.operating_system),
            header_date(acquired),
            header_date(system),
            "0".into(),
        ]
        .join("\t");
        let text = format!("1\r\nmain\r\nc\tn\ta\te\tt\tav\tov\tm\tu\tp\r\n{main}\r\n\r\n");
        (zlib(&utf16), zlib(text.as_bytes()))
    }
}

/// Encodes one chunk into `out`: a zlib stream when `compressor` is given and the stream is
/// smaller than the chunk, else the chunk and its Adler-32. `true` when compressed.
fn encode(compressor: Option<&mut Compress>, chunk: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    if let Some(compressor) = compressor {
        compressor.reset();
        // Room for exactly the raw size: a stream that does not end within it did not shrink
        // the chunk, which is then stored raw (as EWF requires).
        out.reserve(chunk.len());
        let done =
            matches!(compressor.compress_vec(chunk, out, FlushCompress::Finish), Ok(Status::StreamEnd));
        if done && out.len() < chunk.len() {
            return true;
        }
        out.clear();
    }
    out.extend_from_slice(chunk);
    out.extend_from_slice(&format::adler32(chunk).to_le_bytes());
    false
}

/// A chunk encoded by a compression thread.
#[derive(Debug)]
struct Encoded {
    index: u64,
    bytes: Vec<u8>,
    compressed: bool,
}

/// Compression threads: chunks go out numbered, come back in any order, and are stored in
/// order; at most `max_in_flight` are out at once, which bounds memory.
#[derive(Debug)]
struct Pool {
    jobs: Option<mpsc::SyncSender<(u64, Vec<u8>)>>,
    done: mpsc::Receiver<Encoded>,
    workers: Vec<thread::JoinHandle<()>>,
    ready: BTreeMap<u64, Encoded>,
    submitted: u64,
    stored: u64,
    max_in_flight: u64,
}

impl Pool {
    fn start(threads: usize, level: flate2::Compression, base: &Path) -> Result<Pool, E01Error> {
        let max_in_flight = 4 * threads as u64;
        let (jobs, queue) = mpsc::sync_channel::<(u64, Vec<u8>)>(2 * threads);
        let (results, done) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        let mut workers = Vec::with_capacity(threads);
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            let results = results.clone();
            let worker = thread::Builder::new().name(format!("e01-deflate-{n}")).spawn(move || {
                let mut compressor = Compress::new(level, true);
                loop {
                    // The lock is held only to take one job; a poisoned lock still hands out jobs.
                    let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok((index, chunk)) = job else { return };
                    let mut bytes = Vec::with_capacity(chunk.len() + 4);
                    let compressed = encode(Some(&mut compressor), &chunk, &mut bytes);
                    if results.send(Encoded { index, bytes, compressed }).is_err() {
                        return;
                    }
                }
            });
            workers.push(worker.map_err(|source| E01Error::Io {
                path: base.to_owned(),
                action: "start a compression thread",
                source,
            })?);
        }
        Ok(Pool {
            jobs: Some(jobs),
            done,
            workers,
            ready: BTreeMap::new(),
            submitted: 0,
            stored: 0,
            max_in_flight,
        })
    }

    fn submit(&mut self, chunk: Vec<u8>) -> Result<(), E01Error> {
        let jobs = self.jobs.as_ref().ok_or(E01Error::CompressionThread)?;
        jobs.send((self.submitted, chunk)).map_err(|_| E01Error::CompressionThread)?;
        self.submitted += 1;
        Ok(())
    }

    /// Ends the threads once every chunk is stored.
    fn stop(mut self) -> Result<(), E01Error> {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            worker.join().map_err(|_| E01Error::CompressionThread)?;
        }
        Ok(())
    }
}

/// The header section's date form, `2026 12 1 9 9 16` (UTC here: the format has no zone).
fn header_date(seconds: u64) -> String {
    let (year, month, day) = crate::time::civil_from_days((seconds / 86_400) as i64);
    let in_day = seconds % 86_400;
    format!("{year} {month} {day} {} {} {}", in_day / 3600, in_day / 60 % 60, in_day % 60)
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

fn io_error<'p>(path: &'p Path, action: &'static str) -> impl FnOnce(io::Error) -> E01Error + 'p {
    move |source| E01Error::Io { path: path.to_owned(), action, source }
}

impl Write for E01Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(E01Error::Poisoned.into_io());
        }
        let mut rest = buf;
        while !rest.is_empty() {
            let take = (self.chunk_size - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            self.media_bytes += take as u64;
            if self.pending.len() == self.chunk_size {
                let chunk = std::mem::take(&mut self.pending);
                if let Err(error) = self.write_chunk(chunk) {
                    self.failed = true;
                    return Err(error.into_io());
                }
            }
        }
        Ok(buf.len())
    }

    /// Flushes buffered bytes of the current segment to the file; the image is complete only
    /// after [`E01Writer::finish`].
    fn flush(&mut self) -> io::Result<()> {
        match self.segment.as_mut() {
            Some(segment) => segment.file.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_dates_are_utc_fields() {
        assert_eq!(header_date(0), "1970 1 1 0 0 0");
        assert_eq!(header_date(1_796_116_156), "2026 12 1 9 9 16");
    }

    #[test]
    fn chunks_that_do_not_shrink_are_stored_with_their_adler32() {
        let mut compressor = Compress::new(flate2::Compression::best(), true);
        let mut out = Vec::new();
        let zeros = vec![0u8; 32_768];
        assert!(encode(Some(&mut compressor), &zeros, &mut out));
        assert!(out.len() < 200);
        let mut state = 1u32;
        let noise: Vec<u8> = (0..32_768)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            })
            .collect();
        assert!(!encode(Some(&mut compressor), &noise, &mut out));
        assert_eq!(out.len(), 32_768 + 4);
        assert_eq!(&out[32_768..], &format::adler32(&noise).to_le_bytes());
        assert!(!encode(None, &zeros, &mut out));
        assert_eq!(out.len(), 32_768 + 4);
    }

    #[test]
    fn volume_round_trips() {
        let volume = Volume {
            media_type: 1,
            chunk_count: 9,
            sectors_per_chunk: 64,
            bytes_per_sector: 512,
            sector_count: 515,
            media_flags: 3,
            compression_level: 2,
            error_granularity: 64,
            guid: [7; 16],
        };
        let body = volume.encode();
        assert_eq!(body.len(), VOLUME_SIZE);
        assert_eq!(Volume::decode(&body), Some(volume));
        let mut bad = body;
        bad[4] ^= 1;
        assert_eq!(Volume::decode(&bad), None);
    }
}
