//! Where a package is: a local folder (opened through the safe store) or, later, an
//! object-store prefix. Every command that reads a package opens it here.

use std::path::Path;

use anyhow::{bail, Context, Result};
use custos_manifest::package::MANIFEST_PATH;
use custos_manifest::store::{PackageDir, PackageStore};

/// A package's store, shareable between the audit's threads.
pub type Store = Box<dyn PackageStore + Send + Sync>;

/// Opens the package at `location`, refusing what is not one.
pub fn open_package(location: &Path) -> Result<Store> {
    let store = PackageDir::open(location).with_context(|| format!("cannot open {}", location.display()))?;
    if store.open_file(MANIFEST_PATH).is_err() {
        bail!("{} is not an evidence package (no custos/manifest.json)", location.display());
    }
    Ok(Box::new(store))
}
