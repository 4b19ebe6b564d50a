//! The acquisition reader: a [`std::io::Read`] over a source that applies the read-error
//! policy (retry the block, then re-read it sector by sector, then fill or stop) and keeps
//! the output offset equal to the source offset whatever happens.
//!
//! The reader is what the hash engine consumes (`custos_hash::hash_reader(&mut reader, ..)`);
//! [`Reader::summary`] then tells what was read, what was filled, and how reading ended.

use std::io::{self, Read};

use serde::{Deserialize, Serialize};

use crate::map::ReadErrorMap;
use crate::Error;

/// The default block: 1 MiB, large enough for sequential throughput on disks and USB
/// bridges, small enough that a failing block costs little to re-read sector by sector.
pub const DEFAULT_BLOCK_SIZE: usize = 1024 * 1024;

/// The default number of retries of a failing block before it is re-read sector by sector.
pub const DEFAULT_RETRIES: u32 = 3;

/// What to do with a sector that stays unreadable after the retries and the sector re-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorPolicy {
    /// Write zeros in its place, record it in the [`ReadErrorMap`], and go on. Readable
    /// sectors are never zeroed.
    Fill,
    /// Stop with [`Error::UnreadableSector`], naming the offset and sector. Every byte before
    /// it is delivered.
    Stop,
}

/// How to read: block size, retries and the policy for unreadable sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOptions {
    /// Bytes per sequential read; a whole number of logical sectors.
    pub block_size: usize,
    /// Times a failing block is read again before it is re-read sector by sector.
    pub retries: u32,
    /// What to do with sectors that stay unreadable.
    pub policy: ErrorPolicy,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { block_size: DEFAULT_BLOCK_SIZE, retries: DEFAULT_RETRIES, policy: ErrorPolicy::Fill }
    }
}

impl ReadOptions {
    /// Checks the options against a logical sector size, before anything is read.
    pub fn validate(&self, sector_size: u32) -> Result<(), Error> {
        if sector_size == 0 {
            return Err(Error::InvalidOption("the sector size must be at least 1 byte".into()));
        }
        if self.block_size == 0 || !self.block_size.is_multiple_of(sector_size as usize) {
            return Err(Error::InvalidOption(format!(
                "the block size ({} bytes) must be a positive multiple of the logical sector size ({sector_size} bytes)",
                self.block_size
            )));
        }
        Ok(())
    }
}

/// How sectors of a failing block were re-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RereadMode {
    /// No block failed, so nothing was re-read.
    NotNeeded,
    /// Through a second descriptor opened with `O_DIRECT`, bypassing the page cache and its
    /// readahead, so one bad sector cannot fail the reads of its neighbours.
    Direct,
    /// Through the page cache (the source does not allow `O_DIRECT`; the detail says why).
    Buffered,
}

/// The re-read mode and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reread {
    /// How sectors were re-read.
    pub mode: RereadMode,
    /// Why this mode (for `buffered`: why `O_DIRECT` was not used).
    pub detail: String,
}

/// A medium that can be read at any offset, like `pread(2)`: what retries and sector
/// re-reads need. [`crate::Source`] implements it for files and block devices, and
/// [`crate::fault::FaultyMedium`] for tests.
pub trait ReadAt {
    /// Reads into `buf` from `offset`. May return fewer bytes than asked; `Ok(0)` means no
    /// data at `offset` (the end).
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Re-reads one sector (`buf` is at most one sector, `offset` sector-aligned) for the
    /// sector-by-sector pass, bypassing caches where the medium can. Defaults to
    /// [`ReadAt::read_at`].
    fn reread_sector(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read_at(buf, offset)
    }

    /// How [`ReadAt::reread_sector`] reads (asked once reading ends).
    fn reread_method(&self) -> Reread {
        Reread { mode: RereadMode::Buffered, detail: "the medium has no uncached read".into() }
    }
}

impl<M: ReadAt + ?Sized> ReadAt for Box<M> {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }
    fn reread_sector(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).reread_sector(buf, offset)
    }
    fn reread_method(&self) -> Reread {
        (**self).reread_method()
    }
}

/// How reading ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReadEnd {
    /// Not yet at the end (the stream has not been read to its end).
    InProgress,
    /// Every byte of the source's size (or of the stream) was delivered.
    Complete,
    /// The medium returned no data before its announced size, even after the retries (a
    /// file truncated under us, a device smaller than it says). Nothing was invented for the
    /// missing part: the output ends at `at`.
    EndedEarly {
        /// Where data ended.
        at: u64,
        /// The size the source announced.
        expected: u64,
    },
    /// Reading stopped on an error (the stop policy, or a failed stream); bytes before
    /// `offset` were delivered.
    Stopped {
        /// The first byte not delivered.
        offset: u64,
        /// What went wrong, as text.
        error: String,
    },
}

/// What a reader did, once reading ends (or so far).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadSummary {
    /// Bytes delivered to the output, zeros that replaced unreadable sectors included. The
    /// output's length, and always the offset in the source reading reached.
    pub bytes_read: u64,
    /// Of those, bytes filled with zeros (the sum of the map's ranges).
    pub bytes_substituted: u64,
    /// Block reads repeated after a failure.
    pub retries_used: u64,
    /// Sectors re-read one by one.
    pub sectors_reread: u64,
    /// How sectors were re-read.
    pub sector_rereads: Reread,
    /// Every filled range.
    pub read_errors: ReadErrorMap,
    /// How reading ended.
    pub end: ReadEnd,
}

enum Medium {
    Positioned { medium: Box<dyn ReadAt + Send>, size: u64 },
    Stream(Box<dyn Read + Send>),
}

/// A [`Read`] over a source under the read-error policy.
///
/// Reading is sequential, in blocks of [`ReadOptions::block_size`]. A block that fails
/// (an error, or no data before the source's size) is read again up to
/// [`ReadOptions::retries`] times from where it failed; then each remaining sector of the
/// block is re-read on its own. Sectors that still fail are filled with zeros and recorded
/// ([`ErrorPolicy::Fill`]) or end reading with [`Error::UnreadableSector`]
/// ([`ErrorPolicy::Stop`]). Short reads are not errors: reading continues where they ended.
/// The last sector of a source whose size is not a multiple of the sector size is read as
/// it is, never padded.
///
/// Streams (stdin, pipes) cannot be re-read: their first error ends reading with
/// [`Error::StreamRead`], whatever the policy.
pub struct Reader {
    medium: Medium,
    sector_size: u32,
    options: ReadOptions,
    block: Vec<u8>,
    /// Undelivered bytes of the current block: `block[start..end]`.
    start: usize,
    end: usize,
    /// Source offset of `block[0]`.
    block_offset: u64,
    delivered: u64,
    map: ReadErrorMap,
    /// An error to return once the bytes before it are delivered.
    pending: Option<Error>,
    finished: bool,
    end_state: ReadEnd,
    retries_used: u64,
    sectors_reread: u64,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("sector_size", &self.sector_size)
            .field("options", &self.options)
            .field("delivered", &self.delivered)
            .field("map", &self.map)
            .field("end", &self.end_state)
            .finish_non_exhaustive()
    }
}

/// The outcome of reading a span of a block.
enum Span {
    /// Every byte asked for.
    Full,
    /// `n` bytes, then no more data.
    Ended(usize),
    /// `n` bytes, then an error.
    Failed(usize, io::Error),
}

/// Reads `buf` from `offset`, continuing after short reads and interruptions.
fn read_span(read: &mut dyn FnMut(&mut [u8], u64) -> io::Result<usize>, buf: &mut [u8], offset: u64) -> Span {
    let mut got = 0;
    while got < buf.len() {
        match read(&mut buf[got..], offset + got as u64) {
            Ok(0) => return Span::Ended(got),
            Ok(n) => got += n.min(buf.len() - got),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Span::Failed(got, e),
        }
    }
    Span::Full
}

impl Reader {
    /// A reader over a positioned medium of `size` bytes with logical sectors of
    /// `sector_size` bytes.
    pub fn from_medium(
        medium: impl ReadAt + Send + 'static,
        size: u64,
        sector_size: u32,
        options: ReadOptions,
    ) -> Result<Reader, Error> {
        Reader::new(Medium::Positioned { medium: Box::new(medium), size }, sector_size, options)
    }

    /// A reader over a stream, read once from its current position to its end.
    pub fn from_stream(
        stream: impl Read + Send + 'static,
        sector_size: u32,
        options: ReadOptions,
    ) -> Result<Reader, Error> {
        Reader::new(Medium::Stream(Box::new(stream)), sector_size, options)
    }

    pub(crate) fn from_boxed_medium(
        medium: Box<dyn ReadAt + Send>,
        size: u64,
        sector_size: u32,
        options: ReadOptions,
    ) -> Result<Reader, Error> {
        Reader::new(Medium::Positioned { medium, size }, sector_size, options)
    }

    fn new(medium: Medium, sector_size: u32, options: ReadOptions) -> Result<Reader, Error> {
        options.validate(sector_size)?;
        Ok(Reader {
            medium,
            sector_size,
            options,
            block: vec![0; options.block_size],
            start: 0,
            end: 0,
            block_offset: 0,
            delivered: 0,
            map: ReadErrorMap::new(sector_size),
            pending: None,
            finished: false,
            end_state: ReadEnd::InProgress,
            retries_used: 0,
            sectors_reread: 0,
        })
    }

    /// Continues an interrupted reading: the next byte delivered is the source's byte at
    /// `before.bytes_read` (a whole number of sectors), and the summary counts on from
    /// `before` (its filled ranges, retries and sector re-reads). Streams cannot continue.
    pub fn continue_from(mut self, before: &ReadSummary) -> Result<Reader, Error> {
        let offset = before.bytes_read;
        let size = match &self.medium {
            Medium::Positioned { size, .. } => *size,
            Medium::Stream(_) => {
                return Err(Error::InvalidOption("a stream cannot be read again from the middle".into()))
            }
        };
        if !offset.is_multiple_of(u64::from(self.sector_size)) || offset > size {
            return Err(Error::InvalidOption(format!(
                "cannot continue at byte {offset}: not a sector boundary of a source of {size} bytes"
            )));
        }
        if before.read_errors.sector_size != self.sector_size {
            return Err(Error::InvalidOption(format!(
                "the interrupted reading had {}-byte sectors, the source has {}",
                before.read_errors.sector_size, self.sector_size
            )));
        }
        self.block_offset = offset;
        self.delivered = offset;
        self.map = before.read_errors.clone();
        self.retries_used = before.retries_used;
        self.sectors_reread = before.sectors_reread;
        Ok(self)
    }

    /// The options in force.
    pub fn options(&self) -> &ReadOptions {
        &self.options
    }

    /// The logical sector size sectors are counted in.
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }

    /// What was read so far; complete once [`Read::read`] has returned `Ok(0)` or an error.
    pub fn summary(&self) -> ReadSummary {
        let sector_rereads = match &self.medium {
            _ if self.sectors_reread == 0 => {
                Reread { mode: RereadMode::NotNeeded, detail: "no block failed".into() }
            }
            Medium::Positioned { medium, .. } => medium.reread_method(),
            Medium::Stream(_) => {
                Reread { mode: RereadMode::NotNeeded, detail: "a stream cannot be re-read".into() }
            }
        };
        ReadSummary {
            bytes_read: self.delivered,
            bytes_substituted: self.map.bytes_substituted(),
            retries_used: self.retries_used,
            sectors_reread: self.sectors_reread,
            sector_rereads,
            read_errors: self.map.clone(),
            end: self.end_state.clone(),
        }
    }

    /// Reads the next block into `self.block`, applying the policy.
    fn fill_block(&mut self) {
        self.block_offset += self.end as u64;
        self.start = 0;
        self.end = 0;
        match self.medium {
            Medium::Positioned { size, .. } => self.fill_positioned(size),
            Medium::Stream(_) => self.fill_stream(),
        }
    }

    fn fill_stream(&mut self) {
        let Medium::Stream(stream) = &mut self.medium else { return };
        let mut read = |buf: &mut [u8], _offset: u64| stream.read(buf);
        match read_span(&mut read, &mut self.block, self.block_offset) {
            Span::Full => self.end = self.block.len(),
            Span::Ended(n) => {
                self.end = n;
                self.finish(ReadEnd::Complete);
            }
            Span::Failed(n, source) => {
                self.end = n;
                let offset = self.block_offset + n as u64;
                self.stop(offset, Error::StreamRead { offset, source });
            }
        }
    }

    fn fill_positioned(&mut self, size: u64) {
        let offset = self.block_offset;
        if offset >= size {
            self.finish(ReadEnd::Complete);
            return;
        }
        let want = (size - offset).min(self.block.len() as u64) as usize;
        let Medium::Positioned { medium, .. } = &mut self.medium else { return };
        let mut got = 0;
        let mut attempts = 0;
        let failure = loop {
            let mut read = |buf: &mut [u8], at: u64| medium.read_at(buf, at);
            let (n, error) = match read_span(&mut read, &mut self.block[got..want], offset + got as u64) {
                Span::Full => {
                    got = want;
                    break None;
                }
                Span::Ended(n) => (n, None),
                Span::Failed(n, e) => (n, Some(e)),
            };
            if n > 0 {
                // Progress: the failure is somewhere later; its retries start afresh.
                got += n;
                attempts = 0;
            }
            if attempts < self.options.retries {
                attempts += 1;
                self.retries_used += 1;
                continue;
            }
            break Some(error);
        };
        let Some(error) = failure else {
            self.end = want;
            return;
        };
        match error {
            // No data where the size says there is, even after the retries: the sector
            // pass below would only ask again; end here, honestly short.
            None => {
                self.end = got;
                self.finish(ReadEnd::EndedEarly { at: offset + got as u64, expected: size });
            }
            Some(source) if medium_gone(&source) => {
                self.end = got;
                let at = offset + got as u64;
                self.stop(at, Error::MediumGone { offset: at, source });
            }
            Some(_) => self.reread_sectors(offset, got, want, size, attempts + 1),
        }
    }

    /// Re-reads `block[from..want]` sector by sector (the block starts at source offset
    /// `offset`), filling or stopping at sectors that stay unreadable.
    fn reread_sectors(&mut self, offset: u64, from: usize, want: usize, size: u64, attempts: u32) {
        let Medium::Positioned { medium, .. } = &mut self.medium else { return };
        let sector = u64::from(self.sector_size);
        let mut scratch = vec![0u8; self.sector_size as usize];
        let mut pos = from;
        while pos < want {
            let at = offset + pos as u64;
            let sector_start = at / sector * sector;
            let sector_end = (sector_start + sector).min(size);
            let in_sector = (sector_end - sector_start) as usize;
            // Whole sectors are asked for even when part of one was already read (after a
            // short read): uncached reads must be sector-aligned.
            let skip = (at - sector_start) as usize;
            let n = in_sector - skip;
            self.sectors_reread += 1;
            let mut read = |buf: &mut [u8], at: u64| medium.reread_sector(buf, at);
            match read_span(&mut read, &mut scratch[..in_sector], sector_start) {
                Span::Full => self.block[pos..pos + n].copy_from_slice(&scratch[skip..in_sector]),
                Span::Ended(got) if got > skip => {
                    // Data ends inside this sector: keep what is there, then stop honestly.
                    let kept = got - skip;
                    self.block[pos..pos + kept].copy_from_slice(&scratch[skip..got]);
                    self.end = pos + kept;
                    self.finish(ReadEnd::EndedEarly { at: at + kept as u64, expected: size });
                    return;
                }
                Span::Ended(_) => {
                    self.end = pos;
                    self.finish(ReadEnd::EndedEarly { at, expected: size });
                    return;
                }
                Span::Failed(_, source) if medium_gone(&source) => {
                    self.end = pos;
                    self.stop(at, Error::MediumGone { offset: at, source });
                    return;
                }
                Span::Failed(_, source) => match self.options.policy {
                    ErrorPolicy::Fill => {
                        self.block[pos..pos + n].fill(0);
                        self.map.add(at, n as u64, source.to_string());
                    }
                    ErrorPolicy::Stop => {
                        self.end = pos;
                        let error = Error::UnreadableSector {
                            offset: at,
                            sector: at / sector,
                            length: n as u64,
                            attempts: attempts + 1,
                            source,
                        };
                        self.stop(at, error);
                        return;
                    }
                },
            }
            pos += n;
        }
        self.end = want;
    }

    fn finish(&mut self, end: ReadEnd) {
        self.finished = true;
        self.end_state = end;
    }

    fn stop(&mut self, offset: u64, error: Error) {
        self.finish(ReadEnd::Stopped { offset, error: error_chain(&error) });
        self.pending = Some(error);
    }
}

/// Errors that say the medium itself is gone (unplugged, ejected, the descriptor invalid),
/// not that a sector is bad: filling would zero everything to the end, one slow sector at a
/// time, and call it "unreadable". Reading stops instead, whatever the policy.
fn medium_gone(error: &io::Error) -> bool {
    use rustix::io::Errno;
    let gone = [Errno::NODEV, Errno::NXIO, Errno::NOMEDIUM, Errno::BADF];
    error.raw_os_error().is_some_and(|code| gone.iter().any(|e| e.raw_os_error() == code))
}

/// An error and its sources, as one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Read for Reader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.start < self.end {
                let n = out.len().min(self.end - self.start);
                out[..n].copy_from_slice(&self.block[self.start..self.start + n]);
                self.start += n;
                self.delivered += n as u64;
                return Ok(n);
            }
            if let Some(error) = self.pending.take() {
                return Err(io::Error::new(error.io_kind(), error));
            }
            if self.finished {
                return Ok(0);
            }
            self.fill_block();
        }
    }
}
