//! Checksum-file lines as GNU coreutils (`sha256sum`) and b3sum write and read them.
//!
//! Two shapes exist: the GNU line `HEX  PATH` (or `HEX *PATH`, the "binary" marker) and the
//! BSD tagged line `TAG (PATH) = HEX`. A path holding a backslash, a newline or a carriage
//! return is escaped (`\\`, `\n`, `\r`) and its line starts with a backslash, exactly as
//! coreutils 9 writes it, so every path can be written on one line and read back exactly (a
//! raw carriage return at a line's end would be taken for a CR LF line end). Reading follows
//! coreutils too: one carriage return at the end of any line is a CR LF line end, blanks
//! before the line are skipped, and only those three escapes exist. Paths are bytes: file
//! names need not be UTF-8.

use std::borrow::Cow;

use crate::{Algorithm, Digest};

/// Formats one line (without the final newline). `tagged` picks the BSD form.
pub fn format_line(algorithm: Algorithm, digest: &Digest, path: &[u8], tagged: bool) -> Vec<u8> {
    let (escaped, path) = escape_path(path);
    let mut line = Vec::with_capacity(path.len() + 140);
    if escaped {
        line.push(b'\\');
    }
    if tagged {
        line.extend_from_slice(algorithm.bsd_tag().as_bytes());
        line.extend_from_slice(b" (");
        line.extend_from_slice(&path);
        line.extend_from_slice(b") = ");
        line.extend_from_slice(digest.to_hex().as_bytes());
    } else {
        line.extend_from_slice(digest.to_hex().as_bytes());
        line.extend_from_slice(b"  ");
        line.extend_from_slice(&path);
    }
    line
}

/// Escapes `\\`, newline and carriage return as coreutils 9 does. Returns whether anything
/// needed escaping: the line that carries the path must then start with a backslash.
pub fn escape_path(path: &[u8]) -> (bool, Cow<'_, [u8]>) {
    if !path.iter().any(|&b| matches!(b, b'\\' | b'\n' | b'\r')) {
        return (false, Cow::Borrowed(path));
    }
    let mut escaped = Vec::with_capacity(path.len() + 8);
    for &byte in path {
        match byte {
            b'\\' => escaped.extend_from_slice(b"\\\\"),
            b'\n' => escaped.extend_from_slice(b"\\n"),
            b'\r' => escaped.extend_from_slice(b"\\r"),
            other => escaped.push(other),
        }
    }
    (true, Cow::Owned(escaped))
}

/// Which algorithms a line may be in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineAlgorithm {
    /// Named by a BSD tag, or the only algorithm with this digest length.
    Known(Algorithm),
    /// A 64-digit GNU line: SHA-256 and BLAKE3 digests look the same. The caller decides
    /// from context (the checksum file's name, `--algo`) or tries both.
    Sha256OrBlake3,
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumLine {
    /// The algorithm or algorithms the line can be in.
    pub algorithm: LineAlgorithm,
    /// The expected digest.
    pub digest: Digest,
    /// The path, unescaped, as bytes.
    pub path: Vec<u8>,
}

/// Why a line was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// Neither a GNU nor a BSD line.
    #[error("not a checksum line (expected `HEX  PATH` or `TAG (PATH) = HEX`)")]
    Unrecognised,
    /// A BSD tag Custos does not compute.
    #[error("unsupported algorithm tag `{0}`")]
    UnsupportedTag(String),
    /// The digest is not hexadecimal or has the wrong length for its algorithm.
    #[error("the digest is not {0}")]
    BadDigest(&'static str),
    /// A backslash escape other than `\\`, `\n` and `\r`, or a path ending in a lone
    /// backslash.
    #[error("invalid escape in the path")]
    BadEscape,
    /// The path is empty.
    #[error("empty path")]
    EmptyPath,
}

/// Parses one line (without its newline) as coreutils' `sha256sum -c` does. Returns
/// `Ok(None)` for lines to skip: empty lines and `#` comments.
pub fn parse_line(line: &[u8]) -> Result<Option<ChecksumLine>, LineError> {
    // One CR before the LF is a CR LF line end, on every line, escaped or not (a name that
    // ends in CR is written escaped, `\r`, so it never ends a line raw).
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.starts_with(b"#") {
        return Ok(None);
    }
    // Blanks before the line, then the backslash of an escaped path.
    let line = &line[line.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(line.len())..];
    let (escaped, body) = match line.strip_prefix(b"\\") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    if body.is_empty() {
        return if escaped { Err(LineError::Unrecognised) } else { Ok(None) };
    }
    let parsed = parse_bsd(body).or_else(|| parse_gnu(body)).ok_or(LineError::Unrecognised)?;
    let (algorithm, hex, raw_path) = parsed?;
    if raw_path.is_empty() {
        return Err(LineError::EmptyPath);
    }
    let path = if escaped { unescape(raw_path)? } else { raw_path.to_vec() };
    let digest = Digest::from_hex(hex).ok_or(LineError::BadDigest("hexadecimal"))?;
    let fits = match &algorithm {
        LineAlgorithm::Known(a) => a.output_len() == digest.0.len(),
        LineAlgorithm::Sha256OrBlake3 => digest.0.len() == 32,
    };
    if !fits {
        return Err(LineError::BadDigest("the length its algorithm produces"));
    }
    Ok(Some(ChecksumLine { algorithm, digest, path }))
}

type Parts<'a> = Result<(LineAlgorithm, &'a str, &'a [u8]), LineError>;

/// `TAG (PATH) = HEX`; the path runs to the last `) = `.
fn parse_bsd(body: &[u8]) -> Option<Parts<'_>> {
    let open = body.windows(2).position(|w| w == b" (")?;
    let tag = std::str::from_utf8(&body[..open]).ok()?;
    if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    let rest = &body[open + 2..];
    let close = rest.windows(4).rposition(|w| w == b") = ")?;
    let hex = std::str::from_utf8(&rest[close + 4..]).ok()?;
    let path = &rest[..close];
    Some(match Algorithm::from_bsd_tag(tag) {
        Some(algorithm) => Ok((LineAlgorithm::Known(algorithm), hex, path)),
        None => Err(LineError::UnsupportedTag(tag.to_owned())),
    })
}

/// `HEX  PATH` or `HEX *PATH`; the algorithm follows from the digest's length.
fn parse_gnu(body: &[u8]) -> Option<Parts<'_>> {
    let hex_len = body.iter().position(|b| !b.is_ascii_hexdigit())?;
    let separator = body.get(hex_len..hex_len + 2)?;
    if separator != b"  " && separator != b" *" {
        return None;
    }
    let hex = std::str::from_utf8(&body[..hex_len]).ok()?;
    let path = &body[hex_len + 2..];
    let algorithm = match hex_len {
        32 => LineAlgorithm::Known(Algorithm::Md5),
        40 => LineAlgorithm::Known(Algorithm::Sha1),
        64 => LineAlgorithm::Sha256OrBlake3,
        128 => LineAlgorithm::Known(Algorithm::Sha512),
        _ => return Some(Err(LineError::BadDigest("32, 40, 64 or 128 hexadecimal digits"))),
    };
    Some(Ok((algorithm, hex, path)))
}

fn unescape(raw: &[u8]) -> Result<Vec<u8>, LineError> {
    let mut path = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        if byte != b'\\' {
            path.push(byte);
            continue;
        }
        match bytes.next() {
            Some(b'\\') => path.push(b'\\'),
            Some(b'n') => path.push(b'\n'),
            Some(b'r') => path.push(b'\r'),
            _ => return Err(LineError::BadEscape),
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(algorithm: Algorithm) -> Digest {
        algorithm.digest(b"x")
    }

    #[test]
    fn round_trips_every_algorithm_and_shape() {
        let paths: [&[u8]; 8] = [
            b"a.img",
            b"dir/with space",
            b"back\\slash",
            b"new\nline",
            b"\xff\xfe not utf-8",
            b"ends in cr\r",
            b"trailing space ",
            b"a\rb\\\n",
        ];
        for algorithm in Algorithm::ALL {
            for path in paths {
                for tagged in [false, true] {
                    let line = format_line(algorithm, &digest(algorithm), path, tagged);
                    let parsed = parse_line(&line).expect("parses").expect("not skipped");
                    assert_eq!(parsed.path, path, "{}", String::from_utf8_lossy(&line));
                    assert_eq!(parsed.digest, digest(algorithm));
                    let expected = match (algorithm, tagged) {
                        (Algorithm::Sha256 | Algorithm::Blake3, false) => LineAlgorithm::Sha256OrBlake3,
                        _ => LineAlgorithm::Known(algorithm),
                    };
                    assert_eq!(parsed.algorithm, expected);
                }
            }
        }
    }

    #[test]
    fn gnu_escaping_matches_coreutils() {
        let line = format_line(Algorithm::Md5, &digest(Algorithm::Md5), b"a\\b\nc", false);
        assert_eq!(line, b"\\9dd4e461268c8034f5c8564e155c67a6  a\\\\b\\nc".to_vec());
        let line = format_line(Algorithm::Sha1, &digest(Algorithm::Sha1), b"plain", true);
        assert_eq!(line, b"SHA1 (plain) = 11f6ad8ec52a2984abaafd7c3b516503785c2072".to_vec());
    }

    #[test]
    fn skips_comments_and_blank_lines_and_accepts_binary_marker_and_crlf() {
        assert_eq!(parse_line(b""), Ok(None));
        assert_eq!(parse_line(b"# made by hand"), Ok(None));
        let line = b"d41d8cd98f00b204e9800998ecf8427e *empty.bin\r";
        let parsed = parse_line(line).expect("parses").expect("a line");
        assert_eq!(parsed.path, b"empty.bin");
    }

    #[test]
    fn rejects_malformed_lines() {
        let cases: [(&[u8], LineError); 7] = [
            (b"hello world", LineError::Unrecognised),
            (b"d41d8cd98f00b204e9800998ecf8427e single-space", LineError::Unrecognised),
            (b"abc  short-digest", LineError::BadDigest("32, 40, 64 or 128 hexadecimal digits")),
            (b"SHA384 (x) = 00", LineError::UnsupportedTag("SHA384".into())),
            (b"MD5 (x) = 00", LineError::BadDigest("the length its algorithm produces")),
            (b"MD5 (x) = zz", LineError::BadDigest("hexadecimal")),
            (b"\\d41d8cd98f00b204e9800998ecf8427e  bad\\escape", LineError::BadEscape),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_line(line), Err(expected), "{}", String::from_utf8_lossy(line));
        }
        assert_eq!(parse_line(b"d41d8cd98f00b204e9800998ecf8427e  "), Err(LineError::EmptyPath));
    }

    #[test]
    fn bsd_path_may_contain_the_closing_sequence() {
        let parsed = parse_line(b"MD5 (odd) = name) = 9dd4e461268c8034f5c8564e155c67a6")
            .expect("parses")
            .expect("a line");
        assert_eq!(parsed.path, b"odd) = name");
    }

    /// What `sha256sum` (coreutils 9.1) writes for such names, byte for byte, and what
    /// `sha256sum -c` reads: one CR before the LF ends any line, escaped or not; blanks
    /// before a line are skipped; `\r` is an escape.
    #[test]
    fn carriage_returns_are_escaped_and_cr_lf_line_ends_read_as_coreutils_does() {
        let md5 = digest(Algorithm::Md5);
        assert_eq!(
            format_line(Algorithm::Md5, &md5, b"cr\r", false),
            b"\\9dd4e461268c8034f5c8564e155c67a6  cr\\r".to_vec()
        );
        assert_eq!(
            format_line(Algorithm::Md5, &md5, b"a\rb", true),
            b"\\MD5 (a\\rb) = 9dd4e461268c8034f5c8564e155c67a6".to_vec()
        );
        let path = |line: &[u8]| parse_line(line).expect("parses").expect("a line").path;
        assert_eq!(path(b"\\9dd4e461268c8034f5c8564e155c67a6  cr\\r\r"), b"cr\r");
        assert_eq!(path(b"\\9dd4e461268c8034f5c8564e155c67a6  back\\\\slash\r"), b"back\\slash");
        assert_eq!(path(b"\\MD5 (cr\\r) = 9dd4e461268c8034f5c8564e155c67a6\r"), b"cr\r");
        assert_eq!(path(b"9dd4e461268c8034f5c8564e155c67a6  plain\r\r"), b"plain\r");
        assert_eq!(path(b"9dd4e461268c8034f5c8564e155c67a6  trailing \r"), b"trailing ");
        assert_eq!(path(b" \t9dd4e461268c8034f5c8564e155c67a6  indented"), b"indented");
        assert_eq!(parse_line(b"\r"), Ok(None));
        assert_eq!(parse_line(b"# comment\r"), Ok(None));
        for bad in
            [&b"\\9dd4e461268c8034f5c8564e155c67a6  tab\\t"[..], b"\\9dd4e461268c8034f5c8564e155c67a6  end\\"]
        {
            assert_eq!(parse_line(bad), Err(LineError::BadEscape), "{}", String::from_utf8_lossy(bad));
        }
    }
}
