//! Digital Forensics XML: the package's items as `fileobject`s, as `fiwalk` writes a file
//! system's, so DFXML tools (and anything reading XML) can list and check them.
//!
//! The document follows the element order the DFXML schema (1.1) requires: `metadata`,
//! `creator` (program, version, command line, start time), `source` (the package), then one
//! `fileobject` per item with `filename`, `name_type` `r`, `filesize`, the segment
//! `byte_runs` (`file_offset`, `len` and, when the segment algorithm is one DFXML names, the
//! segment's `hashdigest`) and the item's `hashdigest`s. DFXML's `hashdigest` types are MD5,
//! SHA1 and SHA256; SHA-512 and BLAKE3 digests stay in the Custos manifest and are named in
//! a comment. Which key signed the manifest, and what that check was worth, is a comment at
//! the top. Format notes: `docs/formats/dfxml.md`.
//!
//! Written by hand: a few elements, with escaping that refuses what XML 1.0 cannot hold
//! (control characters other than tab, newline and carriage return).

use std::fmt::Write as _;

use custos_manifest::manifest::Item;

use crate::{is_hex, shown, signature_statement, Error, ExportSource, Exporter};

/// The DFXML namespace.
pub const DFXML_NAMESPACE: &str = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML";

/// The DFXML schema version the document is written to.
pub const DFXML_VERSION: &str = "1.1.0";

/// Manifest algorithm names → DFXML `hashdigest` types.
fn digest_type(algorithm: &str) -> Option<&'static str> {
    match algorithm {
        "md5" => Some("MD5"),
        "sha1" => Some("SHA1"),
        "sha256" => Some("SHA256"),
        _ => None,
    }
}

/// Escapes text for element content or an attribute value (`&`, `<`, `>`, `"`, `'`, and
/// carriage returns, tabs and newlines as character references so that attribute
/// normalisation cannot change them). Fails on characters XML 1.0 cannot hold at all.
pub fn escape(text: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                return Err("a control character that XML 1.0 cannot hold, even escaped")
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Text for inside a comment: `--` may not occur there, nor a final `-`, and controls are
/// dropped (a comment is for people; the data is in the elements).
fn comment(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_control() {
            out.push(' ');
        } else if c == '-' && out.ends_with('-') {
            out.push_str(" -");
        } else {
            out.push(c);
        }
    }
    if out.ends_with('-') {
        out.push(' ');
    }
    out
}

/// The DFXML document.
pub fn export(source: &ExportSource, exporter: &Exporter) -> Result<String, Error> {
    let field = |what: &str, text: &str| {
        escape(text)
            .map_err(|reason| Error::UnrepresentablePath { path: format!("{what} {}", shown(text)), reason })
    };
    let manifest = &source.manifest;
    let mut xml = String::new();
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<dfxml xmlns=\"{DFXML_NAMESPACE}\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" version=\"{DFXML_VERSION}\">"
    );
    xml.push_str("  <metadata>\n    <dc:type>Custos evidence package</dc:type>\n  </metadata>\n");
    let _ = writeln!(
        xml,
        "  <creator version=\"1.0\">\n    <program>custos</program>\n    <version>{}</version>\n    <execution_environment>\n      <command_line>{}</command_line>\n      <start_time>{}</start_time>\n    </execution_environment>\n  </creator>",
        field("version", exporter.version)?,
        field("command line", exporter.command_line)?,
        field("time", exporter.time)?,
    );
    let _ = writeln!(
        xml,
        "  <source>\n    <image_filename>{}</image_filename>\n  </source>",
        field("package", exporter.invoked_from)?
    );
    let mut about = format!("case {}", manifest.case.reference);
    if let Some(exhibit) = &manifest.case.exhibit {
        about.push_str(&format!(", exhibit {exhibit}"));
    }
    about.push_str(&format!(
        ", sealed {} by {} {}",
        manifest.sealed_at, manifest.tool.name, manifest.tool.version
    ));
    let _ = writeln!(xml, "  <!-- {} -->", comment(&about));
    let _ = writeln!(xml, "  <!-- {} -->", comment(&signature_statement(source)));
    let _ = writeln!(
        xml,
        "  <!-- filenames are relative to {}; referenced items are outside the package -->",
        comment(exporter.invoked_from)
    );
    for item in &manifest.items {
        write_item(&mut xml, source, item)?;
    }
    xml.push_str("</dfxml>\n");
    Ok(xml)
}

fn write_item(xml: &mut String, source: &ExportSource, item: &Item) -> Result<(), Error> {
    if let Some(stored) = &item.stored_as {
        return write_parts(xml, item, stored);
    }
    let path = escape(&item.path)
        .map_err(|reason| Error::UnrepresentablePath { path: shown(&item.path), reason })?;
    for (algorithm, digest) in &item.digests {
        if !is_hex(digest) {
            return Err(Error::BadDigest { path: shown(&item.path), algorithm: algorithm.clone() });
        }
    }
    xml.push_str("  <fileobject>\n");
    let _ = writeln!(xml, "    <filename>{path}</filename>");
    xml.push_str("    <name_type>r</name_type>\n");
    let _ = writeln!(xml, "    <filesize>{}</filesize>", item.size);
    if let Some(list) = source.segments.get(&item.path) {
        let algorithm = list.spec.algorithm.name();
        let kind = digest_type(algorithm);
        if kind.is_none() {
            let _ = writeln!(
                xml,
                "    <!-- segment digests are {} (not a DFXML hashdigest type): see custos/segments/ -->",
                algorithm.to_ascii_uppercase()
            );
        }
        xml.push_str("    <byte_runs>\n");
        for (index, digest) in list.digests.iter().enumerate() {
            let range = list.range(index);
            let _ = write!(
                xml,
                "      <byte_run file_offset=\"{}\" len=\"{}\"",
                range.start,
                range.end - range.start
            );
            match kind {
                Some(kind) => {
                    let _ = writeln!(
                        xml,
                        ">\n        <hashdigest type=\"{kind}\">{digest}</hashdigest>\n      </byte_run>"
                    );
                }
                None => xml.push_str("/>\n"),
            }
        }
        xml.push_str("    </byte_runs>\n");
    }
    let mut kept = Vec::new();
    for (algorithm, digest) in &item.digests {
        match digest_type(algorithm) {
            Some(kind) => {
                let _ = writeln!(
                    xml,
                    "    <hashdigest type=\"{kind}\">{}</hashdigest>",
                    digest.to_ascii_lowercase()
                );
            }
            None => kept.push(format!("{} {digest}", algorithm.to_ascii_uppercase())),
        }
    }
    if !kept.is_empty() {
        let _ = writeln!(xml, "    <!-- in the Custos manifest only: {} -->", kept.join(", "));
    }
    if item.reference {
        xml.push_str("    <!-- referenced: the bytes are at this path outside the package -->\n");
    }
    xml.push_str("  </fileobject>\n");
    Ok(())
}

/// An item kept in several files: each file as the `fileobject` it is (its own size and
/// digests), after a comment that says what they hold and the item's digests.
fn write_parts(
    xml: &mut String,
    item: &Item,
    stored: &custos_manifest::manifest::StoredAs,
) -> Result<(), Error> {
    let what = match stored.format {
        custos_manifest::manifest::PartFormat::Split => "the parts of a raw image (concatenated)",
        custos_manifest::manifest::PartFormat::E01 => "an E01 segment set; its media",
    };
    let digests: Vec<String> =
        item.digests.iter().map(|(a, d)| format!("{} {d}", a.to_ascii_uppercase())).collect();
    let about = format!(
        "{what}: {} bytes, {} (custos/manifest.json item {})",
        item.size,
        digests.join(", "),
        item.path
    );
    let _ = writeln!(xml, "  <!-- {} -->", comment(&about));
    for part in &stored.parts {
        let path = escape(&part.path)
            .map_err(|reason| Error::UnrepresentablePath { path: shown(&part.path), reason })?;
        xml.push_str("  <fileobject>\n");
        let _ = writeln!(xml, "    <filename>{path}</filename>");
        xml.push_str("    <name_type>r</name_type>\n");
        let _ = writeln!(xml, "    <filesize>{}</filesize>", part.size);
        for (algorithm, digest) in &part.digests {
            if !is_hex(digest) {
                return Err(Error::BadDigest { path: shown(&part.path), algorithm: algorithm.clone() });
            }
            if let Some(kind) = digest_type(algorithm) {
                let _ = writeln!(
                    xml,
                    "    <hashdigest type=\"{kind}\">{}</hashdigest>",
                    digest.to_ascii_lowercase()
                );
            }
        }
        if item.reference {
            xml.push_str("    <!-- referenced: the bytes are at this path outside the package -->\n");
        }
        xml.push_str("  </fileobject>\n");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests_support::{exporter, sample, HOSTILE};

    /// The five predefined entities and numeric references, undone: what any XML parser
    /// gives back for the escaped text.
    fn unescape(text: &str) -> String {
        text.replace("&#13;", "\r")
            .replace("&#10;", "\n")
            .replace("&#9;", "\t")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    }

    #[test]
    fn items_segments_and_digests() {
        let xml = export(&sample(), &exporter()).expect("exports");
        assert_eq!(xml.matches("<fileobject>").count(), 2);
        // 10 000 bytes in 4 KiB segments: three runs, SHA-256 each.
        assert_eq!(xml.matches("<byte_run ").count(), 3, "{xml}");
        assert!(xml.contains("<byte_run file_offset=\"8192\" len=\"1808\">"), "{xml}");
        assert!(xml.contains("<hashdigest type=\"MD5\">"));
        assert!(!xml.contains("type=\"BLAKE3\""));
        assert!(xml.contains("<!-- in the Custos manifest only: BLAKE3 "));
        assert!(xml.contains("<program>custos</program>"));
        assert!(xml.contains("<command_line>custos export case pkg</command_line>"));
    }

    #[test]
    fn hostile_names_are_escaped_and_read_back() {
        let xml = export(&sample(), &exporter()).expect("exports");
        let start = xml.find("<filename>data/a").expect("the hostile item") + "<filename>".len();
        let end = start + xml[start..].find("</filename>").expect("closed");
        let raw = &xml[start..end];
        assert!(!raw.contains(['<', '"', '\n']), "{raw}");
        assert_eq!(unescape(raw), HOSTILE);
        // Comments never hold `--`, whatever a name says.
        assert_eq!(comment("a--b-"), "a- -b- ");
        assert!(escape("bell\u{7}").is_err());
        let mut source = sample();
        source.manifest.items[1].path = "data/bell\u{7}".into();
        assert!(matches!(export(&source, &exporter()), Err(Error::UnrepresentablePath { .. })));
    }
}
