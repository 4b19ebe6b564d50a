//! Tokens from a real RFC 3161 authority (`openssl ts -reply` behind HTTP on 127.0.0.1,
//! `tests/support/tsa_server.py`), verified offline here and cross-checked with
//! `openssl ts -verify`; and every way a token can be wrong.

use std::process::{Command, Stdio};

use custos_timestamp::{fetch, parse_certificates, request, verify_token, TimestampError};
use der::Decode as _;
use x509_cert as _;

#[path = "../../../tests/support/tsa.rs"]
mod tsa;

use tsa::Tsa;

fn certificates(tsa: &Tsa, name: &str) -> Vec<x509_cert::Certificate> {
    parse_certificates(&std::fs::read(tsa.dir.join(name)).expect("read certificate")).expect("PEM")
}

fn stamp(tsa: &Tsa, message: &[u8]) -> Vec<u8> {
    let query = request(message).expect("query");
    fetch(&tsa.url, &query).expect("a token")
}

#[test]
fn a_token_verifies_offline_and_with_openssl() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(tsa) = Tsa::start(&dir.path().join("tsa"), &[]) else { return };
    let message = b"the 64 bytes of an Ed25519 signature would be here";
    let token = stamp(&tsa, message);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    for trusted in ["ca.crt", "tsa.crt"] {
        let stamped = verify_token(&token, message, &certificates(&tsa, trusted)).expect("verifies");
        assert!((stamped.time - now).abs() < 120, "{} vs {now}", stamped.time);
        assert!(stamped.tsa.contains("Custos Test TSA"), "{}", stamped.tsa);
    }
    // The same token, checked by OpenSSL.
    std::fs::write(dir.path().join("message"), message).expect("write");
    std::fs::write(dir.path().join("token.der"), &token).expect("write");
    let output = Command::new("openssl")
        .current_dir(dir.path())
        .args(["ts", "-verify", "-data", "message", "-in", "token.der", "-token_in", "-CAfile"])
        .arg(tsa.dir.join("ca.crt"))
        .arg("-untrusted")
        .arg(tsa.dir.join("tsa.crt"))
        .output()
        .expect("openssl");
    assert!(String::from_utf8_lossy(&output.stdout).contains("Verification: OK"), "{:?}", output);
}

#[test]
fn rsa_authorities_verify_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(tsa) = Tsa::start(&dir.path().join("tsa"), &["--rsa"]) else { return };
    let token = stamp(&tsa, b"signature");
    verify_token(&token, b"signature", &certificates(&tsa, "ca.crt")).expect("verifies");
}

#[test]
fn wrong_tokens_fail_for_their_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(tsa) = Tsa::start(&dir.path().join("tsa"), &[]) else { return };
    let trusted = certificates(&tsa, "ca.crt");
    let token = stamp(&tsa, b"signature one");

    // A token from another signature.
    assert!(matches!(verify_token(&token, b"signature two", &trusted), Err(TimestampError::Mismatch(_))));

    // Edited: every single-byte change fails, and none panics; except inside the copy of the
    // CA certificate the TSA adds, which nothing uses (the trusted copy is the one relied on).
    use der::Encode as _;
    let ca = trusted[0].to_der().expect("DER");
    let ca_at = token.windows(ca.len()).position(|w| w == ca.as_slice()).expect("the token carries the CA");
    let mut unchanged = Vec::new();
    for at in (0..token.len()).filter(|at| !(ca_at..ca_at + ca.len()).contains(at)) {
        let mut edited = token.clone();
        edited[at] ^= 0x01;
        if verify_token(&edited, b"signature one", &trusted).is_ok() {
            unchanged.push(at);
        }
    }

    assert!(unchanged.is_empty(), "edited at {unchanged:?} and still verified (of {} bytes)", token.len());

    // An authority nobody trusts.
    let Some(other) = Tsa::start(&dir.path().join("other"), &[]) else { return };
    let error =
        verify_token(&token, b"signature one", &certificates(&other, "ca.crt")).expect_err("untrusted");
    // Red team (round 8): said as a chain "longer than four links", which it is not.
    assert!(matches!(&error, TimestampError::Untrusted(r) if r.contains("which is not trusted")), "{error}");

    // A TSA certificate whose extended key usage is not exactly a critical timeStamping.
    eku_is_checked_for_itself(&tsa);

    // A reply to another query (a replayed reply) is refused.
    let first = request(b"signature one").expect("query");
    let second = request(b"signature one").expect("query");
    let reply = reply_to(&tsa, &first);
    assert!(matches!(custos_timestamp::token_from_reply(&reply, &second), Err(TimestampError::Mismatch(_))));
    custos_timestamp::token_from_reply(&reply, &first).expect("the reply to its own query");
}

/// RFC 3161 §2.3: a token signed with a certificate that has no extendedKeyUsage, a
/// non-critical one, or more usages than timeStamping, is refused for exactly that.
///
/// OpenSSL's TSA refuses to sign with such certificates at all (a token asked of it fails at
/// the fetch and proves nothing about Custos), so the tokens are made by `openssl cms -sign`,
/// which does not check purpose: a real TSTInfo from the test TSA, signed as a TSA signs it
/// (SHA-256, ECDSA, the ESS signing-certificate-v2 attribute with `-cades`) by a certificate
/// the test CA issues for the TSA's key with the extensions of each case. The same
/// construction with the right usage verifies, so each refusal is for its usage alone.
fn eku_is_checked_for_itself(tsa: &Tsa) {
    // `-cades` (the ESS attribute a token needs) came with OpenSSL 3.0.
    let help = Command::new("openssl").args(["cms", "-help"]).output().expect("openssl");
    if ![&help.stdout, &help.stderr].iter().any(|text| String::from_utf8_lossy(text).contains("-cades")) {
        let why = "`openssl cms` has no -cades (OpenSSL 3.0 or later is needed): the EKU refusals are not exercised";
        if std::env::var("CUSTOS_INTEROP").as_deref() == Ok("require") {
            panic!("CUSTOS_INTEROP=require, but {why}");
        }
        eprintln!("skipping: {why} (set CUSTOS_INTEROP=require to make this fail)");
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let cases: [(&str, Option<&str>); 4] = [
        ("extendedKeyUsage=critical,timeStamping", None),
        ("", Some("the certificate has no extendedKeyUsage extension")),
        ("extendedKeyUsage=timeStamping", Some("the extendedKeyUsage extension is not marked critical")),
        (
            "extendedKeyUsage=critical,timeStamping,serverAuth",
            Some("the extendedKeyUsage is not exactly timeStamping"),
        ),
    ];
    let mut issued = Vec::new();
    for (serial, (extension, _)) in cases.iter().enumerate() {
        let name = format!("case{serial}");
        std::fs::write(
            work.path().join(format!("{name}.cnf")),
            format!("basicConstraints=CA:FALSE\n{extension}\n"),
        )
        .expect("write");
        // Issued before the token below is stamped: the stamped time is within its validity.
        openssl(
            work.path(),
            &[
                "x509",
                "-req",
                "-in",
                &path(tsa, "tsa.csr"),
                "-CA",
                &path(tsa, "ca.crt"),
                "-CAkey",
                &path(tsa, "ca.key"),
                "-set_serial",
                &format!("{}", 1000 + serial),
                "-days",
                "3650",
                "-extfile",
                &format!("{name}.cnf"),
                "-out",
                &format!("{name}.crt"),
            ],
        );
        issued.push(name);
    }
    let message = b"signature three";
    let token = stamp(tsa, message);
    let content = cms::content_info::ContentInfo::from_der(&token).expect("a token");
    let signed: cms::signed_data::SignedData = content.content.decode_as().expect("SignedData");
    let econtent = signed.encap_content_info.econtent.expect("a TSTInfo");
    let tst_info: der::asn1::OctetString = econtent.decode_as().expect("an OCTET STRING");
    std::fs::write(work.path().join("tstinfo.der"), tst_info.as_bytes()).expect("write");
    let trusted = certificates(tsa, "ca.crt");
    for ((extension, refusal), name) in cases.iter().zip(&issued) {
        openssl(
            work.path(),
            &[
                "cms",
                "-sign",
                "-binary",
                "-nodetach",
                "-outform",
                "DER",
                "-nosmimecap",
                "-cades",
                "-md",
                "sha256",
                "-econtent_type",
                "1.2.840.113549.1.9.16.1.4",
                "-signer",
                &format!("{name}.crt"),
                "-inkey",
                &path(tsa, "tsa.key"),
                "-in",
                "tstinfo.der",
                "-out",
                &format!("{name}.token"),
            ],
        );
        let token = std::fs::read(work.path().join(format!("{name}.token"))).expect("token");
        match (verify_token(&token, message, &trusted), refusal) {
            (Ok(stamped), None) => assert!(stamped.tsa.contains("Custos Test TSA"), "{}", stamped.tsa),
            (Err(TimestampError::Untrusted(found)), Some(expected)) if found == *expected => {}
            (other, _) => panic!("{extension:?}: expected {refusal:?}, got {other:?}"),
        }
    }
}

/// A file of the test TSA's folder, as an argument.
fn path(tsa: &Tsa, name: &str) -> String {
    tsa.dir.join(name).to_string_lossy().into_owned()
}

/// Runs `openssl ARGS` in `dir`, asserting it succeeds.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let output = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// The raw reply of the test TSA to `query`, through OpenSSL directly.
fn reply_to(tsa: &Tsa, query: &custos_timestamp::Request) -> Vec<u8> {
    let work = tempfile::tempdir().expect("temp dir");
    std::fs::write(work.path().join("q.tsq"), &query.der).expect("write");
    let status = Command::new("openssl")
        .current_dir(work.path())
        .args(["ts", "-reply", "-config"])
        .arg(tsa.dir.join("tsa.cnf"))
        .args(["-queryfile", "q.tsq", "-out", "r.tsr"])
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    std::fs::read(work.path().join("r.tsr")).expect("reply")
}

#[test]
fn garbage_never_panics() {
    for bytes in [&b""[..], b"\x30", b"\x30\x80", b"not DER at all", &[0x30, 0x82, 0xff, 0xff]] {
        assert!(verify_token(bytes, b"x", &[]).is_err());
    }
    assert!(parse_certificates(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
}

/// Red team (round 5): a TSA certificate issued by an end-entity certificate (basicConstraints
/// CA:FALSE, key usage digitalSignature) of a trusted CA was accepted, so whoever holds any
/// certificate under a trusted root could mint "trusted time". Only a CA issues; OpenSSL
/// refuses the same token ("invalid CA certificate"), and so does Custos now, for that reason.
#[test]
fn a_certificate_in_the_chain_that_is_not_a_ca_issues_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The real TSA's folder only for its tsa.cnf (and the skip when openssl is missing).
    let Some(tsa) = Tsa::start(&dir.path().join("tsa"), &[]) else { return };
    let work = Chain::new(dir.path(), "basicConstraints=critical,CA:TRUE");
    work.issue("leaf", "/CN=Some client", "ca", "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n", None);
    work.issue("rogue", "/CN=Rogue TSA", "leaf", TSA_EXTENSIONS, None);
    let error = work.verify(&tsa, "rogue", "leaf.pem").expect_err("not trusted time");
    assert!(
        matches!(&error, TimestampError::Untrusted(reason) if reason.contains("is not a certificate authority")),
        "{error}"
    );
}

/// Red team (round 6): a CA's path length constraint, and the validity of the CAs above the
/// TSA, were not checked: a root that may not delegate, or an intermediate long expired, still
/// vouched for time. Both are refused, as `openssl ts -verify` refuses them.
#[test]
fn path_length_and_the_validity_of_every_ca_in_the_chain_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(tsa) = Tsa::start(&dir.path().join("tsa"), &[]) else { return };
    let ca = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n";

    let strict = Chain::new(&dir.path().join("strict"), "basicConstraints=critical,CA:TRUE,pathlen:0");
    strict.issue("inter", "/CN=Intermediate", "ca", ca, None);
    strict.issue("tsa", "/CN=TSA under an intermediate", "inter", TSA_EXTENSIONS, None);
    let error = strict.verify(&tsa, "tsa", "inter.pem").expect_err("path too long");
    assert!(
        matches!(&error, TimestampError::Untrusted(r) if r.contains("path length constraint is exceeded")),
        "{error}"
    );

    let Some(faketime) = which("faketime") else { return };
    let expired = Chain::new(&dir.path().join("expired"), "basicConstraints=critical,CA:TRUE");
    expired.issue("inter", "/CN=Retired intermediate", "ca", ca, Some((&faketime, "2020-01-01 00:00:00")));
    expired.issue("tsa", "/CN=TSA under a retired intermediate", "inter", TSA_EXTENSIONS, None);
    let error = expired.verify(&tsa, "tsa", "inter.pem").expect_err("expired CA");
    assert!(
        matches!(&error, TimestampError::Untrusted(r) if r.contains("outside the validity of the certificate of CN=Retired intermediate")),
        "{error}"
    );
}

const TSA_EXTENSIONS: &str =
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n";

/// A tool's path, or `None` (the caller then skips that part) unless CUSTOS_INTEROP=require.
fn which(tool: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(tool)).find(|p| p.is_file()));
    if found.is_none() {
        assert!(
            std::env::var("CUSTOS_INTEROP").as_deref() != Ok("require"),
            "CUSTOS_INTEROP=require, but {tool} is not installed"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

/// Certificates made with openssl in one folder: a root `ca` (P-256) with the given
/// basicConstraints, and any chain below it.
struct Chain {
    work: std::path::PathBuf,
}

impl Chain {
    fn new(at: &std::path::Path, constraints: &str) -> Chain {
        let work = at.join("chain");
        std::fs::create_dir_all(&work).expect("folder");
        let mut root = vec!["req", "-x509"];
        root.extend_from_slice(&EC);
        root.extend_from_slice(&[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Trusted Root",
        ]);
        let constraints = constraints.to_owned();
        root.extend_from_slice(&[
            "-addext",
            &constraints,
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&work, &root);
        Chain { work }
    }

    /// `name.pem`, issued by `by` with `extensions`, at a faked time when given.
    fn issue(
        &self,
        name: &str,
        subject: &str,
        by: &str,
        extensions: &str,
        at: Option<(&std::path::Path, &str)>,
    ) {
        let mut request = vec!["req"];
        request.extend_from_slice(&EC);
        let (key, csr, ext, pem) =
            (format!("{name}.key"), format!("{name}.csr"), format!("{name}.ext"), format!("{name}.pem"));
        request.extend_from_slice(&["-keyout", &key, "-out", &csr, "-subj", subject]);
        openssl(&self.work, &request);
        std::fs::write(self.work.join(&ext), extensions).expect("extensions");
        let (by_pem, by_key) = (format!("{by}.pem"), format!("{by}.key"));
        let args = [
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &by_pem,
            "-CAkey",
            &by_key,
            "-CAcreateserial",
            "-days",
            "30",
            "-out",
            &pem,
            "-extfile",
            &ext,
        ];
        match at {
            None => openssl(&self.work, &args),
            Some((faketime, time)) => {
                let output = Command::new(faketime)
                    .arg(time)
                    .arg("openssl")
                    .args(args)
                    .current_dir(&self.work)
                    .output()
                    .expect("faketime");
                assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            }
        }
    }

    /// A token over "signature one" signed by `signer` with `chain` in it, verified under
    /// the root alone.
    fn verify(
        &self,
        tsa: &Tsa,
        signer: &str,
        chain: &str,
    ) -> Result<custos_timestamp::Stamp, TimestampError> {
        let query = request(b"signature one").expect("query");
        std::fs::write(self.work.join("q.tsq"), &query.der).expect("query");
        let config = tsa.dir.join("tsa.cnf");
        let config = config.to_string_lossy();
        let (pem, key) = (format!("{signer}.pem"), format!("{signer}.key"));
        openssl(
            &self.work,
            &[
                "ts",
                "-reply",
                "-config",
                &config,
                "-queryfile",
                "q.tsq",
                "-signer",
                &pem,
                "-inkey",
                &key,
                "-chain",
                chain,
                "-out",
                "r.tsr",
            ],
        );
        let reply = std::fs::read(self.work.join("r.tsr")).expect("reply");
        let token = custos_timestamp::token_from_reply(&reply, &query).expect("a well-formed token");
        let trusted = parse_certificates(&std::fs::read(self.work.join("ca.pem")).expect("ca")).expect("PEM");
        verify_token(&token, b"signature one", &trusted)
    }
}

const EC: [&str; 5] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
