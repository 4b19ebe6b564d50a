//! `custos custody …`, `custos cosign`, `custos verify` and `custos export`: a sealed
//! package's custody log, the verifier's report, and exports for other tools.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use custos_manifest::custody::{Action, NewEvent};
use custos_manifest::findings::{overall, Finding, Verdict};
use custos_manifest::keys::PublicKey;
use custos_manifest::package::{add_event_stamped, verify_package, Trust, VerifyOptions};
use custos_manifest::verify::CustodySummary;
use custos_policy::{LoadedPolicy, PolicyVerdict};

use crate::policy::{print_matrix, read_policy, PolicyReport};
use serde::Serialize;

use crate::keygen::{load_public_key, load_signer};
use crate::render::escape;
use crate::{progress, Status};

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
                if json {
                    let record = serde_json::json!({ "verdict": "fail", "failures": fixity.failures, "recorded": false });
                    println!("{record}");
                } else {
                    for failure in &fixity.failures {
                        println!("FAIL  {}", escape(failure));
                    }
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
pub fn write_receipt(out: &Path, receipt: &custos_manifest::receipt::Receipt) -> Result<()> {
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

pub fn short(key_id: &str) -> &str {
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
    /// Who the key is, as the one who trusts it says: the key file given with `--trust`, or
    /// the policy's own entry (principal, roles, jurisdiction) for a key a policy names;
    /// never the package's copy of the key file, which its holder can rewrite.
    pub shown: custos_manifest::keys::Owner,
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
                let key = load_public_key(&file)?;
                trusted.push(TrustedKey { shown: key.owner.clone(), key, source: KeySource::File(file) });
            }
        } else {
            let key = load_public_key(path)?;
            trusted.push(TrustedKey { shown: key.owner.clone(), key, source: KeySource::File(path.clone()) });
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
                let entries: Vec<(&str, &custos_policy::TrustedKey)> = policies
                    .iter()
                    .flat_map(|p| {
                        p.policy.trusted_keys().filter(|k| k.key_id == id).map(|k| (p.policy.id.as_str(), k))
                    })
                    .collect();
                if let Some((_, entry)) = entries.first() {
                    let shown = custos_manifest::keys::Owner {
                        name: entry.principal.clone(),
                        role: entry.roles.join(", "),
                        organisation: None,
                        jurisdiction: entry.jurisdiction.clone(),
                    };
                    let naming = entries.iter().map(|(policy, _)| (*policy).to_owned()).collect();
                    trusted.push(TrustedKey { key, source: KeySource::Policy(naming), shown });
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
    /// CASE 1.5.0 / UCO JSON-LD: the items with their hashes, the seal and every custody
    /// event as investigative actions with provenance records (docs/formats/case.md)
    Case {
        #[command(flatten)]
        args: InterchangeArgs,
    },
    /// DFXML: a fileobject per item with size, digests and segment byte runs
    /// (docs/formats/dfxml.md)
    Dfxml {
        #[command(flatten)]
        args: InterchangeArgs,
    },
    /// A hashdeep known-hash file of the payload, for `hashdeep -a -l -k FILE -r data` run
    /// from inside the package (docs/formats/hashdeep.md)
    Hashdeep {
        #[command(flatten)]
        args: InterchangeArgs,
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

/// What the CASE, DFXML and hashdeep exports take.
#[derive(Debug, Args)]
pub struct InterchangeArgs {
    /// The package (its manifest signature and custody log must verify)
    pub package: PathBuf,
    /// File to write (never overwritten, never inside the package) [default: standard output]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the file written as JSON (needs --out)
    #[arg(long)]
    pub json: bool,
}

pub fn run_export(command: ExportCommand) -> Result<Status> {
    use crate::interchange::{run, Format};
    match command {
        ExportCommand::Case { args } => run(Format::Case, &args.package, args.out.as_deref(), args.json),
        ExportCommand::Dfxml { args } => run(Format::Dfxml, &args.package, args.out.as_deref(), args.json),
        ExportCommand::Hashdeep { args } => {
            run(Format::Hashdeep, &args.package, args.out.as_deref(), args.json)
        }
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
