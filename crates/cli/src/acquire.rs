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
use custos_image::e01::{CaseInfo, Compression, E01Options, E01Writer};
use custos_image::split::{part_name, SplitWriter};
use custos_image::{ErrorPolicy, ReadOptions, Source, SourceKind, Tool};
use custos_manifest::manifest::PartFormat;
use custos_manifest::package::{e01_media_options, Acquired, Acquirer, ImageFiles};

use crate::render::escape;
use crate::resume::{CheckpointFile, Run, SourceIdentity};
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
    /// The image's format: `raw` (the bytes as read) or `e01` (EnCase 6 compatible E01
    /// with the media's MD5 and SHA-1 inside; SHA-256 and BLAKE3 stay in the manifest)
    #[arg(long, value_name = "FORMAT", default_value = "raw", value_parser = ["raw", "e01"])]
    pub format: String,
    /// Keep the image in files of at most SIZE (e.g. 2G): raw parts `NAME.001`, `NAME.002`…
    /// of exactly SIZE but the last; for e01, the segment size (`.E01`, `.E02`…)
    #[arg(long, value_name = "SIZE", value_parser = size::parse_size)]
    pub split: Option<u64>,
    /// E01 chunk compression: `none`, `fast` or `best` (deflate levels, as ewfacquire's -c)
    #[arg(long, value_name = "LEVEL", default_value = "fast", value_parser = ["none", "fast", "best"])]
    pub compression: String,
    /// Continue the interrupted acquisition of this package (killed, the medium unplugged,
    /// the destination full) from its last checkpoint, after reading back what it wrote
    #[arg(long, conflicts_with = "dry_run")]
    pub resume: bool,
    /// How often a raw acquisition of a file or device records a checkpoint that --resume
    /// can continue from (0: never)
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = size::parse_size_or_zero)]
    pub checkpoint_every: u64,
    /// The device, file or FIFO to acquire, or `-` for standard input
    #[arg(value_name = "SOURCE")]
    pub source: PathBuf,
}

/// The largest `--block-size`.
const MAX_BLOCK_SIZE: u64 = 64 << 20;

/// The smallest `--split` part.
const MIN_PART_SIZE: u64 = 1 << 20;

/// The most parts (or E01 segments) an image may have: a package of more files would be
/// slow to list and to verify, and is surely a mistyped size.
const MAX_PARTS: u64 = 100_000;

/// How the image is written into the package.
#[derive(Debug, Clone)]
enum ImageFormat {
    /// One raw file.
    Raw,
    /// Raw parts of this many bytes.
    Split(u64),
    /// An E01 segment set.
    E01(Box<E01Options>),
}

impl ImageFormat {
    fn from_args(args: &AcquireArgs, sector_size: u32) -> Result<ImageFormat> {
        if args.format == "raw" {
            return Ok(match args.split {
                None => ImageFormat::Raw,
                Some(size) if size < MIN_PART_SIZE => {
                    bail!("--split {size}: parts hold at least 1 MiB (give a size such as 2G)")
                }
                Some(size) => ImageFormat::Split(size),
            });
        }
        let compression = match args.compression.as_str() {
            "none" => Compression::None,
            "best" => Compression::Best,
            _ => Compression::Fast,
        };
        let segment_size = args.split.unwrap_or(custos_image::e01::DEFAULT_SEGMENT_SIZE);
        if segment_size < custos_image::e01::MIN_SEGMENT_SIZE {
            bail!(
                "--split {segment_size}: E01 segments hold at least {} bytes",
                custos_image::e01::MIN_SEGMENT_SIZE
            );
        }
        let case = CaseInfo {
            case_number: args.package.case.clone(),
            evidence_number: args.package.exhibit.clone().unwrap_or_default(),
            description: format!("acquired by custos acquire from {}", args.source.display()),
            software_version: env!("CARGO_PKG_VERSION").into(),
            operating_system: std::env::consts::OS.into(),
            ..CaseInfo::default()
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(ImageFormat::E01(Box::new(E01Options {
            segment_size,
            compression,
            sector_size,
            case,
            threads,
            ..E01Options::default()
        })))
    }

    /// What the record says about the image's files.
    fn describe(&self) -> serde_json::Value {
        match self {
            ImageFormat::Raw => serde_json::json!({ "format": "raw" }),
            ImageFormat::Split(size) => serde_json::json!({ "format": "split", "part_size": size }),
            ImageFormat::E01(options) => serde_json::json!({
                "format": "e01",
                "segment_size": options.segment_size,
                "compression": format!("{:?}", options.compression).to_lowercase(),
                "sector_size": options.sector_size,
            }),
        }
    }
}

/// Every parameter that shapes a raw image and its digests: a continued acquisition must
/// be given the same.
fn parameters(args: &AcquireArgs, options: &ReadOptions) -> Result<serde_json::Value> {
    let mut algorithms: Vec<&str> =
        Algorithm::parse_list(args.package.algo.as_deref().unwrap_or("sha256,blake3"))?
            .into_iter()
            .chain([Algorithm::Sha256])
            .map(Algorithm::name)
            .collect();
    algorithms.sort_unstable();
    algorithms.dedup();
    let mut parameters = serde_json::json!({
        "case": args.package.case,
        "exhibit": args.package.exhibit,
        "algorithms": algorithms,
        "segment_size": args.package.segment_size,
        "block_size": options.block_size,
        "retries": options.retries,
        "on_read_error": args.on_read_error,
    });
    if args.package.segment_size.is_some() {
        // Only with segments, so that checkpoints written before the choice existed still
        // match the same run's parameters.
        parameters["segment_algorithm"] = args.package.segment_algo.name().into();
    }
    Ok(parameters)
}

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
        format: ImageFormat::Raw,
        outcome: Mutex::new(None),
        checkpoints: None,
        checkpointed: Default::default(),
        resumable: Default::default(),
    };
    let phases = vec!["reading", "reading back"];
    let name = acquirer.name.clone();
    let contents = Contents::Acquired {
        acquirer: Some(&acquirer),
        name,
        source: described,
        size,
        phases,
        held: None,
        resume: None,
    };
    Ok(seal_package(package, &contents)?.0)
}

/// An item name: a plain file name, not hidden, so it stays one file under `data/`.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') || name.chars().any(char::is_control) {
        bail!("--name {name:?}: a plain file name (no folders, not hidden, no control characters)");
    }
    // What the bag would refuse at the end, refused before a byte is read (dry run alike).
    custos_manifest::bagit::check_payload_path(&format!("data/{name}"))
        .map_err(|reason| anyhow::anyhow!("--name {name:?}: {reason}"))
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
    // A folder is logical evidence: sealed as `custos seal` walks it (links recorded, not
    // followed; FIFOs, sockets and devices refused), every file copied and proven.
    if !stdin && args.source.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        if args.format != "raw" || args.split.is_some() || args.resume || args.name.is_some() || verify.source
        {
            bail!(
                "{} is a folder: its files are copied one by one (no --format, --split, --resume, --name or --verify source)",
                args.source.display()
            );
        }
        let paths = [args.source.clone()];
        return Ok(seal_package(&args.package, &Contents::Files { paths: &paths, reference: false })?.0);
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
    let mut format = ImageFormat::from_args(&args, info.logical_sector_size.bytes)?;
    if let (ImageFormat::E01(options), Some(device)) = (&mut format, &info.device) {
        options.case.model = device.model.clone().unwrap_or_default();
        options.case.serial_number = device.serial.clone().unwrap_or_default();
    }
    let part_size = match &format {
        ImageFormat::Raw => None,
        ImageFormat::Split(size) => Some(*size),
        ImageFormat::E01(options) => Some(options.segment_size),
    };
    if let (Some(part), Some(size)) = (part_size, info.size_bytes) {
        if size.div_ceil(part) > MAX_PARTS {
            bail!(
                "--split {part}: {} bytes would make more than {MAX_PARTS} files; give a larger size",
                size
            );
        }
    }
    check_segment_count(&args, info.size_bytes)?;
    if let (ImageFormat::E01(options), Some(size)) = (&format, info.size_bytes) {
        if !size.is_multiple_of(u64::from(options.sector_size)) {
            bail!(
                "{} holds {size} bytes, not a whole number of {}-byte sectors, and E01 holds only whole sectors: use --format raw",
                info.path,
                options.sector_size
            );
        }
    }
    let name = match (&args.name, stdin) {
        (Some(name), _) => name.clone(),
        (None, true) => bail!("give the image a name with --name NAME when acquiring standard input"),
        (None, false) => default_name(&args.source, info.kind, &args.format)?,
    };
    let name = item_name(name, &format);
    check_name(&name)?;
    let identity = SourceIdentity::of(&info);
    let mut checkpoints = match (&format, &identity) {
        (ImageFormat::Raw, Some(identity)) if args.checkpoint_every > 0 => {
            let run = Run {
                name: name.clone(),
                source: identity.clone(),
                parameters: parameters(&args, &options)?,
                started_at: custos_manifest::time::now_rfc3339(),
            };
            let every = args.checkpoint_every.next_multiple_of(u64::from(info.logical_sector_size.bytes));
            Some(Checkpointing { every, run, continuing: None })
        }
        _ => None,
    };
    let mut resume = None;
    if args.resume {
        let Some(checkpointing) = checkpoints.as_mut() else {
            bail!(
                "--resume continues a raw acquisition of a file or device (checkpoints are not kept for E01, split images or streams, nor with --checkpoint-every 0)"
            );
        };
        if !checkpointing.run.source.distinct && !verify.source {
            bail!(
                "{} reports no serial number or WWID, so another medium of the same size in its place could not be told apart: continue with --verify source,image (the whole source read again and compared), or start again",
                info.path
            );
        }
        let signer = crate::keygen::signer_public_key(&args.package.signer.key)?;
        let (folder, saved) = crate::resume::find_unfinished(&args.package.out, &signer)?;
        crate::resume::check_same(&saved, &checkpointing.run)?;
        checkpointing.run.started_at = saved.started_at.clone();
        checkpointing.continuing = Some(saved);
        resume = Some(folder);
    }
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
        format,
        outcome: Mutex::new(None),
        checkpoints,
        checkpointed: Default::default(),
        resumable: Default::default(),
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
        resume: resume.as_deref(),
    };
    let (status, _) = seal_package(&args.package, &contents)?;
    let outcome = acquirer.outcome.lock().map(|o| o.clone()).unwrap_or_default();
    if let (Some(summary), false) = (outcome, args.package.json) {
        crate::render::say_lines(&summary.text);
    }
    Ok(status)
}

/// What would be acquired, from the source's metadata alone: a dry run opens nothing.
/// Refuses segments too small for a source of `size` bytes: a segment list too long to keep
/// would refuse the package after the whole source was read.
fn check_segment_count(args: &AcquireArgs, size: Option<u64>) -> Result<()> {
    let (Some(segment), Some(size)) = (args.package.segment_size, size) else { return Ok(()) };
    let most = custos_manifest::package::max_segments(args.package.segment_algo);
    let count = size.div_ceil(segment.max(1));
    if count > most {
        bail!(
            "--segment-size {segment}: {size} bytes would make {count} segments, more than the {most} a segment list holds; give at least {} bytes",
            size.div_ceil(most)
        );
    }
    Ok(())
}

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
        None => default_name(&args.source, kind, &args.format)?,
    };
    let name = if args.format == "e01" { item_name(name, &ImageFormat::E01(Box::default())) } else { name };
    check_name(&name)?;
    check_segment_count(args, size)?;
    let described = format!("{} ({}; not opened in a dry run)", args.source.display(), kind_word(kind));
    let contents = Contents::Acquired {
        acquirer: None,
        name,
        source: described,
        size,
        phases: Vec::new(),
        held: None,
        resume: None,
    };
    Ok(seal_package(&args.package, &contents)?.0)
}

/// The image's default name: the source's file name, with `.raw` for a raw image of a
/// device.
fn default_name(source: &std::path::Path, kind: SourceKind, format: &str) -> Result<String> {
    let base = source
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: give the image a UTF-8 name with --name", source.display()))?;
    Ok(match kind {
        SourceKind::BlockDevice | SourceKind::CharacterDevice if format == "raw" => format!("{base}.raw"),
        _ => base.to_owned(),
    })
}

/// The item's name: an E01 item is named by its first segment, `NAME.E01`.
fn item_name(name: String, format: &ImageFormat) -> String {
    let is_e01 = std::path::Path::new(&name).extension().is_some_and(|e| e.eq_ignore_ascii_case("e01"));
    match format {
        ImageFormat::E01(_) if is_e01 => format!("{}.E01", &name[..name.len() - 4]),
        ImageFormat::E01(_) => format!("{name}.E01"),
        _ => name,
    }
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
    format: ImageFormat,
    outcome: Mutex<Option<AcquiredSummary>>,
    /// Checkpoints, for a raw acquisition of a file or device.
    checkpoints: Option<Checkpointing>,
    /// Set once a checkpoint is recorded.
    checkpointed: std::sync::atomic::AtomicBool,
    /// Set when the acquisition failed after a checkpoint, in a way a rerun can continue.
    resumable: std::sync::atomic::AtomicBool,
}

/// How a raw acquisition records checkpoints, and the one it continues from.
#[derive(Debug)]
struct Checkpointing {
    every: u64,
    /// What the checkpoints are of.
    run: Run,
    /// The interrupted run's checkpoint, when continuing.
    continuing: Option<CheckpointFile>,
}

fn tool() -> Tool {
    Tool { name: "custos".into(), version: env!("CARGO_PKG_VERSION").into() }
}

impl Acquirer for SourceAcquirer {
    fn name(&self) -> &str {
        &self.name
    }

    fn resumable(&self) -> bool {
        self.resumable.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn verify_image(&self) -> bool {
        self.verify.image
    }

    fn acquire(
        &self,
        files: &dyn ImageFiles,
        options: &HashOptions,
        control: &Control,
    ) -> Result<Acquired, String> {
        let source =
            self.source.lock().ok().and_then(|mut s| s.take()).ok_or("the source was already acquired")?;
        let create = |name: &str| files.create(name).map_err(std::io::Error::other);
        let (acquisition, parts) = match &self.format {
            ImageFormat::Raw => (self.acquire_raw(files, source, options, control)?, None),
            ImageFormat::Split(size) => {
                let name = self.name.clone();
                let make_part = |index: u32| {
                    if u64::from(index) >= MAX_PARTS {
                        return Err(std::io::Error::other(format!(
                            "more than {MAX_PARTS} parts: give a larger --split"
                        )));
                    }
                    create(&part_name(&name, index))
                };
                let mut writer = SplitWriter::new(*size, Box::new(make_part)).map_err(|e| e.to_string())?;
                let acquired =
                    custos_image::acquire(source, self.options, options, control, &tool(), Some(&mut writer))
                        .map_err(|e| crate::render::error_chain(&e))?;
                let count = match &acquired.result {
                    Ok(_) => writer.finish().map_err(|e| format!("cannot write the image: {e}"))?,
                    Err(_) => 0,
                };
                let names = (0..count).map(|index| part_name(&self.name, index)).collect();
                (acquired, Some((PartFormat::Split, names)))
            }
            ImageFormat::E01(e01) => {
                let base = self.name.get(..self.name.len() - ".E01".len()).unwrap_or(&self.name);
                let create_segment = |path: &std::path::Path| {
                    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    create(name)
                };
                let mut writer = E01Writer::create_with(base, (**e01).clone(), Box::new(create_segment))
                    .map_err(|e| e.to_string())?;
                // The media's MD5 and SHA-1 go inside the E01 (and into the manifest).
                let media = e01_media_options(options);
                let acquired =
                    custos_image::acquire(source, self.options, &media, control, &tool(), Some(&mut writer))
                        .map_err(|e| crate::render::error_chain(&e))?;
                let names = match &acquired.result {
                    Ok(outcome) => finish_e01(writer, &acquired.record, outcome)?,
                    Err(_) => Vec::new(),
                };
                (acquired, Some((PartFormat::E01, names)))
            }
        };
        let record = &acquisition.record;
        let outcome = acquisition.result.map_err(|e| {
            // A rerun can continue after these, from the last checkpoint.
            // A continued image that no longer matches its checkpoint is kept as it is too:
            // it may be the trace of what changed it.
            let continuable = matches!(
                e,
                custos_image::Error::MediumGone { .. }
                    | custos_image::Error::WriteImage { .. }
                    | custos_image::Error::CheckpointMismatch(_)
            );
            let checkpointed = self.checkpointed.load(std::sync::atomic::Ordering::Relaxed)
                || self.checkpoints.as_ref().is_some_and(|c| c.continuing.is_some());
            if continuable && checkpointed {
                self.resumable.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            format!("{}; nothing was sealed", crate::render::error_chain(&e))
        })?;
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
        map.insert("image_format".into(), self.format.describe());
        if let Some(saved) = self.checkpoints.as_ref().and_then(|c| c.continuing.as_ref()) {
            let from = saved.checkpoint.image_bytes;
            map.insert(
                "continued".into(),
                serde_json::json!({ "from_byte": from, "first_run_started_at": saved.started_at }),
            );
            text.push_str(&format!(
                "continued from byte {from}: the {} written before the interruption were read back and matched the checkpoint\n",
                human::size(from)
            ));
        }
        if let Ok(mut slot) = self.outcome.lock() {
            *slot = Some(AcquiredSummary { text, source_differs });
        }
        Ok(Acquired { outcome, record: map, parts })
    }
}

/// Closes an E01 set: its error2 section from the read-error map, the media's MD5 and
/// SHA-1 inside. Returns the segment files' names, in order.
fn finish_e01(
    mut writer: E01Writer,
    record: &custos_image::AcquisitionRecord,
    outcome: &HashOutcome,
) -> Result<Vec<String>, String> {
    writer.set_read_errors(&record.read_errors).map_err(|e| e.to_string())?;
    let md5 = outcome.digest(Algorithm::Md5).and_then(|d| <[u8; 16]>::try_from(d.0.as_slice()).ok());
    let sha1 = outcome.digest(Algorithm::Sha1).and_then(|d| <[u8; 20]>::try_from(d.0.as_slice()).ok());
    let paths = writer.finish(md5, sha1).map_err(|e| format!("cannot write the E01 image: {e}"))?;
    Ok(paths.iter().filter_map(|p| p.file_name()?.to_str().map(str::to_owned)).collect())
}

impl SourceAcquirer {
    /// A raw acquisition into one file, with checkpoints when they are kept, continuing the
    /// interrupted run's image when there is one.
    fn acquire_raw(
        &self,
        files: &dyn ImageFiles,
        source: Source,
        options: &HashOptions,
        control: &Control,
    ) -> Result<custos_image::Acquisition, String> {
        use std::io::Seek as _;
        let chain = |e: custos_image::Error| crate::render::error_chain(&e);
        let Some(checkpointing) = &self.checkpoints else {
            let mut image = files.create(&self.name)?;
            return custos_image::acquire(source, self.options, options, control, &tool(), Some(&mut image))
                .map_err(chain);
        };
        let continuing = checkpointing.continuing.as_ref();
        let mut image = match continuing {
            Some(saved) => {
                let image = files.existing(&self.name)?;
                let at = saved.checkpoint.image_bytes;
                let found = image.metadata().map_err(|e| e.to_string())?.len();
                if found < at {
                    return Err(format!(
                        "the unfinished image holds {found} bytes, its checkpoint is at byte {at}: it cannot be continued"
                    ));
                }
                // What was written after the checkpoint was never made durable: it is
                // overwritten from there, and cut only once the image's first `at` bytes
                // were read back and matched the checkpoint (custos_image::acquire_continued).
                let mut image = image;
                image.seek(std::io::SeekFrom::Start(at)).map_err(|e| e.to_string())?;
                image
            }
            None => files.create(&self.name)?,
        };
        let durable = image.try_clone().map_err(|e| e.to_string())?;
        let read_back = image.try_clone().map_err(|e| e.to_string())?;
        let mut save = |checkpoint: &custos_image::Checkpoint| -> std::io::Result<()> {
            durable.sync_data()?;
            let record = checkpointing.run.file(checkpoint);
            let bytes = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
            files.save_checkpoint(&bytes).map_err(std::io::Error::other)?;
            self.checkpointed.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        };
        let checkpoints = custos_image::Checkpoints { every: checkpointing.every, save: &mut save };
        let continuation = continuing.map(|saved| custos_image::Continuation {
            image: &read_back,
            checkpoint: saved.checkpoint.clone(),
        });
        custos_image::acquire_continued(
            source,
            self.options,
            options,
            control,
            &tool(),
            &mut image,
            Some(checkpoints),
            continuation,
        )
        .map_err(chain)
    }

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
