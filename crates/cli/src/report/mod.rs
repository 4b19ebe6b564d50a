//! `custos report`: one self-contained HTML file for a court, from the same checks as
//! `custos verify`; optionally printed to PDF by headless Chromium and signed with a
//! detached minisign signature that `custos key verify` and `minisign -V` check. The SHA-256
//! of every file written is printed, so the report can be cited by its fingerprint.

mod html;
mod plain;

pub use plain::and_list;

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::evidence::{judge, VerifyArgs};
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
    // Cheap checks first: nothing is verified, and no passphrase asked, for a command that
    // cannot finish.
    let mut outputs = vec![args.out.clone()];
    outputs.extend(args.pdf.clone());
    for path in &outputs {
        refuse_existing(path)?;
        if args.sign.is_some() {
            refuse_existing(&signature_path(path))?;
        }
    }
    let chromium = match &args.pdf {
        Some(_) => Some(find_chromium()?),
        None => None,
    };
    let signer = match &args.sign {
        Some(key) => Some(load_signer(key, args.passphrase_file.as_deref())?),
        None => None,
    };

    let judgement = judge(&args.verify)?;
    let shipped = custos_manifest::package::package_keys(&args.verify.package);
    let absolute = args.verify.package.canonicalize().unwrap_or_else(|_| args.verify.package.clone());
    let checked_at = custos_manifest::time::now_rfc3339();
    let context = html::Context {
        package: &args.verify.package,
        package_absolute: &absolute,
        names: plain::Names { trusted: &judgement.trusted, shipped: &shipped },
        checked_at: &checked_at,
    };
    let page = html::render(&judgement, &context);
    write_new(&args.out, page.as_bytes()).with_context(|| {
        format!("cannot write {} (an existing report is never overwritten)", args.out.display())
    })?;

    let mut written = vec![(args.out.clone(), "html_report", page.into_bytes())];
    if let (Some(pdf), Some(chromium)) = (&args.pdf, &chromium) {
        let bytes = print_pdf(chromium, &args.out, pdf)?;
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
                let comment = format!(
                    "custos report {name}, case {case}, sha256 {sha256}, signed by {} (key {})",
                    public.owner.name,
                    public.id()
                );
                let comment: String = comment.chars().filter(|c| !c.is_control()).collect();
                let text = custos_manifest::export::minisign_signature(secret, bytes, &comment)?;
                let signature = signature_path(path);
                write_new(&signature, text.as_bytes())
                    .with_context(|| format!("cannot write the signature {}", signature.display()))?;
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

    if args.verify.json {
        let record = serde_json::json!({
            "custos_report": 1,
            "tool": concat!("custos ", env!("CARGO_PKG_VERSION")),
            "package": args.verify.package.display().to_string(),
            "verdict": judgement.overall(),
            "integrity": judgement.verdict,
            "written": records,
        });
        println!("{record}");
    } else {
        for record in &records {
            println!("wrote {} (SHA-256 {})", record.path, record.sha256);
        }
        if signer.is_some() {
            println!(
                "check with: custos key verify {} --trust {}.pub   (or minisign -Vm {} -p KEY.minisign.pub, the key from custos key export-minisign)",
                args.out.display(),
                public_key_stem(args.sign.as_deref()),
                args.out.display()
            );
        }
        println!("outcome: {}", judgement.overall());
    }
    Ok(judgement.status())
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

/// Prints `html` to `pdf` with headless Chromium: into a temporary file beside `pdf`, then
/// linked into place (never replacing a file). Returns the PDF's bytes.
fn print_pdf(chromium: &Path, html: &Path, pdf: &Path) -> Result<Vec<u8>> {
    let html = html.canonicalize().with_context(|| format!("cannot find {}", html.display()))?;
    let folder = pdf.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let unique = format!(".custos-pdf-{}-{nanos}", std::process::id());
    let temporary = folder.join(format!("{unique}.pdf"));
    let profile = std::env::temp_dir().join(format!("{unique}-profile"));
    let log = std::env::temp_dir().join(format!("{unique}.log"));
    // Chromium's messages go to a file: a pipe could be held open by its helper processes.
    let log_file = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut command = Command::new(chromium);
    command
        .args(["--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-pdf-header-footer"])
        // The machine may have no network: Chromium's own background traffic only slows it.
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", temporary.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file);
    // Chromium refuses to run as root with its sandbox; the report holds no scripts.
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        command.arg("--no-sandbox");
    }
    let outcome = run_with_deadline(&mut command, PDF_DEADLINE)
        .with_context(|| format!("cannot run {}", chromium.display()));
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_file(&log);
    let result = outcome.and_then(|()| {
        let bytes = std::fs::read(&temporary).ok().filter(|b| b.starts_with(b"%PDF"));
        let Some(bytes) = bytes else {
            bail!(
                "Chromium did not print the report to PDF: {}",
                stderr.lines().last().unwrap_or("no message")
            );
        };
        std::fs::hard_link(&temporary, pdf).with_context(|| {
            format!("cannot write {} (an existing file is never overwritten)", pdf.display())
        })?;
        Ok(bytes)
    });
    let _ = std::fs::remove_file(&temporary);
    result
}

/// Runs a command to its end, stopping it after `deadline`.
fn run_with_deadline(command: &mut Command, deadline: Duration) -> Result<()> {
    let mut child = command.spawn()?;
    let started = Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("stopped after {} s without finishing", deadline.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
