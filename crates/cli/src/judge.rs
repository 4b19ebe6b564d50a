//! Judging a package: verification under the verifier's trust, and every policy on what it
//! established. `verify`, `report` and `audit` all judge through [`Verifier`], so they reach
//! the same findings and verdicts; only what they print differs.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use custos_manifest::findings::{overall, Verdict};
use custos_manifest::keys::PublicKey;
use custos_manifest::package::{Trust, VerifyOptions};
use custos_manifest::receipt::Receipt;
use custos_manifest::store::PackageStore;
use custos_manifest::verify::VerifyProgress;
use custos_policy::{LoadedPolicy, PolicyVerdict};

use crate::keygen::load_public_key;
use crate::policy::{read_policy, PolicyReport};
use crate::Status;

/// Refuses a file the verifier relies on (given with `flag`: --trust, --policy, --tsa-cert,
/// --receipt) that lies inside an evidence package (a folder holding `custos/manifest.json`
/// above it): a file there is whoever holds that package's claim, and one planted in another
/// package would otherwise vouch for a forgery.
fn refuse_inside_any_package(flag: &str, path: &Path) -> Result<()> {
    let Ok(real) = path.canonicalize() else { return Ok(()) };
    for folder in real.ancestors().skip(1) {
        if folder.join(custos_manifest::package::MANIFEST_PATH).is_file() {
            bail!(
                "{flag} {} is inside the evidence package {}: {}",
                crate::render::shown(path),
                crate::render::shown(folder),
                never_trust(flag)
            );
        }
    }
    Ok(())
}

/// A TSA certificate file a policy names must have the bytes the policy binds it to; a
/// signed policy that names one without its digest does not cover it (whoever can write the
/// file chooses whose time is trusted): refused with --require-signed-policy, said otherwise.
fn check_bound(
    policy: &Path,
    loaded: &LoadedPolicy,
    named: &custos_policy::CertificateFile,
    path: &Path,
    bytes: &[u8],
    require_signed: bool,
) -> Result<()> {
    let found = custos_hash::Algorithm::Sha256.digest(bytes).to_hex();
    match named.sha256() {
        Some(expected) if expected == found => Ok(()),
        Some(expected) => bail!(
            "the policy {} binds the TSA certificate {} to SHA-256 {}, but the file has SHA-256 {found}: it is not the certificate the policy's author chose",
            crate::render::shown(policy),
            crate::render::shown(path),
            crate::render::escape(expected)
        ),
        None if matches!(loaded.signature, custos_policy::PolicySignature::SignedBy { .. }) => {
            let why = format!(
                "the signed policy {} names the TSA certificate {} without its SHA-256, so its signature does not cover that file and whoever can write it chooses whose time is trusted. Name it as {{\"file\": \"{}\", \"sha256\": \"{found}\"}} and sign the policy again",
                crate::render::shown(policy),
                crate::render::shown(path),
                crate::render::escape(named.file())
            );
            if require_signed {
                bail!("{why}");
            }
            crate::render::say(&format!("warning: {why}"));
            Ok(())
        }
        None => Ok(()),
    }
}

/// Why a file the verifier relies on must come from outside any package, and the fix.
fn never_trust(flag: &str) -> &'static str {
    match flag {
        "--trust" => "the keys a package holds are claims by whoever holds it, never trust. Give the signer's public key file as you received it from them, kept outside any package",
        _ => "what a package holds is a claim by whoever holds it, never the verifier's own rules, receipts or certificates. Give the file you received, kept outside any package",
    }
}

/// A file (or folder) the verifier relies on, as given, with its canonical path.
#[derive(Debug)]
struct ReliedOn {
    /// The option that gave it (`--trust`, `--policy`, `--tsa-cert`, `--receipt`, …).
    flag: &'static str,
    given: PathBuf,
    real: Option<PathBuf>,
}

impl ReliedOn {
    fn new(flag: &'static str, given: &Path) -> ReliedOn {
        ReliedOn { flag, given: given.to_owned(), real: given.canonicalize().ok() }
    }
}

/// The largest TSA certificate file read (PEM chains are a few KiB).
const MAX_CERTIFICATE_BYTES: u64 = 1 << 20;

/// Whom and what the verifier trusts, and by which rules it judges: shared by `verify`,
/// `report` and `audit`.
#[derive(Debug, Args, Clone)]
pub struct JudgeArgs {
    /// A trusted public key file, or a folder of them (repeatable)
    #[arg(long, value_name = "PUBKEY|DIR")]
    pub trust: Vec<PathBuf>,
    /// Report integrity only when no signer is trusted, instead of failing
    #[arg(long)]
    pub allow_untrusted: bool,
    /// Also judge the package by a jurisdiction's policy (repeatable)
    #[arg(long, value_name = "FILE")]
    pub policy: Vec<PathBuf>,
    /// Refuse any --policy that no --trust key validly signed (FILE.sig)
    #[arg(long)]
    pub require_signed_policy: bool,
    /// Evaluate policies at this time (RFC 3339) [default: now]
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// A trusted time-stamping authority's certificate, PEM or DER (repeatable): time-stamp
    /// tokens in the package are checked offline against it
    #[arg(long, value_name = "FILE")]
    pub tsa_cert: Vec<PathBuf>,
    /// Every warning fails too (exit 1): unchecked bytes, untrusted signers allowed,
    /// pending transfers, unknown files
    #[arg(long)]
    pub strict: bool,
}

/// What one judgement reads besides the package and the verifier's trust.
#[derive(Debug, Default)]
pub struct Inputs<'a> {
    /// Skip re-hashing the payload (sizes are still compared).
    pub fast: bool,
    /// Check items by their signed segment lists, on every core.
    pub by_segments: bool,
    /// The bytes of items sealed by reference.
    pub evidence: Option<&'a Path>,
    /// Receipts to hold the log to, each with its name.
    pub receipts: &'a [(String, Receipt)],
    /// Told of the payload bytes read.
    pub progress: Option<&'a dyn VerifyProgress>,
}

/// The verifier's trust and rules, loaded once and used for any number of packages.
#[derive(Debug)]
pub struct Verifier {
    /// The keys given with --trust.
    given: Vec<TrustedKey>,
    /// What was given with --trust (and every key file read from it, folders expanded),
    /// --policy, --tsa-cert and --receipt(s): to refuse any that comes from inside the
    /// package being judged.
    relied_on: Vec<ReliedOn>,
    /// Why one of them, inside some evidence package, must be refused: found once on loading
    /// and said for every package judged.
    relied_on_in_a_package: Option<String>,
    policies: Vec<LoadedPolicy>,
    tsa_certificates: Vec<custos_timestamp::Certificate>,
    /// Per policy, in order: the certificates given with --tsa-cert and those it names.
    tsa_certificate_sets: Vec<Vec<custos_timestamp::Certificate>>,
    /// When policies are evaluated (seconds since the epoch).
    at: i64,
    allow_untrusted: bool,
    strict: bool,
}

impl Verifier {
    /// Reads the trusted keys, the policies (checked against the --trust keys only: a key
    /// file shipped in a package must never vouch for the policy that judges it) and the
    /// TSA certificates.
    pub fn load(args: &JudgeArgs) -> Result<Verifier> {
        Verifier::load_with_receipts(args, &[])
    }

    /// [`Verifier::load`], with the receipt files or folders the run holds packages to, so
    /// that they are refused from inside a package as keys and policies are.
    pub fn load_with_receipts(args: &JudgeArgs, receipts: &[PathBuf]) -> Result<Verifier> {
        let at = match &args.at {
            Some(text) => custos_policy::time::parse_rfc3339(text).with_context(|| {
                format!("--at {text}: not an RFC 3339 time (2026-01-01T00:00:00Z) nor a date (2026-01-01)")
            })?,
            None => {
                custos_policy::time::parse_rfc3339(&custos_manifest::time::now_rfc3339()).unwrap_or_default()
            }
        };
        let mut given = Vec::new();
        let mut trust_paths = args.trust.clone();
        for path in &args.trust {
            if path.is_dir() {
                let mut files = Vec::new();
                for entry in
                    std::fs::read_dir(path).with_context(|| format!("cannot read {}", path.display()))?
                {
                    let entry = entry?.path();
                    if entry.extension().is_some_and(|e| e == "pub")
                        && !entry.to_string_lossy().ends_with(".minisign.pub")
                    {
                        files.push(entry);
                    }
                }
                // In name order, so reports list them the same way on every run.
                files.sort();
                trust_paths.extend(files.iter().cloned());
                for file in files {
                    let key = load_public_key(&file)?;
                    given.push(TrustedKey { shown: key.owner.clone(), key, source: KeySource::File(file) });
                }
            } else {
                let key = load_public_key(path)?;
                given.push(TrustedKey {
                    shown: key.owner.clone(),
                    key,
                    source: KeySource::File(path.clone()),
                });
            }
        }
        let keys: Vec<PublicKey> = given.iter().map(|t| t.key.clone()).collect();
        let policies = args
            .policy
            .iter()
            .map(|path| read_policy(path, &keys, args.require_signed_policy))
            .collect::<Result<Vec<LoadedPolicy>>>()?;
        // TSA certificates: given on the command line, and named by the policies (relative
        // to each policy's file).
        let read_certificates = |path: &Path| -> Result<(Vec<u8>, Vec<custos_timestamp::Certificate>)> {
            let bytes = crate::render::read_input_file(path, MAX_CERTIFICATE_BYTES, "TSA certificate")?;
            let certificates = custos_timestamp::parse_certificates(&bytes)
                .with_context(|| format!("{} is not a certificate (PEM or DER)", path.display()))?;
            Ok((bytes, certificates))
        };
        let mut tsa_paths: Vec<PathBuf> = args.tsa_cert.clone();
        let mut tsa_certificates = Vec::new();
        for path in &args.tsa_cert {
            tsa_certificates.extend(read_certificates(path)?.1);
        }
        // Each jurisdiction trusts the authorities given with --tsa-cert and those its own
        // policy names, never another policy's.
        let mut tsa_certificate_sets = Vec::new();
        for (file, loaded) in args.policy.iter().zip(&policies) {
            let folder = file.parent().unwrap_or(Path::new("."));
            let mut own = tsa_certificates.clone();
            for named in loaded.policy.time.iter().flat_map(|rule| &rule.tsa_certificates) {
                let path = folder.join(named.file());
                let (bytes, certificates) = read_certificates(&path)?;
                check_bound(file, loaded, named, &path, &bytes, args.require_signed_policy)?;
                own.extend(certificates);
                tsa_paths.push(path);
            }
            tsa_certificate_sets.push(own);
        }
        // Integrity's own findings take every authority the run was given.
        let given_on_the_command_line = tsa_certificates.len();
        for set in &tsa_certificate_sets {
            tsa_certificates.extend(set[given_on_the_command_line..].iter().cloned());
        }
        let mut relied_on: Vec<ReliedOn> =
            trust_paths.iter().map(|path| ReliedOn::new("--trust", path)).collect();
        relied_on.extend(args.policy.iter().map(|path| ReliedOn::new("--policy", path)));
        relied_on.extend(tsa_paths.iter().map(|path| ReliedOn::new("--tsa-cert", path)));
        relied_on.extend(receipts.iter().map(|path| ReliedOn::new("--receipt", path)));
        // Once, not per package: where these files are does not depend on the package.
        let relied_on_in_a_package = relied_on.iter().find_map(|input| {
            refuse_inside_any_package(input.flag, &input.given).err().map(|e| e.to_string())
        });
        Ok(Verifier {
            given,
            relied_on,
            relied_on_in_a_package,
            policies,
            tsa_certificates,
            tsa_certificate_sets,
            at,
            allow_untrusted: args.allow_untrusted,
            strict: args.strict,
        })
    }

    /// The keys given with --trust.
    pub fn given_keys(&self) -> Vec<PublicKey> {
        self.given.iter().map(|t| t.key.clone()).collect()
    }

    /// Whether any key is trusted: one given with --trust, or one a policy names.
    pub fn trusts_any_key(&self) -> bool {
        !self.given.is_empty() || self.policies.iter().any(|p| p.policy.trusted_keys().next().is_some())
    }

    /// Refuses a --trust, --policy, --tsa-cert or --receipt path inside the package at
    /// `package` (compared as canonical paths, so a link into the package is caught too): the
    /// keys, rules and receipts a package holds are its holder's claims, and relying on them
    /// would let whoever edits the package judge it. Packages in object stores are not local
    /// paths and are not compared.
    pub fn refuse_trust_inside(&self, package: &Path) -> Result<()> {
        if crate::location::is_remote(package) {
            return Ok(());
        }
        let Ok(inside) = package.canonicalize() else { return Ok(()) };
        // A hard link to one of the package's key files is that file under another name.
        let shipped: Vec<(u64, u64)> = std::fs::read_dir(inside.join(custos_manifest::package::KEYS_DIR))
            .into_iter()
            .flatten()
            .take(custos_manifest::verify::MAX_KEY_FILES)
            .filter_map(|entry| entry.ok()?.metadata().ok())
            .filter(|metadata| metadata.is_file())
            .map(|metadata| (metadata.dev(), metadata.ino()))
            .collect();
        for ReliedOn { flag, given, real } in &self.relied_on {
            let Some(at) = real else { continue };
            let within = at.starts_with(&inside);
            let linked = !within
                && std::fs::metadata(at).is_ok_and(|m| m.is_file() && shipped.contains(&(m.dev(), m.ino())));
            if within || linked {
                bail!(
                    "{flag} {} ({}) is {} the package {} being checked: {}",
                    crate::render::shown(given),
                    crate::render::shown(at),
                    if linked { "a hard link to a key file of" } else { "inside" },
                    crate::render::shown(package),
                    never_trust(flag)
                );
            }
        }
        // A file inside any other package is that package holder's claim just the same.
        match &self.relied_on_in_a_package {
            Some(reason) => bail!("{reason}"),
            None => Ok(()),
        }
    }

    /// Verifies the package in `store` and evaluates every policy on what was established.
    pub fn judge(&self, store: &dyn PackageStore, inputs: &Inputs) -> Judgement {
        let trusted = self.trusted_for(store);
        let keys: Vec<PublicKey> = trusted.iter().map(|t| t.key.clone()).collect();
        let trust = Trust { keys, allow_untrusted: self.allow_untrusted };
        let now =
            custos_manifest::time::parse_rfc3339(&custos_manifest::time::now_rfc3339()).unwrap_or(i64::MAX);
        let options = VerifyOptions {
            trust: &trust,
            fast: inputs.fast,
            by_segments: inputs.by_segments,
            evidence: inputs.evidence,
            now,
            receipts: inputs.receipts,
            tsa_certificates: &self.tsa_certificates,
            tsa_certificate_sets: &self.tsa_certificate_sets,
            progress: inputs.progress,
        };
        let verification = custos_manifest::verify::verify_store(store, &options);
        let verdict = overall(&verification.findings);
        let policies = crate::policy::judge_policies(&self.policies, &verification, self.at);
        let deadlines = crate::policy::deadlines_of(&self.policies, &verification, self.at);
        Judgement { verification, verdict, policies, strict: self.strict, trusted, deadlines }
    }

    /// The --trust keys, and the keys the policies trust by key id: their key material is
    /// taken from the package (the key id binds it), so a court can verify with its policy
    /// alone.
    fn trusted_for(&self, store: &dyn PackageStore) -> Vec<TrustedKey> {
        let mut trusted = self.given.clone();
        let named: Vec<(&str, &custos_policy::TrustedKey)> = self
            .policies
            .iter()
            .flat_map(|p| p.policy.trusted_keys().map(move |k| (p.policy.id.as_str(), k)))
            .collect();
        // Only with policies: the package's key files are not read for nothing.
        if named.is_empty() {
            return trusted;
        }
        let shipped = custos_manifest::package::shipped_keys_in(store).unwrap_or_default();
        for (id, key) in shipped {
            if trusted.iter().any(|t| t.key.id() == key.id()) {
                continue;
            }
            let entries: Vec<&(&str, &custos_policy::TrustedKey)> =
                named.iter().filter(|(_, k)| k.key_id == id).collect();
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
        trusted
    }
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
    /// Open deadlines, soonest first, from the events that verified and the policies.
    pub deadlines: Vec<custos_policy::Deadline>,
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

    /// Integrity alone, as `verify` words it: `VERIFIED`, `VERIFIED with warnings`, `FAILED`.
    pub fn integrity_word(&self) -> &'static str {
        match self.verdict {
            Verdict::Pass => "VERIFIED",
            Verdict::Warn => "VERIFIED with warnings",
            Verdict::Fail => "FAILED",
        }
    }

    /// The jurisdictions whose policy rejects the package, in the order they were given.
    pub fn rejected_in(&self) -> Vec<&str> {
        self.policies
            .iter()
            .filter(|p| p.verdict == PolicyVerdict::Fail)
            .map(|p| p.jurisdiction.as_str())
            .collect()
    }

    /// The overall outcome in words, integrity and every jurisdiction at once, e.g.
    /// `NOT ACCEPTABLE in XB, XC (integrity VERIFIED)`: what `verify` ends its text with and
    /// `verify --json` carries as `outcome`. Without policies it is integrity's word alone.
    pub fn outcome(&self) -> String {
        let integrity = self.integrity_word();
        let rejected = self.rejected_in();
        if !rejected.is_empty() {
            return format!("NOT ACCEPTABLE in {} (integrity {integrity})", rejected.join(", "));
        }
        if self.verdict == Verdict::Fail {
            return "FAILED".to_owned();
        }
        let warned = self.overall() != "pass";
        if self.status() == Status::Failed {
            return format!("FAILED: warnings count as failures (--strict); integrity {integrity}");
        }
        if self.policies.is_empty() {
            return integrity.to_owned();
        }
        let accepted: Vec<&str> = self
            .policies
            .iter()
            .filter(|p| p.verdict != PolicyVerdict::NotApplicable)
            .map(|p| p.jurisdiction.as_str())
            .collect();
        let word = if warned { "ACCEPTABLE with warnings" } else { "ACCEPTABLE" };
        match accepted.as_slice() {
            [] => format!("{integrity}; no jurisdiction's policy applies"),
            _ => format!("{word} in {} (integrity {integrity})", accepted.join(", ")),
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
