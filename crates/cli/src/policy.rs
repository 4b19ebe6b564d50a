//! `custos policy …` and judging a verified package by jurisdiction policies: the rules x
//! jurisdictions matrix of `verify --policy` and the per-policy reports the court report uses.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use custos_manifest::package::Verification;
use custos_policy::{evaluate, Evidence, Policy, PolicyFinding, PolicyVerdict};
use serde::Serialize;

use crate::evidence::SignerArgs;
use crate::keygen::load_signer;
use crate::Status;

#[derive(Serialize)]
pub struct PolicyReport {
    pub id: String,
    pub jurisdiction: String,
    pub name: String,
    pub verdict: PolicyVerdict,
    pub findings: Vec<PolicyFinding>,
}

/// What verification and the policies concluded.
/// Evaluates every policy on what verification established, at `at` (seconds since the epoch).
pub fn judge_policies(policies: &[Policy], verification: &Verification, at: i64) -> Vec<PolicyReport> {
    policies
        .iter()
        .map(|policy| {
            let findings = match &verification.manifest {
                Some(manifest) => {
                    let evidence = Evidence {
                        manifest,
                        events: &verification.events,
                        manifest_signers: &verification.manifest_signers,
                    };
                    evaluate(policy, &evidence, at)
                }
                None => vec![PolicyFinding {
                    policy: policy.id.clone(),
                    rule: "integrity",
                    verdict: PolicyVerdict::Fail,
                    evidence: "no manifest signed by a trusted key: nothing to judge".into(),
                    citation: String::new(),
                }],
            };
            let worst = findings.iter().map(|f| f.verdict).max().unwrap_or(PolicyVerdict::NotApplicable);
            PolicyReport {
                id: policy.id.clone(),
                jurisdiction: policy.jurisdiction.clone(),
                name: policy.name.clone(),
                verdict: worst,
                findings,
            }
        })
        .collect()
}

pub fn read_policy(path: &Path) -> Result<Policy> {
    Policy::load(path).with_context(|| format!("{} is not a usable policy", path.display()))
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
        print!(" {:<8}", report.jurisdiction);
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
        println!("{} ({}, {}): {}", report.jurisdiction, report.name, report.id, label(report.verdict));
        for finding in
            report.findings.iter().filter(|f| matches!(f.verdict, PolicyVerdict::Fail | PolicyVerdict::Warn))
        {
            let cite =
                if finding.citation.is_empty() { String::new() } else { format!(" [{}]", finding.citation) };
            println!("  {} {}: {}{cite}", label(finding.verdict), finding.rule, finding.evidence);
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
    },
    /// Check a policy file and explain any mistake with its JSON path, line and column
    Check {
        /// The policy
        file: PathBuf,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run_policy(command: PolicyCommand) -> Result<Status> {
    match command {
        PolicyCommand::Sign { file, signer } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let document: serde_json::Value = custos_manifest::strict_json::parse(&bytes)
                .with_context(|| format!("{} is not strict JSON", file.display()))?;
            let payload_type = if document.get("custos_key_registry").is_some() {
                custos_policy::registry::REGISTRY_PAYLOAD_TYPE
            } else if document.get("custos_policy").is_some() {
                read_policy(&file)?;
                custos_policy::registry::POLICY_PAYLOAD_TYPE
            } else {
                bail!("{} is neither a policy nor a key registry", file.display());
            };
            let (secret, public) = load_signer(&signer.key, signer.passphrase_file.as_deref())?;
            let signature_path = PathBuf::from(format!("{}.sig", file.display()));
            let mut signatures = match std::fs::read(&signature_path) {
                Ok(existing) => custos_manifest::envelope::SignatureFile::parse(&existing)?,
                Err(_) => custos_manifest::envelope::SignatureFile::new(payload_type),
            };
            if signatures.payload_type != payload_type {
                bail!("{} holds signatures of another kind of document", signature_path.display());
            }
            // Co-signing adds a signature; the existing ones stay.
            signatures.sign(&secret, &bytes);
            std::fs::write(&signature_path, signatures.to_bytes())
                .with_context(|| format!("cannot write {}", signature_path.display()))?;
            println!(
                "signed {} as {} ({}); {} signature(s) in {}",
                file.display(),
                public.owner.name,
                public.id(),
                signatures.signatures.len(),
                signature_path.display()
            );
            Ok(Status::Ok)
        }
        PolicyCommand::Check { file, json } => {
            let policy = read_policy(&file)?;
            let rules: Vec<&str> = [
                ("digests", policy.digests.is_some()),
                ("signatures", policy.signatures.is_some()),
                ("custody", policy.custody.is_some()),
                ("legal_basis", policy.legal_basis.is_some()),
                ("preservation", policy.preservation.is_some()),
                ("storage", policy.storage.is_some()),
                ("retention", policy.retention.is_some()),
            ]
            .into_iter()
            .filter_map(|(name, present)| present.then_some(name))
            .collect();
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "valid": true, "id": policy.id, "jurisdiction": policy.jurisdiction, "rules": rules })
                );
            } else {
                println!(
                    "{}: valid policy {} for {} ({}); rules: {}",
                    file.display(),
                    policy.id,
                    policy.jurisdiction,
                    policy.name,
                    rules.join(", ")
                );
            }
            Ok(Status::Ok)
        }
    }
}
