//! `custos report`: one self-contained HTML file for a court, from the same checks as
//! `custos verify`; optionally printed to PDF by headless Chromium and signed with a
//! detached minisign signature that `custos key verify` and `minisign -V` check. The SHA-256
//! of every file written is printed, so the report can be cited by its fingerprint.

mod html;
mod legal;
mod plain;

pub use plain::and_list;

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::evidence::{judge_with, VerifyArgs};
use crate::judge::Verifier;
use crate::keygen::load_signer;
use crate::Status;

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// The HTML file to write (never overwritten)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also print the report to this PDF file with headless Chromium (never overwritten)
    #[arg(long, value_name = "FILE")]
    pub pdf: Option<PathBuf>,
    /// Sign the report (and the PDF) with this key: FILE.minisig beside each, which
    /// `custos key verify FILE --trust KEY.pub` and `minisign -Vm FILE -p KEY.minisign.pub` check
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Read the signing key's passphrase from the first line of FILE
    #[arg(long, value_name = "FILE", requires = "sign")]
    pub passphrase_file: Option<PathBuf>,
}

/// One file the report command wrote.
#[derive(serde::Serialize)]
struct Written {
    path: String,
    kind: &'static str,
    sha256: String,
}

pub fn run(args: ReportArgs) -> Result<Status> {
    args.verify.access.check(&args.verify.package)?;
    // Cheap checks first: nothing is verified, and no passphrase asked, for a command that
    // cannot finish.
    let mut outputs = vec![args.out.clone()];
    outputs.extend(args.pdf.clone());
    if args.sign.is_some() {
        outputs.extend(outputs.clone().iter().map(|p| signature_path(p)));
    }
    // Compared with their folders resolved (`./r.html` is `r.html`, and so is `link/r.html`
    // when `link` leads here).
    let mut distinct: Vec<PathBuf> = outputs.iter().map(|p| crate::location::resolved(p)).collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() != outputs.len() {
        bail!("--out, --pdf and their signatures must be different files");
    }
    for path in &outputs {
        refuse_existing(path)?;
        crate::location::refuse_output_in_a_package(
            if Some(path) == args.pdf.as_ref() { "--pdf" } else { "--out" },
            path,
            Some(&args.verify.package),
        )?;
    }
    let chromium = match &args.pdf {
        Some(_) => Some(find_chromium()?),
        None => None,
    };
    let verifier = Verifier::load_with_receipts(&args.verify.judge, &args.verify.receipt)?;
    verifier.refuse_trust_inside(&args.verify.package)?;
    // A report for a court names who signed; with no key to check signatures against it
    // could only say that none is trusted, which reads as a verdict on the evidence. That
    // is the operator's omission, said as such.
    if !verifier.trusts_any_key() && !args.verify.judge.allow_untrusted {
        bail!(
            "no key is trusted, so the report could not say who sealed or handled the evidence: give --trust SIGNER.pub (the signer's public key as you received it, not one from the package), or --allow-untrusted for a report of integrity only, headed as not checked against any trusted key"
        );
    }
    let signer = match &args.sign {
        Some(key) => Some(load_signer(key, args.passphrase_file.as_deref())?),
        None => None,
    };

    let judgement = judge_with(&verifier, &args.verify)?;
    // Through the same door as the judgement, so a package in an S3 store names its keys too.
    let shipped = crate::location::open_package(&args.verify.package)
        .ok()
        .and_then(|store| custos_manifest::package::shipped_keys_in(store.as_ref()).ok())
        .unwrap_or_default();
    let absolute = args.verify.package.canonicalize().unwrap_or_else(|_| args.verify.package.clone());
    let checked_at = custos_manifest::time::now_rfc3339();
    let context = html::Context {
        package: &args.verify.package,
        package_absolute: &absolute,
        names: plain::Names { trusted: &judgement.trusted, shipped: &shipped },
        checked_at: &checked_at,
    };
    let page = html::render(&judgement, &context);
    // Every file goes to a temporary name beside its own, and all are given their names only
    // once every one is complete: a full disk or a crash leaves no truncated report that
    // looks real, and nothing that blocks the rerun.
    let mut staged = Staged::default();
    staged.add(&args.out, page.as_bytes())?;

    let mut written = vec![(args.out.clone(), "html_report", page.clone().into_bytes())];
    if let (Some(pdf), Some(chromium)) = (&args.pdf, &chromium) {
        let bytes = print_pdf(chromium, page.as_bytes())?;
        staged.add(pdf, &bytes)?;
        written.push((pdf.clone(), "pdf_report", bytes));
    }
    let mut records = Vec::new();
    for (path, kind, bytes) in &written {
        let sha256 = custos_hash::Algorithm::Sha256.digest(bytes).to_hex();
        let signature = match &signer {
            Some((secret, public)) => {
                let case =
                    judgement.verification.manifest.as_ref().map_or("?", |m| m.case.reference.as_str());
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let comment = trusted_comment(&name, &sha256, public, case);
                let text = custos_manifest::export::minisign_signature(secret, bytes, &comment)?;
                let signature = signature_path(path);
                staged.add(&signature, text.as_bytes())?;
                Some((signature, text))
            }
            None => None,
        };
        records.push(Written { path: path.display().to_string(), kind, sha256 });
        if let Some((signature, text)) = signature {
            let sha256 = custos_hash::Algorithm::Sha256.digest(text.as_bytes()).to_hex();
            records.push(Written {
                path: signature.display().to_string(),
                kind: "minisign_signature",
                sha256,
            });
        }
    }
    staged.publish()?;

    if args.verify.json {
        let record = serde_json::json!({
            "custos_report": 1,
            "tool": concat!("custos ", env!("CARGO_PKG_VERSION")),
            "package": args.verify.package.display().to_string(),
            "verdict": judgement.overall(),
            "integrity": judgement.verdict,
            "outcome": judgement.outcome(),
            "written": records,
        });
        crate::render::print_json(&record)?;
    } else {
        for record in &records {
            println!("wrote {} (SHA-256 {})", crate::render::escape(&record.path), record.sha256);
        }
        if signer.is_some() {
            println!(
                "check with: custos key verify {} --trust {}.pub   (or minisign -Vm {} -p KEY.minisign.pub, the key from custos key export-minisign)",
                crate::render::shell_word(&args.out),
                public_key_stem(args.sign.as_deref()),
                crate::render::shell_word(&args.out)
            );
        }
        println!("outcome: {}", judgement.overall());
    }
    let written: Vec<String> = records.iter().map(|r| format!("{} (SHA-256 {})", r.path, r.sha256)).collect();
    args.verify.access.record(
        &args.verify.package,
        &format!("custos report: {}; wrote {}", judgement.outcome(), written.join(", ")),
    )?;
    Ok(judgement.status())
}

/// The signed one-line comment: what is fixed first (file, digest, signer's key id), the
/// texts that come from a package or a key file last, quoted and escaped, and the case cut
/// to 100 characters, so no case reference can pose as the digest or the signer and the
/// line stays within what minisign and `key verify` read.
fn trusted_comment(
    name: &str,
    sha256: &str,
    signer: &custos_manifest::keys::PublicKey,
    case: &str,
) -> String {
    let quote = |text: &str, limit: usize| {
        let escaped = crate::render::escape(text).replace('"', "\\\"");
        let mut cut: String = escaped.chars().take(limit).collect();
        if cut.len() < escaped.len() {
            cut.push('…');
        }
        format!("\"{cut}\"")
    };
    format!(
        "custos report sha256 {sha256} key {} file {} signer {} case {}",
        signer.id(),
        quote(name, 100),
        quote(&signer.owner.name, 100),
        quote(case, 100)
    )
}

/// `report.html` → `report.html.minisig`, where minisign looks for it.
fn signature_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".minisig");
    PathBuf::from(name)
}

/// The signing key's path without `.key`, to name its `.pub` in the hint.
fn public_key_stem(key: Option<&Path>) -> String {
    let key = key.unwrap_or(Path::new("KEY"));
    let stem =
        if key.extension().is_some_and(|e| e == "key") { key.with_extension("") } else { key.to_owned() };
    stem.display().to_string()
}

fn refuse_existing(path: &Path) -> Result<()> {
    if path.symlink_metadata().is_ok() {
        bail!("{} already exists (reports and signatures are never overwritten)", path.display());
    }
    Ok(())
}

/// Writes a new file (never replacing one) and syncs it.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create_new(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Output files written completely under temporary names in their own folders, then given
/// their names together (never replacing a file). Whatever is not published is removed: a
/// failed run leaves no file behind, under either name.
#[derive(Default)]
struct Staged {
    /// (temporary, final) paths.
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    /// Writes `bytes` in full to a new hidden file beside `path`, and syncs it.
    fn add(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let temporary =
            folder.join(format!(".{name}.custos-partial-{}-{}", std::process::id(), self.files.len()));
        let failed = || {
            format!(
                "cannot write {} (nothing was written; free space or check the folder, and run again)",
                path.display()
            )
        };
        let mut file = std::fs::File::create_new(&temporary).with_context(failed)?;
        // Ours from here: removed unless published, also when the write fails part-way.
        self.files.push((temporary, path.to_owned()));
        file.write_all(bytes).and_then(|()| file.sync_all()).with_context(failed)
    }

    /// Gives every file its name, never replacing an existing file; on failure removes the
    /// files already named, so either all appear or none.
    fn publish(mut self) -> Result<()> {
        let mut published: Vec<PathBuf> = Vec::new();
        let files = std::mem::take(&mut self.files);
        for (index, (temporary, path)) in files.iter().enumerate() {
            let renamed = rustix::fs::renameat_with(
                rustix::fs::CWD,
                temporary,
                rustix::fs::CWD,
                path,
                rustix::fs::RenameFlags::NOREPLACE,
            );
            if let Err(error) = renamed {
                for done in &published {
                    let _ = std::fs::remove_file(done);
                }
                for (left, _) in &files[index..] {
                    let _ = std::fs::remove_file(left);
                }
                return Err(std::io::Error::from(error)).with_context(|| {
                    format!("cannot write {} (an existing file is never overwritten)", path.display())
                });
            }
            published.push(path.clone());
        }
        if let Some(folder) = files.first().and_then(|(_, path)| path.parent()) {
            let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
            let _ = std::fs::File::open(folder).and_then(|f| f.sync_all());
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (temporary, _) in &self.files {
            let _ = std::fs::remove_file(temporary);
        }
    }
}

/// Chromium for `--pdf`: `CUSTOS_CHROMIUM`, or the first of the usual names on `PATH`.
fn find_chromium() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("CUSTOS_CHROMIUM") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("--pdf needs headless Chromium, and CUSTOS_CHROMIUM names no file: {}", path.display());
        }
        return Ok(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "--pdf needs headless Chromium, and none was found on PATH (install it, e.g. `apt-get install chromium`, or set CUSTOS_CHROMIUM to its path); the HTML report alone needs nothing"
    )
}

/// How long Chromium may take to print a report before it is stopped.
const PDF_DEADLINE: Duration = Duration::from_secs(120);

/// Prints the report to `pdf` with headless Chromium. Chromium reads a copy of exactly the
/// bytes just rendered, and writes the PDF, in a private folder of its own (mode 0700): a
/// file swapped in the output folder, or a path holding `%`, `#` or `?`, cannot change what
/// is printed. Returns the PDF's bytes (the caller writes them).
fn print_pdf(chromium: &Path, html: &[u8]) -> Result<Vec<u8>> {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let private = std::env::temp_dir().join(format!(".custos-pdf-{}-{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .with_context(|| format!("cannot create {}", private.display()))?;
    let result = print_in(chromium, html, &private);
    let _ = std::fs::remove_dir_all(&private);
    result
}

/// Runs Chromium on `html` inside the private folder; returns the PDF it printed.
fn print_in(chromium: &Path, html: &[u8], private: &Path) -> Result<Vec<u8>> {
    let page = private.join("report.html");
    let printed = private.join("report.pdf");
    let log = private.join("chromium.log");
    write_new(&page, html).with_context(|| format!("cannot write {}", page.display()))?;
    // Chromium's messages go to a file: a pipe could be held open by its helper processes.
    let log_file = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut command = Command::new(chromium);
    command
        .args(["--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-pdf-header-footer"])
        // The machine may have no network: Chromium's own background traffic only slows it.
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", private.join("profile").display()))
        .arg(format!("--print-to-pdf={}", printed.display()))
        .arg(file_url(&page))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        // Its own process group, so a deadline stops its helper processes too.
        .process_group(0);
    // Chromium refuses to run as root with its sandbox; the report holds no scripts.
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        command.arg("--no-sandbox");
    }
    run_with_deadline(&mut command, PDF_DEADLINE)
        .with_context(|| format!("cannot run {}", chromium.display()))?;
    match std::fs::read(&printed).ok().filter(|b| b.starts_with(b"%PDF")) {
        Some(bytes) => Ok(bytes),
        None => {
            let stderr = std::fs::read_to_string(&log).unwrap_or_default();
            bail!(
                "Chromium did not print the report to PDF: {}",
                stderr.lines().last().unwrap_or("no message")
            )
        }
    }
}

/// A `file://` URL for an absolute path, every byte outside the unreserved set and `/`
/// percent-encoded.
fn file_url(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    let mut url = String::from("file://");
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// Runs a command to its end, stopping it after `deadline`.
fn run_with_deadline(command: &mut Command, deadline: Duration) -> Result<()> {
    let mut child = command.spawn()?;
    let started = Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > deadline {
            // The whole group: Chromium's helpers as well as Chromium.
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.kill();
            let _ = child.wait();
            bail!("stopped after {} s without finishing", deadline.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
