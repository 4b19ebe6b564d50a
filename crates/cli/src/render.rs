//! Rendering shared by the commands: paths as bytes, error chains, JSON lines.

use std::borrow::Cow;
use std::error::Error;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::Serialize;

/// The raw bytes of a path, as GNU tools print them.
pub fn path_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// A path for JSON: the text when it is UTF-8, otherwise a lossy text plus the exact bytes
/// in hex (`path_hex`), so automation never loses a file name.
#[derive(Debug, Serialize)]
pub struct JsonPath<'a> {
    pub path: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
}

impl<'a> JsonPath<'a> {
    pub fn new(path: &'a Path) -> JsonPath<'a> {
        match path.to_str() {
            Some(text) => JsonPath { path: Cow::Borrowed(text), path_hex: None },
            None => JsonPath {
                path: path.to_string_lossy(),
                path_hex: Some(custos_hash::Digest(path_bytes(path).to_vec()).to_hex()),
            },
        }
    }
}

/// Text from a package (file names, notes, names in key files, finding details that quote
/// them) made safe for a terminal: control characters (escape sequences, carriage returns,
/// newlines) and the bidirectional overrides that reorder what is shown are written as
/// `\u{…}`, so a planted name can neither forge nor hide a line of the report.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if unsafe_char(c) { format!("\\u{{{:x}}}", c as u32) } else { c.to_string() })
            .collect(),
    )
}

/// What [`escape`] writes as a code: [`custos_manifest::safe_text::is_unsafe`], the one
/// definition every output shares.
fn unsafe_char(c: char) -> bool {
    custos_manifest::safe_text::is_unsafe(c)
}

/// The one way a message reaches standard error: `custos: ` and the text, escaped whole
/// (a message is one line; a newline or an escape sequence in a name it quotes is shown,
/// never obeyed).
pub fn say(text: &str) {
    eprintln!("custos: {}", escape(text));
}

/// A text of several lines on standard error (a summary), each line escaped: the lines are
/// the program's, what a name inside one holds is not.
pub fn say_lines(text: &str) {
    let mut stderr = std::io::stderr().lock();
    for line in text.lines() {
        let _ = writeln!(stderr, "{}", escape(line));
    }
}

/// A path for a line of text output: escaped like any text from input (a folder name can
/// hold an escape sequence that would otherwise redraw the verdict line).
pub fn shown(path: &Path) -> String {
    escape(&path.display().to_string()).into_owned()
}

/// A path inside a shell command the user may paste: escaped, then single-quoted, so no
/// `$(…)`, backquote, space or `;` in a folder name runs or splits anything.
pub fn shell_word(path: &Path) -> String {
    let text = shown(path);
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+:,=@%".contains(&b)) {
        return text;
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The bytes of a file the operator named (a key, a receipt, a certificate, a checksum
/// list): through links the operator chose, but only a regular file of at most `limit`
/// bytes, never waiting on a FIFO nor reading a device without end, since a folder of keys
/// or receipts is often shared and anyone may plant one there.
pub fn read_input_file(path: &Path, limit: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context as _;
    let real =
        std::fs::canonicalize(path).with_context(|| format!("cannot read the {what} {}", shown(path)))?;
    custos_policy::read_regular_file(&real, limit)
        .with_context(|| format!("cannot read the {what} {}", shown(path)))?
        .with_context(|| format!("the {what} {} does not exist", shown(path)))
}

/// An error and every cause under it, on one line.
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their source in their own message.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// One entry of a JSON record's `written` list: a file the command made, and what it is
/// (`secret_key`, `receipt`, `minisign_signature`, …). docs/json.md lists the kinds.
pub fn written(path: &Path, kind: &str) -> serde_json::Value {
    serde_json::json!({ "path": path.display().to_string(), "kind": kind })
}

/// A signer in a JSON record: `{"key_id": full id, "name": the key file's owner}`.
pub fn signer(key: &custos_manifest::keys::PublicKey) -> serde_json::Value {
    serde_json::json!({ "key_id": key.id().to_string(), "name": key.owner.name })
}

/// Writes one JSON value and a newline, through the same boundary as text: every character
/// [`escape`] would show as a code is written as a JSON `\uXXXX` escape. The value is the
/// same to any JSON reader (nothing is lost), but a record shown on a terminal, in a log
/// viewer or with `jq -c` can neither redraw a line nor reorder one.
pub fn json_line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut *out, EscapingFormatter))?;
    out.write_all(b"\n")
}

/// [`json_line`] on standard output.
pub fn print_json(value: &impl Serialize) -> std::io::Result<()> {
    json_line(&mut std::io::stdout().lock(), value)
}

use custos_manifest::safe_text::EscapingFormatter;

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn shell_words_cannot_run_or_split_anything() {
        use super::shell_word;
        use std::path::Path;
        assert_eq!(shell_word(Path::new("/evidence/case-1/pkg")), "/evidence/case-1/pkg");
        assert_eq!(shell_word(Path::new("a b")), "'a b'");
        assert_eq!(shell_word(Path::new("$(rm -rf ~)")), "'$(rm -rf ~)'");
        assert_eq!(shell_word(Path::new("it's")), r"'it'\''s'");
        assert_eq!(shell_word(Path::new("x\u{1b}[2J;`id`")), r"'x\u{1b}[2J;`id`'");
    }

    #[test]
    fn class3_escaping_json_lines_escape_what_text_escapes_and_lose_nothing() {
        let name = "evil\u{202e}gpj.exe \u{1b}[2K\u{9b}\u{7f} \u{200b}Zoë \"q\" \\ 😀\n";
        let mut out = Vec::new();
        super::json_line(&mut out, &serde_json::json!({ "path": name })).expect("written");
        let line = String::from_utf8(out).expect("UTF-8");
        assert_eq!(
            line,
            "{\"path\":\"evil\\u202egpj.exe \\u001b[2K\\u009b\\u007f \\u200bZoë \\\"q\\\" \\\\ 😀\\n\"}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(back["path"], name, "a JSON reader gets the name back exactly");
    }

    #[test]
    fn escapes_what_could_rewrite_a_terminal() {
        assert_eq!(escape("data/plain name.img"), "data/plain name.img");
        assert_eq!(escape("a\u{1b}[2K\rVERIFIED\n"), "a\\u{1b}[2K\\u{d}VERIFIED\\u{a}");
        assert_eq!(escape("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("Zoë Müller"), "Zoë Müller");
        assert_eq!(escape("data/disk.img\u{200b}"), "data/disk.img\\u{200b}");
        assert_eq!(escape("\u{feff}a\u{2028}b"), "\\u{feff}a\\u{2028}b");
    }
}
