//! `custos acquire` against NIST CFTT's disk-imaging requirements, end to end: every visible
//! sector acquired (sizes that are no multiple of any block size, loop devices with 512- and
//! 4096-byte sectors, sector counts equal to `blockdev --getsz`), digests equal to
//! `sha256sum`'s, unreadable sectors (real EIO from a FUSE file) filled and recorded exactly
//! with no readable byte lost or shifted, `--on-read-error stop`, a full destination, an
//! interrupted acquisition, and the source left unchanged. The packages must verify.
//!
//! Loop devices and FUSE need root, losetup and fusepy: these tests skip without them and
//! fail under `CUSTOS_INTEROP=require`, like every interop test.

#[path = "../crates/image/tests/support/fuse.rs"]
mod fuse;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{custos_in, skip_or_fail, Run};

fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let done = Command::new(program).args(args).output().map_err(|e| format!("{program}: {e}"))?;
    if !done.status.success() {
        return Err(format!("{program} {args:?}: {}", String::from_utf8_lossy(&done.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&done.stdout).trim().to_owned())
}

fn is_root() -> bool {
    output("id", &["-u"]).is_ok_and(|uid| uid == "0")
}

fn sha256_hex_of(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256sum(path: &Path) -> String {
    let line = output("sha256sum", &[&path.to_string_lossy()]).expect("sha256sum");
    line.split_whitespace().next().expect("a digest").to_owned()
}

/// Bytes that are never zero, so a filled sector can never pass for data.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 + 1).collect()
}

fn acquire(dir: &Path, source: &str, extra: &[&str]) -> Run {
    let mut args =
        vec!["acquire", "--key", "rfc8032-test1", "--case", "ACQ-1", "--legal-basis", "warrant:W-1"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", "pkg", source]);
    custos_in(dir, &args)
}

/// The signed acquisition record of the package's only item.
fn record(dir: &Path) -> serde_json::Value {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("pkg/custos/manifest.json")).expect("manifest"))
            .expect("JSON");
    manifest["items"][0]["acquisition"].clone()
}

fn verify(dir: &Path) -> Run {
    custos_in(dir, &["verify", "pkg", "--trust", "rfc8032-test1.pub"])
}

fn item_sha256(dir: &Path) -> String {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("pkg/custos/manifest.json")).expect("manifest"))
            .expect("JSON");
    manifest["items"][0]["digests"]["sha256"].as_str().expect("sha256").to_owned()
}

#[test]
fn cftt_a_file_of_a_size_no_block_divides_is_acquired_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let size = 1024 * 1024 + 300;
    support::write(d, "odd.img", &pattern(size));
    let before = sha256sum(&d.join("odd.img"));
    let made = acquire(d, "odd.img", &["--verify", "source,image", "--block-size", "64K"]);
    assert_eq!(made.code, 0, "{}{}", made.stdout, made.stderr);
    assert!(made.stderr.contains("substituted 0 bytes in 0 range(s)"), "{}", made.stderr);
    assert!(made.stderr.contains("the source read a second time matches the image"), "{}", made.stderr);
    let record = record(d);
    assert_eq!(record["bytes_read"], size as u64);
    assert_eq!(record["sector_count"], 2048);
    assert_eq!(record["sector_remainder_bytes"], 300, "the partial last sector is acquired, not padded");
    assert_eq!(record["image_verification"]["result"], "match");
    assert_eq!(record["source_verification"]["result"], "match");
    assert_eq!(record["parameters"]["block_size"], 65536);
    assert_eq!(item_sha256(d), before, "the image's digest is the source's, as sha256sum computes it");
    assert_eq!(sha256sum(&d.join("pkg/data/odd.img")), before, "the image is the source, byte for byte");
    assert_eq!(sha256sum(&d.join("odd.img")), before, "the source is unchanged");
    let verified = verify(d);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert!(verified.stdout.contains("pass  item.acquisition"), "{}", verified.stdout);
}

#[test]
fn a_stream_on_stdin_is_acquired_with_its_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let bytes = pattern(300_001);
    let made = support::run_with_stdin(
        support::custos().current_dir(d).args([
            "acquire",
            "--key",
            "rfc8032-test1",
            "--case",
            "ACQ-2",
            "--name",
            "stream.raw",
            "--out",
            "pkg",
            "-",
        ]),
        &bytes,
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    assert_eq!(std::fs::read(d.join("pkg/data/stream.raw")).expect("image"), bytes);
    assert_eq!(record(d)["source"]["kind"], "stdin");
    assert_eq!(verify(d).code, 0);
    // A stream cannot be read twice, and it needs a name.
    let twice = support::run_with_stdin(
        support::custos().current_dir(d).args([
            "acquire",
            "--key",
            "rfc8032-test1",
            "--case",
            "ACQ-2",
            "--name",
            "s.raw",
            "--verify",
            "source,image",
            "--out",
            "pkg2",
            "-",
        ]),
        &bytes,
    );
    assert_eq!(twice.code, 2);
    assert!(twice.stderr.contains("needs a source that can be read twice"), "{}", twice.stderr);
    let nameless = support::run_with_stdin(
        support::custos().current_dir(d).args([
            "acquire",
            "--key",
            "rfc8032-test1",
            "--case",
            "A",
            "--out",
            "pkg3",
            "-",
        ]),
        &bytes,
    );
    assert_eq!(nameless.code, 2);
    assert!(nameless.stderr.contains("--name"), "{}", nameless.stderr);
}

/// A loop device over a file, detached (and made writable again, since BLKROSET outlives the
/// attachment) when the test ends.
struct Loop {
    device: String,
}

impl Loop {
    fn attach(file: &Path, sector_size: u32) -> Result<Loop, String> {
        let device = output(
            "losetup",
            &["--find", "--show", "--sector-size", &sector_size.to_string(), &file.to_string_lossy()],
        )?;
        Ok(Loop { device })
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = output("blockdev", &["--setrw", &self.device]);
        let _ = output("losetup", &["-d", &self.device]);
    }
}

#[test]
fn cftt_every_visible_sector_of_a_loop_device_is_acquired_read_only() {
    if !is_root() {
        return skip_or_fail("loop devices need root");
    }
    for (sector, size) in [(512u32, 2 * 1024 * 1024 + 512), (4096, 1024 * 1024 + 3 * 4096)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        support::copy_test_keys(d);
        let backing = support::write(d, "backing.img", &pattern(size));
        let expected = sha256sum(&backing);
        let device = match Loop::attach(&backing, sector) {
            Ok(device) => device,
            Err(why) => return skip_or_fail(&format!("losetup: {why}")),
        };
        let made = acquire(d, &device.device, &["--verify", "source,image"]);
        assert_eq!(made.code, 0, "{sector}: {}{}", made.stdout, made.stderr);
        let record = record(d);
        let getsz: u64 =
            output("blockdev", &["--getsz", &device.device]).expect("blockdev").parse().expect("a count");
        assert_eq!(record["source"]["kind"], "block_device");
        assert_eq!(record["source"]["logical_sector_size"]["bytes"], sector);
        assert_eq!(
            record["sector_count"].as_u64().expect("sectors") * u64::from(sector),
            getsz * 512,
            "{sector}: the sector count is the device's (blockdev --getsz counts 512-byte units)"
        );
        assert_eq!(record["bytes_read"], size as u64);
        assert_eq!(item_sha256(d), expected, "{sector}: the image's digest is the device's");
        assert!(
            matches!(record["source"]["read_only"]["state"].as_str(), Some("set" | "already_set")),
            "{sector}: BLKROSET where permitted, and said: {}",
            record["source"]["read_only"]
        );
        assert_eq!(output("blockdev", &["--getro", &device.device]).as_deref(), Ok("1"));
        assert_eq!(sha256sum(&backing), expected, "{sector}: the source is unchanged");
        let name = Path::new(&device.device).file_name().expect("a name").to_string_lossy().into_owned();
        assert!(d.join(format!("pkg/data/{name}.raw")).is_file(), "a device's image is NAME.raw");
        let verified = verify(d);
        assert_eq!(verified.code, 0, "{sector}: {}", verified.stdout);
    }
}

#[test]
fn cftt_unreadable_sectors_are_filled_recorded_and_nothing_else_is_lost_or_shifted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let size: u64 = 1024 * 1024 + 700;
    // One byte in sector 195; sectors 976 to 978; a byte in the partial last sector.
    let bad = [(100_000, 100_001), (500_000, 501_000), (size - 5, size - 4)];
    let mount = match fuse::mount(&d.join("mnt"), size, &bad) {
        Ok(mount) => mount,
        Err(why) => return skip_or_fail(&why),
    };
    let source = mount.file();
    let made = acquire(d, &source.to_string_lossy(), &["--retries", "1"]);
    assert_eq!(made.code, 0, "{}{}", made.stdout, made.stderr);

    // Exactly the sectors touching a bad range are zeros; every other byte is the source's,
    // at its own offset.
    let mut expected = pattern(size as usize);
    let mut substituted = 0;
    for (start, end) in bad {
        let first = start / 512 * 512;
        let last = (end.div_ceil(512) * 512).min(size);
        expected[first as usize..last as usize].fill(0);
        substituted += last - first;
    }
    let image = std::fs::read(d.join("pkg/data/disk.img")).expect("image");
    assert_eq!(image.len(), expected.len(), "nothing lost or added");
    assert!(image == expected, "only the unreadable sectors are zeros");
    assert!(
        made.stderr.contains(&format!("substituted {} bytes", support_count(substituted)))
            && made.stderr.contains("in 3 range(s)"),
        "the summary says what was substituted: {}",
        made.stderr
    );
    assert!(made.stderr.contains("sectors 976 to 978"), "{}", made.stderr);

    let record = record(d);
    assert_eq!(record["bytes_substituted"], substituted);
    let ranges = record["read_errors"]["ranges"].as_array().expect("ranges");
    let starts: Vec<u64> = ranges.iter().map(|r| r["start_sector"].as_u64().expect("sector")).collect();
    assert_eq!(starts, [195, 976, (size - 5) / 512], "every unreadable range at its exact place");
    assert!(
        ranges.iter().all(|r| r["error"].as_str().is_some_and(|e| e.contains("os error 5"))),
        "{ranges:?}"
    );

    let verified = verify(d);
    assert_eq!(verified.code, 0, "a partial acquisition is a valid package: {}", verified.stdout);
    assert!(
        verified.stdout.contains("WARN  item.acquisition")
            && verified.stdout.contains("3 range(s) could not be read"),
        "verify names the filled ranges: {}",
        verified.stdout
    );
    let strict = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--strict"]);
    assert_eq!(strict.code, 1, "--strict fails a partial acquisition");

    // With the stop policy, acquisition stops at the first unreadable sector, says where,
    // and leaves nothing that looks like a package.
    let stopped = custos_in(
        d,
        &[
            "acquire",
            "--key",
            "rfc8032-test1",
            "--case",
            "ACQ-3",
            "--on-read-error",
            "stop",
            "--retries",
            "0",
            "--out",
            "stopped",
            &source.to_string_lossy(),
        ],
    );
    assert_eq!(stopped.code, 2, "{}", stopped.stderr);
    assert!(stopped.stderr.contains("nothing was sealed"), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("99840") || stopped.stderr.contains("sector 195"),
        "names the place: {}",
        stopped.stderr
    );
    assert!(!d.join("stopped").exists());
    let leftovers = std::fs::read_dir(d)
        .expect("list")
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains("custos-partial"));
    assert!(!leftovers, "no partial package left");
}

/// Unmounts its folder when dropped.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = output("umount", &[&self.0.to_string_lossy()]);
    }
}

/// The unfinished packages (hidden `.NAME.custos-partial-PID` folders) in `folder`.
fn unfinished_in(folder: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(folder)
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("custos-partial"))
        .collect()
}

/// A small tmpfs at `at` (a destination that fills up), or `None` after skipping (failing
/// under CUSTOS_INTEROP=require) where it cannot be mounted.
fn mount_tmpfs(at: &Path, size: &str) -> Option<Unmount> {
    std::fs::create_dir(at).expect("mount point");
    match output("mount", &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", &at.to_string_lossy()]) {
        Ok(_) => Some(Unmount(at.to_owned())),
        Err(why) => {
            skip_or_fail(&format!("cannot mount a tmpfs: {why}"));
            None
        }
    }
}

/// `2,101,473` as the summary prints counts.
fn support_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn cftt_a_full_destination_is_reported_and_leaves_nothing_that_verifies() {
    if !is_root() {
        return skip_or_fail("mounting a small file system needs root");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    support::write(d, "big.img", &pattern(3 * 1024 * 1024));
    let small = d.join("small");
    let Some(_unmount) = mount_tmpfs(&small, "1m") else { return };
    let made = custos_in(
        d,
        &["acquire", "--key", "rfc8032-test1", "--case", "ACQ-4", "--out", "small/pkg", "big.img"],
    );
    assert_eq!(made.code, 2, "{}", made.stderr);
    assert!(made.stderr.contains("No space left on device"), "says so: {}", made.stderr);
    let left: Vec<_> =
        std::fs::read_dir(&small).expect("list").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "nothing left on the full destination: {left:?}");
}

#[test]
fn an_acquisition_killed_at_any_point_never_leaves_a_package_that_verifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let source = std::fs::File::create(d.join("sparse.img")).expect("create");
    source.set_len(256 << 20).expect("size");
    let leftovers = || -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(d)
            .expect("list")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".pkg.custos-partial-"))
            })
            .collect();
        found.sort();
        found
    };
    let mut killed_midway = 0;
    for delay in [0u64, 20, 80, 150, 300, 600, 1000] {
        let mut child = support::custos()
            .current_dir(d)
            .args(["acquire", "--key", "rfc8032-test1", "--case", "K-1", "--out", "pkg", "sparse.img"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("acquire starts");
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL: no handler runs
        let _ = child.wait();
        if d.join("pkg").exists() {
            // It finished first: then it is a whole, verified package.
            assert_eq!(verify(d).code, 0, "a package that exists verifies");
            std::fs::remove_dir_all(d.join("pkg")).ok();
            continue;
        }
        // What a kill leaves is a hidden partial folder; neither it nor the package's name
        // verifies.
        for leftover in leftovers() {
            let name = leftover.file_name().expect("name").to_string_lossy().into_owned();
            let checked = custos_in(d, &["verify", &name, "--trust", "rfc8032-test1.pub"]);
            assert_eq!(
                checked.code, 2,
                "a partial folder never verifies: {}{}",
                checked.stdout, checked.stderr
            );
            assert!(
                checked.stderr.contains("is not an evidence package (no custos/manifest.json)"),
                "{}",
                checked.stderr
            );
        }
        killed_midway += usize::from(!leftovers().is_empty());
        let again = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
        assert_eq!(again.code, 2, "nothing is under the package's name");
        assert!(again.stderr.contains("pkg"), "{}", again.stderr);
    }
    assert!(killed_midway > 0, "at least one kill came while the acquisition was writing");
    // The next acquisition names every leftover and succeeds.
    let left = leftovers();
    let made = acquire(d, "sparse.img", &["--verify", "none"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    for leftover in &left {
        let name = leftover.file_name().expect("name").to_string_lossy().into_owned();
        assert!(
            made.stderr.contains(&name) && made.stderr.contains("left over from an interrupted seal"),
            "{name} is named: {}",
            made.stderr
        );
    }
    let verified = verify(d);
    assert_eq!(verified.code, 0);
    assert!(
        verified.stdout.contains("WARN  item.acquisition") && verified.stdout.contains("not read back"),
        "{}",
        verified.stdout
    );
}

/// The record inside a checkpoint file (one signed line).
fn checkpoint_payload(file: &[u8]) -> serde_json::Value {
    let line: serde_json::Value = serde_json::from_slice(file).expect("a signed line");
    assert_eq!(
        line["payload_type"], "application/vnd.custos.acquisition-checkpoint+json; version=2",
        "{line}"
    );
    serde_json::from_str(line["payload"].as_str().expect("payload text")).expect("JSON payload")
}

/// A checkpoint file holding `record`, signed as the examiner's key (RFC 8032 TEST 1) would.
fn sign_checkpoint(dir: &Path, record: &serde_json::Value) -> Vec<u8> {
    let text = std::fs::read_to_string(dir.join("rfc8032-test1.key")).expect("key");
    let key = custos_manifest::keys::open_secret_key(&text, None).expect("secret key");
    let payload = serde_json::to_string(record).expect("JSON");
    let mut line = custos_manifest::envelope::SignedLine::sign(
        custos_manifest::package::CHECKPOINT_PAYLOAD_TYPE,
        payload,
        &key,
    )
    .to_bytes()
    .expect("line");
    line.push(b'\n');
    line
}

#[test]
fn an_interrupted_acquisition_continues_with_resume_after_reading_back_what_it_wrote() {
    if !is_root() {
        return skip_or_fail("mounting a small file system needs root");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let source = pattern(4 * 1024 * 1024 + 512);
    support::write(d, "disk.img", &source);
    let small = d.join("small");
    let Some(_unmount) = mount_tmpfs(&small, "2m") else { return };
    let run = |extra: &[&str]| {
        let mut args = vec![
            "acquire",
            "--key",
            "rfc8032-test1",
            "--case",
            "RES-1",
            "--checkpoint-every",
            "256K",
            "--block-size",
            "64K",
            "-q",
            "--out",
            "small/pkg",
        ];
        args.extend_from_slice(extra);
        args.push("disk.img");
        custos_in(d, &args)
    };
    let nothing = run(&["--resume"]);
    assert_eq!(nothing.code, 2);
    assert!(nothing.stderr.contains("nothing to continue"), "{}", nothing.stderr);

    // The destination fills up: the unfinished package is kept (hidden, no manifest).
    let full = run(&[]);
    assert_eq!(full.code, 2, "{}", full.stderr);
    assert!(
        full.stderr.contains("No space left on device") && full.stderr.contains("--resume"),
        "{}",
        full.stderr
    );
    let unfinished = unfinished_in(&small);
    assert_eq!(unfinished.len(), 1, "{unfinished:?}");
    assert!(!small.join("pkg").exists());
    assert!(!unfinished[0].join("custos/manifest.json").exists(), "nothing there could verify");
    let checkpoint_path = unfinished[0].join("custos/acquisition-checkpoint.json");
    let genuine = std::fs::read(&checkpoint_path).expect("checkpoint");
    let checkpoint = checkpoint_payload(&genuine);
    let at = checkpoint["checkpoint"]["image_bytes"].as_u64().expect("bytes");
    assert!(at > 0 && at.is_multiple_of(256 << 10), "{checkpoint}");

    // Other parameters, or another source, are refused; the unfinished package stays.
    let other = run(&["--resume", "--algo", "md5"]);
    assert_eq!(other.code, 2);
    assert!(other.stderr.contains("algorithms was"), "names the parameter: {}", other.stderr);
    assert!(unfinished[0].exists());

    // A byte of what was written changed: refused before the source is read on, and kept
    // whole: nothing after the checkpoint is cut before the image matched it.
    let image = unfinished[0].join("data/disk.img");
    let written = std::fs::metadata(&image).expect("image").len();
    assert!(written > at, "the full destination took bytes after the checkpoint ({written} > {at})");
    support::flip_bit(&image, 1000);
    let changed = run(&["--resume"]);
    assert_eq!(changed.code, 2, "{}", changed.stderr);
    assert!(changed.stderr.contains("differs from its checkpoint"), "{}", changed.stderr);
    assert!(image.exists() && !small.join("pkg").exists());
    assert_eq!(std::fs::metadata(&image).expect("image").len(), written, "nothing was cut by a refusal");
    support::flip_bit(&image, 1000);

    // Class 1 (unsigned files decide nothing): a checkpoint edited by whoever can write the
    // destination (here, an unreadable range removed would have the continued acquisition
    // sign "every sector read"; any edit alike) is refused before anything is read or cut.
    let edited = {
        let mut c = checkpoint.clone();
        c["checkpoint"]["summary"]["retries_used"] = serde_json::json!(0);
        c["started_at"] = serde_json::json!("2026-01-01T00:00:00+00:00");
        let payload = serde_json::to_string(&c).expect("JSON");
        let mut line: serde_json::Value = serde_json::from_slice(&genuine).expect("a signed line");
        line["payload"] = serde_json::json!(payload);
        serde_json::to_vec(&line).expect("JSON")
    };
    std::fs::write(&checkpoint_path, &edited).expect("write");
    let forged = run(&["--resume"]);
    assert_eq!(forged.code, 2, "{}", forged.stderr);
    assert!(
        forged.stderr.contains("the checkpoint cannot be trusted")
            && forged.stderr.contains("does not verify"),
        "{}",
        forged.stderr
    );
    assert_eq!(std::fs::metadata(&image).expect("image").len(), written, "nothing was cut");
    // The old, unsigned form is refused alike.
    std::fs::write(&checkpoint_path, serde_json::to_vec(&checkpoint).expect("JSON")).expect("write");
    let unsigned = run(&["--resume"]);
    assert_eq!(unsigned.code, 2, "{}", unsigned.stderr);
    assert!(unsigned.stderr.contains("not a signed document"), "{}", unsigned.stderr);
    std::fs::write(&checkpoint_path, &genuine).expect("restore");

    // A checkpoint signed with the key (the examiner's own) that still lies about the
    // reading is refused by what the image holds, and the folder kept.
    let lie = |edit: &dyn Fn(&mut serde_json::Value), needle: &str| {
        let mut forged = checkpoint.clone();
        edit(&mut forged);
        std::fs::write(&checkpoint_path, sign_checkpoint(d, &forged)).expect("write");
        let done = run(&["--resume"]);
        assert_eq!(done.code, 2, "{}", done.stderr);
        assert!(done.stderr.contains(needle), "{needle}: {}", done.stderr);
        assert!(unfinished[0].join("data/disk.img").exists(), "kept after a refusal");
        std::fs::write(&checkpoint_path, &genuine).expect("restore");
    };
    lie(
        &|c| c["started_at"] = serde_json::json!("2099-01-01T00:00:00+00:00"),
        "which is not a time before now",
    );
    lie(
        &|c| {
            c["checkpoint"]["summary"]["read_errors"]["ranges"] = serde_json::json!([{
                "start_sector": 100, "sector_count": 8, "byte_offset": 51200, "byte_length": 4096, "error": "planted"
            }]);
            c["checkpoint"]["summary"]["bytes_substituted"] = serde_json::json!(4096);
        },
        "the image holds data there",
    );
    lie(&|c| c["checkpoint"]["summary"]["bytes_read"] = serde_json::json!(at + (1 << 20)), "were read but");
    // Anything the interrupted run did not write is refused.
    // (Empty: the destination is still full, since no refusal above cut the image.)
    support::write(&unfinished[0].join("custos"), "notes.txt", b"");
    let planted = run(&["--resume"]);
    assert_eq!(planted.code, 2);
    assert!(planted.stderr.contains("custos/notes.txt"), "{}", planted.stderr);
    std::fs::remove_file(unfinished[0].join("custos/notes.txt")).expect("remove");
    // A folder still being built (its lock held) is not taken over.
    let mut holder =
        Command::new("flock").arg("-o").arg(&unfinished[0]).args(["sleep", "30"]).spawn().expect("flock");
    // Until the holder has it (a second, non-blocking flock fails).
    let started = std::time::Instant::now();
    while Command::new("flock")
        .args(["-n"])
        .arg(&unfinished[0])
        .arg("true")
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(started.elapsed() < Duration::from_secs(20), "flock never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let busy = run(&["--resume"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(busy.code, 2);
    assert!(busy.stderr.contains("building this package right now"), "{}", busy.stderr);
    // A link in the unfinished folder's place is never followed.
    let moved = small.join("moved-away");
    std::fs::rename(&unfinished[0], &moved).expect("move");
    std::os::unix::fs::symlink(&moved, &unfinished[0]).expect("link");
    let linked = run(&["--resume"]);
    support::assert_refused(&linked, "is not a folder Custos made (a link in its place?)");
    assert_eq!(sha256sum(&d.join("disk.img")), sha256_hex_of(&source), "the source is untouched");
    std::fs::remove_file(&unfinished[0]).expect("unlink");
    std::fs::rename(&moved, &unfinished[0]).expect("move back");
    // The source changed (and its modification time put back): another source.
    let stamp = std::fs::metadata(d.join("disk.img")).expect("source").modified().expect("mtime");
    support::flip_bit(&d.join("disk.img"), 3_000_000);
    support::flip_bit(&d.join("disk.img"), 3_000_000);
    std::fs::File::options()
        .write(true)
        .open(d.join("disk.img"))
        .and_then(|f| f.set_modified(stamp))
        .expect("touch -r");
    let changed = run(&["--resume"]);
    assert_eq!(changed.code, 2);
    assert!(changed.stderr.contains("another source"), "{}", changed.stderr);
    // Continuing now needs the source's new identity: start its checkpoint from it.
    let renewed: serde_json::Value = {
        let mut c = checkpoint.clone();
        let identity = c["source"]["identity"].as_str().expect("identity").to_owned();
        let fresh = {
            use std::os::unix::fs::MetadataExt as _;
            let m = std::fs::metadata(d.join("disk.img")).expect("source");
            format!(
                "{}changed {}.{:09}",
                &identity[..identity.find("changed ").expect("changed")],
                m.ctime(),
                m.ctime_nsec()
            )
        };
        c["source"]["identity"] = serde_json::json!(fresh);
        c
    };
    std::fs::write(&checkpoint_path, sign_checkpoint(d, &renewed)).expect("write");

    // Room again: the acquisition continues from its checkpoint and the package verifies.
    output("mount", &["-o", "remount,size=32m", &small.to_string_lossy()]).expect("remount");
    let resumed = run(&["--resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let image = std::fs::read(small.join("pkg/data/disk.img")).expect("image");
    assert!(image == source, "the continued image is the source, byte for byte");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(small.join("pkg/custos/manifest.json")).expect("manifest"))
            .expect("JSON");
    let record = &manifest["items"][0]["acquisition"];
    assert_eq!(record["continued"]["from_byte"], at, "the record says where it continued");
    assert_eq!(record["bytes_read"], source.len() as u64);
    assert_eq!(manifest["items"][0]["digests"]["sha256"], sha256sum(&d.join("disk.img")));
    assert!(
        !small.join("pkg/custos/acquisition-checkpoint.json").exists(),
        "no checkpoint in a sealed package"
    );
    let verified = custos_in(d, &["verify", "small/pkg", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    let left = std::fs::read_dir(&small).expect("list").filter_map(|e| e.ok()).count();
    assert_eq!(left, 1, "only the package is left");
}

/// Red team (round 3): a destination with room for the image but not for the package around
/// it lost the whole image at the seal (the medium may be gone by then), and a continued run
/// failing there advised `--resume` after removing the checkpoint it needs. The image and
/// its checkpoint are kept now, and `--resume` seals them once there is room.
#[test]
fn class1_unsigned_a_destination_full_at_the_seal_keeps_the_image_and_resume_seals_it() {
    if !is_root() {
        return skip_or_fail("mounting a small file system needs root");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let source = pattern(3_000_000);
    support::write(d, "disk.img", &source);
    let small = d.join("small");
    // Room for the image's 733 pages and the checkpoint, not for the manifest, log and bag.
    let Some(_unmount) = mount_tmpfs(&small, "2944k") else { return };
    let run = |extra: &[&str]| {
        let mut args =
            vec!["acquire", "--key", "rfc8032-test1", "--case", "RES-2", "--checkpoint-every", "256K", "-q"];
        args.extend_from_slice(&["--out", "small/pkg"]);
        args.extend_from_slice(extra);
        args.push("disk.img");
        custos_in(d, &args)
    };
    let full = run(&[]);
    assert_eq!(full.code, 2, "{}", full.stderr);
    assert!(
        full.stderr.contains("No space left on device")
            && full.stderr.contains("kept in")
            && full.stderr.contains("--resume"),
        "{}",
        full.stderr
    );
    let unfinished = unfinished_in(&small);
    assert_eq!(unfinished.len(), 1, "the unfinished package is kept: {unfinished:?}");
    let image = std::fs::read(unfinished[0].join("data/disk.img")).expect("the image is kept");
    assert_eq!(image, source, "whole");
    assert!(unfinished[0].join("custos/acquisition-checkpoint.json").exists(), "and its checkpoint");
    assert!(!unfinished[0].join("custos/manifest.json").exists(), "nothing there could verify");

    // Room again: the continued run reads the image back against the checkpoint and seals.
    output("mount", &["-o", "remount,size=16m", &small.to_string_lossy()]).expect("remount");
    let resumed = run(&["--resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let checked = custos_in(d, &["verify", "small/pkg", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(checked.code, 0, "{}{}", checked.stdout, checked.stderr);
    assert!(!small.join("pkg/custos/acquisition-checkpoint.json").exists(), "no stray checkpoint");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(small.join("pkg/custos/manifest.json")).expect("manifest"))
            .expect("JSON");
    assert_eq!(manifest["items"][0]["digests"]["sha256"], sha256_hex_of(&source));
}

/// Red team (round 4): a case reference with a line break, or segments too small for the
/// source, refused the package only after the whole source was read, and the image was lost;
/// an unreachable time-stamping authority at the end lost it too. The first two are refused
/// before a byte is read (dry run alike); a failure after the image was read keeps it.
#[test]
fn class6_operator_what_would_refuse_the_package_is_refused_before_the_source_is_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let source = pattern(1_100_000);
    support::write(d, "disk.img", &source);
    let acquire = |extra: &[&str]| {
        let mut args = vec!["acquire", "--key", "rfc8032-test1", "-q", "--out", "pkg"];
        args.extend_from_slice(extra);
        custos_in(d, &args)
    };
    for dry in [true, false] {
        let with = |extra: &[&'static str]| {
            let mut args = extra.to_vec();
            if dry {
                args.push("--dry-run");
            }
            args.push("disk.img");
            acquire(&args)
        };
        support::assert_refused(&with(&["--case", "C\n1"]), "must be one line");
        support::assert_refused(&with(&["--case", "C", "--exhibit", "A\r1"]), "must be one line");
        support::assert_refused(&with(&["--case", "C", "--segment-size", "1"]), "more than the");
    }
    assert!(
        std::fs::read_dir(d).expect("list").all(|e| {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            !name.contains("pkg")
        }),
        "nothing was made"
    );

    // A stream read to its end, then the time-stamping authority cannot be reached: the
    // image, which cannot be read again, is kept.
    let stream = std::fs::File::open(d.join("disk.img")).expect("open");
    let run = support::custos()
        .current_dir(d)
        .args(["acquire", "-", "--name", "disk.raw", "--key", "rfc8032-test1", "--case", "C", "-q"])
        .args(["--out", "pkg", "--tsa", "http://127.0.0.1:1/"])
        .stdin(stream)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("time-stamping authority") && stderr.contains("is kept in"), "{stderr}");
    let kept = unfinished_in(d);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(kept[0].join("data/disk.raw")).expect("the image is kept"), source);
    assert!(!d.join("pkg").exists());
}
