//! One package at a prefix, read through the [`PackageStore`] door, and finding packages
//! under a prefix.

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_types::byte_stream::ByteStream;
use custos_hash::EntryKind;
use custos_manifest::package::MANIFEST_PATH;
use custos_manifest::store::{PackageStore, Payload, PayloadBody, StoreError, StoredEntry, MAX_ENTRIES};

use crate::client::request_error;
use crate::url::segment_problem;
use crate::{S3Client, S3Error, S3Url};

/// The most bytes one ranged GET asks for: 8 MiB. A payload is read as a sequence of such
/// ranges, so a failed or stalled transfer is retried from where it stopped, not from the
/// start of a many-gigabyte object.
pub const RANGE_BYTES: u64 = 8 << 20;
/// A body that yields nothing for this long is abandoned and its range asked for again.
const STALL: Duration = Duration::from_secs(60);
/// The slowest a body may deliver on average (64 KiB/s): a store that trickles a byte every
/// few seconds, never stalling for [`STALL`], would otherwise hold a verification for days.
const MIN_BYTES_PER_SECOND: u64 = 64 << 10;

/// When a body of `bytes` must have arrived, if it is not to count as stalled.
fn body_deadline(bytes: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + STALL + Duration::from_secs(bytes / MIN_BYTES_PER_SECOND)
}
/// How many times one range is tried (on top of the SDK's own retries of each request).
const RANGE_ATTEMPTS: u32 = 4;
/// The `kind` of a listed object whose key is not a plain relative path: listed so that the
/// verifier reports it (as a special file), never mapped to a package path.
const REFUSED_KEY: &str = "store object under a key that is not a plain relative path (empty, `.` or `..` segments, a backslash or a control character)";

/// How one key of a listing maps to the package under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectPath<'k> {
    /// Not under the prefix.
    Outside,
    /// A zero-byte "folder" object (`…/`) some tools create: no file.
    FolderMarker,
    /// A plain relative path inside the package.
    Plain(&'k str),
    /// Under the prefix, but not a plain relative path: never read, reported.
    Refused {
        /// The key without the prefix.
        rest: &'k str,
        /// Why it is refused.
        reason: &'static str,
    },
}

/// Maps `key` (of `size` bytes) to its path in the package at `url`.
///
/// A hostile store can list any keys. `prefix/data/../x`, `prefix/data//x` or
/// `prefix/data/./x` would name different files to different readers (and `..` would climb
/// out of the package when pulled into a folder), so they are [`ObjectPath::Refused`], not
/// normalised.
pub fn object_path<'k>(url: &S3Url, key: &'k str, size: u64) -> ObjectPath<'k> {
    let Some(rest) = key.strip_prefix(url.key_prefix().as_str()) else {
        return ObjectPath::Outside;
    };
    if rest.is_empty() {
        return ObjectPath::FolderMarker;
    }
    if let Some(folder) = rest.strip_suffix('/') {
        if size == 0 && (folder.is_empty() || segment_problem(folder).is_none()) {
            return ObjectPath::FolderMarker;
        }
    }
    match segment_problem(rest) {
        None => ObjectPath::Plain(rest),
        Some(reason) => ObjectPath::Refused { rest, reason },
    }
}

/// The package at one `s3://bucket/prefix`, read through the store's API.
#[derive(Debug)]
pub struct S3Package {
    client: Arc<S3Client>,
    url: S3Url,
    range_bytes: u64,
    ranges: Arc<AtomicU64>,
}

impl S3Package {
    /// Opens the package at `url`, refusing a prefix without `custos/manifest.json`.
    pub fn open(client: Arc<S3Client>, url: S3Url) -> Result<S3Package, S3Error> {
        let package = S3Package::new(client, url);
        match package.head(MANIFEST_PATH) {
            Ok(_) => Ok(package),
            Err(S3Error::NotFound(_)) => Err(S3Error::NotAPackage(package.url.to_string())),
            Err(e) => Err(e),
        }
    }

    /// The package at `url`, without checking that one is there.
    pub fn new(client: Arc<S3Client>, url: S3Url) -> S3Package {
        S3Package { client, url, range_bytes: RANGE_BYTES, ranges: Arc::new(AtomicU64::new(0)) }
    }

    /// Reads payloads in ranges of `bytes` (at least 1, at most [`RANGE_BYTES`]) instead.
    pub fn with_range_bytes(mut self, bytes: u64) -> S3Package {
        self.range_bytes = bytes.clamp(1, RANGE_BYTES);
        self
    }

    /// Where the package is.
    pub fn url(&self) -> &S3Url {
        &self.url
    }

    /// How many ranged GETs payload reads have issued so far.
    pub fn ranged_gets(&self) -> u64 {
        self.ranges.load(Ordering::Relaxed)
    }

    /// The size and ETag of the object at `path`.
    fn head(&self, path: &str) -> Result<(u64, Option<String>), S3Error> {
        let key = self.url.key(path);
        let location = format!("s3://{}/{key}", self.url.bucket());
        let head = self
            .client
            .block_on(self.client.sdk().head_object().bucket(self.url.bucket()).key(&key).send())
            .map_err(|e| request_error(location, "HeadObject", e))?;
        let size = head.content_length().unwrap_or(0).max(0) as u64;
        Ok((size, head.e_tag().map(str::to_owned)))
    }

    /// Refuses a path that is not plain (the verifier only asks for listed ones; this keeps
    /// any other caller inside the prefix too).
    fn check(path: &str) -> Result<(), StoreError> {
        match segment_problem(path) {
            None => Ok(()),
            Some(reason) => Err(StoreError::BadPath { path: path.to_owned(), reason }),
        }
    }
}

impl PackageStore for S3Package {
    fn location(&self) -> String {
        self.url.to_string()
    }

    fn list(&self) -> Result<Vec<StoredEntry>, StoreError> {
        let keys = self
            .client
            .list_keys(self.url.bucket(), &self.url.key_prefix(), MAX_ENTRIES)
            .map_err(|e| e.into_store_error(&self.location()))?;
        let mut entries = Vec::with_capacity(keys.len());
        for (key, size) in &keys {
            match object_path(&self.url, key, *size) {
                ObjectPath::Outside | ObjectPath::FolderMarker => {}
                ObjectPath::Plain(path) => entries.push(StoredEntry {
                    path: path.as_bytes().to_vec(),
                    kind: EntryKind::File { size: *size },
                }),
                ObjectPath::Refused { rest, .. } => entries.push(StoredEntry {
                    path: rest.as_bytes().to_vec(),
                    kind: EntryKind::Special { kind: REFUSED_KEY },
                }),
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    fn read_small(&self, path: &str, cap: u64) -> Result<Vec<u8>, StoreError> {
        Self::check(path)?;
        let key = self.url.key(path);
        let location = format!("s3://{}/{key}", self.url.bucket());
        self.client.block_on(async {
            let object = self
                .client
                .sdk()
                .get_object()
                .bucket(self.url.bucket())
                .key(&key)
                .send()
                .await
                .map_err(|e| request_error(location.clone(), "GetObject", e).into_store_error(path))?;
            let announced = object.content_length().unwrap_or(0).max(0) as u64;
            if announced > cap {
                return Err(StoreError::TooLarge { path: path.to_owned(), size: announced, cap });
            }
            // The announced length is the store's word; stop one byte past the cap whatever
            // the body turns out to hold.
            let mut body = object.body;
            let mut bytes = Vec::with_capacity(announced as usize);
            let whole = body_deadline(announced.min(cap));
            loop {
                let deadline = whole.min(tokio::time::Instant::now() + STALL);
                let chunk = match tokio::time::timeout_at(deadline, body.next()).await {
                    Err(_) => return Err(stalled(path)),
                    Ok(None) => break,
                    Ok(Some(chunk)) => chunk.map_err(|e| transfer_error(path, e))?,
                };
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > cap {
                    return Err(StoreError::TooLarge {
                        path: path.to_owned(),
                        size: bytes.len() as u64,
                        cap,
                    });
                }
            }
            Ok(bytes)
        })
    }

    fn open_payload(&self, path: &str) -> Result<Payload, StoreError> {
        Self::check(path)?;
        let (size, etag) = self.head(path).map_err(|e| e.into_store_error(path))?;
        let reader = RangedReader {
            client: Arc::clone(&self.client),
            bucket: self.url.bucket().to_owned(),
            key: self.url.key(path),
            path: path.to_owned(),
            etag,
            size,
            position: 0,
            range_bytes: self.range_bytes,
            ranges: Arc::clone(&self.ranges),
            body: None,
            range_end: 0,
            chunk: bytes::Bytes::new(),
            attempts: 0,
            deadline: tokio::time::Instant::now(),
        };
        Ok(Payload { body: PayloadBody::Stream(Box::new(reader)), size, links: 1 })
    }

    fn read_lock(&self) -> Result<Option<std::fs::File>, StoreError> {
        // Objects have no shared lock; a package in a store is written once (push refuses to
        // overwrite) and custody is not appended there.
        Ok(None)
    }
}

/// The range `[start, end)` to ask for next when `position` bytes of a `size`-byte object
/// are read, at most `range_bytes` long; `None` at the end.
pub(crate) fn next_range(position: u64, size: u64, range_bytes: u64) -> Option<(u64, u64)> {
    (position < size).then(|| (position, size.min(position.saturating_add(range_bytes.max(1)))))
}

/// A payload object read as sequential ranged GETs: at most one range's body is open at a
/// time and only the chunk in hand is held, so memory stays bounded whatever the object's
/// size. Each range is asked with `If-Match` on the ETag seen by HEAD, so an object replaced
/// while it is read fails instead of yielding a mix of two objects' bytes.
struct RangedReader {
    client: Arc<S3Client>,
    bucket: String,
    key: String,
    path: String,
    etag: Option<String>,
    size: u64,
    position: u64,
    range_bytes: u64,
    ranges: Arc<AtomicU64>,
    body: Option<ByteStream>,
    range_end: u64,
    chunk: bytes::Bytes,
    attempts: u32,
    /// When the open range's body must have arrived ([`body_deadline`]).
    deadline: tokio::time::Instant,
}

/// Why a range failed, and whether asking again can help.
enum RangeError {
    Retry(String),
    Fatal(std::io::Error),
}

impl RangedReader {
    /// Opens the body of the next range from the current position.
    fn open_range(&mut self) -> Result<(), RangeError> {
        let Some((start, end)) = next_range(self.position, self.size, self.range_bytes) else {
            return Ok(());
        };
        self.ranges.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .client
            .sdk()
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(format!("bytes={start}-{}", end - 1));
        if let Some(etag) = &self.etag {
            request = request.if_match(etag);
        }
        let location = format!("s3://{}/{}", self.bucket, self.key);
        match self.client.block_on(request.send()) {
            Ok(object) => {
                // A store that ignores Range answers 200 with the whole object: refuse it
                // rather than read (or buffer) more than asked for.
                let length = object.content_length().unwrap_or(-1);
                if length >= 0 && length as u64 != end - start {
                    return Err(RangeError::Fatal(std::io::Error::other(format!(
                        "{}: asked for bytes {start}-{} and the store answered {length} bytes",
                        self.path,
                        end - 1
                    ))));
                }
                self.body = Some(object.body);
                self.range_end = end;
                self.deadline = body_deadline(end - start);
                Ok(())
            }
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let error = request_error(location, "GetObject", e);
                match status {
                    Some(404) | Some(412) | Some(416) => {
                        Err(RangeError::Fatal(std::io::Error::other(match status {
                            Some(412) => format!("{}: the object changed while it was being read", self.path),
                            _ => format!("{}: {error}", self.path),
                        })))
                    }
                    _ => Err(RangeError::Retry(error.to_string())),
                }
            }
        }
    }

    /// The next chunk of the open range's body (empty at its end).
    fn next_chunk(&mut self) -> Result<bytes::Bytes, RangeError> {
        let Some(body) = self.body.as_mut() else { return Ok(bytes::Bytes::new()) };
        let deadline = self.deadline.min(tokio::time::Instant::now() + STALL);
        let next = self.client.block_on(async { tokio::time::timeout_at(deadline, body.next()).await });
        match next {
            Err(_) => Err(RangeError::Retry(format!(
                "no bytes for {} s, or fewer than {} KiB/s",
                STALL.as_secs(),
                MIN_BYTES_PER_SECOND >> 10
            ))),
            Ok(None) if self.position < self.range_end => Err(RangeError::Retry(format!(
                "the body ended {} bytes early",
                self.range_end - self.position
            ))),
            Ok(None) => {
                self.body = None;
                self.attempts = 0;
                Ok(bytes::Bytes::new())
            }
            Ok(Some(Err(e))) => Err(RangeError::Retry(e.to_string())),
            Ok(Some(Ok(chunk))) if self.position + chunk.len() as u64 > self.range_end => {
                Err(RangeError::Fatal(std::io::Error::other(format!(
                    "{}: the store sent more bytes than the range asked for",
                    self.path
                ))))
            }
            Ok(Some(Ok(chunk))) => Ok(chunk),
        }
    }
}

impl Read for RangedReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if !self.chunk.is_empty() {
                let n = buffer.len().min(self.chunk.len());
                buffer[..n].copy_from_slice(&self.chunk.split_to(n));
                self.position += n as u64;
                return Ok(n);
            }
            if self.position >= self.size || buffer.is_empty() {
                return Ok(0);
            }
            let step = if self.body.is_none() {
                self.open_range()
            } else {
                self.next_chunk().map(|c| self.chunk = c)
            };
            match step {
                Ok(()) => {}
                Err(RangeError::Fatal(e)) => return Err(e),
                Err(RangeError::Retry(reason)) => {
                    // Start the range again from where the bytes stopped, after a backoff.
                    self.body = None;
                    self.attempts += 1;
                    if self.attempts >= RANGE_ATTEMPTS {
                        return Err(std::io::Error::other(format!(
                            "{}: reading bytes from {} failed {} times: {reason}",
                            self.path, self.position, self.attempts
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(250 << self.attempts));
                }
            }
        }
    }
}

fn stalled(path: &str) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no bytes for {} s, or fewer than {} KiB/s", STALL.as_secs(), MIN_BYTES_PER_SECOND >> 10),
        ),
    }
}

fn transfer_error(path: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Io { path: path.to_owned(), source: std::io::Error::other(error.to_string()) }
}

/// Every package under `root` (a prefix holding `custos/manifest.json`), sorted; a package
/// inside another package's folders is part of that one, not listed on its own. Prefixes
/// that are not plain paths are skipped: no package could be opened there.
pub fn find_packages(client: &S3Client, root: &S3Url) -> Result<Vec<S3Url>, S3Error> {
    let suffix = MANIFEST_PATH;
    let keys = client.block_on(async {
        let mut found = BTreeSet::new();
        let mut pages = client
            .sdk()
            .list_objects_v2()
            .bucket(root.bucket())
            .prefix(root.key_prefix())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| request_error(root.to_string(), "ListObjectsV2", e))?;
            for key in page.contents().iter().filter_map(|o| o.key()) {
                let Some(rest) = key.strip_prefix(root.key_prefix().as_str()) else { continue };
                let Some(above) = rest.strip_suffix(suffix) else { continue };
                if above.is_empty() {
                    found.insert(String::new());
                } else if let Some(folder) = above.strip_suffix('/') {
                    if segment_problem(folder).is_none() {
                        found.insert(folder.to_owned());
                    }
                }
            }
        }
        Ok::<_, S3Error>(found)
    })?;
    let inside_another = |folder: &str| {
        keys.contains("") && !folder.is_empty()
            || folder.match_indices('/').any(|(at, _)| keys.contains(&folder[..at]))
    };
    Ok(keys
        .iter()
        .filter(|folder| !inside_another(folder))
        .map(|folder| if folder.is_empty() { root.clone() } else { root.join(folder) })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_never_exceed_the_bound() {
        let size = 40 * (1 << 20) + 17;
        let mut position = 0;
        let mut count = 0;
        while let Some((start, end)) = next_range(position, size, RANGE_BYTES) {
            assert_eq!(start, position);
            assert!(end - start <= RANGE_BYTES && end > start);
            position = end;
            count += 1;
        }
        assert_eq!((position, count), (size, 6));
        assert_eq!(next_range(0, 0, RANGE_BYTES), None);
        assert_eq!(next_range(5, 10, 0), Some((5, 6)));
        assert_eq!(next_range(u64::MAX - 1, u64::MAX, RANGE_BYTES), Some((u64::MAX - 1, u64::MAX)));
    }

    #[test]
    fn keys_map_only_to_plain_paths_under_the_prefix() {
        let url = S3Url::parse("s3://evidence/pkg").expect("url");
        assert_eq!(object_path(&url, "pkg/data/a.bin", 3), ObjectPath::Plain("data/a.bin"));
        assert_eq!(object_path(&url, "pkg2/data/a.bin", 3), ObjectPath::Outside);
        assert_eq!(object_path(&url, "pkg", 3), ObjectPath::Outside);
        assert_eq!(object_path(&url, "pkg/", 0), ObjectPath::FolderMarker);
        assert_eq!(object_path(&url, "pkg/data/", 0), ObjectPath::FolderMarker);
        for hostile in
            ["pkg/data/../x", "pkg/../x", "pkg//x", "pkg/data//x", "pkg/./x", "pkg/data/x/", "pkg/a\\b"]
        {
            assert!(matches!(object_path(&url, hostile, 1), ObjectPath::Refused { .. }), "{hostile}");
        }
        assert!(matches!(object_path(&url, "pkg/data/../", 0), ObjectPath::Refused { .. }));
        let root = S3Url::parse("s3://evidence").expect("url");
        assert_eq!(object_path(&root, "data/a", 1), ObjectPath::Plain("data/a"));
        assert!(matches!(object_path(&root, "/data/a", 1), ObjectPath::Refused { .. }));
    }
}
