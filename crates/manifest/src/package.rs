//! Evidence packages: a folder that is a valid BagIt bag with the evidence under `data/`,
//! and Custos' own tag files under `custos/`: the manifest, its detached signatures and the
//! signers' public keys. Sealing copies the evidence (verified copies, never links),
//! writes and signs the manifest, then writes the bag's manifests around it all.
//! Verifying reports [`Finding`]s for the bag, the signatures, the signers' trust and every
//! item's bytes. Format: `docs/formats/package.md`.
//!
//! Not yet here: directory trees as evidence, copy-on-write clones, segment lists in the
//! package.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};

use custos_hash::segments::SegmentRecord;
use custos_hash::{
    copy_and_hash_to, copy_opened_and_hash_to, hash_file, Algorithm, Control, HashOptions, SegmentSpec,
};
use ed25519_dalek::SigningKey;

use crate::bagit::{self, PayloadFile, BAGIT_ALGORITHMS};
use crate::custody::{self, Action, Appended, Event, NewEvent};
use crate::envelope::{SignatureFile, SignedLine};
use crate::findings::Finding;
use crate::keys::PublicKey;
pub use crate::layout::{
    event_token_path, manifest_token_path, shipped_keys_in, KEYS_DIR, MANIFEST_PATH,
    MANIFEST_SIGNATURES_PATH, MAX_KEY_FILE_BYTES, SEGMENTS_DIR, TIMESTAMPS_DIR,
};
use crate::manifest::{
    Case, Category, CopyVerification, Item, LegalBasis, Link, Manifest, Part, PartFormat, Segments, StoredAs,
    Tool, MANIFEST_FORMAT, MANIFEST_PAYLOAD_TYPE,
};
use crate::parts::{hash_parts, OpenedPart, PartsOutcome};
use crate::store::{PackageDir, PackageStore, MAX_TAG_FILE_BYTES};
pub use crate::verify::{verify_package, Trust, Verification, VerifyOptions};
use crate::Error;

/// What to seal and how.
#[derive(Debug)]
pub struct SealRequest<'a> {
    /// Evidence files (regular files or block devices).
    pub evidence: &'a [PathBuf],
    /// Record the evidence where it is instead of copying it into the package (for images
    /// too large to duplicate); `verify --evidence` then supplies the bytes.
    pub reference: bool,
    /// Case reference and exhibit.
    pub case: Case,
    /// Sealing jurisdiction (ISO 3166-1 alpha-2).
    pub jurisdiction: Option<String>,
    /// The kind of data every item holds.
    pub category: Option<Category>,
    /// The kind of data of single items (item path, `data/…`), over `category`; each must
    /// name an item, or the seal is refused before anything is copied.
    pub item_categories: &'a [(String, Category)],
    /// Legal-basis records.
    pub legal_basis: Vec<LegalBasis>,
    /// Where the sealing happens.
    pub location: Option<String>,
    /// The country the evidence is in when sealed (the `sealed` event states it).
    pub country: Option<String>,
    /// Digests to record; SHA-256 is always added (the BagIt manifest needs it).
    pub algorithms: Vec<Algorithm>,
    /// Segment digests, if wanted.
    pub segments: Option<SegmentSpec>,
    /// The sealer's secret key.
    pub signer: &'a SigningKey,
    /// The sealer's public key file (shipped in the package).
    pub signer_public: &'a PublicKey,
    /// The time to record (RFC 3339 with offset).
    pub sealed_at: String,
    /// An RFC 3161 time-stamping authority (`http://…`) to stamp the manifest signature and
    /// the `sealed` event.
    pub tsa: Option<&'a str>,
    /// Evidence the caller acquires straight into the package, after `evidence`.
    pub acquired: &'a [&'a dyn Acquirer],
    /// Continue in this unfinished package (one of [`interrupted_seals`] of the package)
    /// instead of starting a new one: its acquirer continues from the checkpoint there.
    pub resume: Option<&'a Path>,
}

/// Where an acquisition keeps its checkpoint while it runs (removed before sealing).
pub const CHECKPOINT_PATH: &str = "custos/acquisition-checkpoint.json";

/// The DSSE payload type of a checkpoint: one signed line by the sealer's key
/// (docs/acquisition.md).
pub const CHECKPOINT_PAYLOAD_TYPE: &str = "application/vnd.custos.acquisition-checkpoint+json; version=2";

/// Evidence read once from its source and written into the package in the same pass (an
/// acquisition from a device, a stream or a file: `custos acquire`). The package crate
/// gives it a way to make image files and takes back the digests and the acquisition
/// record; it then syncs the files, makes them read-only and reads them back from disk.
pub trait Acquirer: std::fmt::Debug {
    /// The item's file name under `data/` (for an E01 set, its first segment's).
    fn name(&self) -> &str;
    /// Whether the written image is read back (from disk, not the page cache) and its
    /// digest compared before anything is signed. An image kept in several files is always
    /// read back: its files' own digests come from that read.
    fn verify_image(&self) -> bool;
    /// Reads the source, writing every byte to files made with `files` and hashing with
    /// `options` in the same pass; returns the digests, the record to sign with the item
    /// and how the image is kept. Every file made is removed when this fails, unless
    /// [`Acquirer::resumable`] says otherwise.
    fn acquire(
        &self,
        files: &dyn ImageFiles,
        options: &HashOptions,
        control: &Control,
    ) -> Result<Acquired, String>;
    /// After `acquire` failed: whether it left a checkpoint to continue from (the
    /// unfinished package is then kept, and [`Error::Resumable`] returned).
    fn resumable(&self) -> bool {
        false
    }
}

/// Makes an acquisition's image files in the new package.
pub trait ImageFiles {
    /// Creates `data/NAME` (a new, empty file, opened read-write; never an existing one).
    fn create(&self, name: &str) -> Result<fs::File, String>;
    /// Opens `data/NAME`, written by an interrupted run of this acquisition, read-write
    /// (never through a link; a file with other names is refused).
    fn existing(&self, name: &str) -> Result<fs::File, String>;
    /// Replaces the checkpoint ([`CHECKPOINT_PATH`]) with `bytes` (its JSON) signed by the
    /// sealer's key ([`CHECKPOINT_PAYLOAD_TYPE`]), durably. It stays a working file, but
    /// whoever can write the destination cannot forge one that a resumed acquisition would
    /// sign facts from (its unreadable ranges, its start time).
    fn save_checkpoint(&self, bytes: &[u8]) -> Result<(), String>;
}

/// What an [`Acquirer`] hands back.
#[derive(Debug)]
pub struct Acquired {
    /// The image's digests (and segments), from the one pass over the source.
    pub outcome: custos_hash::HashOutcome,
    /// The acquisition record (docs/acquisition.md).
    pub record: serde_json::Map<String, serde_json::Value>,
    /// `None`: the image is the one file [`Acquirer::name`]. Otherwise the files it made,
    /// by name under `data/`, in order, and what they are.
    pub parts: Option<(PartFormat, Vec<String>)>,
}

/// Seals evidence into a new package at `package` (which must not exist). On failure the
/// partial package is removed; the evidence itself is only ever read.
pub fn seal(package: &Path, request: &SealRequest, control: &Control) -> Result<Manifest, Error> {
    if request.signer_public.key != request.signer.verifying_key() {
        return Err(Error::Package("the public key file does not belong to the signing key".into()));
    }
    if request.reference && !request.acquired.is_empty() {
        return Err(Error::Package("acquired evidence is written into the package, never referenced".into()));
    }
    if package.symlink_metadata().is_ok() {
        return Err(Error::Package(format!(
            "{} already exists (packages are never overwritten)",
            package.display()
        )));
    }
    // What would refuse the bag at the end is refused before the evidence is read: an
    // acquisition's source may not come back.
    bagit::check_info_fields(&bag_info(request))?;
    // Built under a temporary name beside the target and renamed at the end: an interrupted
    // seal (a crash, kill -9, Ctrl-C) never leaves anything under the package's name that
    // looks like a package, and never blocks the next try.
    let partial = match request.resume {
        Some(unfinished) => {
            if request.acquired.len() != 1 || !request.evidence.is_empty() {
                return Err(Error::Package("only a single acquisition can be continued".into()));
            }
            if !interrupted_seals(package).iter().any(|p| p == unfinished) {
                return Err(Error::Package(format!(
                    "{} is not an unfinished package of {}",
                    unfinished.display(),
                    package.display()
                )));
            }
            unfinished.to_owned()
        }
        None => {
            let partial = partial_name(package)?;
            fs::create_dir(&partial)
                .map_err(|e| Error::Package(format!("cannot create {}: {e}", partial.display())))?;
            partial
        }
    };
    let resuming = request.resume.is_some();
    // Opened without following a link (a link put in an unfinished package's place must not
    // send the writes elsewhere) and locked while it is built: a second run cannot take
    // over a folder that is still being written.
    let store = PackageDir::open_exact(&partial).and_then(|store| store.lock_building().map(|()| store));
    let store = match store {
        Ok(store) => store,
        Err(error) => {
            if !resuming {
                let _ = fs::remove_dir_all(&partial);
            }
            return Err(Error::Package(error.to_string()));
        }
    };
    let stage = std::cell::Cell::new(Stage::Started);
    let result = seal_into(&store, &partial, request, control, &stage).and_then(|manifest| {
        stage.set(Stage::Sealed);
        let parent = rustix::fs::CWD;
        rustix::fs::renameat_with(parent, &partial, parent, package, rustix::fs::RenameFlags::NOREPLACE)
            .map_err(|e| {
                Error::Package(format!(
                    "cannot create {}: {e} (packages are never overwritten)",
                    package.display()
                ))
            })?;
        Ok(manifest)
    });
    match result {
        Err(Error::Resumable { message, .. }) => Err(Error::Resumable { message, kept: partial }),
        // Complete and signed, only not given its name (taken meanwhile): kept whole.
        Err(error) if stage.get() == Stage::Sealed => {
            let message = match error {
                Error::Package(message) => message,
                other => other.to_string(),
            };
            Err(Error::Kept { message, kept: partial, what: "complete, sealed package", hint: SEALED_HINT })
        }
        // An image read whole may be all that is left of a medium now gone: a full
        // destination while the package around it is written must never cost it.
        Err(error) if stage.get() == Stage::Acquired => Err(keep_acquired(&store, partial, error)),
        // A failed continuation keeps what the interrupted run wrote: it may be continued
        // once the cause is fixed, or be the trace of what changed it.
        Err(error) if resuming => Err(Error::Resumable { message: error.to_string(), kept: partial }),
        Err(error) => {
            let _ = fs::remove_dir_all(&partial);
            Err(error)
        }
        ok => ok,
    }
}

/// The most segments an item's segment list may hold: the list is a tag file, read back
/// within [`crate::store::MAX_TAG_FILE_BYTES`] (a quoted hex digest and a comma per segment,
/// and room for the rest of the record).
pub fn max_segments(algorithm: Algorithm) -> u64 {
    let per_segment = algorithm.output_len() as u64 * 2 + 3;
    (crate::store::MAX_TAG_FILE_BYTES - 64 * 1024) / per_segment
}

/// The bag-info.txt fields of the package `request` makes.
fn bag_info(request: &SealRequest) -> Vec<(String, String)> {
    let owner = &request.signer_public.owner;
    let mut info = vec![
        ("Source-Organization".to_owned(), owner.organisation.clone().unwrap_or_else(|| owner.name.clone())),
        ("External-Identifier".to_owned(), request.case.reference.clone()),
        ("Bag-Software-Agent".to_owned(), format!("custos {}", env!("CARGO_PKG_VERSION"))),
    ];
    if let Some(exhibit) = &request.case.exhibit {
        info.push(("External-Description".to_owned(), format!("Exhibit {exhibit}")));
    }
    info
}

const SEALED_HINT: &str = "give it the package's name with mv once that name is free";
const IMAGE_KEPT: &str = "acquired image (read whole, not sealed)";
const IMAGE_HINT: &str = "it cannot be continued (no checkpoint); seal the image under data/ with `custos seal`, or copy it out, before removing the folder";

/// How far a seal got, which decides what a failure keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Started,
    /// An acquisition's image was read whole and proven equal to what was hashed.
    Acquired,
    /// Every file of the package was written and signed.
    Sealed,
}

/// After a seal failed once its acquisition was whole: removes what the seal wrote around
/// the image (manifest, log, keys, lists, tag files), keeping the image and its signed
/// checkpoint, so that the package can be continued with `--resume` (it reads the image back
/// against the checkpoint) or, without a checkpoint, the image is at least not lost.
fn keep_acquired(store: &PackageDir, partial: PathBuf, error: Error) -> Error {
    let message = match error {
        Error::Package(message) => message,
        other => other.to_string(),
    };
    let entries = match store.list() {
        Ok(entries) => entries,
        Err(e) => {
            return Error::Kept {
                message: format!("{message}; {e}"),
                kept: partial,
                what: IMAGE_KEPT,
                hint: IMAGE_HINT,
            }
        }
    };
    let mut checkpoint = false;
    for entry in entries {
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        if path == CHECKPOINT_PATH {
            checkpoint = true;
        } else if !path.starts_with("data/") {
            // One that cannot be removed is left in place: a continuation refuses it and
            // says so.
            let _ = store.remove(&path);
        }
    }
    if checkpoint {
        Error::Resumable { message, kept: partial }
    } else {
        Error::Kept { message, kept: partial, what: IMAGE_KEPT, hint: IMAGE_HINT }
    }
}

/// Refuses to continue an unfinished package that holds anything the interrupted
/// acquisition did not write: only its image, its checkpoint, and a checkpoint's temporary
/// file (left by a kill during a save; removed here).
fn check_unfinished(store: &PackageDir, request: &SealRequest) -> Result<(), Error> {
    let image = request.acquired.first().map(|a| format!("data/{}", a.name())).unwrap_or_default();
    let checkpoint_temporary = |path: &str| {
        path.strip_prefix("custos/.acquisition-checkpoint.json.custos-")
            .is_some_and(|rest| rest.ends_with(".tmp"))
    };
    for entry in store.list().map_err(|e| Error::Package(e.to_string()))? {
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        let regular = matches!(entry.kind, custos_hash::EntryKind::File { .. });
        match path.as_str() {
            p if regular && (p == image || p == CHECKPOINT_PATH) => {}
            p if regular && checkpoint_temporary(p) => {
                store.remove(p).map_err(|e| Error::Package(format!("cannot remove {e}")))?;
            }
            _ => {
                return Err(Error::Package(format!(
                    "the unfinished package holds {path}, which the interrupted acquisition did not write: refusing to continue it"
                )))
            }
        }
    }
    Ok(())
}

/// `DIR/.NAME.custos-partial-PID`: where a package is built before it gets its name.
fn partial_name(package: &Path) -> Result<PathBuf, Error> {
    let name = package.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        Error::Package(format!("{}: a package needs a UTF-8 folder name", package.display()))
    })?;
    Ok(package.with_file_name(format!(".{name}{PARTIAL_MARK}{}", std::process::id())))
}

/// What marks a folder as an interrupted seal's leftover.
const PARTIAL_MARK: &str = ".custos-partial-";

/// Leftovers of interrupted seals of `package` (folders `.NAME.custos-partial-PID` beside it).
pub fn interrupted_seals(package: &Path) -> Vec<PathBuf> {
    let (Some(parent), Some(name)) = (package.parent(), package.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    let prefix = format!(".{name}{PARTIAL_MARK}");
    let Ok(entries) = fs::read_dir(parent) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)))
        .map(|e| e.path())
        .collect()
}

fn seal_into(
    store: &PackageDir,
    package: &Path,
    request: &SealRequest,
    control: &Control,
    stage: &std::cell::Cell<Stage>,
) -> Result<Manifest, Error> {
    // Every folder and file below is made through the store, relative to the folder just
    // created: no link on a path is followed, and a swapped path changes nothing.
    if request.resume.is_some() {
        check_unfinished(store, request)?;
    }
    for folder in ["data", "custos", KEYS_DIR, SEGMENTS_DIR, TIMESTAMPS_DIR] {
        match store.create_folder(folder) {
            // An unfinished package being continued has its folders already.
            Err(crate::store::StoreError::Exists { .. }) if request.resume.is_some() => {}
            created => created.map_err(|e| Error::Package(format!("cannot create {e}")))?,
        }
    }
    let write_new = |path: &str, bytes: &[u8]| {
        store.create_new(path, bytes).map_err(|e| Error::Package(format!("cannot write {e}")))
    };
    let mut algorithms = request.algorithms.clone();
    if !algorithms.contains(&Algorithm::Sha256) {
        algorithms.push(Algorithm::Sha256);
    }
    algorithms.sort();
    algorithms.dedup();
    let options =
        HashOptions { algorithms: algorithms.clone(), segments: request.segments, ..HashOptions::default() };

    let mut items: Vec<Item> = Vec::new();
    let mut payload = Vec::new();
    let (planned, links) = plan(request)?;
    // Before anything is copied: a category for no item is a mistyped path.
    for (path, _) in request.item_categories {
        if !planned.iter().any(|p| p.path == *path) {
            let some: Vec<&str> = planned.iter().take(3).map(|p| p.path.as_str()).collect();
            return Err(Error::Package(format!(
                "--item-category {path}: no item has that path (items are named as in the package, such as {})",
                some.join(", ")
            )));
        }
    }
    for Planned { evidence, path } in planned {
        if items.iter().any(|item| item.path == path) {
            return Err(Error::Package(format!("two evidence files would both be {path}")));
        }
        if let Some((parent, _)) = path.rsplit_once('/').filter(|_| !request.reference) {
            store.create_folders(parent).map_err(|e| Error::Package(format!("cannot create {e}")))?;
        }
        let mut acquisition = None;
        let mut stored_as = None;
        // Every copy below is read back with this one digest before it is kept.
        let copy_check = Some(CopyVerification {
            result: "match".into(),
            algorithm: read_back_algorithm(&options).name().into(),
            read_from: "page_cache".into(),
        });
        let mut copy_verification = None;
        let outcome = match evidence {
            Evidence::Acquired(acquirer) => {
                let made =
                    MadeFiles { store, folder: "data", made: Default::default(), signer: request.signer };
                let acquired = acquire_into(&made, &path, acquirer, &options, control);
                let AcquiredItem { outcome, record, parted: parts } = match acquired {
                    Ok(acquired) => acquired,
                    // Kept to be continued; it never verifies (no manifest, a hidden name).
                    Err(Error::Package(message)) if acquirer.resumable() || request.resume.is_some() => {
                        return Err(Error::Resumable { message, kept: PathBuf::new() })
                    }
                    Err(error) => {
                        // Never leave an image that was not read whole and proven equal.
                        made.remove_all();
                        return Err(error);
                    }
                };
                acquisition = Some(record);
                stored_as = parts;
                stage.set(Stage::Acquired);
                outcome
            }
            Evidence::File(source) if request.reference => custos_hash::hash_path(source, &options, control)?,
            Evidence::File(source) => {
                copy_verification = copy_check;
                let copy =
                    store.create_for_copy(&path).map_err(|e| Error::Package(format!("cannot create {e}")))?;
                copy_and_hash_to(source, copy, Path::new(&path), &options, control).inspect_err(|_| {
                    // Never leave a copy that was not proven equal to its source.
                    let _ = store.remove(&path);
                })?
            }
            Evidence::E01Set(first) if request.reference => {
                let (outcome, parts) = reference_e01_set(first, &options, control)?;
                stored_as = Some(parts);
                outcome
            }
            Evidence::E01Set(first) => {
                copy_verification = copy_check;
                let made =
                    MadeFiles { store, folder: "data", made: Default::default(), signer: request.signer };
                let copied = copy_e01_set(&made, first, &options, control);
                let (outcome, parts) = copied.inspect_err(|_| made.remove_all())?;
                stored_as = Some(parts);
                outcome
            }
            Evidence::TreeFile(source) => {
                copy_verification = copy_check;
                // Opened without following a link: a link or FIFO swapped in after the walk
                // is refused, never copied.
                let opened = custos_hash::open_tree_file(&source)?;
                let copy =
                    store.create_for_copy(&path).map_err(|e| Error::Package(format!("cannot create {e}")))?;
                copy_opened_and_hash_to(&opened, &source, copy, Path::new(&path), &options, control)
                    .inspect_err(|_| {
                        let _ = store.remove(&path);
                    })?
            }
        };
        let item = Item {
            path: path.clone(),
            reference: request.reference,
            size: outcome.size,
            category: request
                .item_categories
                .iter()
                .find(|(item, _)| *item == path)
                .map(|(_, category)| *category)
                .or(request.category),
            digests: outcome.digests.iter().map(|(a, d)| (a.name().to_owned(), d.to_hex())).collect(),
            segments: outcome.segments.as_ref().map(|list| Segments {
                size: list.spec.size,
                algorithm: list.spec.algorithm.name().to_owned(),
                count: list.digests.len() as u64,
                root: list.root().to_hex(),
            }),
            acquisition,
            stored_as: stored_as.as_ref().map(|Parted { format, files, filled_sectors }| StoredAs {
                format: *format,
                filled_sectors: filled_sectors.clone(),
                parts: files
                    .iter()
                    .map(|file: &PayloadFile| Part {
                        path: file.path.clone(),
                        size: file.size,
                        digests: file
                            .digests
                            .iter()
                            .map(|(a, d)| (a.name().to_owned(), d.to_hex()))
                            .collect(),
                    })
                    .collect(),
            }),
            copy_verification,
        };
        for (file, _) in item.files() {
            let taken = items.iter().any(|other| other.files().iter().any(|(f, _)| *f == file));
            if taken || payload.iter().any(|p: &PayloadFile| p.path == file) {
                return Err(Error::Package(format!("two evidence files would both be {file}")));
            }
        }
        if !request.reference {
            match stored_as {
                None => payload.push(PayloadFile {
                    path: path.clone(),
                    size: outcome.size,
                    digests: outcome.digests.clone(),
                }),
                Some(Parted { files, .. }) => payload.extend(files),
            }
        }
        items.push(item);
        if let Some(list) = &outcome.segments {
            // The full list, so that a later verification can name the damaged ranges; its
            // root is in the signed manifest, which is what makes the list trustworthy.
            let record = SegmentRecord::new(path.clone(), None, list);
            let text = serde_json::to_string(&record).map_err(|e| Error::Package(e.to_string()))? + "\n";
            let list = segment_list_path(&path);
            if let Some((folder, _)) = list.rsplit_once('/') {
                store.create_folders(folder).map_err(|e| Error::Package(format!("cannot create {e}")))?;
            }
            write_new(&list, text.as_bytes())?;
        }
    }

    let manifest = Manifest {
        custos_manifest: MANIFEST_FORMAT,
        case: request.case.clone(),
        sealed_at: request.sealed_at.clone(),
        location: request.location.clone(),
        jurisdiction: request.jurisdiction.clone(),
        tool: Tool { name: "custos".into(), version: env!("CARGO_PKG_VERSION").into() },
        legal_basis: request.legal_basis.clone(),
        items,
        links,
    };
    let bytes = manifest.to_bytes();
    let mut signatures = SignatureFile::new(MANIFEST_PAYLOAD_TYPE);
    signatures.sign(request.signer, &bytes);
    write_new(MANIFEST_PATH, &bytes)?;
    write_new(MANIFEST_SIGNATURES_PATH, &signatures.to_bytes())?;
    if let (Some(url), Some(entry)) = (request.tsa, signatures.signatures.last()) {
        write_new(&manifest_token_path(&entry.key_id), &entry.time_stamp(url)?)?;
    }

    let mut sealed = NewEvent::new(Action::Sealed, request.sealed_at.clone());
    sealed.location = request.location.clone();
    sealed.country = request.country.clone();
    sealed.legal_basis = request.legal_basis.first().map(|b| b.reference.clone());
    // The tag manifests are written once, below, around the finished package.
    let along = custody::AlongWith {
        ship: &[request.signer_public],
        tsa: request.tsa,
        replace: &custody::nothing_to_replace,
        then: &|_| Ok(()),
    };
    custody::append(store, sealed, request.signer, request.signer_public, &along)?;

    let bag_algorithms: Vec<Algorithm> =
        algorithms.iter().copied().filter(|a| BAGIT_ALGORITHMS.contains(a)).collect();
    let info = bag_info(request);
    let date = request.sealed_at.get(..10).unwrap_or_default();
    // The checkpoint stays until now, so that a seal failing after its acquisition can be
    // continued; the package holds no stray tag file.
    match store.remove(CHECKPOINT_PATH) {
        Ok(()) | Err(crate::store::StoreError::NotFound { .. }) => {}
        Err(e) => return Err(Error::Package(format!("cannot remove the checkpoint: {e}"))),
    }
    bagit::write_tag_files(package, &payload, &bag_algorithms, &info, date)?;
    Ok(manifest)
}

/// One piece of evidence to seal.
enum Evidence<'a> {
    /// A file or block device the user named: copied (or hashed where it is).
    File(&'a Path),
    /// A regular file found by walking a folder the user named.
    TreeFile(PathBuf),
    /// An acquisition, read once from its source.
    Acquired(&'a dyn Acquirer),
    /// An E01 set the user named by its first segment: its files copied, its media the item.
    E01Set(&'a Path),
}

/// Whether `path` is the first segment of an E01 set: named `.E01` (any case) and starting
/// with the EVF signature. Anything else is sealed as the file it is.
pub fn is_e01(path: &Path) -> bool {
    use std::io::Read as _;
    if !path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("e01")) {
        return false;
    }
    let mut head = [0u8; 8];
    fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok()
        && head == *b"EVF\x09\x0d\x0a\xff\x00"
}

/// Evidence and the item path it will have.
struct Planned<'a> {
    evidence: Evidence<'a>,
    path: String,
}

/// The item path of every piece of evidence, in order, with the links found in folders:
/// a folder `F` becomes items `data/F/…` for its regular files, walked in byte order as
/// `custos hash` walks it; its symbolic links are recorded (not followed) and any FIFO,
/// socket or device in it refuses the seal (reading one could block, and it is not the
/// folder's content).
fn plan<'a>(request: &'a SealRequest) -> Result<(Vec<Planned<'a>>, Vec<Link>), Error> {
    let utf8 = |path: &Path, what: &str| {
        path.to_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::Package(format!("{}: {what} must be UTF-8", path.display())))
    };
    let mut planned = Vec::new();
    let mut links = Vec::new();
    for source in request.evidence {
        let name = source.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            Error::Package(format!("{}: evidence names must be UTF-8 file names", source.display()))
        })?;
        // Only what can be read to its end and read again: opening a FIFO would wait for a
        // writer forever, and a stream cannot be read back.
        let metadata = fs::metadata(source)
            .map_err(|e| Error::Package(format!("cannot read the evidence {}: {e}", source.display())))?;
        let file_type = metadata.file_type();
        if !(file_type.is_file() || file_type.is_dir() || file_type.is_block_device()) {
            return Err(Error::Package(format!(
                "{} is a FIFO, socket or character device: a stream is sealed with `custos seal - --name NAME < …` or `custos acquire`",
                source.display()
            )));
        }
        if request.reference {
            let evidence = if metadata.is_file() && is_e01(source) {
                Evidence::E01Set(source)
            } else {
                Evidence::File(source)
            };
            planned.push(Planned { evidence, path: utf8(source, "referenced paths")? });
            continue;
        }
        if metadata.is_file() && is_e01(source) {
            planned.push(Planned { evidence: Evidence::E01Set(source), path: format!("data/{name}") });
            continue;
        }
        if !metadata.is_dir() {
            planned.push(Planned { evidence: Evidence::File(source), path: format!("data/{name}") });
            continue;
        }
        for entry in custos_hash::walk_tree(source) {
            let entry = entry?;
            let relative = entry.path.strip_prefix(source).unwrap_or(&entry.path);
            let path = format!("data/{name}/{}", utf8(relative, "file names in evidence folders")?);
            crate::bagit::check_payload_path(&path)
                .map_err(|reason| Error::Package(format!("{}: {reason}", entry.path.display())))?;
            match entry.kind {
                custos_hash::EntryKind::File { .. } => {
                    planned.push(Planned { evidence: Evidence::TreeFile(entry.path), path });
                }
                custos_hash::EntryKind::Symlink { target } => {
                    links.push(Link { path, target: utf8(&target, "link targets")? });
                }
                custos_hash::EntryKind::Special { kind } => {
                    return Err(Error::Package(format!(
                        "{} is a {}: folders holding FIFOs, sockets or devices are refused (seal the files themselves)",
                        entry.path.display(),
                        kind.replace('_', " ")
                    )));
                }
                _ => {
                    return Err(Error::Package(format!(
                        "{}: not a file Custos can seal",
                        entry.path.display()
                    )));
                }
            }
        }
    }
    planned.extend(
        request
            .acquired
            .iter()
            .map(|a| Planned { evidence: Evidence::Acquired(*a), path: format!("data/{}", a.name()) }),
    );
    // A package of nothing would verify, and say nothing: most often the folder is a mount
    // point with nothing mounted.
    if planned.is_empty() && request.acquired.is_empty() {
        let named: Vec<String> = request.evidence.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::Package(format!(
            "nothing to seal: {} holds no regular file (an empty folder, or a mount point with nothing mounted?)",
            named.join(", ")
        )));
    }
    // `verify --evidence FOLDER` finds evidence sealed by reference by its file name.
    if request.reference {
        let mut named: Vec<(&std::ffi::OsStr, &Path)> = request
            .evidence
            .iter()
            .filter_map(|source| source.file_name().map(|name| (name, source.as_path())))
            .collect();
        named.sort();
        if let Some(pair) = named.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(Error::Package(format!(
                "{} and {} are both named {}: evidence sealed by reference is found by its file name (verify --evidence FOLDER); give them distinct names, or seal them in separate packages",
                pair[0].1.display(),
                pair[1].1.display(),
                pair[0].0.to_string_lossy()
            )));
        }
    }
    Ok((planned, links))
}

/// Where an item's segment list is kept: `custos/segments/NAME.json` for an item at the top
/// of `data/` (or kept outside the package with `--reference`), NAME being its file name;
/// for a file of a sealed folder, `custos/segments/tree/PATH.json`, PATH being its path below
/// `data/` with `~` written `~7E` and `/` written `~2F`, which no two paths share (not `%`,
/// which BagIt tools would have to decode in tag manifests).
pub fn segment_list_path(item_path: &str) -> String {
    match item_path.strip_prefix("data/").filter(|below| below.contains('/')) {
        Some(below) => format!("{SEGMENTS_DIR}/tree/{}.json", below.replace('~', "~7E").replace('/', "~2F")),
        None => format!("{SEGMENTS_DIR}/{}.json", item_path.rsplit('/').next().unwrap_or(item_path)),
    }
}

/// The image files an acquisition (or an E01 copy) made in the new package, remembered so
/// that a failure removes them all.
struct MadeFiles<'a> {
    store: &'a PackageDir,
    folder: &'a str,
    made: std::cell::RefCell<Vec<(String, fs::File)>>,
    /// Signs checkpoints: the sealer's key.
    signer: &'a SigningKey,
}

impl MadeFiles<'_> {
    fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.folder)
    }

    fn remove_all(&self) {
        for (path, _) in self.made.borrow().iter() {
            let _ = self.store.remove(path);
        }
    }

    /// Syncs every file made and makes it read-only; with `from_disk`, drops its cached
    /// pages, so that what is read next comes from the disk.
    fn settle(&self, from_disk: bool) -> Result<(), Error> {
        for (path, file) in self.made.borrow().iter() {
            let failed = |what: String| Error::Package(format!("{path}: {what}"));
            file.sync_all().map_err(|e| failed(format!("cannot write the image to disk: {e}")))?;
            let mut permissions = file.metadata().map_err(|e| failed(e.to_string()))?.permissions();
            permissions.set_readonly(true);
            file.set_permissions(permissions).map_err(|e| failed(e.to_string()))?;
            if from_disk {
                let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
            }
        }
        Ok(())
    }

    /// The files made, opened again to be read, in the order `names` gives (each must have
    /// been made, each once).
    fn reopen(&self, names: &[String]) -> Result<Vec<OpenedPart>, Error> {
        let made = self.made.borrow();
        if names.len() != made.len() {
            return Err(Error::Package(format!(
                "{} image files were made, {} are named as the image's parts",
                made.len(),
                names.len()
            )));
        }
        names
            .iter()
            .map(|name| {
                let path = self.path(name);
                let (_, file) = made.iter().find(|(p, _)| *p == path).ok_or_else(|| {
                    Error::Package(format!("{path} is named as a part of the image but was not made"))
                })?;
                let file = file.try_clone().map_err(|e| Error::Package(format!("{path}: {e}")))?;
                Ok(OpenedPart { path, body: crate::store::PayloadBody::File(file) })
            })
            .collect()
    }
}

impl MadeFiles<'_> {
    fn keep(&self, path: String, file: fs::File) -> Result<fs::File, String> {
        let kept = file.try_clone().map_err(|e| format!("{path}: {e}"))?;
        self.made.borrow_mut().push((path, kept));
        Ok(file)
    }
}

impl ImageFiles for MadeFiles<'_> {
    fn create(&self, name: &str) -> Result<fs::File, String> {
        let path = self.path(name);
        bagit::check_payload_path(&path).map_err(|reason| format!("{path}: {reason}"))?;
        let file = self.store.create_for_copy(&path).map_err(|e| format!("cannot create {e}"))?;
        self.keep(path, file)
    }

    fn existing(&self, name: &str) -> Result<fs::File, String> {
        let path = self.path(name);
        bagit::check_payload_path(&path).map_err(|reason| format!("{path}: {reason}"))?;
        let file = self.store.open_for_update(&path).map_err(|e| format!("cannot continue {e}"))?;
        self.keep(path, file)
    }

    fn save_checkpoint(&self, bytes: &[u8]) -> Result<(), String> {
        let payload =
            String::from_utf8(bytes.to_vec()).map_err(|_| "a checkpoint is JSON text".to_owned())?;
        let mut line = SignedLine::sign(CHECKPOINT_PAYLOAD_TYPE, payload, self.signer)
            .to_bytes()
            .map_err(|e| format!("cannot sign the checkpoint: {e}"))?;
        line.push(b'\n');
        self.store.replace(CHECKPOINT_PATH, &line).map_err(|e| format!("cannot write the checkpoint {e}"))
    }
}

/// The strong digest a read-back compares, as for copies: BLAKE3 when it was computed
/// (the fastest), otherwise SHA-256 (always computed for a package).
fn read_back_algorithm(options: &HashOptions) -> Algorithm {
    custos_hash::copy_check_algorithm(&options.algorithms).unwrap_or(Algorithm::Sha256)
}

/// An image kept in several files, read back: each file's own digests (all of `options`'
/// algorithms) and the image's strong digest, which must equal the one acquired.
struct Parted {
    format: PartFormat,
    files: Vec<PayloadFile>,
    /// An E01's `error2` ranges.
    filled_sectors: Vec<[u64; 2]>,
}

/// An acquisition, read back and ready to be an item.
struct AcquiredItem {
    outcome: custos_hash::HashOutcome,
    record: serde_json::Map<String, serde_json::Value>,
    parted: Option<Parted>,
}

/// Runs an acquisition into new files under `data/`, then syncs them, makes them read-only
/// and (when asked, or always for an image kept in several files) reads them back from
/// disk with one strong digest, recording that check in the record.
fn acquire_into(
    made: &MadeFiles,
    path: &str,
    acquirer: &dyn Acquirer,
    options: &HashOptions,
    control: &Control,
) -> Result<AcquiredItem, Error> {
    let failed = |what: String| Error::Package(format!("{path}: {what}"));
    let Acquired { outcome, mut record, parts } =
        acquirer.acquire(made, options, control).map_err(&failed)?;
    made.settle(acquirer.verify_image())?;
    let algorithm = read_back_algorithm(options);
    let expected = outcome.digest(algorithm).map(|d| d.to_hex());
    let differs = |size: u64, found: Option<String>| {
        failed(format!(
            "the image read back from disk differs from what was acquired ({algorithm} {size} bytes {}, expected {} bytes {}): nothing was sealed",
            found.unwrap_or_default(),
            outcome.size,
            expected.clone().unwrap_or_default()
        ))
    };
    let reread = HashOptions { algorithms: vec![algorithm], ..HashOptions::default() };
    let (verification, parted) = match parts {
        None => {
            let opened = made.reopen(&[acquirer.name().to_owned()])?;
            let verification = if acquirer.verify_image() {
                let Some(OpenedPart { body: crate::store::PayloadBody::File(image), .. }) =
                    opened.into_iter().next()
                else {
                    return Err(failed("the image file was not made".into()));
                };
                let copy = hash_file(&image, Path::new(path), &reread, control)?;
                let found = copy.digest(algorithm).map(|d| d.to_hex());
                if copy.size != outcome.size || expected != found {
                    return Err(differs(copy.size, found));
                }
                serde_json::json!({ "result": "match", "algorithm": algorithm.name(), "read_from": "disk" })
            } else {
                serde_json::json!({ "result": "not_done" })
            };
            (verification, None)
        }
        Some((PartFormat::E01, names)) if !acquirer.verify_image() => {
            // The files' own digests are needed (read from the page cache); the media is
            // not decoded again, as asked.
            let (opened, digests) =
                crate::parts::hash_part_files(made.reopen(&names)?, &options.algorithms, control)
                    .map_err(|e| failed(format!("reading the image's files: {e}")))?;
            // Opening checks the structure (not the chunks) and gives the error2 ranges.
            let reader = custos_image::e01::E01Reader::from_files(opened)
                .map_err(|e| failed(format!("reading the image's files: {e}")))?;
            let filled_sectors = crate::parts::filled_sectors(&reader);
            let paths: Vec<String> = names.iter().map(|n| made.path(n)).collect();
            let files = part_files(&paths, digests);
            let verification = serde_json::json!({ "result": "not_done", "files": files.len() });
            (verification, Some(Parted { format: PartFormat::E01, files, filled_sectors }))
        }
        Some((format, names)) => {
            let opened = made.reopen(&names)?;
            let read = hash_parts(format, opened, &reread, &options.algorithms, Path::new(path), control)
                .map_err(|e| failed(format!("reading the image back: {e}")))?;
            let image = read.item.map_err(|e| failed(format!("reading the image back: {e}")))?;
            let found = image.digest(algorithm).map(|d| d.to_hex());
            if image.size != outcome.size || expected != found {
                return Err(differs(image.size, found));
            }
            let paths: Vec<String> = names.iter().map(|n| made.path(n)).collect();
            let files = part_files(&paths, read.parts);
            let verification = serde_json::json!({
                "result": "match",
                "algorithm": algorithm.name(),
                "read_from": "disk",
                "files": files.len(),
            });
            (verification, Some(Parted { format, files, filled_sectors: read.filled_sectors }))
        }
    };
    record.insert("image_verification".into(), verification);
    Ok(AcquiredItem { outcome, record, parted })
}

/// The payload entries of an image's parts, from reading them.
fn part_files(
    paths: &[String],
    parts: Vec<(u64, BTreeMap<Algorithm, custos_hash::Digest>)>,
) -> Vec<PayloadFile> {
    paths
        .iter()
        .zip(parts)
        .map(|(path, (size, digests))| PayloadFile {
            path: path.clone(),
            size,
            digests: digests.into_iter().collect(),
        })
        .collect()
}

/// The options an E01's media is hashed with: the caller's, with the MD5 and SHA-1 that
/// E01 stores (so the stored ones are checked, and the item records them).
pub fn e01_media_options(options: &HashOptions) -> HashOptions {
    let mut media = options.clone();
    for algorithm in [Algorithm::Md5, Algorithm::Sha1] {
        if !media.algorithms.contains(&algorithm) {
            media.algorithms.push(algorithm);
        }
    }
    media.algorithms.sort();
    media
}

/// An E01 set read for sealing.
struct SealedE01 {
    media: custos_hash::HashOutcome,
    parts: Vec<(u64, BTreeMap<Algorithm, custos_hash::Digest>)>,
    filled_sectors: Vec<[u64; 2]>,
}

/// Reads an E01 set's media from its opened files (every chunk checked) and, with
/// `part_algorithms`, the files' own digests. An image whose media differs from the MD5 or
/// SHA-1 it stores is refused: sealing it would sign a damaged image as sound.
fn read_e01_for_seal(
    label: &Path,
    parts: Vec<OpenedPart>,
    options: &HashOptions,
    part_algorithms: &[Algorithm],
    control: &Control,
) -> Result<SealedE01, Error> {
    let refused = |what: String| Error::Package(format!("{}: {what}", label.display()));
    let read =
        hash_parts(PartFormat::E01, parts, &e01_media_options(options), part_algorithms, label, control)
            .map_err(|e| refused(e.to_string()))?;
    let media = read.item.as_ref().map_err(|e| refused(e.to_string()))?;
    for (algorithm, stored) in &read.stored {
        let Some(found) = media.digest(*algorithm) else { continue };
        if found != stored {
            return Err(refused(format!(
                "the media's {algorithm} is {found}, the image stores {stored}: the image is damaged and is not sealed as sound (seal the folder that holds it to keep its files as they are)"
            )));
        }
    }
    let PartsOutcome { item, parts, filled_sectors, .. } = read;
    Ok(SealedE01 { media: item.map_err(|e| refused(e.to_string()))?, parts, filled_sectors })
}

/// Copies the E01 set whose first segment is `first` into `data/`, each segment file
/// copied and proven equal to its source with every algorithm, then reads the copies'
/// media for the item's digests.
fn copy_e01_set(
    made: &MadeFiles,
    first: &Path,
    options: &HashOptions,
    control: &Control,
) -> Result<(custos_hash::HashOutcome, Parted), Error> {
    let own = HashOptions { algorithms: options.algorithms.clone(), ..HashOptions::default() };
    let mut names = Vec::new();
    let mut copied = Vec::new();
    for source in e01_segment_paths(first)? {
        let name = source
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Package(format!("{}: segment names must be UTF-8", source.display())))?;
        let copy = made.create(name).map_err(Error::Package)?;
        let path = made.path(name);
        // Found by name next to the first: never through a link, never a FIFO.
        let opened = custos_hash::open_tree_file(&source)?;
        let outcome = copy_opened_and_hash_to(&opened, &source, copy, Path::new(&path), &own, control)?;
        copied.push(PayloadFile { path, size: outcome.size, digests: outcome.digests });
        names.push(name.to_owned());
    }
    made.settle(true)?;
    let read = read_e01_for_seal(first, made.reopen(&names)?, options, &[], control)?;
    Ok((read.media, Parted { format: PartFormat::E01, files: copied, filled_sectors: read.filled_sectors }))
}

/// An E01 set kept where it is (`--reference`): its files' digests and its media's, the
/// parts named by their paths.
fn reference_e01_set(
    first: &Path,
    options: &HashOptions,
    control: &Control,
) -> Result<(custos_hash::HashOutcome, Parted), Error> {
    let mut paths = Vec::new();
    let mut parts = Vec::new();
    for source in e01_segment_paths(first)? {
        let path = source
            .to_str()
            .ok_or_else(|| Error::Package(format!("{}: referenced paths must be UTF-8", source.display())))?
            .to_owned();
        let file = custos_hash::open_tree_file(&source)?;
        parts.push(OpenedPart { path: path.clone(), body: crate::store::PayloadBody::File(file) });
        paths.push(path);
    }
    let read = read_e01_for_seal(first, parts, options, &options.algorithms, control)?;
    let files = part_files(&paths, read.parts);
    Ok((read.media, Parted { format: PartFormat::E01, files, filled_sectors: read.filled_sectors }))
}

/// The segment files of the E01 set whose first segment is `first`, in order (opening the
/// set checks its whole structure).
fn e01_segment_paths(first: &Path) -> Result<Vec<PathBuf>, Error> {
    let reader = custos_image::e01::E01Reader::open(first)
        .map_err(|e| Error::Package(format!("{}: {e}", first.display())))?;
    Ok(reader.segments().iter().map(|s| s.path.clone()).collect())
}

/// Appends a custody event (see [`custody::append`]), ships the actor's public key (and a
/// receiver's, for a release) in `custos/keys/`, and refreshes the tag manifests, all
/// through the package's store and under its exclusive lock.
pub fn add_event(
    package: &Path,
    event: NewEvent,
    key: &SigningKey,
    public: &PublicKey,
    receiver: Option<&PublicKey>,
) -> Result<Appended, Error> {
    add_event_stamped(package, event, key, public, receiver, None)
}

/// [`add_event`], with the event's signature time-stamped by the TSA at `tsa` when given.
pub fn add_event_stamped(
    package: &Path,
    event: NewEvent,
    key: &SigningKey,
    public: &PublicKey,
    receiver: Option<&PublicKey>,
    tsa: Option<&str>,
) -> Result<Appended, Error> {
    add_event_if_unchanged(package, event, key, public, receiver, tsa, &|_| Ok(()))
}

/// [`add_event_stamped`], appending only if `unchanged` (run under the package's exclusive
/// lock, after every check of the log and before anything is written) says the package is
/// still what the caller judged: a signed claim about a package (`fixity_verified`) must be
/// about the package as it was checked, not as someone changed it meanwhile.
#[allow(clippy::too_many_arguments)]
pub fn add_event_if_unchanged(
    package: &Path,
    event: NewEvent,
    key: &SigningKey,
    public: &PublicKey,
    receiver: Option<&PublicKey>,
    tsa: Option<&str>,
    unchanged: &dyn Fn(&PackageDir) -> Result<(), Error>,
) -> Result<Appended, Error> {
    let store = open_package(package)?;
    let ship: Vec<&PublicKey> = std::iter::once(public).chain(receiver).collect();
    let check = |store: &PackageDir| unchanged(store).map(|()| Vec::new());
    let along = custody::AlongWith { ship: &ship, tsa, replace: &check, then: &refresh_tag_manifests };
    custody::append(&store, event, key, public, &along)
}

/// Records a legal order in the custody log (an `order_recorded` event signed with `key`),
/// with its document, when given as (file name, bytes), kept in [`crate::order::ORDERS_DIR`]
/// and its size and SHA-256 signed in the event; both under the package's lock.
#[allow(clippy::too_many_arguments)]
pub fn record_order(
    package: &Path,
    time: String,
    country: Option<String>,
    mut order: crate::order::Order,
    document: Option<(&str, &[u8])>,
    key: &SigningKey,
    public: &PublicKey,
    tsa: Option<&str>,
) -> Result<Appended, Error> {
    let store = open_package(package)?;
    if let Some((name, bytes)) = document {
        let sha256 = custody::sha256_hex(bytes);
        let path = crate::order::Order::document_path(name, &sha256);
        order.document = Some(crate::order::Document { path, size: bytes.len() as u64, sha256 });
    }
    order.check().map_err(|reason| Error::Package(format!("refused, nothing was signed: {reason}")))?;
    let kept: Vec<(crate::custody::kept::Document, &[u8])> =
        order.document.clone().into_iter().zip(document.map(|(_, bytes)| bytes)).collect();
    let mut event = NewEvent::new(Action::OrderRecorded, time);
    event.order = Some(order);
    event.country = country;
    append_keeping(&store, event, &kept, crate::order::ORDERS_DIR, key, public, tsa)
}

/// Appends a custody event (`event`, signed with `key`) whose attachments, given as (file
/// name, bytes), are kept in [`crate::layout::ATTACHMENTS_DIR`] with their sizes and SHA-256
/// signed in the event; all under the package's lock.
pub fn add_event_with_attachments(
    package: &Path,
    mut event: NewEvent,
    attachments: &[(&str, &[u8])],
    key: &SigningKey,
    public: &PublicKey,
    tsa: Option<&str>,
) -> Result<Appended, Error> {
    let store = open_package(package)?;
    let dir = crate::layout::ATTACHMENTS_DIR;
    let kept: Vec<(crate::custody::kept::Document, &[u8])> = attachments
        .iter()
        .map(|(name, bytes)| (crate::custody::kept::Document::of(dir, name, bytes), *bytes))
        .collect();
    if let Some(twice) =
        kept.iter().enumerate().find(|(i, (d, _))| kept[..*i].iter().any(|(e, _)| e.path == d.path))
    {
        return Err(Error::Package(format!(
            "refused, nothing was signed: {} is attached twice",
            twice.1 .0.path
        )));
    }
    event.attachments = kept.iter().map(|(document, _)| document.clone()).collect();
    append_keeping(&store, event, &kept, dir, key, public, tsa)
}

/// Appends `event` with `kept` files written into `folder` under the same lock, the files
/// outside data/ kept within what a verifier reads.
fn append_keeping(
    store: &PackageDir,
    event: NewEvent,
    kept: &[(crate::custody::kept::Document, &[u8])],
    folder: &str,
    key: &SigningKey,
    public: &PublicKey,
    tsa: Option<&str>,
) -> Result<Appended, Error> {
    let keep = |store: &PackageDir| -> Result<Vec<(String, Vec<u8>)>, Error> {
        if kept.is_empty() {
            return Ok(Vec::new());
        }
        // Every file outside data/ is read whole by verify, within one budget: a file that
        // would pass it would leave a genuine package that never verifies again.
        let outside: u64 = store
            .list()
            .map_err(|e| Error::Package(e.to_string()))?
            .iter()
            .filter(|e| !e.path.starts_with(b"data/"))
            .map(|e| match e.kind {
                custos_hash::EntryKind::File { size } => size,
                _ => 0,
            })
            .sum();
        let adding: u64 = kept.iter().map(|(_, bytes)| bytes.len() as u64).sum();
        // Room for the tag manifests and the events still to come.
        let budget = crate::verify::MAX_TAG_BYTES - (16 << 20);
        if outside + adding > budget {
            return Err(Error::Package(format!(
                "refused, nothing was signed: the files outside data/ would hold {} bytes, more than the {budget} a verifier reads; keep the file elsewhere and record its digest in a note",
                outside + adding
            )));
        }
        store.create_folders(folder).map_err(|e| Error::Package(format!("cannot create {e}")))?;
        // A kept file is never replaced: one of the same name with the same bytes is already
        // what this event names; with other bytes, it belongs to another event (or was
        // planted), and overwriting it would break that event's record.
        let mut writes = Vec::new();
        for (document, bytes) in kept {
            match store.read_small(&document.path, crate::verify::MAX_TAG_BYTES) {
                Ok(existing) if custody::sha256_hex(&existing) == document.sha256 => {}
                Ok(_) => {
                    return Err(Error::Package(format!(
                        "refused, nothing was signed: {} already holds other bytes; it is not replaced",
                        document.path
                    )))
                }
                Err(crate::store::StoreError::NotFound { .. }) => {
                    writes.push((document.path.clone(), bytes.to_vec()))
                }
                Err(e) => return Err(Error::Package(format!("cannot read {}: {e}", document.path))),
            }
        }
        Ok(writes)
    };
    let along = custody::AlongWith { ship: &[public], tsa, replace: &keep, then: &refresh_tag_manifests };
    custody::append(store, event, key, public, &along)
}

/// Adds `key`'s signature over the exact manifest bytes to `custos/manifest.json.sig` and
/// records a `cosigned` event, together, under the package's lock: a second (third, …)
/// principal vouches for the same manifest. Refused when the key already signed it, or when
/// the manifest has no valid signature by a key the package ships (nothing to vouch for).
/// `country`: where the evidence is, as the event states it.
pub fn cosign(
    package: &Path,
    time: String,
    country: Option<String>,
    key: &SigningKey,
    public: &PublicKey,
    tsa: Option<&str>,
) -> Result<Appended, Error> {
    let store = open_package(package)?;
    let sign = |store: &PackageDir| -> Result<Vec<(String, Vec<u8>)>, Error> {
        let read = |path: &str| {
            store.read_small(path, MAX_TAG_FILE_BYTES).map_err(|e| Error::Package(e.to_string()))
        };
        let manifest = read(MANIFEST_PATH)?;
        let mut signatures = SignatureFile::parse(&read(MANIFEST_SIGNATURES_PATH)?)?;
        let me = public.id().to_string();
        if signatures.signatures.iter().any(|entry| entry.key_id == me) {
            // The signature file is replaced before the event is appended (one file, then one
            // line; no write to two files is atomic). A cosign killed in between leaves this
            // key's signature with no `cosigned` event, which verify fails. Signing again is
            // refused, but that state is completed here: the same key's own valid signature
            // over these exact bytes, with no event of this key recording it, gets its event.
            // That is no new claim (the key already made it in the signature file), and only
            // the holder of the same key can complete it. The file is left as it is.
            let log = read(custody::CUSTODY_PATH)?;
            let manifest_digest = custody::sha256_hex(&manifest);
            let recorded = log.split(|&b| b == b'\n').filter(|l| !l.is_empty()).any(|line| {
                custody::parse_line_unverified(line).is_some_and(|event| {
                    event.actor.key_id == me
                        && event.manifest == manifest_digest
                        && matches!(event.action, Action::Sealed | Action::Cosigned)
                })
            });
            let mine =
                signatures.verify(MANIFEST_PAYLOAD_TYPE, &manifest, |id| (id == me).then_some(public.key))?;
            let valid =
                mine.contains(&crate::envelope::SignatureVerdict::Valid(crate::keys::KeyId::of(&public.key)));
            if recorded || !valid {
                return Err(Error::Package(format!(
                    "{} has already signed this manifest",
                    public.owner.name
                )));
            }
            let mut files = Vec::new();
            let token = manifest_token_path(&me);
            if let (Some(url), Err(crate::store::StoreError::NotFound { .. })) =
                (tsa, store.read_small(&token, MAX_TAG_FILE_BYTES))
            {
                if let Some(entry) = signatures.signatures.iter().find(|entry| entry.key_id == me) {
                    files.push((token, entry.time_stamp(url)?));
                }
            }
            return Ok(files);
        }
        let shipped = shipped_keys_in(store)?;
        let verdicts =
            signatures.verify(MANIFEST_PAYLOAD_TYPE, &manifest, |id| shipped.get(id).map(|k| k.key))?;
        if !verdicts.iter().any(|v| matches!(v, crate::envelope::SignatureVerdict::Valid(_))) {
            return Err(Error::Package(
                "the manifest has no valid signature to co-sign; nothing was signed".into(),
            ));
        }
        if signatures.signatures.len() >= crate::verify::MAX_MANIFEST_SIGNATURES {
            return Err(Error::Package("the manifest has as many signatures as a package may hold".into()));
        }
        signatures.sign(key, &manifest);
        let mut files = vec![(MANIFEST_SIGNATURES_PATH.to_owned(), signatures.to_bytes())];
        if let (Some(url), Some(entry)) = (tsa, signatures.signatures.last()) {
            files.push((manifest_token_path(&entry.key_id), entry.time_stamp(url)?));
        }
        Ok(files)
    };
    let mut event = NewEvent::new(Action::Cosigned, time);
    event.country = country;
    let along = custody::AlongWith { ship: &[public], tsa, replace: &sign, then: &refresh_tag_manifests };
    custody::append(&store, event, key, public, &along)
}

/// Opens an existing package's store.
fn open_package(package: &Path) -> Result<PackageDir, Error> {
    let store = PackageDir::open(package).map_err(|e| Error::Package(e.to_string()))?;
    match store.open_file(MANIFEST_PATH) {
        Ok(_) => Ok(store),
        Err(e) => Err(Error::Package(format!("{} is not an evidence package: {e}", package.display()))),
    }
}

/// A receipt of the log's newest event (its head), after the whole log verified under the
/// keys the package ships: what a custodian keeps to show later what the log contained.
pub fn head_receipt(package: &Path) -> Result<crate::receipt::Receipt, Error> {
    let store = open_package(package)?;
    let snapshot = crate::verify::Snapshot::take(&store).map_err(|e| Error::Package(e.to_string()))?;
    let (findings, _) = log_with_shipped_keys_in(&store, &snapshot)?;
    if let Some(problem) =
        findings.iter().find(|f| f.verdict == crate::findings::Verdict::Fail && f.check != "trust.signer")
    {
        return Err(Error::Package(format!(
            "the custody log does not verify ({} {}: {}); no receipt was written",
            problem.check, problem.subject, problem.detail
        )));
    }
    let manifest =
        snapshot.tag(MANIFEST_PATH).map_err(|e| Error::Package(format!("{MANIFEST_PATH}: {e}")))?;
    let log = snapshot
        .tag(custody::CUSTODY_PATH)
        .map_err(|e| Error::Package(format!("{}: {e}", custody::CUSTODY_PATH)))?;
    let lines: Vec<&[u8]> = log.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let last = lines.last().ok_or_else(|| Error::Package("the custody log is empty".into()))?;
    crate::receipt::Receipt::new(custody::sha256_hex(manifest), lines.len() as u64 - 1, last)
}

/// What an export to another format (CASE, DFXML, hashdeep) takes from a package, read in
/// one snapshot through its store: the manifest once a signature by a key the package ships
/// verifies over its exact bytes, the SHA-256 of those bytes (what the custody log names
/// and what stable export ids derive from), who signed, the custody events once the whole log
/// verifies, and each item's segment list once it is shown to be the one whose root the
/// signed manifest records.
#[derive(Debug, Clone)]
pub struct ExportSource {
    /// The signed manifest.
    pub manifest: Manifest,
    /// SHA-256 (hex) of `custos/manifest.json`'s bytes.
    pub manifest_sha256: String,
    /// The keys whose signatures over the manifest verified (keys the package ships: who
    /// they belong to is for `verify --trust`).
    pub signers: Vec<PublicKey>,
    /// Every custody event, in order.
    pub events: Vec<Event>,
    /// Item path → its segment list, for items that have one.
    pub segments: BTreeMap<String, custos_hash::segments::SegmentList>,
}

/// Reads what an export needs (see [`ExportSource`]). Refused, with the reason, when the
/// manifest has no valid signature by a key the package ships, when the custody log does not
/// verify, or when a segment list is not the one the manifest signs: another lab would take
/// the export for the package's verified claims.
pub fn read_for_export(package: &Path) -> Result<ExportSource, Error> {
    let store = open_package(package)?;
    let snapshot = crate::verify::Snapshot::take(&store).map_err(|e| Error::Package(e.to_string()))?;
    let bytes = snapshot.tag(MANIFEST_PATH).map_err(|e| Error::Package(format!("{MANIFEST_PATH}: {e}")))?;
    let (manifest, signers) = signed_manifest(&store, bytes)?;
    let manifest_sha256 = custody::sha256_hex(bytes);
    let (findings, events) = log_with_shipped_keys_in(&store, &snapshot)?;
    if let Some(problem) =
        findings.iter().find(|f| f.verdict == crate::findings::Verdict::Fail && f.check != "trust.signer")
    {
        return Err(Error::Package(format!(
            "the custody log does not verify ({} {}: {}); run custos verify",
            problem.check, problem.subject, problem.detail
        )));
    }
    let mut segments = BTreeMap::new();
    for item in &manifest.items {
        let Some(signed) = &item.segments else { continue };
        let list_path = segment_list_path(&item.path);
        let list = snapshot
            .tag_text(&list_path)
            .and_then(|text| serde_json::from_str::<SegmentRecord>(text.trim()).map_err(|e| e.to_string()))
            .and_then(|record| record.to_list())
            .map_err(|e| Error::Package(format!("{list_path}: {e}")))?;
        // The root binds the digests; the signed summary binds size, algorithm and count.
        if list.root().to_hex() != signed.root.to_ascii_lowercase()
            || list.spec.size != signed.size
            || list.spec.algorithm.name() != signed.algorithm
            || list.digests.len() as u64 != signed.count
        {
            return Err(Error::Package(format!(
                "{list_path} is not the segment list whose root the signed manifest records; run custos verify"
            )));
        }
        segments.insert(item.path.clone(), list);
    }
    Ok(ExportSource { manifest, manifest_sha256, signers, events, segments })
}

/// Reads a package's manifest through its store, checked only against the keys the package
/// ships (anyone can make such a package: who signed is for `verify --trust`), for commands
/// that work on the manifest's contents. Returns the manifest and who signed it.
pub fn read_manifest(package: &Path) -> Result<(Manifest, Vec<PublicKey>), Error> {
    let store = open_package(package)?;
    let bytes = read_tag(&store, MANIFEST_PATH)?;
    signed_manifest(&store, &bytes)
}

fn read_tag(store: &PackageDir, path: &str) -> Result<Vec<u8>, Error> {
    store.read_small(path, MAX_TAG_FILE_BYTES).map_err(|e| Error::Package(e.to_string()))
}

/// The manifest parsed from `bytes` once a signature over them verifies under a key the
/// package ships (a manifest nobody signed is never worked on), with the keys whose
/// signatures verified.
fn signed_manifest(store: &PackageDir, bytes: &[u8]) -> Result<(Manifest, Vec<PublicKey>), Error> {
    let signatures = SignatureFile::parse(&read_tag(store, MANIFEST_SIGNATURES_PATH)?)?;
    let shipped = shipped_keys_in(store)?;
    let verdicts = signatures.verify(MANIFEST_PAYLOAD_TYPE, bytes, |id| shipped.get(id).map(|k| k.key))?;
    let signers: Vec<PublicKey> = verdicts
        .iter()
        .filter_map(|v| match v {
            crate::envelope::SignatureVerdict::Valid(id) => shipped.get(&id.to_string()).cloned(),
            _ => None,
        })
        .collect();
    if signers.is_empty() {
        return Err(Error::Package(
            "the manifest has no valid signature by a key the package ships; run custos verify".into(),
        ));
    }
    Ok((Manifest::parse(bytes)?, signers))
}

/// The manifest in `store`, parsed only once a signature over its exact bytes verifies under
/// one of `keys`, or, when `keys` is empty, under a key the package ships (which shows the
/// manifest is intact as some key signed it; who signed is for `verify --trust`). Read with
/// the tag file cap, for commands that must know a package's signed list of files before
/// they fetch any (`store pull`).
pub fn signed_manifest_in(store: &dyn PackageStore, keys: &[PublicKey]) -> Result<Manifest, Error> {
    let read = |path: &str| {
        store.read_small(path, MAX_TAG_FILE_BYTES).map_err(|e| Error::Package(format!("{path}: {e}")))
    };
    let bytes = read(MANIFEST_PATH)?;
    let signatures = SignatureFile::parse(&read(MANIFEST_SIGNATURES_PATH)?)?;
    let (keys, whose): (BTreeMap<String, PublicKey>, &str) = if keys.is_empty() {
        (shipped_keys_in(store)?, "a key the package ships")
    } else {
        (keys.iter().map(|k| (k.id().to_string(), k.clone())).collect(), "a trusted key")
    };
    let verdicts = signatures.verify(MANIFEST_PAYLOAD_TYPE, &bytes, |id| keys.get(id).map(|k| k.key))?;
    if !verdicts.iter().any(|v| matches!(v, crate::envelope::SignatureVerdict::Valid(_))) {
        return Err(Error::Package(format!("the manifest has no valid signature by {whose}")));
    }
    Manifest::parse(&bytes)
}

/// Rewrites the tag manifests (the algorithms the package has) to describe it as it is.
pub fn refresh_tag_manifests(store: &PackageDir) -> Result<(), Error> {
    let algorithms = bagit::tag_manifest_algorithms(store)?;
    bagit::write_tag_manifests_in(store, &algorithms)
}

/// What a fixity check of a package's items found.
#[derive(Debug, Clone, Default)]
pub struct FixityObservation {
    /// Path → algorithm → hex, as observed now (sizes that differ are not hashed).
    pub observed: BTreeMap<String, BTreeMap<String, String>>,
    /// Every difference from the manifest, in words (empty: the check passed).
    pub failures: Vec<String>,
}

/// Re-hashes every item with the algorithms its manifest entry records, for a
/// `fixity_verified` or `fixity_failed` event, and names every difference from the manifest
/// (size, each algorithm). Only a manifest signed by a key the package ships is checked.
/// `progress`, when given, is told the bytes to read and then each window read.
pub fn observe_fixity(
    package: &Path,
    progress: Option<&dyn crate::verify::VerifyProgress>,
) -> Result<FixityObservation, Error> {
    let store = open_package(package)?;
    let bytes = read_tag(&store, MANIFEST_PATH)?;
    let (manifest, _) = signed_manifest(&store, &bytes)?;
    let mut found = FixityObservation::default();
    let report = |read: u64| {
        if let Some(progress) = progress {
            progress.read(read);
        }
    };
    let control = Control { progress: Some(&report), cancel: None };
    if let Some(progress) = progress {
        let items = manifest.items.iter().filter(|i| !i.reference);
        progress.payload(items.map(|i| i.files().iter().map(|(_, size)| size).sum::<u64>()).sum());
    }
    for item in manifest.items.iter().filter(|i| !i.reference) {
        if found.observed.contains_key(&item.path) {
            return Err(Error::Package(format!("{} is listed twice in the manifest", item.path)));
        }
        bagit::check_payload_path(&item.path)
            .map_err(|reason| Error::Package(format!("{}: {reason}", item.path)))?;
        let algorithms =
            item.digests.keys().map(|name| name.parse::<Algorithm>()).collect::<Result<Vec<_>, _>>()?;
        let options = HashOptions { algorithms, ..HashOptions::default() };
        if let Some(stored) = &item.stored_as {
            let digests = observe_parts(&store, item, stored, &options, &control, &mut found.failures)?;
            found.observed.insert(item.path.clone(), digests);
            continue;
        }
        let opened = match store.open_file(&item.path) {
            Ok(opened) => opened,
            Err(e) => {
                found.failures.push(format!("{}: {e}", item.path));
                continue;
            }
        };
        if opened.size != item.size {
            found
                .failures
                .push(format!("{}: {} bytes, the manifest says {}", item.path, opened.size, item.size));
            found.observed.insert(item.path.clone(), BTreeMap::new());
            continue;
        }
        let outcome = hash_file(&opened.file, Path::new(&item.path), &options, &control)?;
        let digests = observed_digests(&item.path, &item.digests, &outcome.digests, &mut found.failures);
        found.observed.insert(item.path.clone(), digests);
    }
    Ok(found)
}

/// The digests observed, as a fixity event records them; each that differs from the sealed
/// one is a failure.
fn observed_digests(
    path: &str,
    sealed: &BTreeMap<String, String>,
    computed: &[(Algorithm, custos_hash::Digest)],
    failures: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut digests = BTreeMap::new();
    for (algorithm, digest) in computed {
        let recorded = sealed.get(algorithm.name()).map(String::as_str).unwrap_or_default();
        if !recorded.eq_ignore_ascii_case(&digest.to_hex()) {
            failures.push(format!("{path}: {algorithm} is {digest}, the manifest says {recorded}"));
        }
        digests.insert(algorithm.name().to_owned(), digest.to_hex());
    }
    digests
}

/// A fixity check of an item kept in several files: every part's size and digests, then the
/// item's bytes (a split image's concatenation, an E01's media), read as verify reads them.
fn observe_parts(
    store: &PackageDir,
    item: &Item,
    stored: &StoredAs,
    options: &HashOptions,
    control: &Control,
    failures: &mut Vec<String>,
) -> Result<BTreeMap<String, String>, Error> {
    let mut opened = Vec::with_capacity(stored.parts.len());
    for part in &stored.parts {
        bagit::check_payload_path(&part.path)
            .map_err(|reason| Error::Package(format!("{}: {reason}", part.path)))?;
        match store.open_file(&part.path) {
            Ok(file) if file.size == part.size => opened.push(OpenedPart {
                path: part.path.clone(),
                body: crate::store::PayloadBody::File(file.file),
            }),
            Ok(file) => {
                failures.push(format!("{}: {} bytes, the manifest says {}", part.path, file.size, part.size));
                return Ok(BTreeMap::new());
            }
            Err(e) => {
                failures.push(format!("{}: {e}", part.path));
                return Ok(BTreeMap::new());
            }
        }
    }
    let mut part_algorithms: Vec<Algorithm> =
        stored.parts.iter().flat_map(|p| p.digests.keys().filter_map(|n| n.parse().ok())).collect();
    part_algorithms.sort();
    part_algorithms.dedup();
    let read =
        match hash_parts(stored.format, opened, options, &part_algorithms, Path::new(&item.path), control) {
            Ok(read) => read,
            Err(e) => {
                failures.push(format!("{}: {e}", item.path));
                return Ok(BTreeMap::new());
            }
        };
    for (part, (_, digests)) in stored.parts.iter().zip(&read.parts) {
        let computed: Vec<(Algorithm, custos_hash::Digest)> = digests
            .iter()
            .filter(|(a, _)| part.digests.contains_key(a.name()))
            .map(|(a, d)| (*a, d.clone()))
            .collect();
        observed_digests(&part.path, &part.digests, &computed, failures);
    }
    match read.item {
        Ok(outcome) => Ok(observed_digests(&item.path, &item.digests, &outcome.digests, failures)),
        Err(e) => {
            failures.push(format!("{}: {e}", item.path));
            Ok(BTreeMap::new())
        }
    }
}

/// Verifies a package: the bag, the manifest's signatures and their signers' trust, then
/// (only if a signature verified) the manifest's items against the bytes. `fast` skips
/// re-hashing payload bytes. Referenced items are reported as not checked; see
/// [`verify_with_evidence`].
pub fn verify(package: &Path, trust: &Trust, fast: bool) -> Vec<Finding> {
    verify_with_evidence(package, trust, fast, None)
}

/// [`verify`], with `evidence` supplying the bytes of referenced items: the file itself when
/// there is one referenced item, or a folder holding them under their file names.
pub fn verify_with_evidence(
    package: &Path,
    trust: &Trust,
    fast: bool,
    evidence: Option<&Path>,
) -> Vec<Finding> {
    verify_full(package, trust, fast, evidence).findings
}

/// [`verify_with_evidence`], returning the manifest, events and signers as well, at the
/// current time.
pub fn verify_full(package: &Path, trust: &Trust, fast: bool, evidence: Option<&Path>) -> Verification {
    let now = crate::time::parse_rfc3339(&crate::time::now_rfc3339()).unwrap_or(i64::MAX);
    verify_package(
        package,
        &VerifyOptions {
            trust,
            fast,
            by_segments: false,
            evidence,
            now,
            receipts: &[],
            tsa_certificates: &[],
            tsa_certificate_sets: &[],
            progress: None,
        },
    )
}

/// The custody log checked against the keys the package ships (not against trusted keys:
/// `verify --trust` decides who signed): the findings and every event whose signature
/// verified.
pub fn log_with_shipped_keys(package: &Path) -> Result<(Vec<Finding>, Vec<Event>), Error> {
    let store = open_package(package)?;
    let snapshot = crate::verify::Snapshot::take(&store).map_err(|e| Error::Package(e.to_string()))?;
    log_with_shipped_keys_in(&store, &snapshot)
}

fn log_with_shipped_keys_in(
    store: &PackageDir,
    snapshot: &crate::verify::Snapshot,
) -> Result<(Vec<Finding>, Vec<Event>), Error> {
    let shipped = shipped_keys_in(store)?;
    let manifest_bytes =
        snapshot.tag(MANIFEST_PATH).map_err(|e| Error::Package(format!("{MANIFEST_PATH}: {e}")))?;
    let manifest = Manifest::parse(manifest_bytes).ok();
    let input = custody::LogInput {
        log: snapshot.tag(custody::CUSTODY_PATH),
        manifest_bytes,
        manifest: manifest.as_ref(),
        now: crate::time::parse_rfc3339(&crate::time::now_rfc3339()).unwrap_or(i64::MAX),
        manifest_signers: None,
    };
    let verified = custody::verify_log(&input, &|id| shipped.get(id).map(|k| (k.clone(), false)));
    Ok((verified.findings, verified.events.into_iter().map(|(event, _)| event).collect()))
}

/// The public keys shipped in a package, by key id (unverified claims until trusted).
pub fn package_keys(package: &Path) -> BTreeMap<String, PublicKey> {
    PackageDir::open(package).ok().and_then(|store| shipped_keys_in(&store).ok()).unwrap_or_default()
}
