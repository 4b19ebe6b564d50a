//! The one-pass engine: every selected algorithm (and the segment hasher) reads the same
//! windows of the input, so the input is read once whatever the number of algorithms.
//!
//! A reader (the calling thread) maps or reads the input one window at a time and hands
//! each window to the workers: at most one thread per core, the algorithms shared out among
//! them by cost, and BLAKE3 hashed window by window as independent subtrees by whichever
//! worker gets there first. A window is unmapped (or its buffer recycled) when the last
//! worker has finished with it; a fixed number of permits bounds how
//! many windows exist at once, so memory stays bounded whatever the input's size. Inputs no
//! larger than one window skip the threads and are hashed inline, which is what makes trees
//! of many small files fast (parallelism there comes from hashing several files at once).

use std::cell::RefCell;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::SystemTime;

use crate::guard::MappedWindow;
use crate::segments::{SegmentHasher, SegmentList, SegmentSpec};
use crate::subtrees::{self, SubtreeStack};
use crate::{Algorithm, AlgorithmHasher, Digest, Error};

/// The default window: 8 MiB. Large enough that per-window costs (a map, a madvise, a
/// channel message per algorithm) vanish next to hashing; small enough that the windows in
/// flight stay far below the 64 MiB memory budget.
pub const DEFAULT_WINDOW_SIZE: usize = 8 * 1024 * 1024;

/// Inputs of one window or less are read this much at a time: a chunk stays in the core's
/// cache between the read that fills it and the hashers that consume it.
const INLINE_CHUNK: usize = 256 * 1024;

/// The default number of windows alive at once: one being hashed by the slowest worker,
/// one by the fastest, one being mapped ahead, one spare.
pub const DEFAULT_WINDOWS_IN_FLIGHT: usize = 4;

/// What to compute and how to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashOptions {
    /// Algorithms for whole-input digests, in any order, without repeats. May be empty only
    /// when segments are requested.
    pub algorithms: Vec<Algorithm>,
    /// Segment digests, if wanted.
    pub segments: Option<SegmentSpec>,
    /// Bytes per window (mapped or read).
    pub window_size: usize,
    /// Windows alive at once (≥ 1). Peak memory ≈ `window_size × windows_in_flight`.
    pub windows_in_flight: usize,
    /// Map the windows of regular files and block devices longer than one window; `false`
    /// reads them instead. Inputs of one window or less are always read (see
    /// `Input::hash_inline`).
    pub mmap: bool,
}

impl Default for HashOptions {
    fn default() -> Self {
        HashOptions {
            algorithms: vec![Algorithm::Sha256, Algorithm::Blake3],
            segments: None,
            window_size: DEFAULT_WINDOW_SIZE,
            windows_in_flight: DEFAULT_WINDOWS_IN_FLIGHT,
            mmap: true,
        }
    }
}

impl HashOptions {
    /// Checks the options once, before any input is touched.
    pub fn validate(&self) -> Result<(), Error> {
        if self.algorithms.is_empty() && self.segments.is_none() {
            return Err(Error::InvalidOption("no algorithm selected".into()));
        }
        for (i, a) in self.algorithms.iter().enumerate() {
            if self.algorithms[..i].contains(a) {
                return Err(Error::DuplicateAlgorithm(a.name()));
            }
        }
        if self.window_size == 0 {
            return Err(Error::InvalidOption("the window size must be at least 1 byte".into()));
        }
        if self.windows_in_flight == 0 {
            return Err(Error::InvalidOption("at least one window must be allowed in flight".into()));
        }
        if self.segments.is_some_and(|s| s.size == 0) {
            return Err(Error::InvalidOption("the segment size must be at least 1 byte".into()));
        }
        Ok(())
    }
}

/// Progress reporting and cancellation, both optional. The engine never prints.
#[derive(Default, Clone, Copy)]
pub struct Control<'a> {
    /// Called with the number of bytes just read, after each window (from the calling thread).
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// When raised, hashing stops at the next window with [`Error::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

impl std::fmt::Debug for Control<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("progress", &self.progress.is_some())
            .field("cancel", &self.cancel)
            .finish()
    }
}

impl Control<'_> {
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    pub(crate) fn report(&self, bytes: u64) {
        if let Some(progress) = self.progress {
            progress(bytes);
        }
    }
}

/// The result for one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashOutcome {
    /// Bytes hashed.
    pub size: u64,
    /// One digest per requested algorithm, in [`Algorithm`] order.
    pub digests: Vec<(Algorithm, Digest)>,
    /// Segment digests, when requested.
    pub segments: Option<SegmentList>,
}

impl HashOutcome {
    /// The digest of one algorithm, if it was computed.
    pub fn digest(&self, algorithm: Algorithm) -> Option<&Digest> {
        self.digests.iter().find(|(a, _)| *a == algorithm).map(|(_, d)| d)
    }
}

/// Hashes a buffer already in memory, in one call per algorithm: the reference every
/// streaming path is tested against.
pub fn hash_bytes(bytes: &[u8], options: &HashOptions) -> HashOutcome {
    let mut sinks = Sinks::new(options);
    sinks.update_inline(bytes);
    let outcome = sinks.finish(bytes.len() as u64);
    outcome.unwrap_or_else(|_| unreachable!("only copies can fail to finish, and there is none here"))
}

/// Hashes a file, a block device, or anything else that can be opened and read (a FIFO, a
/// character device, a procfs file). Symbolic links given here are followed.
pub fn hash_path(path: &Path, options: &HashOptions, control: &Control) -> Result<HashOutcome, Error> {
    options.validate()?;
    let file = File::open(path).map_err(|source| Error::Open { path: path.to_owned(), source })?;
    hash_opened(&file, path, options, control, None)
}

/// Hashes a regular file found by a tree walk ([`crate::walk_tree`]). Between the walk and
/// the open, the entry may have been swapped for a symbolic link (which could point outside
/// the tree) or a FIFO (which would block forever): the file is opened without following
/// links and without blocking, and anything but a regular file is refused with
/// [`Error::NotARegularFile`].
pub fn hash_tree_file(path: &Path, options: &HashOptions, control: &Control) -> Result<HashOutcome, Error> {
    options.validate()?;
    let file = open_tree_file(path)?;
    hash_opened(&file, path, options, control, None)
}

/// Opens evidence a user named (a regular file or a block device; a link the user gave is
/// followed) without blocking: a FIFO, socket or character device is refused with
/// [`Error::NotEvidence`] naming which, a folder with [`Error::IsADirectory`], never read
/// (a FIFO would wait forever, `/dev/zero` never end).
pub fn open_evidence(path: &Path) -> Result<File, Error> {
    use std::os::unix::fs::FileTypeExt as _;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| Error::Open { path: path.to_owned(), source })?;
    let kind = file.metadata().map_err(|source| Error::Open { path: path.to_owned(), source })?.file_type();
    let found = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_dir() {
        return Err(Error::IsADirectory { path: path.to_owned() });
    } else if kind.is_file() || kind.is_block_device() {
        return Ok(file);
    } else {
        "a special file"
    };
    Err(Error::NotEvidence { path: path.to_owned(), found })
}

/// Opens a file found by a tree walk for reading without following a link and without
/// blocking: a link or FIFO swapped in after the walk is refused, never read.
pub fn open_tree_file(path: &Path) -> Result<File, Error> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| match source.raw_os_error() {
            Some(libc::ELOOP) => Error::NotARegularFile { path: path.to_owned(), found: "a symbolic link" },
            _ => Error::Open { path: path.to_owned(), source },
        })?;
    let metadata = file.metadata().map_err(|source| Error::Open { path: path.to_owned(), source })?;
    if !metadata.is_file() {
        return Err(Error::NotARegularFile { path: path.to_owned(), found: "a special file or directory" });
    }
    Ok(file)
}

/// Hashes a file someone else opened (and checked), such as a package's payload file opened
/// through its store without following links. `label` names it in errors.
pub fn hash_file(
    file: &File,
    label: &Path,
    options: &HashOptions,
    control: &Control,
) -> Result<HashOutcome, Error> {
    options.validate()?;
    hash_opened(file, label, options, control, None)
}

fn hash_opened(
    file: &File,
    path: &Path,
    options: &HashOptions,
    control: &Control,
    copy_to: Option<&CopyTarget>,
) -> Result<HashOutcome, Error> {
    let open_error = |source| Error::Open { path: path.to_owned(), source };
    let before = file.metadata().map_err(open_error)?;
    let file_type = before.file_type();
    if file_type.is_dir() {
        return Err(Error::IsADirectory { path: path.to_owned() });
    }
    let input = Input { file, path, copy_to };
    if file_type.is_file() && before.len() > 0 {
        let outcome = input.hash_sized(before.len(), options, control)?;
        // A file that changed while it was hashed has no single digest: compare what the
        // inode said before with what it says now.
        let after = file.metadata().map_err(open_error)?;
        check_unchanged(path, &before, &after)?;
        Ok(outcome)
    } else if file_type.is_block_device() {
        // Block devices report 0 in metadata; seeking to the end gives their length.
        let length = (&*file).seek(SeekFrom::End(0)).map_err(|source| Error::Read {
            path: path.to_owned(),
            offset: 0,
            source,
        })?;
        input.hash_sized(length, options, control)
    } else if copy_to.is_some() {
        // Only files and devices have a length to check a copy against; a regular file
        // whose metadata says 0 is either empty or a procfs-like file of unknown size.
        let mut probe = [0u8; 1];
        let read = file.read_at(&mut probe, 0).map_err(|source| Error::Read {
            path: path.to_owned(),
            offset: 0,
            source,
        })?;
        if !file_type.is_file() || read != 0 {
            return Err(Error::InvalidOption(format!(
                "{} has no length to check a copy against (a pipe, a device of unknown size, or a file whose metadata says 0 bytes); only regular files and block devices are copied",
                path.display()
            )));
        }
        input.with_copy(Sinks::new(options))?.finish(0)
    } else {
        // Pipes, character devices, and regular files whose metadata says 0 (procfs and
        // sysfs files report 0 yet have contents): read until end of file.
        hash_reader(file, path, options, control)
    }
}

/// Copies a regular file or block device to `destination` (which must not exist), hashing
/// the bytes in the same pass, then re-reads the copy and checks that every digest matches.
/// This is how evidence is copied: never a hard link (a later write to the original would
/// change the "copy"), and never a copy that was not read back. The copy is synced to disk
/// and made read-only. On any failure the partial copy is removed, so a destination that
/// exists afterwards is always a verified copy.
pub fn copy_and_hash(
    source: &Path,
    destination: &Path,
    options: &HashOptions,
    control: &Control,
) -> Result<HashOutcome, Error> {
    check_copy_options(options)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(destination)
        .map_err(|source| Error::Write { path: destination.to_owned(), source })?;
    let result = copy_and_hash_to(source, file, destination, options, control);
    if result.is_err() {
        // Never leave a copy that was not proven equal to its source.
        let _ = std::fs::remove_file(destination);
    }
    result
}

/// [`copy_and_hash`] into a file the caller created and opened for reading and writing (a
/// package's store opens it without following links); `label` names it in errors. On
/// failure the caller removes the partial copy.
pub fn copy_and_hash_to(
    source: &Path,
    destination: File,
    label: &Path,
    options: &HashOptions,
    control: &Control,
) -> Result<HashOutcome, Error> {
    // The options are checked by copy_opened_and_hash_to, before any byte is read.
    let file = File::open(source)
        .map_err(|source_error| Error::Open { path: source.to_owned(), source: source_error })?;
    copy_opened_and_hash_to(&file, source, destination, label, options, control)
}

/// [`copy_and_hash_to`] from a source the caller opened (a file of a tree, opened without
/// following links and checked to be a regular file); `source_label` names it in errors.
pub fn copy_opened_and_hash_to(
    source: &File,
    source_label: &Path,
    destination: File,
    label: &Path,
    options: &HashOptions,
    control: &Control,
) -> Result<HashOutcome, Error> {
    check_copy_options(options)?;
    let target = CopyTarget { file: destination, path: label.to_owned() };
    let outcome = hash_opened(source, source_label, options, control, Some(&target))?;
    target.seal()?;
    verify_copy(&target, &outcome, options, control)?;
    Ok(outcome)
}

/// A copy is verified by its digests: valid options with at least one algorithm.
fn check_copy_options(options: &HashOptions) -> Result<(), Error> {
    options.validate()?;
    if options.algorithms.is_empty() {
        return Err(Error::InvalidOption(
            "a copy is verified by its digests: select at least one algorithm".into(),
        ));
    }
    Ok(())
}

/// The one digest a copy hashed with `algorithms` is read back with: BLAKE3 when asked for
/// (the fastest), otherwise SHA-256, SHA-512, or else the first. One strong digest proves
/// the copy: equal BLAKE3 (or SHA-256) means equal bytes, so every other digest of the copy
/// is the source's too; the other algorithms would only make the read-back slower.
pub fn copy_check_algorithm(algorithms: &[Algorithm]) -> Option<Algorithm> {
    [Algorithm::Blake3, Algorithm::Sha256, Algorithm::Sha512]
        .into_iter()
        .find(|a| algorithms.contains(a))
        .or_else(|| algorithms.first().copied())
}

/// Re-reads a copy through its own descriptor and compares its strong digest (see
/// [`copy_check_algorithm`]) with the source's.
fn verify_copy(
    target: &CopyTarget,
    source: &HashOutcome,
    options: &HashOptions,
    control: &Control,
) -> Result<(), Error> {
    let strongest = copy_check_algorithm(&options.algorithms);
    let reread =
        HashOptions { segments: None, algorithms: strongest.into_iter().collect(), ..options.clone() };
    let copy = hash_opened(&target.file, &target.path, &reread, control, None)?;
    let destination = &target.path;
    for (algorithm, expected) in source.digests.iter().filter(|(a, _)| Some(*a) == strongest) {
        let found = copy.digest(*algorithm);
        if found != Some(expected) || copy.size != source.size {
            return Err(Error::CopyMismatch {
                path: destination.to_owned(),
                algorithm: *algorithm,
                expected: expected.to_hex(),
                found: found.map_or_else(|| "nothing".to_owned(), Digest::to_hex),
            });
        }
    }
    Ok(())
}

/// The destination of a copy.
struct CopyTarget {
    file: File,
    path: std::path::PathBuf,
}

impl CopyTarget {
    /// A sink writing to this target (its own handle on the same open file).
    fn sink(&self) -> Result<CopySink, Error> {
        let file =
            self.file.try_clone().map_err(|source| Error::Write { path: self.path.clone(), source })?;
        Ok(CopySink { file, path: self.path.clone(), error: None })
    }

    /// Flushes the copy to stable storage and makes it read-only.
    fn seal(&self) -> Result<(), Error> {
        let write_error = |source| Error::Write { path: self.path.clone(), source };
        self.file.sync_all().map_err(write_error)?;
        let mut permissions = self.file.metadata().map_err(write_error)?.permissions();
        permissions.set_readonly(true);
        self.file.set_permissions(permissions).map_err(write_error)
    }
}

/// Writes windows to the copy; the first error stops writing and is reported at the end.
struct CopySink {
    file: File,
    path: std::path::PathBuf,
    error: Option<io::Error>,
}

impl CopySink {
    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_none() {
            if let Err(error) = std::io::Write::write_all(&mut self.file, bytes) {
                self.error = Some(error);
            }
        }
    }

    fn finish(self) -> Result<(), Error> {
        match self.error {
            Some(source) => Err(Error::Write { path: self.path, source }),
            None => Ok(()),
        }
    }
}

/// Hashes a stream to its end (stdin, a pipe). `label` names it in errors.
pub fn hash_reader<R: Read>(
    mut reader: R,
    label: &Path,
    options: &HashOptions,
    control: &Control,
) -> Result<HashOutcome, Error> {
    options.validate()?;
    let read_error = |offset, source| Error::Read { path: label.to_owned(), offset, source };
    let window = options.window_size;
    // Streams are read, never mapped, so no window can fault.
    let faulted = || unreachable!("streams are read, never mapped, so no window can fault");
    run_pipeline(Sinks::new(options), options.windows_in_flight, control, faulted, |offset, mut buffer| {
        buffer.resize(window, 0);
        let filled = fill(&mut reader, &mut buffer).map_err(|e| read_error(offset, e))?;
        if filled == 0 {
            return Ok(None);
        }
        buffer.truncate(filled);
        Ok(Some(WindowData::Buffer(buffer)))
    })
    .and_then(|(sinks, total)| sinks.finish(total))
}

/// An opened input of known length.
struct Input<'a> {
    file: &'a File,
    path: &'a Path,
    /// Where to copy the bytes while hashing them, if anywhere.
    copy_to: Option<&'a CopyTarget>,
}

impl Input<'_> {
    /// The sinks for this input: `base` plus the copy, if one is being made.
    fn with_copy(&self, mut sinks: Sinks) -> Result<Sinks, Error> {
        if let Some(target) = self.copy_to {
            sinks.ordered.push(Sink::Copy(target.sink()?));
        }
        Ok(sinks)
    }

    fn hash_sized(
        &self,
        length: u64,
        options: &HashOptions,
        control: &Control,
    ) -> Result<HashOutcome, Error> {
        if length <= options.window_size as u64 {
            return self.hash_inline(length, options, control);
        }
        let window = options.window_size as u64;
        let faulted = || self.shrank(length);
        let (sinks, total) = run_pipeline(
            self.with_copy(Sinks::for_windows(options))?,
            options.windows_in_flight,
            control,
            faulted,
            |offset, buffer| {
                if offset >= length {
                    return Ok(None);
                }
                let want = (length - offset).min(window) as usize;
                if options.mmap {
                    self.ensure_present(length, offset + want as u64)?;
                    match MappedWindow::map(self.file, offset, want) {
                        Ok(Some(mapped)) => return Ok(Some(WindowData::Mapped(mapped))),
                        // No guard slot free: read this window instead.
                        Ok(None) => {}
                        Err(source) => return Err(self.read_error(offset, source)),
                    }
                }
                self.read_window(length, offset, want, buffer).map(|b| Some(WindowData::Buffer(b)))
            },
        )?;
        debug_assert_eq!(total, length);
        sinks.finish(total)
    }

    /// Inputs that fit in one window: read in chunks into a reused per-thread buffer small
    /// enough to stay in the core's cache, every algorithm in turn on this thread.
    ///
    /// Never mapped: these are the files of trees, hashed several at once, and unmapping
    /// in a process with several threads flushes the other cores' TLBs each time (a profile
    /// of a 20,000-file tree spent a third of its time in those shootdowns). Copying a
    /// chunk that stays in cache costs less.
    fn hash_inline(
        &self,
        length: u64,
        options: &HashOptions,
        control: &Control,
    ) -> Result<HashOutcome, Error> {
        thread_local! {
            static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        if control.cancelled() {
            return Err(Error::Cancelled);
        }
        let mut sinks = self.with_copy(Sinks::new(options))?;
        BUFFER.with_borrow_mut(|buffer| {
            // Sized once per thread: chunks are read into it, it is never zeroed again.
            buffer.resize(INLINE_CHUNK, 0);
            let mut offset = 0;
            while offset < length {
                let want = (length - offset).min(INLINE_CHUNK as u64) as usize;
                let chunk = &mut buffer[..want];
                self.read_exactly(length, offset, chunk)?;
                sinks.update_inline(chunk);
                offset += want as u64;
            }
            Ok::<(), Error>(())
        })?;
        control.report(length);
        sinks.finish(length)
    }

    /// Reads `want` bytes at `offset` into `buffer` (resized), or reports that the input
    /// ended early.
    fn read_window(
        &self,
        length: u64,
        offset: u64,
        want: usize,
        mut buffer: Vec<u8>,
    ) -> Result<Vec<u8>, Error> {
        buffer.resize(want, 0);
        self.read_exactly(length, offset, &mut buffer)?;
        Ok(buffer)
    }

    /// Fills `buffer` from `offset`, or reports that the input (of `length` bytes when
    /// opened) ended early.
    fn read_exactly(&self, length: u64, offset: u64, buffer: &mut [u8]) -> Result<(), Error> {
        let mut filled = 0;
        while filled < buffer.len() {
            match self.file.read_at(&mut buffer[filled..], offset + filled as u64) {
                Ok(0) => {
                    return Err(Error::Shrank {
                        path: self.path.to_owned(),
                        expected: length,
                        found: offset + filled as u64,
                    })
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(self.read_error(offset + filled as u64, source)),
            }
        }
        Ok(())
    }

    /// Refuses to map bytes that are no longer there: a map past the end of a file would only
    /// fault later, when a worker touches it.
    fn ensure_present(&self, length: u64, end: u64) -> Result<(), Error> {
        let metadata = self.file.metadata().map_err(|e| self.read_error(end, e))?;
        if metadata.is_file() && metadata.len() < end {
            return Err(Error::Shrank {
                path: self.path.to_owned(),
                expected: length,
                found: metadata.len(),
            });
        }
        Ok(())
    }

    fn shrank(&self, length: u64) -> Error {
        let found = self.file.metadata().map_or(0, |m| m.len());
        Error::Shrank { path: self.path.to_owned(), expected: length, found: found.min(length) }
    }

    fn read_error(&self, offset: u64, source: io::Error) -> Error {
        Error::Read { path: self.path.to_owned(), offset, source }
    }
}

fn check_unchanged(path: &Path, before: &Metadata, after: &Metadata) -> Result<(), Error> {
    let changed = |what: String| Err(Error::Changed { path: path.to_owned(), what });
    if before.len() != after.len() {
        return changed(format!("length {} became {}", before.len(), after.len()));
    }
    let mtime = |m: &Metadata| m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if mtime(before) != mtime(after) {
        return changed("its modification time moved".into());
    }
    Ok(())
}

/// Reads until `buffer` is full or the stream ends; returns the bytes read.
fn fill(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// One consumer of the input bytes, fed in order.
enum Sink {
    Whole(AlgorithmHasher),
    Segments(SegmentHasher),
    /// Writes the bytes to a copy (see [`copy_and_hash`]).
    Copy(CopySink),
}

impl Sink {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Sink::Whole(hasher) => hasher.update(bytes),
            Sink::Segments(hasher) => hasher.update(bytes),
            Sink::Copy(copy) => copy.write(bytes),
        }
    }

    /// Relative cost per byte, measured on x86-64 with SHA-NI (BLAKE3 single-threaded,
    /// AVX2): only the ratios matter, for sharing sinks out among threads.
    fn cost(&self) -> u32 {
        let algorithm = match self {
            Sink::Whole(hasher) => hasher.algorithm(),
            Sink::Segments(hasher) => hasher.algorithm(),
            // Copying costs about what the cheapest hash does (a memory-speed pass).
            Sink::Copy(_) => return 4,
        };
        match algorithm {
            Algorithm::Md5 => 18,
            Algorithm::Sha1 => 7,
            Algorithm::Sha256 => 8,
            Algorithm::Sha512 => 16,
            Algorithm::Blake3 => 5,
        }
    }
}

/// Every consumer for one input.
struct Sinks {
    /// Sinks that must see the bytes in order.
    ordered: Vec<Sink>,
    /// Whole-input BLAKE3 computed window by window as independent subtrees, by whichever
    /// worker reaches a window first (see [`consume`]).
    blake3_subtrees: Option<SubtreeStack>,
}

impl Sinks {
    fn new(options: &HashOptions) -> Sinks {
        let mut ordered: Vec<Sink> = options.algorithms.iter().map(|a| Sink::Whole(a.hasher())).collect();
        if let Some(spec) = options.segments {
            ordered.push(Sink::Segments(SegmentHasher::new(spec)));
        }
        Sinks { ordered, blake3_subtrees: None }
    }

    /// For inputs of known length longer than one window: BLAKE3, when asked for, is hashed
    /// as window subtrees, which any worker can take on.
    fn for_windows(options: &HashOptions) -> Sinks {
        let mut sinks = Sinks::new(options);
        if subtrees::window_is_subtree(options.window_size) {
            let before = sinks.ordered.len();
            sinks.ordered.retain(|sink| !matches!(sink, Sink::Whole(AlgorithmHasher::Blake3(_))));
            if sinks.ordered.len() < before {
                sinks.blake3_subtrees = Some(SubtreeStack::default());
            }
        }
        sinks
    }

    /// Feeds bytes to every sink in turn on this thread (inputs of one window or less).
    fn update_inline(&mut self, bytes: &[u8]) {
        debug_assert!(self.blake3_subtrees.is_none());
        self.ordered.iter_mut().for_each(|sink| sink.update(bytes));
    }

    fn finish(self, size: u64) -> Result<HashOutcome, Error> {
        let mut digests = Vec::new();
        let mut segments = None;
        for sink in self.ordered {
            match sink {
                Sink::Whole(hasher) => digests.push((hasher.algorithm(), hasher.finalize())),
                Sink::Segments(hasher) => segments = Some(hasher.finish()),
                Sink::Copy(copy) => copy.finish()?,
            }
        }
        if let Some(stack) = self.blake3_subtrees {
            // Subtrees are only used for inputs longer than one window, and a pipeline only
            // ends normally after every window went through.
            let digest = stack
                .finish()
                .unwrap_or_else(|| unreachable!("every window of a multi-window input was hashed"));
            digests.push((Algorithm::Blake3, digest));
        }
        digests.sort_by_key(|(a, _)| *a);
        Ok(HashOutcome { size, digests, segments })
    }
}

/// A window's bytes: a guarded map or a (recycled) buffer.
enum WindowData {
    Mapped(MappedWindow),
    Buffer(Vec<u8>),
}

impl WindowData {
    fn bytes(&self) -> &[u8] {
        match self {
            WindowData::Mapped(mapped) => mapped.bytes(),
            WindowData::Buffer(buffer) => buffer,
        }
    }
}

/// A permit to create one window, returned when the window is dropped: with the buffer to
/// reuse, and whether the window's pages vanished under it.
#[derive(Default)]
struct Permit {
    buffer: Vec<u8>,
    faulted: bool,
}

/// A window shared by the workers; dropping the last reference unmaps it and returns its
/// permit.
struct Window {
    /// Position in the input: the window number and its first byte's offset.
    index: u64,
    offset: u64,
    /// Set by the worker that hashes this window's BLAKE3 subtree.
    subtree_claimed: AtomicBool,
    data: Option<WindowData>,
    permits: mpsc::Sender<Permit>,
}

impl Window {
    fn bytes(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], WindowData::bytes)
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let permit = match self.data.take() {
            Some(WindowData::Buffer(buffer)) => Permit { buffer, faulted: false },
            Some(WindowData::Mapped(mapped)) => Permit { buffer: Vec::new(), faulted: mapped.faulted() },
            None => Permit::default(),
        };
        // The reader may already be gone after an error; the permit is then not needed.
        let _ = self.permits.send(permit);
    }
}

/// A worker: feeds every window to its sinks in turn until the reader hangs up, then hands
/// the sinks back. With BLAKE3 subtrees, it also claims each window's subtree unless another
/// worker already has: the worker that is ahead takes it, which slows it down until the
/// others catch up, so the BLAKE3 work spreads over the cores in proportion to their slack.
fn consume(
    mut group: Vec<Sink>,
    windows: mpsc::Receiver<Arc<Window>>,
    subtrees: Option<&SubtreeStack>,
) -> Vec<Sink> {
    for window in windows {
        let bytes = window.bytes();
        group.iter_mut().for_each(|sink| sink.update(bytes));
        if let Some(stack) = subtrees {
            if !window.subtree_claimed.swap(true, Ordering::AcqRel) {
                stack.insert(window.index, subtrees::window_chaining_value(window.offset, bytes));
            }
        }
    }
    group
}

/// Shares the ordered sinks out among `threads` groups, costliest first onto the least
/// loaded group. With more sinks than cores, one thread per sink would leave the scheduler
/// time-slicing the slowest algorithm against the others; balanced groups keep the slowest
/// one on a core of its own, so a pass costs no more than it. Groups may be empty when
/// BLAKE3 subtrees give every core something to do.
fn balance(mut sinks: Vec<Sink>, threads: usize) -> Vec<Vec<Sink>> {
    sinks.sort_by_key(|sink| std::cmp::Reverse(sink.cost()));
    let mut groups: Vec<(u32, Vec<Sink>)> = (0..threads.max(1)).map(|_| (0, Vec::new())).collect();
    for sink in sinks {
        if let Some(lightest) = groups.iter_mut().min_by_key(|(load, sinks)| (*load, sinks.len())) {
            lightest.0 += sink.cost();
            lightest.1.push(sink);
        }
    }
    groups.into_iter().map(|(_, group)| group).collect()
}

/// Feeds every window that `produce` makes to worker threads (one per core at most, see
/// [`balance`]). `produce` gets the
/// offset of the next window and a buffer to reuse, and returns `None` at the end;
/// `faulted` makes the error for a mapped window whose pages vanished.
fn run_pipeline<P>(
    sinks: Sinks,
    windows_in_flight: usize,
    control: &Control,
    faulted: impl FnOnce() -> Error,
    mut produce: P,
) -> Result<(Sinks, u64), Error>
where
    P: FnMut(u64, Vec<u8>) -> Result<Option<WindowData>, Error>,
{
    let (permit_sender, permits) = mpsc::channel::<Permit>();
    for _ in 0..windows_in_flight {
        let _ = permit_sender.send(Permit::default());
    }
    let Sinks { ordered, blake3_subtrees } = sinks;
    let shared_blake3 = blake3_subtrees.as_ref();
    let result = thread::scope(|scope| {
        // One worker per core at most (the current rayon pool's size, which the binary sets
        // with --jobs), and never more workers than there is work for.
        let cores = rayon::current_num_threads().max(1);
        let threads = if shared_blake3.is_some() { cores } else { cores.min(ordered.len()) };
        let groups = balance(ordered, threads);
        let mut feeds = Vec::with_capacity(groups.len());
        let mut workers = Vec::with_capacity(groups.len());
        for group in groups {
            let (feed, windows) = mpsc::channel::<Arc<Window>>();
            feeds.push(feed);
            workers.push(scope.spawn(move || consume(group, windows, shared_blake3)));
        }

        let mut offset = 0u64;
        let mut index = 0u64;
        let mut window_faulted = false;
        let produced: Result<(), Error> = loop {
            if control.cancelled() {
                break Err(Error::Cancelled);
            }
            // Blocks while `windows_in_flight` windows are alive: this is the memory bound.
            let Ok(permit) = permits.recv() else {
                unreachable!("the reader holds a permit sender");
            };
            if permit.faulted {
                window_faulted = true;
                break Ok(());
            }
            match produce(offset, permit.buffer) {
                Err(error) => break Err(error),
                Ok(None) => break Ok(()),
                Ok(Some(data)) => {
                    let length = data.bytes().len() as u64;
                    let window = Arc::new(Window {
                        index,
                        offset,
                        subtree_claimed: AtomicBool::new(false),
                        data: Some(data),
                        permits: permit_sender.clone(),
                    });
                    index += 1;
                    for feed in &feeds {
                        // A worker only stops early by panicking, which join() re-raises.
                        let _ = feed.send(Arc::clone(&window));
                    }
                    offset += length;
                    control.report(length);
                }
            }
        };
        drop(feeds);
        let ordered: Vec<Sink> = workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect();
        produced?;
        // Every window is gone now; any that faulted after its permit came back last time
        // is in the channel.
        drop(permit_sender);
        window_faulted |= permits.try_iter().any(|permit| permit.faulted);
        if window_faulted {
            return Err(faulted());
        }
        Ok((ordered, offset))
    });
    result.map(|(ordered, offset)| (Sinks { ordered, blake3_subtrees }, offset))
}
