//! Pushing a local package into a store, and pulling one out into a new folder.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ObjectLockLegalHoldStatus, ObjectLockMode};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use base64::Engine as _;
use custos_hash::EntryKind;
use custos_manifest::keys::PublicKey;
use custos_manifest::package::MANIFEST_PATH;
use custos_manifest::store::{PackageDir, PackageStore, PayloadBody, StoreError, MAX_TAG_FILE_BYTES};
use custos_manifest::verify::MAX_TAG_BYTES;
use md5::{Digest as _, Md5};

use crate::client::request_error;
use crate::url::segment_problem;
use crate::{S3Client, S3Error, S3Package, S3Url};

/// Files up to this size go up in one PutObject; larger ones as a multipart upload of parts
/// this size. Either way at most one part is in memory, and each part carries its own
/// `Content-MD5` for the store to check.
pub const PART_BYTES: u64 = 16 << 20;

/// An Object Lock retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Removable early by a user with the `s3:BypassGovernanceRetention` permission.
    Governance,
    /// Removable by no one, the account's root included, until the date.
    Compliance,
}

impl LockMode {
    fn sdk(self) -> ObjectLockMode {
        match self {
            LockMode::Governance => ObjectLockMode::Governance,
            LockMode::Compliance => ObjectLockMode::Compliance,
        }
    }

    /// `GOVERNANCE` or `COMPLIANCE`, as S3 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }
}

/// What Object Lock protection to put on every pushed object.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    /// A retention mode and the date it lasts until.
    pub lock: Option<(LockMode, DateTime)>,
    /// A legal hold (lasts until removed).
    pub legal_hold: bool,
}

impl Retention {
    /// Whether any protection is asked for.
    pub fn is_requested(&self) -> bool {
        self.lock.is_some() || self.legal_hold
    }

    /// Parses a retention date: `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
    pub fn parse_date(text: &str) -> Result<DateTime, S3Error> {
        let full = if text.len() == 10 { format!("{text}T00:00:00Z") } else { text.to_owned() };
        DateTime::from_str(&full, Format::DateTime).map_err(|e| S3Error::Unsupported {
            path: text.to_owned(),
            reason: format!("not a date (YYYY-MM-DD or RFC 3339): {e}"),
        })
    }
}

/// The Object Lock state the store reports for one object after the push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionReadback {
    /// `GOVERNANCE` or `COMPLIANCE`, if the store reports a retention.
    pub mode: Option<String>,
    /// Until when (RFC 3339), if reported.
    pub retain_until: Option<String>,
    /// `ON` or `OFF`, if the store reports a legal hold.
    pub legal_hold: Option<String>,
}

/// One uploaded object.
#[derive(Debug, Clone)]
pub struct PushedObject {
    /// The path in the package.
    pub path: String,
    /// The object's key.
    pub key: String,
    /// Bytes uploaded.
    pub size: u64,
    /// The MD5 of the bytes sent (hex), which the store checked (`Content-MD5`).
    pub md5: String,
    /// The ETag the store answered, compared with the MD5 (or, for a multipart upload, the
    /// MD5 of the parts' MD5s and their number).
    pub etag: String,
    /// The Object Lock state read back, when protection was asked for.
    pub retention: Option<RetentionReadback>,
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct PushReport {
    /// Where the package went.
    pub url: S3Url,
    /// Every object, in upload order (`custos/manifest.json` last).
    pub objects: Vec<PushedObject>,
    /// Bytes uploaded in all.
    pub bytes: u64,
}

/// Uploads the package in `local` to `url`, which must hold no object yet.
///
/// Files are read through [`PackageDir`] (no link is followed; a package holding links or
/// special files is refused), each object's MD5 goes with it as `Content-MD5` (the store
/// refuses bytes that do not match) and the ETag the store answers is compared with it.
/// `custos/manifest.json` goes last, so a push cut short leaves a prefix that is not a
/// package rather than a package with files missing. With `retention`, every object is
/// created under that Object Lock retention and legal hold, then both are read back and
/// must be what was asked for.
pub fn push(
    client: &S3Client,
    local: &Path,
    url: &S3Url,
    retention: &Retention,
) -> Result<PushReport, S3Error> {
    let package = PackageDir::open(local)?;
    if package.open_file(MANIFEST_PATH).is_err() {
        return Err(S3Error::NotAPackage(local.display().to_string()));
    }
    package.check_layout()?;
    let mut paths = Vec::new();
    for entry in package.list()? {
        let path = String::from_utf8(entry.path).map_err(|e| S3Error::Unsupported {
            path: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            reason: "a name that is not UTF-8 cannot be an object key".to_owned(),
        })?;
        if let Some(reason) = segment_problem(&path) {
            return Err(S3Error::Unsupported { path, reason: reason.to_owned() });
        }
        paths.push(path);
    }
    paths.sort_by_key(|path| path == MANIFEST_PATH);

    let occupied = client
        .block_on(
            client.sdk().list_objects_v2().bucket(url.bucket()).prefix(url.key_prefix()).max_keys(1).send(),
        )
        .map_err(|e| request_error(url.to_string(), "ListObjectsV2", e))?;
    if !occupied.contents().is_empty() {
        return Err(S3Error::Exists(url.to_string()));
    }
    if retention.is_requested() {
        require_object_lock(client, url.bucket())?;
    }

    let mut report = PushReport { url: url.clone(), objects: Vec::new(), bytes: 0 };
    for path in &paths {
        let object = upload(client, &package, path, url.bucket(), &url.key(path), retention)?;
        report.bytes += object.size;
        report.objects.push(object);
    }
    if retention.is_requested() {
        for object in &mut report.objects {
            object.retention = Some(read_back(client, url.bucket(), &object.key, retention)?);
        }
    }
    Ok(report)
}

/// Refuses a bucket without Object Lock before anything is uploaded: retention and legal
/// holds exist only in such a bucket, and a store may take the first objects and refuse
/// their protection only later, leaving unprotected copies behind.
fn require_object_lock(client: &S3Client, bucket: &str) -> Result<(), S3Error> {
    let answer = client.block_on(client.sdk().get_object_lock_configuration().bucket(bucket).send());
    let enabled = match answer {
        Ok(answer) => answer
            .object_lock_configuration()
            .and_then(|c| c.object_lock_enabled())
            .is_some_and(|e| *e == aws_sdk_s3::types::ObjectLockEnabled::Enabled),
        Err(error) => {
            use aws_sdk_s3::error::ProvideErrorMetadata as _;
            // A bucket without a configuration: AWS answers this code (404); others 404 alone.
            let status = error.raw_response().map(|r| r.status().as_u16());
            if error.code() == Some("ObjectLockConfigurationNotFoundError") || status == Some(404) {
                if error.code() == Some("NoSuchBucket") {
                    return Err(S3Error::NotFound(format!("s3://{bucket}")));
                }
                false
            } else {
                return Err(request_error(format!("s3://{bucket}"), "GetObjectLockConfiguration", error));
            }
        }
    };
    if enabled {
        Ok(())
    } else {
        Err(S3Error::NoObjectLock { bucket: bucket.to_owned() })
    }
}

/// Uploads one file, in one PUT or in parts, checking what the store answers.
fn upload(
    client: &S3Client,
    package: &PackageDir,
    path: &str,
    bucket: &str,
    key: &str,
    retention: &Retention,
) -> Result<PushedObject, S3Error> {
    let opened = package.open_file(path)?;
    let size = opened.size;
    let mut file = opened.file;
    let location = format!("s3://{bucket}/{key}");
    let mut read_part = |length: u64| -> Result<Vec<u8>, S3Error> {
        let mut bytes = Vec::with_capacity(length as usize);
        (&mut file)
            .take(length)
            .read_to_end(&mut bytes)
            .map_err(|source| S3Error::Io { path: path.to_owned(), source })?;
        if bytes.len() as u64 != length {
            return Err(S3Error::Unsupported {
                path: path.to_owned(),
                reason: "the file shrank while it was being pushed".to_owned(),
            });
        }
        Ok(bytes)
    };
    let sdk = client.sdk();
    let hold = retention.legal_hold.then_some(ObjectLockLegalHoldStatus::On);
    if size <= PART_BYTES {
        let bytes = read_part(size)?;
        let (digest, content_md5) = md5_of(&bytes);
        let answer = client
            .block_on(
                sdk.put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_length(size as i64)
                    .content_md5(content_md5)
                    .set_object_lock_mode(retention.lock.map(|(mode, _)| mode.sdk()))
                    .set_object_lock_retain_until_date(retention.lock.map(|(_, until)| until))
                    .set_object_lock_legal_hold_status(hold)
                    .body(ByteStream::from(bytes))
                    .send(),
            )
            .map_err(|e| request_error(location.clone(), "PutObject", e))?;
        let etag = answer.e_tag().unwrap_or_default().trim_matches('"').to_owned();
        check_etag(key, &etag, &hex(&digest))?;
        return Ok(PushedObject {
            path: path.to_owned(),
            key: key.to_owned(),
            size,
            md5: hex(&digest),
            etag,
            retention: None,
        });
    }

    let created = client
        .block_on(
            sdk.create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .set_object_lock_mode(retention.lock.map(|(mode, _)| mode.sdk()))
                .set_object_lock_retain_until_date(retention.lock.map(|(_, until)| until))
                .set_object_lock_legal_hold_status(hold)
                .send(),
        )
        .map_err(|e| request_error(location.clone(), "CreateMultipartUpload", e))?;
    let Some(upload_id) = created.upload_id().map(str::to_owned) else {
        return Err(S3Error::Request {
            location,
            operation: "CreateMultipartUpload",
            message: "the store answered no upload id".to_owned(),
        });
    };
    let result = (|| {
        let mut whole = Md5::new();
        let mut parts_md5 = Md5::new();
        let mut parts = Vec::new();
        let mut done = 0;
        while done < size {
            let length = PART_BYTES.min(size - done);
            let bytes = read_part(length)?;
            whole.update(&bytes);
            let (digest, content_md5) = md5_of(&bytes);
            parts_md5.update(digest);
            let number = parts.len() as i32 + 1;
            let answer = client
                .block_on(
                    sdk.upload_part()
                        .bucket(bucket)
                        .key(key)
                        .upload_id(&upload_id)
                        .part_number(number)
                        .content_length(length as i64)
                        .content_md5(content_md5)
                        .body(ByteStream::from(bytes))
                        .send(),
                )
                .map_err(|e| request_error(location.clone(), "UploadPart", e))?;
            let etag = answer.e_tag().unwrap_or_default().to_owned();
            check_etag(&format!("{key} (part {number})"), etag.trim_matches('"'), &hex(&digest))?;
            parts.push(CompletedPart::builder().part_number(number).e_tag(etag).build());
            done += length;
        }
        let answer = client
            .block_on(
                sdk.complete_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder().set_parts(Some(parts.clone())).build(),
                    )
                    .send(),
            )
            .map_err(|e| request_error(location.clone(), "CompleteMultipartUpload", e))?;
        let etag = answer.e_tag().unwrap_or_default().trim_matches('"').to_owned();
        // The S3 convention for a multipart object: the MD5 of the parts' MD5s, `-`, their
        // number. Each part's own MD5 was already checked by the store and compared above.
        let expected = format!("{}-{}", hex(&parts_md5.finalize()), parts.len());
        check_etag(key, &etag, &expected)?;
        Ok(PushedObject {
            path: path.to_owned(),
            key: key.to_owned(),
            size,
            md5: hex(&whole.finalize()),
            etag,
            retention: None,
        })
    })();
    if result.is_err() {
        // Leave no invisible parts behind to be billed (or to be completed by someone else).
        let _ = client
            .block_on(sdk.abort_multipart_upload().bucket(bucket).key(key).upload_id(&upload_id).send());
    }
    result
}

/// An ETag that is not the expected digest fails the push. Some stores answer ETags that
/// are not MD5s at all (encrypted objects on AWS, some gateways): that too fails, since the
/// upload then cannot be confirmed; `Content-MD5` was still checked by the store.
fn check_etag(key: &str, answered: &str, expected: &str) -> Result<(), S3Error> {
    if answered.eq_ignore_ascii_case(expected) {
        return Ok(());
    }
    Err(S3Error::ChecksumMismatch {
        key: key.to_owned(),
        what: "the ETag",
        answered: answered.to_owned(),
        computed: format!("MD5 {expected}"),
    })
}

/// Reads back an object's retention and legal hold, and checks they are what was asked for.
fn read_back(
    client: &S3Client,
    bucket: &str,
    key: &str,
    retention: &Retention,
) -> Result<RetentionReadback, S3Error> {
    let location = format!("s3://{bucket}/{key}");
    let sdk = client.sdk();
    let mut readback = RetentionReadback { mode: None, retain_until: None, legal_hold: None };
    match client.block_on(sdk.get_object_retention().bucket(bucket).key(key).send()) {
        Ok(answer) => {
            if let Some(found) = answer.retention() {
                readback.mode = found.mode().map(|m| m.as_str().to_owned());
                readback.retain_until = found.retain_until_date().and_then(|d| d.fmt(Format::DateTime).ok());
                if let Some((mode, until)) = retention.lock {
                    let same_date = found.retain_until_date().is_some_and(|d| d.secs() == until.secs());
                    if found.mode().map(|m| m.as_str()) != Some(mode.as_str()) || !same_date {
                        return Err(S3Error::RetentionNotApplied {
                            key: key.to_owned(),
                            asked: format!(
                                "{} until {}",
                                mode.as_str(),
                                until.fmt(Format::DateTime).unwrap_or_default()
                            ),
                            reported: format!(
                                "{} until {}",
                                readback.mode.as_deref().unwrap_or("no mode"),
                                readback.retain_until.as_deref().unwrap_or("no date")
                            ),
                        });
                    }
                }
            }
        }
        // No retention on the object: an error for some stores, an empty answer for others.
        Err(e) if retention.lock.is_none() => drop(e),
        Err(e) => return Err(request_error(location.clone(), "GetObjectRetention", e)),
    }
    if let (Some((mode, until)), None) = (retention.lock, &readback.mode) {
        return Err(S3Error::RetentionNotApplied {
            key: key.to_owned(),
            asked: format!("{} until {}", mode.as_str(), until.fmt(Format::DateTime).unwrap_or_default()),
            reported: "no retention".to_owned(),
        });
    }
    match client.block_on(sdk.get_object_legal_hold().bucket(bucket).key(key).send()) {
        Ok(answer) => {
            readback.legal_hold = answer.legal_hold().and_then(|h| h.status()).map(|s| s.as_str().to_owned());
        }
        Err(e) if !retention.legal_hold => drop(e),
        Err(e) => return Err(request_error(location, "GetObjectLegalHold", e)),
    }
    if retention.legal_hold && readback.legal_hold.as_deref() != Some("ON") {
        return Err(S3Error::RetentionNotApplied {
            key: key.to_owned(),
            asked: "a legal hold".to_owned(),
            reported: format!("legal hold {}", readback.legal_hold.as_deref().unwrap_or("absent")),
        });
    }
    Ok(readback)
}

/// A package pulled into a new folder.
#[derive(Debug, Clone)]
pub struct PulledPackage {
    /// Where it came from.
    pub url: S3Url,
    /// The new folder.
    pub dir: PathBuf,
    /// Files written.
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Downloads the package at `url` into `dir`, a folder that must not exist yet (its parent
/// must). The signed manifest is read and its signature checked first (under `trusted` when
/// given, else under a key the package ships), and nothing is fetched unless every object is
/// one the package may hold: under `data/`, only the files of the manifest's items (an item
/// or its parts), each no larger than its signed size; elsewhere, tag files within the tag
/// file caps. Every file is created through [`PackageDir`] (new files only, folders made one
/// component at a time, no link followed), payloads streamed through bounded ranged reads
/// and cut one byte past the size allowed. An object whose key is not a plain path is
/// refused, and on any error the new folder is removed. The caller verifies the result:
/// pulling checks the signature and sizes, not digests.
pub fn pull(
    client: Arc<S3Client>,
    url: &S3Url,
    dir: &Path,
    trusted: &[PublicKey],
) -> Result<PulledPackage, S3Error> {
    let package = S3Package::open(client, url.clone())?;
    if dir.symlink_metadata().is_ok() {
        return Err(StoreError::Exists { path: dir.display().to_string() }.into());
    }
    let plan = plan_pull(&package, trusted)?;
    std::fs::create_dir(dir).map_err(|source| S3Error::Io { path: dir.display().to_string(), source })?;
    let result = pull_into(&package, &plan, dir);
    if result.is_err() {
        // Only what this call created: the folder did not exist before.
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

/// Every object to fetch, with the most bytes it may have.
fn plan_pull(package: &S3Package, trusted: &[PublicKey]) -> Result<Vec<(String, u64)>, S3Error> {
    let refused = |path: &str, reason: String| S3Error::Refused { path: path.to_owned(), reason };
    let manifest = custos_manifest::package::signed_manifest_in(package, trusted)
        .map_err(|e| refused(&package.url().to_string(), format!("{e}")))?;
    let signed: BTreeMap<&str, u64> =
        manifest.items.iter().filter(|i| !i.reference).flat_map(|item| item.files()).collect();
    let mut plan = Vec::new();
    let mut tags = 0u64;
    for entry in package.list()? {
        let shown = String::from_utf8_lossy(&entry.path).into_owned();
        let (EntryKind::File { size }, Some(path)) = (&entry.kind, entry.utf8_path()) else {
            return Err(S3Error::Unsupported {
                path: shown,
                reason: "an object under a key that is not a plain relative path; not pulled".to_owned(),
            });
        };
        let limit = if path.starts_with("data/") {
            *signed.get(path).ok_or_else(|| {
                refused(path, "an object in the payload that the signed manifest does not list".to_owned())
            })?
        } else {
            tags = tags.saturating_add(*size);
            if tags > MAX_TAG_BYTES {
                return Err(refused(
                    path,
                    format!(
                        "the files outside data/ hold more than the {MAX_TAG_BYTES} bytes a package may have"
                    ),
                ));
            }
            MAX_TAG_FILE_BYTES
        };
        if *size > limit {
            return Err(refused(
                path,
                format!("{size} bytes in the store, more than the {limit} bytes the package may hold there"),
            ));
        }
        plan.push((path.to_owned(), limit));
    }
    Ok(plan)
}

fn pull_into(package: &S3Package, plan: &[(String, u64)], dir: &Path) -> Result<PulledPackage, S3Error> {
    let local = PackageDir::open(dir)?;
    let mut pulled = PulledPackage { url: package.url().clone(), dir: dir.to_owned(), files: 0, bytes: 0 };
    for (path, limit) in plan {
        let path = path.as_str();
        if let Some((parent, _)) = path.rsplit_once('/') {
            local.create_folders(parent)?;
        }
        let payload = package.open_payload(path)?;
        let PayloadBody::Stream(stream) = payload.body else {
            return Err(S3Error::Unsupported { path: path.to_owned(), reason: "not a stream".to_owned() });
        };
        if payload.size > *limit {
            return Err(S3Error::Refused {
                path: path.to_owned(),
                reason: format!(
                    "the store announces {} bytes, more than the {limit} bytes the package may hold there",
                    payload.size
                ),
            });
        }
        let mut file = local.create_for_copy(path)?;
        let io = |source| S3Error::Io { path: path.to_owned(), source };
        // One byte past the size HEAD reported (itself within the limit): a body longer than
        // announced is caught, and never more than that is read.
        let copied = std::io::copy(&mut stream.take(payload.size + 1), &mut file).map_err(io)?;
        if copied != payload.size {
            return Err(S3Error::Unsupported {
                path: path.to_owned(),
                reason: format!("the store announced {} bytes and sent {copied}", payload.size),
            });
        }
        file.flush().and_then(|()| file.sync_all()).map_err(io)?;
        pulled.files += 1;
        pulled.bytes += copied;
    }
    Ok(pulled)
}

/// The hex MD5 of `bytes`, and the same digest base64-encoded (for `Content-MD5`).
fn md5_of(bytes: &[u8]) -> ([u8; 16], String) {
    let digest: [u8; 16] = Md5::digest(bytes).into();
    (digest, base64::engine::general_purpose::STANDARD.encode(digest))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
