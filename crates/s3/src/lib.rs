//! Evidence packages on S3-compatible object stores.
//!
//! A package at `s3://bucket/prefix` is the objects whose keys start with `prefix/`; the rest
//! of each key is the file's path in the package. [`S3Package`] is the store's
//! [`PackageStore`](custos_manifest::store::PackageStore), so the verifier judges a package in
//! a bucket with exactly the code it uses for a folder: the listing comes from
//! ListObjectsV2, small files from capped GETs, payloads from sequential ranged GETs of at
//! most [`RANGE_BYTES`] each (memory stays bounded whatever an object's size).
//!
//! The store is not trusted: it can serve any bytes, like anyone else holding a package.
//! What makes a package trustworthy is its signed manifest, which the verifier checks; this
//! crate's job is only never to let a key outside `prefix/`, or a key that is not a plain
//! relative path, be mistaken for a package file ([`S3Package::list`]).
//!
//! [`push`] uploads a local package (each object's MD5 sent as `Content-MD5`, which the store
//! checks, and the ETag it answers compared with it), optionally under Object Lock retention
//! and legal hold, read back from the store afterwards; [`pull`] downloads one into a new
//! folder. The SDK is asynchronous; [`S3Client`] owns a small tokio runtime and offers a
//! blocking API, so the rest of Custos stays synchronous.

mod client;
mod package;
mod transfer;
mod url;

pub use client::S3Client;
pub use package::{find_packages, object_path, S3Package, RANGE_BYTES};
pub use transfer::{
    pull, push, LockMode, PulledPackage, PushReport, PushedObject, Retention, RetentionReadback,
};
pub use url::S3Url;

use custos_manifest::store::StoreError;

/// Why an S3 operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    /// Not an `s3://bucket/prefix` location Custos accepts.
    #[error("{url}: not a usable s3:// location ({reason})")]
    BadUrl {
        /// What was given.
        url: String,
        /// Why not.
        reason: &'static str,
    },
    /// The AWS configuration (environment, profile) could not be used.
    #[error("S3 configuration: {0}")]
    Config(String),
    /// The store answered with an error, or could not be reached, after the retries.
    #[error("{location}: {operation} failed: {message}")]
    Request {
        /// Bucket and key (or prefix).
        location: String,
        /// The S3 operation.
        operation: &'static str,
        /// The store's or the transport's error.
        message: String,
    },
    /// No object (or no package) there.
    #[error("{0}: not found")]
    NotFound(String),
    /// Not a package: no `custos/manifest.json` under the prefix.
    #[error("{0} is not an evidence package (no custos/manifest.json under the prefix)")]
    NotAPackage(String),
    /// The destination already holds objects; a package is never overwritten or merged.
    #[error("{0}: objects already exist under this prefix; a package is never overwritten or merged into")]
    Exists(String),
    /// What the store says it stored is not what was sent.
    #[error("{key}: the store answered {what} {answered}, but the bytes sent have {computed}; the upload is not trusted")]
    ChecksumMismatch {
        /// The object.
        key: String,
        /// Which checksum (ETag, SHA-256).
        what: &'static str,
        /// What the store answered.
        answered: String,
        /// What was computed from the bytes sent.
        computed: String,
    },
    /// Retention or a legal hold was asked for, but the bucket has no Object Lock.
    #[error("the bucket {bucket} does not have Object Lock enabled, so no retention or legal hold can protect objects in it (Object Lock is turned on when a bucket is created): push to a bucket created with Object Lock, or without --retain-until and --legal-hold; nothing was uploaded")]
    NoObjectLock {
        /// The bucket.
        bucket: String,
    },
    /// The store did not report the retention or legal hold it was asked to apply.
    #[error("{key}: asked for {asked}, but the store reports {reported}")]
    RetentionNotApplied {
        /// The object.
        key: String,
        /// What was asked for.
        asked: String,
        /// What the store says.
        reported: String,
    },
    /// A pull refused before anything was fetched, or cut off: the signed manifest does not
    /// verify, or the store holds an object the package may not (unlisted, or too large).
    #[error("{path}: {reason}; nothing was pulled")]
    Refused {
        /// The object, or the package.
        path: String,
        /// Why.
        reason: String,
    },
    /// The package cannot be pushed or pulled as it is.
    #[error("{path}: {reason}")]
    Unsupported {
        /// The file or key.
        path: String,
        /// Why.
        reason: String,
    },
    /// Local files (a package to push, a folder to pull into).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Local I/O.
    #[error("{path}: {source}")]
    Io {
        /// The local path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl S3Error {
    /// The error as the package store's error type (what [`PackageStore`] methods return):
    /// a missing object stays "not found", anything else is an I/O error naming the path.
    ///
    /// [`PackageStore`]: custos_manifest::store::PackageStore
    pub(crate) fn into_store_error(self, path: &str) -> StoreError {
        match self {
            S3Error::NotFound(_) => StoreError::NotFound { path: path.to_owned() },
            S3Error::Store(e) => e,
            other => {
                StoreError::Io { path: path.to_owned(), source: std::io::Error::other(other.to_string()) }
            }
        }
    }
}
