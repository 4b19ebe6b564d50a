//! Finding packages under an audit root: every folder holding `custos/manifest.json`,
//! without following links and without descending into a package's own folders.

use std::path::{Path, PathBuf};

use custos_manifest::package::MANIFEST_PATH;

/// A package found under a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its folder.
    pub path: PathBuf,
    /// Its path relative to the root, `/`-separated (`.` for the root itself): the key
    /// shards and state use, the same on every machine that mounts the store.
    pub key: String,
    /// The file system it lives on (`st_dev`): payload reads are scheduled per device.
    pub device: u64,
}

/// What discovery could not look into, reported and passed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The path.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// Packages and problems under one root.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Packages, in path order.
    pub packages: Vec<Found>,
    /// Folders that could not be read, and packages still being sealed.
    pub skipped: Vec<Skipped>,
}

/// Seal builds a package as `.NAME.custos-partial-PID` and renames it when done.
const PARTIAL_MARKER: &str = ".custos-partial-";

/// Walks `root` for packages. A root that is itself a package is the only package found.
/// Links are never followed (a planted link cannot make the audit read elsewhere or loop);
/// unreadable folders are listed in [`Discovery::skipped`] and the walk goes on.
pub fn discover(root: &Path) -> Discovery {
    let mut found = Discovery::default();
    let mut walk = walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name().into_iter();
    while let Some(entry) = walk.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let path = error.path().unwrap_or(root).to_owned();
                found.skipped.push(Skipped { path, reason: error.to_string() });
                continue;
            }
        };
        if !entry.file_type().is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if name.starts_with('.') && name.contains(PARTIAL_MARKER) {
            found.skipped.push(Skipped {
                path: entry.path().to_owned(),
                reason: "a package still being sealed (or left by a seal that was killed)".into(),
            });
            walk.skip_current_dir();
            continue;
        }
        let manifest = entry.path().join(MANIFEST_PATH);
        // symlink_metadata: a link named manifest.json does not make a package.
        let is_package = std::fs::symlink_metadata(&manifest).is_ok_and(|m| m.file_type().is_file());
        if !is_package {
            continue;
        }
        walk.skip_current_dir();
        let device = std::os::unix::fs::MetadataExt::dev(&match entry.metadata() {
            Ok(metadata) => metadata,
            Err(error) => {
                found.skipped.push(Skipped { path: entry.path().to_owned(), reason: error.to_string() });
                continue;
            }
        });
        let key = match entry.path().strip_prefix(root) {
            Ok(relative) if relative.as_os_str().is_empty() => ".".to_owned(),
            Ok(relative) => relative.to_string_lossy().into_owned(),
            Err(_) => entry.path().to_string_lossy().into_owned(),
        };
        found.packages.push(Found { path: entry.path().to_owned(), key, device });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(at: &Path) {
        std::fs::create_dir_all(at.join("custos")).expect("mkdir");
        std::fs::write(at.join(MANIFEST_PATH), b"{}").expect("write");
    }

    #[test]
    fn finds_packages_at_any_depth_but_not_inside_packages() {
        let root = tempfile::tempdir().expect("tempdir");
        package(&root.path().join("2026/case-1/exhibit-a"));
        package(&root.path().join("2026/case-1/exhibit-b"));
        package(&root.path().join("case-2"));
        // A folder inside a package that looks like a package is the package's payload.
        package(&root.path().join("case-2/data/nested"));
        std::fs::create_dir_all(root.path().join("empty/folder")).expect("mkdir");
        let found = discover(root.path());
        let keys: Vec<&str> = found.packages.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["2026/case-1/exhibit-a", "2026/case-1/exhibit-b", "case-2"]);
        assert!(found.skipped.is_empty());
    }

    #[test]
    fn a_root_that_is_a_package_is_the_one_package() {
        let root = tempfile::tempdir().expect("tempdir");
        package(root.path());
        let found = discover(root.path());
        assert_eq!(found.packages.len(), 1);
        assert_eq!(found.packages[0].key, ".");
    }

    #[test]
    fn links_are_not_followed_and_partial_packages_are_skipped() {
        let root = tempfile::tempdir().expect("tempdir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        package(&elsewhere.path().join("outside"));
        std::os::unix::fs::symlink(elsewhere.path(), root.path().join("link")).expect("symlink");
        // A link loop cannot hang the walk.
        std::os::unix::fs::symlink(root.path(), root.path().join("loop")).expect("symlink");
        // manifest.json as a link does not make a package.
        std::fs::create_dir_all(root.path().join("fake/custos")).expect("mkdir");
        std::os::unix::fs::symlink(
            elsewhere.path().join("outside").join(MANIFEST_PATH),
            root.path().join("fake").join(MANIFEST_PATH),
        )
        .expect("symlink");
        package(&root.path().join(".case.custos-partial-1234"));
        let found = discover(root.path());
        assert!(found.packages.is_empty(), "{:?}", found.packages);
        assert_eq!(found.skipped.len(), 1);
        assert!(found.skipped[0].reason.contains("being sealed"));
    }
}
