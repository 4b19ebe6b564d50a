//! The package tamper suite: a sealed package verifies, and every way of altering it fails
//! verification with a finding that names what broke.

use std::path::{Path, PathBuf};

use custos_hash::{Algorithm, Control};
use custos_manifest::bagit::write_tag_manifests;
use custos_manifest::envelope::SignatureFile;
use custos_manifest::findings::{overall, Finding, Verdict};
use custos_manifest::keys::{KeyPair, Owner, PublicKey};
use custos_manifest::manifest::{Case, Category, LegalBasis, MANIFEST_PAYLOAD_TYPE};
use custos_manifest::package::{seal, verify, SealRequest, Trust, MANIFEST_PATH, MANIFEST_SIGNATURES_PATH};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    package: PathBuf,
    examiner: KeyPair,
    mallory: KeyPair,
}

fn owner(name: &str) -> Owner {
    Owner {
        name: name.into(),
        role: "examiner".into(),
        organisation: Some("Lab 1".into()),
        jurisdiction: Some("DE".into()),
    }
}

fn seal_case(root: &Path, name: &str, case: &str, key: &KeyPair) -> PathBuf {
    let evidence_dir = root.join(format!("{name}-evidence"));
    std::fs::create_dir_all(&evidence_dir).expect("mkdir");
    let image = evidence_dir.join("disk.img");
    std::fs::write(&image, (0..300_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>()).expect("write");
    let notes = evidence_dir.join("notes.txt");
    std::fs::write(&notes, format!("notes for {case}\n")).expect("write");
    let evidence = vec![image, notes];
    let request = SealRequest {
        evidence: &evidence,
        reference: false,
        case: Case { reference: case.into(), exhibit: Some("A-1".into()) },
        jurisdiction: Some("DE".into()),
        category: Some(Category::Content),
        item_categories: &[],
        legal_basis: vec![LegalBasis::parse("warrant:AG Berlin 1 Gs 1/26").expect("basis")],
        location: Some("Lab 1".into()),
        country: None,
        algorithms: vec![Algorithm::Sha256, Algorithm::Blake3, Algorithm::Md5],
        segments: None,
        signer: &key.secret,
        signer_public: &key.public,
        sealed_at: "2026-11-29T14:00:00+00:00".into(),
        tsa: None,
        acquired: &[],
        resume: None,
    };
    let package = root.join(name);
    seal(&package, &request, &Control::default()).expect("seal");
    package
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_owned();
    let examiner = KeyPair::generate(owner("Ada Examiner"), "2026-11-29T13:00:00+00:00".into()).expect("key");
    // Mallory's key file claims to be Ada's.
    let mallory = KeyPair::generate(owner("Ada Examiner"), "2026-11-29T13:00:00+00:00".into()).expect("key");
    let package = seal_case(&root, "pkg", "CASE-1", &examiner);
    Fixture { _dir: dir, root, package, examiner, mallory }
}

fn trust(keys: &[&PublicKey]) -> Trust {
    Trust { keys: keys.iter().map(|k| (*k).clone()).collect(), allow_untrusted: false }
}

fn failures(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .map(|f| format!("{} {}: {}", f.check, f.subject, f.detail))
        .collect()
}

/// Asserts verification fails with a finding of `check` whose text contains `needle`.
fn assert_caught(f: &Fixture, check: &str, needle: &str) {
    let findings = verify(&f.package, &trust(&[&f.examiner.public]), false);
    let failed = failures(&findings);
    assert!(
        failed.iter().any(|line| line.starts_with(check) && line.contains(needle)),
        "wanted {check} with `{needle}`, got {failed:#?}"
    );
}

/// Re-signs the (edited) manifest with `key` and refreshes the tag manifests, as a signer
/// who is trusted but careless or malicious would.
fn resign(f: &Fixture, manifest: &[u8], key: &KeyPair) {
    std::fs::write(f.package.join(MANIFEST_PATH), manifest).expect("write manifest");
    let mut signatures = SignatureFile::new(MANIFEST_PAYLOAD_TYPE);
    signatures.sign(&key.secret, manifest);
    std::fs::write(f.package.join(MANIFEST_SIGNATURES_PATH), signatures.to_bytes()).expect("write sig");
    write_tag_manifests(&f.package, &[Algorithm::Md5, Algorithm::Sha256]).expect("tag manifests");
}

fn manifest_text(f: &Fixture) -> String {
    std::fs::read_to_string(f.package.join(MANIFEST_PATH)).expect("manifest")
}

#[test]
fn a_sealed_package_verifies() {
    let f = fixture();
    let findings = verify(&f.package, &trust(&[&f.examiner.public]), false);
    assert_eq!(overall(&findings), Verdict::Pass, "{:#?}", failures(&findings));
    for check in ["bag.payload_digest", "bag.tag_digest", "signature.manifest", "item.digest"] {
        assert!(
            findings.iter().any(|x| x.check == check && x.verdict == Verdict::Pass),
            "no passing {check}"
        );
    }
    assert!(findings.iter().any(|x| x.check == "item.digest" && x.detail.contains("blake3 matches")));
    // The copies are exact.
    assert_eq!(std::fs::read(f.package.join("data/notes.txt")).expect("copy"), b"notes for CASE-1\n");
}

#[test]
fn an_untrusted_signer_fails_unless_allowed() {
    let f = fixture();
    let findings = verify(&f.package, &Trust::default(), false);
    assert!(
        failures(&findings).iter().any(|l| l.starts_with("trust.signer") && l.contains("not trusted")),
        "{:#?}",
        failures(&findings)
    );
    let allowed = verify(&f.package, &Trust { keys: vec![], allow_untrusted: true }, false);
    assert_eq!(overall(&allowed), Verdict::Warn, "{:#?}", failures(&allowed));
    assert!(allowed.iter().any(|x| x.detail.contains("integrity only")));
}

#[test]
fn tamper_evidence_byte_flipped() {
    let f = fixture();
    let path = f.package.join("data/disk.img");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[77_777] ^= 0x01;
    let mut permissions = std::fs::metadata(&path).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&path, permissions).expect("chmod");
    std::fs::write(&path, bytes).expect("write");
    assert_caught(&f, "bag.payload_digest", "data/disk.img");
    assert_caught(&f, "item.digest", "blake3 is");
}

#[test]
fn tamper_manifest_edited_by_one_character() {
    let f = fixture();
    let text = manifest_text(&f).replace("CASE-1", "CASE-7");
    std::fs::write(f.package.join(MANIFEST_PATH), text).expect("write");
    assert_caught(&f, "signature.manifest", "does not verify");
    assert_caught(&f, "signature.manifest", "was not parsed");
    assert_caught(&f, "bag.tag_digest", "custos/manifest.json");
}

#[test]
fn tamper_resigned_by_an_untrusted_key_claiming_the_trusted_name() {
    let f = fixture();
    let text = manifest_text(&f).replace("CASE-1", "CASE-7");
    resign(&f, text.as_bytes(), &f.mallory);
    let key_file = f.package.join(format!("custos/keys/{}.pub", f.mallory.public.id()));
    std::fs::write(key_file, f.mallory.public.to_text()).expect("plant key");
    write_tag_manifests(&f.package, &[Algorithm::Md5, Algorithm::Sha256]).expect("tag manifests");
    assert_caught(&f, "trust.signer", "names Ada Examiner");
    assert_caught(&f, "signature.manifest", "no valid signature by a trusted key");
}

#[test]
fn tamper_signature_from_another_package() {
    let f = fixture();
    let other = seal_case(&f.root, "other", "CASE-2", &f.examiner);
    std::fs::copy(other.join(MANIFEST_SIGNATURES_PATH), f.package.join(MANIFEST_SIGNATURES_PATH))
        .expect("copy");
    assert_caught(&f, "signature.manifest", "does not verify");
}

#[test]
fn tamper_signature_bytes_flipped_or_key_id_swapped() {
    let f = fixture();
    let original = std::fs::read(f.package.join(MANIFEST_SIGNATURES_PATH)).expect("read");
    let mut file = SignatureFile::parse(&original).expect("parse");
    let sig = file.signatures[0].sig.clone();
    let flipped_char = if sig.starts_with('A') { "B" } else { "A" };
    file.signatures[0].sig = format!("{flipped_char}{}", &sig[1..]);
    std::fs::write(f.package.join(MANIFEST_SIGNATURES_PATH), file.to_bytes()).expect("write");
    assert_caught(&f, "signature.manifest", "does not verify");

    let mut file = SignatureFile::parse(&original).expect("parse");
    file.signatures[0].key_id = f.mallory.public.id().to_string();
    std::fs::write(f.package.join(MANIFEST_SIGNATURES_PATH), file.to_bytes()).expect("write");
    let findings = verify(&f.package, &trust(&[&f.examiner.public, &f.mallory.public]), false);
    assert!(failures(&findings).iter().any(|l| l.contains("does not verify")), "{:#?}", failures(&findings));
}

#[test]
fn tamper_signature_replayed_as_another_document_type() {
    let f = fixture();
    let bytes = std::fs::read(f.package.join(MANIFEST_PATH)).expect("read");
    let mut file = SignatureFile::new("application/vnd.custos.custody-event+json; version=1");
    file.sign(&f.examiner.secret, &bytes);
    std::fs::write(f.package.join(MANIFEST_SIGNATURES_PATH), file.to_bytes()).expect("write");
    assert_caught(&f, "signature.manifest", "not `application/vnd.custos.manifest+json");
}

#[test]
fn tamper_strict_parsing_of_a_signed_manifest() {
    // Even a manifest signed by a trusted key must parse strictly.
    type Edit = fn(String) -> String;
    let cases: [(&str, Edit); 3] = [
        ("duplicate key `reference`", |t| {
            t.replacen(
                "\"reference\": \"CASE-1\"",
                "\"reference\": \"CASE-1\",\n    \"reference\": \"CASE-9\"",
                1,
            )
        }),
        ("above 2^53", |t| t.replacen("\"size\": 300000", "\"size\": 9007199254740993", 1)),
        ("floats are not allowed", |t| t.replacen("\"size\": 300000", "\"size\": 300000.0", 1)),
    ];
    for (needle, edit) in cases {
        let f = fixture();
        let edited = edit(manifest_text(&f));
        assert_ne!(edited, manifest_text(&f), "{needle}: the edit must change something");
        resign(&f, edited.as_bytes(), &f.examiner);
        assert_caught(&f, "manifest.syntax", needle);
    }
    let f = fixture();
    let mut bytes = manifest_text(&f).into_bytes();
    let at = bytes.windows(6).position(|w| w == b"CASE-1").expect("case");
    bytes[at] = 0xff;
    resign(&f, &bytes, &f.examiner);
    assert_caught(&f, "manifest.syntax", "invalid unicode");
}

#[test]
fn tamper_traversal_and_absolute_item_paths() {
    for bad in ["../../etc/passwd", "/etc/passwd"] {
        let f = fixture();
        let edited =
            manifest_text(&f).replacen("\"path\": \"data/notes.txt\"", &format!("\"path\": \"{bad}\""), 1);
        resign(&f, edited.as_bytes(), &f.examiner);
        assert_caught(&f, "manifest.path", "path traversal");
        assert_caught(&f, "manifest.coverage", "data/notes.txt");
    }
}

#[test]
fn tamper_bag_level_changes() {
    let f = fixture();
    std::fs::write(f.package.join("data/planted.txt"), b"x").expect("plant");
    assert_caught(&f, "bag.extra_file", "data/planted.txt");
    std::fs::remove_file(f.package.join("data/planted.txt")).expect("unplant");

    let info = std::fs::read_to_string(f.package.join("bag-info.txt")).expect("read");
    std::fs::write(f.package.join("bag-info.txt"), info.replace("CASE-1", "CASE-2")).expect("edit");
    assert_caught(&f, "bag.tag_digest", "bag-info.txt");
    std::fs::write(f.package.join("bag-info.txt"), info).expect("restore");

    for algorithm in ["md5", "sha256"] {
        std::fs::remove_file(f.package.join(format!("tagmanifest-{algorithm}.txt"))).expect("delete");
    }
    assert_caught(&f, "bag.tag_manifest", "missing");
}

#[test]
fn tamper_missing_evidence_and_a_symlink_out_of_the_package() {
    let f = fixture();
    let notes = f.package.join("data/notes.txt");
    std::fs::remove_file(&notes).expect("remove");
    assert_caught(&f, "bag.missing_file", "data/notes.txt");
    std::os::unix::fs::symlink(f.root.join("pkg-evidence/notes.txt"), &notes).expect("symlink");
    assert_caught(&f, "bag.symlink", "data/notes.txt");
    assert_caught(&f, "item.missing", "not in the package");
}

#[test]
fn sealing_never_overwrites_and_cleans_up_after_failure() {
    let f = fixture();
    // Evidence that exists: only the guard can stop this seal.
    let evidence = f.root.join("evidence.img");
    std::fs::write(&evidence, b"evidence that would seal fine").expect("evidence");
    let files = vec![evidence];
    let missing = vec![f.root.join("no-such-file")];
    let before = tree_bytes(&f.package);
    let error = seal(&f.package, &request(&f, &files), &Control::default()).expect_err("an existing package");
    assert!(error.to_string().contains("exists"), "{error}");
    assert_eq!(tree_bytes(&f.package), before, "the existing package is byte for byte as it was");
    assert_eq!(overall(&verify(&f.package, &trust(&[&f.examiner.public]), false)), Verdict::Pass);
    // The same evidence seals into a new folder: the guard, not the evidence, refused above.
    seal(&f.root.join("other"), &request(&f, &files), &Control::default()).expect("a new package");

    let fresh = f.root.join("fresh");
    assert!(seal(&fresh, &request(&f, &missing), &Control::default()).is_err());
    assert!(!fresh.exists(), "a failed seal leaves nothing behind");
    let partial: Vec<String> = std::fs::read_dir(&f.root)
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("custos-partial"))
        .collect();
    assert!(partial.is_empty(), "no partial folder is left: {partial:?}");
}

/// A seal of `evidence` by the fixture's examiner.
fn request<'a>(f: &'a Fixture, evidence: &'a [PathBuf]) -> SealRequest<'a> {
    SealRequest {
        evidence,
        reference: false,
        case: Case { reference: "CASE-3".into(), exhibit: None },
        jurisdiction: None,
        category: None,
        item_categories: &[],
        legal_basis: vec![],
        location: None,
        country: None,
        algorithms: vec![Algorithm::Sha256],
        segments: None,
        signer: &f.examiner.secret,
        signer_public: &f.examiner.public,
        sealed_at: "2026-11-29T14:00:00+00:00".into(),
        tsa: None,
        acquired: &[],
        resume: None,
    }
}

/// Every file under `root` with its bytes, by path.
fn tree_bytes(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("list") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                found.push((path, bytes));
            }
        }
    }
    found.sort();
    found
}
