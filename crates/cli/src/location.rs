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
