//! Where a package is: a local folder (opened through the safe store) or an
//! `s3://bucket/prefix` in an S3-compatible object store (configured from the standard AWS
//! variables and profiles). Every command that reads a package opens it here.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use custos_manifest::package::MANIFEST_PATH;
use custos_manifest::store::{PackageDir, PackageStore};
use custos_s3::{S3Client, S3Package, S3Url};

/// A package's store, shareable between the audit's threads.
pub type Store = Box<dyn PackageStore + Send + Sync>;

/// The `s3://` location `location` names, if it names one.
fn s3_location(location: &Path) -> Option<&str> {
    location.to_str().filter(|text| text.starts_with("s3://"))
}

/// Whether `location` names a package or root in an object store (`s3://…`).
pub fn is_remote(location: &Path) -> bool {
    s3_location(location).is_some()
}

/// Opens the package at `location`, refusing what is not one.
pub fn open_package(location: &Path) -> Result<Store> {
    if let Some(text) = s3_location(location) {
        let url = S3Url::parse(text)?;
        let client = S3Client::shared().context("cannot configure the S3 client")?;
        let package = S3Package::open(client, url)?;
        return Ok(Box::new(package));
    }
    let store = PackageDir::open(location).with_context(|| format!("cannot open {}", location.display()))?;
    if store.open_file(MANIFEST_PATH).is_err() {
        bail!("{} is not an evidence package (no custos/manifest.json)", location.display());
    }
    Ok(Box::new(store))
}

/// Every package under an `s3://` root, sorted, as locations `open_package` takes (for
/// `custos audit`). Local roots are discovered by the audit's own walk.
pub fn find_packages(root: &Path) -> Result<Vec<PathBuf>> {
    let Some(text) = s3_location(root) else {
        bail!("{}: only s3:// roots are discovered here", root.display());
    };
    let url = S3Url::parse(text)?;
    let client = S3Client::shared().context("cannot configure the S3 client")?;
    let found = custos_s3::find_packages(&client, &url).with_context(|| format!("cannot list {url}"))?;
    Ok(found.iter().map(|url| PathBuf::from(url.to_string())).collect())
}

/// The packages a command given `root` works on: `root` itself when it is a package (or an
/// `s3://` package), else every package under it (as `custos audit` finds them).
pub fn packages_under(root: &Path) -> Result<Vec<PathBuf>> {
    if is_remote(root) {
        return match find_packages(root) {
            Ok(found) if !found.is_empty() => Ok(found),
            _ => Ok(vec![root.to_owned()]),
        };
    }
    if root.join(MANIFEST_PATH).is_file() {
        return Ok(vec![root.to_owned()]);
    }
    if !root.is_dir() {
        bail!("{} is neither an evidence package nor a folder holding packages", crate::render::shown(root));
    }
    let discovery = custos_audit::discover::discover(root);
    for skipped in &discovery.skipped {
        crate::render::say(&format!("skipped {}: {}", crate::render::shown(&skipped.path), skipped.reason));
    }
    Ok(discovery.packages.into_iter().map(|found| found.path).collect())
}

/// Refuses `output`, a file or folder a command is about to write (a receipt, a key, a
/// report, an export, an audit's state or ledger), inside an evidence package: `package`
/// (the one the command makes or works on, which may not exist yet) or any other. A file
/// there is one no manifest lists, so the package would no longer verify: the operator's
/// mistake would become a verdict about the evidence. Checked before anything is written,
/// through links (a link into a package counts).
pub fn refuse_output_in_a_package(flag: &str, output: &Path, package: Option<&Path>) -> Result<()> {
    if is_remote(output) {
        return Ok(());
    }
    let at = resolved(output);
    let made_here = package.filter(|p| !is_remote(p)).map(resolved).filter(|package| at.starts_with(package));
    let inside = made_here.or_else(|| {
        at.ancestors().skip(1).find(|folder| folder.join(MANIFEST_PATH).is_file()).map(Path::to_path_buf)
    });
    match inside {
        Some(package) => bail!(
            "{flag} {} is inside the evidence package {}: a file written there is one no manifest lists, and the package would no longer verify. Write it outside the package",
            crate::render::shown(output),
            crate::render::shown(&package)
        ),
        None => Ok(()),
    }
}

/// `path` with its deepest existing folder resolved (links, `.`, `..`) and the rest, which
/// does not exist yet, appended as given.
pub fn resolved(path: &Path) -> PathBuf {
    // The parent of a bare name (`store`) is the empty path: the current folder.
    let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |at, part| at.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}
