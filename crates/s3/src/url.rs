//! `s3://bucket/prefix` locations.

use crate::S3Error;

/// A package location in an S3-compatible store: a bucket and a key prefix (without leading
/// or trailing `/`; empty for the bucket's root).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct S3Url {
    bucket: String,
    prefix: String,
}

impl S3Url {
    /// Parses `s3://bucket` or `s3://bucket/prefix[/]`. Refused: an empty or malformed bucket
    /// name, and a prefix with empty, `.` or `..` segments, backslashes or control
    /// characters (keys like that mean different things to different stores and tools).
    pub fn parse(text: &str) -> Result<S3Url, S3Error> {
        let bad = |reason| Err(S3Error::BadUrl { url: text.to_owned(), reason });
        let Some(rest) = text.strip_prefix("s3://") else {
            return bad("it does not start with s3://");
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return bad("no bucket name");
        }
        // S3's bucket naming rules (3 to 63 of a-z, 0-9, `.` and `-`, starting and ending with
        // a letter or digit), loosened to allow upper case and `_` that some stores accept.
        let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if bucket.len() < 3
            || bucket.len() > 63
            || !bucket.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            || !edge_ok(bucket.chars().next())
            || !edge_ok(bucket.chars().last())
        {
            return bad("the bucket name is not 3 to 63 letters, digits, `.`, `-` or `_`");
        }
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        if !prefix.is_empty() {
            if let Some(reason) = segment_problem(prefix) {
                return bad(reason);
            }
        }
        Ok(S3Url { bucket: bucket.to_owned(), prefix: prefix.to_owned() })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix, without leading or trailing `/` (empty: the bucket's root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of `path` (relative to the package) in the bucket.
    pub fn key(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }

    /// What every key of the package starts with: `prefix/`, or nothing at the root.
    pub fn key_prefix(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// The location `path` (a plain relative path) below this one.
    pub(crate) fn join(&self, path: &str) -> S3Url {
        S3Url { bucket: self.bucket.clone(), prefix: self.key(path) }
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

impl std::str::FromStr for S3Url {
    type Err = S3Error;
    fn from_str(text: &str) -> Result<S3Url, S3Error> {
        S3Url::parse(text)
    }
}

/// Why `path` is not a plain relative `/`-separated path, if it is not one.
pub(crate) fn segment_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("an empty path");
    }
    if path.starts_with('/') {
        return Some("a leading `/`");
    }
    if path.chars().any(|c| c == '\\' || c.is_control()) {
        return Some("a backslash or a control character");
    }
    if path.split('/').any(|segment| segment.is_empty()) {
        return Some("an empty segment (`//` or a trailing `/`)");
    }
    if path.split('/').any(|segment| segment == "." || segment == "..") {
        return Some("a `.` or `..` segment");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_buckets_and_prefixes() {
        let url = S3Url::parse("s3://evidence/cases/2024-17/").expect("parses");
        assert_eq!((url.bucket(), url.prefix()), ("evidence", "cases/2024-17"));
        assert_eq!(url.to_string(), "s3://evidence/cases/2024-17");
        assert_eq!(url.key("custos/manifest.json"), "cases/2024-17/custos/manifest.json");
        let root = S3Url::parse("s3://evidence").expect("parses");
        assert_eq!((root.prefix(), root.key_prefix(), root.key("a")), ("", String::new(), "a".to_owned()));
        assert_eq!(S3Url::parse("s3://evidence/").expect("parses"), root);
    }

    #[test]
    fn refuses_what_is_not_a_plain_location() {
        for bad in [
            "evidence/pkg",
            "s3:/evidence",
            "s3://",
            "s3:///pkg",
            "s3://ab/pkg",
            "s3://-bucket/pkg",
            "s3://bu cket/pkg",
            "s3://evidence/../other",
            "s3://evidence/a/../b",
            "s3://evidence/a//b",
            "s3://evidence//a",
            "s3://evidence/./a",
            "s3://evidence/a\\b",
            "s3://evidence/a\nb",
        ] {
            assert!(S3Url::parse(bad).is_err(), "{bad}");
        }
    }
}
