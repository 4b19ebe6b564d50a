//! `custos store push` and `custos store pull`: packages to and from S3-compatible stores.
//! The work is in `custos_s3`; this module parses, renders and, after a pull, verifies the
//! copy with exactly `custos verify`'s code.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use custos_s3::{LockMode, PushReport, Retention, S3Client, S3Url};

use crate::evidence::VerifyArgs;
use crate::judge::JudgeArgs;
use crate::Status;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Upload a sealed package to s3://BUCKET/PREFIX (never over existing objects), each
    /// object's MD5 checked by the store; optionally under Object Lock
    Push(PushArgs),
    /// Download the package at s3://BUCKET/PREFIX into a new folder, then verify it there
    Pull(PullArgs),
}

impl StoreCommand {
    /// Whether JSON was asked for.
    pub fn json(&self) -> bool {
        match self {
            StoreCommand::Push(args) => args.json,
            StoreCommand::Pull(args) => args.json,
        }
    }
}

/// An Object Lock retention mode.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Users with the bypass permission may still shorten or remove it
    Governance,
    /// No one may shorten or remove it before the date
    Compliance,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The local package folder
    pub package: PathBuf,
    /// Where to put it: s3://BUCKET/PREFIX (no object may exist under PREFIX/ yet)
    pub destination: String,
    /// Keep every object under Object Lock retention until DATE (YYYY-MM-DD, or RFC 3339);
    /// the bucket must have Object Lock enabled
    #[arg(long, value_name = "DATE", requires = "lock_mode")]
    pub retain_until: Option<String>,
    /// The retention mode for --retain-until
    #[arg(long, value_enum, requires = "retain_until")]
    pub lock_mode: Option<Mode>,
    /// Put a legal hold on every object (lasts until removed)
    #[arg(long)]
    pub legal_hold: bool,
    /// One JSON record
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The package in the store: s3://BUCKET/PREFIX
    pub source: String,
    /// A new folder to pull it into (its parent must exist)
    pub dir: PathBuf,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// JSON records: the pull, then verify's report of the copy
    #[arg(long)]
    pub json: bool,
    /// No progress bar
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(command: StoreCommand) -> Result<Status> {
    match command {
        StoreCommand::Push(args) => push(args),
        StoreCommand::Pull(args) => pull(args),
    }
}

fn parse_url(text: &str) -> Result<S3Url> {
    S3Url::parse(text).map_err(anyhow::Error::new)
}

fn push(args: PushArgs) -> Result<Status> {
    let url = parse_url(&args.destination)?;
    let lock = match (&args.retain_until, args.lock_mode) {
        (Some(date), Some(mode)) => {
            let until = Retention::parse_date(date)?;
            let mode = match mode {
                Mode::Governance => LockMode::Governance,
                Mode::Compliance => LockMode::Compliance,
            };
            Some((mode, until))
        }
        _ => None,
    };
    let retention = Retention { lock, legal_hold: args.legal_hold };
    let client = S3Client::shared().context("cannot configure the S3 client")?;
    let report = custos_s3::push(&client, &args.package, &url, &retention)
        .with_context(|| format!("cannot push {} to {url}", args.package.display()))?;
    if args.json {
        crate::render::print_json(&push_record(&args, &report))?;
    } else {
        println!(
            "pushed {} objects ({} bytes) from {} to {}; the store checked every object's MD5 and answered the expected ETag",
            report.objects.len(),
            report.bytes,
            args.package.display(),
            report.url
        );
        if retention.is_requested() {
            // Every object was checked against the request; the first stands for them all.
            if let Some(readback) = report.objects.first().and_then(|o| o.retention.as_ref()) {
                println!(
                    "the store reports on every object: retention {} until {}, legal hold {}",
                    readback.mode.as_deref().unwrap_or("none"),
                    readback.retain_until.as_deref().unwrap_or("-"),
                    readback.legal_hold.as_deref().unwrap_or("none")
                );
            }
        }
    }
    Ok(Status::Ok)
}

fn push_record(args: &PushArgs, report: &PushReport) -> serde_json::Value {
    let objects: Vec<serde_json::Value> = report
        .objects
        .iter()
        .map(|object| {
            let mut record = serde_json::json!({
                "path": object.path,
                "key": object.key,
                "size": object.size,
                "md5": object.md5,
                "etag": object.etag,
            });
            if let Some(readback) = &object.retention {
                let mut retention = serde_json::Map::new();
                for (name, value) in [
                    ("mode", &readback.mode),
                    ("retain_until", &readback.retain_until),
                    ("legal_hold", &readback.legal_hold),
                ] {
                    if let Some(value) = value {
                        retention.insert(name.to_owned(), value.clone().into());
                    }
                }
                record["retention"] = retention.into();
            }
            record
        })
        .collect();
    serde_json::json!({
        "package": args.package.display().to_string(),
        "destination": report.url.to_string(),
        "objects": objects,
        "bytes": report.bytes,
        "verdict": "pass",
    })
}

fn pull(args: PullArgs) -> Result<Status> {
    let url = parse_url(&args.source)?;
    // The verifier's keys first: the signed manifest is checked with them before anything is
    // fetched, and a --trust path that is wrong is said before the download, not after.
    let verifier = crate::judge::Verifier::load(&args.judge)?;
    let client = S3Client::shared().context("cannot configure the S3 client")?;
    let pulled = custos_s3::pull(client, &url, &args.dir, &verifier.given_keys())
        .with_context(|| format!("cannot pull {url} into {}", args.dir.display()))?;
    if args.json {
        let record = serde_json::json!({
            "source": pulled.url.to_string(),
            "files": pulled.files,
            "bytes": pulled.bytes,
            "written": [{ "path": args.dir.display().to_string(), "kind": "package" }],
        });
        crate::render::print_json(&record)?;
    } else {
        println!(
            "pulled {} files ({} bytes) from {} into {}; verifying the copy:\n",
            pulled.files,
            pulled.bytes,
            pulled.url,
            args.dir.display()
        );
    }
    // The copy is judged like any package: a store can serve any bytes, the signed manifest
    // decides.
    crate::evidence::run_verify(VerifyArgs {
        package: args.dir,
        judge: args.judge,
        evidence: None,
        fast: false,
        by_segments: false,
        receipt: Vec::new(),
        access: crate::evidence::AccessArgs::default(),
        json: args.json,
        quiet: args.quiet,
    })
}
