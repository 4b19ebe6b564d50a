//! A fault-injecting medium for tests: bytes in memory with chosen unreadable ranges, errors
//! that go away after some attempts, short reads, and "contagious" errors that fail buffered
//! reads near a bad sector but not uncached sector re-reads, as readahead does on real disks.
//!
//! It lets the read-error policy be tested without devices; the CLI's tests can use it too.

use std::io;
use std::ops::Range;

use crate::reader::{ReadAt, Reread, RereadMode};

/// `EIO`, the error a disk gives for a sector it cannot read.
const EIO: i32 = 5;
/// `ENODEV`, what reads of an unplugged device return.
const ENODEV: i32 = 19;

/// An in-memory medium with injected faults. Any read whose *requested* range touches a bad
/// byte fails as a whole, as a real device fails the whole request.
#[derive(Debug, Clone)]
pub struct FaultyMedium {
    data: Vec<u8>,
    bad: Vec<Range<u64>>,
    intermittent: Vec<(Range<u64>, u32)>,
    contagion: u64,
    max_read: Option<usize>,
    gone_from: Option<u64>,
    reads: u64,
}

impl FaultyMedium {
    /// A medium holding `data`, with no faults yet.
    pub fn new(data: Vec<u8>) -> FaultyMedium {
        FaultyMedium {
            data,
            bad: Vec::new(),
            intermittent: Vec::new(),
            contagion: 0,
            max_read: None,
            gone_from: None,
            reads: 0,
        }
    }

    /// Bytes in `range` can never be read (`EIO`).
    pub fn bad(mut self, range: Range<u64>) -> FaultyMedium {
        self.bad.push(range);
        self
    }

    /// Reads touching `range` fail with `EIO` the first `times` times, then succeed.
    pub fn intermittent(mut self, range: Range<u64>, times: u32) -> FaultyMedium {
        self.intermittent.push((range, times));
        self
    }

    /// Buffered reads ([`ReadAt::read_at`]) within `bytes` of a bad range fail too, as when
    /// readahead drags a bad sector into the read of its neighbours; sector re-reads
    /// ([`ReadAt::reread_sector`]) fail only on the bad bytes themselves.
    pub fn contagion(mut self, bytes: u64) -> FaultyMedium {
        self.contagion = bytes;
        self
    }

    /// Every read returns at most `bytes` bytes (as some USB bridges do), without error.
    pub fn short_reads(mut self, bytes: usize) -> FaultyMedium {
        self.max_read = Some(bytes.max(1));
        self
    }

    /// Reads touching `offset` or beyond fail with `ENODEV`, as when the device is unplugged.
    pub fn gone_from(mut self, offset: u64) -> FaultyMedium {
        self.gone_from = Some(offset);
        self
    }

    /// The bytes the medium holds.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Read calls so far (buffered and sector re-reads).
    pub fn reads(&self) -> u64 {
        self.reads
    }

    fn read(&mut self, buf: &mut [u8], offset: u64, contagion: u64) -> io::Result<usize> {
        self.reads += 1;
        let len = self.data.len() as u64;
        if offset >= len || buf.is_empty() {
            return Ok(0);
        }
        let asked = offset..(offset + buf.len() as u64).min(len);
        let touches = |r: &Range<u64>, spread: u64| {
            r.start.saturating_sub(spread) < asked.end && asked.start < r.end.saturating_add(spread)
        };
        if self.gone_from.is_some_and(|from| asked.end > from) {
            return Err(io::Error::from_raw_os_error(ENODEV));
        }
        if self.bad.iter().any(|r| touches(r, contagion)) {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        for (range, times) in &mut self.intermittent {
            if *times > 0 && range.start < asked.end && asked.start < range.end {
                *times -= 1;
                return Err(io::Error::from_raw_os_error(EIO));
            }
        }
        let mut n = (asked.end - asked.start) as usize;
        if let Some(max) = self.max_read {
            n = n.min(max);
        }
        let start = offset as usize;
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        Ok(n)
    }
}

impl ReadAt for FaultyMedium {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read(buf, offset, self.contagion)
    }

    fn reread_sector(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read(buf, offset, 0)
    }

    fn reread_method(&self) -> Reread {
        Reread {
            mode: RereadMode::Direct,
            detail: "fault-injecting test medium (uncached by construction)".into(),
        }
    }
}
