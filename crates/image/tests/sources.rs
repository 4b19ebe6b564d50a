//! Opening sources: regular files, FIFOs, what is refused (links, directories), and the
//! record's JSON form.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use custos_hash::{Algorithm, Control};
use custos_image::{
    acquire, AcquisitionRecord, Determined, Error, ReadEnd, ReadOnlyState, ReadOptions, Source, SourceKind,
    Tool, RECORD_FORMAT,
};
use support::{pattern, sha256_only, sha256sum, skip_or_fail};

fn tool() -> Tool {
    Tool { name: "custos".into(), version: "0.1.0".into() }
}

#[test]
fn a_regular_file_is_read_whole_with_assumed_sectors() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("disk.img");
    let data = pattern(3 * 1024 * 1024 + 777);
    std::fs::write(&path, &data).expect("write");
    let source = Source::open(&path).expect("open");
    let info = source.info().clone();
    assert_eq!(info.kind, SourceKind::RegularFile);
    assert_eq!(info.size_bytes, Some(data.len() as u64));
    assert_eq!(info.logical_sector_size.bytes, 512);
    assert_eq!(info.logical_sector_size.determined, Determined::Assumed);
    assert_eq!(info.read_only.state, ReadOnlyState::NotApplicable);
    let acquisition =
        acquire(source, ReadOptions::default(), &sha256_only(), &Control::default(), &tool(), None)
            .expect("valid options");
    let outcome = acquisition.result.expect("reads");
    // Checked by another implementation; when it cannot run, that is said (and is a failure
    // under CUSTOS_INTEROP=require), never a silent pass.
    match sha256sum(&path) {
        Ok(expected) => assert_eq!(outcome.digest(Algorithm::Sha256).map(|d| d.to_hex()), Some(expected)),
        Err(why) => skip_or_fail(&format!("the independent SHA-256 check: {why}")),
    }
    let record = acquisition.record;
    assert_eq!(record.bytes_read, data.len() as u64);
    assert_eq!(record.sector_count, data.len() as u64 / 512);
    assert_eq!(record.sector_remainder_bytes, 777 % 512);
    assert!(record.is_complete_and_exact());
    assert_eq!(record.digests[0].algorithm, "sha256");
}

#[test]
fn a_symbolic_link_is_refused_naming_its_target() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let target = dir.path().join("disk.img");
    std::fs::write(&target, b"data").expect("write");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let error = Source::open(&link).expect_err("links are not followed");
    let Error::SymbolicLink { target: Some(found), .. } = &error else { panic!("unexpected {error:?}") };
    assert_eq!(found, &std::fs::canonicalize(&target).expect("canonical"));
    assert!(error.to_string().contains("is a symbolic link to"), "{error}");
}

#[test]
fn a_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    assert!(matches!(Source::open(dir.path()), Err(Error::NotAcquirable { found: "a directory", .. })));
}

#[test]
fn a_missing_path_is_an_open_error() {
    assert!(matches!(Source::open(Path::new("/nonexistent/custos")), Err(Error::Open { .. })));
}

#[test]
fn a_fifo_is_read_as_a_stream_once_a_writer_comes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let fifo = dir.path().join("pipe");
    match Command::new("mkfifo").arg(&fifo).status() {
        Ok(status) if status.success() => {}
        _ => return skip_or_fail("mkfifo could not make a FIFO"),
    }
    let data = pattern(300_000);
    let writer = {
        let (fifo, data) = (fifo.clone(), data.clone());
        std::thread::spawn(move || {
            let mut file = std::fs::OpenOptions::new().write(true).open(&fifo).expect("open for writing");
            file.write_all(&data).expect("write");
        })
    };
    // Blocks until the writer opens its end, so no empty stream is acquired.
    let source = Source::open(&fifo).expect("open the FIFO");
    assert_eq!(source.info().kind, SourceKind::Fifo);
    assert_eq!(source.info().size_bytes, None);
    let mut image = Vec::new();
    let acquisition = acquire(
        source,
        ReadOptions::default(),
        &sha256_only(),
        &Control::default(),
        &tool(),
        Some(&mut image),
    )
    .expect("valid options");
    writer.join().expect("writer");
    acquisition.result.expect("reads");
    assert_eq!(image, data);
    assert_eq!(acquisition.record.bytes_read, data.len() as u64);
    assert_eq!(acquisition.record.end, ReadEnd::Complete);
}

#[test]
fn the_record_round_trips_through_json_with_snake_case_names() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("disk.img");
    std::fs::write(&path, pattern(5000)).expect("write");
    let source = Source::open(&path).expect("open");
    let record = acquire(source, ReadOptions::default(), &sha256_only(), &Control::default(), &tool(), None)
        .expect("valid options")
        .record;
    let json = serde_json::to_value(&record).expect("serialize");
    assert_eq!(json["format"], RECORD_FORMAT);
    assert_eq!(json["source"]["kind"], "regular_file");
    assert_eq!(json["source"]["logical_sector_size"]["determined"], "assumed");
    assert_eq!(json["source"]["read_only"]["state"], "not_applicable");
    assert_eq!(json["parameters"]["policy"], "fill");
    assert_eq!(json["end"]["status"], "complete");
    assert_eq!(json["sector_rereads"]["mode"], "not_needed");
    assert_eq!(json["sector_remainder_bytes"], 5000 % 512);
    let started = json["started_at"].as_str().expect("text");
    assert!(started.len() == 25 && started.ends_with("+00:00"), "{started}");
    let back: AcquisitionRecord = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, record);
}
