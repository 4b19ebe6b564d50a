//! `custos seal` and `custos acquire`: evidence into a new signed package. Both check their
//! inputs first, show what will be signed before the passphrase is asked (`--dry-run` stops
//! there), and build the package under a hidden name that a signal or failure removes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;
use custos_hash::{Algorithm, Control, SegmentSpec};
use custos_manifest::keys::PublicKey;
use custos_manifest::manifest::{Case, Category, LegalBasis, Manifest};
use custos_manifest::package::{seal, Acquirer, SealRequest};

use crate::evidence::{short, write_receipt, AnchorArgs, SignerArgs};
use crate::keygen::load_signer;
use crate::render::escape;
use crate::{human, progress, size, Status};

/// What every command that makes a package takes: who signs, the case, the legal basis,
/// the digests, where the package goes.
#[derive(Debug, Args)]
pub struct PackageArgs {
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Case reference
    #[arg(long, value_parser = one_line)]
    pub case: String,
    /// Exhibit number
    #[arg(long, value_parser = one_line)]
    pub exhibit: Option<String>,
    /// ISO 3166-1 alpha-2 code of the sealing jurisdiction
    #[arg(long, value_name = "CC")]
    pub jurisdiction: Option<String>,
    /// The kind of data every item holds: subscriber, identification (only to identify a
    /// user: IP addresses, ports, times), traffic or content
    #[arg(long, value_parser = ["subscriber", "identification", "traffic", "content"])]
    pub category: Option<String>,
    /// The kind of data one item holds, overriding --category: PATH=CATEGORY, PATH as the
    /// item's path in the package (`data/mail/inbox.mbox`, or without `data/`) (repeatable)
    #[arg(long, value_name = "PATH=CATEGORY", value_parser = item_category)]
    pub item_category: Vec<(String, Category)>,
    /// KIND:REFERENCE[:AUTHORITY], e.g. warrant:AG-Berlin-1-Gs-1/26 (repeatable)
    #[arg(long, value_name = "BASIS")]
    pub legal_basis: Vec<String>,
    /// Where the sealing happens
    #[arg(long)]
    pub location: Option<String>,
    /// The country the evidence is in when sealed (ISO 3166-1 alpha-2, such as DE; XA to XZ
    /// for others), signed in the `sealed` event
    #[arg(long, value_name = "CC", value_parser = crate::evidence::country_code)]
    pub country: Option<String>,
    /// Digests to record (sha256 is always added) [default: sha256,blake3]
    #[arg(long, value_name = "LIST")]
    pub algo: Option<String>,
    /// Also record segment digests of this size (e.g. 64M)
    #[arg(long, value_name = "SIZE", value_parser = size::parse_size)]
    pub segment_size: Option<u64>,
    /// Algorithm of the segment digests and their Merkle root: blake3 (fastest on one core)
    /// or sha256 / sha512 (where a jurisdiction wants a SHA-2 family proof)
    #[arg(long, value_name = "ALGO", default_value = "blake3", requires = "segment_size")]
    pub segment_algo: Algorithm,
    /// The package folder to create (never overwritten)
    #[arg(long, value_name = "PKG")]
    pub out: PathBuf,
    #[command(flatten)]
    pub anchors: AnchorArgs,
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

#[derive(Debug, Args)]
pub struct SealArgs {
    #[command(flatten)]
    pub package: PackageArgs,
    /// Record the evidence where it is instead of copying it (verify needs --evidence)
    #[arg(long)]
    pub reference: bool,
    /// The item's file name when the evidence is `-` (standard input)
    #[arg(long)]
    pub name: Option<String>,
    /// Evidence files or block devices, or `-` for standard input (with --name)
    #[arg(value_name = "EVIDENCE", required = true)]
    pub evidence: Vec<PathBuf>,
}

/// What goes into a package, as the summary and the progress bar describe it.
pub enum Contents<'a> {
    /// Files copied (or, with `reference`, hashed where they are).
    Files { paths: &'a [PathBuf], reference: bool },
    /// One acquisition, read once from its source.
    Acquired {
        /// `None` for a dry run, which must not open the source (opening a device sets it
        /// read-only; opening a FIFO waits for, and then takes, its writer's stream).
        acquirer: Option<&'a dyn Acquirer>,
        /// The item's file name.
        name: String,
        /// `/dev/sdb (block device, 512-byte sectors)`.
        source: String,
        /// Bytes, when the source says.
        size: Option<u64>,
        /// The passes over the bytes, in order, for the progress bar.
        phases: Vec<&'static str>,
        /// After sealing: whether the acquisition's own checks held (a source that read
        /// differently the second time is recorded, and fails the command).
        held: Option<&'a dyn Fn() -> bool>,
        /// The unfinished package an interrupted acquisition continues in (`--resume`).
        resume: Option<&'a std::path::Path>,
    },
}

/// The regular files a folder holds, as seal walks it (a file: itself), with their sizes:
/// what the progress bar counts through.
fn tree_files(path: &std::path::Path) -> Vec<(String, u64)> {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return vec![(path.display().to_string(), std::fs::metadata(path).map_or(0, |m| m.len()))];
    }
    custos_hash::walk_tree(path)
        .filter_map(Result::ok)
        .filter_map(|entry| match entry.kind {
            custos_hash::EntryKind::File { size } => Some((entry.path.display().to_string(), size)),
            _ => None,
        })
        .collect()
}

/// One line of the summary: a file or a source, its size, and what happens to it.
struct EvidenceLine {
    name: String,
    size: Option<u64>,
    how: String,
}

impl Contents<'_> {
    fn lines(&self) -> Vec<EvidenceLine> {
        match self {
            Contents::Files { paths, reference } => paths
                .iter()
                .map(|p| {
                    let files = tree_files(p);
                    match std::fs::metadata(p) {
                        Ok(m) if m.is_dir() => EvidenceLine {
                            name: format!("{}/", p.display()),
                            size: Some(files.iter().map(|(_, size)| size).sum()),
                            how: format!(
                                "a folder of {} files, copied into the package",
                                human::count(files.len() as u64)
                            ),
                        },
                        metadata => EvidenceLine {
                            name: p.display().to_string(),
                            size: metadata.ok().map(|m| m.len()),
                            how: match (*reference, custos_manifest::package::is_e01(p)) {
                                (false, false) => "copied into the package",
                                (true, false) => "recorded where it is",
                                (false, true) => "an E01 set: every segment file copied, its media the item",
                                (true, true) => "an E01 set recorded where it is, its media the item",
                            }
                            .into(),
                        },
                    }
                })
                .collect(),
            Contents::Acquired { name, source, size, .. } => vec![EvidenceLine {
                name: format!("data/{name}"),
                size: *size,
                how: format!("acquired from {source}"),
            }],
        }
    }
}

/// `--item-category PATH=CATEGORY`: the item's path in the package (`data/` added when
/// missing) and a category.
fn item_category(text: &str) -> Result<(String, Category), String> {
    let (path, name) =
        text.rsplit_once('=').ok_or("PATH=CATEGORY, such as data/logs/dhcp.log=identification")?;
    let category = Category::parse(name).ok_or_else(|| {
        format!("`{name}` is not a category: subscriber, identification, traffic or content")
    })?;
    let path = if path.starts_with("data/") { path.to_owned() } else { format!("data/{path}") };
    Ok((path, category))
}

/// A field written on one line of the bag's bag-info.txt (and shown on one line): refused
/// with a line break at parsing, before `acquire` reads a byte.
fn one_line(text: &str) -> Result<String, String> {
    if text.contains(['\n', '\r']) {
        return Err("must be one line, without a line break".into());
    }
    Ok(text.to_owned())
}

pub fn run_seal(args: SealArgs) -> Result<Status> {
    if args.evidence.iter().any(|p| p.as_os_str() == "-") {
        // A stream is read once, as `acquire` reads it: hashed while it is written.
        if args.evidence.len() > 1 || args.reference {
            bail!("`-` (standard input) is sealed alone, and copied (not --reference)");
        }
        let name =
            args.name.clone().context("give the item a name with --name NAME when sealing standard input")?;
        return crate::acquire::seal_stdin(&args.package, name);
    }
    if args.name.is_some() {
        bail!("--name names standard input (`-`); files keep their own names");
    }
    // Cheap checks first: nobody should type a passphrase for a command that cannot run.
    for source in &args.evidence {
        let kind = std::fs::metadata(source)
            .with_context(|| format!("cannot read the evidence {}", source.display()))?
            .file_type();
        use std::os::unix::fs::FileTypeExt as _;
        if !(kind.is_file() || kind.is_dir() || kind.is_block_device()) {
            bail!(
                "{} is a FIFO, socket or character device: a stream is sealed with `custos seal - --name NAME < …` or `custos acquire`",
                source.display()
            );
        }
    }
    let contents = Contents::Files { paths: &args.evidence, reference: args.reference };
    Ok(seal_package(&args.package, &contents)?.0)
}

/// Checks, summarises, signs and builds a package of `contents`; prints the result. Returns
/// the status and, unless it was a dry run, the sealed manifest.
pub fn seal_package(args: &PackageArgs, contents: &Contents) -> Result<(Status, Option<Manifest>)> {
    if args.out.symlink_metadata().is_ok() {
        bail!("{} already exists (packages are never overwritten)", args.out.display());
    }
    // Before a byte is read: an acquisition may take hours, and its source may not come back.
    crate::location::refuse_output_in_a_package("--out", &args.out, None)?;
    for (at, (path, category)) in args.item_category.iter().enumerate() {
        if let Some((_, other)) = args.item_category[..at].iter().find(|(earlier, _)| earlier == path) {
            bail!(
                "--item-category {} is given twice ({} and {}): an item holds one kind of data, signed for good; give it once",
                escape(path),
                other.name(),
                category.name()
            );
        }
    }
    if let Some(receipt) = &args.anchors.receipt {
        crate::location::refuse_output_in_a_package("--receipt", receipt, Some(&args.out))?;
        if receipt.symlink_metadata().is_ok() {
            bail!(
                "--receipt {} already exists (receipts are never overwritten)",
                crate::render::shown(receipt)
            );
        }
    }
    let resuming = match contents {
        Contents::Acquired { resume, .. } => *resume,
        Contents::Files { .. } => None,
    };
    for leftover in custos_manifest::package::interrupted_seals(&args.out) {
        if Some(leftover.as_path()) == resuming {
            crate::render::say(&format!("continuing the interrupted acquisition in {}", leftover.display()));
            continue;
        }
        let checkpointed = custos_manifest::store::PackageDir::open(&leftover)
            .is_ok_and(|dir| dir.open_file(custos_manifest::package::CHECKPOINT_PATH).is_ok());
        crate::render::say(&format!(
            "note: {} is left over from an interrupted seal of {}; it is not a package ({})",
            leftover.display(),
            args.out.display(),
            if checkpointed {
                "continue it with `custos acquire … --resume`, or remove it"
            } else {
                "remove it"
            }
        ));
    }
    if matches!(args.segment_algo, Algorithm::Md5 | Algorithm::Sha1) {
        // `verify --by-segments` proves an item by its segments alone; that needs a
        // collision-resistant digest.
        bail!(
            "--segment-algo {}: segments prove the item under `verify --by-segments`, which needs a collision-resistant digest: choose blake3, sha256 or sha512",
            args.segment_algo
        );
    }
    let mut algorithms = Algorithm::parse_list(args.algo.as_deref().unwrap_or("sha256,blake3"))?;
    if !algorithms.contains(&Algorithm::Sha256) {
        algorithms.push(Algorithm::Sha256);
    }
    let category = args.category.as_deref().and_then(Category::parse);
    let legal_basis = args.legal_basis.iter().map(|b| LegalBasis::parse(b)).collect::<Result<Vec<_>, _>>()?;
    if legal_basis.is_empty() {
        crate::render::say(
            "warning: no --legal-basis given; courts that require one will not accept this package (it cannot be added after sealing)"
        );
    }
    // What will be signed, shown before the passphrase is asked: a signature is forever.
    let signer = crate::keygen::signer_public_key(&args.signer.key)?;
    let summary = SealSummary {
        args,
        signer: &signer,
        legal_basis: &legal_basis,
        algorithms: &algorithms,
        evidence: contents.lines(),
    };
    if args.dry_run {
        if args.json {
            crate::render::print_json(&summary.json())?;
        } else {
            print!("{}", summary.text());
            println!("dry run: nothing was signed or written");
        }
        return Ok((Status::Ok, None));
    }
    if !args.json && !args.quiet {
        crate::render::say_lines(&summary.text());
    }
    let (secret, public) = load_signer(&args.signer.key, args.signer.passphrase_file.as_deref())?;
    let (bar, files, acquired): (_, &[PathBuf], Vec<&dyn Acquirer>) = match contents {
        // Each file is copied and hashed, then its copy read back; with --reference it is
        // only hashed.
        Contents::Files { paths, reference } => {
            let phases = if *reference { vec!["hashing"] } else { vec!["copying", "reading back"] };
            let sizes = paths.iter().flat_map(|p| tree_files(p)).collect();
            (progress::SealBar::new(sizes, phases, args.quiet), paths, Vec::new())
        }
        Contents::Acquired { acquirer, name, size, phases, .. } => {
            let acquirer = acquirer.context("nothing to acquire from (a dry run opens no source)")?;
            let sizes = vec![(name.clone(), size.unwrap_or(0))];
            (progress::SealBar::new(sizes, phases.clone(), args.quiet), &[], vec![acquirer])
        }
    };
    let tick = |bytes: u64| bar.advance(bytes);
    let request = SealRequest {
        evidence: files,
        reference: matches!(contents, Contents::Files { reference: true, .. }),
        case: Case { reference: args.case.clone(), exhibit: args.exhibit.clone() },
        jurisdiction: args.jurisdiction.clone(),
        category,
        item_categories: &args.item_category,
        legal_basis,
        location: args.location.clone(),
        country: args.country.clone(),
        algorithms,
        segments: args.segment_size.map(|size| SegmentSpec { size, algorithm: args.segment_algo }),
        signer: &secret,
        signer_public: &public,
        sealed_at: custos_manifest::time::now_rfc3339(),
        tsa: args.anchors.tsa.as_deref(),
        acquired: &acquired,
        resume: resuming,
    };
    let interrupted = interrupt_flag()?;
    let sealed = seal(&args.out, &request, &Control { progress: Some(&tick), cancel: Some(&interrupted) });
    bar.finish();
    if let (true, Err(custos_manifest::Error::Resumable { kept, .. })) =
        (interrupted.load(Ordering::Relaxed), &sealed)
    {
        bail!(
            "interrupted: nothing was sealed; the unfinished acquisition is kept in {} (continue it with --resume, or remove it)",
            kept.display()
        );
    }
    if let (true, Err(kept @ custos_manifest::Error::Kept { .. })) =
        (interrupted.load(Ordering::Relaxed), &sealed)
    {
        bail!("interrupted: {kept}");
    }
    if interrupted.load(Ordering::Relaxed) && sealed.is_err() {
        bail!(
            "interrupted: nothing was sealed, and the partial copy was removed ({} does not exist)",
            args.out.display()
        );
    }
    let manifest = sealed.with_context(|| format!("cannot seal {}", args.out.display()))?;
    if interrupted.load(Ordering::Relaxed) {
        crate::render::say(&format!(
            "the interruption came after the evidence was copied and proven: {} is complete and sealed",
            args.out.display()
        ));
    }
    give_to_sudo_user(&args.out, args.json);
    if let Some(path) = &args.anchors.receipt {
        write_receipt(path, &custos_manifest::package::head_receipt(&args.out)?)?;
    }
    let held = match contents {
        Contents::Acquired { held: Some(held), .. } => held(),
        _ => true,
    };
    if args.json {
        let record = serde_json::json!({
            "package": args.out.display().to_string(),
            "signer": crate::render::signer(&public),
            "manifest": manifest,
            "written": [crate::render::written(&args.out, "package")],
            "verdict": if held { "pass" } else { "fail" },
        });
        crate::render::print_json(&record)?;
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
                println!("  {algorithm:<7} {digest}  {}", escape(&item.path));
            }
        }
    }
    Ok((if held { Status::Ok } else { Status::Failed }, Some(manifest)))
}

/// A flag that Ctrl-C, SIGTERM and SIGHUP raise, for the hash engine to stop at its next
/// window: the seal then removes its partial package. A second signal ends the process at
/// once (the hidden partial folder is then named by the next seal).
fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        // The shutdown is registered first: it acts only when the flag is already raised.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&flag))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&flag)))
            .context("cannot handle interruptions")?;
    }
    Ok(flag)
}

/// What is about to be signed, for the person who signs it.
struct SealSummary<'a> {
    args: &'a PackageArgs,
    signer: &'a PublicKey,
    legal_basis: &'a [LegalBasis],
    algorithms: &'a [Algorithm],
    evidence: Vec<EvidenceLine>,
}

impl SealSummary<'_> {
    fn text(&self) -> String {
        let owner = &self.signer.owner;
        let args = self.args;
        let mut text = format!(
            "sealing into {}, signed by {} ({}{}; key {}):\n",
            args.out.display(),
            escape(&owner.name),
            escape(&owner.role),
            owner.jurisdiction.as_deref().map(|j| format!(", {}", escape(j))).unwrap_or_default(),
            short(&self.signer.id().to_string())
        );
        let exhibit = args.exhibit.as_deref().map(|e| format!(", exhibit {}", escape(e))).unwrap_or_default();
        text.push_str(&format!("  case         {}{exhibit}\n", escape(&args.case)));
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
        text.push_str(&format!("  category     {}\n", args.category.as_deref().unwrap_or("not stated")));
        for (path, category) in &args.item_category {
            text.push_str(&format!("    {}: {}\n", escape(path), category.name()));
        }
        if let Some(jurisdiction) = &args.jurisdiction {
            text.push_str(&format!("  jurisdiction {}\n", escape(jurisdiction)));
        }
        if let Some(location) = &args.location {
            text.push_str(&format!("  location     {}\n", escape(location)));
        }
        if let Some(tsa) = &args.anchors.tsa {
            text.push_str(&format!("  time-stamps  from {}\n", escape(tsa)));
        }
        for line in &self.evidence {
            let size = line.size.map_or_else(|| "size unknown".into(), crate::human::size);
            text.push_str(&format!(
                "  evidence     {} ({size}, {})\n",
                escape(&line.name),
                escape(&line.how)
            ));
        }
        let names: Vec<&str> = self.algorithms.iter().map(|a| a.name()).collect();
        let segments = args
            .segment_size
            .map(|s| format!("; {} segments of {}", args.segment_algo, crate::human::size(s)))
            .unwrap_or_default();
        text.push_str(&format!("  digests      {}{segments}\n", names.join(", ")));
        text
    }

    fn json(&self) -> serde_json::Value {
        let args = self.args;
        let evidence: Vec<serde_json::Value> = self
            .evidence
            .iter()
            .map(|line| serde_json::json!({ "path": line.name, "size": line.size, "how": line.how }))
            .collect();
        serde_json::json!({
            "dry_run": true,
            "package": args.out.display().to_string(),
            "signer": crate::render::signer(self.signer),
            "case": { "reference": args.case, "exhibit": args.exhibit },
            "legal_basis": self.legal_basis,
            "category": args.category,
            "item_categories": args.item_category.iter().map(|(path, category)| (path.clone(), category.name())).collect::<std::collections::BTreeMap<_, _>>(),
            "jurisdiction": args.jurisdiction,
            "location": args.location,
            "tsa": args.anchors.tsa,
            "algorithms": self.algorithms.iter().map(|a| a.name()).collect::<Vec<_>>(),
            "segment_size": args.segment_size,
            "segment_algorithm": args.segment_size.map(|_| args.segment_algo.name()),
            "evidence": evidence,
            "verdict": "pass",
        })
    }
}

/// The user who ran `sudo custos …`, from `SUDO_UID` and `SUDO_GID`, when this process runs
/// as root: `None` otherwise.
fn sudo_user() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt as _;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let id = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u32>().ok());
    match (root, id("SUDO_UID"), id("SUDO_GID")) {
        (true, Some(uid), Some(gid)) if uid != u32::MAX && gid != u32::MAX => Some((uid, gid)),
        _ => None,
    }
}

/// After `sudo custos acquire` (or `seal`), gives the new package's folders and files to
/// the user who ran sudo: her next custody command runs as herself and must be able to
/// append to the log. The package is walked through open folders (`O_NOFOLLOW`), and each
/// entry is changed with `AT_SYMLINK_NOFOLLOW`: no link is ever followed. Ownership is not
/// part of what is signed, so the package verifies the same. A failure is said with the
/// command that fixes it; the package itself is sealed either way.
pub fn give_to_sudo_user(package: &std::path::Path, json: bool) {
    let Some((uid, gid)) = sudo_user() else { return };
    match chown_package(package, uid, gid) {
        Ok(()) if !json => crate::render::say(&format!(
            "{} is given to the user who ran sudo (uid {uid}, gid {gid}), for the custody commands that follow",
            package.display()
        )),
        Ok(()) => {}
        Err(error) => crate::render::say(&format!(
            "warning: cannot give {} to the user who ran sudo (uid {uid}): {error}; her custody commands will be refused until `sudo chown -R {uid}:{gid} {}`",
            package.display(),
            package.display()
        )),
    }
}

fn chown_package(package: &std::path::Path, uid: u32, gid: u32) -> std::io::Result<()> {
    use rustix::fs::{fchown, Gid, Mode, OFlags, Uid};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let root = rustix::fs::open(package, flags, Mode::empty())?;
    fchown(&root, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    chown_tree(root, uid, gid, 0)
}

/// Every entry below the open folder `dir`, depth first, without following links.
fn chown_tree(dir: std::os::fd::OwnedFd, uid: u32, gid: u32, depth: usize) -> std::io::Result<()> {
    use rustix::fs::{chownat, openat, AtFlags, FileType, Gid, Mode, OFlags, Uid};
    if depth > custos_manifest::store::MAX_DEPTH {
        return Err(std::io::Error::other("folders nested too deep"));
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    for entry in rustix::fs::Dir::read_from(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        chownat(&dir, name, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)), AtFlags::SYMLINK_NOFOLLOW)?;
        if entry.file_type() == FileType::Directory {
            let sub = openat(&dir, name, flags, Mode::empty())?;
            chown_tree(sub, uid, gid, depth + 1)?;
        }
    }
    Ok(())
}
