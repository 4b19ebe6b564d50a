//! The one definition of text that must never leave the program raw: controls,
//! bidirectional marks and overrides, and invisible characters. Whatever writes text from
//! input (a terminal line, a JSON record, an exported file) escapes exactly these, so a
//! planted name can neither forge nor hide a line, nor look like another name.

use std::io::Write;

use serde::Serialize;

/// Controls, bidirectional marks and overrides, and the invisible characters that make two
/// different names look the same (zero-width spaces and joiners, word joiner, BOM, line and
/// paragraph separators, Arabic letter mark, Mongolian vowel separator).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// Writes a JSON string fragment with every [`is_unsafe`] character as a `\uXXXX` escape
/// (serde_json escapes only U+0000 to U+001F, `"` and `\`): the same value to any JSON
/// reader, nothing lost, but nothing that rewrites a terminal or reorders a line.
fn write_fragment<W: ?Sized + Write>(writer: &mut W, fragment: &str) -> std::io::Result<()> {
    let mut plain_from = 0;
    for (at, c) in fragment.char_indices().filter(|&(_, c)| is_unsafe(c)) {
        writer.write_all(&fragment.as_bytes()[plain_from..at])?;
        // Every unsafe character lies in the Basic Multilingual Plane: one escape each.
        write!(writer, "\\u{:04x}", c as u32)?;
        plain_from = at + c.len_utf8();
    }
    writer.write_all(&fragment.as_bytes()[plain_from..])
}

/// serde_json's compact format, escaping as [`write_fragment`] does.
#[derive(Debug)]
pub struct EscapingFormatter;

impl serde_json::ser::Formatter for EscapingFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        write_fragment(writer, fragment)
    }
}

/// serde_json's pretty format (two-space indent), escaping as [`write_fragment`] does.
struct EscapingPretty(serde_json::ser::PrettyFormatter<'static>);

impl serde_json::ser::Formatter for EscapingPretty {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        write_fragment(writer, fragment)
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// `value` as pretty JSON (two-space indent), with [`is_unsafe`] characters escaped: for
/// files other tools read (an exported CASE graph).
pub fn to_string_pretty(value: &impl Serialize) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out,
        EscapingPretty(serde_json::ser::PrettyFormatter::new()),
    ))?;
    // Only valid UTF-8 is written: serde_json's own text, and fragments cut at char bounds.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn pretty_json_escapes_what_text_escapes_and_loses_nothing() {
        let name = "R-ref\u{202e}EVIL\u{2066} \u{9b}31m Zoë 😀";
        let text = super::to_string_pretty(&serde_json::json!({ "id": name, "list": [1, 2] })).expect("JSON");
        assert_eq!(text, "{\n  \"id\": \"R-ref\\u202eEVIL\\u2066 \\u009b31m Zoë 😀\",\n  \"list\": [\n    1,\n    2\n  ]\n}");
        let back: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(back["id"], name);
    }
}
