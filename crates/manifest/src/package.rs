//! Evidence packages: a folder that is a valid BagIt bag with the evidence under `data/`,
//! and Custos' own tag files under `custos/`: the manifest, its detached signatures and the
//! signers' public keys. Sealing copies the evidence (verified copies, never links),
//! writes and signs the manifest, then writes the bag's manifests around it all.
//! Verifying reports [`Finding`]s for the bag, the signatures, the signers' trust and every
//! item's bytes. Format: `docs/formats/package.md`.
//!
//! Not yet here: directory trees as evidence, copy-on-write clones, segment lists in the
//! package.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use custos_hash::segments::SegmentRecord;
use custos_hash::{copy_and_hash, hash_tree_file, Algorithm, Control, HashOptions, SegmentList, SegmentSpec};
use ed25519_dalek::SigningKey;

use crate::bagit::{self, PayloadFile, BAGIT_ALGORITHMS};
use crate::custody::{self, Action, Event, NewEvent};
use crate::envelope::{SignatureFile, SignatureVerdict};
use crate::findings::{Finding, Verdict};
use crate::keys::{KeyId, PublicKey};
use crate::manifest::{
    Case, Category, Item, LegalBasis, Manifest, Segments, Tool, MANIFEST_FORMAT, MANIFEST_PAYLOAD_TYPE,
};
use crate::Error;

/// Where the manifest lives in a package.
pub const MANIFEST_PATH: &str = "custos/manifest.json";
/// Where its signatures live.
pub const MANIFEST_SIGNATURES_PATH: &str = "custos/manifest.json.sig";
/// Where segment lists are kept (`NAME.json`, one record as in `docs/segments.md`).
pub const SEGMENTS_DIR: &str = "custos/segments";
/// Where the signers' public keys are shipped (`KEYID.pub`), so verification needs no network.
pub const KEYS_DIR: &str = "custos/keys";

/// What to seal and how.
#[derive(Debug)]
pub struct SealRequest<'a> {
    /// Evidence files (regular files or block devices).
    pub evidence: &'a [PathBuf],
    /// Record the evidence where it is instead of copying it into the package (for images
    /// too large to duplicate); `verify --evidence` then supplies the bytes.
    pub reference: bool,
    /// Case reference and exhibit.
    pub case: Case,
    /// Sealing jurisdiction (ISO 3166-1 alpha-2).
    pub jurisdiction: Option<String>,
    /// The kind of data every item holds.
    pub category: Option<Category>,
    /// Legal-basis records.
    pub legal_basis: Vec<LegalBasis>,
    /// Where the sealing happens.
    pub location: Option<String>,
    /// Digests to record; SHA-256 is always added (the BagIt manifest needs it).
    pub algorithms: Vec<Algorithm>,
    /// Segment digests, if wanted.
    pub segments: Option<SegmentSpec>,
    /// The sealer's secret key.
    pub signer: &'a SigningKey,
    /// The sealer's public key file (shipped in the package).
    pub signer_public: &'a PublicKey,
    /// The time to record (RFC 3339 with offset).
    pub sealed_at: String,
}

/// Seals evidence into a new package at `package` (which must not exist). On failure the
/// partial package is removed; the evidence itself is only ever read.
pub fn seal(package: &Path, request: &SealRequest, control: &Control) -> Result<Manifest, Error> {
    if request.signer_public.key != request.signer.verifying_key() {
        return Err(Error::Package("the public key file does not belong to the signing key".into()));
    }
    fs::create_dir(package).map_err(|e| {
        Error::Package(format!("cannot create {}: {e} (packages are never overwritten)", package.display()))
    })?;
    let result = seal_into(package, request, control);
    if result.is_err() {
        let _ = fs::remove_dir_all(package);
    }
    result
}

fn seal_into(package: &Path, request: &SealRequest, control: &Control) -> Result<Manifest, Error> {
    let io = |what: &str, e: std::io::Error| Error::Package(format!("{what}: {e}"));
    fs::create_dir_all(package.join("data")).map_err(|e| io("cannot create data/", e))?;
    fs::create_dir_all(package.join(KEYS_DIR)).map_err(|e| io("cannot create custos/keys/", e))?;
    let mut algorithms = request.algorithms.clone();
    if !algorithms.contains(&Algorithm::Sha256) {
        algorithms.push(Algorithm::Sha256);
    }
    algorithms.sort();
    algorithms.dedup();
    let options =
        HashOptions { algorithms: algorithms.clone(), segments: request.segments, ..HashOptions::default() };

    let mut items = Vec::new();
    let mut payload = Vec::new();
    for source in request.evidence {
        let name = source.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            Error::Package(format!("{}: evidence names must be UTF-8 file names", source.display()))
        })?;
        let path = if request.reference {
            source
                .to_str()
                .ok_or_else(|| {
                    Error::Package(format!("{}: referenced paths must be UTF-8", source.display()))
                })?
                .to_owned()
        } else {
            format!("data/{name}")
        };
        if items.iter().any(|item: &Item| Path::new(&item.path).file_name() == Path::new(&path).file_name()) {
            return Err(Error::Package(format!("two evidence files are both named {name}")));
        }
        let outcome = if request.reference {
            custos_hash::hash_path(source, &options, control)?
        } else {
            copy_and_hash(source, &package.join(&path), &options, control)?
        };
        items.push(Item {
            path: path.clone(),
            reference: request.reference,
            size: outcome.size,
            category: request.category,
            digests: outcome.digests.iter().map(|(a, d)| (a.name().to_owned(), d.to_hex())).collect(),
            segments: outcome.segments.as_ref().map(|list| Segments {
                size: list.spec.size,
                algorithm: list.spec.algorithm.name().to_owned(),
                count: list.digests.len() as u64,
                root: list.root().to_hex(),
            }),
        });
        if let Some(list) = &outcome.segments {
            // The full list, so that a later verification can name the damaged ranges; its
            // root is in the signed manifest, which is what makes the list trustworthy.
            let record = SegmentRecord::new(path.clone(), None, list);
            let text = serde_json::to_string(&record).map_err(|e| Error::Package(e.to_string()))? + "\n";
            fs::create_dir_all(package.join(SEGMENTS_DIR))
                .map_err(|e| io("cannot create custos/segments/", e))?;
            fs::write(package.join(SEGMENTS_DIR).join(format!("{name}.json")), text)
                .map_err(|e| io("cannot write a segment list", e))?;
        }
        if !request.reference {
            payload.push(PayloadFile { path, size: outcome.size, digests: outcome.digests });
        }
    }

    let manifest = Manifest {
        custos_manifest: MANIFEST_FORMAT,
        case: request.case.clone(),
        sealed_at: request.sealed_at.clone(),
        location: request.location.clone(),
        jurisdiction: request.jurisdiction.clone(),
        tool: Tool { name: "custos".into(), version: env!("CARGO_PKG_VERSION").into() },
        legal_basis: request.legal_basis.clone(),
        items,
    };
    let bytes = manifest.to_bytes();
    let mut signatures = SignatureFile::new(MANIFEST_PAYLOAD_TYPE);
    signatures.sign(request.signer, &bytes);
    fs::write(package.join(MANIFEST_PATH), &bytes).map_err(|e| io("cannot write the manifest", e))?;
    fs::write(package.join(MANIFEST_SIGNATURES_PATH), signatures.to_bytes())
        .map_err(|e| io("cannot write the signatures", e))?;
    let key_file = package.join(KEYS_DIR).join(format!("{}.pub", request.signer_public.id()));
    fs::write(key_file, request.signer_public.to_text()).map_err(|e| io("cannot write the public key", e))?;

    let mut sealed = NewEvent::new(Action::Sealed, request.sealed_at.clone());
    sealed.location = request.location.clone();
    sealed.legal_basis = request.legal_basis.first().map(|b| b.reference.clone());
    // The tag manifests are written once, below, around the finished package.
    custody::append(package, sealed, request.signer, request.signer_public, &|| Ok(()))?;

    let bag_algorithms: Vec<Algorithm> =
        algorithms.iter().copied().filter(|a| BAGIT_ALGORITHMS.contains(a)).collect();
    let mut info = vec![
        (
            "Source-Organization".to_owned(),
            request
                .signer_public
                .owner
                .organisation
                .clone()
                .unwrap_or_else(|| request.signer_public.owner.name.clone()),
        ),
        ("External-Identifier".to_owned(), request.case.reference.clone()),
        ("Bag-Software-Agent".to_owned(), format!("custos {}", env!("CARGO_PKG_VERSION"))),
    ];
    if let Some(exhibit) = &request.case.exhibit {
        info.push(("External-Description".to_owned(), format!("Exhibit {exhibit}")));
    }
    let date = request.sealed_at.get(..10).unwrap_or_default();
    bagit::write_tag_files(package, &payload, &bag_algorithms, &info, date)?;
    Ok(manifest)
}

/// Appends a custody event (see [`custody::append`]), ships the actor's public key (and a
/// receiver's, for a release) in `custos/keys/`, and refreshes the tag manifests.
pub fn add_event(
    package: &Path,
    event: NewEvent,
    key: &SigningKey,
    public: &PublicKey,
    receiver: Option<&PublicKey>,
) -> Result<Event, Error> {
    if !package.join(MANIFEST_PATH).is_file() {
        return Err(Error::Package(format!(
            "{} is not an evidence package (no {MANIFEST_PATH})",
            package.display()
        )));
    }
    for shipped in std::iter::once(public).chain(receiver) {
        let path = package.join(KEYS_DIR).join(format!("{}.pub", shipped.id()));
        if !path.exists() {
            fs::write(&path, shipped.to_text())
                .map_err(|e| Error::Package(format!("cannot ship {}: {e}", path.display())))?;
        }
    }
    let algorithms: Vec<Algorithm> = BAGIT_ALGORITHMS
        .into_iter()
        .filter(|a| package.join(format!("tagmanifest-{a}.txt")).is_file())
        .collect();
    let refresh_tags = || {
        bagit::write_tag_manifests(
            package,
            if algorithms.is_empty() { &[Algorithm::Sha256] } else { &algorithms },
        )
    };
    custody::append(package, event, key, public, &refresh_tags)
}

/// Re-hashes every item with the algorithms its manifest entry records, for a
/// `fixity_verified` event: path → algorithm → hex. Fails, naming the item, when any digest
/// differs from the manifest, so that a failed check is never recorded as a verified one.
pub fn observe_fixity(package: &Path) -> Result<BTreeMap<String, BTreeMap<String, String>>, Error> {
    let bytes = fs::read(package.join(MANIFEST_PATH))
        .map_err(|e| Error::Package(format!("cannot read the manifest: {e}")))?;
    let manifest = Manifest::parse(&bytes)?;
    let mut observed = BTreeMap::new();
    for item in manifest.items.iter().filter(|i| !i.reference) {
        bagit::check_payload_path(&item.path)
            .map_err(|reason| Error::Package(format!("{}: {reason}", item.path)))?;
        let algorithms =
            item.digests.keys().map(|name| name.parse::<Algorithm>()).collect::<Result<Vec<_>, _>>()?;
        let options = HashOptions { algorithms, ..HashOptions::default() };
        let outcome = hash_tree_file(&package.join(&item.path), &options, &Control::default())?;
        let mut digests = BTreeMap::new();
        for (algorithm, digest) in &outcome.digests {
            if item.digests.get(algorithm.name()) != Some(&digest.to_hex()) {
                return Err(Error::Package(format!(
                    "fixity check failed: {} {algorithm} is {digest}, the manifest says {}",
                    item.path,
                    item.digests[algorithm.name()]
                )));
            }
            digests.insert(algorithm.name().to_owned(), digest.to_hex());
        }
        observed.insert(item.path.clone(), digests);
    }
    Ok(observed)
}

/// Whom to trust when verifying.
#[derive(Debug, Default)]
pub struct Trust {
    /// Keys given with `--trust`.
    pub keys: Vec<PublicKey>,
    /// Report integrity only when no signer is trusted, instead of failing.
    pub allow_untrusted: bool,
}

/// Verifies a package: the bag, the manifest's signatures and their signers' trust, then
/// (only if a signature verified) the manifest's items against the bytes. `fast` skips
/// re-hashing payload bytes. Referenced items are reported as not checked; see
/// [`verify_with_evidence`].
pub fn verify(package: &Path, trust: &Trust, fast: bool) -> Vec<Finding> {
    verify_with_evidence(package, trust, fast, None)
}

/// [`verify`], with `evidence` supplying the bytes of referenced items: the file itself when
/// there is one referenced item, or a folder holding them under their file names.
pub fn verify_with_evidence(
    package: &Path,
    trust: &Trust,
    fast: bool,
    evidence: Option<&Path>,
) -> Vec<Finding> {
    verify_full(package, trust, fast, evidence).findings
}

/// What verification established, for what is judged on top of it (jurisdiction policies).
#[derive(Debug, Default)]
pub struct Verification {
    /// Every finding.
    pub findings: Vec<Finding>,
    /// The manifest, when a valid signature allowed parsing it.
    pub manifest: Option<Manifest>,
    /// Custody events whose signature and chain verified, in order.
    pub events: Vec<Event>,
    /// Key ids whose signature over the manifest is cryptographically valid (trusted or not:
    /// a policy decides whom it trusts).
    pub manifest_signers: Vec<String>,
}

/// [`verify_with_evidence`], returning the manifest, events and signers as well.
pub fn verify_full(package: &Path, trust: &Trust, fast: bool, evidence: Option<&Path>) -> Verification {
    let mut established = Verification::default();
    established.findings = verify_inner(package, trust, fast, evidence, &mut established);
    established
}

fn verify_inner(
    package: &Path,
    trust: &Trust,
    fast: bool,
    evidence: Option<&Path>,
    established: &mut Verification,
) -> Vec<Finding> {
    let mut findings = bagit::validate(package, fast);
    let Some(bytes) = read(package, MANIFEST_PATH, &mut findings) else { return findings };
    let Some(signature_bytes) = read(package, MANIFEST_SIGNATURES_PATH, &mut findings) else {
        return findings;
    };
    let signatures = match SignatureFile::parse(&signature_bytes) {
        Ok(file) => file,
        Err(e) => {
            findings.push(Finding::fail("signature.manifest", MANIFEST_SIGNATURES_PATH, e.to_string()));
            return findings;
        }
    };
    let shipped = shipped_keys(package, &mut findings);
    let trusted_key = |id: &str| trust.keys.iter().find(|k| k.id().to_string() == id).map(|k| k.key);
    let verdicts = match signatures.verify(MANIFEST_PAYLOAD_TYPE, &bytes, trusted_key) {
        Ok(verdicts) => verdicts,
        Err(e) => {
            findings.push(Finding::fail("signature.manifest", MANIFEST_SIGNATURES_PATH, e.to_string()));
            return findings;
        }
    };
    let mut trusted_signers = 0;
    let mut untrusted_valid = 0;
    for (entry, verdict) in signatures.signatures.iter().zip(verdicts) {
        match verdict {
            SignatureVerdict::Valid(id) => {
                trusted_signers += 1;
                established.manifest_signers.push(id.to_string());
                let who = trust.keys.iter().find(|k| k.id() == id).map(|k| k.owner.name.clone()).unwrap_or_default();
                findings.push(Finding::pass("signature.manifest", id.to_string(), format!("valid, by trusted key of {who}")));
            }
            SignatureVerdict::Invalid(id) => findings.push(Finding::fail(
                "signature.manifest",
                id.to_string(),
                "does not verify: the manifest or the signature was altered, or the signature belongs to another document",
            )),
            SignatureVerdict::Malformed(id) => findings.push(Finding::fail("signature.manifest", id, "is not a 64-byte Ed25519 signature")),
            SignatureVerdict::UnknownKey(id) => {
                // Cryptographically valid under the key the package ships? Then only trust is missing.
                let shipped_key = shipped.get(&id);
                let valid_under_shipped = shipped_key.is_some_and(|k| {
                    signatures.verify(MANIFEST_PAYLOAD_TYPE, &bytes, |i| (i == id).then_some(k.key)).is_ok_and(|v| {
                        v.iter().any(|v| matches!(v, SignatureVerdict::Valid(valid) if valid.to_string() == entry.key_id))
                    })
                });
                let claimed = shipped_key.map_or_else(|| "no key file in the package".to_owned(), |k| format!("the package's key file names {}", k.owner.name));
                if valid_under_shipped {
                    untrusted_valid += 1;
                    established.manifest_signers.push(entry.key_id.clone());
                    let verdict = if trust.allow_untrusted { Verdict::Warn } else { Verdict::Fail };
                    findings.push(Finding {
                        check: "trust.signer",
                        subject: id,
                        verdict,
                        detail: format!("signature valid, but the key is not trusted ({claimed}); give --trust with the signer's public key"),
                    });
                } else {
                    findings.push(Finding::fail("signature.manifest", id, format!("made by an unknown key, and it does not verify under any key shipped ({claimed})")));
                }
            }
        }
    }
    if trusted_signers == 0 && !(trust.allow_untrusted && untrusted_valid > 0) {
        findings.push(Finding::fail(
            "signature.manifest",
            MANIFEST_PATH,
            "no valid signature by a trusted key: the manifest was not parsed",
        ));
        return findings;
    }
    if trusted_signers == 0 {
        findings.push(Finding::warn(
            "trust.signer",
            MANIFEST_PATH,
            "--allow-untrusted: integrity only; nobody trusted vouches for this package",
        ));
    }
    let manifest = match Manifest::parse(&bytes) {
        Ok(manifest) => manifest,
        Err(e) => {
            findings.push(Finding::fail("manifest.syntax", MANIFEST_PATH, e.to_string()));
            return findings;
        }
    };
    check_items(package, &manifest, fast, evidence, &mut findings);
    established.manifest = Some(manifest);

    // The custody log: keys the user trusts, else keys the package ships (reported as
    // untrusted, a failure unless --allow-untrusted).
    let lookup = |id: &str| -> Option<(ed25519_dalek::VerifyingKey, bool)> {
        trust
            .keys
            .iter()
            .find(|k| k.id().to_string() == id)
            .map(|k| (k.key, true))
            .or_else(|| shipped.get(id).map(|k| (k.key, false)))
    };
    let (mut custody_findings, events) = custody::verify_log(package, &lookup);
    established.events = events;
    if trust.allow_untrusted {
        for finding in custody_findings.iter_mut().filter(|f| f.check == "trust.signer") {
            finding.verdict = Verdict::Warn;
        }
    }
    findings.extend(custody_findings);
    findings
}

fn check_items(
    package: &Path,
    manifest: &Manifest,
    fast: bool,
    evidence: Option<&Path>,
    findings: &mut Vec<Finding>,
) {
    let referenced = manifest.items.iter().filter(|i| i.reference).count();
    for item in &manifest.items {
        let location = if item.reference {
            let name = Path::new(&item.path).file_name();
            match evidence {
                None => {
                    findings.push(Finding::warn(
                        "item.reference",
                        item.path.clone(),
                        "kept outside the package and not checked: give --evidence PATH",
                    ));
                    continue;
                }
                Some(path) if path.is_dir() => match name {
                    Some(name) => path.join(name),
                    None => {
                        findings.push(Finding::fail(
                            "manifest.path",
                            item.path.clone(),
                            "a reference without a file name",
                        ));
                        continue;
                    }
                },
                Some(path) if referenced == 1 => path.to_owned(),
                Some(_) => {
                    findings.push(Finding::fail(
                        "item.reference",
                        item.path.clone(),
                        "several referenced items: --evidence must be a folder holding them by file name",
                    ));
                    continue;
                }
            }
        } else {
            if let Err(reason) = bagit::check_payload_path(&item.path) {
                findings.push(Finding::fail("manifest.path", item.path.clone(), reason));
                continue;
            }
            package.join(&item.path)
        };
        let mut algorithms = Vec::new();
        for name in item.digests.keys() {
            match name.parse::<Algorithm>() {
                Ok(a) => algorithms.push(a),
                Err(_) => findings.push(Finding::fail(
                    "manifest.item",
                    item.path.clone(),
                    format!("unknown algorithm `{name}`"),
                )),
            }
        }
        if fast || algorithms.is_empty() {
            continue;
        }
        let segments = item.segments.as_ref().and_then(|summary| {
            Some(SegmentSpec { size: summary.size, algorithm: summary.algorithm.parse().ok()? })
                .filter(|spec| spec.size > 0)
        });
        let options = HashOptions { algorithms, segments, ..HashOptions::default() };
        // Package files are never reached through links; referenced evidence is where the
        // user says it is.
        let hashed = if item.reference {
            custos_hash::hash_path(&location, &options, &Control::default())
        } else {
            hash_tree_file(&location, &options, &Control::default())
        };
        match hashed {
            Err(e) => findings.push(Finding::fail("item.digest", item.path.clone(), e.to_string())),
            Ok(outcome) => {
                if outcome.size != item.size {
                    findings.push(Finding::fail(
                        "item.size",
                        item.path.clone(),
                        format!("{} bytes, the manifest says {}", outcome.size, item.size),
                    ));
                }
                for (algorithm, digest) in &outcome.digests {
                    let recorded = &item.digests[algorithm.name()];
                    if digest.to_hex() == recorded.to_ascii_lowercase() {
                        findings.push(Finding::pass(
                            "item.digest",
                            item.path.clone(),
                            format!("{algorithm} matches the signed manifest"),
                        ));
                    } else {
                        findings.push(Finding::fail(
                            "item.digest",
                            item.path.clone(),
                            format!("{algorithm} is {digest}, the signed manifest says {recorded}"),
                        ));
                    }
                }
                let changed = outcome.digests.iter().any(|(a, d)| item.digests[a.name()] != d.to_hex());
                if let (true, Some(fresh), Some(summary)) = (changed, &outcome.segments, &item.segments) {
                    findings.push(damaged_ranges(package, &item.path, &summary.root, fresh));
                }
            }
        }
    }
    // Every payload file must be an item of the signed manifest.
    let items: Vec<&str> = manifest.items.iter().map(|i| i.path.as_str()).collect();
    if let Ok(text) = fs::read_to_string(package.join("manifest-sha256.txt")) {
        for path in
            text.lines().filter_map(|l| l.split_once(char::is_whitespace)).map(|(_, p)| p.trim_start())
        {
            if !items.contains(&path) {
                findings.push(Finding::fail(
                    "manifest.coverage",
                    path.to_owned(),
                    "in the bag but not in the signed manifest",
                ));
            }
        }
    }
}

/// Names the byte ranges of a damaged item from its stored segment list, once the list is
/// shown to be the one whose root the signed manifest records.
fn damaged_ranges(package: &Path, item_path: &str, signed_root: &str, fresh: &SegmentList) -> Finding {
    let name = Path::new(item_path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let list_path = format!("{SEGMENTS_DIR}/{name}.json");
    let stored = fs::read_to_string(package.join(&list_path))
        .map_err(|e| format!("cannot read {list_path}: {e}"))
        .and_then(|text| {
            serde_json::from_str::<SegmentRecord>(text.trim()).map_err(|e| format!("{list_path}: {e}"))
        })
        .and_then(|record| record.to_list());
    let stored = match stored {
        Ok(list) if list.root().to_hex() == signed_root.to_ascii_lowercase() => list,
        Ok(_) => {
            return Finding::fail(
                "item.damaged_ranges",
                item_path,
                format!("{list_path} is not the list whose root the signed manifest records"),
            )
        }
        Err(e) => return Finding::fail("item.damaged_ranges", item_path, e),
    };
    match fresh.changed_ranges(&stored) {
        Ok(ranges) => {
            let described: Vec<String> = ranges
                .iter()
                .map(|r| format!("bytes {}..{} ({} bytes)", r.start, r.end, r.end - r.start))
                .collect();
            Finding::fail("item.damaged_ranges", item_path, format!("changed: {}", described.join(", ")))
        }
        Err(_) => Finding::fail(
            "item.damaged_ranges",
            item_path,
            "the segment list was made with another segment size or algorithm",
        ),
    }
}

fn read(package: &Path, relative: &str, findings: &mut Vec<Finding>) -> Option<Vec<u8>> {
    match fs::read(package.join(relative)) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            findings.push(Finding::fail("package.file", relative, format!("cannot be read: {e}")));
            None
        }
    }
}

/// The public keys shipped in a package, by key id (unverified claims until trusted).
pub fn package_keys(package: &Path) -> BTreeMap<String, PublicKey> {
    shipped_keys(package, &mut Vec::new())
}

/// The public keys shipped in `custos/keys/`, by key id. A key file whose name is not its
/// key id is reported and ignored.
fn shipped_keys(package: &Path, findings: &mut Vec<Finding>) -> BTreeMap<String, PublicKey> {
    let mut keys = BTreeMap::new();
    let Ok(entries) = fs::read_dir(package.join(KEYS_DIR)) else { return keys };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // minisign exports sit beside the key files; they are not Custos keys.
        if name.ends_with(".minisign.pub") {
            continue;
        }
        let parsed = fs::read_to_string(entry.path())
            .map_err(|e| e.to_string())
            .and_then(|t| PublicKey::parse(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(key) if name == format!("{}.pub", key.id()) => {
                keys.insert(key.id().to_string(), key);
            }
            Ok(key) => findings.push(Finding::fail(
                "package.key_file",
                format!("{KEYS_DIR}/{name}"),
                format!("holds key {}, not the one its name says", KeyId::of(&key.key)),
            )),
            Err(e) => findings.push(Finding::fail("package.key_file", format!("{KEYS_DIR}/{name}"), e)),
        }
    }
    keys
}
