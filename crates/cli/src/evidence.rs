//! `custos seal`, `custos custody …` and `custos verify`: evidence packages, their custody
//! log, and the verifier's report.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use custos_hash::{Algorithm, Control, SegmentSpec};
use custos_manifest::custody::{Action, NewEvent};
use custos_manifest::findings::{overall, Finding, Verdict};
use custos_manifest::keys::PublicKey;
use custos_manifest::manifest::{Case, Category, LegalBasis};
use custos_manifest::package::{add_event_stamped, seal, verify_package, SealRequest, Trust, VerifyOptions};
use custos_manifest::verify::CustodySummary;
use custos_policy::{LoadedPolicy, PolicyVerdict};

use crate::policy::{print_matrix, read_policy, PolicyReport};
use serde::Serialize;

use crate::keygen::{load_public_key, load_signer};
use crate::render::escape;
use crate::{progress, size, Status};

/// The signer's key, shared by every command that signs.
#[derive(Debug, Args)]
pub struct SignerArgs {
    /// The signer's key: PATH or PATH.key, with PATH.pub beside it
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Read the key's passphrase from the first line of FILE
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SealArgs {
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Case reference
    #[arg(long)]
    pub case: String,
    /// Exhibit number
    #[arg(long)]
    pub exhibit: Option<String>,
    /// ISO 3166-1 alpha-2 code of the sealing jurisdiction
    #[arg(long, value_name = "CC")]
    pub jurisdiction: Option<String>,
    /// The kind of data: content, traffic or subscriber
    #[arg(long, value_parser = ["content", "traffic", "subscriber"])]
    pub category: Option<String>,
    /// KIND:REFERENCE[:AUTHORITY], e.g. warrant:AG-Berlin-1-Gs-1/26 (repeatable)
    #[arg(long, value_name = "BASIS")]
    pub legal_basis: Vec<String>,
    /// Where the sealing happens
    #[arg(long)]
    pub location: Option<String>,
    /// Digests to record (sha256 is always added) [default: sha256,blake3]
    #[arg(long, value_name = "LIST")]
    pub algo: Option<String>,
    /// Also record segment digests of this size (e.g. 64M)
    #[arg(long, value_name = "SIZE", value_parser = size::parse_size)]
    pub segment_size: Option<u64>,
    /// Record the evidence where it is instead of copying it (verify needs --evidence)
    #[arg(long)]
    pub reference: bool,
    /// The package folder to create (never overwritten)
    #[arg(long, value_name = "PKG")]
    pub out: PathBuf,
    #[command(flatten)]
    pub anchors: AnchorArgs,
    /// Evidence files or block devices
    #[arg(value_name = "EVIDENCE", required = true)]
    pub evidence: Vec<PathBuf>,
    /// No progress bar
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Check everything and show what would be sealed and signed, then stop: no passphrase,
    /// nothing written
    #[arg(long)]
    pub dry_run: bool,
    /// Print the sealed manifest's summary as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run_seal(args: SealArgs) -> Result<Status> {
    // Cheap checks first: nobody should type a passphrase for a command that cannot run.
    for source in &args.evidence {
        std::fs::metadata(source)
            .with_context(|| format!("cannot read the evidence {}", source.display()))?;
    }
    if args.out.symlink_metadata().is_ok() {
        bail!("{} already exists (packages are never overwritten)", args.out.display());
    }
    for leftover in custos_manifest::package::interrupted_seals(&args.out) {
        eprintln!(
            "custos: note: {} is left over from an interrupted seal of {}; it is not a package (remove it)",
            leftover.display(),
            args.out.display()
        );
    }
    let mut algorithms = Algorithm::parse_list(args.algo.as_deref().unwrap_or("sha256,blake3"))?;
    if !algorithms.contains(&Algorithm::Sha256) {
        algorithms.push(Algorithm::Sha256);
    }
    let category = args.category.as_deref().map(|c| match c {
        "traffic" => Category::Traffic,
        "subscriber" => Category::Subscriber,
        _ => Category::Content,
    });
    let legal_basis = args.legal_basis.iter().map(|b| LegalBasis::parse(b)).collect::<Result<Vec<_>, _>>()?;
    if legal_basis.is_empty() {
        eprintln!(
            "custos: warning: no --legal-basis given; courts that require one will not accept this package (it cannot be added after sealing)"
        );
    }
    // What will be signed, shown before the passphrase is asked: a signature is forever.
    let signer = crate::keygen::signer_public_key(&args.signer.key)?;
    let summary = SealSummary {
        package: &args.out,
        signer: &signer,
        case: &args.case,
        exhibit: args.exhibit.as_deref(),
        legal_basis: &legal_basis,
        category: args.category.as_deref(),
        algorithms: &algorithms,
        segment_size: args.segment_size,
        evidence: &args.evidence,
        reference: args.reference,
    };
    if args.dry_run {
        if args.json {
            println!("{}", summary.json());
        } else {
            print!("{}", summary.text());
            println!("dry run: nothing was signed or written");
        }
        return Ok(Status::Ok);
    }
    if !args.json && !args.quiet {
        eprint!("{}", summary.text());
    }
    let (secret, public) = load_signer(&args.signer.key, args.signer.passphrase_file.as_deref())?;
    // Each file is copied and hashed, then its copy read back; with --reference it is only
    // hashed, which the bar shows as the copy phase.
    let files = summary.sizes().into_iter().map(|(name, size)| (name, size.unwrap_or(0))).collect();
    let bar = progress::SealBar::new(files, args.quiet || args.reference);
    let tick = |bytes: u64| bar.advance(bytes);
    let request = SealRequest {
        evidence: &args.evidence,
        reference: args.reference,
        case: Case { reference: args.case, exhibit: args.exhibit },
        jurisdiction: args.jurisdiction,
        category,
        legal_basis,
        location: args.location,
        algorithms,
        segments: args.segment_size.map(|size| SegmentSpec { size, algorithm: Algorithm::Blake3 }),
        signer: &secret,
        signer_public: &public,
        sealed_at: custos_manifest::time::now_rfc3339(),
        tsa: args.anchors.tsa.as_deref(),
    };
    let interrupted = interrupt_flag()?;
    let sealed = seal(&args.out, &request, &Control { progress: Some(&tick), cancel: Some(&interrupted) });
    bar.finish();
    if interrupted.load(std::sync::atomic::Ordering::Relaxed) && sealed.is_err() {
        bail!(
            "interrupted: nothing was sealed, and the partial copy was removed ({} does not exist)",
            args.out.display()
        );
    }
    let manifest = sealed.with_context(|| format!("cannot seal {}", args.out.display()))?;
    if let Some(path) = &args.anchors.receipt {
        write_receipt(path, &custos_manifest::package::head_receipt(&args.out)?)?;
    }
    if args.json {
        let record = serde_json::json!({
            "package": args.out.display().to_string(),
            "signer": { "key_id": public.id().to_string(), "name": public.owner.name },
            "manifest": manifest,
            "written": [crate::render::written(&args.out, "package")],
        });
        println!("{record}");
    } else {
        println!(
            "sealed {} ({} item(s), case {}), signed by {} ({})",
            args.out.display(),
            manifest.items.len(),
            escape(&manifest.case.reference),
            escape(&public.owner.name),
            short(&public.id().to_string())
        );
        for item in &manifest.items {
            for (algorithm, digest) in &item.digests {
                println!("  {algorithm:<7} {digest}  {}", item.path);
            }
        }
    }
    Ok(Status::Ok)
}

/// A flag that Ctrl-C, SIGTERM and SIGHUP raise, for the hash engine to stop at its next
/// window: the seal then removes its partial package. A second signal ends the process at
/// once (the hidden partial folder is then named by the next seal).
fn interrupt_flag() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        // The shutdown is registered first: it acts only when the flag is already raised.
        signal_hook::flag::register_conditional_shutdown(signal, 130, std::sync::Arc::clone(&flag))
            .and_then(|_| signal_hook::flag::register(signal, std::sync::Arc::clone(&flag)))
            .context("cannot handle interruptions")?;
    }
    Ok(flag)
}

/// What `seal` is about to sign, for the person who signs it.
struct SealSummary<'a> {
    package: &'a Path,
    signer: &'a PublicKey,
    case: &'a str,
    exhibit: Option<&'a str>,
    legal_basis: &'a [LegalBasis],
    category: Option<&'a str>,
    algorithms: &'a [Algorithm],
    segment_size: Option<u64>,
    evidence: &'a [PathBuf],
    reference: bool,
}

impl SealSummary<'_> {
    fn sizes(&self) -> Vec<(String, Option<u64>)> {
        self.evidence
            .iter()
            .map(|p| (p.display().to_string(), std::fs::metadata(p).ok().map(|m| m.len())))
            .collect()
    }

    fn text(&self) -> String {
        let owner = &self.signer.owner;
        let mut text = format!(
            "sealing into {}, signed by {} ({}{}; key {}):\n",
            self.package.display(),
            escape(&owner.name),
            escape(&owner.role),
            owner.jurisdiction.as_deref().map(|j| format!(", {}", escape(j))).unwrap_or_default(),
            short(&self.signer.id().to_string())
        );
        let exhibit = self.exhibit.map(|e| format!(", exhibit {}", escape(e))).unwrap_or_default();
        text.push_str(&format!("  case         {}{exhibit}\n", escape(self.case)));
        if self.legal_basis.is_empty() {
            text.push_str("  legal basis  none\n");
        }
        for basis in self.legal_basis {
            let authority =
                basis.authority.as_deref().map(|a| format!(" ({})", escape(a))).unwrap_or_default();
            text.push_str(&format!(
                "  legal basis  {}: {}{authority}\n",
                basis.kind,
                escape(&basis.reference)
            ));
        }
        text.push_str(&format!("  category     {}\n", self.category.unwrap_or("not stated")));
        for (path, size) in self.sizes() {
            let size = size.map_or_else(|| "size unknown".into(), crate::human::size);
            let kept = if self.reference { ", recorded where it is" } else { ", copied into the package" };
            text.push_str(&format!("  evidence     {} ({size}{kept})\n", escape(&path)));
        }
        let names: Vec<&str> = self.algorithms.iter().map(|a| a.name()).collect();
        let segments =
            self.segment_size.map(|s| format!("; segments of {}", crate::human::size(s))).unwrap_or_default();
        text.push_str(&format!("  digests      {}{segments}\n", names.join(", ")));
        text
    }

    fn json(&self) -> serde_json::Value {
        let evidence: Vec<serde_json::Value> = self
            .sizes()
            .into_iter()
            .map(|(path, size)| serde_json::json!({ "path": path, "size": size }))
            .collect();
        serde_json::json!({
            "dry_run": true,
            "package": self.package.display().to_string(),
            "signer": { "key_id": self.signer.id().to_string(), "name": self.signer.owner.name },
            "case": { "reference": self.case, "exhibit": self.exhibit },
            "legal_basis": self.legal_basis,
            "category": self.category,
            "algorithms": self.algorithms.iter().map(|a| a.name()).collect::<Vec<_>>(),
            "segment_size": self.segment_size,
            "reference": self.reference,
            "evidence": evidence,
            "verdict": "pass",
        })
    }
}

/// Anchors outside the package that every signing command can write.
#[derive(Debug, Args)]
pub struct AnchorArgs {
    /// Also write a receipt of the event appended to FILE (never overwritten): keep it to
    /// show later that the log still holds the event (`verify --receipt`)
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
    /// Have the signatures time-stamped by this RFC 3161 authority (http://…)
    #[arg(long, value_name = "URL")]
    pub tsa: Option<String>,
}

/// What every custody event takes.
#[derive(Debug, Args)]
pub struct EventArgs {
    /// The package
    pub package: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Why
    #[arg(long)]
    pub purpose: Option<String>,
    /// Where
    #[arg(long)]
    pub location: Option<String>,
    #[command(flatten)]
    pub anchors: AnchorArgs,
    /// Print the appended event as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CustodyCommand {
    /// Release custody to another key holder (pending until they accept)
    Release {
        #[command(flatten)]
        event: EventArgs,
        /// The receiver's public key file
        #[arg(long, value_name = "RECEIVER.pub")]
        to: PathBuf,
    },
    /// Accept custody released to your key
    Accept {
        #[command(flatten)]
        event: EventArgs,
    },
    /// Withdraw your pending release (before the receiver accepts)
    Withdraw {
        #[command(flatten)]
        event: EventArgs,
    },
    /// Record another event (accessed, examined, fixity_verified, fixity_failed, copied,
    /// disclosed, preservation_renewed, returned, destroyed)
    Record {
        #[command(flatten)]
        event: EventArgs,
        /// What happened
        #[arg(long)]
        action: String,
        /// Free text
        #[arg(long)]
        note: Option<String>,
    },
    /// Write a receipt of the log's newest event (its head) to FILE, after checking the log
    Receipt {
        /// The package
        package: PathBuf,
        /// The receipt file to write (never overwritten)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the receipt's summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show the log (signatures checked against the keys the package ships)
    Log {
        /// The package
        package: PathBuf,
        /// One JSON object per event
        #[arg(long)]
        json: bool,
    },
}

pub fn run_custody(command: CustodyCommand) -> Result<Status> {
    let now = custos_manifest::time::now_rfc3339();
    let (args, action, receiver, note) = match command {
        CustodyCommand::Log { package, json } => return show_log(&package, json),
        CustodyCommand::Receipt { package, out, json } => {
            let receipt = custos_manifest::package::head_receipt(&package)
                .with_context(|| format!("cannot write a receipt for {}", package.display()))?;
            write_receipt(&out, &receipt)?;
            if json {
                let summary = serde_json::json!({
                    "package": package.display().to_string(),
                    "sequence": receipt.sequence,
                    "head": receipt.head,
                    "written": [crate::render::written(&out, "receipt")],
                });
                println!("{summary}");
            }
            return Ok(Status::Ok);
        }
        CustodyCommand::Release { event, to } => (event, Action::Released, Some(load_public_key(&to)?), None),
        CustodyCommand::Accept { event } => (event, Action::Accepted, None, None),
        CustodyCommand::Withdraw { event } => (event, Action::Withdrawn, None, None),
        CustodyCommand::Record { event, action, note } => {
            let action = Action::parse(&action).with_context(|| format!("unknown action `{action}`"))?;
            if matches!(
                action,
                Action::Sealed | Action::Released | Action::Accepted | Action::Withdrawn | Action::Cosigned
            ) {
                bail!(
                    "`{}` events are made by seal, custody release, accept and withdraw, and cosign",
                    action.name()
                );
            }
            (event, action, None, note)
        }
    };
    let EventArgs { package, signer, purpose, location, anchors, json } = args;
    let AnchorArgs { receipt, tsa } = anchors;
    // Cheap checks first: nobody should type a passphrase for a command that cannot run.
    if !package.join(custos_manifest::package::MANIFEST_PATH).is_file() {
        bail!("{} is not an evidence package (no custos/manifest.json)", package.display());
    }
    if let Some(out) = &receipt {
        if out.symlink_metadata().is_ok() {
            bail!("{} already exists (receipts are never overwritten)", out.display());
        }
    }
    let mut event = NewEvent::new(action, now);
    event.receiver = receiver.as_ref().map(|r| r.id().to_string());
    event.purpose = purpose;
    event.location = location;
    event.note = note;
    if matches!(action, Action::FixityVerified | Action::FixityFailed) {
        // The event records what was observed. A failed check is never recorded as a
        // verified one; it is custody information too, recorded as `fixity_failed`.
        let fixity = custos_manifest::package::observe_fixity(&package)?;
        match (action, fixity.failures.is_empty()) {
            (Action::FixityVerified, false) => {
                for failure in &fixity.failures {
                    println!("FAIL  {}", escape(failure));
                }
                eprintln!(
                    "custos: the fixity check failed; nothing was recorded. To record the failure: custos custody record {} --action fixity_failed --key …",
                    package.display()
                );
                return Ok(Status::Failed);
            }
            (Action::FixityFailed, true) => {
                bail!("the fixity check passed: record it as fixity_verified, not fixity_failed")
            }
            _ => {}
        }
        event.observed_digests = fixity.observed;
        if action == Action::FixityFailed && event.note.is_none() {
            event.note = Some(fixity.failures.join("; "));
        }
    }
    let (secret, public) = load_signer(&signer.key, signer.passphrase_file.as_deref())?;
    let appended = add_event_stamped(&package, event, &secret, &public, receiver.as_ref(), tsa.as_deref())
        .with_context(|| format!("cannot add to the custody log of {}", package.display()))?;
    let event = &appended.event;
    if json {
        println!("{}", serde_json::to_string(event)?);
    } else {
        println!(
            "event {}: {} by {} at {}",
            event.sequence,
            event.action.name(),
            escape(&event.actor.name),
            event.time
        );
        if let Some(receiver) = &receiver {
            println!(
                "custody passes only when {} accepts: custos custody accept {} --key THEIR-KEY",
                escape(&receiver.owner.name),
                package.display()
            );
        }
    }
    if let Some(out) = receipt {
        write_receipt(&out, &appended.receipt()?)?;
    }
    Ok(Status::Ok)
}

#[derive(Debug, Args)]
pub struct CosignArgs {
    /// The package
    pub package: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub anchors: AnchorArgs,
    /// Print the appended event as JSON
    #[arg(long)]
    pub json: bool,
}

/// `custos cosign`: a second (third, …) signature over the exact manifest bytes, recorded
/// in the custody log.
pub fn run_cosign(args: CosignArgs) -> Result<Status> {
    if !args.package.join(custos_manifest::package::MANIFEST_PATH).is_file() {
        bail!("{} is not an evidence package (no custos/manifest.json)", args.package.display());
    }
    let (secret, public) = load_signer(&args.signer.key, args.signer.passphrase_file.as_deref())?;
    let appended = custos_manifest::package::cosign(
        &args.package,
        custos_manifest::time::now_rfc3339(),
        &secret,
        &public,
        args.anchors.tsa.as_deref(),
    )
    .with_context(|| format!("cannot co-sign {}", args.package.display()))?;
    if args.json {
        println!("{}", serde_json::to_string(&appended.event)?);
    } else {
        println!(
            "co-signed the manifest of {} as {} ({}); recorded as event {}",
            args.package.display(),
            escape(&public.owner.name),
            short(&public.id().to_string()),
            appended.event.sequence
        );
    }
    if let Some(out) = args.anchors.receipt {
        write_receipt(&out, &appended.receipt()?)?;
    }
    Ok(Status::Ok)
}

/// Writes a receipt to a new file (never overwriting) and says on stderr what it is for.
fn write_receipt(out: &Path, receipt: &custos_manifest::receipt::Receipt) -> Result<()> {
    std::fs::File::create_new(out)
        .and_then(|mut file| std::io::Write::write_all(&mut file, &receipt.to_bytes()))
        .with_context(|| {
            format!("cannot write the receipt {} (existing files are never overwritten)", out.display())
        })?;
    eprintln!(
        "receipt of event {} (head {}) written to {}: keep it; `custos verify --receipt {}` shows whether the log still holds it",
        receipt.sequence,
        receipt.head,
        out.display(),
        out.display()
    );
    Ok(())
}

fn show_log(package: &Path, json: bool) -> Result<Status> {
    let (findings, events) = custos_manifest::package::log_with_shipped_keys(package)
        .with_context(|| format!("cannot read the custody log of {}", package.display()))?;
    for event in &events {
        if json {
            println!("{}", serde_json::to_string(event)?);
        } else {
            let receiver =
                event.receiver.as_deref().map(|r| format!(" to {}", escape(short(r)))).unwrap_or_default();
            println!(
                "{:>3}  {}  {:<20} {} ({}, key {}){receiver}",
                event.sequence,
                escape(&event.time),
                event.action.name(),
                escape(&event.actor.name),
                escape(&event.actor.role),
                escape(short(&event.actor.key_id))
            );
        }
    }
    let problems: Vec<&Finding> =
        findings.iter().filter(|f| f.verdict == Verdict::Fail && f.check != "trust.signer").collect();
    for finding in &problems {
        eprintln!("custos: {} {}: {}", finding.check, escape(&finding.subject), escape(&finding.detail));
    }
    if !json {
        eprintln!("custos: signatures checked against the keys shipped in the package only; use `custos verify --trust` to check who signed");
    }
    Ok(if problems.is_empty() { Status::Ok } else { Status::Failed })
}

/// Who holds the evidence, how long the log is and its head, in one paragraph; and what a
/// log cannot prove by itself.
pub fn custody_summary(custody: &CustodySummary) -> String {
    let holder = match (&custody.holder.holder, &custody.holder.pending) {
        (_, Some(pending)) => format!(
            "in transit: released by {} to {} at event {}, not yet accepted",
            escape(&pending.from.name),
            escape(short(&pending.to)),
            pending.sequence
        ),
        (Some(holder), None) => format!("held by {} ({})", escape(&holder.name), short(&holder.key_id)),
        (None, None) => "no holder established".to_owned(),
    };
    let ended = custody
        .holder
        .ended
        .map(|(sequence, action)| format!("; custody ended with `{}` at event {sequence}", action.name()))
        .unwrap_or_default();
    format!(
        "custody: {} event(s), head {}; {holder}{ended}\n  a log proves only what it still holds: compare the head with your receipt (--receipt FILE)",
        custody.events,
        custody.head.as_deref().unwrap_or("none")
    )
}

fn short(key_id: &str) -> &str {
    key_id.get(..16).unwrap_or(key_id)
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The package
    pub package: PathBuf,
    /// A trusted public key file, or a folder of them (repeatable)
    #[arg(long, value_name = "PUBKEY|DIR")]
    pub trust: Vec<PathBuf>,
    /// The bytes of items sealed with --reference: the file, or a folder holding them
    #[arg(long, value_name = "PATH")]
    pub evidence: Option<PathBuf>,
    /// Report integrity only when no signer is trusted, instead of failing
    #[arg(long)]
    pub allow_untrusted: bool,
    /// Skip re-hashing the evidence bytes (says so in the report)
    #[arg(long)]
    pub fast: bool,
    /// Also judge the package by a jurisdiction's policy (repeatable)
    #[arg(long, value_name = "FILE")]
    pub policy: Vec<PathBuf>,
    /// Refuse any --policy that no --trust key validly signed (FILE.sig)
    #[arg(long)]
    pub require_signed_policy: bool,
    /// Evaluate policies at this time (RFC 3339) [default: now]
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// A custody receipt: fail if the log no longer holds its event (repeatable)
    #[arg(long, value_name = "FILE")]
    pub receipt: Vec<PathBuf>,
    /// A trusted time-stamping authority's certificate, PEM or DER (repeatable): time-stamp
    /// tokens in the package are checked offline against it
    #[arg(long, value_name = "FILE")]
    pub tsa_cert: Vec<PathBuf>,
    /// Every warning fails too (exit 1): unchecked bytes, untrusted signers allowed,
    /// pending transfers, unknown files
    #[arg(long)]
    pub strict: bool,
    /// Every finding as JSON
    #[arg(long)]
    pub json: bool,
    /// No progress bar
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Version of `verify --json`'s report (docs/json.md).
const VERIFY_REPORT_FORMAT: u64 = 1;

#[derive(Serialize)]
struct Report<'a> {
    custos_verify: u64,
    tool: &'static str,
    package: String,
    /// The overall verdict: integrity and every policy (and, with --strict, warnings).
    verdict: &'static str,
    /// Integrity alone (bag, signatures, items, custody).
    integrity: Verdict,
    strict: bool,
    evaluated_at: String,
    manifest_sha256: Option<String>,
    duration_ms: u128,
    custody: &'a CustodySummary,
    findings: &'a [Finding],
    #[serde(skip_serializing_if = "<[PolicyReport]>::is_empty")]
    policies: &'a [PolicyReport],
}

/// What verification and every policy concluded, and on which keys' trust.
pub struct Judgement {
    pub verification: custos_manifest::package::Verification,
    pub verdict: Verdict,
    pub policies: Vec<PolicyReport>,
    /// `--strict`: every warning fails.
    pub strict: bool,
    /// The keys verification trusted, and why each was trusted.
    pub trusted: Vec<TrustedKey>,
}

/// A key the verifier trusted.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub key: PublicKey,
    pub source: KeySource,
}

/// Why a key was trusted.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Given with `--trust` (the file, or a file in the folder given).
    File(PathBuf),
    /// Listed by these policies (by key id); its key material was read from the package.
    Policy(Vec<String>),
}

impl Judgement {
    pub fn status(&self) -> Status {
        let policy_failed = self.policies.iter().any(|r| r.verdict == PolicyVerdict::Fail);
        let policy_warned = self.policies.iter().any(|r| r.verdict == PolicyVerdict::Warn);
        let warned = self.verdict == Verdict::Warn || policy_warned;
        if self.verdict == Verdict::Fail || policy_failed || (self.strict && warned) {
            Status::Failed
        } else {
            Status::Ok
        }
    }

    /// The overall verdict word: `pass`, `warn` or `fail`.
    pub fn overall(&self) -> &'static str {
        let warned =
            self.verdict == Verdict::Warn || self.policies.iter().any(|r| r.verdict == PolicyVerdict::Warn);
        match self.status() {
            Status::Ok if warned => "warn",
            Status::Ok => "pass",
            _ => "fail",
        }
    }
}

pub fn run_verify(args: VerifyArgs) -> Result<Status> {
    let started = std::time::Instant::now();
    let judgement = match judge(&args) {
        Ok(judgement) => judgement,
        // A batch job gets a record for every package, also for one it could not verify.
        Err(error) if args.json => {
            let record = serde_json::json!({
                "custos_verify": VERIFY_REPORT_FORMAT,
                "tool": concat!("custos ", env!("CARGO_PKG_VERSION")),
                "package": args.package.display().to_string(),
                "verdict": "error",
                "error": crate::render::error_chain(error.as_ref()),
            });
            println!("{record}");
            return Ok(Status::Error);
        }
        Err(error) => return Err(error),
    };
    if args.json {
        let report = Report {
            custos_verify: VERIFY_REPORT_FORMAT,
            tool: concat!("custos ", env!("CARGO_PKG_VERSION")),
            package: args.package.display().to_string(),
            verdict: judgement.overall(),
            integrity: judgement.verdict,
            strict: args.strict,
            evaluated_at: custos_manifest::time::now_rfc3339(),
            manifest_sha256: judgement.verification.manifest_sha256.clone(),
            duration_ms: started.elapsed().as_millis(),
            custody: &judgement.verification.custody,
            findings: &judgement.verification.findings,
            policies: &judgement.policies,
        };
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(
            &args.package,
            &judgement.verification.findings,
            &judgement.verification.custody,
            judgement.verdict,
        );
        if !judgement.policies.is_empty() {
            print_matrix(&judgement.policies);
        }
    }
    Ok(judgement.status())
}

/// Verifies the package and evaluates every policy on what verification established.
pub fn judge(args: &VerifyArgs) -> Result<Judgement> {
    if !args.package.join(custos_manifest::package::MANIFEST_PATH).is_file() {
        bail!("{} is not an evidence package (no custos/manifest.json)", args.package.display());
    }
    let at = match &args.at {
        Some(text) => custos_policy::time::parse_rfc3339(text).with_context(|| {
            format!("--at {text}: not an RFC 3339 time (2026-01-01T00:00:00Z) nor a date (2026-01-01)")
        })?,
        None => custos_policy::time::parse_rfc3339(&custos_manifest::time::now_rfc3339()).unwrap_or_default(),
    };
    let mut trusted = Vec::new();
    for path in &args.trust {
        if path.is_dir() {
            let mut files = Vec::new();
            for entry in std::fs::read_dir(path).with_context(|| format!("cannot read {}", path.display()))? {
                let entry = entry?.path();
                if entry.extension().is_some_and(|e| e == "pub")
                    && !entry.to_string_lossy().ends_with(".minisign.pub")
                {
                    files.push(entry);
                }
            }
            // In name order, so reports list them the same way on every run.
            files.sort();
            for file in files {
                trusted.push(TrustedKey { key: load_public_key(&file)?, source: KeySource::File(file) });
            }
        } else {
            trusted.push(TrustedKey { key: load_public_key(path)?, source: KeySource::File(path.clone()) });
        }
    }
    let keys: Vec<PublicKey> = trusted.iter().map(|t| t.key.clone()).collect();
    // Policies are checked against their signatures with the --trust keys only: a key file
    // shipped in the package must never vouch for the policy that judges the package.
    let policies = args
        .policy
        .iter()
        .map(|path| read_policy(path, &keys, args.require_signed_policy))
        .collect::<Result<Vec<LoadedPolicy>>>()?;
    // A policy's trusted keys are trusted for it: take their key material from the package
    // (the key id binds it), so that a court can verify with its policy alone.
    let policy_key_ids: Vec<&str> =
        policies.iter().flat_map(|p| p.policy.trusted_keys().map(|k| k.key_id.as_str())).collect();
    // Only with policies: the package's key files are not read for nothing.
    if !policy_key_ids.is_empty() {
        for (id, key) in custos_manifest::package::package_keys(&args.package) {
            if !trusted.iter().any(|t| t.key.id() == key.id()) {
                let naming: Vec<String> = policies
                    .iter()
                    .filter(|p| p.policy.trusted_keys().any(|k| k.key_id == id))
                    .map(|p| p.policy.id.clone())
                    .collect();
                if !naming.is_empty() {
                    trusted.push(TrustedKey { key, source: KeySource::Policy(naming) });
                }
            }
        }
    }
    let keys: Vec<PublicKey> = trusted.iter().map(|t| t.key.clone()).collect();
    let trust = Trust { keys, allow_untrusted: args.allow_untrusted };
    let mut receipts = Vec::new();
    for path in &args.receipt {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| {
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(file, custos_manifest::receipt::MAX_RECEIPT_BYTES + 1),
                    &mut bytes,
                )
            })
            .with_context(|| format!("cannot read the receipt {}", path.display()))?;
        let receipt = custos_manifest::receipt::Receipt::parse(&bytes)
            .with_context(|| format!("{} is not a usable receipt", path.display()))?;
        receipts.push((path.display().to_string(), receipt));
    }
    // TSA certificates: given on the command line, and named by the policies (relative to
    // each policy's file).
    let mut tsa_paths: Vec<PathBuf> = args.tsa_cert.clone();
    for (file, loaded) in args.policy.iter().zip(&policies) {
        let folder = file.parent().unwrap_or(Path::new("."));
        let named = loaded.policy.time.iter().flat_map(|rule| &rule.tsa_certificates);
        tsa_paths.extend(named.map(|name| folder.join(name)));
    }
    let mut tsa_certificates = Vec::new();
    for path in &tsa_paths {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        tsa_certificates.extend(
            custos_timestamp::parse_certificates(&bytes)
                .with_context(|| format!("{} is not a certificate (PEM or DER)", path.display()))?,
        );
    }
    let now = custos_manifest::time::parse_rfc3339(&custos_manifest::time::now_rfc3339()).unwrap_or(i64::MAX);
    let bar = progress::PayloadBar::new(args.quiet);
    let options = VerifyOptions {
        trust: &trust,
        fast: args.fast,
        evidence: args.evidence.as_deref(),
        now,
        receipts: &receipts,
        tsa_certificates: &tsa_certificates,
        progress: Some(&bar),
    };
    let verification = verify_package(&args.package, &options);
    bar.finish();
    let verdict = overall(&verification.findings);
    let reports = crate::policy::judge_policies(&policies, &verification, at);
    Ok(Judgement { verification, verdict, policies: reports, strict: args.strict, trusted })
}

/// A finding's subject for a terminal: a key id in its short form (the full one is in
/// `--json`), anything else escaped.
fn subject_text(subject: &str) -> std::borrow::Cow<'_, str> {
    if subject.len() == 64 && subject.bytes().all(|b| b.is_ascii_hexdigit()) {
        std::borrow::Cow::Owned(format!("key {}", short(subject)))
    } else {
        escape(subject)
    }
}

fn print_report(package: &Path, findings: &[Finding], custody: &CustodySummary, verdict: Verdict) {
    let count = |v: Verdict| findings.iter().filter(|f| f.verdict == v).count();
    // Failures and warnings in full: they are what a reader needs. Passes by check, with
    // the subjects when there are few (every finding is in --json).
    for wanted in [Verdict::Fail, Verdict::Warn] {
        for finding in findings.iter().filter(|f| f.verdict == wanted) {
            let label = if wanted == Verdict::Fail { "FAIL" } else { "WARN" };
            println!(
                "{label}  {:<20} {}: {}",
                finding.check,
                subject_text(&finding.subject),
                escape(&finding.detail)
            );
        }
    }
    let mut passes: Vec<(&str, Vec<&Finding>)> = Vec::new();
    for finding in findings.iter().filter(|f| f.verdict == Verdict::Pass) {
        match passes.iter_mut().find(|(check, _)| *check == finding.check) {
            Some((_, group)) => group.push(finding),
            None => passes.push((finding.check, vec![finding])),
        }
    }
    for (check, group) in passes {
        if let [only] = group.as_slice() {
            println!("pass  {check:<20} {}: {}", subject_text(&only.subject), escape(&only.detail));
        } else {
            println!("pass  {check:<20} {} checks", group.len());
        }
    }
    println!("\n{}", custody_summary(custody));
    let word = match verdict {
        Verdict::Pass => "VERIFIED",
        Verdict::Warn => "VERIFIED with warnings",
        Verdict::Fail => "FAILED",
    };
    println!(
        "{}: {word} ({} passed, {} warnings, {} failed)",
        package.display(),
        count(Verdict::Pass),
        count(Verdict::Warn),
        count(Verdict::Fail)
    );
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// SHA256SUMS and B3SUMS of the evidence, for `sha256sum -c` and `b3sum --check` run
    /// from inside the package
    Checksums {
        /// The package
        package: PathBuf,
        /// Folder to write them to (never overwriting)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Print the files written as JSON
        #[arg(long)]
        json: bool,
    },
    /// A minisign signature of the manifest and a minisign public key, so that
    /// `minisign -Vm custos/manifest.json -p custos/keys/KEYID.minisign.pub` verifies it
    Minisign {
        /// The package
        package: PathBuf,
        #[command(flatten)]
        signer: SignerArgs,
        /// Print the files written as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run_export(command: ExportCommand) -> Result<Status> {
    match command {
        ExportCommand::Checksums { package, out, json } => {
            let (manifest, signers) = custos_manifest::package::read_manifest(&package)
                .with_context(|| format!("cannot export checksums of {}", package.display()))?;
            // Written inside the package, they would be files no tag manifest lists: the
            // package would no longer verify.
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let (package_at, out_at) = (package.canonicalize()?, out.canonicalize()?);
            if out_at.starts_with(&package_at) {
                bail!(
                    "--out {} is inside the package {}: choose a folder outside it (the package would no longer verify)",
                    out.display(),
                    package.display()
                );
            }
            let mut written: Vec<(PathBuf, &str)> = Vec::new();
            for (name, text) in custos_manifest::export::checksum_files(&manifest)? {
                let path = out.join(name);
                std::fs::File::create_new(&path)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
                    .with_context(|| {
                        format!("cannot write {} (existing files are never overwritten)", path.display())
                    })?;
                written.push((path, if name == "B3SUMS" { "b3sum" } else { "sha256sum" }));
            }
            if json {
                let files: Vec<serde_json::Value> =
                    written.iter().map(|(path, kind)| crate::render::written(path, kind)).collect();
                let report = serde_json::json!({
                    "package": package.display().to_string(),
                    "run_from": package_at.display().to_string(),
                    "written": files,
                });
                println!("{report}");
            } else {
                for (path, _) in &written {
                    println!("wrote {}", path.display());
                }
                let names: Vec<String> = signers
                    .iter()
                    .map(|k| format!("{} ({})", escape(&k.owner.name), short(&k.id().to_string())))
                    .collect();
                eprintln!(
                    "custos: the digests are the manifest's as signed by {}, checked against the keys the package ships only: custos verify --trust checks who that is",
                    names.join(", ")
                );
                // Absolute paths, so the command works from wherever the user stands.
                let sums = out_at.join("SHA256SUMS");
                println!("check with: cd {} && sha256sum -c {}", package_at.display(), sums.display());
            }
            Ok(Status::Ok)
        }
        ExportCommand::Minisign { package, signer, json } => {
            let (secret, public) = load_signer(&signer.key, signer.passphrase_file.as_deref())?;
            custos_manifest::export::export_minisign(&package, &secret, &public)?;
            let key = package
                .join(custos_manifest::package::KEYS_DIR)
                .join(format!("{}.minisign.pub", public.id()));
            if json {
                let signature = package.join(custos_manifest::export::MINISIGN_SIGNATURE_PATH);
                let record = serde_json::json!({
                    "package": package.display().to_string(),
                    "key_id": public.id().to_string(),
                    "written": [
                        crate::render::written(&signature, "minisign_signature"),
                        crate::render::written(&key, "minisign_public_key"),
                    ],
                });
                println!("{record}");
                return Ok(Status::Ok);
            }
            println!(
                "wrote {0}/{1}; verify with: minisign -Vm {0}/custos/manifest.json -p {0}/custos/keys/{2}.minisign.pub",
                package.display(),
                custos_manifest::export::MINISIGN_SIGNATURE_PATH,
                public.id()
            );
            Ok(Status::Ok)
        }
    }
}
