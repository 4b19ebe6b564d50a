//! `custos-timestamp`: trusted time for Custos signatures, from RFC 3161 time-stamping
//! authorities (TSAs).
//!
//! A signer's clock is a claim. A time-stamp token is a TSA's signature over a digest of
//! what was signed and the time the TSA saw it, so with a token, "signed before the key was
//! revoked" is something a court can check offline, given the TSA's certificate.
//!
//! [`request`] builds a query (SHA-256 imprint, random nonce, certificate requested);
//! [`fetch`] sends it over HTTP (RFC 3161 §3.4) and checks the reply answers that query;
//! [`verify_token`] checks a stored token offline: the message imprint, the CMS signature
//! over the signed attributes, the content type and message digest attributes, the ESS
//! signing-certificate attribute naming the signer's certificate, the signer's certificate
//! (`extendedKeyUsage` exactly `timeStamping`, marked critical; valid at the stamped time)
//! and its chain to a trusted TSA certificate. DER is parsed by RustCrypto's `der`,
//! `x509-cert`, `cms` and `x509-tsp`; nothing is parsed by hand. The library never prints.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::io::Read;
use std::time::Duration;

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Int, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence};
use sha2::{Digest as _, Sha256};
use x509_cert::spki::AlgorithmIdentifierOwned;
pub use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

/// The most bytes a TSA reply or a stored token may hold: 64 KiB.
pub const MAX_TOKEN_BYTES: u64 = 64 << 10;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const ID_CE_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const ID_ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ID_SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const ID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Why a token could not be had or does not verify. Each names what failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The TSA could not be reached, or answered with something other than a reply.
    #[error("the time-stamping authority: {0}")]
    Fetch(String),
    /// The TSA refused to stamp.
    #[error("the time-stamping authority refused: {0}")]
    Refused(String),
    /// The token (or reply, or certificate) is not the DER it must be.
    #[error("malformed time-stamp token: {0}")]
    Malformed(String),
    /// The token is for other bytes, or answers another query.
    #[error("the token is not for this signature: {0}")]
    Mismatch(String),
    /// The token's signature or its signer's certificate does not verify.
    #[error("the token's signature does not verify: {0}")]
    BadSignature(String),
    /// The signer is not a trusted TSA, or its certificate may not stamp time.
    #[error("not a trusted time-stamping authority: {0}")]
    Untrusted(String),
}

fn malformed(what: impl std::fmt::Display) -> TimestampError {
    TimestampError::Malformed(what.to_string())
}

/// A time-stamp query, kept to check that the reply answers it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The DER of the `TimeStampReq`.
    pub der: Vec<u8>,
    /// The SHA-256 of the stamped message.
    pub imprint: [u8; 32],
    /// The nonce, as the DER `INTEGER`'s bytes.
    pub nonce: Vec<u8>,
}

/// A query for a token over `message` (SHA-256), with a random 64-bit nonce, asking the TSA
/// to include its certificate.
pub fn request(message: &[u8]) -> Result<Request, TimestampError> {
    let imprint: [u8; 32] = Sha256::digest(message).into();
    let mut nonce = [0u8; 8];
    getrandom::getrandom(&mut nonce)
        .map_err(|e| TimestampError::Fetch(format!("no randomness for a nonce: {e}")))?;
    // A positive INTEGER without a leading zero byte: clear the top bit, keep it non-zero.
    nonce[0] = (nonce[0] & 0x7f) | 0x40;
    let query = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: sha256_identifier(),
            hashed_message: OctetString::new(imprint.to_vec()).map_err(malformed)?,
        },
        req_policy: None,
        nonce: Some(Int::new(&nonce).map_err(malformed)?),
        cert_req: true,
        extensions: None,
    };
    Ok(Request { der: query.to_der().map_err(malformed)?, imprint, nonce: nonce.to_vec() })
}

fn sha256_identifier() -> x509_cert::spki::AlgorithmIdentifier<Any> {
    x509_cert::spki::AlgorithmIdentifier { oid: ID_SHA256, parameters: None }
}

/// Sends `query` to the TSA at `url` (HTTP POST, `application/timestamp-query`) and returns
/// the token of a granted reply, after checking it answers this query (imprint and nonce).
pub fn fetch(url: &str, query: &Request) -> Result<Vec<u8>, TimestampError> {
    if !url.starts_with("http://") {
        return Err(TimestampError::Fetch(format!(
            "{url}: give an http:// URL (tokens are signed and verified offline, so the transport needs no TLS)"
        )));
    }
    let response = ureq::post(url)
        .timeout(Duration::from_secs(30))
        .set("Content-Type", "application/timestamp-query")
        .send_bytes(&query.der)
        .map_err(|e| TimestampError::Fetch(format!("{url}: {e}")))?;
    let mut reply = Vec::new();
    response
        .into_reader()
        .take(MAX_TOKEN_BYTES + 1)
        .read_to_end(&mut reply)
        .map_err(|e| TimestampError::Fetch(format!("{url}: {e}")))?;
    if reply.len() as u64 > MAX_TOKEN_BYTES {
        return Err(TimestampError::Fetch(format!(
            "{url}: the reply is larger than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    token_from_reply(&reply, query)
}

/// Asks the TSA at `url` for a token over `message` and returns it (checked to answer the
/// query).
pub fn stamp(url: &str, message: &[u8]) -> Result<Vec<u8>, TimestampError> {
    fetch(url, &request(message)?)
}

/// The token of a `TimeStampResp`, if the TSA granted the query and the token answers it.
pub fn token_from_reply(reply: &[u8], query: &Request) -> Result<Vec<u8>, TimestampError> {
    let response = TimeStampResp::from_der(reply).map_err(|e| malformed(format!("reply: {e}")))?;
    use cmpv2::status::PkiStatus;
    if !matches!(response.status.status, PkiStatus::Accepted | PkiStatus::GrantedWithMods) {
        return Err(TimestampError::Refused(format!("status {:?}", response.status.status)));
    }
    let token = response.time_stamp_token.ok_or_else(|| malformed("a granted reply without a token"))?;
    let der = token.to_der().map_err(malformed)?;
    let (_, info) = open_token(&der)?;
    if info.message_imprint.hashed_message.as_bytes() != query.imprint {
        return Err(TimestampError::Mismatch("the reply stamps other bytes than the query".into()));
    }
    if info.nonce.as_ref().map(Int::as_bytes) != Some(query.nonce.as_slice()) {
        return Err(TimestampError::Mismatch(
            "the reply's nonce is not the query's (a replayed reply)".into(),
        ));
    }
    Ok(der)
}

/// What a verified token establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The TSA's time, seconds since the Unix epoch.
    pub time: i64,
    /// The TSA's certificate subject.
    pub tsa: String,
    /// The token's serial number, hex.
    pub serial: String,
}

fn open_token(token: &[u8]) -> Result<(SignedData, TstInfo), TimestampError> {
    let content = ContentInfo::from_der(token).map_err(malformed)?;
    if content.content_type != ID_SIGNED_DATA {
        return Err(malformed("not CMS SignedData"));
    }
    let signed: SignedData = content.content.decode_as().map_err(malformed)?;
    if signed.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(malformed("the signed content is not a TSTInfo"));
    }
    let econtent = signed.encap_content_info.econtent.as_ref().ok_or_else(|| malformed("no TSTInfo"))?;
    let octets: OctetString = econtent.decode_as().map_err(malformed)?;
    let info = TstInfo::from_der(octets.as_bytes()).map_err(malformed)?;
    Ok((signed, info))
}

/// Verifies a stored token offline: that it stamps SHA-256(`message`), that a TSA whose
/// certificate chains to one of `trusted` signed it, with every check of RFC 3161 §2.3 and
/// RFC 5652 §5.4, and returns the stamped time.
pub fn verify_token(token: &[u8], message: &[u8], trusted: &[Certificate]) -> Result<Stamp, TimestampError> {
    if token.len() as u64 > MAX_TOKEN_BYTES {
        return Err(malformed(format!("larger than {MAX_TOKEN_BYTES} bytes")));
    }
    let (signed, info) = open_token(token)?;
    if info.message_imprint.hash_algorithm.oid != ID_SHA256 {
        return Err(TimestampError::Mismatch("the imprint is not SHA-256".into()));
    }
    if info.message_imprint.hashed_message.as_bytes() != Sha256::digest(message).as_slice() {
        return Err(TimestampError::Mismatch(
            "it stamps other bytes (a token from another signature)".into(),
        ));
    }
    let [signer] = signed.signer_infos.0.as_slice() else {
        return Err(malformed("a token has exactly one signer"));
    };
    // The unsigned parts of the SignedData must say what the signed parts say: one digest
    // algorithm, the signer's; so no byte of a token can change without it failing.
    if signed.digest_algorithms.len() != 1 || signed.digest_algorithms.get(0) != Some(&signer.digest_alg) {
        return Err(malformed("the digest algorithms are not exactly the signer's"));
    }
    if signed.version != cms::content_info::CmsVersion::V3
        || signer.version != cms::content_info::CmsVersion::V1
    {
        return Err(malformed("not a version 3 SignedData with a version 1 SignerInfo"));
    }
    // DER is canonical: a token that does not re-encode to its own bytes is refused.
    if ContentInfo::from_der(token).and_then(|c| c.to_der()).map_err(malformed)? != token {
        return Err(malformed("not DER (another encoding of the same token)"));
    }
    let embedded: Vec<Certificate> = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            cms::cert::CertificateChoices::Certificate(cert) => Some(cert.clone()),
            _ => None,
        })
        .collect();
    let certificate = find_signer(signer, embedded.iter().chain(trusted)).ok_or_else(|| {
        TimestampError::Untrusted(
            "the signer's certificate is in neither the token nor the trusted certificates".into(),
        )
    })?;
    let econtent = signed.encap_content_info.econtent.as_ref().ok_or_else(|| malformed("no TSTInfo"))?;
    let octets: OctetString = econtent.decode_as().map_err(malformed)?;
    check_signed_attributes(signer, octets.as_bytes(), &certificate)?;
    let attributes = signer.signed_attrs.as_ref().ok_or_else(|| malformed("no signed attributes"))?;
    let signed_bytes = attributes.to_der().map_err(malformed)?;
    verify_signature(&certificate, &signer.signature_algorithm, &signed_bytes, signer.signature.as_bytes())
        .map_err(|e| TimestampError::BadSignature(format!("over the signed attributes: {e}")))?;
    let time = info.gen_time.to_unix_duration().as_secs() as i64;
    check_time_stamping_certificate(&certificate, time)?;
    check_chain(&certificate, &embedded, trusted, time)?;
    Ok(Stamp {
        time,
        tsa: certificate.tbs_certificate.subject.to_string(),
        serial: info.serial_number.as_bytes().iter().map(|b| format!("{b:02x}")).collect(),
    })
}

fn find_signer<'a>(
    signer: &SignerInfo,
    candidates: impl Iterator<Item = &'a Certificate>,
) -> Option<Certificate> {
    let mut candidates = candidates;
    match &signer.sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => candidates
            .find(|c| {
                c.tbs_certificate.issuer == id.issuer && c.tbs_certificate.serial_number == id.serial_number
            })
            .cloned(),
        SignerIdentifier::SubjectKeyIdentifier(key_id) => candidates
            .find(|c| {
                c.tbs_certificate.extensions.iter().flatten().any(|ext| {
                    ext.extn_id == ObjectIdentifier::new_unwrap("2.5.29.14")
                        && OctetString::from_der(ext.extn_value.as_bytes()).is_ok_and(|v| v == key_id.0)
                })
            })
            .cloned(),
    }
}

/// ESSCertIDv2 (RFC 5035).
#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    /// DEFAULT sha256: absent in DER when it is SHA-256.
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

/// ESSCertID (RFC 2634): a SHA-1 hash of the certificate.
#[derive(Clone, Debug, Sequence)]
struct EssCertId {
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

#[derive(Clone, Debug, Sequence)]
struct SigningCertificate {
    certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

/// Content type, message digest and ESS signing certificate (v1 or v2) attributes.
fn check_signed_attributes(
    signer: &SignerInfo,
    content: &[u8],
    certificate: &Certificate,
) -> Result<(), TimestampError> {
    let attributes = signer.signed_attrs.as_ref().ok_or_else(|| malformed("no signed attributes"))?;
    let single = |oid: ObjectIdentifier| -> Result<&Any, TimestampError> {
        let mut found = attributes.iter().filter(|a| a.oid == oid);
        let attribute = found.next().ok_or_else(|| malformed(format!("no {oid} attribute")))?;
        if found.next().is_some() || attribute.values.len() != 1 {
            return Err(malformed(format!("the {oid} attribute must appear once with one value")));
        }
        attribute.values.get(0).ok_or_else(|| malformed(format!("empty {oid} attribute")))
    };
    let content_type: ObjectIdentifier = single(ID_CONTENT_TYPE)?.decode_as().map_err(malformed)?;
    if content_type != ID_CT_TST_INFO {
        return Err(malformed("the content-type attribute is not TSTInfo"));
    }
    if signer.digest_alg.oid != ID_SHA256 {
        return Err(malformed(format!(
            "digest algorithm {} (only SHA-256 is accepted)",
            signer.digest_alg.oid
        )));
    }
    let digest: OctetString = single(ID_MESSAGE_DIGEST)?.decode_as().map_err(malformed)?;
    if digest.as_bytes() != Sha256::digest(content).as_slice() {
        return Err(TimestampError::BadSignature(
            "the message-digest attribute is not the TSTInfo's digest".into(),
        ));
    }
    let certificate_der = certificate.to_der().map_err(malformed)?;
    let names_signer = if let Ok(value) = single(ID_SIGNING_CERTIFICATE_V2) {
        let ess: SigningCertificateV2 = value.decode_as().map_err(malformed)?;
        let first = ess.certs.first().ok_or_else(|| malformed("an empty signing-certificate-v2"))?;
        first.hash_algorithm.as_ref().is_none_or(|a| a.oid == ID_SHA256)
            && first.cert_hash.as_bytes() == Sha256::digest(&certificate_der).as_slice()
    } else {
        let ess: SigningCertificate = single(ID_SIGNING_CERTIFICATE)?.decode_as().map_err(malformed)?;
        let first = ess.certs.first().ok_or_else(|| malformed("an empty signing-certificate"))?;
        use sha1::Digest as _;
        first.cert_hash.as_bytes() == sha1::Sha1::digest(&certificate_der).as_slice()
    };
    if !names_signer {
        return Err(TimestampError::BadSignature(
            "the ESS signing-certificate attribute names another certificate than the signer's".into(),
        ));
    }
    Ok(())
}

/// RFC 3161 §2.3: the TSA's certificate has exactly one extended key usage, timeStamping,
/// in a critical extension; and it was valid when it stamped.
fn check_time_stamping_certificate(certificate: &Certificate, time: i64) -> Result<(), TimestampError> {
    let tbs = &certificate.tbs_certificate;
    let eku = tbs.extensions.iter().flatten().find(|ext| ext.extn_id == ID_EXTENDED_KEY_USAGE).ok_or_else(
        || TimestampError::Untrusted("the certificate has no extendedKeyUsage extension".into()),
    )?;
    if !eku.critical {
        return Err(TimestampError::Untrusted(
            "the extendedKeyUsage extension is not marked critical".into(),
        ));
    }
    let usages: Vec<ObjectIdentifier> = Vec::from_der(eku.extn_value.as_bytes()).map_err(malformed)?;
    if usages != [ID_KP_TIME_STAMPING] {
        return Err(TimestampError::Untrusted("the extendedKeyUsage is not exactly timeStamping".into()));
    }
    check_valid_at(certificate, time)
}

/// A certificate counts only at a time within its validity: the signer's, every CA's above
/// it, and the trusted one's (as `openssl ts -verify` has it), at the stamped time.
fn check_valid_at(certificate: &Certificate, time: i64) -> Result<(), TimestampError> {
    let validity = &certificate.tbs_certificate.validity;
    let from = validity.not_before.to_unix_duration().as_secs() as i64;
    let until = validity.not_after.to_unix_duration().as_secs() as i64;
    if time < from || time > until {
        return Err(TimestampError::Untrusted(format!(
            "the stamped time is outside the validity of the certificate of {}",
            certificate.tbs_certificate.subject
        )));
    }
    Ok(())
}

/// The signer's certificate must be a trusted certificate, or be issued (directly or
/// through certificates in the token) by one. At most four links.
fn check_chain(
    signer: &Certificate,
    embedded: &[Certificate],
    trusted: &[Certificate],
    time: i64,
) -> Result<(), TimestampError> {
    let mut current = signer.clone();
    // CA certificates between the issuer being checked and the signer (RFC 5280 §4.2.1.9:
    // an issuer's pathLenConstraint bounds them).
    for below in 0..4u8 {
        if trusted.contains(&current) {
            return Ok(());
        }
        let issuer_name = &current.tbs_certificate.issuer;
        let tbs = current.tbs_certificate.to_der().map_err(malformed)?;
        let signature = current
            .signature
            .as_bytes()
            .ok_or_else(|| malformed("a certificate signature with unused bits"))?;
        // A signature by any certificate is not an issue: only a CA's (RFC 5280 §6.1.4), or
        // the holder of any end-entity certificate under a trusted root could mint a TSA;
        // and only while it is valid. Of several candidates (a renewed CA keeps its name),
        // one that satisfies every rule is taken; else the first one's reason is said.
        let signed_it: Vec<&Certificate> = trusted
            .iter()
            .chain(embedded)
            .filter(|c| &c.tbs_certificate.subject == issuer_name)
            .filter(|c| verify_signature(c, &current.signature_algorithm, &tbs, signature).is_ok())
            .collect();
        let may_issue = |c: &Certificate| check_may_issue(c, below).and_then(|()| check_valid_at(c, time));
        let issuer = match signed_it.iter().find(|c| may_issue(c).is_ok()) {
            Some(issuer) => *issuer,
            None => {
                return Err(match signed_it.first() {
                    Some(first) => may_issue(first).err().unwrap_or_else(|| malformed("no issuer")),
                    None => TimestampError::Untrusted(format!(
                        "{} is not a trusted TSA certificate, nor issued by one",
                        current.tbs_certificate.subject
                    )),
                })
            }
        };
        if trusted.contains(issuer) {
            return Ok(());
        }
        // A root nobody trusts signs itself: the chain ends there, untrusted.
        if issuer == &current {
            return Err(TimestampError::Untrusted(format!(
                "{} is not a trusted TSA certificate, nor issued by one (its chain ends at {}, which is not trusted)",
                signer.tbs_certificate.subject, current.tbs_certificate.subject
            )));
        }
        current = issuer.clone();
    }
    Err(TimestampError::Untrusted("the certificate chain is longer than four links".into()))
}

/// RFC 5280 §4.2.1.9 and §4.2.1.3: a certificate that issues another is a CA (basicConstraints
/// with cA set), with at most its pathLenConstraint of CA certificates below it (`below`),
/// and, when it states its key usages, may sign certificates (keyCertSign).
fn check_may_issue(issuer: &Certificate, below: u8) -> Result<(), TimestampError> {
    use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
    let extensions = issuer.tbs_certificate.extensions.iter().flatten();
    let not_a_ca = || {
        TimestampError::Untrusted(format!(
            "{} issued a certificate in the chain but is not a certificate authority (no basicConstraints cA)",
            issuer.tbs_certificate.subject
        ))
    };
    let constraints =
        extensions.clone().find(|ext| ext.extn_id == ID_CE_BASIC_CONSTRAINTS).ok_or_else(not_a_ca)?;
    let constraints = BasicConstraints::from_der(constraints.extn_value.as_bytes()).map_err(malformed)?;
    if !constraints.ca {
        return Err(not_a_ca());
    }
    if constraints.path_len_constraint.is_some_and(|most| below > most) {
        return Err(TimestampError::Untrusted(format!(
            "{} may have at most {} CA certificate(s) below it, and has {below}: its path length constraint is exceeded",
            issuer.tbs_certificate.subject,
            constraints.path_len_constraint.unwrap_or_default()
        )));
    }
    if let Some(usage) = extensions.clone().find(|ext| ext.extn_id == ID_CE_KEY_USAGE) {
        let usage = KeyUsage::from_der(usage.extn_value.as_bytes()).map_err(malformed)?;
        if !usage.key_cert_sign() {
            return Err(TimestampError::Untrusted(format!(
                "{} issued a certificate in the chain, but its key usage does not allow signing certificates",
                issuer.tbs_certificate.subject
            )));
        }
    }
    Ok(())
}

/// Verifies `signature` over `message` with `certificate`'s key: ECDSA P-256 with SHA-256 or
/// RSA PKCS#1 v1.5 with SHA-256.
fn verify_signature(
    certificate: &Certificate,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let spki = &certificate.tbs_certificate.subject_public_key_info;
    let key_bytes = spki.subject_public_key.as_bytes().ok_or("a public key with unused bits")?;
    match (spki.algorithm.oid, algorithm.oid) {
        (ID_EC_PUBLIC_KEY, ID_ECDSA_WITH_SHA256) => {
            use p256::ecdsa::signature::Verifier as _;
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map_err(|e| e.to_string())?;
            let signature = p256::ecdsa::Signature::from_der(signature).map_err(|e| e.to_string())?;
            key.verify(message, &signature).map_err(|_| "the ECDSA signature does not verify".to_owned())
        }
        (ID_RSA_ENCRYPTION, ID_SHA256_WITH_RSA | ID_RSA_ENCRYPTION) => {
            use rsa::pkcs1::DecodeRsaPublicKey as _;
            use rsa::signature::Verifier as _;
            let key = rsa::RsaPublicKey::from_pkcs1_der(key_bytes).map_err(|e| e.to_string())?;
            let key = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key);
            let signature = rsa::pkcs1v15::Signature::try_from(signature).map_err(|e| e.to_string())?;
            key.verify(message, &signature).map_err(|_| "the RSA signature does not verify".to_owned())
        }
        (key, signature) => Err(format!("unsupported key {key} with signature algorithm {signature}")),
    }
}

/// Reads certificates from PEM (one or more `CERTIFICATE` blocks) or DER.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, TimestampError> {
    if bytes.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(bytes).map_err(|_| malformed("PEM that is not UTF-8"))?;
        let certificates = Certificate::load_pem_chain(text.as_bytes()).map_err(malformed)?;
        if certificates.is_empty() {
            return Err(malformed("no CERTIFICATE in the PEM file"));
        }
        Ok(certificates)
    } else {
        Ok(vec![Certificate::from_der(bytes).map_err(malformed)?])
    }
}
