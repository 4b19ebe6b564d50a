//! Memory-mapped windows of a file, guarded so that a file shrinking under the map becomes
//! an error instead of a crash.
//!
//! When a mapped file is truncated, touching a page past the new end raises SIGBUS, which
//! kills the process by default. Every window we map is registered in a small lock-free
//! table. Our SIGBUS handler looks up the faulting address: if it lies in a registered
//! window, it maps anonymous zero pages over the rest of that window (so the faulting load
//! can complete) and marks the window as faulted. The engine checks that mark when the
//! window is released and turns it into [`crate::Error::Shrank`], discarding every digest.
//! A fault anywhere else is not ours: the previous signal action is restored and the access
//! faults again under it, exactly as if we had never been installed.
//!
//! This is the one module of the crate with `unsafe` code.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use memmap2::{Advice, Mmap, MmapOptions};

/// Windows that can be registered at once. The engine keeps a few windows per input in
/// flight and hashes a few inputs at a time, so this is never the limit in practice; when
/// it is, the engine reads that window instead of mapping it.
const SLOTS: usize = 256;

/// A `start` value that marks a slot as being filled in.
const CLAIMED: usize = usize::MAX;

struct Slot {
    /// Address of the first mapped byte; 0 when free, [`CLAIMED`] while being filled.
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

static REGISTRY: [Slot; SLOTS] = [const {
    Slot { start: AtomicUsize::new(0), len: AtomicUsize::new(0), faulted: AtomicBool::new(false) }
}; SLOTS];

static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);

/// The SIGBUS action that was in place before ours, restored for faults that are not ours.
static PREVIOUS_ACTION: OnceLock<libc::sigaction> = OnceLock::new();

/// Installs the SIGBUS handler once per process. Returns false when it cannot be
/// installed, in which case the engine must not map files.
fn install_handler() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if let Ok(page) = usize::try_from(page) {
            if page.is_power_of_two() {
                PAGE_SIZE.store(page, Ordering::Relaxed);
            }
        }
        // SAFETY: an all-zero sigaction is a valid value to be filled in; sigaction() is
        // given valid pointers, and the handler only uses async-signal-safe operations
        // (atomics, mmap, sigaction).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &action, &mut previous) != 0 {
                return false;
            }
            // Only set once, inside this once-only initialiser.
            let _ = PREVIOUS_ACTION.set(previous);
        }
        true
    })
}

extern "C" fn on_sigbus(_signal: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers.
    let address = unsafe { (*info).si_addr() } as usize;
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    for slot in &REGISTRY {
        let start = slot.start.load(Ordering::Acquire);
        if start == 0 || start == CLAIMED {
            continue;
        }
        let len = slot.len.load(Ordering::Acquire);
        if address < start || address >= start + len {
            continue;
        }
        let from = address & !(page - 1);
        let to = (start + len + page - 1) & !(page - 1);
        // SAFETY: [from, to) lies inside a mapping this crate owns and that is alive (it is
        // unregistered before it is unmapped); replacing its pages with zero pages cannot
        // invalidate any Rust reference beyond changing the bytes they see, which the engine
        // treats as a failed read.
        let mapped = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                to - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if mapped != libc::MAP_FAILED {
            slot.faulted.store(true, Ordering::Release);
            return;
        }
    }
    // Not a window of ours (or we could not patch it): put the previous action back and
    // return; the faulting access repeats and is handled as it would have been without us.
    if let Some(previous) = PREVIOUS_ACTION.get() {
        // SAFETY: `previous` is the action the kernel gave us at installation.
        unsafe { libc::sigaction(libc::SIGBUS, previous, ptr::null_mut()) };
    }
}

/// One mapped, registered window of a file.
pub(crate) struct MappedWindow {
    map: Mmap,
    slot: &'static Slot,
}

impl MappedWindow {
    /// Maps `len` bytes of `file` at `offset`, prefetching them. Returns `Ok(None)` when no
    /// guard slot is free or the guard cannot be installed; the caller then reads instead.
    pub(crate) fn map(file: &File, offset: u64, len: usize) -> io::Result<Option<MappedWindow>> {
        if len == 0 || !install_handler() {
            return Ok(None);
        }
        let Some(slot) = claim_slot() else {
            return Ok(None);
        };
        // SAFETY: the mapping is read-only and private. Another process may still change or
        // truncate the file under it: truncation raises SIGBUS, which the handler above turns
        // into a `faulted` mark, and the engine compares the file's length and modification
        // time before and after hashing so that changed contents are reported as an error.
        let mapped = unsafe { MmapOptions::new().offset(offset).len(len).populate().map(file) };
        let map = match mapped {
            Ok(map) => map,
            Err(error) => {
                slot.start.store(0, Ordering::Release);
                return Err(error);
            }
        };
        // Advice is a hint: failing to give it changes nothing but speed.
        let _ = map.advise(Advice::Sequential);
        slot.len.store(map.len(), Ordering::Release);
        slot.faulted.store(false, Ordering::Release);
        slot.start.store(map.as_ptr() as usize, Ordering::Release);
        Ok(Some(MappedWindow { map, slot }))
    }

    /// The window's bytes (zeros past the point where the file was truncated, if it was).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// True when part of the window vanished while it was mapped.
    pub(crate) fn faulted(&self) -> bool {
        self.slot.faulted.load(Ordering::Acquire)
    }
}

impl Drop for MappedWindow {
    fn drop(&mut self) {
        // Unregister before the field drop unmaps, so the handler never patches a range
        // that has been handed back to the allocator.
        self.slot.start.store(0, Ordering::Release);
    }
}

fn claim_slot() -> Option<&'static Slot> {
    REGISTRY
        .iter()
        .find(|slot| slot.start.compare_exchange(0, CLAIMED, Ordering::AcqRel, Ordering::Relaxed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn truncation_under_a_map_is_flagged_not_fatal() {
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(&vec![0xa5; 64 * 1024]).expect("write");
        let window = MappedWindow::map(&file, 0, 64 * 1024).expect("map").expect("a free slot");
        assert!(!window.faulted());
        file.set_len(4096).expect("truncate");
        // Touch every page: the ones past the new end raise SIGBUS, which must be absorbed.
        let sum: u64 = window.bytes().iter().map(|&b| u64::from(b)).sum();
        assert!(window.faulted());
        assert_eq!(sum, 4096 * 0xa5, "pages past the end read as zeros");
    }

    #[test]
    fn slots_are_released() {
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(&[1; 8192]).expect("write");
        for _ in 0..(SLOTS * 2) {
            let window = MappedWindow::map(&file, 0, 8192).expect("map");
            assert!(window.is_some(), "a slot leaked");
        }
    }
}
