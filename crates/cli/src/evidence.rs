//! `custos custody …`, `custos cosign`, `custos verify` and `custos export`: a sealed
//! package's custody log, the verifier's report, and exports for other tools.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use custos_manifest::custody::{Action, Event, NewEvent, Onward};
use custos_manifest::findings::{Finding, Verdict};
use custos_manifest::package::add_event_stamped;
use custos_manifest::verify::CustodySummary;

use crate::judge::{Inputs, JudgeArgs, Judgement, Verifier};
use crate::policy::{print_matrix, PolicyReport};
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

/// A country as events write it (`de` is taken as `DE`; `Germany` or `UK` are refused).
pub fn country_code(text: &str) -> Result<String, String> {
    custos_manifest::vocabulary::country(text)
}

/// What a custody form records, on any event: when it happened, the seal or bag, the
/// condition, where it is stored, which exhibit.
#[derive(Debug, Args)]
pub struct CustodyFormArgs {
    /// When it happened, when not now (RFC 3339, or a date): a seizure recorded after
    /// sealing, a late record (shown as such)
    #[arg(long, value_name = "TIME")]
    pub occurred_at: Option<String>,
    /// The number of the tamper-evident seal or evidence bag
    #[arg(long, value_name = "TEXT")]
    pub seal_number: Option<String>,
    /// The condition of the exhibit or its packaging
    #[arg(long, value_name = "TEXT")]
    pub condition: Option<String>,
    /// Where it is stored (a locker, a room)
    #[arg(long, value_name = "TEXT")]
    pub storage: Option<String>,
    /// The exhibit the event concerns (its number)
    #[arg(long, value_name = "TEXT")]
    pub exhibit: Option<String>,
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
    /// The country the evidence is in (ISO 3166-1 alpha-2, such as DE; XA to XZ for others),
    /// signed in the event; it stays there until an event states another
    #[arg(long, value_name = "CC", value_parser = country_code)]
    pub country: Option<String>,
    #[command(flatten)]
    pub form: CustodyFormArgs,
    #[command(flatten)]
    pub anchors: AnchorArgs,
    /// Print the appended event as JSON
    #[arg(long)]
    pub json: bool,
    /// No progress bar (a fixity check reads every item)
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `custos custody disclose`.
#[derive(Debug, Args)]
pub struct DiscloseArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// The recipient authority's public key file
    #[arg(long, value_name = "RECIPIENT.pub")]
    pub to: PathBuf,
    /// The reference of the recorded order the disclosure relies on
    #[arg(long, value_name = "REF")]
    pub order: String,
    /// Conditions the recipient must keep to
    #[arg(long)]
    pub conditions: Option<String>,
    /// Until when the recipient may keep the data (RFC 3339, or a date)
    #[arg(long, value_name = "TIME")]
    pub retain_until: Option<String>,
    /// Whether the recipient may pass the data on: forbidden, or authorised (then only with
    /// your `custody authorise-onward`)
    #[arg(long, value_name = "forbidden|authorised", default_value = "forbidden", value_parser = onward)]
    pub onward: Onward,
    /// The items disclosed (all when not given)
    #[arg(long, value_name = "PATH,...", value_delimiter = ',')]
    pub items: Vec<String>,
    /// Passing on what you received: the reference of the discloser's onward authorisation
    #[arg(long, value_name = "REF")]
    pub authorisation: Option<String>,
}

fn onward(text: &str) -> Result<Onward, String> {
    match text {
        "forbidden" => Ok(Onward::Forbidden),
        "authorised" | "authorized" => Ok(Onward::Authorised),
        _ => Err("forbidden or authorised".into()),
    }
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
    /// Accept custody released to your key, or a disclosure made to it
    Accept {
        #[command(flatten)]
        event: EventArgs,
        /// The disclosure to acknowledge, by event number, when several await you
        #[arg(long, value_name = "SEQ")]
        disclosure: Option<u64>,
    },
    /// Disclose data to another authority under a recorded order (you hold the evidence, or
    /// pass on what you received under an onward authorisation)
    Disclose(Box<DiscloseArgs>),
    /// Authorise the recipient of your disclosure to pass it on to one more recipient
    AuthoriseOnward {
        #[command(flatten)]
        event: EventArgs,
        /// Your disclosure, by event number
        #[arg(long, value_name = "SEQ")]
        disclosure: u64,
        /// The onward recipient's public key file
        #[arg(long, value_name = "RECIPIENT.pub")]
        to: PathBuf,
        /// The authorisation's reference (the recipient cites it when passing the data on)
        #[arg(long, value_name = "REF")]
        reference: String,
    },
    /// Withdraw your pending release (before the receiver accepts)
    Withdraw {
        #[command(flatten)]
        event: EventArgs,
    },
    /// Record another event (accessed, examined, fixity_verified, fixity_failed, copied,
    /// moved, notified, preservation_renewed, returned, destroyed)
    Record {
        #[command(flatten)]
        event: EventArgs,
        /// What happened
        #[arg(long)]
        action: String,
        /// Free text
        #[arg(long)]
        note: Option<String>,
        /// The recorded order the event relies on or concerns (required for notified)
        #[arg(long, value_name = "REF")]
        order: Option<String>,
        /// notified: the state notified (ISO 3166-1 alpha-2)
        #[arg(long, value_name = "CC", value_parser = country_code)]
        to_state: Option<String>,
        /// returned, destroyed: the disclosure whose copy you, its recipient, give back or
        /// destroy, by event number
        #[arg(long, value_name = "SEQ")]
        disclosure: Option<u64>,
        /// A file to keep with the event (a photo, a worksheet, a tool's report), its digest
        /// signed in the event (repeatable)
        #[arg(long, value_name = "FILE")]
        attach: Vec<PathBuf>,
        /// hold_lifted: the legal hold to lift, by event number (the one you placed, when
        /// left out)
        #[arg(long, value_name = "SEQ")]
        hold: Option<u64>,
        /// witnessed: the return or destruction witnessed, by event number (the last, when
        /// left out)
        #[arg(long, value_name = "SEQ")]
        witnessed: Option<u64>,
        /// fixity_verified: the bytes of items sealed with --reference, the file or a folder
        /// holding them (as `verify --evidence`); required when the package has such items
        #[arg(long, value_name = "PATH")]
        evidence: Option<PathBuf>,
        /// fixity_verified: a trusted public key file, or a folder of them (repeatable), to
        /// judge the signers by; without it the signatures are checked against the keys the
        /// package ships (integrity only, as `verify --allow-untrusted`)
        #[arg(long, value_name = "PUBKEY|DIR")]
        trust: Vec<PathBuf>,
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
    let mut check_with: (Option<PathBuf>, Vec<PathBuf>) = (None, Vec::new());
    let mut attachments: Vec<PathBuf> = Vec::new();
    let (args, mut event, receiver) = match command {
        CustodyCommand::Log { package, json } => return show_log(&package, json),
        CustodyCommand::Receipt { package, out, json } => {
            crate::location::refuse_output_in_a_package("--out", &out, Some(&package))?;
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
                crate::render::print_json(&summary)?;
            }
            return Ok(Status::Ok);
        }
        CustodyCommand::Release { event, to } => {
            (event, NewEvent::new(Action::Released, now), Some(load_public_key(&to)?))
        }
        CustodyCommand::Accept { event, disclosure } => {
            let mut new = NewEvent::new(Action::Accepted, now);
            new.disclosure = disclosure;
            (event, new, None)
        }
        CustodyCommand::Withdraw { event } => (event, NewEvent::new(Action::Withdrawn, now), None),
        CustodyCommand::Disclose(args) => {
            let DiscloseArgs { event, to, order, conditions, retain_until, onward, items, authorisation } =
                *args;
            if event.purpose.as_deref().is_none_or(|p| p.trim().is_empty()) {
                bail!("a disclosure states its purpose: give --purpose TEXT");
            }
            let mut new = NewEvent::new(Action::Disclosed, now);
            new.legal_basis = Some(order);
            new.conditions = conditions;
            new.retain_until =
                retain_until.map(|t| crate::order::time_arg("--retain-until", &t)).transpose()?;
            new.onward = Some(onward);
            new.items = items;
            new.authorisation = authorisation;
            (event, new, Some(load_public_key(&to)?))
        }
        CustodyCommand::AuthoriseOnward { event, disclosure, to, reference } => {
            let mut new = NewEvent::new(Action::OnwardAuthorised, now);
            new.disclosure = Some(disclosure);
            new.authorisation = Some(reference);
            (event, new, Some(load_public_key(&to)?))
        }
        CustodyCommand::Record {
            event,
            action,
            note,
            order,
            to_state,
            disclosure,
            attach,
            hold,
            witnessed,
            evidence,
            trust,
        } => {
            let action = Action::parse(&action).with_context(|| format!("unknown action `{action}`"))?;
            if matches!(
                action,
                Action::Sealed
                    | Action::Released
                    | Action::Accepted
                    | Action::Withdrawn
                    | Action::Cosigned
                    | Action::Disclosed
                    | Action::OnwardAuthorised
                    | Action::OrderRecorded
            ) {
                bail!(
                    "`{}` events are made by seal, custody release, accept, withdraw, disclose and authorise-onward, cosign, and order add",
                    action.name()
                );
            }
            if action != Action::FixityVerified && (evidence.is_some() || !trust.is_empty()) {
                bail!("--evidence and --trust are for --action fixity_verified, which checks the package as verify does");
            }
            if action == Action::Notified && (order.is_none() || to_state.is_none()) {
                bail!("a notification names the order and the state notified: give --order REF and --to-state CC");
            }
            if action != Action::Notified && to_state.is_some() {
                bail!("--to-state is for --action notified");
            }
            if disclosure.is_some() && !matches!(action, Action::Returned | Action::Destroyed) {
                bail!("--disclosure is for --action returned or destroyed (of a disclosed copy), and for custody accept");
            }
            if !attach.is_empty() && matches!(action, Action::FixityVerified | Action::FixityFailed) {
                bail!(
                    "--attach is for a record of what was done (examined, seized, …), not for a fixity check"
                );
            }
            attachments = attach;
            check_with = (evidence, trust);
            if hold.is_some() && action != Action::HoldLifted {
                bail!("--hold is for --action hold_lifted");
            }
            if witnessed.is_some() && action != Action::Witnessed {
                bail!("--witnessed is for --action witnessed");
            }
            let mut new = NewEvent::new(action, now);
            new.hold = hold;
            new.witnessed = witnessed;
            new.note = note;
            new.legal_basis = order;
            new.to_state = to_state;
            new.disclosure = disclosure;
            (event, new, None)
        }
    };
    let action = event.action;
    let EventArgs { package, signer, purpose, location, country, form, anchors, json, quiet } = args;
    let CustodyFormArgs { occurred_at, seal_number, condition, storage, exhibit } = form;
    // A blank value is a mistake (an unset variable in a script), never a recorded field.
    for (flag, value) in [
        ("--seal-number", &seal_number),
        ("--condition", &condition),
        ("--storage", &storage),
        ("--exhibit", &exhibit),
        ("--location", &location),
        ("--purpose", &purpose),
    ] {
        if value.as_deref().is_some_and(|v| {
            !v.chars().any(|c| !c.is_whitespace() && !custos_manifest::safe_text::is_unsafe(c))
        }) {
            bail!("{flag} is empty: give its text, or leave the flag out");
        }
    }
    if action == Action::LegalHold && event.note.is_none() && event.legal_basis.is_none() {
        bail!("a legal hold says why: give --note TEXT or --order REF");
    }
    if action.is_about_the_exhibit() && occurred_at.is_none() {
        bail!("`{}` is recorded after sealing: say when it happened with --occurred-at TIME", action.name());
    }
    event.occurred_at = occurred_at.map(|t| crate::order::time_arg("--occurred-at", &t)).transpose()?;
    event.seal_number = seal_number;
    event.condition = condition;
    event.storage = storage;
    event.exhibit = exhibit;
    let AnchorArgs { receipt, tsa } = anchors;
    // Cheap checks first: nobody should type a passphrase for a command that cannot run.
    if !package.join(custos_manifest::package::MANIFEST_PATH).is_file() {
        bail!("{} is not an evidence package (no custos/manifest.json)", package.display());
    }
    if let Some(receipt) = &receipt {
        crate::location::refuse_output_in_a_package("--receipt", receipt, Some(&package))?;
    }
    if let Some(out) = &receipt {
        if out.symlink_metadata().is_ok() {
            bail!("{} already exists (receipts are never overwritten)", out.display());
        }
    }
    event.receiver = receiver.as_ref().map(|r| r.id().to_string());
    event.purpose = purpose;
    if action == Action::Moved && country.is_none() && location.is_none() {
        bail!("a move says where to: give --country CC, --location TEXT, or both");
    }
    event.location = location;
    event.country = country;
    // What the package must still be when a `fixity_verified` event is appended: as judged.
    let mut judged_as: Option<Option<String>> = None;
    if action == Action::FixityVerified {
        // Signed only after the judgement `verify` makes passed with no failure: re-hashing
        // the items alone would sign "verified" over a planted file, an edited bag-info.txt
        // or a broken log, and (for the tag manifests refreshed after the append) list edits
        // nobody checked. The event records the sealed digests the check recomputed.
        let (evidence, trust) = std::mem::take(&mut check_with);
        let store = custos_manifest::store::PackageDir::open(&package)
            .with_context(|| format!("cannot open {}", package.display()))?;
        let before = custos_manifest::store::PackageStore::fingerprint(&store)
            .with_context(|| format!("cannot read {}", package.display()))?;
        match full_fixity_check(&package, evidence, trust, quiet, json)? {
            Some(digests) => event.observed_digests = digests,
            None => return Ok(Status::Failed),
        }
        judged_as = Some(before);
    } else if action == Action::FixityFailed {
        // The event records what was observed. A failed check is never recorded as a
        // verified one; it is custody information too, recorded as `fixity_failed`.
        let bar = progress::PayloadBar::new(quiet);
        let fixity = custos_manifest::package::observe_fixity(&package, Some(&bar));
        bar.finish();
        let fixity = fixity?;
        // What re-hashing the items observed; a check that passed is no failure to record.
        if fixity.failures.is_empty() {
            bail!("the fixity check passed: record it as fixity_verified, not fixity_failed")
        }
        event.observed_digests = fixity.observed;
        if event.note.is_none() {
            event.note = Some(fixity.failures.join("; "));
        }
    }
    // Attachments are read (regular files, bounded) before anyone types a passphrase.
    let attached: Vec<(String, Vec<u8>)> = attachments
        .iter()
        .map(|file| {
            let bytes = crate::render::read_input_file(
                file,
                custos_manifest::order::MAX_DOCUMENT_BYTES,
                "attachment",
            )?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Ok((name, bytes))
        })
        .collect::<Result<_>>()?;
    let (secret, public) = load_signer(&signer.key, signer.passphrase_file.as_deref())?;
    let appended = match &judged_as {
        None if !attached.is_empty() => {
            let files: Vec<(&str, &[u8])> = attached.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
            custos_manifest::package::add_event_with_attachments(&package, event, &files, &secret, &public, tsa.as_deref())
        }
        None => add_event_stamped(&package, event, &secret, &public, receiver.as_ref(), tsa.as_deref()),
        Some(before) => {
            let unchanged = |store: &custos_manifest::store::PackageDir| {
                let now = custos_manifest::store::PackageStore::fingerprint(store)
                    .map_err(|e| custos_manifest::Error::Package(e.to_string()))?;
                if now.is_none() || now != *before {
                    return Err(custos_manifest::Error::Package(
                        "the package changed after it was checked (another command wrote to it, or a temporary file an interrupted command left was removed); nothing was signed: run the command again".into(),
                    ));
                }
                Ok(())
            };
            custos_manifest::package::add_event_if_unchanged(
                &package,
                event,
                &secret,
                &public,
                receiver.as_ref(),
                tsa.as_deref(),
                &unchanged,
            )
        }
    }
    .map_err(|e| explain_permission(&package, anyhow::Error::new(e)))
        .with_context(|| format!("cannot add to the custody log of {}", package.display()))?;
    let event = &appended.event;
    if json {
        crate::render::print_json(&event)?;
    } else {
        println!(
            "event {}: {} by {} at {}",
            event.sequence,
            event.action.name(),
            escape(&event.actor.name),
            event.time
        );
        if let (Some(receiver), Action::Released) = (&receiver, action) {
            println!(
                "custody passes only when {} accepts: custos custody accept {} --key THEIR-KEY",
                escape(&receiver.owner.name),
                crate::render::shell_word(&package)
            );
        }
    }
    if let Some(out) = receipt {
        write_receipt(&out, &appended.receipt()?)?;
    }
    Ok(Status::Ok)
}

/// The check a `fixity_verified` event claims: the full judgement `custos verify` makes
/// (bag, tag manifests, signatures, custody log, every item re-hashed, referenced ones from
/// `evidence`), under the `trust` keys or, without them, the keys the package ships. Returns
/// the sealed digests it recomputed, item by item, when nothing failed and every item was
/// re-hashed; otherwise prints what failed and returns `None` (nothing is signed). A package
/// with referenced items and no `evidence` is an operator's mistake (an error).
fn full_fixity_check(
    package: &Path,
    evidence: Option<PathBuf>,
    trust: Vec<PathBuf>,
    quiet: bool,
    json: bool,
) -> Result<Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>>> {
    if evidence.is_none() {
        if let Ok((manifest, _)) = custos_manifest::package::read_manifest(package) {
            if let Some(item) = manifest.items.iter().find(|item| item.reference) {
                bail!(
                    "{} has items sealed with --reference ({} among them), kept outside the package: give --evidence PATH (the file, or a folder holding them), as for custos verify, so that the fixity check reads their bytes",
                    crate::render::shown(package),
                    escape(&item.path)
                );
            }
        }
    }
    let args = VerifyArgs {
        package: package.to_owned(),
        judge: JudgeArgs {
            allow_untrusted: trust.is_empty(),
            trust,
            policy: Vec::new(),
            require_signed_policy: false,
            at: None,
            tsa_cert: Vec::new(),
            strict: false,
        },
        evidence,
        fast: false,
        by_segments: false,
        receipt: Vec::new(),
        access: AccessArgs::default(),
        json,
        quiet,
    };
    let judgement = judge(&args)?;
    let verification = &judgement.verification;
    let digests = custos_manifest::verify::verified_digests(verification);
    let mut failures: Vec<String> = verification
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .map(|f| format!("{} {}: {}", f.check, f.subject, f.detail))
        .collect();
    let mut checks: Vec<&str> =
        verification.findings.iter().filter(|f| f.verdict == Verdict::Fail).map(|f| f.check).collect();
    checks.dedup();
    if failures.is_empty() {
        // Nothing failed, yet an item whose bytes were not re-hashed is not verified.
        for item in verification.manifest.iter().flat_map(|m| &m.items) {
            if !digests.contains_key(&item.path) {
                failures.push(format!("fixity.unchecked {}: its bytes were not re-hashed", item.path));
                checks.push("fixity.unchecked");
            }
        }
        if verification.manifest.is_none() {
            failures.push("fixity.unchecked custos/manifest.json: the manifest was not read".to_owned());
            checks.push("fixity.unchecked");
        }
    }
    if failures.is_empty() {
        return Ok(Some(digests));
    }
    if json {
        let record = serde_json::json!({ "verdict": "fail", "failures": failures, "recorded": false });
        crate::render::print_json(&record)?;
    } else {
        for failure in &failures {
            println!("FAIL  {}", escape(failure));
        }
    }
    checks.sort_unstable();
    checks.dedup();
    crate::render::say(&format!(
        "the fixity check failed ({}); nothing was signed. `custos verify` names every finding. To record the failure: custos custody record {} --action fixity_failed --key …",
        checks.join(", "),
        crate::render::shell_word(package)
    ));
    Ok(None)
}

#[derive(Debug, Args)]
pub struct CosignArgs {
    /// The package
    pub package: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// The country the evidence is in (ISO 3166-1 alpha-2), signed in the event
    #[arg(long, value_name = "CC", value_parser = country_code)]
    pub country: Option<String>,
    #[command(flatten)]
    pub form: CustodyFormArgs,
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
    if let Some(receipt) = &args.anchors.receipt {
        crate::location::refuse_output_in_a_package("--receipt", receipt, Some(&args.package))?;
    }
    let (secret, public) = load_signer(&args.signer.key, args.signer.passphrase_file.as_deref())?;
    let appended = custos_manifest::package::cosign(
        &args.package,
        custos_manifest::time::now_rfc3339(),
        args.country.clone(),
        &secret,
        &public,
        args.anchors.tsa.as_deref(),
    )
    .map_err(|e| explain_permission(&args.package, anyhow::Error::new(e)))
    .with_context(|| format!("cannot co-sign {}", args.package.display()))?;
    if args.json {
        crate::render::print_json(&appended.event)?;
    } else {
        println!(
            "co-signed the manifest of {} as {} ({}); recorded as event {}",
            crate::render::shown(&args.package),
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

/// A "Permission denied" while writing to a package, said with whose the package is and how
/// to fix it (typically a package made with `sudo custos acquire`, now used as oneself).
fn explain_permission(package: &Path, error: anyhow::Error) -> anyhow::Error {
    use std::os::unix::fs::MetadataExt as _;
    let denied = error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
            || cause.to_string().contains("Permission denied")
    });
    let (Ok(owner), Ok(me)) = (std::fs::symlink_metadata(package), std::fs::metadata("/proc/self")) else {
        return error;
    };
    if !denied {
        return error;
    }
    let name = |uid: u32| {
        std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| {
                    let fields: Vec<&str> = line.split(':').collect();
                    (fields.get(2) == Some(&uid.to_string().as_str())).then(|| fields[0].to_owned())
                })
            })
            .map_or_else(|| format!("uid {uid}"), |name| format!("{name} (uid {uid})"))
    };
    error.context(format!(
        "{} belongs to {}, and you are {}, who may not write to it{}: run the command as its owner, or take the package over with `sudo chown -R {}:{} {}` (ownership is not signed: the package verifies the same)",
        package.display(),
        escape(&name(owner.uid())),
        escape(&name(me.uid())),
        if owner.uid() == 0 { " (a package made with sudo is root's)" } else { "" },
        me.uid(),
        me.gid(),
        package.display()
    ))
}

/// Writes a receipt to a new file (never overwriting) and says on stderr what it is for.
pub fn write_receipt(out: &Path, receipt: &custos_manifest::receipt::Receipt) -> Result<()> {
    std::fs::File::create_new(out)
        .and_then(|mut file| std::io::Write::write_all(&mut file, &receipt.to_bytes()))
        .with_context(|| {
            format!("cannot write the receipt {} (existing files are never overwritten)", out.display())
        })?;
    crate::render::say_lines(&format!(
        "receipt of event {} (head {}) written to {}: keep it; `custos verify --receipt {}` shows whether the log still holds it",
        receipt.sequence,
        receipt.head,
        out.display(),
        out.display()
    ));
    Ok(())
}

/// Each log line's SHA-256 with its event number, from the events themselves (each names
/// the digest of the line before it): what events that refer to a line by its digest
/// (`release`, `disclosure`) are shown with.
pub fn line_numbers(events: &[Event]) -> std::collections::BTreeMap<&str, u64> {
    events.iter().filter_map(|e| Some((e.previous.as_deref()?, e.sequence.checked_sub(1)?))).collect()
}

/// What an event's custody form says, escaped, for one line of text: `, happened …
/// (recorded 3.0 days later), seal S-1, condition sealed, stored in locker 4, exhibit A-1`.
pub fn form_terms(event: &Event) -> String {
    let late = custos_manifest::custody::occurrence::recorded_after(event);
    let happened = event.occurred_at.as_deref().map(|at| {
        if late >= 3600 {
            format!("happened {} (recorded {:.1} days later)", escape(at), late as f64 / 86_400.0)
        } else {
            format!("happened {}", escape(at))
        }
    });
    let parts: Vec<String> = [
        happened,
        event.seal_number.as_deref().map(|s| format!("seal {}", escape(s))),
        event.condition.as_deref().map(|c| format!("condition {}", escape(c))),
        event.storage.as_deref().map(|s| format!("stored in {}", escape(s))),
        event.exhibit.as_deref().map(|x| format!("exhibit {}", escape(x))),
        event.note.as_deref().map(|n| format!("note \"{}\"", escape(n))),
    ]
    .into_iter()
    .flatten()
    .chain(
        event
            .attachments
            .iter()
            .map(|a| format!("attached {} (SHA-256 {})", escape(&a.path), short(&a.sha256))),
    )
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(", {}", parts.join(", "))
    }
}

/// What an event says about orders and disclosures, escaped, for one line of text:
/// ` under MLA-1 for "trial", onward forbidden, kept until …` (empty for other events).
pub fn legal_terms(event: &Event, numbers: &std::collections::BTreeMap<&str, u64>) -> String {
    let mut parts = Vec::new();
    let disclosure = event.disclosure.as_deref().map(|line| match numbers.get(line) {
        Some(n) => format!("disclosure {n}"),
        None => "a disclosure not in this log".to_owned(),
    });
    match event.action {
        Action::Disclosed => {
            if let Some(order) = &event.legal_basis {
                parts.push(format!("under {}", escape(order)));
            }
            if let Some(purpose) = &event.purpose {
                parts.push(format!("for \"{}\"", escape(purpose)));
            }
            if let Some(onward) = event.onward {
                parts.push(format!("onward {}", onward.name()));
            }
            if let Some(until) = &event.retain_until {
                parts.push(format!("kept until {}", escape(until)));
            }
            if let Some(authorisation) = &event.authorisation {
                parts.push(format!(
                    "passing on {} under authorisation {}",
                    disclosure.unwrap_or_default(),
                    escape(authorisation)
                ));
            }
        }
        Action::OnwardAuthorised => {
            parts.push(format!(
                "authorisation {} of {}",
                escape(event.authorisation.as_deref().unwrap_or("?")),
                disclosure.unwrap_or_default()
            ));
        }
        Action::Notified => parts.push(format!(
            "{} notified of {}",
            escape(event.to_state.as_deref().unwrap_or("?")),
            escape(event.legal_basis.as_deref().unwrap_or("?"))
        )),
        _ => {
            if let Some(disclosure) = disclosure {
                parts.push(format!("of {disclosure}"));
            }
            if let Some(order) = &event.legal_basis {
                parts.push(format!("under {}", escape(order)));
            }
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" {}", parts.join(", "))
    }
}

fn show_log(package: &Path, json: bool) -> Result<Status> {
    let (findings, events) = custos_manifest::package::log_with_shipped_keys(package)
        .with_context(|| format!("cannot read the custody log of {}", package.display()))?;
    // The country the evidence is in at each event: stated, or carried from the last event
    // that stated one (in brackets), or unknown (`??`); never guessed from a key file.
    let mut country: Option<&str> = None;
    let numbers = line_numbers(&events);
    for event in &events {
        if json {
            crate::render::print_json(&event)?;
        } else {
            let receiver =
                event.receiver.as_deref().map(|r| format!(" to {}", escape(short(r)))).unwrap_or_default();
            let place = match (event.country.as_deref(), country) {
                (Some(stated), _) => format!("{stated}  "),
                (None, Some(carried)) => format!("({carried})"),
                (None, None) => "??  ".to_owned(),
            };
            country = event.country.as_deref().or(country);
            let location =
                event.location.as_deref().map(|l| format!(" at {}", escape(l))).unwrap_or_default();
            let terms = format!("{}{}", legal_terms(event, &numbers), form_terms(event));
            println!(
                "{:>3}  {}  {}  {:<20} {} ({}, key {}){receiver}{terms}{location}",
                event.sequence,
                escape(&event.time),
                escape(&place),
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
        crate::render::say(&format!(
            "{} {}: {}",
            finding.check,
            escape(&finding.subject),
            escape(&finding.detail)
        ));
    }
    if !json {
        crate::render::say("signatures checked against the keys shipped in the package only; use `custos verify --trust` to check who signed");
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
    let place = match &custody.holder.place {
        Some(place) => format!("; in {} since event {}", escape(&place.country), place.since),
        None => "; country unknown (no event states one)".to_owned(),
    };
    format!(
        "custody: {} event(s), head {}; {holder}{place}{ended}\n  a log proves only what it still holds: compare the head with your receipt (--receipt FILE)",
        custody.events,
        custody.head.as_deref().unwrap_or("none")
    )
}

pub fn short(key_id: &str) -> &str {
    key_id.get(..16).unwrap_or(key_id)
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The package: a folder, or s3://BUCKET/PREFIX
    pub package: PathBuf,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// The bytes of items sealed with --reference: the file, or a folder holding them
    #[arg(long, value_name = "PATH")]
    pub evidence: Option<PathBuf>,
    /// Skip re-hashing the evidence bytes (says so in the report)
    #[arg(long)]
    pub fast: bool,
    /// Check items sealed with --segment-size by their signed segment lists, every segment
    /// on every core, instead of recomputing whole-file digests (the findings say so)
    #[arg(long, conflicts_with = "fast")]
    pub by_segments: bool,
    /// A custody receipt: fail if the log no longer holds its event (repeatable)
    #[arg(long, value_name = "FILE")]
    pub receipt: Vec<PathBuf>,
    #[command(flatten)]
    pub access: AccessArgs,
    /// Every finding as JSON
    #[arg(long)]
    pub json: bool,
    /// No progress bar
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `--record-access --key KEY`: the command appends a signed `accessed` event saying what
/// was done, so that the custody record shows every look at the evidence.
#[derive(Debug, Default, Args)]
pub struct AccessArgs {
    /// Record this access in the package's custody log (an `accessed` event signed with
    /// --key, saying what was done and what was found)
    #[arg(long, requires = "key")]
    pub record_access: bool,
    /// The key that signs the access record: PATH or PATH.key, with PATH.pub beside it
    #[arg(long, value_name = "KEY", requires = "record_access")]
    pub key: Option<PathBuf>,
    /// Read that key's passphrase from the first line of FILE
    #[arg(long, value_name = "FILE", requires = "record_access")]
    pub access_passphrase_file: Option<PathBuf>,
}

impl AccessArgs {
    /// Refuses, before any work, an access record that cannot be written: to a package in
    /// an object store (nothing is appended there), or with a key that cannot be read.
    pub fn check(&self, package: &Path) -> Result<()> {
        if self.record_access && crate::location::is_remote(package) {
            bail!(
                "--record-access appends to the package's custody log, which is not done in an object store: pull the package, or leave --record-access out"
            );
        }
        Ok(())
    }

    /// Appends an `accessed` event whose note says what was done (`what`), signed with the
    /// key given, when asked for; prints what was recorded (to stderr, so a JSON record on
    /// stdout stays one line).
    pub fn record(&self, package: &Path, what: &str) -> Result<()> {
        let (true, Some(key)) = (self.record_access, &self.key) else { return Ok(()) };
        let (secret, public) = load_signer(key, self.access_passphrase_file.as_deref())?;
        let mut event = NewEvent::new(Action::Accessed, custos_manifest::time::now_rfc3339());
        event.note = Some(what.to_owned());
        let appended = add_event_stamped(package, event, &secret, &public, None, None)
            .map_err(|e| explain_permission(package, anyhow::Error::new(e)))
            .with_context(|| {
                format!("cannot record the access in the custody log of {}", crate::render::shown(package))
            })?;
        crate::render::say(&format!(
            "recorded this access as event {} of the custody log (signed by {})",
            appended.event.sequence,
            escape(&appended.event.actor.name)
        ));
        Ok(())
    }
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
    /// The overall outcome in words, as the text output's last line says it:
    /// `NOT ACCEPTABLE in XB, XC (integrity VERIFIED)`.
    outcome: String,
    /// The jurisdictions whose policy rejects the package (empty when none does).
    not_acceptable_in: Vec<&'a str>,
    strict: bool,
    evaluated_at: String,
    manifest_sha256: Option<String>,
    duration_ms: u128,
    custody: &'a CustodySummary,
    findings: &'a [Finding],
    #[serde(skip_serializing_if = "<[PolicyReport]>::is_empty")]
    policies: &'a [PolicyReport],
}

pub fn run_verify(args: VerifyArgs) -> Result<Status> {
    let started = std::time::Instant::now();
    args.access.check(&args.package)?;
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
            crate::render::print_json(&record)?;
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
            outcome: judgement.outcome(),
            not_acceptable_in: judgement.rejected_in(),
            strict: args.judge.strict,
            evaluated_at: custos_manifest::time::now_rfc3339(),
            manifest_sha256: judgement.verification.manifest_sha256.clone(),
            duration_ms: started.elapsed().as_millis(),
            custody: &judgement.verification.custody,
            findings: &judgement.verification.findings,
            policies: &judgement.policies,
        };
        crate::render::print_json(&report)?;
    } else {
        print_report(&args.package, &judgement);
    }
    args.access.record(&args.package, &format!("custos verify: {}", judgement.outcome()))?;
    Ok(judgement.status())
}

/// Verifies the package and evaluates every policy on what verification established.
pub fn judge(args: &VerifyArgs) -> Result<Judgement> {
    let verifier = Verifier::load_with_receipts(&args.judge, &args.receipt)?;
    judge_with(&verifier, args)
}

/// [`judge`] with a verifier already loaded (`report` looks at its trust first).
pub fn judge_with(verifier: &Verifier, args: &VerifyArgs) -> Result<Judgement> {
    verifier.refuse_trust_inside(&args.package)?;
    // The operator's path to evidence sealed by reference: a typo is a mistake, not damage.
    if let Some(evidence) = args.evidence.as_deref().filter(|e| !crate::location::is_remote(e)) {
        if std::fs::symlink_metadata(evidence).is_err() {
            bail!(
                "--evidence {} does not exist: give the path where the referenced evidence is now",
                crate::render::shown(evidence)
            );
        }
    }
    let store = crate::location::open_package(&args.package)?;
    // No key to judge signers by: every package would fail for want of one, which says
    // nothing about the evidence.
    if !verifier.trusts_any_key() && !args.judge.allow_untrusted {
        bail!(
            "no --trust key: verification judges who signed the package by the keys you trust. Give them with --trust KEY.pub or --trust FOLDER (repeatable), or --allow-untrusted to check integrity against the keys the package ships"
        );
    }
    let mut receipts = Vec::new();
    for path in &args.receipt {
        receipts.push((path.display().to_string(), read_receipt(path)?));
    }
    let bar = progress::PayloadBar::new(args.quiet);
    let inputs = Inputs {
        fast: args.fast,
        by_segments: args.by_segments,
        evidence: args.evidence.as_deref(),
        receipts: &receipts,
        progress: Some(&bar),
    };
    let judgement = verifier.judge(store.as_ref(), &inputs);
    bar.finish();
    if let Some(evidence) = args.evidence.as_deref() {
        refuse_evidence_path_that_holds_none(evidence, &judgement)?;
    }
    Ok(judgement)
}

/// When every item sealed by reference failed to be found at `--evidence`, and nothing else
/// failed, the path is wrong (a file for several items, another folder): the operator's
/// mistake, said with its fix. Only on a manifest whose signature verified, so that an edit
/// of the package can never turn its verdict into a usage error.
fn refuse_evidence_path_that_holds_none(evidence: &Path, judgement: &Judgement) -> Result<()> {
    let Some(manifest) = &judgement.verification.manifest else { return Ok(()) };
    let referenced: Vec<&str> =
        manifest.items.iter().filter(|i| i.reference).map(|i| i.path.as_str()).collect();
    if referenced.is_empty() {
        crate::render::say(&format!(
            "note: --evidence {} is not used: the package holds every item itself (none was sealed by reference)",
            crate::render::shown(evidence)
        ));
        return Ok(());
    }
    let failed: Vec<&custos_manifest::findings::Finding> =
        judgement.verification.findings.iter().filter(|f| f.verdict == Verdict::Fail).collect();
    let unreachable = |f: &&custos_manifest::findings::Finding| {
        f.check == "item.reference" && referenced.contains(&f.subject.as_str())
    };
    if failed.is_empty() || failed.len() != referenced.len() || !failed.iter().all(unreachable) {
        return Ok(());
    }
    let names: Vec<String> = referenced
        .iter()
        .map(|p| Path::new(p).file_name().map_or_else(|| p.to_string(), |n| n.to_string_lossy().into_owned()))
        .collect();
    if evidence.is_dir() {
        bail!(
            "--evidence {} holds none of the {} item(s) sealed by reference ({}): give the folder where they are now",
            crate::render::shown(evidence),
            referenced.len(),
            names.join(", ")
        );
    }
    bail!(
        "--evidence {} is a file, and {} items were sealed by reference ({}): give the folder that holds them by file name",
        crate::render::shown(evidence),
        referenced.len(),
        names.join(", ")
    )
}

/// Reads a custody receipt (bounded: a receipt is one line).
pub fn read_receipt(path: &Path) -> Result<custos_manifest::receipt::Receipt> {
    let bytes = crate::render::read_input_file(path, custos_manifest::receipt::MAX_RECEIPT_BYTES, "receipt")?;
    custos_manifest::receipt::Receipt::parse(&bytes)
        .with_context(|| format!("{} is not a usable receipt", path.display()))
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

/// The findings, the custody summary, the policies' matrix, and last the one line a reader
/// takes away: `PKG: <overall outcome>`, naming every jurisdiction that rejects the package.
fn print_report(package: &Path, judgement: &Judgement) {
    let findings = &judgement.verification.findings;
    let custody = &judgement.verification.custody;
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
    let counts = format!(
        "{} passed, {} warnings, {} failed",
        count(Verdict::Pass),
        count(Verdict::Warn),
        count(Verdict::Fail)
    );
    if judgement.policies.is_empty() {
        println!("{}: {} ({counts})", crate::render::shown(package), escape(&judgement.outcome()));
        return;
    }
    // Integrity is one part of the outcome: said as such, never as the last word while a
    // jurisdiction rejects the package.
    println!("integrity: {} ({counts})", judgement.integrity_word());
    print_matrix(&judgement.policies);
    println!("{}: {}", crate::render::shown(package), escape(&judgement.outcome()));
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
    /// A hashdeep known-hash file of the payload, for `hashdeep -a -o f -l -k FILE -r data` run
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
    #[command(flatten)]
    pub access: AccessArgs,
}

/// An export, recorded as an access to the package when asked (`--record-access`).
fn export_recorded(format: crate::interchange::Format, args: &InterchangeArgs) -> Result<Status> {
    args.access.check(&args.package)?;
    let status = crate::interchange::run(format, &args.package, args.out.as_deref(), args.json)?;
    if status == Status::Ok {
        let what = match &args.out {
            Some(out) => {
                let bytes = std::fs::read(out)
                    .with_context(|| format!("cannot read back {}", crate::render::shown(out)))?;
                format!(
                    "custos export {}: wrote {} (SHA-256 {})",
                    format.word(),
                    out.display(),
                    custos_manifest::custody::sha256_hex(&bytes)
                )
            }
            None => format!("custos export {}: written to standard output", format.word()),
        };
        args.access.record(&args.package, &what)?;
    }
    Ok(status)
}

pub fn run_export(command: ExportCommand) -> Result<Status> {
    use crate::interchange::Format;
    match command {
        ExportCommand::Case { args } => export_recorded(Format::Case, &args),
        ExportCommand::Dfxml { args } => export_recorded(Format::Dfxml, &args),
        ExportCommand::Hashdeep { args } => export_recorded(Format::Hashdeep, &args),
        ExportCommand::Checksums { package, out, json } => {
            let (manifest, signers) = custos_manifest::package::read_manifest(&package)
                .with_context(|| format!("cannot export checksums of {}", package.display()))?;
            // Refused before any folder is made.
            crate::location::refuse_output_in_a_package("--out", &out, Some(&package))?;
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let (package_at, out_at) = (package.canonicalize()?, out.canonicalize()?);
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
                    println!("wrote {}", crate::render::shown(path));
                }
                let names: Vec<String> = signers
                    .iter()
                    .map(|k| format!("{} ({})", escape(&k.owner.name), short(&k.id().to_string())))
                    .collect();
                crate::render::say(&format!(
                    "the digests are the manifest's as signed by {}, checked against the keys the package ships only: custos verify --trust checks who that is",
                    names.join(", ")
                ));
                // Absolute paths, so the command works from wherever the user stands.
                let sums = out_at.join("SHA256SUMS");
                println!(
                    "check with: cd {} && sha256sum -c {}",
                    crate::render::shell_word(&package_at),
                    crate::render::shell_word(&sums)
                );
            }
            Ok(Status::Ok)
        }
        ExportCommand::Minisign { package, signer, json } => {
            let (secret, public) = load_signer(&signer.key, signer.passphrase_file.as_deref())?;
            custos_manifest::export::export_minisign(&package, &secret, &public)
                .map_err(|e| explain_permission(&package, anyhow::Error::new(e)))?;
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
                crate::render::print_json(&record)?;
                return Ok(Status::Ok);
            }
            let signature = package.join(custos_manifest::export::MINISIGN_SIGNATURE_PATH);
            println!(
                "wrote {}; verify with: minisign -Vm {} -p {}",
                crate::render::shown(&signature),
                crate::render::shell_word(&package.join(custos_manifest::package::MANIFEST_PATH)),
                crate::render::shell_word(&key)
            );
            Ok(Status::Ok)
        }
    }
}
