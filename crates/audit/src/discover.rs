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

/// What discovery could not look into or refused, reported and passed over: each is an
/// error of the audit, never silence.
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
        if entry.file_type().is_symlink() {
            // A link to a folder could lead anywhere: said, never followed.
            if std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) {
                found.skipped.push(Skipped {
                    path: entry.path().to_owned(),
                    reason: "a link to a folder, not followed: give its target as a root of its own".into(),
                });
            }
            continue;
        }
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
            // The custos folder without a usable manifest: a package made unrecognisable.
            if std::fs::symlink_metadata(entry.path().join("custos")).is_ok_and(|m| m.is_dir()) {
                found.skipped.push(Skipped {
                    path: entry.path().to_owned(),
                    reason: "holds custos/ but custos/manifest.json is not a regular file (missing, a link, a FIFO or a folder)"
                        .into(),
                });
            } else if std::fs::symlink_metadata(entry.path().join("bagit.txt")).is_ok() {
                // A bag without its custos folder: a package whose signed part was removed
                // or renamed looks like this, and Custos never makes one. Said, not passed
                // over, and not walked into (its data/ is not the store's).
                found.skipped.push(Skipped {
                    path: entry.path().to_owned(),
                    reason: "a BagIt bag with no custos/ folder: a package whose custos folder was removed or renamed, or a bag Custos did not make; not an evidence package that can be checked".into(),
                });
                walk.skip_current_dir();
            }
            continue;
        }
        walk.skip_current_dir();
        if entry.path().to_str().is_none() {
            found.skipped.push(Skipped {
                path: entry.path().to_owned(),
                reason: "a package whose path is not UTF-8 (seal never makes one): rename it to audit it"
                    .into(),
            });
            continue;
        }
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
    fn class2_memory_a_bag_whose_custos_folder_was_renamed_is_said_not_passed_over() {
        let root = tempfile::tempdir().expect("tempdir");
        package(&root.path().join("case-1"));
        let gutted = root.path().join("case-2");
        package(&gutted);
        std::fs::write(gutted.join("bagit.txt"), b"BagIt-Version: 1.0\n").expect("bagit.txt");
        std::fs::rename(gutted.join("custos"), gutted.join(".old")).expect("rename");
        let found = discover(root.path());
        assert_eq!(found.packages.len(), 1);
        assert_eq!(found.skipped.len(), 1, "{:?}", found.skipped);
        assert_eq!(found.skipped[0].path, gutted);
        assert!(found.skipped[0].reason.contains("no custos/ folder"), "{}", found.skipped[0].reason);
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
        let reasons: Vec<&str> = found.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].contains("being sealed"), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("not a regular file")), "{reasons:?}");
        assert_eq!(reasons.iter().filter(|r| r.contains("a link to a folder")).count(), 2, "{reasons:?}");
    }
}

#[cfg(test)]
mod more_tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt as _;

    #[test]
    fn packages_made_unrecognisable_or_unnameable_are_reported() {
        let root = tempfile::tempdir().expect("tempdir");
        for (name, make) in [("fifo", 0), ("folder", 1), ("missing", 2)] {
            let custos = root.path().join(name).join("custos");
            std::fs::create_dir_all(&custos).expect("mkdir");
            let manifest = custos.join("manifest.json");
            match make {
                0 => assert!(std::process::Command::new("mkfifo")
                    .arg(&manifest)
                    .status()
                    .expect("mkfifo")
                    .success()),
                1 => std::fs::create_dir(&manifest).expect("mkdir"),
                _ => {}
            }
        }
        let odd = root.path().join(std::ffi::OsStr::from_bytes(b"a\xff"));
        std::fs::create_dir_all(odd.join("custos")).expect("mkdir");
        std::fs::write(odd.join(MANIFEST_PATH), b"{}").expect("write");
        let found = discover(root.path());
        assert!(found.packages.is_empty(), "{:?}", found.packages);
        assert_eq!(found.skipped.len(), 4, "{:?}", found.skipped);
        assert!(found.skipped.iter().any(|s| s.reason.contains("not UTF-8")));
    }
}
