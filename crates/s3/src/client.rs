//! A blocking S3 client: the AWS SDK with its own small tokio runtime.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::S3Error;

/// How many times a request is tried (the first and four retries, with the SDK's
/// exponential backoff and jitter) unless `AWS_MAX_ATTEMPTS` or a profile says otherwise.
const MAX_ATTEMPTS: u32 = 5;

/// A connection to one S3-compatible endpoint, configured like the AWS CLI: from
/// `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`), `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_PROFILE` and the
/// profile files. Every method blocks; none may be called from inside an async runtime.
#[derive(Debug)]
pub struct S3Client {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
    custom_endpoint: bool,
}

impl S3Client {
    /// Reads the configuration from the environment and the AWS profile files.
    ///
    /// For a custom endpoint (anything but AWS itself) requests use path-style addressing
    /// (`endpoint/bucket/key`: stores on a plain host name have no per-bucket DNS names), and
    /// checksums are sent and checked only where an operation requires them: since aws-sdk-s3
    /// 1.69 the SDK adds CRC32 checksums to every upload by default, which many non-AWS stores
    /// reject. Integrity on upload does not depend on it: [`crate::push`] sends `Content-MD5`
    /// itself.
    pub fn from_env() -> Result<S3Client, S3Error> {
        S3Client::build(|loader| loader)
    }

    /// A client for `endpoint` with these static credentials (tests, and callers that
    /// configure the store themselves); everything else as [`S3Client::from_env`] does it.
    pub fn for_endpoint(
        endpoint: &str,
        region: &str,
        access_key: &str,
        secret_key: &str,
    ) -> Result<S3Client, S3Error> {
        let credentials = aws_sdk_s3::config::Credentials::new(access_key, secret_key, None, None, "custos");
        let (endpoint, region) = (endpoint.to_owned(), region.to_owned());
        S3Client::build(move |loader| {
            loader.endpoint_url(endpoint).region(Region::new(region)).credentials_provider(credentials)
        })
    }

    fn build(
        configure: impl FnOnce(aws_config::ConfigLoader) -> aws_config::ConfigLoader,
    ) -> Result<S3Client, S3Error> {
        // Two workers: audits read several packages from several threads at once, and each
        // blocking call needs the runtime's I/O driver to make progress.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("custos-s3")
            .enable_all()
            .build()
            .map_err(|e| S3Error::Config(format!("cannot start the I/O runtime: {e}")))?;
        let shared =
            runtime.block_on(configure(aws_config::defaults(aws_config::BehaviorVersion::latest())).load());
        let custom_endpoint =
            shared.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let mut builder = aws_sdk_s3::config::Builder::from(&shared).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                // One attempt of one request, up to the start of its body; body reads have
                // their own stall timeout (see the payload reader).
                .operation_attempt_timeout(Duration::from_secs(120))
                .build(),
        );
        if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() {
            builder = builder.retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        }
        if shared.region().is_none() {
            // A local store rarely cares; SigV4 still needs a region to sign with.
            builder = builder.region(Region::from_static("us-east-1"));
        }
        if custom_endpoint {
            builder = builder
                .force_path_style(true)
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        let client = aws_sdk_s3::Client::from_conf(builder.build());
        Ok(S3Client { runtime, client, custom_endpoint })
    }

    /// One client for the whole process, made from the environment on first use: an audit
    /// opening thousands of packages must not start a runtime and read the profile files for
    /// each.
    pub fn shared() -> Result<Arc<S3Client>, S3Error> {
        static SHARED: OnceLock<Arc<S3Client>> = OnceLock::new();
        if let Some(client) = SHARED.get() {
            return Ok(Arc::clone(client));
        }
        let client = Arc::new(S3Client::from_env()?);
        Ok(Arc::clone(SHARED.get_or_init(|| client)))
    }

    /// Whether the endpoint is a custom one (path-style, checksums only when required).
    pub fn custom_endpoint(&self) -> bool {
        self.custom_endpoint
    }

    /// The SDK client (for callers that need an operation this crate does not wrap).
    pub fn sdk(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// Runs `future` to completion on the client's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Every key under `prefix` (ListObjectsV2, all pages), with its size; at most `cap`
    /// keys (more is an error: a listing must not grow memory without bound).
    pub(crate) fn list_keys(
        &self,
        bucket: &str,
        prefix: &str,
        cap: usize,
    ) -> Result<Vec<(String, u64)>, S3Error> {
        let location = format!("s3://{bucket}/{prefix}");
        self.block_on(async {
            let mut keys = Vec::new();
            let mut pages =
                self.client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| request_error(location.clone(), "ListObjectsV2", e))?;
                for object in page.contents() {
                    let Some(key) = object.key() else { continue };
                    keys.push((key.to_owned(), object.size().unwrap_or(0).max(0) as u64));
                    if keys.len() > cap {
                        return Err(S3Error::Unsupported {
                            path: location.clone(),
                            reason: format!("more than {cap} objects under this prefix"),
                        });
                    }
                }
            }
            Ok(keys)
        })
    }
}

/// An SDK error as an [`S3Error`]: "not found" (404, `NoSuchKey`, `NoSuchBucket`) kept apart,
/// anything else with the SDK's whole error chain (the store's code and message).
pub(crate) fn request_error<E>(
    location: String,
    operation: &'static str,
    error: SdkError<E, HttpResponse>,
) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = error.raw_response().map(|response| response.status().as_u16());
    if status == Some(404) || matches!(error.code(), Some("NoSuchKey" | "NotFound" | "NoSuchBucket")) {
        return S3Error::NotFound(location);
    }
    S3Error::Request { location, operation, message: DisplayErrorContext(&error).to_string() }
}
