//! Strict JSON: the only way Custos reads a signed or signable document.
//!
//! Plain serde_json keeps the *last* of two duplicate keys, so two parsers can disagree on
//! what one document says (a verifier sees one value, a viewer another). It also accepts
//! floats and integers beyond 2^53, which other JSON implementations round. Custos documents
//! need none of these, so they are errors, each naming where in the text it occurred.

use std::fmt;

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};

/// The largest integer every JSON implementation represents exactly (2^53 − 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a document was rejected, with the line and column serde_json reports.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StrictJsonError(#[from] serde_json::Error);

impl StrictJsonError {
    /// 1-based line of the problem (0 when not known).
    pub fn line(&self) -> usize {
        self.0.line()
    }

    /// 1-based column of the problem (0 when not known).
    pub fn column(&self) -> usize {
        self.0.column()
    }
}

/// Checks that `bytes` is one strict JSON document, then deserialises it into `T`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StrictJsonError> {
    check(bytes)?;
    Ok(serde_json::from_slice(bytes)?)
}

/// Checks that `bytes` is one JSON document (valid UTF-8) with no duplicate object keys,
/// no floating-point numbers, and no integer outside ±(2^53 − 1).
pub fn check(bytes: &[u8]) -> Result<(), StrictJsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    Strict::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(())
}

/// A value that only validates; it keeps nothing.
struct Strict;

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("strict JSON")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Strict, E> {
        if value.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(E::custom(format!("integer {value} is outside ±(2^53 − 1)")));
        }
        Ok(Strict)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Strict, E> {
        if value > MAX_SAFE_INTEGER {
            return Err(E::custom(format!("integer {value} is above 2^53 − 1")));
        }
        Ok(Strict)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Strict, E> {
        Err(E::custom(format!("number {value} is not an integer (or too large): floats are not allowed")))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut keys: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value::<Strict>()?;
            keys.push(key);
        }
        Ok(Strict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_documents() {
        for text in [r#"{"a":1,"b":[true,null,"x"],"c":{"d":-9007199254740991}}"#, "[]", "9007199254740991"] {
            assert!(check(text.as_bytes()).is_ok(), "{text}");
        }
    }

    #[test]
    fn rejects_what_parsers_disagree_on() {
        let cases: [(&[u8], &str); 8] = [
            (br#"{"a":1,"a":2}"#, "duplicate key `a`"),
            (br#"{"x":{"a":1,"b":2,"a":3}}"#, "duplicate key `a`"),
            (br#"{"n":1.5}"#, "floats are not allowed"),
            (br#"{"n":1e3}"#, "floats are not allowed"),
            (br#"{"n":9007199254740992}"#, "above 2^53"),
            (br#"{"n":-9007199254740992}"#, "outside"),
            (b"{\"s\":\"\xff\"}", "invalid unicode"),
            (br#"{"a":1} {"b":2}"#, "trailing characters"),
        ];
        for (text, needle) in cases {
            let error = check(text).expect_err(&String::from_utf8_lossy(text));
            assert!(error.to_string().contains(needle), "{error} (wanted {needle})");
            assert!(error.line() >= 1);
        }
    }
}
