//! BagIt (RFC 8493) bags. Every Custos evidence package is also a valid bag, so archives and
//! preservation tools that know nothing of Custos can still check its payload.
//!
//! Writing: `bagit.txt`, `bag-info.txt` (with `Payload-Oxum`), one `manifest-ALG.txt` per
//! algorithm and one `tagmanifest-ALG.txt` per algorithm over every tag file (including
//! Custos' own files), all through the package's store ([`crate::store`]). Checking reports
//! [`Finding`]s rather than stopping at the first problem, works on a [`Snapshot`] of the
//! package, and is stricter than RFC 8493 where evidence needs it: `bagit.txt`,
//! `bag-info.txt` with `Payload-Oxum` and a tag manifest are required (a deleted tag
//! manifest passed other validators: bagger#56), every file a tag manifest names must exist,
//! every payload manifest must list exactly the files under `data/` (RFC 8493 §3), names are
//! compared as bytes after percent-decoding, manifest paths must stay inside the bag, and a
//! link or special file anywhere is a failure, never followed. The payload's bytes are
//! hashed by the verifier ([`crate::verify`]), once per file for every claim about it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use custos_hash::{hash_bytes, Algorithm, Digest, EntryKind, HashOptions};

use crate::findings::Finding;
use crate::store::{PackageDir, PackageStore, StoreError};
use crate::verify::Snapshot;
use crate::Error;

/// The algorithms RFC 8493 names for manifests. BLAKE3 is not among them; Custos records it
/// in its own manifest.
pub const BAGIT_ALGORITHMS: [Algorithm; 4] =
    [Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512];

const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

/// How many malformed lines of one manifest are reported one by one.
const MAX_MALFORMED_LINES: usize = 20;

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
    let store = PackageDir::open(bag).map_err(store_error)?;
    check_info_fields(info)?;
    let mut bag_info = String::new();
    for (label, value) in info {
        bag_info.push_str(&format!("{label}: {value}\n"));
    }
    let bytes: u64 = payload.iter().map(|f| f.size).sum();
    bag_info.push_str(&format!("Payload-Oxum: {bytes}.{}\nBagging-Date: {bagging_date}\n", payload.len()));

    let mut sorted: Vec<&PayloadFile> = payload.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut files = vec![
        ("bagit.txt".to_owned(), BAGIT_TXT.as_bytes().to_vec()),
        ("bag-info.txt".to_owned(), bag_info.into_bytes()),
    ];
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
        files.push((format!("manifest-{algorithm}.txt"), manifest.into_bytes()));
    }
    for (name, bytes) in files {
        store.replace(&name, &bytes).map_err(store_error)?;
    }
    write_tag_manifests_in(&store, algorithms)
}

/// Refuses bag-info.txt fields that cannot be written as one line each (a line break in a
/// case reference or exhibit, a colon in a label).
pub fn check_info_fields(info: &[(String, String)]) -> Result<(), Error> {
    for (label, value) in info {
        if label.contains(':') || label.contains(['\n', '\r']) || value.contains(['\n', '\r']) {
            let field = match label.as_str() {
                "External-Identifier" => " (the case reference, --case)",
                "External-Description" => " (the exhibit, --exhibit)",
                _ => "",
            };
            return Err(Error::Bag(format!(
                "bag-info field `{label}`{field} must be one line, without a line break (nor a colon in its label)"
            )));
        }
    }
    Ok(())
}

/// Writes `tagmanifest-ALG.txt` over every tag file: everything outside `data/` except the
/// tag manifests themselves.
pub fn write_tag_manifests(bag: &Path, algorithms: &[Algorithm]) -> Result<(), Error> {
    write_tag_manifests_in(&PackageDir::open(bag).map_err(store_error)?, algorithms)
}

/// [`write_tag_manifests`] through an open store. Each tag manifest is written to a
/// temporary file and renamed over the old one; a link or special file anywhere in the
/// package is refused before anything is written.
pub fn write_tag_manifests_in(store: &PackageDir, algorithms: &[Algorithm]) -> Result<(), Error> {
    for (name, bytes) in tag_manifests(store, algorithms)? {
        store.replace(&name, &bytes).map_err(store_error)?;
    }
    Ok(())
}

/// The tag manifests' names and contents for the package as it is now, without writing.
pub fn tag_manifests(
    store: &dyn PackageStore,
    algorithms: &[Algorithm],
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let options = HashOptions { algorithms: algorithms.to_vec(), ..HashOptions::default() };
    let mut manifests: BTreeMap<Algorithm, String> = algorithms.iter().map(|a| (*a, String::new())).collect();
    for entry in store.list().map_err(store_error)? {
        let Some(path) = entry.utf8_path() else {
            return Err(Error::Bag(format!("{}: names must be UTF-8", String::from_utf8_lossy(&entry.path))));
        };
        // A temporary an interrupted write left is never listed: listed, it would be part
        // of the package for good (custody commands remove it first, under the lock).
        if !is_tag_file(path) || crate::store::is_writer_temporary(path) {
            continue;
        }
        if !matches!(entry.kind, EntryKind::File { .. }) {
            return Err(Error::Bag(format!(
                "{path}: tag files must be regular files, not links or special files"
            )));
        }
        let bytes = store.read_small(path, crate::store::MAX_TAG_FILE_BYTES).map_err(store_error)?;
        let outcome = hash_bytes(&bytes, &options);
        for (algorithm, digest) in &outcome.digests {
            manifests.entry(*algorithm).or_default().push_str(&format!(
                "{}  {}\n",
                digest.to_hex(),
                encode_path(path)
            ));
        }
    }
    Ok(manifests
        .into_iter()
        .map(|(algorithm, text)| (format!("tagmanifest-{algorithm}.txt"), text.into_bytes()))
        .collect())
}

/// The algorithms of the tag manifests a package has (SHA-256 when it has none).
pub fn tag_manifest_algorithms(store: &dyn PackageStore) -> Result<Vec<Algorithm>, Error> {
    let entries = store.list().map_err(store_error)?;
    let found: Vec<Algorithm> = BAGIT_ALGORITHMS
        .into_iter()
        .filter(|a| entries.iter().any(|e| e.path == format!("tagmanifest-{a}.txt").as_bytes()))
        .collect();
    Ok(if found.is_empty() { vec![Algorithm::Sha256] } else { found })
}

/// Whether a bag-relative path is a tag file (outside `data/`, not a tag manifest).
pub fn is_tag_file(path: &str) -> bool {
    let tag_manifest = path.starts_with("tagmanifest-") && !path.contains('/');
    !path.starts_with("data/") && !tag_manifest
}

fn store_error(error: StoreError) -> Error {
    Error::Bag(error.to_string())
}

/// Validates a bag: structure, tag manifests, and the payload against the payload manifests
/// (`fast` skips re-hashing payload bytes, and says so).
pub fn validate(bag: &Path, fast: bool) -> Vec<Finding> {
    crate::verify::validate_bag(bag, fast)
}

/// Manifests of one kind (`manifest-` or `tagmanifest-`): algorithm → path → digest.
pub type Manifests = BTreeMap<Algorithm, BTreeMap<String, Digest>>;

/// What the bag's own files claim, for the verifier to check against the bytes.
#[derive(Debug, Default)]
pub struct BagClaims {
    /// Payload manifests: algorithm → path → digest.
    pub payload: Manifests,
    /// `bag-info.txt` as label → values, when it could be read.
    pub info: BTreeMap<String, Vec<String>>,
}

/// Checks the bag's structure on a snapshot: the declaration, `bag-info.txt` and its
/// `Payload-Oxum`, the payload manifests against the files under `data/`, and the tag
/// manifests against the tag files' bytes. Returns the findings and the payload claims.
pub fn check_structure(snapshot: &Snapshot) -> (Vec<Finding>, BagClaims) {
    let mut findings = Vec::new();
    let mut claims = BagClaims::default();
    check_declaration(snapshot, &mut findings);
    claims.info = check_info(snapshot, &mut findings);

    claims.payload = read_manifests(snapshot, "manifest-", &mut findings);
    if claims.payload.is_empty() {
        findings.push(Finding::fail("bag.manifest", "manifest-*.txt", "no payload manifest"));
    }
    let present: BTreeSet<&str> = snapshot.payload_files().map(|(path, _)| path).collect();
    for (algorithm, entries) in &claims.payload {
        for path in present.iter().filter(|p| !entries.contains_key(**p)) {
            findings.push(Finding::fail(
                "bag.extra_file",
                *path,
                format!("present under data/ but not in manifest-{algorithm}.txt (every payload manifest must list every payload file)"),
            ));
        }
        for path in entries.keys().filter(|p| !present.contains(p.as_str())) {
            findings.push(Finding::fail(
                "bag.missing_file",
                path.clone(),
                format!("listed in manifest-{algorithm}.txt but not present"),
            ));
        }
    }
    check_oxum(snapshot, &claims.info, &mut findings);

    let tags = read_manifests(snapshot, "tagmanifest-", &mut findings);
    if tags.is_empty() {
        findings.push(Finding::fail(
            "bag.tag_manifest",
            "tagmanifest-*.txt",
            "missing: tag files (bag-info.txt, manifests, custos/) would be unprotected",
        ));
    }
    for (algorithm, entries) in &tags {
        let name = format!("tagmanifest-{algorithm}.txt");
        // A writer's temporary is named by `package.interrupted_write` instead (a warning).
        let unlisted = |p: &&String| {
            is_tag_file(p) && !entries.contains_key(*p) && !crate::store::is_writer_temporary(p)
        };
        for path in snapshot.tags.keys().filter(unlisted) {
            findings.push(Finding::fail(
                "bag.unlisted_tag_file",
                path.clone(),
                format!("a tag file not in {name}"),
            ));
        }
        let options = HashOptions { algorithms: vec![*algorithm], ..HashOptions::default() };
        for (path, expected) in entries {
            match snapshot.tags.get(path) {
                None => findings.push(Finding::fail(
                    "bag.missing_tag_file",
                    path.clone(),
                    format!("listed in {name} but not present: a tag file was deleted"),
                )),
                // Unreadable tag files are reported once, by the snapshot.
                Some(Err(_)) => {}
                Some(Ok(bytes)) => match hash_bytes(bytes, &options).digest(*algorithm) {
                    Some(found) if found == expected => findings.push(Finding::pass(
                        "bag.tag_digest",
                        path.clone(),
                        format!("{algorithm} matches"),
                    )),
                    found => findings.push(Finding::fail(
                        "bag.tag_digest",
                        path.clone(),
                        format!(
                            "{algorithm} is {}, {name} says {expected}",
                            found.map_or_else(|| "unknown".into(), Digest::to_hex)
                        ),
                    )),
                },
            }
        }
    }
    (findings, claims)
}

/// `bagit.txt`: exactly a known version and UTF-8 as the tag file encoding.
fn check_declaration(snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let text = match snapshot.tag_text("bagit.txt") {
        Ok(text) => text,
        Err(reason) => {
            findings.push(Finding::fail("bag.declaration", "bagit.txt", reason));
            return;
        }
    };
    let fields = parse_info(text);
    let version = fields.get("BagIt-Version").map(Vec::as_slice).unwrap_or_default();
    let encoding = fields.get("Tag-File-Character-Encoding").map(Vec::as_slice).unwrap_or_default();
    let problem = match (version, encoding) {
        ([v], [e]) if (v == "1.0" || v == "0.97") && e.eq_ignore_ascii_case("UTF-8") && fields.len() == 2 => {
            None
        }
        ([v], _) if v != "1.0" && v != "0.97" => Some(format!("BagIt-Version `{v}` is not 1.0 or 0.97")),
        (_, [e]) if !e.eq_ignore_ascii_case("UTF-8") => {
            Some(format!("Tag-File-Character-Encoding `{e}` is not UTF-8"))
        }
        _ => Some("must hold exactly one BagIt-Version and one Tag-File-Character-Encoding line".to_owned()),
    };
    match problem {
        None => findings.push(Finding::pass("bag.declaration", "bagit.txt", format!("BagIt {}", version[0]))),
        Some(reason) => findings.push(Finding::fail("bag.declaration", "bagit.txt", reason)),
    }
}

/// `bag-info.txt`, required in a Custos package (it carries the Payload-Oxum and the case).
fn check_info(snapshot: &Snapshot, findings: &mut Vec<Finding>) -> BTreeMap<String, Vec<String>> {
    match snapshot.tag_text("bag-info.txt") {
        Ok(text) => parse_info(text),
        Err(reason) => {
            findings.push(Finding::fail("bag.info", "bag-info.txt", reason));
            BTreeMap::new()
        }
    }
}

/// `Label: value` lines (continuation lines, which start with whitespace, join the value
/// before them). Labels keep every value, so a repeated label is visible to the checks.
fn parse_info(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(value) =
                last.as_ref().and_then(|label| fields.get_mut(label)).and_then(|v| v.last_mut())
            {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        let (label, value) = line.split_once(':').unwrap_or((line, ""));
        let label = label.trim().to_owned();
        fields.entry(label.clone()).or_default().push(value.trim().to_owned());
        last = Some(label);
    }
    fields
}

fn check_oxum(snapshot: &Snapshot, info: &BTreeMap<String, Vec<String>>, findings: &mut Vec<Finding>) {
    let (bytes, files) =
        snapshot.payload_files().fold((0u64, 0usize), |(b, n), (_, size)| (b.saturating_add(size), n + 1));
    let actual = format!("{bytes}.{files}");
    match info.get("Payload-Oxum").map(Vec::as_slice) {
        Some([oxum]) if *oxum == actual => findings.push(Finding::pass(
            "bag.payload_oxum",
            "bag-info.txt",
            format!("{actual} (bytes.files)"),
        )),
        Some([oxum]) => findings.push(Finding::fail(
            "bag.payload_oxum",
            "bag-info.txt",
            format!("Payload-Oxum says {oxum}, the payload is {actual}"),
        )),
        Some(_) => findings.push(Finding::fail(
            "bag.payload_oxum",
            "bag-info.txt",
            "Payload-Oxum is given more than once",
        )),
        None if info.is_empty() => {}
        None => findings.push(Finding::fail(
            "bag.payload_oxum",
            "bag-info.txt",
            "no Payload-Oxum line: the payload's size and file count are not declared",
        )),
    }
}

fn read_manifests(snapshot: &Snapshot, prefix: &str, findings: &mut Vec<Finding>) -> Manifests {
    let mut manifests = Manifests::new();
    let check = if prefix == "manifest-" { "bag.manifest" } else { "bag.tag_manifest" };
    for name in snapshot.tags.keys().filter(|n| !n.contains('/')) {
        let Some(algorithm_name) = name.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(".txt"))
        else {
            continue;
        };
        let Some(algorithm) = BAGIT_ALGORITHMS.into_iter().find(|a| a.name() == algorithm_name) else {
            findings.push(Finding::warn(check, name.clone(), "an algorithm Custos does not check; ignored"));
            continue;
        };
        let text = match snapshot.tag_text(name) {
            Ok(text) => text,
            Err(reason) => {
                findings.push(Finding::fail(check, name.clone(), reason));
                continue;
            }
        };
        let mut entries = BTreeMap::new();
        let file_start = findings.len();
        for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let subject = format!("{name}:{}", number + 1);
            // A few malformed lines are named; a file full of them is one finding, not
            // millions (each would cost memory and a line of the report).
            if findings.len() - file_start >= MAX_MALFORMED_LINES {
                findings.push(Finding::fail(
                    check,
                    name.clone(),
                    format!("more than {MAX_MALFORMED_LINES} malformed lines: not read further"),
                ));
                break;
            }
            let Some((hex, raw_path)) = line.split_once([' ', '\t']) else {
                findings.push(Finding::fail(check, subject, "not `DIGEST PATH`"));
                continue;
            };
            let path = match decode_path(raw_path.trim_start_matches([' ', '\t'])) {
                Ok(path) => path,
                Err(reason) => {
                    findings.push(Finding::fail("bag.path", subject, reason));
                    continue;
                }
            };
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

/// RFC 8493 §2.1.3: CR, LF and `%` in manifest paths are percent-encoded, and only those.
fn encode_path(path: &str) -> String {
    path.replace('%', "%25").replace('\n', "%0A").replace('\r', "%0D")
}

/// The inverse of [`encode_path`], in one pass. A `%` that does not start `%25`, `%0A` or
/// `%0D` (either case) is refused: the name it stands for would be ambiguous.
fn decode_path(path: &str) -> Result<String, String> {
    let mut decoded = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(at) = rest.find('%') {
        decoded.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3).map(str::to_ascii_uppercase);
        decoded.push(match code.as_deref() {
            Some("25") => '%',
            Some("0A") => '\n',
            Some("0D") => '\r',
            _ => return Err("a `%` that is not %25, %0A or %0D: RFC 8493 percent-encodes only those".into()),
        });
        rest = &rest[at + 3..];
    }
    decoded.push_str(rest);
    Ok(decoded)
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
        assert_eq!(decode_path(&encode_path(path)).as_deref(), Ok(path));
        assert_eq!(decode_path("data/report 100%25.txt").as_deref(), Ok("data/report 100%.txt"));
        assert_eq!(decode_path("data/a%250A").as_deref(), Ok("data/a%0A"));
        for bad in ["data/100%", "data/%41", "data/%2", "data/%é5"] {
            assert!(decode_path(bad).is_err(), "{bad}");
        }
    }
}
