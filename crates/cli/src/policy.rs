//! `custos policy …` and judging a verified package by jurisdiction policies: the rules x
//! jurisdictions matrix of `verify --policy` and the per-policy reports the court report uses.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use custos_manifest::envelope::{SignatureFile, SignatureVerdict};
use custos_manifest::findings::Verdict;
use custos_manifest::keys::PublicKey;
use custos_manifest::package::Verification;
use custos_policy::registry::{KeyRegistry, POLICY_PAYLOAD_TYPE, REGISTRY_PAYLOAD_TYPE};
use custos_policy::{
    evaluate, read_regular_file, Evidence, LoadedPolicy, Policy, PolicyFinding, PolicySignature,
    PolicyVerdict, MAX_DOCUMENT_BYTES, MAX_SIGNATURE_BYTES,
};
use serde::Serialize;

use crate::evidence::SignerArgs;
use crate::keygen::{load_public_key, load_signer};
use crate::render::escape;
use crate::Status;

/// One policy's verdict on a package, its findings, and who vouches for the policy.
#[derive(Serialize)]
pub struct PolicyReport {
    pub id: String,
    pub jurisdiction: String,
    pub name: String,
    pub verdict: PolicyVerdict,
    /// `{"status":"signed","signers":[{"key_id","name"}]}`, `{"status":"unsigned"}` or
    /// `{"status":"unknown_key","key_ids":[…]}`.
    pub signature: PolicySignature,
    pub findings: Vec<PolicyFinding>,
}

/// Evaluates every policy on what verification established, at `at` (seconds since the
/// epoch). A policy never passes a package whose integrity failed: its rules would be judged
/// on data nobody can vouch for.
pub fn judge_policies(policies: &[LoadedPolicy], verification: &Verification, at: i64) -> Vec<PolicyReport> {
    let integrity_failures = verification.findings.iter().filter(|f| f.verdict == Verdict::Fail).count();
    // The finding verification makes when --allow-untrusted found no trusted manifest signer.
    let untrusted_allowed = verification.findings.iter().any(|f| {
        f.check == "trust.signer"
            && f.verdict == Verdict::Warn
            && f.subject == custos_manifest::package::MANIFEST_PATH
    });
    policies
        .iter()
        .enumerate()
        .map(|(index, LoadedPolicy { policy, signature })| {
            // Trusted time under this policy's own authorities (and --tsa-cert's), not
            // under another policy's.
            let none = custos_policy::TrustedTimes::default();
            let trusted_times = verification.trusted_times_by_set.get(index).unwrap_or(&none);
            let mut findings = match &verification.manifest {
                Some(manifest) => {
                    let evidence = Evidence {
                        manifest,
                        events: &verification.events,
                        manifest_signers: &verification.manifest_signers,
                        trusted_times,
                    };
                    evaluate(policy, &evidence, at)
                }
                None => vec![PolicyFinding {
                    policy: policy.id.clone(),
                    rule: "integrity",
                    verdict: PolicyVerdict::Fail,
                    evidence: "no manifest signed by a trusted key: nothing to judge".into(),
                    citation: String::new(),
                    subject: None,
                }],
            };
            if integrity_failures > 0 && verification.manifest.is_some() {
                findings.insert(
                    0,
                    PolicyFinding {
                        policy: policy.id.clone(),
                        rule: "integrity",
                        verdict: PolicyVerdict::Fail,
                        evidence: format!(
                            "{integrity_failures} integrity check(s) failed: the rules below judge data that did not verify"
                        ),
                        citation: String::new(),
                        subject: None,
                    },
                );
            }
            // --allow-untrusted lets verification go on without a trusted signer; a policy
            // never accepts what no trusted key vouches for.
            if untrusted_allowed {
                findings.insert(
                    0,
                    PolicyFinding {
                        policy: policy.id.clone(),
                        rule: "integrity",
                        verdict: PolicyVerdict::Fail,
                        evidence: "signers were not checked against trusted keys (--allow-untrusted): nothing a trusted key vouches for to judge".into(),
                        citation: String::new(),
                        subject: None,
                    },
                );
            }
            let worst = findings.iter().map(|f| f.verdict).max().unwrap_or(PolicyVerdict::NotApplicable);
            PolicyReport {
                id: policy.id.clone(),
                jurisdiction: policy.jurisdiction.clone(),
                name: policy.name.clone(),
                verdict: worst,
                signature: signature.clone(),
                findings,
            }
        })
        .collect()
}

/// Every open deadline of the verified package at `at` (`custos_policy::deadlines`): from
/// the events that verified (a trusted signer, no failure of their own) and the policies'
/// rules. None when no manifest was established.
pub fn deadlines_of(
    policies: &[LoadedPolicy],
    verification: &Verification,
    at: i64,
) -> Vec<custos_policy::Deadline> {
    let Some(manifest) = &verification.manifest else { return Vec::new() };
    let evidence = Evidence {
        manifest,
        events: &verification.events,
        manifest_signers: &verification.manifest_signers,
        trusted_times: &verification.trusted_times,
    };
    let policies: Vec<&custos_policy::Policy> = policies.iter().map(|loaded| &loaded.policy).collect();
    custos_policy::deadlines(&policies, &evidence, at)
}

/// Reads a policy, its key registries and its detached signatures (`FILE.sig`), checking
/// each signature under the key in `trusted` with its id. A policy edited after signing, or
/// with a damaged signature file, is an error. With `require_signed`, so is a policy no
/// trusted key signed.
pub fn read_policy(path: &Path, trusted: &[PublicKey], require_signed: bool) -> Result<LoadedPolicy> {
    read_policy_as(path, trusted, require_signed.then_some("--require-signed-policy"))
}

/// [`read_policy`], naming the flag that demands a signature (`verify` and `policy check`
/// spell it differently).
fn read_policy_as(path: &Path, trusted: &[PublicKey], required_by: Option<&str>) -> Result<LoadedPolicy> {
    let loaded = Policy::load_checked(path, trusted)
        .with_context(|| format!("{} is not a usable policy", path.display()))?;
    if let Some(flag) = required_by {
        if !loaded.signature.is_trusted() {
            bail!(
                "{flag}: {} is not signed by a trusted key ({})",
                path.display(),
                describe_signature(&loaded.signature)
            );
        }
    }
    Ok(loaded)
}

/// Public keys from `.pub` files and from folders of them (as `verify --trust` reads them).
pub fn load_trusted_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    let mut keys: Vec<PublicKey> = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .map(|entry| entry.map(|e| e.path()))
                .collect::<std::io::Result<_>>()
                .with_context(|| format!("cannot read {}", path.display()))?;
            entries.sort();
            for entry in entries {
                if entry.extension().is_some_and(|e| e == "pub")
                    && !entry.to_string_lossy().ends_with(".minisign.pub")
                {
                    keys.push(load_public_key(&entry)?);
                }
            }
        } else {
            keys.push(load_public_key(path)?);
        }
    }
    Ok(keys)
}

/// "signed by Ada (21fe31dfa154a261)", "not signed", …
pub fn describe_signature(signature: &PolicySignature) -> String {
    match signature {
        PolicySignature::Unsigned => "not signed".into(),
        PolicySignature::SignedBy { signers } => format!(
            "signed by {}",
            signers
                .iter()
                .map(|s| format!("{} ({})", escape(&s.name), short(&s.key_id)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        PolicySignature::SignedByUnknownKey { key_ids } => format!(
            "signed only by key(s) not given with --trust, so unchecked: {}",
            key_ids.iter().map(|id| short(id)).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn short(key_id: &str) -> &str {
    key_id.get(..16).unwrap_or(key_id)
}

/// Findings of one policy that read as one: the same rule, verdict and reason, about
/// several events.
pub struct RuleGroup<'a> {
    pub rule: &'static str,
    pub verdict: PolicyVerdict,
    pub reason: &'a str,
    pub citation: &'a str,
    pub subjects: Vec<&'a str>,
}

impl RuleGroup<'_> {
    /// `events 0, 1 and 4`, or the subjects as they are.
    pub fn subjects_text(&self) -> String {
        let numbers: Option<Vec<&str>> = self
            .subjects
            .iter()
            .map(|s| s.strip_prefix("event ").and_then(|rest| rest.split(' ').next()))
            .collect();
        match numbers {
            Some(numbers) if numbers.len() == 1 => format!("event {}", numbers[0]),
            Some(numbers) if !numbers.is_empty() => format!("events {}", crate::report::and_list(&numbers)),
            _ => self.subjects.join("; "),
        }
    }

    /// One sentence: `Evidence held only in allowed countries: not met for events 0 to 4:
    /// held in DE; allowed: XB.`
    pub fn sentence(&self) -> String {
        let title = custos_policy::rule_title(self.rule);
        let reason = self.reason.trim_end_matches('.');
        if self.subjects.is_empty() {
            format!("{title}: {reason}.")
        } else {
            format!("{title}: {reason} ({}).", self.subjects_text())
        }
    }
}

/// Groups a policy's findings (those that apply), in order of first appearance, worst first.
pub fn group_findings(findings: &[PolicyFinding]) -> Vec<RuleGroup<'_>> {
    let mut groups: Vec<RuleGroup> = Vec::new();
    for finding in findings.iter().filter(|f| f.verdict != PolicyVerdict::NotApplicable) {
        let reason = finding.reason();
        match groups
            .iter_mut()
            .find(|g| g.rule == finding.rule && g.verdict == finding.verdict && g.reason == reason)
        {
            Some(group) => group.subjects.extend(finding.subject.as_deref()),
            None => groups.push(RuleGroup {
                rule: finding.rule,
                verdict: finding.verdict,
                reason,
                citation: &finding.citation,
                subjects: finding.subject.as_deref().into_iter().collect(),
            }),
        }
    }
    // Stable: within a verdict, the policy's own order.
    groups.sort_by_key(|g| std::cmp::Reverse(g.verdict));
    groups
}

/// Rules × jurisdictions, then the reasons for everything that is not a pass.
pub fn print_matrix(reports: &[PolicyReport]) {
    let mut rules: Vec<&str> = Vec::new();
    for report in reports {
        for finding in &report.findings {
            if !rules.contains(&finding.rule) {
                rules.push(finding.rule);
            }
        }
    }
    let label = |v: PolicyVerdict| match v {
        PolicyVerdict::Pass => "pass",
        PolicyVerdict::Warn => "WARN",
        PolicyVerdict::Fail => "FAIL",
        PolicyVerdict::NotApplicable => "n.a.",
    };
    println!("\nPolicies (rules x jurisdictions)");
    print!("{:<28}", "rule");
    for report in reports {
        print!(" {:<8}", escape(&report.jurisdiction));
    }
    println!();
    for rule in &rules {
        print!("{rule:<28}");
        for report in reports {
            let cell = report.findings.iter().filter(|f| f.rule == *rule).map(|f| f.verdict).max();
            print!(" {:<8}", cell.map_or("-", label));
        }
        println!();
    }
    print!("{:<28}", "overall");
    for report in reports {
        print!(" {:<8}", label(report.verdict));
    }
    println!("\n");
    for report in reports {
        // A policy file is the verifier's input, but one read from a shared folder may come
        // from anyone: its names are shown, never obeyed, like a package's.
        println!(
            "{} ({}, {}): {}",
            escape(&report.jurisdiction),
            escape(&report.name),
            escape(&report.id),
            label(report.verdict)
        );
        println!("  policy {}", describe_signature(&report.signature));
        // A rule that fails for every event is one line listing the events.
        for group in group_findings(&report.findings)
            .iter()
            .filter(|g| matches!(g.verdict, PolicyVerdict::Fail | PolicyVerdict::Warn))
        {
            let cite = if group.citation.is_empty() {
                String::new()
            } else {
                format!(" [{}]", escape(group.citation))
            };
            let about = if group.subjects.is_empty() {
                String::new()
            } else {
                format!(" ({})", escape(&group.subjects_text()))
            };
            println!("  {} {}: {}{about}{cite}", label(group.verdict), group.rule, escape(group.reason));
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Sign a policy or key registry: writes FILE.sig (the detached signature format)
    Sign {
        /// The policy or registry
        file: PathBuf,
        #[command(flatten)]
        signer: SignerArgs,
        /// Print the signature file written as JSON
        #[arg(long)]
        json: bool,
    },
    /// Check a policy file and explain any mistake with its JSON path, line and column;
    /// report whether it is signed, and by whom
    Check {
        /// The policy
        file: PathBuf,
        /// A public key (or folder of .pub files) whose signature on the policy counts
        /// (repeatable)
        #[arg(long, value_name = "PUBKEY")]
        trust: Vec<PathBuf>,
        /// Fail unless a --trust key validly signed the policy
        #[arg(long)]
        require_signed: bool,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Add a trusted key to a policy's signatures rule (a signed policy must then be signed
    /// again): compare the key's fingerprint with its holder first (`custos key show`)
    Trust {
        /// The policy
        policy: PathBuf,
        /// The public key file to trust
        #[arg(value_name = "PUBKEY")]
        key: PathBuf,
        /// The person or office it belongs to (thresholds count principals, not keys)
        #[arg(long)]
        principal: String,
        /// The roles it may act in (comma-separated: examiner, evidence_custodian, …)
        #[arg(long, value_name = "LIST", value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// Where its holder keeps custody (ISO 3166-1 alpha-2)
        #[arg(long, value_name = "CC", value_parser = crate::evidence::country_code)]
        country: Option<String>,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run_policy(command: PolicyCommand) -> Result<Status> {
    match command {
        PolicyCommand::Sign { file, signer, json } => sign(&file, &signer, json),
        PolicyCommand::Trust { policy, key, principal, roles, country, json } => {
            trust(&policy, &key, &principal, &roles, country, json)
        }
        PolicyCommand::Check { file, trust, require_signed, json } => {
            let trusted = load_trusted_keys(&trust)?;
            let LoadedPolicy { policy, signature } =
                read_policy_as(&file, &trusted, require_signed.then_some("--require-signed"))?;
            let rules: Vec<&str> = [
                ("digests", policy.digests.is_some()),
                ("signatures", policy.signatures.is_some()),
                ("custody", policy.custody.is_some()),
                ("legal_basis", policy.legal_basis.is_some()),
                ("preservation", policy.preservation.is_some()),
                ("storage", policy.storage.is_some()),
                ("retention", policy.retention.is_some()),
                ("time", policy.time.is_some()),
                ("transfer", policy.transfer.is_some()),
                ("notification", policy.notification.is_some()),
                ("production", policy.production.is_some()),
                ("tools", policy.tools.is_some()),
            ]
            .into_iter()
            .filter_map(|(name, present)| present.then_some(name))
            .collect();
            if json {
                crate::render::print_json(&serde_json::json!({
                    "valid": true,
                    "verdict": "pass",
                    "id": policy.id,
                    "jurisdiction": policy.jurisdiction,
                    "rules": rules,
                    "signature": signature,
                }))?;
            } else {
                println!(
                    "{}: valid policy {} for {} ({}); rules: {}; {}",
                    escape(&file.display().to_string()),
                    escape(&policy.id),
                    escape(&policy.jurisdiction),
                    escape(&policy.name),
                    rules.join(", "),
                    describe_signature(&signature)
                );
            }
            Ok(Status::Ok)
        }
    }
}

/// `custos policy sign`: checks the document (a policy or a key registry) as it will be read,
/// then adds a signature over its exact bytes to FILE.sig.
fn sign(file: &Path, signer: &SignerArgs, json: bool) -> Result<Status> {
    let bytes = read_regular_file(file, MAX_DOCUMENT_BYTES)?
        .with_context(|| format!("cannot read {}: no such file", file.display()))?;
    let document: serde_json::Value = custos_manifest::strict_json::parse(&bytes)
        .with_context(|| format!("{} is not strict JSON", file.display()))?;
    // Refuse to vouch for a mistake: the document must read as it will be read when used.
    let payload_type = if document.get("custos_key_registry").is_some() {
        KeyRegistry::parse(&bytes)
            .with_context(|| format!("{} is not a usable key registry", file.display()))?;
        REGISTRY_PAYLOAD_TYPE
    } else if document.get("custos_policy").is_some() {
        Policy::parse(&bytes).with_context(|| format!("{} is not a usable policy", file.display()))?;
        POLICY_PAYLOAD_TYPE
    } else {
        bail!("{} is neither a policy nor a key registry", file.display());
    };
    let (secret, public) = load_signer(&signer.key, signer.passphrase_file.as_deref())?;
    let signature_path = PathBuf::from(format!("{}.sig", file.display()));
    let existing = read_regular_file(&signature_path, MAX_SIGNATURE_BYTES)?;
    let mut signatures = match &existing {
        Some(text) => SignatureFile::parse(text)
            .with_context(|| format!("{} is not a signature file", signature_path.display()))?,
        None => SignatureFile::new(payload_type),
    };
    if signatures.payload_type != payload_type {
        bail!("{} holds signatures of another kind of document", signature_path.display());
    }
    // Co-signing adds a signature and keeps the others. The signer's own earlier signature
    // must still hold: if it does not, the document changed since, and the other signatures
    // (which cannot be checked here) most likely vouch for the old bytes too.
    let verdicts = signatures
        .verify(payload_type, &bytes, |id| (id == public.id().to_string()).then_some(public.key))
        .with_context(|| format!("{} cannot be checked", signature_path.display()))?;
    if verdicts.iter().any(|v| matches!(v, SignatureVerdict::Invalid(_) | SignatureVerdict::Malformed(_))) {
        bail!(
            "{} changed since {} signed it: its signatures vouch for other bytes (remove {} to sign afresh)",
            file.display(),
            public.owner.name,
            signature_path.display()
        );
    }
    signatures.sign(&secret, &bytes);
    write_new_or_replace(&signature_path, &signatures.to_bytes(), existing.is_some())?;
    if json {
        let record = serde_json::json!({
            "file": file.display().to_string(),
            "signer": crate::render::signer(&public),
            "signatures": signatures.signatures.len(),
            "written": [crate::render::written(&signature_path, "signature")],
        });
        crate::render::print_json(&record)?;
    } else {
        println!(
            "signed {} as {} ({}); {} signature(s) in {}",
            file.display(),
            escape(&public.owner.name),
            &public.id().to_string()[..16],
            signatures.signatures.len(),
            signature_path.display()
        );
    }
    Ok(Status::Ok)
}

/// `custos policy trust`: adds a key to the policy's `signatures.trusted_keys`, checked as it
/// will be read, and says that a signature over the old bytes no longer counts.
fn trust(
    file: &Path,
    key: &Path,
    principal: &str,
    roles: &[String],
    country: Option<String>,
    json: bool,
) -> Result<Status> {
    let bytes = read_regular_file(file, MAX_DOCUMENT_BYTES)?
        .with_context(|| format!("cannot read {}: no such file", crate::render::shown(file)))?;
    Policy::parse(&bytes)
        .with_context(|| format!("{} is not a usable policy", crate::render::shown(file)))?;
    let mut document: serde_json::Value = custos_manifest::strict_json::parse(&bytes)
        .with_context(|| format!("{} is not strict JSON", crate::render::shown(file)))?;
    let public = load_public_key(key)?;
    let key_id = public.id().to_string();
    let roles = roles
        .iter()
        .map(|role| custos_manifest::vocabulary::canonical(role, &custos_manifest::vocabulary::ROLES, "role"))
        .collect::<std::result::Result<Vec<&str>, String>>()
        .map_err(anyhow::Error::msg)
        .context("--roles")?;
    if principal.trim().is_empty() || principal.chars().any(char::is_control) {
        bail!("--principal: one line naming the person or office");
    }
    let Some(keys) = document
        .get_mut("signatures")
        .and_then(|rule| rule.as_object_mut())
        .map(|rule| rule.entry("trusted_keys").or_insert_with(|| serde_json::json!([])))
        .and_then(|keys| keys.as_array_mut())
    else {
        bail!(
            "{} has no signatures rule: add one (with its cite, docs/formats/policy.md) before trusting keys in it",
            crate::render::shown(file)
        );
    };
    if keys.iter().any(|entry| entry["key_id"] == key_id.as_str()) {
        bail!("{} trusts key {} already", crate::render::shown(file), key_id);
    }
    let mut entry = serde_json::json!({ "key_id": key_id, "principal": principal, "roles": roles });
    if let Some(country) = &country {
        entry["jurisdiction"] = country.as_str().into();
    }
    keys.push(entry);
    let mut updated = serde_json::to_vec_pretty(&document)?;
    updated.push(b'\n');
    Policy::parse(&updated).context("the policy with the new key would not read back")?;
    write_new_or_replace(file, &updated, true)?;
    let signature = PathBuf::from(format!("{}.sig", file.display()));
    let stale = signature.symlink_metadata().is_ok();
    if json {
        crate::render::print_json(&serde_json::json!({
            "policy": file.display().to_string(),
            "key_id": key_id,
            "principal": principal,
            "roles": roles,
            "jurisdiction": country,
            "signature_stale": stale,
        }))?;
    } else {
        println!(
            "{}: trusts {} ({}) as {}{}",
            crate::render::shown(file),
            escape(principal),
            crate::evidence::short(&key_id),
            roles.join(", "),
            country.as_deref().map(|c| format!(", keeping custody in {c}")).unwrap_or_default()
        );
        if stale {
            crate::render::say(&format!(
                "{} was a signature over the policy before this change and no longer verifies: sign the policy again (custos policy sign)",
                crate::render::shown(&signature)
            ));
        }
    }
    Ok(Status::Ok)
}

/// Writes `bytes` to `path` without writing through a link planted there: a new file is
/// created exclusively; an existing one (checked as a regular file when it was read) is
/// replaced by renaming a fresh file over it.
fn write_new_or_replace(path: &Path, bytes: &[u8], exists: bool) -> Result<()> {
    let target = if exists {
        PathBuf::from(format!("{}.tmp-{}", path.display(), std::process::id()))
    } else {
        path.to_owned()
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", target.display()))?;
    if exists {
        std::fs::rename(&target, path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    Ok(())
}
