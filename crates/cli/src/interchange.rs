//! `custos export case|dfxml|hashdeep`: a package in the formats other labs' tools read.
//! The mapping is `custos_interchange`'s; this module loads the package, calls it and writes.

use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use custos_interchange::{ExportSource, Exporter};

use crate::render::escape;
use crate::Status;

/// Which format.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    Case,
    Dfxml,
    Hashdeep,
}

impl Format {
    pub fn word(self) -> &'static str {
        match self {
            Format::Case => "case",
            Format::Dfxml => "dfxml",
            Format::Hashdeep => "hashdeep",
        }
    }

    /// The `written` kind (docs/json.md).
    fn kind(self) -> &'static str {
        match self {
            Format::Case => "case_jsonld",
            Format::Dfxml => "dfxml",
            Format::Hashdeep => "hashdeep",
        }
    }

    fn described(self) -> &'static str {
        match self {
            Format::Case => "CASE 1.5.0 JSON-LD",
            Format::Dfxml => "DFXML",
            Format::Hashdeep => "hashdeep known-hash file",
        }
    }
}

/// Exports `package` as `format`, to `out` or (without it) to standard output.
pub fn run(format: Format, package: &Path, out: Option<&Path>, json: bool) -> Result<Status> {
    if json && out.is_none() {
        bail!("--json needs --out FILE: standard output carries the JSON record, not the export");
    }
    let source = custos_manifest::package::read_for_export(package)
        .with_context(|| format!("cannot export {} as {}", package.display(), format.described()))?;
    let package_at =
        package.canonicalize().with_context(|| format!("cannot resolve {}", package.display()))?;
    let mut command_line = format!("custos export {} {}", format.word(), package.display());
    if let Some(out) = out {
        command_line.push_str(&format!(" --out {}", out.display()));
    }
    let time = custos_manifest::time::now_rfc3339();
    let invoked_from = package_at.display().to_string();
    let exporter = Exporter {
        version: env!("CARGO_PKG_VERSION"),
        command_line: &command_line,
        time: &time,
        invoked_from: &invoked_from,
    };
    let text = match format {
        Format::Case => custos_interchange::case::export(&source, &exporter),
        Format::Dfxml => custos_interchange::dfxml::export(&source, &exporter),
        Format::Hashdeep => custos_interchange::hashdeep::export(&source, &exporter),
    }
    .with_context(|| format!("cannot export {} as {}", package.display(), format.described()))?;
    let Some(out) = out else {
        std::io::stdout().write_all(text.as_bytes())?;
        say_who_signed(&source);
        return Ok(Status::Ok);
    };
    write_outside(package, out, &text)?;
    if json {
        let signers: Vec<serde_json::Value> = source
            .signers
            .iter()
            .map(|k| serde_json::json!({ "key_id": k.id().to_string(), "name": k.owner.name }))
            .collect();
        let record = serde_json::json!({
            "package": package.display().to_string(),
            "format": format.word(),
            "manifest_sha256": source.manifest_sha256,
            "signers": signers,
            "signature": "verified_with_shipped_keys",
            "written": [crate::render::written(out, format.kind())],
        });
        crate::render::print_json(&record)?;
        return Ok(Status::Ok);
    }
    println!("wrote {} ({})", crate::render::shown(out), format.described());
    say_who_signed(&source);
    if let Format::Hashdeep = format {
        let known = out.canonicalize().unwrap_or_else(|_| out.to_path_buf());
        // `-o f`: regular files only, so a FIFO or a link to a device planted in data/ is
        // passed over (custos verify names it) instead of hanging hashdeep.
        println!(
            "audit with: cd {} && hashdeep -a -o f -l -vv -k {} -r data",
            crate::render::shell_word(&package_at),
            crate::render::shell_word(&known)
        );
    }
    Ok(Status::Ok)
}

/// The export is of claims the manifest makes: say whose, and what was checked.
fn say_who_signed(source: &ExportSource) {
    let names: Vec<String> = source
        .signers
        .iter()
        .map(|k| format!("{} ({})", escape(&k.owner.name), crate::evidence::short(&k.id().to_string())))
        .collect();
    crate::render::say(&format!(
        "the export describes the manifest as signed by {}, checked against the keys the package ships only: custos verify --trust checks who that is",
        names.join(", ")
    ));
}

/// Writes `text` to `out`, never overwriting and never inside a package (a file there
/// would be one no tag manifest lists: the package would no longer verify).
fn write_outside(package: &Path, out: &Path, text: &str) -> Result<()> {
    crate::location::refuse_output_in_a_package("--out", out, Some(package))?;
    std::fs::File::create_new(out)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {} (existing files are never overwritten)", out.display()))
}
