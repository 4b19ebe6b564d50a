//! `custos acquire --resume`: the checkpoint an acquisition keeps in its unfinished package
//! (`custos/acquisition-checkpoint.json`, format `custos-acquisition-checkpoint/2`, one line
//! signed by the acquiring key), and
//! finding and checking it before an interrupted acquisition continues. A checkpoint says
//! which source was being read with which parameters, and how far the image is written and
//! durable; continuing refuses any other source or parameters, and reads the written image
//! back against its BLAKE3 before reading the source on (custos_image::acquire_continued).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use custos_image::{Checkpoint, SourceInfo, SourceKind};
use custos_manifest::envelope::SignedLine;
use custos_manifest::keys::PublicKey;
use custos_manifest::package::{interrupted_seals, CHECKPOINT_PATH, CHECKPOINT_PAYLOAD_TYPE};
use custos_manifest::store::PackageDir;
use serde::{Deserialize, Serialize};

/// The checkpoint file's format word.
pub const CHECKPOINT_FORMAT: &str = "custos-acquisition-checkpoint/2";

/// Clock skew allowed for a checkpoint's start time.
const SKEW_SECONDS: i64 = 300;

/// The most bytes a checkpoint file may hold (its error map is one entry per filled range).
const MAX_CHECKPOINT_BYTES: u64 = 16 << 20;

/// What an unfinished acquisition keeps, to be continued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointFile {
    /// [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// The image's name under `data/`.
    pub name: String,
    /// The source, as it must be found again.
    pub source: SourceIdentity,
    /// Every parameter that shapes the image and its digests; continuing needs the same.
    pub parameters: serde_json::Value,
    /// When the first run started (RFC 3339).
    pub started_at: String,
    /// How far it got.
    pub checkpoint: Checkpoint,
}

/// What an acquisition that keeps checkpoints is: the image, the source and the parameters.
#[derive(Debug, Clone)]
pub struct Run {
    /// The image's name under `data/`.
    pub name: String,
    /// The source.
    pub source: SourceIdentity,
    /// Its parameters.
    pub parameters: serde_json::Value,
    /// When its first run started.
    pub started_at: String,
}

impl Run {
    /// The checkpoint file for `checkpoint` of this run.
    pub fn file(&self, checkpoint: &Checkpoint) -> CheckpointFile {
        CheckpointFile {
            format: CHECKPOINT_FORMAT.into(),
            name: self.name.clone(),
            source: self.source.clone(),
            parameters: self.parameters.clone(),
            started_at: self.started_at.clone(),
            checkpoint: checkpoint.clone(),
        }
    }
}

/// What identifies a source across runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceIdentity {
    /// The path given.
    pub path: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// A regular file's device, inode, modification and change times; a block device's
    /// number, model, serial, WWID, loop backing file and sector sizes: what would differ if
    /// another medium were there.
    pub identity: String,
    /// Whether the identity tells media apart: false for a block device with no serial,
    /// WWID or backing file (another card of the same size in the same reader looks the
    /// same).
    #[serde(default = "yes")]
    pub distinct: bool,
}

fn yes() -> bool {
    true
}

impl SourceIdentity {
    /// The identity of an opened source; `None` for streams, which cannot be continued.
    pub fn of(info: &SourceInfo) -> Option<SourceIdentity> {
        let size_bytes = info.size_bytes?;
        let identity = match info.kind {
            SourceKind::RegularFile => {
                let metadata = std::fs::metadata(&info.path).ok()?;
                // The change time too: `touch -r` can put a modification time back, nothing
                // but the kernel sets the change time.
                format!("file {}", file_stamp(&metadata))
            }
            SourceKind::BlockDevice => {
                let device = info.device.as_ref();
                let field = |value: Option<&String>| value.cloned().unwrap_or_else(|| "-".into());
                // A loop device is its backing file: that file's identity, not the slot's.
                let backing = device.and_then(|d| d.loop_backing_file.as_ref()).map(|path| {
                    std::fs::metadata(path)
                        .map_or_else(|_| format!("{path} (gone)"), |m| format!("{path} {}", file_stamp(&m)))
                });
                format!(
                    "block device {} model {} serial {} wwid {} backing file {} sectors {}/{}",
                    device.map_or("-", |d| d.dev.as_str()),
                    field(device.and_then(|d| d.model.as_ref())),
                    field(device.and_then(|d| d.serial.as_ref())),
                    field(device.and_then(|d| d.wwid.as_ref())),
                    backing.unwrap_or_else(|| "-".into()),
                    info.logical_sector_size.bytes,
                    info.physical_sector_size.bytes
                )
            }
            _ => return None,
        };
        let distinct = match info.kind {
            SourceKind::BlockDevice => info
                .device
                .as_ref()
                .is_some_and(|d| d.serial.is_some() || d.wwid.is_some() || d.loop_backing_file.is_some()),
            _ => true,
        };
        Some(SourceIdentity { path: info.path.clone(), size_bytes, identity, distinct })
    }

    /// Whether two identities are the same source (the path may be given another way).
    fn same(&self, other: &SourceIdentity) -> bool {
        self.size_bytes == other.size_bytes && self.identity == other.identity
    }
}

/// A file's device, inode, modification and change times.
fn file_stamp(metadata: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt as _;
    format!(
        "dev {} inode {} modified {}.{:09} changed {}.{:09}",
        metadata.dev(),
        metadata.ino(),
        metadata.mtime(),
        metadata.mtime_nsec(),
        metadata.ctime(),
        metadata.ctime_nsec()
    )
}

/// The unfinished acquisition of `out` that holds a checkpoint, with its checkpoint. The
/// checkpoint must be signed by `signer` (the key acquiring now, which signed it then): it
/// lies in the destination, where anyone who can write there could otherwise make the
/// continued acquisition sign their unreadable ranges and start time.
pub fn find_unfinished(out: &Path, signer: &PublicKey) -> Result<(PathBuf, CheckpointFile)> {
    let mut found = Vec::new();
    for folder in interrupted_seals(out) {
        let Ok(store) = PackageDir::open_exact(&folder) else {
            bail!(
                "{} is not a folder Custos made (a link in its place?): refusing to continue it",
                folder.display()
            );
        };
        let mut stored = match store.open_file(CHECKPOINT_PATH) {
            Ok(stored) => stored,
            Err(custos_manifest::store::StoreError::NotFound { .. }) => continue,
            Err(e) => bail!("{}: the checkpoint cannot be read: {e}", folder.display()),
        };
        if stored.size > MAX_CHECKPOINT_BYTES {
            bail!("{}: the checkpoint is larger than any Custos writes", folder.display());
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stored.file, &mut bytes)
            .with_context(|| format!("cannot read the checkpoint in {}", folder.display()))?;
        let signer_id = signer.id().to_string();
        let by_signer = |id: &str| (id == signer_id).then_some(signer.key);
        let payload = SignedLine::open(bytes.trim_ascii_end(), CHECKPOINT_PAYLOAD_TYPE, by_signer)
            .map_err(|reason| {
                anyhow::anyhow!(
                    "{}: the checkpoint cannot be trusted ({reason}): continue with the key that started the acquisition; a checkpoint edited, or written by a version before 0.3, cannot be continued (start again; nothing was removed)",
                    folder.display()
                )
            })?;
        let checkpoint: CheckpointFile = serde_json::from_str(&payload)
            .with_context(|| format!("{}: the checkpoint is malformed", folder.display()))?;
        if checkpoint.format != CHECKPOINT_FORMAT {
            bail!("{}: not a {CHECKPOINT_FORMAT} checkpoint", folder.display());
        }
        let now =
            custos_manifest::time::parse_rfc3339(&custos_manifest::time::now_rfc3339()).unwrap_or(i64::MAX);
        match custos_manifest::time::parse_rfc3339(&checkpoint.started_at) {
            Some(started) if started <= now.saturating_add(SKEW_SECONDS) => {}
            _ => bail!(
                "{}: the checkpoint says the acquisition started at {:?}, which is not a time before now",
                folder.display(),
                checkpoint.started_at
            ),
        }
        found.push((folder, checkpoint));
    }
    match found.len() {
        0 => bail!(
            "nothing to continue: no unfinished acquisition of {} holds a checkpoint (one stopped before its first checkpoint, by Ctrl-C, or not a raw acquisition starts again without --resume)",
            out.display()
        ),
        1 => Ok(found.remove(0)),
        _ => bail!(
            "several unfinished acquisitions of {} hold checkpoints ({}): remove all but the one to continue",
            out.display(),
            found.iter().map(|(f, _)| f.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Refuses to continue unless the source and every parameter are the interrupted run's.
pub fn check_same(saved: &CheckpointFile, run: &Run) -> Result<()> {
    let (name, source, parameters) = (&run.name, &run.source, &run.parameters);
    if &saved.name != name {
        bail!("the interrupted acquisition wrote the image {:?}, this one would write {name:?}: give the same --name", saved.name);
    }
    if !saved.source.same(source) {
        bail!(
            "the interrupted acquisition read {} ({} bytes, {}); the source now is {} ({} bytes, {}): refusing to continue an image with another source",
            saved.source.path,
            saved.source.size_bytes,
            saved.source.identity,
            source.path,
            source.size_bytes,
            source.identity
        );
    }
    if &saved.parameters != parameters {
        let (Some(old), Some(new)) = (saved.parameters.as_object(), parameters.as_object()) else {
            bail!("the interrupted acquisition's parameters differ");
        };
        let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        let differing: Vec<String> = keys
            .into_iter()
            .filter(|key| old.get(*key) != new.get(*key))
            .map(|key| {
                format!(
                    "{key} was {}, now {}",
                    old.get(key).map_or("unset".into(), ToString::to_string),
                    new.get(key).map_or("unset".into(), ToString::to_string)
                )
            })
            .collect();
        bail!("give the interrupted acquisition's parameters to continue it: {}", differing.join("; "));
    }
    Ok(())
}
