//! BagIt (RFC 8493) bags. Every Custos evidence package is also a valid bag, so archives and
//! preservation tools that know nothing of Custos can still check its payload.
//!
//! Writing: `bagit.txt`, `bag-info.txt` (with `Payload-Oxum`), one `manifest-ALG.txt` per
//! algorithm and one `tagmanifest-ALG.txt` per algorithm over every tag file (including
//! Custos' own files). Validating reports [`Finding`]s rather than stopping at the first
//! problem, and is stricter than RFC 8493 where evidence needs it: the tag manifest is
//! required (a deleted one passed other validators: bagger#56), manifest paths must stay
//! under `data/`, and a symbolic link or special file under `data/` is a failure, never
//! followed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path};

use custos_hash::{hash_tree_file, walk_tree, Algorithm, Control, Digest, EntryKind, HashOptions};

use crate::findings::Finding;
use crate::Error;

/// The algorithms RFC 8493 names for manifests. BLAKE3 is not among them; Custos records it
/// in its own manifest.
pub const BAGIT_ALGORITHMS: [Algorithm; 4] =
    [Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512];

const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

/// One payload file as it goes into the payload manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFile {
    /// Path relative to the bag, starting with `data/`, `/`-separated.
    pub path: String,
    /// Length in bytes.
    pub size: u64,
    /// Its digests; every manifest algorithm must be present.
    pub digests: Vec<(Algorithm, Digest)>,
}

/// Writes the bag's tag files around a `data/` folder already in place. `info` goes into
/// `bag-info.txt` before the `Payload-Oxum` and `Bagging-Date` lines.
pub fn write_tag_files(
    bag: &Path,
    payload: &[PayloadFile],
    algorithms: &[Algorithm],
    info: &[(String, String)],
    bagging_date: &str,
) -> Result<(), Error> {
    if algorithms.is_empty() || algorithms.iter().any(|a| !BAGIT_ALGORITHMS.contains(a)) {
        return Err(Error::Bag(format!(
            "BagIt manifests take md5, sha1, sha256 or sha512, not {algorithms:?}"
        )));
    }
    write(bag, "bagit.txt", BAGIT_TXT.as_bytes())?;
    let mut bag_info = String::new();
    for (label, value) in info {
        if label.contains(':') || label.contains('\n') || value.contains('\n') {
            return Err(Error::Bag(format!(
                "bag-info field `{label}` must be one line without a colon in its label"
            )));
        }
        bag_info.push_str(&format!("{label}: {value}\n"));
    }
    let bytes: u64 = payload.iter().map(|f| f.size).sum();
    bag_info.push_str(&format!("Payload-Oxum: {bytes}.{}\nBagging-Date: {bagging_date}\n", payload.len()));
    write(bag, "bag-info.txt", bag_info.as_bytes())?;

    let mut sorted: Vec<&PayloadFile> = payload.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for &algorithm in algorithms {
        let mut manifest = String::new();
        for file in &sorted {
            check_payload_path(&file.path)
                .map_err(|reason| Error::Bag(format!("{}: {reason}", file.path)))?;
            let digest = file
                .digests
                .iter()
                .find(|(a, _)| *a == algorithm)
                .map(|(_, d)| d)
                .ok_or_else(|| Error::Bag(format!("{} has no {algorithm} digest", file.path)))?;
            manifest.push_str(&format!("{}  {}\n", digest.to_hex(), encode_path(&file.path)));
        }
        write(bag, &format!("manifest-{algorithm}.txt"), manifest.as_bytes())?;
    }
    write_tag_manifests(bag, algorithms)
}

/// Writes `tagmanifest-ALG.txt` over every tag file: everything outside `data/` except the
/// tag manifests themselves.
pub fn write_tag_manifests(bag: &Path, algorithms: &[Algorithm]) -> Result<(), Error> {
    let tag_files = tag_files(bag)?;
    let options = HashOptions { algorithms: algorithms.to_vec(), ..HashOptions::default() };
    let mut manifests: BTreeMap<Algorithm, String> = BTreeMap::new();
    for relative in &tag_files {
        let outcome = hash_tree_file(&bag.join(relative), &options, &Control::default())
            .map_err(|e| Error::Bag(format!("cannot hash tag file {relative}: {e}")))?;
        for (algorithm, digest) in &outcome.digests {
            manifests.entry(*algorithm).or_default().push_str(&format!(
                "{}  {}\n",
                digest.to_hex(),
                encode_path(relative)
            ));
        }
    }
    for (algorithm, text) in manifests {
        write(bag, &format!("tagmanifest-{algorithm}.txt"), text.as_bytes())?;
    }
    Ok(())
}

/// Validates a bag: presence of `bagit.txt`, payload manifests, every payload file listed
/// and present (nothing extra, nothing missing), every digest, `Payload-Oxum`, and the tag
/// manifests (required). `fast` skips re-hashing payload bytes (and says so).
pub fn validate(bag: &Path, fast: bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    match fs::read_to_string(bag.join("bagit.txt")) {
        Ok(text) if text.lines().next().is_some_and(|l| l.starts_with("BagIt-Version: ")) => {
            findings.push(Finding::pass("bag.declaration", "bagit.txt", "present"));
        }
        Ok(_) => findings.push(Finding::fail(
            "bag.declaration",
            "bagit.txt",
            "does not start with a BagIt-Version line",
        )),
        Err(e) => {
            findings.push(Finding::fail("bag.declaration", "bagit.txt", format!("cannot be read: {e}")))
        }
    }

    let payload = read_manifests(bag, "manifest-", &mut findings);
    if payload.is_empty() {
        findings.push(Finding::fail("bag.manifest", "manifest-*.txt", "no payload manifest"));
    }
    let listed: BTreeSet<&String> = payload.values().flat_map(|entries| entries.keys()).collect();
    let mut present: BTreeSet<String> = BTreeSet::new();
    for entry in walk_tree(&bag.join("data")) {
        match entry {
            Err(e) => findings.push(Finding::fail("bag.payload_walk", "data/", e.to_string())),
            Ok(entry) => {
                let relative = relative_path(bag, &entry.path);
                match entry.kind {
                    EntryKind::File { .. } => {
                        present.insert(relative);
                    }
                    EntryKind::Symlink { target } => findings.push(Finding::fail(
                        "bag.symlink",
                        relative,
                        format!(
                            "a symbolic link (to {}) under data/; evidence is never reached through links",
                            target.display()
                        ),
                    )),
                    EntryKind::Special { kind } => findings.push(Finding::fail(
                        "bag.special_file",
                        relative,
                        format!("a {kind} under data/"),
                    )),
                    _ => {}
                }
            }
        }
    }
    for path in present.iter().filter(|p| !listed.contains(p)) {
        findings.push(Finding::fail(
            "bag.extra_file",
            path.clone(),
            "present under data/ but in no payload manifest",
        ));
    }
    for (algorithm, entries) in &payload {
        for path in entries.keys().filter(|p| !present.contains(*p)) {
            findings.push(Finding::fail(
                "bag.missing_file",
                path.clone(),
                format!("listed in manifest-{algorithm}.txt but not present"),
            ));
        }
    }
    check_oxum(bag, &present, &mut findings);
    if fast {
        findings.push(Finding::warn(
            "bag.payload_digest",
            "data/",
            "not re-hashed (--fast): payload bytes were not checked",
        ));
    } else {
        check_digests(bag, &payload, &present, "bag.payload_digest", &mut findings);
    }

    let tags = read_manifests(bag, "tagmanifest-", &mut findings);
    if tags.is_empty() {
        findings.push(Finding::fail(
            "bag.tag_manifest",
            "tagmanifest-*.txt",
            "missing: tag files (bag-info.txt, manifests, custos/) would be unprotected",
        ));
    } else {
        match tag_files(bag) {
            Ok(actual) => {
                let tag_listed: BTreeSet<&String> = tags.values().flat_map(|e| e.keys()).collect();
                for path in actual.iter().filter(|p| !tag_listed.contains(p)) {
                    findings.push(Finding::fail(
                        "bag.unlisted_tag_file",
                        path.clone(),
                        "a tag file in no tag manifest",
                    ));
                }
                let actual: BTreeSet<String> = actual.into_iter().collect();
                check_digests(bag, &tags, &actual, "bag.tag_digest", &mut findings);
            }
            Err(e) => findings.push(Finding::fail("bag.tag_manifest", "/", e.to_string())),
        }
    }
    findings
}

/// Manifests of one kind (`manifest-` or `tagmanifest-`): algorithm → path → digest.
type Manifests = BTreeMap<Algorithm, BTreeMap<String, Digest>>;

fn read_manifests(bag: &Path, prefix: &str, findings: &mut Vec<Finding>) -> Manifests {
    let mut manifests = Manifests::new();
    let Ok(entries) = fs::read_dir(bag) else {
        findings.push(Finding::fail(
            "bag.manifest",
            bag.display().to_string(),
            "the package folder cannot be read",
        ));
        return manifests;
    };
    let mut names: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    for name in names {
        let Some(algorithm_name) = name.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(".txt"))
        else {
            continue;
        };
        let check = if prefix == "manifest-" { "bag.manifest" } else { "bag.tag_manifest" };
        let Some(algorithm) = BAGIT_ALGORITHMS.into_iter().find(|a| a.name() == algorithm_name) else {
            findings.push(Finding::warn(check, name.clone(), "an algorithm Custos does not check; ignored"));
            continue;
        };
        let text = match fs::read_to_string(bag.join(&name)) {
            Ok(text) => text,
            Err(e) => {
                findings.push(Finding::fail(check, name.clone(), format!("cannot be read: {e}")));
                continue;
            }
        };
        let mut entries = BTreeMap::new();
        for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let subject = format!("{name}:{}", number + 1);
            let Some((hex, raw_path)) = line.split_once(char::is_whitespace) else {
                findings.push(Finding::fail(check, subject, "not `DIGEST PATH`"));
                continue;
            };
            let path = decode_path(raw_path.trim_start());
            let digest = Digest::from_hex(hex).filter(|d| d.0.len() == algorithm.output_len());
            let within =
                if prefix == "manifest-" { check_payload_path(&path) } else { check_relative_path(&path) };
            match (digest, within) {
                (_, Err(reason)) => {
                    findings.push(Finding::fail("bag.path", subject, format!("`{path}`: {reason}")))
                }
                (None, _) => findings.push(Finding::fail(
                    check,
                    subject,
                    format!("`{hex}` is not a {algorithm} digest"),
                )),
                (Some(digest), Ok(())) => {
                    if entries.insert(path.clone(), digest).is_some() {
                        findings.push(Finding::fail(check, subject, format!("`{path}` is listed twice")));
                    }
                }
            }
        }
        manifests.insert(algorithm, entries);
    }
    manifests
}

fn check_digests(
    bag: &Path,
    manifests: &Manifests,
    present: &BTreeSet<String>,
    check: &'static str,
    findings: &mut Vec<Finding>,
) {
    let mut wanted: BTreeMap<&String, Vec<Algorithm>> = BTreeMap::new();
    for (algorithm, entries) in manifests {
        for path in entries.keys().filter(|p| present.contains(*p)) {
            wanted.entry(path).or_default().push(*algorithm);
        }
    }
    for (path, algorithms) in wanted {
        let options = HashOptions { algorithms: algorithms.clone(), ..HashOptions::default() };
        match hash_tree_file(&bag.join(path), &options, &Control::default()) {
            Err(e) => findings.push(Finding::fail(check, path.clone(), e.to_string())),
            Ok(outcome) => {
                for algorithm in algorithms {
                    let expected = &manifests[&algorithm][path];
                    match outcome.digest(algorithm) {
                        Some(found) if found == expected => {
                            findings.push(Finding::pass(check, path.clone(), format!("{algorithm} matches")));
                        }
                        found => findings.push(Finding::fail(
                            check,
                            path.clone(),
                            format!(
                                "{algorithm} is {}, the manifest says {expected}",
                                found.map_or_else(|| "unknown".into(), Digest::to_hex)
                            ),
                        )),
                    }
                }
            }
        }
    }
}

fn check_oxum(bag: &Path, present: &BTreeSet<String>, findings: &mut Vec<Finding>) {
    let Ok(info) = fs::read_to_string(bag.join("bag-info.txt")) else { return };
    let Some(oxum) = info.lines().find_map(|l| l.strip_prefix("Payload-Oxum: ")) else { return };
    let bytes: u64 =
        present.iter().filter_map(|p| fs::symlink_metadata(bag.join(p)).ok()).map(|m| m.len()).sum();
    let actual = format!("{bytes}.{}", present.len());
    if oxum.trim() == actual {
        findings.push(Finding::pass("bag.payload_oxum", "bag-info.txt", format!("{actual} (bytes.files)")));
    } else {
        findings.push(Finding::fail(
            "bag.payload_oxum",
            "bag-info.txt",
            format!("Payload-Oxum says {}, the payload is {actual}", oxum.trim()),
        ));
    }
}

/// Every file outside `data/` except tag manifests, as bag-relative paths, sorted.
fn tag_files(bag: &Path) -> Result<Vec<String>, Error> {
    let mut files = Vec::new();
    for entry in walk_tree(bag) {
        let entry = entry.map_err(|e| Error::Bag(e.to_string()))?;
        let relative = relative_path(bag, &entry.path);
        if relative.starts_with("data/") || (relative.starts_with("tagmanifest-") && !relative.contains('/'))
        {
            continue;
        }
        match entry.kind {
            EntryKind::File { .. } => files.push(relative),
            _ => {
                return Err(Error::Bag(format!(
                    "{relative}: tag files must be regular files, not links or special files"
                )))
            }
        }
    }
    Ok(files)
}

fn relative_path(bag: &Path, path: &Path) -> String {
    path.strip_prefix(bag).unwrap_or(path).to_string_lossy().into_owned()
}

/// A payload path must be a plain relative path under `data/`.
pub fn check_payload_path(path: &str) -> Result<(), String> {
    check_relative_path(path)?;
    if !path.starts_with("data/") {
        return Err("payload paths must start with data/".into());
    }
    Ok(())
}

/// No absolute paths, no `..`, no `.`, no empty components, no backslashes: a manifest
/// path must name a file inside the bag and nothing else.
fn check_relative_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.contains('\\') || path.contains('\0') {
        return Err("empty, or holds a backslash or NUL".into());
    }
    if path.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err("path traversal: `..`, `.` or empty components are not allowed".into());
    }
    if Path::new(path).components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err("must be relative to the bag".into());
    }
    Ok(())
}

/// RFC 8493 §2.1.3: CR, LF and `%` in manifest paths are percent-encoded.
fn encode_path(path: &str) -> String {
    path.replace('%', "%25").replace('\n', "%0A").replace('\r', "%0D")
}

fn decode_path(path: &str) -> String {
    path.replace("%0A", "\n")
        .replace("%0a", "\n")
        .replace("%0D", "\r")
        .replace("%0d", "\r")
        .replace("%25", "%")
}

fn write(bag: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    fs::write(bag.join(name), bytes).map_err(|e| Error::Bag(format!("cannot write {name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_must_stay_inside_data() {
        assert!(check_payload_path("data/a/b.img").is_ok());
        for bad in [
            "../etc/passwd",
            "data/../../x",
            "/etc/passwd",
            "data//x",
            "data/./x",
            "bag-info.txt",
            "data\\x",
            "",
        ] {
            assert!(check_payload_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percent_encoding_round_trips() {
        let path = "data/100%\nreal\r.txt";
        assert_eq!(encode_path(path), "data/100%25%0Areal%0D.txt");
        assert_eq!(decode_path(&encode_path(path)), path);
    }
}
