//! `custos audit`: verify every package under one or more roots, unattended, with the
//! judgement `custos verify` uses; one JSON line per package for monitoring, a resumable
//! state, and a signed ledger kept outside the evidence. Format: docs/audit.md.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use custos_audit::discover::{discover, Found};
use custos_audit::ledger::{Ledger, NewEntry};
use custos_audit::shard::Shard;
use custos_audit::state::{needs_full, Mode, PackageState, Seen, State, StateSigner};
use custos_manifest::findings::Verdict;
use custos_manifest::package::MANIFEST_PATH;
use custos_manifest::receipt::Receipt;
use custos_manifest::store::MAX_TAG_FILE_BYTES;
use custos_policy::PolicyVerdict;
use serde::Serialize;

use crate::judge::{Inputs, JudgeArgs, Judgement, Verifier};
use crate::render::escape;
use crate::{human, Status};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Folders to search for packages (every folder holding custos/manifest.json)
    #[arg(value_name = "ROOT", required = true)]
    pub roots: Vec<PathBuf>,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// A folder of custody receipts: each package is held to the receipts of its manifest
    #[arg(long, value_name = "DIR")]
    pub receipts: Option<PathBuf>,
    /// Packages verified at once [default: the number of cores, 4 per core with an s3://
    /// root]; packages on one rotating disk are always read one after another
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Check signatures, custody and sizes only; read no payload byte
    #[arg(long)]
    pub fast: bool,
    /// Check items sealed with --segment-size by their signed segment lists (every
    /// segment on every core) instead of recomputing whole-file digests
    #[arg(long, conflicts_with = "fast")]
    pub by_segments: bool,
    /// Remember results in FILE: an interrupted audit resumes, and a package unchanged
    /// since its last full check is checked fast until its next full check is due
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// With --state: re-hash every package in full at least every DAYS days
    #[arg(long, value_name = "DAYS", default_value_t = 30, requires = "state")]
    pub full_every: u32,
    /// Audit only shard I of N (from 0): the same packages on every run and machine
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Append a signed, hash-chained entry per package to FILE (outside the packages)
    #[arg(long, value_name = "FILE", requires = "key")]
    pub ledger: Option<PathBuf>,
    /// The auditor's key that signs the ledger and every line of the state file: PATH or
    /// PATH.key, with PATH.pub beside it
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Read the key's passphrase from the first line of FILE
    #[arg(long, value_name = "FILE", requires = "key")]
    pub passphrase_file: Option<PathBuf>,
    /// An earlier auditor's public key, whose signed state and ledger lines this audit
    /// continues from (repeatable; by default only --key's own lines are believed: the
    /// --trust keys judge packages, and their holders must never write an audit's memory)
    #[arg(long, value_name = "PUBKEY", requires = "key")]
    pub previous_auditor: Vec<PathBuf>,
    /// Warn of each deadline (a preservation's lapse, a production or retention date)
    /// due within DAYS, or past
    #[arg(long, value_name = "DAYS", default_value_t = 14)]
    pub deadline_warning: u32,
    /// One JSON line per package, then a summary line
    #[arg(long)]
    pub json: bool,
    /// No progress bar
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The audit ledger
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check every entry's signature and the chain; print the head to keep
    Verify {
        /// The ledger
        file: PathBuf,
        /// The auditor's public key file, or a folder of them (repeatable)
        #[arg(long, value_name = "PUBKEY|DIR", required = true)]
        trust: Vec<PathBuf>,
        /// A head kept from an earlier check: fail unless the ledger still holds it
        #[arg(long, value_name = "SHA256")]
        head: Option<String>,
        /// The result as JSON
        #[arg(long)]
        json: bool,
    },
}

impl AuditArgs {
    pub fn wants_json(&self) -> bool {
        match &self.command {
            Some(AuditCommand::Ledger(LedgerCommand::Verify { json, .. })) => *json,
            None => self.json,
        }
    }
}

/// Packages in flight per core by default when a root is an object store.
const REMOTE_JOBS_PER_CORE: usize = 4;

/// At most this many packages at once: more threads only contend.
const MAX_JOBS: usize = 256;

/// The largest ledger `audit ledger verify` reads: 4 GiB (some ten million entries).
const MAX_LEDGER_BYTES: u64 = 4 << 30;

/// Version of the audit's JSON records (docs/json.md).
const AUDIT_FORMAT: u64 = 1;

/// One check that failed.
#[derive(Debug, Clone, Serialize)]
struct Failure {
    check: String,
    subject: String,
    reason: String,
}

/// Who holds the evidence, as the log says.
#[derive(Debug, Clone, Serialize)]
struct HolderRecord {
    key_id: String,
    /// The name the verifier trusts for the key, or the key file's claim when the key is not
    /// trusted (`trusted` says which).
    name: String,
    trusted: bool,
}

/// The record of one package.
#[derive(Debug, Clone, Serialize)]
struct PackageRecord {
    custos_audit: u64,
    path: String,
    case: Option<String>,
    verdict: &'static str,
    mode: Mode,
    failures: Vec<Failure>,
    warnings: usize,
    /// Payload bytes re-hashed by this check (0 for a fast one).
    bytes: u64,
    seconds: f64,
    manifest_sha256: Option<String>,
    head: Option<String>,
    holder: Option<HolderRecord>,
    /// Open deadlines, soonest first (docs/json.md).
    deadlines: Vec<custos_policy::Deadline>,
    /// Complete custody events (for the audit's memory; not part of the record).
    #[serde(skip)]
    events: Option<u64>,
}

/// A package to check, and how.
#[derive(Debug)]
struct Planned {
    found: Found,
    mode: Mode,
    /// What an earlier passing check saw there (with --state).
    seen: Option<Seen>,
    /// Its name in the state ([`state_key`]).
    state_key: String,
}

pub fn run(args: AuditArgs) -> Result<Status> {
    if let Some(AuditCommand::Ledger(LedgerCommand::Verify { file, trust, head, json })) = &args.command {
        return verify_ledger(file, trust, head.as_deref(), *json);
    }
    let started = Instant::now();
    let shard = match &args.shard {
        Some(text) => Shard::parse(text).map_err(|e| anyhow::anyhow!("--shard {text}: {e}"))?,
        None => Shard::ALL,
    };
    let verifier = Verifier::load_with_receipts(&args.judge, args.receipts.as_slice())?;
    // Without a trusted key (none given, or an empty --trust folder: an unmounted volume)
    // every package fails for want of a trusted signer, which says nothing about the
    // evidence: that is the operator's mistake, not a verdict, and no ledger entry is signed.
    if !verifier.trusts_any_key() && !args.judge.allow_untrusted {
        bail!(
            "no --trust key: an audit judges who signed each package by the keys it trusts, and none was found in what --trust names. Give them with --trust KEY.pub or --trust FOLDER (repeatable), or --allow-untrusted to check integrity against the keys the packages ship"
        );
    }
    let receipts = match &args.receipts {
        Some(folder) => read_receipts(folder)?,
        None => HashMap::new(),
    };
    if args.key.is_some() && args.ledger.is_none() && args.state.is_none() {
        bail!("--key signs the audit's --ledger and --state: give one of them, or leave the key out");
    }
    // The audit's own files, written into an audited package, would fail it.
    for (flag, file) in [("--state", &args.state), ("--ledger", &args.ledger)] {
        if let Some(file) = file {
            crate::location::refuse_output_in_a_package(flag, file, None)?;
        }
    }
    let secret = match &args.key {
        Some(key) => Some(crate::keygen::load_signer(key, args.passphrase_file.as_deref())?.0),
        None => None,
    };
    // Whose lines of the state and the ledger are believed: the auditor's own, and earlier
    // auditors' named as such; never the --trust keys of the examiners being audited.
    let auditors = args
        .previous_auditor
        .iter()
        .map(|path| crate::keygen::load_public_key(path))
        .collect::<Result<Vec<_>>>()?;
    let examiners = verifier.given_keys();
    for (path, auditor) in args.previous_auditor.iter().zip(&auditors) {
        if examiners.iter().any(|examiner| examiner.id() == auditor.id()) {
            bail!(
                "--previous-auditor {} is also a --trust key: the keys that sign the packages audited must never write the audit's memory. Give only earlier auditors' keys",
                crate::render::shown(path)
            );
        }
    }
    let mut ledger = match (&args.ledger, &secret) {
        (Some(path), Some(secret)) => Some(
            Ledger::open(path, secret.clone(), &auditors)
                .with_context(|| format!("cannot append to the ledger {}", path.display()))?,
        ),
        _ => None,
    };
    for root in &args.roots {
        if !crate::location::is_remote(root) && !root.is_dir() {
            bail!("{} is not a folder (nor an s3:// location)", root.display());
        }
    }
    let now = custos_manifest::time::now_rfc3339();
    // The state knows each root and package by one name however the operator spells it
    // (`store`, `./store`, `/evidence/store`), or another spelling would find no memory.
    let root_keys: Vec<String> = args.roots.iter().map(|root| state_key(root)).collect();
    let mut state = match &args.state {
        Some(path) => {
            let scope = serde_json::json!({
                "roots": root_keys,
                "shard": shard.to_string(),
                "fast": args.fast,
                "by_segments": args.by_segments,
                "full_every": args.full_every,
            })
            .to_string();
            // With the auditor's key every line is signed, and read back only when it verifies;
            // without it the state is an unsigned hint (docs/audit.md, Limits).
            let opened = match &secret {
                Some(key) => {
                    let trusted = auditors.iter().map(|k| k.key).collect();
                    State::open_signed(path, &scope, &now, StateSigner { key: key.clone(), trusted })
                }
                None => State::open(path, &scope, &now),
            };
            let mut opened =
                opened.with_context(|| format!("cannot use the state file {}", path.display()))?;
            // States written before 0.3 named packages as the roots were spelled then.
            opened.rename(|known| Some(state_key(Path::new(known))));
            Some(opened)
        }
        None => None,
    };

    // Find, then plan: a package already checked by the run being resumed is not checked
    // again; with --state, one unchanged since its last full check may be checked fast.
    let now_seconds = custos_manifest::time::parse_rfc3339(&now).unwrap_or_default();
    let mut plan = Vec::new();
    let mut problems = Vec::new();
    let mut being_sealed = Vec::new();
    let mut resumed = 0usize;
    let mut earlier_results = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for root in &args.roots {
        let discovery = if crate::location::is_remote(root) { discover_remote(root) } else { discover(root) };
        // Whatever discovery could not audit is an error of the audit: a seal in progress
        // during the run, or a folder renamed to look like one to hide it, alike.
        for skipped in discovery.skipped {
            if skipped.reason.contains("being sealed") {
                being_sealed.push(skipped.path.display().to_string());
            }
            problems.push(error_record(&skipped.path, "audit.discover", skipped.reason));
        }
        // An empty root is more often an unmounted store than an empty one: say so.
        if discovery.packages.is_empty() {
            problems.push(error_record(
                root,
                "audit.discover",
                "no package under this folder: is the store mounted, and is this the right folder?".into(),
            ));
        }
        for found in discovery.packages.into_iter().filter(|f| shard.holds(&f.key)) {
            // Trusting the keys a package ships would let its holder sign it as anyone.
            verifier.refuse_trust_inside(&found.path)?;
            let name = state_key(&found.path);
            seen.insert(name.clone());
            let remote = crate::location::is_remote(&found.path);
            // Only a state needs it to choose, and only local stores have one.
            let fingerprint = if state.is_some() && !remote {
                crate::location::open_package(&found.path)
                    .ok()
                    .and_then(|store| store.fingerprint().ok().flatten())
            } else {
                None
            };
            if let Some(earlier) = state.as_ref().filter(|s| s.done(&name)).and_then(|s| s.previous(&name)) {
                // Checked before this run was interrupted: counted again, and a failure
                // shown again, so the resumed run's verdict covers the whole store. The
                // state is an unsigned hint: a package whose files changed since is checked
                // again rather than given its earlier verdict.
                let unchanged =
                    remote || (earlier.fingerprint.is_some() && earlier.fingerprint == fingerprint);
                if unchanged {
                    resumed += 1;
                    earlier_results.push(earlier_record(earlier, &found.path));
                    continue;
                }
            }
            let mode = match &state {
                _ if args.fast => Mode::Fast,
                Some(state)
                    if !needs_full(
                        state.previous(&name),
                        fingerprint.as_deref(),
                        now_seconds,
                        args.full_every,
                    ) =>
                {
                    Mode::Fast
                }
                _ => Mode::Full,
            };
            let seen = state.as_ref().and_then(|s| s.previous(&name)).and_then(|p| p.seen.clone());
            plan.push(Planned { found, mode, seen, state_key: name });
        }
    }

    // A package the state knows under these roots and in this shard, no longer found.
    let mut missing = Vec::new();
    if let Some(state) = &state {
        for known in state.all() {
            let path = Path::new(&known.package);
            let in_scope = root_keys.iter().any(|root| {
                path.strip_prefix(root).is_ok_and(|relative| {
                    let key =
                        if relative.as_os_str().is_empty() { ".".into() } else { relative.to_string_lossy() };
                    shard.holds(&key)
                })
            });
            if in_scope && !seen.contains(&known.package) {
                let reason = format!(
                    "checked before ({} at {}) and no longer found: moved, deleted or hidden",
                    known.verdict, known.checked_at
                );
                missing.push(error_record(path, "audit.missing", reason));
            }
        }
    }
    missing.sort_by(|a, b| a.path.cmp(&b.path));

    let out = Output::new(args.json, args.quiet, plan.len() as u64, args.deadline_warning);
    let mut tally = Tally::default();
    for record in &problems {
        tally.count(record);
        out.package(record);
    }
    for record in &earlier_results {
        tally.count(record);
        if record.verdict != "pass" {
            out.package(record);
        }
    }
    // Manifests of the packages this run saw (for receipts nobody's package used).
    let used_manifests = Mutex::new(std::collections::HashSet::new());
    for record in &earlier_results {
        if let (Some(digest), Ok(mut used)) = (&record.manifest_sha256, used_manifests.lock()) {
            used.insert(digest.clone());
        }
    }
    let results = Mutex::new((&mut state, &mut ledger, &mut tally));
    // `key`: the package's name in the state.
    let record_result = |record: PackageRecord, fingerprint: Option<String>, key: &str| -> Result<()> {
        let mut guard = results.lock().map_err(|_| anyhow::anyhow!("a verification thread failed"))?;
        let (state, ledger, tally) = &mut *guard;
        // The ledger first: a result in the state but not in the ledger would be skipped
        // on resume and never recorded; the other way round it is recorded twice.
        if let Some(ledger) = ledger.as_mut() {
            ledger.append(NewEntry {
                time: custos_manifest::time::now_rfc3339(),
                package: record.path.clone(),
                manifest_sha256: record.manifest_sha256.clone(),
                head: record.head.clone(),
                verdict: record.verdict.to_owned(),
                mode: mode_name(record.mode).to_owned(),
                failures: record.failures.len() as u64,
            })?;
        }
        if let Some(earlier) = record.manifest_sha256.as_ref() {
            if let Ok(mut used) = used_manifests.lock() {
                used.insert(earlier.clone());
            }
        }
        if let Some(state) = state.as_mut() {
            let previous = state.previous(key).cloned();
            // The memory moves on only with a pass; anything else keeps what was seen.
            let seen = match (&record.manifest_sha256, record.verdict, record.events) {
                (Some(manifest_sha256), "pass", Some(events)) => Some(Seen {
                    at: custos_manifest::time::now_rfc3339(),
                    manifest_sha256: manifest_sha256.clone(),
                    events,
                    head: record.head.clone(),
                }),
                _ => previous.as_ref().and_then(|p| p.seen.clone()),
            };
            let full_pass = record.mode == Mode::Full && record.verdict == "pass";
            let (full_at, full_fingerprint) = if full_pass {
                (Some(custos_manifest::time::now_rfc3339()), fingerprint.clone())
            } else if record.verdict == "pass" {
                (previous.as_ref().and_then(|p| p.full_at.clone()), previous.and_then(|p| p.full_fingerprint))
            } else {
                (None, None)
            };
            state.record(PackageState {
                run: String::new(),
                package: key.to_owned(),
                verdict: record.verdict.to_owned(),
                mode: record.mode,
                checked_at: custos_manifest::time::now_rfc3339(),
                manifest_sha256: record.manifest_sha256.clone(),
                fingerprint,
                full_at,
                full_fingerprint,
                seen,
            })?;
        }
        tally.count(&record);
        out.package(&record);
        Ok(())
    };

    // Requests to an object store mostly wait on the network: more of them in flight keep
    // the cores busy (8 per core measured best against a local SeaweedFS).
    let remote = args.roots.iter().any(|root| crate::location::is_remote(root));
    let default_jobs = rayon::current_num_threads() * if remote { REMOTE_JOBS_PER_CORE } else { 1 };
    let jobs = args.jobs.unwrap_or(default_jobs).clamp(1, MAX_JOBS);
    let failed_to_record = Mutex::new(None);
    for record in missing {
        let key = record.path.clone();
        record_result(record, None, &key)?;
    }
    schedule(plan, jobs, |planned| {
        let (record, fingerprint) = check(&verifier, args.by_segments, &receipts, &planned, &out);
        if let Err(error) = record_result(record, fingerprint, &planned.state_key) {
            if let Ok(mut slot) = failed_to_record.lock() {
                slot.get_or_insert(error);
            }
            return false;
        }
        true
    });
    if let Some(error) = failed_to_record.into_inner().ok().flatten() {
        out.finish();
        return Err(error.context("the audit stopped: a result could not be recorded"));
    }
    // A receipt is someone's proof that a package existed with that log: one that no
    // audited package answers means a package is missing or was replaced. With a shard,
    // the others hold the rest of the store, so only the count is said.
    let used = used_manifests.into_inner().unwrap_or_default();
    let unused: Vec<&(String, Receipt)> =
        receipts.iter().filter(|(digest, _)| !used.contains(*digest)).flat_map(|(_, list)| list).collect();
    let mut unused_receipts = unused.len();
    if shard == Shard::ALL {
        let mut unused = unused;
        unused.sort_by(|a, b| a.0.cmp(&b.0));
        for (file, receipt) in unused {
            let mut record = error_record(
                Path::new(file),
                "audit.receipt_unused",
                format!(
                    "a receipt of event {} of the package whose manifest has SHA-256 {}, and no package audited has that manifest: it is missing, was replaced, or lies outside these roots",
                    receipt.sequence, receipt.manifest
                ),
            );
            record.verdict = "fail";
            tally.count(&record);
            out.package(&record);
        }
        unused_receipts = 0;
    }
    out.finish();
    if let Some(state) = state.as_mut() {
        state.finish(&custos_manifest::time::now_rfc3339())?;
    }
    let summary = Summary {
        custos_audit: AUDIT_FORMAT,
        summary: true,
        verdict: tally.verdict(),
        tally,
        seconds: started.elapsed().as_secs_f64(),
        already_checked: resumed,
        being_sealed,
        shard: shard.to_string(),
        unused_receipts,
        run: state.as_ref().map(|s| s.run().to_owned()),
        resumed: state.as_ref().is_some_and(|s| s.resumed()),
    };
    out.summary(&summary);
    Ok(match summary.verdict {
        "pass" => Status::Ok,
        "fail" => Status::Failed,
        _ => Status::Error,
    })
}

/// Runs `check` on every planned package on `jobs` threads. A full check waits while
/// another full check reads from the same rotating disk (seeking between two streams
/// would slow both); fast checks read no payload and never wait. `check` returning false
/// stops the handing out of work.
fn schedule(plan: Vec<Planned>, jobs: usize, check: impl Fn(Planned) -> bool + Sync) {
    struct Queue {
        waiting: Vec<Planned>,
        reading: HashMap<u64, usize>,
        stopped: bool,
    }
    struct Release<'a> {
        queue: &'a Mutex<Queue>,
        changed: &'a Condvar,
        device: u64,
        full: bool,
        going_on: &'a mut bool,
    }
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            // A poisoned lock (a check panicked) still holds the queue: take it back.
            let mut queue = self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if self.full {
                if let Some(reading) = queue.reading.get_mut(&self.device) {
                    *reading -= 1;
                }
            }
            queue.stopped |= !*self.going_on;
            self.changed.notify_all();
        }
    }
    let rotating: HashMap<u64, bool> =
        plan.iter().map(|p| (p.found.device, is_rotating(p.found.device))).collect();
    let limit = |device: u64| if rotating.get(&device).copied().unwrap_or(false) { 1 } else { jobs };
    let queue = Mutex::new(Queue { waiting: plan, reading: HashMap::new(), stopped: false });
    let changed = Condvar::new();
    let take = || -> Option<Planned> {
        let mut queue = queue.lock().ok()?;
        loop {
            if queue.stopped || queue.waiting.is_empty() {
                return None;
            }
            let free = queue.waiting.iter().position(|p| {
                p.mode == Mode::Fast
                    || queue.reading.get(&p.found.device).copied().unwrap_or(0) < limit(p.found.device)
            });
            if let Some(index) = free {
                let planned = queue.waiting.remove(index);
                if planned.mode == Mode::Full {
                    *queue.reading.entry(planned.found.device).or_default() += 1;
                }
                return Some(planned);
            }
            queue = changed.wait(queue).ok()?;
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while let Some(planned) = take() {
                    let (device, full) = (planned.found.device, planned.mode == Mode::Full);
                    // The slot is given back even if the check panics, or the other
                    // threads would wait for it forever.
                    let mut going_on = false;
                    let release =
                        Release { queue: &queue, changed: &changed, device, full, going_on: &mut going_on };
                    *release.going_on = check(planned);
                    drop(release);
                }
            });
        }
    });
}

/// Packages under an `s3://` root: one "device" for the whole store (its requests run in
/// parallel; the store decides how it reads its disks). A listing that fails is an error
/// record for the root, and the audit goes on with the other roots.
fn discover_remote(root: &Path) -> custos_audit::discover::Discovery {
    let mut discovery = custos_audit::discover::Discovery::default();
    match crate::location::find_packages(root) {
        Ok(found) => {
            let prefix = root.to_string_lossy().trim_end_matches('/').to_owned();
            for path in found {
                let text = path.to_string_lossy().into_owned();
                let key = text.strip_prefix(&prefix).map(|k| k.trim_start_matches('/')).unwrap_or(&text);
                let key = if key.is_empty() { ".".to_owned() } else { key.to_owned() };
                discovery.packages.push(Found { path, key, device: REMOTE_DEVICE });
            }
        }
        Err(error) => discovery.skipped.push(custos_audit::discover::Skipped {
            path: root.to_owned(),
            reason: crate::render::error_chain(error.as_ref()),
        }),
    }
    discovery
}

/// The device number given to packages in object stores (no local device has it).
const REMOTE_DEVICE: u64 = u64::MAX;

/// The sysfs folder of the block device `device` (an `st_dev`, glibc's encoding of major
/// and minor numbers).
fn sysfs_block(device: u64) -> PathBuf {
    let (major, minor) =
        (((device >> 8) & 0xfff) | ((device >> 32) & !0xfff), (device & 0xff) | ((device >> 12) & !0xff));
    PathBuf::from(format!("/sys/dev/block/{major}:{minor}"))
}

/// Whether the block device behind `device` (an `st_dev`) spins, from sysfs; `false` when
/// the system cannot tell (network and virtual file systems, and the disks of virtual
/// machines: virtio and Xen block devices say `rotational` 1 whatever backs them, which
/// made every audit of a cloud machine check one package at a time).
fn is_rotating(device: u64) -> bool {
    if device == REMOTE_DEVICE {
        return false;
    }
    let base = sysfs_block(device);
    let virtual_disk = std::fs::canonicalize(&base).is_ok_and(|real| {
        real.components().any(|c| {
            let name = c.as_os_str().to_string_lossy();
            name.starts_with("virtio") || name.starts_with("vbd-") || name == "xen"
        })
    });
    if virtual_disk {
        return false;
    }
    // A partition has no queue of its own: its disk's is one folder up.
    [base.join("queue/rotational"), base.join("../queue/rotational")]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .is_some_and(|text| text.trim() == "1")
}

/// Verifies one package and turns the judgement into its record; with the package's
/// fingerprint, taken through the same open folder as every read, when it did not change
/// while it was verified.
fn check(
    verifier: &Verifier,
    by_segments: bool,
    receipts: &HashMap<String, Vec<(String, Receipt)>>,
    planned: &Planned,
    out: &Output,
) -> (PackageRecord, Option<String>) {
    let started = Instant::now();
    let path = &planned.found.path;
    let store = match crate::location::open_package(path) {
        Ok(store) => store,
        Err(error) => {
            let mut record = error_record(path, "package.open", crate::render::error_chain(error.as_ref()));
            record.mode = planned.mode;
            return (record, None);
        }
    };
    let before = store.fingerprint().ok().flatten();
    // Which receipts hold this package: those of its manifest (read only when there are any).
    let manifest_sha256 = (!receipts.is_empty())
        .then(|| store.read_small(MANIFEST_PATH, MAX_TAG_FILE_BYTES).ok())
        .flatten()
        .map(|bytes| custos_manifest::custody::sha256_hex(&bytes));
    let held_to: &[(String, Receipt)] =
        manifest_sha256.as_ref().and_then(|digest| receipts.get(digest)).map_or(&[], Vec::as_slice);
    let counted = Counted { read: AtomicU64::new(0), out };
    let inputs = Inputs {
        fast: planned.mode == Mode::Fast,
        by_segments,
        evidence: None,
        receipts: held_to,
        progress: Some(&counted),
    };
    let judgement = verifier.judge(store.as_ref(), &inputs);
    let mut record = record_of(path, planned.mode, &judgement);
    if let Some(seen) = &planned.seen {
        if let Some(failure) = remembered(path, seen, &judgement.verification) {
            record.failures.push(failure);
            if record.verdict == "pass" {
                record.verdict = "fail";
            }
        }
    }
    record.bytes = counted.read.load(Ordering::Relaxed);
    record.seconds = started.elapsed().as_secs_f64();
    let after = store.fingerprint().ok().flatten();
    if before.is_some() && before == after {
        return (record, before);
    }
    // Written while it was read. A failure stays a failure (whoever holds the package must
    // not turn damage into "try again" by touching a file); it is said, and the state keeps
    // no fingerprint, so the next run checks it in full.
    if record.verdict == "fail" {
        record.failures.push(Failure {
            check: "audit.changed".into(),
            subject: path.display().to_string(),
            reason: "the package also changed while it was being audited: check it again before acting"
                .into(),
        });
    }
    (record, None)
}

/// The audit's memory: a package must still be the one an earlier passing check saw at this
/// path (the same signed manifest), and its custody log must still hold the head seen then.
/// A copy of another package put in its place, or events dropped from its log since, pass
/// `verify` on their own; they fail here (`audit.replaced`, `audit.rollback`, `audit.fork`).
fn remembered(
    path: &Path,
    seen: &Seen,
    verification: &custos_manifest::verify::Verification,
) -> Option<Failure> {
    let failure = |check: &str, reason: String| {
        Some(Failure { check: check.into(), subject: path.display().to_string(), reason })
    };
    let manifest = verification.manifest_sha256.as_deref()?;
    if manifest != seen.manifest_sha256 {
        return failure(
            "audit.replaced",
            format!(
                "its manifest (SHA-256 {manifest}) is not the one an audit passed here at {} ({}): the package was replaced by another, or re-sealed",
                seen.at, seen.manifest_sha256
            ),
        );
    }
    let (Some(head), Some(position)) = (seen.head.as_deref(), seen.events.checked_sub(1)) else {
        return None;
    };
    let custody = &verification.custody;
    match custody.line_digests.get(usize::try_from(position).unwrap_or(usize::MAX)) {
        Some(line) if line == head => None,
        Some(line) => failure(
            "audit.fork",
            format!(
                "event {position} of its custody log is now the line {line}; an audit at {} saw {head} there: another history took its place",
                seen.at
            ),
        ),
        None => failure(
            "audit.rollback",
            format!(
                "its custody log holds {} events; an audit at {} saw {} (head {head}): events were removed since",
                custody.events, seen.at, seen.events
            ),
        ),
    }
}

fn record_of(path: &Path, mode: Mode, judgement: &Judgement) -> PackageRecord {
    let verification = &judgement.verification;
    let strict = judgement.strict;
    let mut failures: Vec<Failure> = verification
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail || (strict && f.verdict == Verdict::Warn))
        .map(|f| Failure { check: f.check.to_owned(), subject: f.subject.clone(), reason: f.detail.clone() })
        .collect();
    for report in &judgement.policies {
        for finding in &report.findings {
            if finding.verdict == PolicyVerdict::Fail || (strict && finding.verdict == PolicyVerdict::Warn) {
                failures.push(Failure {
                    check: format!("policy.{}", finding.rule),
                    subject: report.id.clone(),
                    reason: finding.evidence.clone(),
                });
            }
        }
    }
    let warnings = verification.findings.iter().filter(|f| f.verdict == Verdict::Warn).count();
    let opened =
        !verification.findings.iter().any(|f| f.check == "package.open" && f.verdict == Verdict::Fail);
    // A fast check says it read no payload; under --strict that warning alone is what the
    // audit asked for, not a failure (a full check comes when it is due).
    let only_fast_warning = strict
        && mode == Mode::Fast
        && failures.len() == 1
        && failures[0].check == "bag.payload_digest"
        && failures[0].reason.contains("(--fast)");
    if only_fast_warning {
        failures.clear();
    }
    let verdict = match judgement.status() {
        _ if !opened => "error",
        Status::Ok => "pass",
        _ if only_fast_warning => "pass",
        _ => "fail",
    };
    let holder = verification.custody.holder.holder.as_ref().map(|party| {
        let trusted = judgement.trusted.iter().find(|t| t.key.id().to_string() == party.key_id);
        HolderRecord {
            key_id: party.key_id.clone(),
            name: trusted.map_or_else(|| party.name.clone(), |t| t.shown.name.clone()),
            trusted: trusted.is_some(),
        }
    });
    PackageRecord {
        custos_audit: AUDIT_FORMAT,
        path: path.display().to_string(),
        case: verification.manifest.as_ref().map(|m| m.case.reference.clone()),
        verdict,
        mode,
        failures,
        warnings,
        bytes: 0,
        seconds: 0.0,
        manifest_sha256: verification.manifest_sha256.clone(),
        head: verification.custody.head.clone(),
        holder,
        deadlines: judgement.deadlines.clone(),
        events: Some(verification.custody.events as u64),
    }
}

/// The one name of a package or root in the audit state: its folder's real path (links and
/// `.` resolved, the last component as it is, so a link planted there is not followed), or
/// an `s3://` location as given.
fn state_key(path: &Path) -> String {
    if crate::location::is_remote(path) {
        return path.display().to_string();
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => crate::location::resolved(parent).join(name),
        _ => crate::location::resolved(path),
    }
    .display()
    .to_string()
}

/// The record of the package at `path`, checked before this (resumed) run was interrupted.
fn earlier_record(earlier: &PackageState, path: &Path) -> PackageRecord {
    let failures = if earlier.verdict == "pass" {
        Vec::new()
    } else {
        vec![Failure {
            check: "audit.earlier".into(),
            subject: path.display().to_string(),
            reason: format!(
                "{} when checked at {}, before this run was interrupted (its findings are in that output and the ledger)",
                earlier.verdict, earlier.checked_at
            ),
        }]
    };
    let verdict = match earlier.verdict.as_str() {
        "pass" => "pass",
        "fail" => "fail",
        _ => "error",
    };
    PackageRecord {
        verdict,
        mode: earlier.mode,
        failures,
        manifest_sha256: earlier.manifest_sha256.clone(),
        ..error_record(path, "", String::new())
    }
}

fn error_record(path: &Path, check: &str, reason: String) -> PackageRecord {
    PackageRecord {
        custos_audit: AUDIT_FORMAT,
        path: path.display().to_string(),
        case: None,
        verdict: "error",
        mode: Mode::Full,
        failures: vec![Failure { check: check.to_owned(), subject: path.display().to_string(), reason }],
        warnings: 0,
        bytes: 0,
        seconds: 0.0,
        manifest_sha256: None,
        head: None,
        holder: None,
        deadlines: Vec::new(),
        events: None,
    }
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Full => "full",
        Mode::Fast => "fast",
    }
}

/// Every receipt in `folder`, by the manifest digest it is for. A file that is not a
/// receipt stops the audit: a receipts folder that cannot be read in full would hold
/// packages to less than the auditor believes.
fn read_receipts(folder: &Path) -> Result<HashMap<String, Vec<(String, Receipt)>>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read the receipts folder {}", folder.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot read the receipts folder {}", folder.display()))?;
    files.sort();
    let mut receipts: HashMap<String, Vec<(String, Receipt)>> = HashMap::new();
    for file in
        files.into_iter().filter(|f| !f.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
    {
        let receipt = crate::evidence::read_receipt(&file)?;
        receipts.entry(receipt.manifest.clone()).or_default().push((file.display().to_string(), receipt));
    }
    Ok(receipts)
}

/// The audit's counts (and the summary's).
#[derive(Debug, Default, Serialize)]
struct Tally {
    packages: usize,
    pass: usize,
    fail: usize,
    error: usize,
    full: usize,
    fast: usize,
    bytes: u64,
}

impl Tally {
    fn count(&mut self, record: &PackageRecord) {
        self.packages += 1;
        match record.verdict {
            "pass" => self.pass += 1,
            "fail" => self.fail += 1,
            _ => self.error += 1,
        }
        match record.mode {
            Mode::Full => self.full += 1,
            Mode::Fast => self.fast += 1,
        }
        self.bytes += record.bytes;
    }

    /// `error` when anything could not be checked, else `fail` when anything failed.
    fn verdict(&self) -> &'static str {
        if self.error > 0 {
            "error"
        } else if self.fail > 0 {
            "fail"
        } else {
            "pass"
        }
    }
}

#[derive(Debug, Serialize)]
struct Summary {
    custos_audit: u64,
    summary: bool,
    verdict: &'static str,
    #[serde(flatten)]
    tally: Tally,
    seconds: f64,
    /// Packages the resumed run had already checked before it was interrupted.
    already_checked: usize,
    /// Folders of seals in progress (or killed), not audited.
    being_sealed: Vec<String>,
    shard: String,
    /// With a shard: receipts that no package of this shard answers (another shard may).
    #[serde(skip_serializing_if = "is_zero")]
    unused_receipts: usize,
    run: Option<String>,
    resumed: bool,
}

/// Where records go: stdout, one at a time, and a bar over the packages on a terminal.
struct Output {
    json: bool,
    bar: indicatif::ProgressBar,
    lock: Mutex<()>,
    read: AtomicU64,
    /// `--deadline-warning`, in days.
    deadline_warning: f64,
}

impl Output {
    fn new(json: bool, quiet: bool, packages: u64, deadline_warning: u32) -> Output {
        let bar = if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            indicatif::ProgressBar::hidden()
        } else {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(packages),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] auditing {wide_bar} {pos}/{len} packages, {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        };
        Output {
            json,
            bar,
            lock: Mutex::new(()),
            read: AtomicU64::new(0),
            deadline_warning: f64::from(deadline_warning),
        }
    }

    fn package(&self, record: &PackageRecord) {
        let _one_at_a_time = self.lock.lock();
        self.bar.inc(1);
        // Each deadline due within --deadline-warning days (or past) is a warning.
        let due_soon: Vec<&custos_policy::Deadline> =
            record.deadlines.iter().filter(|d| d.days_left <= self.deadline_warning).collect();
        let warned;
        let record = if due_soon.is_empty() {
            record
        } else {
            warned = PackageRecord { warnings: record.warnings + due_soon.len(), ..record.clone() };
            &warned
        };
        self.bar.suspend(|| {
            let mut stdout = std::io::stdout().lock();
            if self.json {
                let _ = crate::render::json_line(&mut stdout, record);
            } else {
                let _ = writeln!(
                    stdout,
                    "{:<5} {} ({}, {}, {}, {:.1} s)",
                    record.verdict.to_uppercase(),
                    escape(&record.path),
                    record
                        .case
                        .as_deref()
                        .map_or_else(|| "no case".into(), |c| format!("case {}", escape(c))),
                    mode_name(record.mode),
                    human::size(record.bytes),
                    record.seconds
                );
                for failure in &record.failures {
                    let _ = writeln!(
                        stdout,
                        "      {} {}: {}",
                        failure.check,
                        escape(&failure.subject),
                        escape(&failure.reason)
                    );
                }
                for deadline in &due_soon {
                    let _ = writeln!(stdout, "      deadline {}", crate::deadlines::describe(deadline));
                }
            }
        });
    }

    fn read(&self, bytes: u64) {
        let total = self.read.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.bar.set_message(format!("{} read", human::size(total)));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn summary(&self, summary: &Summary) {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let _ = crate::render::json_line(&mut stdout, summary);
            return;
        }
        let resumed = if summary.resumed {
            format!(
                "; resumed run {}, {} checked before",
                summary.run.as_deref().unwrap_or("?"),
                summary.already_checked
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            stdout,
            "\naudited {} ({} full, {} fast{}): {} pass, {} fail, {} error; {} re-hashed in {:.1} s{resumed}",
            human::plural(summary.tally.packages, "package"),
            summary.tally.full,
            summary.tally.fast,
            if summary.shard == "0/1" { String::new() } else { format!(", shard {}", summary.shard) },
            summary.tally.pass,
            summary.tally.fail,
            summary.tally.error,
            human::size(summary.tally.bytes),
            summary.seconds
        );
        for folder in &summary.being_sealed {
            let _ = writeln!(
                stdout,
                "not audited: {} (a seal in progress, or one that was killed)",
                escape(folder)
            );
        }
        let word = match summary.verdict {
            "pass" => "every package VERIFIED",
            "fail" => "FAILED: some packages did not verify",
            _ => "INCOMPLETE: some packages could not be checked",
        };
        let _ = writeln!(stdout, "{word}");
    }
}

/// Counts one package's payload bytes and moves the audit's bar.
#[derive(Debug)]
struct Counted<'a> {
    read: AtomicU64,
    out: &'a Output,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output").field("json", &self.json).finish_non_exhaustive()
    }
}

impl custos_manifest::verify::VerifyProgress for Counted<'_> {
    fn payload(&self, _total_bytes: u64) {}

    fn read(&self, bytes: u64) {
        self.read.fetch_add(bytes, Ordering::Relaxed);
        self.out.read(bytes);
    }
}

fn verify_ledger(file: &Path, trust: &[PathBuf], head: Option<&str>, json: bool) -> Result<Status> {
    let keys = crate::policy::load_trusted_keys(trust)?;
    if keys.is_empty() {
        bail!("no public key in what --trust names: give the auditor's public key file (the ledger cannot be judged without it)");
    }
    // A regular file only (a FIFO would block the verifier), through any link the user named.
    let real =
        std::fs::canonicalize(file).with_context(|| format!("cannot read the ledger {}", file.display()))?;
    let bytes = custos_policy::read_regular_file(&real, MAX_LEDGER_BYTES)
        .with_context(|| format!("cannot read the ledger {}", file.display()))?
        .with_context(|| format!("the ledger {} does not exist", file.display()))?;
    let verified = custos_audit::ledger::verify(&bytes, &keys, head);
    let verdict = if verified.problems.is_empty() { "pass" } else { "fail" };
    if json {
        let record = serde_json::json!({
            "custos_audit_ledger": 1,
            "ledger": file.display().to_string(),
            "verdict": verdict,
            "entries": verified.entries,
            "head": verified.head,
            "holds_head": verified.holds_head,
            "verdicts": verified.verdicts,
            "problems": verified.problems,
        });
        crate::render::print_json(&record)?;
    } else {
        for problem in &verified.problems {
            println!("FAIL  line {}: {}", problem.line, escape(&problem.reason));
        }
        let counts: Vec<String> = verified.verdicts.iter().map(|(v, n)| format!("{n} {v}")).collect();
        println!(
            "{}: {} ({}; {}), head {}",
            file.display(),
            if verdict == "pass" { "VERIFIED" } else { "FAILED" },
            if verified.entries == 1 {
                "1 entry".to_owned()
            } else {
                format!("{} entries", human::count(verified.entries as u64))
            },
            if counts.is_empty() { "none".to_owned() } else { counts.join(", ") },
            verified.head.as_deref().unwrap_or("none")
        );
        if verdict == "pass" {
            println!("  keep the head: `custos audit ledger verify --head HEAD` shows later that no entry was cut off");
        }
    }
    Ok(if verdict == "pass" { Status::Ok } else { Status::Failed })
}

#[cfg(test)]
mod tests {
    use super::{is_rotating, sysfs_block, REMOTE_DEVICE};
    use std::os::unix::fs::MetadataExt as _;
    use std::path::{Path, PathBuf};

    /// Where a check cannot run on this machine: a failure under `CUSTOS_INTEROP=require`
    /// (CI must never count a skipped check as a passed one), else a line saying so.
    fn skip_or_fail(why: &str) {
        if std::env::var("CUSTOS_INTEROP").as_deref() == Ok("require") {
            panic!("CUSTOS_INTEROP=require, but: {why}");
        }
        eprintln!("skipping: {why} (set CUSTOS_INTEROP=require to make this fail)");
    }

    /// `st_dev` of a `MAJOR:MINOR` pair, glibc's `makedev` encoding (the inverse of what
    /// [`sysfs_block`] decodes).
    fn makedev(major: u64, minor: u64) -> u64 {
        ((major & 0xffff_f000) << 32)
            | ((major & 0xfff) << 8)
            | ((minor & 0xffff_ff00) << 12)
            | (minor & 0xff)
    }

    /// The `st_dev` of every whole disk in /sys/block, from its `dev` file (`254:0`).
    fn disks() -> Vec<u64> {
        let Ok(entries) = std::fs::read_dir("/sys/block") else { return Vec::new() };
        entries
            .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("dev")).ok())
            .filter_map(|text| {
                let (major, minor) = text.trim().split_once(':')?;
                Some(makedev(major.parse().ok()?, minor.parse().ok()?))
            })
            .collect()
    }

    /// What the disk's own queue (or, for a partition, its disk's) says about spinning.
    fn says_it_spins(real: &Path) -> bool {
        [real.join("queue/rotational"), real.join("../queue/rotational")]
            .iter()
            .find_map(|path| std::fs::read_to_string(path).ok())
            .is_some_and(|text| text.trim() == "1")
    }

    /// A virtual machine's disk says it spins whatever backs it; audits must not believe it.
    /// Checked on the disk holding these sources, or else on any virtio disk of the machine,
    /// that says it spins (one that says otherwise proves nothing here).
    #[test]
    fn the_disk_of_a_virtual_machine_is_not_taken_for_a_spinning_one() {
        assert!(!is_rotating(REMOTE_DEVICE));
        let here = std::fs::metadata(env!("CARGO_MANIFEST_DIR")).expect("metadata").dev();
        assert_eq!(makedev(254, 1), 0xfe01);
        assert_eq!(sysfs_block(makedev(259, 1_048_577)), PathBuf::from("/sys/dev/block/259:1048577"));
        let virtio = std::iter::once(here).chain(disks()).find_map(|device| {
            let real = std::fs::canonicalize(sysfs_block(device)).ok()?;
            (real.to_string_lossy().contains("/virtio") && says_it_spins(&real)).then_some((device, real))
        });
        let Some((device, real)) = virtio else {
            return skip_or_fail(
                "no virtio disk here says it spins, so the virtual-disk rule is not exercised",
            );
        };
        assert!(!is_rotating(device), "{} is a virtio disk", real.display());
    }
}
