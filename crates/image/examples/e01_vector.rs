//! Writes the multi-segment E01 test vector of `test-images/` (`multi.E01`…): 8 chunks and
//! 3 sectors of text, best compression, 4 KiB segments, one acquisition error range.
//!
//! `cargo run -p custos-image --example e01_vector -- test-images/multi`

use std::io::Write;
use std::path::Path;

use custos_hash::{hash_reader, Algorithm, Control, HashOptions};
use custos_image::e01::{CaseInfo, Compression, E01Options, E01Writer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args().nth(1).ok_or("usage: e01_vector BASE (without .E01)")?;
    let sectors = 8 * 64 + 3;
    let mut media = Vec::with_capacity(sectors * 512);
    for sector in 0..sectors {
        let line = format!("custos E01 test vector, sector {sector:5}\n");
        let mut block: Vec<u8> = line.bytes().cycle().take(512).collect();
        if sector == 100 {
            block.fill(0); // stands for the unreadable sector listed in error2
        }
        media.extend_from_slice(&block);
    }
    let options = E01Options {
        segment_size: 4096,
        compression: Compression::Best,
        case: CaseInfo {
            case_number: "VECTOR-1".into(),
            evidence_number: "multi".into(),
            description: "custos multi-segment E01 test vector".into(),
            examiner: "custos".into(),
            notes: "sector 100 is listed in error2".into(),
            software_version: "custos".into(),
            operating_system: "Linux".into(),
            ..CaseInfo::default()
        },
        ..E01Options::default()
    };
    let mut writer = E01Writer::create(&base, options)?;
    writer.write_all(&media)?;
    writer.set_acquisition_errors(&[(100, 1)])?;
    let hash = HashOptions { algorithms: vec![Algorithm::Md5, Algorithm::Sha1], ..HashOptions::default() };
    let outcome = hash_reader(&media[..], Path::new("media"), &hash, &Control::default())?;
    let md5: [u8; 16] = outcome.digests[0].1.as_bytes().try_into()?;
    let sha1: [u8; 20] = outcome.digests[1].1.as_bytes().try_into()?;
    for path in writer.finish(Some(md5), Some(sha1))? {
        println!("{}", path.display());
    }
    Ok(())
}
