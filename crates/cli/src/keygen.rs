//! `custos keygen`: an Ed25519 key pair in two readable files, `PATH.key` (secret, mode 0600,
//! passphrase-protected unless `--no-passphrase`) and `PATH.pub`.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use custos_manifest::keys::{KeyPair, Owner};
use zeroize::Zeroizing;

use crate::Status;

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key holder's name
    #[arg(long)]
    pub name: String,
    /// Their role (examiner, evidence_custodian, court_clerk, ...)
    #[arg(long)]
    pub role: String,
    /// Their organisation
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// ISO 3166-1 alpha-2 code of the jurisdiction they act in (DE, KE, ...)
    #[arg(long, value_name = "CC")]
    pub jurisdiction: Option<String>,
    /// Writes PATH.key and PATH.pub; refuses to overwrite either
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Leave the secret key unprotected (for automation; prints a warning)
    #[arg(long)]
    pub no_passphrase: bool,
    /// Read the passphrase from the first line of FILE instead of the terminal
    #[arg(long, value_name = "FILE", conflicts_with = "no_passphrase")]
    pub passphrase_file: Option<PathBuf>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: KeygenArgs) -> Result<Status> {
    let owner = Owner {
        name: args.name,
        // A typo in a role is signed into every event forever: only known roles, in
        // their canonical form.
        role: custos_manifest::vocabulary::canonical(&args.role, &custos_manifest::vocabulary::ROLES, "role")
            .map_err(anyhow::Error::msg)?
            .to_owned(),
        organisation: args.org,
        jurisdiction: args.jurisdiction,
    };
    owner.validate()?;
    let secret_path = with_suffix(&args.out, "key");
    let public_path = with_suffix(&args.out, "pub");
    for path in [&secret_path, &public_path] {
        crate::location::refuse_output_in_a_package("--out", path, None)?;
        if path.exists() {
            bail!("{} already exists; keys are never overwritten (choose another --out)", path.display());
        }
    }
    let passphrase = if args.no_passphrase {
        crate::render::say(&format!(
            "warning: the secret key is NOT protected by a passphrase; anyone who can read {} can sign as {}",
            secret_path.display(),
            owner.name
        ));
        None
    } else {
        Some(read_new_passphrase(args.passphrase_file.as_deref())?)
    };
    let pair = KeyPair::generate(owner, custos_manifest::time::now_rfc3339())?;
    let secret_text = pair.secret_text(passphrase.as_ref().map(|p| p.as_bytes()))?;
    write_new(&secret_path, secret_text.as_bytes(), 0o600)?;
    write_new(&public_path, pair.public.to_text().as_bytes(), 0o644)?;
    let id = pair.public.id();
    if args.json {
        crate::render::print_json(&serde_json::json!({
            "key_id": id.to_string(),
            "fingerprint": fingerprint(&id.to_string()),
            "protected": passphrase.is_some(),
            "written": [
                crate::render::written(&secret_path, "secret_key"),
                crate::render::written(&public_path, "public_key"),
            ],
        }))?;
    } else {
        println!("key id {id}");
        println!(
            "secret key {} ({})",
            secret_path.display(),
            if passphrase.is_some() { "passphrase-protected" } else { "UNPROTECTED" }
        );
        println!("public key {}", public_path.display());
    }
    Ok(Status::Ok)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Creates a file that must not exist yet, with `mode`, and writes it whole.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A new passphrase: the first line of a file, or typed twice at the terminal.
fn read_new_passphrase(file: Option<&Path>) -> Result<Zeroizing<String>> {
    if let Some(file) = file {
        return read_passphrase_file(file);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for a passphrase: give --passphrase-file FILE, or --no-passphrase for an unprotected key");
    }
    let first = Zeroizing::new(rpassword::prompt_password("Passphrase for the new key: ")?);
    let second = Zeroizing::new(rpassword::prompt_password("The same passphrase again: ")?);
    if first != second {
        bail!("the two passphrases differ; nothing was written");
    }
    if first.is_empty() {
        bail!("an empty passphrase protects nothing; use --no-passphrase if that is what you want");
    }
    Ok(first)
}

/// The first line of FILE, without its line ending. A regular file or a pipe (`<(pass show
/// …)` hands the passphrase over without writing it to disk), read to at most
/// [`MAX_PASSPHRASE_FILE_BYTES`]; a device (`/dev/zero`) or socket is refused, never read
/// without end.
pub fn read_passphrase_file(file: &Path) -> Result<Zeroizing<String>> {
    use std::io::Read as _;
    use std::os::unix::fs::FileTypeExt as _;
    let cannot = || format!("cannot read the passphrase file {}", crate::render::shown(file));
    let kind = std::fs::metadata(file).with_context(cannot)?.file_type();
    if !(kind.is_file() || kind.is_fifo()) {
        bail!(
            "the passphrase file {} is a device, socket or folder: give a file (or a pipe) holding the passphrase on its first line",
            crate::render::shown(file)
        );
    }
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_PASSPHRASE_FILE_BYTES + 1).read_to_end(&mut bytes))
        .with_context(cannot)?;
    if bytes.len() as u64 > MAX_PASSPHRASE_FILE_BYTES {
        bail!(
            "the passphrase file {} is longer than {MAX_PASSPHRASE_FILE_BYTES} bytes: it holds the passphrase on its first line, nothing else",
            crate::render::shown(file)
        );
    }
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("the passphrase file {} is not UTF-8 text", crate::render::shown(file)))?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        bail!("the passphrase file {} is empty", crate::render::shown(file));
    }
    Ok(Zeroizing::new(line.to_owned()))
}

/// The most read from a passphrase file.
const MAX_PASSPHRASE_FILE_BYTES: u64 = 64 * 1024;

/// The secret and public key files of a signer's `--key`: `PATH` or `PATH.key` names
/// `PATH.key` and `PATH.pub`.
fn signer_files(key: &Path) -> Result<(PathBuf, PathBuf)> {
    let stem = match key.extension() {
        Some(ext) if ext == "key" => key.with_extension(""),
        Some(ext) if ext == "pub" => bail!(
            "{} is a public key file; --key takes your secret key: give {} (with {} beside it)",
            key.display(),
            key.with_extension("").display(),
            key.with_extension("key").display()
        ),
        _ => key.to_owned(),
    };
    Ok((with_suffix(&stem, "key"), with_suffix(&stem, "pub")))
}

/// The public half of a signer's `--key`, read without the secret key (for a summary
/// before the passphrase is asked).
pub fn signer_public_key(key: &Path) -> Result<custos_manifest::keys::PublicKey> {
    load_public_key(&signer_files(key)?.1)
}

/// Loads a signer: `KEY` may be `PATH` or `PATH.key`; the public key file is `PATH.pub`.
/// A protected key takes its passphrase from `passphrase_file` or the terminal.
pub fn load_signer(
    key: &Path,
    passphrase_file: Option<&Path>,
) -> Result<(ed25519_dalek::SigningKey, custos_manifest::keys::PublicKey)> {
    let (secret_path, public_path) = signer_files(key)?;
    let secret_text = Zeroizing::new(
        std::fs::read_to_string(&secret_path)
            .with_context(|| format!("cannot read the secret key {}", secret_path.display()))?,
    );
    let public = load_public_key(&public_path)?;
    let passphrase = if custos_manifest::keys::secret_key_is_protected(&secret_text)? {
        Some(match passphrase_file {
            Some(file) => read_passphrase_file(file)?,
            None if std::io::stdin().is_terminal() => Zeroizing::new(rpassword::prompt_password(format!(
                "Passphrase for {}: ",
                secret_path.display()
            ))?),
            None => bail!(
                "{} is passphrase-protected and there is no terminal: give --passphrase-file FILE",
                secret_path.display()
            ),
        })
    } else {
        None
    };
    let secret =
        custos_manifest::keys::open_secret_key(&secret_text, passphrase.as_ref().map(|p| p.as_bytes()))
            .with_context(|| format!("cannot open {}", secret_path.display()))?;
    if secret.verifying_key() != public.key {
        bail!("{} and {} are not halves of one key pair", secret_path.display(), public_path.display());
    }
    Ok((secret, public))
}

/// Reads and checks a `.pub` file.
/// The largest public key file read (a key file is a few hundred bytes).
const MAX_PUBLIC_KEY_BYTES: u64 = 64 << 10;

pub fn load_public_key(path: &Path) -> Result<custos_manifest::keys::PublicKey> {
    let bytes = crate::render::read_input_file(path, MAX_PUBLIC_KEY_BYTES, "public key")?;
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!("{} is not a public key file (not UTF-8 text)", crate::render::shown(path))
    })?;
    if text.lines().any(|line| line.starts_with("custos-secret-key:")) {
        bail!(
            "{} is a secret key file; this takes a public key file (.pub). Never hand a secret key to anyone, a court included",
            path.display()
        );
    }
    custos_manifest::keys::PublicKey::parse(&text)
        .with_context(|| format!("{} is not a valid public key file", path.display()))
}

#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Show a public key file: who it belongs to, its key id, and a short fingerprint two
    /// people can compare by voice
    Show {
        /// The public key file (.pub)
        file: std::path::PathBuf,
        /// Print it as JSON
        #[arg(long)]
        json: bool,
    },
    /// Write the key in minisign's format, so a court checks exported signatures with a key
    /// it holds rather than the copy inside the package
    ExportMinisign {
        /// The public key file (.pub)
        file: std::path::PathBuf,
        /// Where to write it (never overwritten)
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
        /// Print the file written as JSON
        #[arg(long)]
        json: bool,
    },
    /// Check a detached minisign signature (a signed report, an exported manifest
    /// signature) with public keys you hold: FILE.minisig by default
    Verify {
        /// The signed file
        file: std::path::PathBuf,
        /// The signature [default: FILE.minisig]
        #[arg(long, value_name = "SIG")]
        signature: Option<std::path::PathBuf>,
        /// A public key file you trust (repeatable)
        #[arg(long, value_name = "PUBKEY", required = true)]
        trust: Vec<std::path::PathBuf>,
        /// Print the outcome as JSON
        #[arg(long)]
        json: bool,
    },
}

/// Eight groups of four hex digits from the key id: short enough to read aloud, long enough
/// (128 bits) that no one finds another key with the same fingerprint.
pub fn fingerprint(key_id: &str) -> String {
    let digits: Vec<char> = key_id.chars().take(32).collect();
    digits.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// How large a detached signature file may be: minisign's are four short lines.
const MAX_SIGNATURE_FILE_BYTES: u64 = 16 * 1024;

/// How large a file `key verify` checks: legacy Ed25519 signs the whole message, which is
/// held in memory (reports are far smaller).
const MAX_SIGNED_FILE_BYTES: u64 = 256 << 20;

/// `custos key verify`: a minisign signature over a file's exact bytes, by one of the keys
/// given. Exit 0 when it verifies, 1 when it does not.
fn verify_detached(
    file: &Path,
    signature: Option<std::path::PathBuf>,
    trust: &[std::path::PathBuf],
    json: bool,
) -> Result<crate::Status> {
    let signature = signature.unwrap_or_else(|| {
        let mut name = file.as_os_str().to_owned();
        name.push(".minisig");
        name.into()
    });
    let keys = trust.iter().map(|path| load_public_key(path)).collect::<Result<Vec<_>>>()?;
    // Regular files only, opened without waiting (a FIFO) or following a final link, and
    // bounded: a device or a planted link to /dev/zero is refused, never read.
    let read = |path: &Path, limit: u64| -> Result<Vec<u8>> {
        custos_policy::read_regular_file(path, limit)
            .with_context(|| format!("cannot read {}", path.display()))?
            .with_context(|| format!("{} does not exist", path.display()))
    };
    let bytes = read(file, MAX_SIGNED_FILE_BYTES)?;
    // A file that is not a signature is a signature that does not verify (exit 1), not an
    // I/O error.
    let oversized = std::fs::symlink_metadata(&signature)
        .is_ok_and(|m| m.is_file() && m.len() > MAX_SIGNATURE_FILE_BYTES);
    let outcome = if oversized {
        Err(format!("larger than {MAX_SIGNATURE_FILE_BYTES} bytes: not a minisign signature"))
    } else {
        let text = String::from_utf8(read(&signature, MAX_SIGNATURE_FILE_BYTES)?).unwrap_or_default();
        // minisign's key id is the first 8 bytes of the Custos key id (both SHA-256 of the key).
        custos_manifest::export::verify_minisign(&text, &bytes, |id| {
            keys.iter()
                .find(|k| {
                    k.id().to_string().get(..16) == Some(custos_hash::Digest(id.to_vec()).to_hex().as_str())
                })
                .map(|k| k.key)
        })
    };
    let escape = crate::render::escape;
    match outcome {
        Ok((key, comment)) => {
            // The key that verified is one of `keys`: the lookup above only returns those.
            let Some(signer) = keys.iter().find(|k| k.key == key) else {
                bail!("the verifying key is not among the keys given");
            };
            let (name, id) = (signer.owner.name.clone(), signer.id().to_string());
            if json {
                let record = serde_json::json!({
                    "file": file.display().to_string(),
                    "signature": signature.display().to_string(),
                    "verdict": "pass",
                    "signer": crate::render::signer(signer),
                    "trusted_comment": comment,
                });
                crate::render::print_json(&record)?;
            } else {
                println!(
                    "good signature over {} by {} ({})\n  trusted comment: {}",
                    file.display(),
                    escape(&name),
                    &id[..16.min(id.len())],
                    escape(&comment)
                );
            }
            Ok(crate::Status::Ok)
        }
        Err(reason) => {
            if json {
                let record = serde_json::json!({
                    "file": file.display().to_string(),
                    "signature": signature.display().to_string(),
                    "verdict": "fail",
                    "reason": reason,
                });
                crate::render::print_json(&record)?;
            } else {
                println!(
                    "BAD signature {} over {}: {}",
                    crate::render::shown(&signature),
                    crate::render::shown(file),
                    crate::render::escape(&reason)
                );
            }
            Ok(crate::Status::Failed)
        }
    }
}

pub fn run_key(command: KeyCommand) -> Result<crate::Status> {
    match command {
        KeyCommand::Show { file, json } => {
            let key = load_public_key(&file)?;
            let id = key.id().to_string();
            if json {
                let shown = serde_json::json!({
                    "file": file.display().to_string(),
                    "key_id": id,
                    "fingerprint": fingerprint(&id),
                    "name": key.owner.name,
                    "role": key.owner.role,
                    "organisation": key.owner.organisation,
                    "jurisdiction": key.owner.jurisdiction,
                    "created": key.created,
                });
                println!("{shown}");
            } else {
                let escape = crate::render::escape;
                println!("{}", escape(&key.owner.name));
                println!("  role          {}", escape(&key.owner.role));
                if let Some(organisation) = &key.owner.organisation {
                    println!("  organisation  {}", escape(organisation));
                }
                if let Some(jurisdiction) = &key.owner.jurisdiction {
                    println!("  jurisdiction  {}", escape(jurisdiction));
                }
                println!("  created       {}", escape(&key.created));
                println!("  key id        {id}");
                println!(
                    "  fingerprint   {}   (compare it with the key's owner, e.g. by phone)",
                    fingerprint(&id)
                );
            }
            Ok(crate::Status::Ok)
        }
        KeyCommand::ExportMinisign { file, out, json } => {
            let key = load_public_key(&file)?;
            write_new(&out, custos_manifest::export::minisign_public_key(&key).as_bytes(), 0o644)?;
            if json {
                let written = serde_json::json!({
                    "key_id": key.id().to_string(),
                    "written": [crate::render::written(&out, "minisign_public_key")],
                });
                println!("{written}");
            } else {
                println!(
                    "wrote {}: minisign -Vm PKG/custos/manifest.json -x PKG/{} -p {}",
                    out.display(),
                    custos_manifest::export::MINISIGN_SIGNATURE_PATH,
                    out.display()
                );
            }
            Ok(crate::Status::Ok)
        }
        KeyCommand::Verify { file, signature, trust, json } => {
            verify_detached(&file, signature, &trust, json)
        }
    }
}
