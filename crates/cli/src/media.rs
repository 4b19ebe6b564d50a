//! `custos hash --media`: the media an E01 image set holds, hashed in one pass as the stream
//! it describes, checked against the MD5/SHA-1 stored inside. Damage to the container
//! (a truncated or missing segment, a corrupt chunk, a checksum mismatch in a table or
//! section) is an error that names it (exit 2); a container that reads whole but whose media
//! differs from the stored digests is a failed check (exit 1).

use std::io::{self, Write};

use anyhow::Result;
use custos_hash::{hash_reader, Algorithm, Control, Digest};
use custos_image::e01::{E01Error, E01Reader};
use serde_json::json;

use crate::hash::{engine_options, HashArgs};
use crate::render::{self, escape};
use crate::{progress, Status};

pub fn run(args: &HashArgs) -> Result<Status> {
    let mut algorithms = Algorithm::parse_list(args.algo.as_deref().unwrap_or("sha256,blake3"))?;
    // The stored digests are checked with what they are: MD5 and SHA-1 join the one pass.
    for stored in [Algorithm::Md5, Algorithm::Sha1] {
        if !algorithms.contains(&stored) {
            algorithms.push(stored);
        }
    }
    let options = engine_options(args, algorithms.clone(), None)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut status = Status::Ok;
    for path in &args.paths {
        let reader = match E01Reader::open(path) {
            Ok(reader) => reader,
            Err(error) => {
                status = Status::Error;
                report_error(&mut out, path, &error, args.json)?;
                continue;
            }
        };
        let (stored_md5, stored_sha1) = (reader.stored_md5(), reader.stored_sha1());
        let segments: Vec<_> = reader
            .segments()
            .iter()
            .map(|s| json!({ "path": s.path.display().to_string(), "size": s.size }))
            .collect();
        let media_size = reader.media_size();
        let bar = progress::bytes_bar(media_size, args.quiet);
        let tick = |bytes: u64| bar.inc(bytes);
        let hashed = hash_reader(reader, path, &options, &Control { progress: Some(&tick), cancel: None });
        bar.finish_and_clear();
        let outcome = match hashed {
            Ok(outcome) => outcome,
            Err(custos_hash::Error::Read { source, .. }) if E01Error::from_io(&source).is_some() => {
                status = Status::Error;
                let error = E01Error::from_io(&source).map_or_else(|| source.to_string(), |e| e.to_string());
                report_text(&mut out, path, &format!("container damage: {error}"), args.json)?;
                continue;
            }
            Err(error) => {
                status = Status::Error;
                report_text(&mut out, path, &render::error_chain(&error), args.json)?;
                continue;
            }
        };
        let check = |stored: Option<Vec<u8>>, algorithm: Algorithm| {
            stored.map(|stored| (Digest(stored).to_hex(), outcome.digest(algorithm).map(Digest::to_hex)))
        };
        let checks = [
            ("md5", check(stored_md5.map(|d| d.to_vec()), Algorithm::Md5)),
            ("sha1", check(stored_sha1.map(|d| d.to_vec()), Algorithm::Sha1)),
        ];
        let mismatched = checks
            .iter()
            .any(|(_, c)| c.as_ref().is_some_and(|(stored, found)| Some(stored) != found.as_ref()));
        if mismatched {
            status = status.max(Status::Failed);
        }
        // MD5 and SHA-1 are computed for the check; printed only when asked for (or by default).
        let asked = Algorithm::parse_list(args.algo.as_deref().unwrap_or("md5,sha1,sha256,blake3"))?;
        let requested = |a: &Algorithm| asked.contains(a);
        if args.json {
            let digests: serde_json::Map<String, serde_json::Value> = outcome
                .digests
                .iter()
                .filter(|(a, _)| requested(a))
                .map(|(a, d)| (a.name().to_owned(), d.to_hex().into()))
                .collect();
            let stored: serde_json::Map<String, serde_json::Value> = checks
                .iter()
                .filter_map(|(name, c)| {
                    c.as_ref().map(|(stored, found)| {
                        (
                            name.to_string(),
                            json!({ "stored": stored, "matches": Some(stored) == found.as_ref() }),
                        )
                    })
                })
                .collect();
            let record = json!({
                "path": path.display().to_string(),
                "media_size": outcome.size,
                "digests": digests,
                "stored": stored,
                "segments": segments,
                "verdict": if mismatched { "fail" } else { "pass" },
            });
            render::json_line(&mut out, &record)?;
        } else {
            // BSD-tagged, as several algorithms print, with "media" saying what was hashed.
            for (algorithm, digest) in outcome.digests.iter().filter(|(a, _)| requested(a)) {
                let label = escape(&path.display().to_string()).into_owned();
                writeln!(out, "{} ({label}, media) = {}", algorithm.bsd_tag(), digest.to_hex())?;
            }
            for (name, check) in &checks {
                match check {
                    Some((stored, found)) if Some(stored) == found.as_ref() => {
                        crate::render::say(&format!("{}: stored {name} {stored} matches the media", escape(&path.to_string_lossy())))
                    }
                    Some((stored, found)) => crate::render::say(&format!(
                        "{}: MEDIA MISMATCH: stored {name} {stored}, the media read has {} (the container itself reads whole)",
                        escape(&path.to_string_lossy()),
                        found.as_deref().unwrap_or("none")
                    )),
                    None => {
                        crate::render::say(&format!("{}: no {name} is stored in the image", escape(&path.to_string_lossy())))
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(status)
}

fn report_error(out: &mut impl Write, path: &std::path::Path, error: &E01Error, json: bool) -> Result<()> {
    let kind = if error.is_container_damage() { "container damage" } else { "cannot read the image" };
    report_text(out, path, &format!("{kind}: {error}"), json)
}

fn report_text(out: &mut impl Write, path: &std::path::Path, message: &str, json: bool) -> Result<()> {
    if json {
        render::json_line(
            out,
            &json!({ "path": path.display().to_string(), "verdict": "error", "error": message }),
        )?;
    } else {
        crate::render::say(&format!("{}: {}", escape(&path.to_string_lossy()), escape(message)));
    }
    Ok(())
}
