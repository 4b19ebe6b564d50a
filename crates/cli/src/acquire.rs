//! `custos acquire`: image a device, a file or a stream once, read-only, into a new sealed
//! package. One sequential read hashes every algorithm and the segments while the image is
//! written into the package; then the image is read back from disk (and, when asked, the
//! source again), each result recorded; the acquisition record (source, device, sector
//! sizes, parameters, times, every unreadable range) is signed with the item.

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::Args;
use custos_hash::{Algorithm, Control, HashOptions, HashOutcome};
use custos_image::{ErrorPolicy, ReadOptions, Source, SourceKind, Tool};
use custos_manifest::package::Acquirer;

use crate::render::escape;
use crate::seal::{seal_package, Contents, PackageArgs};
use crate::{human, size, Status};

#[derive(Debug, Args)]
pub struct AcquireArgs {
    #[command(flatten)]
    pub package: PackageArgs,
    /// The item's file name in the package [default: the source's name; `.raw` added for
    /// devices]; required for `-` (stdin)
    #[arg(long)]
    pub name: Option<String>,
    /// What to read again after acquiring: `image` (the written image, from disk),
    /// `source,image` (also the source, compared with the first read) or `none`
    #[arg(long, value_name = "LIST", default_value = "image")]
    pub verify: String,
    /// Unreadable sectors: `fill` them with zeros and record each range, or `stop`
    #[arg(long, value_name = "POLICY", default_value = "fill", value_parser = ["fill", "stop"])]
    pub on_read_error: String,
    /// Times a failing block is read again before it is re-read sector by sector
    #[arg(long, value_name = "N", default_value_t = custos_image::DEFAULT_RETRIES,
          value_parser = clap::value_parser!(u32).range(0..=100))]
    pub retries: u32,
    /// Bytes per sequential read (a whole number of sectors), e.g. 1M
    #[arg(long, value_name = "SIZE", value_parser = size::parse_size)]
    pub block_size: Option<u64>,
    /// The device, file or FIFO to acquire, or `-` for standard input
    #[arg(value_name = "SOURCE")]
    pub source: PathBuf,
}

/// The largest `--block-size`.
const MAX_BLOCK_SIZE: u64 = 64 << 20;

/// What `--verify` asks for.
#[derive(Debug, Clone, Copy)]
struct Verify {
    image: bool,
    source: bool,
}

fn parse_verify(list: &str) -> Result<Verify> {
    let mut verify = Verify { image: false, source: false };
    for word in list.split(',').map(str::trim) {
        match word {
            "image" => verify.image = true,
            "source" => verify.source = true,
            "none" if list.trim() == "none" => {}
            other => bail!("--verify {other}: give image, source,image or none"),
        }
    }
    Ok(verify)
}

/// `custos seal - --name NAME`: standard input, read once as an acquisition (the image
/// read back from disk, the record signed with the item).
pub fn seal_stdin(package: &PackageArgs, name: String) -> Result<Status> {
    check_name(&name)?;
    let source = Source::stdin().context("cannot read standard input")?;
    let size = source.info().size_bytes;
    let described = describe(source.info());
    let acquirer = SourceAcquirer {
        name,
        source: Mutex::new(Some(source)),
        path: PathBuf::from("-"),
        options: ReadOptions::default(),
        verify: Verify { image: true, source: false },
        outcome: Mutex::new(None),
    };
    let phases = vec!["reading", "reading back"];
    let name = acquirer.name.clone();
    let contents =
        Contents::Acquired { acquirer: Some(&acquirer), name, source: described, size, phases, held: None };
    Ok(seal_package(package, &contents)?.0)
}

/// An item name: a plain file name, not hidden, so it stays one file under `data/`.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') || name.chars().any(char::is_control) {
        bail!("--name {name:?}: a plain file name (no folders, not hidden, no control characters)");
    }
    Ok(())
}

pub fn run(args: AcquireArgs) -> Result<Status> {
    let verify = parse_verify(&args.verify)?;
    let mut options = ReadOptions {
        retries: args.retries,
        policy: if args.on_read_error == "stop" { ErrorPolicy::Stop } else { ErrorPolicy::Fill },
        ..ReadOptions::default()
    };
    if let Some(block) = args.block_size {
        // Each block is one buffer in memory: bounded, like every read of Custos.
        if block > MAX_BLOCK_SIZE {
            bail!("--block-size {block}: at most {} (64 MiB)", MAX_BLOCK_SIZE);
        }
        options.block_size = usize::try_from(block).context("--block-size is too large")?;
    }
    let stdin = args.source.as_os_str() == "-";
    // Cheap checks before the source is opened (a FIFO's open waits for its writer).
    if args.package.out.symlink_metadata().is_ok() {
        bail!("{} already exists (packages are never overwritten)", args.package.out.display());
    }
    if args.package.dry_run {
        return dry_run(&args, verify);
    }
    let source = if stdin { Source::stdin() } else { Source::open(&args.source) }
        .with_context(|| format!("cannot acquire {}", args.source.display()))?;
    let info = source.info().clone();
    let streamed = !info.kind.is_positioned();
    if verify.source && streamed {
        bail!(
            "--verify source needs a source that can be read twice (a file or a device); {} is a stream: use --verify image",
            info.path
        );
    }
    options
        .validate(info.logical_sector_size.bytes)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("--block-size")?;
    let name = match (&args.name, stdin) {
        (Some(name), _) => name.clone(),
        (None, true) => bail!("give the image a name with --name NAME when acquiring standard input"),
        (None, false) => default_name(&args.source, info.kind)?,
    };
    check_name(&name)?;
    let mut phases = vec!["acquiring"];
    if verify.source {
        phases.push("re-reading the source");
    }
    if verify.image {
        phases.push("reading back");
    }
    let described = describe(&info);
    let acquirer = SourceAcquirer {
        name,
        source: Mutex::new(Some(source)),
        path: args.source.clone(),
        options,
        verify,
        outcome: Mutex::new(None),
    };
    let name = acquirer.name.clone();
    // A source that read differently the second time is recorded in the package, and makes
    // this a failed check (the status, and the JSON record's verdict).
    let held = || acquirer.outcome.lock().map_or(true, |o| o.as_ref().is_none_or(|s| !s.source_differs));
    let contents = Contents::Acquired {
        acquirer: Some(&acquirer),
        name,
        source: described,
        size: info.size_bytes,
        phases,
        held: Some(&held),
    };
    let (status, _) = seal_package(&args.package, &contents)?;
    let outcome = acquirer.outcome.lock().map(|o| o.clone()).unwrap_or_default();
    if let (Some(summary), false) = (outcome, args.package.json) {
        eprint!("{}", summary.text);
    }
    Ok(status)
}

/// What would be acquired, from the source's metadata alone: a dry run opens nothing.
fn dry_run(args: &AcquireArgs, verify: Verify) -> Result<Status> {
    use std::os::unix::fs::FileTypeExt as _;
    let stdin = args.source.as_os_str() == "-";
    let (kind, size) = if stdin {
        (SourceKind::Stdin, None)
    } else {
        let metadata = std::fs::symlink_metadata(&args.source)
            .with_context(|| format!("cannot acquire {}", args.source.display()))?;
        let file_type = metadata.file_type();
        match () {
            _ if file_type.is_file() => (SourceKind::RegularFile, Some(metadata.len())),
            _ if file_type.is_block_device() => (SourceKind::BlockDevice, None),
            _ if file_type.is_fifo() => (SourceKind::Fifo, None),
            _ if file_type.is_char_device() => (SourceKind::CharacterDevice, None),
            _ => bail!(
                "{} is not a file, device or FIFO (a link is refused: name the device itself)",
                args.source.display()
            ),
        }
    };
    if verify.source && !kind.is_positioned() {
        bail!(
            "--verify source needs a source that can be read twice (a file or a device); {} is a stream",
            args.source.display()
        );
    }
    let name = match &args.name {
        Some(name) => name.clone(),
        None if stdin => bail!("give the image a name with --name NAME when acquiring standard input"),
        None => default_name(&args.source, kind)?,
    };
    check_name(&name)?;
    let described = format!("{} ({}; not opened in a dry run)", args.source.display(), kind_word(kind));
    let contents =
        Contents::Acquired { acquirer: None, name, source: described, size, phases: Vec::new(), held: None };
    Ok(seal_package(&args.package, &contents)?.0)
}

/// The item's default name: the source's file name, with `.raw` for a device.
fn default_name(source: &std::path::Path, kind: SourceKind) -> Result<String> {
    let base = source
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: give the image a UTF-8 name with --name", source.display()))?;
    Ok(match kind {
        SourceKind::BlockDevice | SourceKind::CharacterDevice => format!("{base}.raw"),
        _ => base.to_owned(),
    })
}

fn kind_word(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::RegularFile => "file",
        SourceKind::BlockDevice => "block device",
        SourceKind::Fifo => "FIFO",
        SourceKind::CharacterDevice => "character device",
        SourceKind::Stdin => "standard input",
        _ => "source",
    }
}

/// `/dev/loop0 (block device, 512-byte logical sectors, model …, serial …)`.
fn describe(info: &custos_image::SourceInfo) -> String {
    let mut parts = vec![kind_word(info.kind).to_owned()];
    if info.kind == SourceKind::BlockDevice {
        parts.push(format!("{}-byte sectors", info.logical_sector_size.bytes));
    }
    if let Some(device) = &info.device {
        if let Some(model) = &device.model {
            parts.push(format!("model {model}"));
        }
        if let Some(serial) = &device.serial {
            parts.push(format!("serial {serial}"));
        }
    }
    format!("{} ({})", info.path, parts.join(", "))
}

/// What the CLI says after sealing: the counts and every filled range.
#[derive(Debug, Clone, Default)]
struct AcquiredSummary {
    text: String,
    source_differs: bool,
}

/// The acquisition the package crate runs into its new image file.
#[derive(Debug)]
struct SourceAcquirer {
    name: String,
    /// Taken by the one acquisition.
    source: Mutex<Option<Source>>,
    path: PathBuf,
    options: ReadOptions,
    verify: Verify,
    outcome: Mutex<Option<AcquiredSummary>>,
}

fn tool() -> Tool {
    Tool { name: "custos".into(), version: env!("CARGO_PKG_VERSION").into() }
}

impl Acquirer for SourceAcquirer {
    fn name(&self) -> &str {
        &self.name
    }

    fn verify_image(&self) -> bool {
        self.verify.image
    }

    fn acquire(
        &self,
        image: &mut std::fs::File,
        options: &HashOptions,
        control: &Control,
    ) -> Result<(HashOutcome, serde_json::Map<String, serde_json::Value>), String> {
        let source =
            self.source.lock().ok().and_then(|mut s| s.take()).ok_or("the source was already acquired")?;
        let acquisition = custos_image::acquire(source, self.options, options, control, &tool(), Some(image))
            .map_err(|e| crate::render::error_chain(&e))?;
        let record = &acquisition.record;
        let outcome = acquisition
            .result
            .map_err(|e| format!("{}; nothing was sealed", crate::render::error_chain(&e)))?;
        let mut map = match serde_json::to_value(record) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err("the acquisition record could not be written".into()),
        };
        let mut text = format!(
            "acquired {} ({} sectors of {} bytes{}), substituted {} in {} range(s)\n",
            human::size(record.bytes_read),
            human::count(record.sector_count),
            record.read_errors.sector_size,
            if record.sector_remainder_bytes > 0 {
                format!(" and {} bytes", record.sector_remainder_bytes)
            } else {
                String::new()
            },
            human::size(record.bytes_substituted),
            record.read_errors.ranges.len()
        );
        for range in &record.read_errors.ranges {
            text.push_str(&format!(
                "  unreadable, filled with zeros: sectors {} to {} ({}): {}\n",
                human::count(range.start_sector),
                human::count(range.start_sector + range.sector_count.saturating_sub(1)),
                human::byte_range(range.byte_offset, range.byte_end()),
                escape(&range.error)
            ));
        }
        let mut source_differs = false;
        if self.verify.source {
            let verification = self.reread_source(&outcome, options, control)?;
            source_differs = verification.get("result").and_then(|r| r.as_str()) == Some("differs");
            if source_differs {
                text.push_str(&format!(
                    "custos: warning: the source read a second time differs from the first read ({}); both are recorded, the image holds the first\n",
                    verification.get("detail").and_then(|d| d.as_str()).unwrap_or("")
                ));
            } else {
                text.push_str("the source read a second time matches the image\n");
            }
            map.insert("source_verification".into(), verification);
        }
        if let Ok(mut slot) = self.outcome.lock() {
            *slot = Some(AcquiredSummary { text, source_differs });
        }
        Ok((outcome, map))
    }
}

impl SourceAcquirer {
    /// Reads the source once more under the same policy and compares one strong digest
    /// with the first read's.
    fn reread_source(
        &self,
        first: &HashOutcome,
        options: &HashOptions,
        control: &Control,
    ) -> Result<serde_json::Value, String> {
        let algorithm = if options.algorithms.contains(&Algorithm::Blake3) {
            Algorithm::Blake3
        } else {
            Algorithm::Sha256
        };
        let source = Source::open(&self.path).map_err(|e| crate::render::error_chain(&e))?;
        let hash = HashOptions { algorithms: vec![algorithm], ..HashOptions::default() };
        let again = custos_image::acquire(source, self.options, &hash, control, &tool(), None)
            .map_err(|e| crate::render::error_chain(&e))?;
        let expected = first.digest(algorithm).map(|d| d.to_hex()).unwrap_or_default();
        let substituted = again.record.bytes_substituted;
        Ok(match again.result {
            Ok(outcome) => {
                let found = outcome.digest(algorithm).map(|d| d.to_hex()).unwrap_or_default();
                if found == expected && outcome.size == first.size {
                    serde_json::json!({ "result": "match", "algorithm": algorithm.name(), "bytes_substituted": substituted })
                } else {
                    serde_json::json!({
                        "result": "differs",
                        "algorithm": algorithm.name(),
                        "digest": found,
                        "bytes": outcome.size,
                        "bytes_substituted": substituted,
                        "detail": format!("{} bytes with {algorithm} {found}, first read {} bytes with {expected}", outcome.size, first.size),
                    })
                }
            }
            Err(error) => serde_json::json!({
                "result": "differs",
                "algorithm": algorithm.name(),
                "detail": format!("the second read failed: {}", crate::render::error_chain(&error)),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_verify;

    #[test]
    fn verify_lists() {
        assert!(parse_verify("image").is_ok_and(|v| v.image && !v.source));
        assert!(parse_verify("source,image").is_ok_and(|v| v.image && v.source));
        assert!(parse_verify("image,source").is_ok_and(|v| v.image && v.source));
        assert!(parse_verify("none").is_ok_and(|v| !v.image && !v.source));
        assert!(parse_verify("none,image").is_err());
        assert!(parse_verify("imgae").is_err());
    }
}
