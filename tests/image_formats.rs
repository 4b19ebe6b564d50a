//! Images kept in several files: `custos acquire --split` (raw parts) and `--format e01`
//! (an EnCase 6 compatible segment set, checked by libewf's `ewfverify`, `ewfinfo` and
//! `ewfexport`), `custos seal` of an E01 set (its media is the item) and `seal --reference`
//! of one (`verify --evidence`). Each part is bound by the signed manifest: a holder who
//! edits, swaps, cuts, drops or adds a part and rewrites every unsigned manifest is caught,
//! by name.

#[path = "../crates/image/tests/support/fuse.rs"]
mod fuse;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{custos_in, run, tool, Run};

/// Bytes that are never zero, so a filled sector can never pass for data.
fn pattern(len: usize) -> Vec<u8> {
    let mut bytes = support::noise(len, 7);
    for byte in &mut bytes {
        *byte |= 1;
    }
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn acquire(dir: &Path, source: &str, extra: &[&str]) -> Run {
    let mut args =
        vec!["acquire", "--key", "rfc8032-test1", "--case", "FMT-1", "--legal-basis", "warrant:W-1", "-q"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", "pkg", source]);
    custos_in(dir, &args)
}

fn verify(dir: &Path) -> Run {
    custos_in(dir, &["verify", "pkg", "--trust", "rfc8032-test1.pub"])
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("pkg/custos/manifest.json")).expect("manifest"))
        .expect("JSON")
}

fn required(name: &str) -> Option<PathBuf> {
    let found = tool(name);
    assert!(
        found.is_some() || !support::interop_required(),
        "CUSTOS_INTEROP=require, but {name} is not installed"
    );
    found
}

/// A copy of the package `pkg` in `dir`, as `name`, to attack.
fn copy_package(dir: &Path, name: &str) -> PathBuf {
    let target = dir.join(name);
    let done = run(Command::new("cp").arg("-a").arg(dir.join("pkg")).arg(&target));
    assert_eq!(done.code, 0, "{}", done.stderr);
    let chmod = run(Command::new("chmod").arg("-R").arg("u+w").arg(&target));
    assert_eq!(chmod.code, 0);
    target
}

fn verify_copy(dir: &Path, name: &str) -> Run {
    custos_in(dir, &["verify", name, "--trust", "rfc8032-test1.pub"])
}

fn assert_fails_naming(done: &Run, check: &str, path: &str) {
    assert_eq!(done.code, 1, "{}{}", done.stdout, done.stderr);
    let named = done.stdout.lines().any(|l| l.starts_with("FAIL") && l.contains(check) && l.contains(path));
    assert!(named, "a FAIL {check} naming {path}: {}", done.stdout);
}

#[test]
fn cftt_split_parts_have_the_requested_size_and_the_manifest_records_the_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let size = 3 * 1024 * 1024 + 1000;
    let source = pattern(size);
    support::write(d, "disk.img", &source);
    let made = acquire(d, "disk.img", &["--split", "1M", "--algo", "md5,sha256,blake3"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let sizes: Vec<u64> = (1..=4)
        .map(|n| std::fs::metadata(d.join(format!("pkg/data/disk.img.{n:03}"))).expect("a part").len())
        .collect();
    assert_eq!(sizes, [1 << 20, 1 << 20, 1 << 20, 1000], "every part the size asked but the last");
    assert!(!d.join("pkg/data/disk.img.005").exists() && !d.join("pkg/data/disk.img").exists());
    let joined: Vec<u8> = (1..=4)
        .flat_map(|n| std::fs::read(d.join(format!("pkg/data/disk.img.{n:03}"))).expect("part"))
        .collect();
    assert!(joined == source, "the parts, concatenated, are the source byte for byte");
    let item = &manifest(d)["items"][0];
    assert_eq!(item["path"], "data/disk.img", "one item made of parts");
    assert_eq!(item["size"], size as u64);
    assert_eq!(item["digests"]["sha256"], sha256_hex(&source), "the digest of the whole");
    assert_eq!(item["stored_as"]["format"], "split");
    let parts = item["stored_as"]["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 4);
    assert_eq!(parts[1]["path"], "data/disk.img.002");
    assert_eq!(parts[1]["digests"]["sha256"], sha256_hex(&source[1 << 20..2 << 20]));
    assert_eq!(parts[3]["digests"]["md5"].as_str().map(str::len), Some(32));
    let record = &item["acquisition"];
    assert_eq!(record["image_format"]["part_size"], 1 << 20);
    assert_eq!(record["image_verification"]["files"], 4, "every part read back from disk");
    let verified = verify(d);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert!(verified.stdout.contains("item.part_digest"), "{}", verified.stdout);
    // sha256sum -c over the bag's own payload manifest agrees, part by part.
    let checked =
        run(Command::new("sha256sum").arg("-c").arg("manifest-sha256.txt").current_dir(d.join("pkg")));
    assert_eq!(checked.code, 0, "{}", checked.stdout);
    // A fixity check reads the parts as verify does, and a changed part is named.
    let copy = copy_package(d, "fixity");
    let fixity = |name: &str| {
        custos_in(d, &["custody", "record", name, "--key", "rfc8032-test1", "--action", "fixity_verified"])
    };
    let recorded = fixity("pkg");
    assert_eq!(recorded.code, 0, "{}{}", recorded.stdout, recorded.stderr);
    assert_eq!(verify(d).code, 0, "the fixity event verifies");
    support::flip_bit(&copy.join("data/disk.img.003"), 10);
    let refused = fixity("fixity");
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stdout.contains("data/disk.img.003"), "{}", refused.stdout);
    // --fast reads no part, and says so.
    let fast = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--fast"]);
    assert_eq!(fast.code, 0, "{}", fast.stdout);
    assert!(!fast.stdout.contains("item.part_digest"), "{}", fast.stdout);
}

#[test]
fn every_edit_to_a_split_image_is_caught_by_name_even_with_every_unsigned_manifest_rewritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    support::write(d, "disk.img", &pattern(3 << 20));
    let made = acquire(d, "disk.img", &["--split", "1M"]);
    assert_eq!(made.code, 0, "{}", made.stderr);

    // A flipped byte in the middle part.
    let flipped = copy_package(d, "flipped");
    support::flip_bit(&flipped.join("data/disk.img.002"), 12345);
    support::recompute_bag(&flipped);
    let done = verify_copy(d, "flipped");
    assert_fails_naming(&done, "item.part_digest", "data/disk.img.002");
    assert_fails_naming(&done, "item.digest", "data/disk.img");

    // Two parts of the same size swapped.
    let swapped = copy_package(d, "swapped");
    std::fs::rename(swapped.join("data/disk.img.001"), swapped.join("data/x")).expect("rename");
    std::fs::rename(swapped.join("data/disk.img.002"), swapped.join("data/disk.img.001")).expect("rename");
    std::fs::rename(swapped.join("data/x"), swapped.join("data/disk.img.002")).expect("rename");
    support::recompute_bag(&swapped);
    let done = verify_copy(d, "swapped");
    assert_fails_naming(&done, "item.part_digest", "data/disk.img.001");
    assert_fails_naming(&done, "item.digest", "data/disk.img");

    // The last part cut short, then dropped.
    let cut = copy_package(d, "cut");
    let last = cut.join("data/disk.img.003");
    let bytes = std::fs::read(&last).expect("part");
    std::fs::write(&last, &bytes[..1000]).expect("cut");
    support::recompute_bag(&cut);
    assert_fails_naming(&verify_copy(d, "cut"), "item.size", "data/disk.img.003");
    std::fs::remove_file(&last).expect("drop");
    support::recompute_bag(&cut);
    assert_fails_naming(&verify_copy(d, "cut"), "item.missing", "data/disk.img.003");

    // A part planted after the last, and a file at the item's own path.
    let planted = copy_package(d, "planted");
    support::write(&planted.join("data"), "disk.img.004", b"more");
    support::write(&planted.join("data"), "disk.img", b"the whole?");
    support::recompute_bag(&planted);
    let done = verify_copy(d, "planted");
    assert_fails_naming(&done, "manifest.coverage", "data/disk.img.004");
    assert_fails_naming(&done, "manifest.coverage", "data/disk.img");

    // A part replaced by a link to a good copy outside, and by a FIFO: refused, no hang.
    let linked = copy_package(d, "linked");
    std::fs::copy(linked.join("data/disk.img.002"), d.join("outside")).expect("copy");
    std::fs::remove_file(linked.join("data/disk.img.002")).expect("remove");
    std::os::unix::fs::symlink(d.join("outside"), linked.join("data/disk.img.002")).expect("link");
    assert_eq!(verify_copy(d, "linked").code, 1);
    std::fs::remove_file(linked.join("data/disk.img.002")).expect("remove");
    let fifo = run(Command::new("mkfifo").arg(linked.join("data/disk.img.002")));
    assert_eq!(fifo.code, 0);
    let done = support::run_with_deadline(
        d,
        &["verify", "linked", "--trust", "rfc8032-test1.pub"],
        std::time::Duration::from_secs(60),
    );
    assert_eq!(done.code, 1, "{}", done.stdout);
}

#[test]
fn e01_output_is_accepted_by_libewf_and_its_media_is_the_source() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    // Half noise, half zeros: chunks that deflate and chunks that do not.
    let mut source = pattern(3 << 20);
    source.extend(vec![0u8; 2 << 20]);
    support::write(d, "disk.img", &source);
    let made = acquire(d, "disk.img", &["--format", "e01", "--split", "1M", "--algo", "sha256,blake3"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let segments: Vec<PathBuf> =
        (1..=9).map(|n| d.join(format!("pkg/data/disk.img.E{n:02}"))).take_while(|p| p.exists()).collect();
    assert!(segments.len() >= 3, "the set is split into segments: {segments:?}");
    let item = &manifest(d)["items"][0];
    assert_eq!(item["path"], "data/disk.img.E01", "an E01 item is named by its first segment");
    assert_eq!(item["stored_as"]["format"], "e01");
    assert_eq!(item["stored_as"]["parts"].as_array().map(Vec::len), Some(segments.len()));
    assert_eq!(item["size"], source.len() as u64);
    assert_eq!(item["digests"]["sha256"], sha256_hex(&source), "the media's digest, not the container's");
    assert!(
        item["digests"]["md5"].is_string() && item["digests"]["sha1"].is_string(),
        "E01's own digests too"
    );
    assert_eq!(item["acquisition"]["image_format"]["format"], "e01");
    let verified = verify(d);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert!(verified.stdout.contains("pass  item.e01_stored_digest"), "{}", verified.stdout);
    let fixity =
        custos_in(d, &["custody", "record", "pkg", "--key", "rfc8032-test1", "--action", "fixity_verified"]);
    assert_eq!(fixity.code, 0, "an E01 item's fixity is its media's: {}{}", fixity.stdout, fixity.stderr);

    let first = segments[0].to_string_lossy().into_owned();
    if let Some(ewfverify) = required("ewfverify") {
        let done = run(Command::new(ewfverify).args(["-q", &first]));
        assert_eq!(done.code, 0, "ewfverify accepts it: {}{}", done.stdout, done.stderr);
        let md5 = item["digests"]["md5"].as_str().expect("md5");
        assert!(done.stdout.contains(md5), "ewfverify computes our MD5 {md5}: {}", done.stdout);
    }
    if let Some(ewfinfo) = required("ewfinfo") {
        let done = run(Command::new(ewfinfo).arg(&first));
        assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
        assert!(done.stdout.contains("FMT-1"), "the case number is inside: {}", done.stdout);
    }
    if let Some(ewfexport) = required("ewfexport") {
        let target = d.join("exported");
        let done =
            run(Command::new(ewfexport).args(["-u", "-q", "-f", "raw", "-t"]).arg(&target).arg(&first));
        assert_eq!(done.code, 0, "{}", done.stderr);
        let exported = std::fs::read(target.with_extension("raw")).expect("ewfexport output");
        assert!(exported == source, "ewfexport's media is the source, byte for byte");
    }
}

#[test]
fn e01_with_unreadable_sectors_records_them_in_error2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let size: u64 = 1024 * 1024;
    let mount = match fuse::mount(&d.join("mnt"), size, &[(100_000, 100_001), (500_000, 501_000)]) {
        Ok(mount) => mount,
        Err(why) => {
            assert!(!support::interop_required(), "CUSTOS_INTEROP=require, but: {why}");
            return eprintln!("skipping: {why}");
        }
    };
    let made = acquire(d, &mount.file().to_string_lossy(), &["--format", "e01", "--retries", "0"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let verified = verify(d);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert!(verified.stdout.contains("WARN  item.acquisition"), "{}", verified.stdout);
    if let Some(ewfinfo) = required("ewfinfo") {
        let done = run(Command::new(ewfinfo).arg(d.join("pkg/data/disk.img.E01")));
        assert_eq!(done.code, 0, "{}", done.stderr);
        assert!(
            done.stdout.contains("at sector(s): 195 - 195")
                && done.stdout.contains("at sector(s): 976 - 978"),
            "libewf reads the filled ranges from error2: {}",
            done.stdout
        );
    }
}

#[test]
fn every_edit_to_an_e01_set_is_caught_by_name_container_damage_apart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    support::write(d, "disk.img", &pattern(3 << 20));
    let made = acquire(d, "disk.img", &["--format", "e01", "--split", "1M", "--compression", "none"]);
    assert_eq!(made.code, 0, "{}", made.stderr);

    // A flipped byte inside a chunk of the second segment.
    let flipped = copy_package(d, "flipped");
    support::flip_bit(&flipped.join("data/disk.img.E02"), 200_000);
    support::recompute_bag(&flipped);
    let done = verify_copy(d, "flipped");
    assert_fails_naming(&done, "item.part_digest", "data/disk.img.E02");
    assert_fails_naming(&done, "item.container", "data/disk.img.E01");
    assert!(done.stdout.contains("container damage"), "{}", done.stdout);

    // A segment cut short.
    let cut = copy_package(d, "cut");
    let second = cut.join("data/disk.img.E02");
    let bytes = std::fs::read(&second).expect("segment");
    std::fs::write(&second, &bytes[..bytes.len() / 2]).expect("cut");
    support::recompute_bag(&cut);
    assert_fails_naming(&verify_copy(d, "cut"), "item.size", "data/disk.img.E02");

    // Another acquisition of the same media (a valid set, other container bytes) put in.
    let other = d.join("other");
    std::fs::create_dir(&other).expect("folder");
    support::copy_test_keys(&other);
    support::write(&other, "disk.img", &pattern(3 << 20));
    assert_eq!(
        acquire(&other, "disk.img", &["--format", "e01", "--split", "1M", "--compression", "none"]).code,
        0
    );
    let replaced = copy_package(d, "replaced");
    for entry in std::fs::read_dir(other.join("pkg/data")).expect("list") {
        let entry = entry.expect("entry");
        let target = replaced.join("data").join(entry.file_name());
        std::fs::remove_file(&target).expect("remove");
        std::fs::copy(entry.path(), &target).expect("copy");
    }
    support::recompute_bag(&replaced);
    let done = verify_copy(d, "replaced");
    // The header sections hold the acquisition time, so the other set's files differ in
    // their bytes and often in their sizes: either way a file is named.
    let same_sizes = done.stdout.lines().all(|l| !(l.starts_with("FAIL") && l.contains("item.size")));
    if same_sizes {
        assert_fails_naming(&done, "item.part_digest", "data/disk.img.E01");
        assert!(
            done.stdout.contains("pass  item.digest"),
            "the media is the same, which verify says, but the files are not the ones sealed: {}",
            done.stdout
        );
    } else {
        assert_fails_naming(&done, "item.size", "data/disk.img.E0");
    }
}

fn readme_row(name: &str) -> (u64, String) {
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-images/e01");
    let readme = std::fs::read_to_string(images.join("README.md")).expect("README");
    let row = readme.lines().find(|l| l.contains(&format!("`{name}`"))).expect("a README row");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    (cells[2].parse().expect("a size"), cells[3].to_owned())
}

#[test]
fn sealing_an_e01_set_records_its_media_and_its_files_and_a_reference_verifies_with_evidence() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    support::copy_test_keys(d);
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-images/e01");
    std::fs::create_dir(d.join("set")).expect("folder");
    for n in 1..=8 {
        std::fs::copy(images.join(format!("multi.E0{n}")), d.join(format!("set/multi.E0{n}"))).expect("copy");
    }
    let seal = |out: &str, extra: &[&str]| {
        let mut args = vec!["seal", "--key", "rfc8032-test1", "--case", "FMT-2", "-q", "--out", out];
        args.extend_from_slice(extra);
        args.push("set/multi.E01");
        custos_in(d, &args)
    };
    let sealed = seal("pkg", &[]);
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let (size, sha256) = readme_row("multi.E01");
    let item = &manifest(d)["items"][0];
    assert_eq!(item["path"], "data/multi.E01");
    assert_eq!(item["size"], size, "the media's size");
    assert_eq!(item["digests"]["sha256"], sha256, "the media's SHA-256, as ewfexport's raw output has it");
    let parts = item["stored_as"]["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 8, "every segment copied");
    let second = std::fs::read(d.join("set/multi.E02")).expect("segment");
    assert_eq!(parts[1]["digests"]["sha256"], sha256_hex(&second), "each container file's own digest");
    let verified = verify(d);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    // multi.E01's error2 section says sector 100 could not be read when it was made: signed,
    // and said at every verification.
    assert_eq!(item["stored_as"]["filled_sectors"], serde_json::json!([[100, 1]]));
    assert!(
        verified.stdout.contains("WARN  item.e01_filled_sectors") && verified.stdout.contains("100-100"),
        "{}",
        verified.stdout
    );

    // Kept where it is: verify --evidence reads the set there, and catches a changed byte.
    let referenced = seal("ref", &["--reference"]);
    assert_eq!(referenced.code, 0, "{}", referenced.stderr);
    let check = |evidence: &str| {
        custos_in(d, &["verify", "ref", "--trust", "rfc8032-test1.pub", "--evidence", evidence])
    };
    let done = check("set");
    assert_eq!(done.code, 0, "{}", done.stdout);
    assert!(
        done.stdout.contains("item.part_digest") && done.stdout.contains("item.digest"),
        "{}",
        done.stdout
    );
    support::flip_bit(&d.join("set/multi.E05"), 1500);
    let done = check("set");
    assert_eq!(done.code, 1, "{}", done.stdout);
    assert!(done.stdout.contains("multi.E05"), "the changed file is named: {}", done.stdout);

    support::flip_bit(&d.join("set/multi.E05"), 1500);
    assert_eq!(check("set").code, 0, "restored");

    // The file named is the one read: a stand-in of the first segment's size is caught.
    let first_size = std::fs::metadata(d.join("set/multi.E01")).expect("segment").len() as usize;
    support::write(&d.join("set"), "zeros.bin", &vec![0u8; first_size]);
    let done = check("set/zeros.bin");
    assert_eq!(done.code, 1, "{}", done.stdout);
    assert!(done.stdout.contains("zeros.bin"), "the file read is named: {}", done.stdout);
    std::fs::remove_file(d.join("set/zeros.bin")).expect("remove");

    // --fast checks the size of every part, not only the first.
    std::fs::create_dir(d.join("cut")).expect("folder");
    for n in 1..=7 {
        std::fs::copy(d.join(format!("set/multi.E0{n}")), d.join(format!("cut/multi.E0{n}"))).expect("copy");
    }
    std::fs::write(d.join("cut/multi.E08"), b"short").expect("cut");
    let fast =
        custos_in(d, &["verify", "ref", "--trust", "rfc8032-test1.pub", "--evidence", "cut", "--fast"]);
    assert_eq!(fast.code, 1, "{}", fast.stdout);
    assert!(fast.stdout.contains("multi.E08"), "{}", fast.stdout);

    // A FIFO (or a link to /dev/zero) in the evidence's place never hangs verify or seal.
    std::fs::remove_file(d.join("cut/multi.E08")).expect("remove");
    assert_eq!(run(Command::new("mkfifo").arg(d.join("cut/multi.E08"))).code, 0);
    let deadline = std::time::Duration::from_secs(60);
    let hung = support::run_with_deadline(
        d,
        &["verify", "ref", "--trust", "rfc8032-test1.pub", "--evidence", "cut"],
        deadline,
    );
    assert_eq!(hung.code, 1, "{}", hung.stdout);
    let sealed_fifo = support::run_with_deadline(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "FMT-3", "-q", "--out", "fifo", "cut/multi.E01"],
        deadline,
    );
    assert_eq!(sealed_fifo.code, 2, "{}", sealed_fifo.stderr);
    assert!(!d.join("fifo").exists());
    std::fs::remove_file(d.join("cut/multi.E08")).expect("remove");
    std::os::unix::fs::symlink("/dev/zero", d.join("cut/multi.E08")).expect("link");
    let zero = support::run_with_deadline(
        d,
        &["verify", "ref", "--trust", "rfc8032-test1.pub", "--evidence", "cut"],
        deadline,
    );
    assert_eq!(zero.code, 1, "{}", zero.stdout);

    // A damaged set is refused, and nothing is left.
    support::flip_bit(&d.join("set/multi.E05"), 1500);
    let refused = seal("damaged", &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("multi.E01"), "{}", refused.stderr);
    assert!(!d.join("damaged").exists());
}
