//! `custos hash --media`: the media an E01 set holds, against libewf's tools and the
//! digests the committed test images list; container damage told apart from a media
//! mismatch; real E01s made by other software when `CUSTOS_CORPUS` points to them.

mod support;

use std::path::{Path, PathBuf};

use support::{custos_in, run, tool};

fn images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-images/e01")
}

fn media_record(dir: &Path, image: &Path) -> (support::Run, serde_json::Value) {
    let done = custos_in(dir, &["hash", "--media", "--json", &image.to_string_lossy()]);
    let record =
        serde_json::from_str(done.stdout.lines().next().unwrap_or("null")).unwrap_or(serde_json::Value::Null);
    (done, record)
}

#[test]
fn media_digests_of_the_test_images_are_libewfs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let readme = std::fs::read_to_string(images().join("README.md")).expect("README");
    for name in ["compressed.E01", "stored.E01", "multi.E01"] {
        let row = readme.lines().find(|l| l.contains(&format!("`{name}`"))).expect("a README row");
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (size, sha256, md5) = (cells[2], cells[3], cells[4]);
        let (done, record) = media_record(d, &images().join(name));
        assert_eq!(done.code, 0, "{name}: {}{}", done.stdout, done.stderr);
        assert_eq!(record["media_size"].to_string(), size, "{name}");
        assert_eq!(record["digests"]["sha256"], sha256, "{name}");
        assert_eq!(record["digests"]["md5"], md5, "{name}");
        assert_eq!(record["stored"]["md5"]["matches"], true, "{name}: the stored MD5 holds");
        assert_eq!(record["verdict"], "pass");
        // The same as libewf's own reading of the media.
        if let Some(ewfexport) = tool("ewfexport") {
            let target = d.join(name.replace(".E01", ""));
            let exported = run(std::process::Command::new(&ewfexport)
                .args(["-u", "-q", "-f", "raw", "-t"])
                .arg(&target)
                .arg(images().join(name)));
            assert_eq!(exported.code, 0, "{}", exported.stderr);
            let raw = std::fs::read(target.with_extension("raw")).expect("ewfexport output");
            let digest = support::external(
                d,
                Path::new("sha256sum"),
                &[&target.with_extension("raw").to_string_lossy()],
            );
            assert!(digest.starts_with(sha256), "{name}: ewfexport's media is ours ({} bytes)", raw.len());
        }
        if let Some(ewfverify) = tool("ewfverify") {
            let verified = run(std::process::Command::new(&ewfverify).args(["-q"]).arg(images().join(name)));
            assert_eq!(verified.code, 0, "{name}: ewfverify agrees: {}", verified.stdout);
        }
    }
}

#[test]
fn container_damage_is_an_error_that_names_it_and_a_media_mismatch_is_a_failure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    // Damage: the container cut short.
    let bytes = std::fs::read(images().join("compressed.E01")).expect("image");
    support::write(d, "cut.E01", &bytes[..bytes.len() / 2]);
    let (cut, record) = media_record(d, &d.join("cut.E01"));
    assert_eq!(cut.code, 2, "{}", cut.stdout);
    assert_eq!(record["verdict"], "error");
    assert!(record["error"].as_str().is_some_and(|e| e.starts_with("container damage")), "{record}");
    // A missing segment of a set.
    for n in 1..=8 {
        if n != 4 {
            std::fs::copy(images().join(format!("multi.E0{n}")), d.join(format!("set.E0{n}"))).expect("copy");
        }
    }
    let (missing, record) = media_record(d, &d.join("set.E01"));
    assert_eq!(missing.code, 2, "{}", missing.stdout);
    assert!(record["error"].as_str().is_some_and(|e| e.contains("container damage")), "{record}");

    // A whole container whose stored MD5 is not its media's: written by our writer with a
    // wrong digest on purpose.
    let base = d.join("wrong");
    let mut writer = custos_image::e01::E01Writer::create(&base, custos_image::e01::E01Options::default())
        .expect("writer");
    std::io::Write::write_all(&mut writer, &vec![7u8; 64 * 512]).expect("media");
    writer.finish(Some([0x5a; 16]), None).expect("finish");
    let (wrong, record) = media_record(d, &d.join("wrong.E01"));
    assert_eq!(wrong.code, 1, "{}{}", wrong.stdout, wrong.stderr);
    assert_eq!(record["verdict"], "fail");
    assert_eq!(record["stored"]["md5"]["matches"], false, "{record}");
    let text = custos_in(d, &["hash", "--media", "wrong.E01"]);
    assert!(
        text.stderr.contains("MEDIA MISMATCH") && text.stderr.contains("the container itself reads whole"),
        "{}",
        text.stderr
    );
}

#[test]
fn corpus_images_made_by_other_software() {
    let Some(corpus) = std::env::var_os("CUSTOS_CORPUS").map(PathBuf::from) else {
        return support::skip_or_fail("CUSTOS_CORPUS is not set (CI sets it to shared/corpus)");
    };
    let readme = std::fs::read_to_string(corpus.join("README.md")).expect("the corpus README");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut seen = 0;
    for row in readme.lines().filter(|l| l.starts_with("| ") && l.contains(".E01")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (name, size, md5, sha1, sha256, blake3) =
            (cells[1], cells[2], cells[4], cells[5], cells[6], cells[7]);
        let path = corpus.join(name);
        assert!(path.is_file(), "CUSTOS_CORPUS is set but {} is missing", path.display());
        let (done, record) = media_record(dir.path(), &path);
        assert_eq!(done.code, 0, "{name}: {}{}", done.stdout, done.stderr);
        assert_eq!(record["media_size"].to_string(), size, "{name}");
        for (algorithm, expected) in [("md5", md5), ("sha1", sha1), ("sha256", sha256), ("blake3", blake3)] {
            assert_eq!(record["digests"][algorithm], expected, "{name} {algorithm}");
        }
        seen += 1;
    }
    assert!(seen >= 3, "the corpus README lists its images ({seen} found)");
}

/// Adler-32 as EWF's structures carry it.
fn adler(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// A set whose chunk table is repeated (its `table2` renamed `table`, the volume doubled)
/// serves every stored chunk twice: before the fix `hash --media` read it as media twice as
/// large (a thousand copies: a thousand times, for hours). It is container damage, named.
#[test]
fn class4_bounded_a_repeated_chunk_table_is_container_damage_not_more_media() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let mut writer =
        custos_image::e01::E01Writer::create(d.join("reused"), custos_image::e01::E01Options::default())
            .expect("writer");
    std::io::Write::write_all(&mut writer, &vec![0u8; 8 * 32_768]).expect("media");
    writer.finish(None, None).expect("finish");
    let path = d.join("reused.E01");
    let mut bytes = std::fs::read(&path).expect("image");
    let mut at = 13usize;
    while at + 76 <= bytes.len() {
        let kind = String::from_utf8_lossy(&bytes[at..at + 16]).trim_end_matches('\0').to_owned();
        let next = u64::from_le_bytes(bytes[at + 16..at + 24].try_into().expect("8")) as usize;
        if kind == "table2" {
            bytes[at..at + 16].copy_from_slice(b"table\0\0\0\0\0\0\0\0\0\0\0");
            let sum = adler(&bytes[at..at + 72]);
            bytes[at + 72..at + 76].copy_from_slice(&sum.to_le_bytes());
        }
        if kind == "volume" || kind == "data" {
            let body = at + 76;
            let chunks = u32::from_le_bytes(bytes[body + 4..body + 8].try_into().expect("4")) * 2;
            let sectors = u64::from_le_bytes(bytes[body + 16..body + 24].try_into().expect("8")) * 2;
            bytes[body + 4..body + 8].copy_from_slice(&chunks.to_le_bytes());
            bytes[body + 16..body + 24].copy_from_slice(&sectors.to_le_bytes());
            let sum = adler(&bytes[body..body + 1048]);
            bytes[body + 1048..body + 1052].copy_from_slice(&sum.to_le_bytes());
        }
        if kind == "done" || next <= at {
            break;
        }
        at = next;
    }
    std::fs::write(&path, bytes).expect("patched");
    let done = support::run_with_deadline(
        d,
        &["hash", "--media", "--json", "reused.E01"],
        std::time::Duration::from_secs(60),
    );
    let record: serde_json::Value =
        serde_json::from_str(done.stdout.lines().next().unwrap_or("null")).unwrap_or_default();
    assert_eq!(done.code, 2, "{}{}", done.stdout, done.stderr);
    assert_eq!(record["verdict"], "error", "{record}");
    let error = record["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("container damage: "), "{error}");
    assert!(error.contains("that chunk 7 already holds; every chunk must be stored once"), "{error}");
}
