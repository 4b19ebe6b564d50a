//! Custody receipts: what the person who signed an event (or anyone who saw the log) keeps
//! outside the package, so that the log can later be shown to still contain it.
//!
//! A log proves only its prefix: whoever holds a package can cut events off its end, and the
//! shorter log verifies. A receipt holds the signed line of one event, its position and the
//! digest of the manifest; `custos verify --receipt FILE` then fails `custody.rollback` when
//! the log is shorter than the receipt says, and `custody.fork` when another event holds the
//! receipt's place. Format: `docs/formats/receipt.md`.

use serde::{Deserialize, Serialize};

use crate::custody::{parse_line_unverified, sha256_hex};
use crate::findings::Finding;
use crate::strict_json;
use crate::Error;

/// Format version of receipts.
pub const RECEIPT_FORMAT: u64 = 1;

/// The most bytes a receipt file may hold: 1 MiB.
pub const MAX_RECEIPT_BYTES: u64 = 1 << 20;

/// A receipt of one custody event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Format version, [`RECEIPT_FORMAT`].
    pub custos_receipt: u64,
    /// SHA-256 (hex) of the package's `custos/manifest.json`.
    pub manifest: String,
    /// The event's position in the log (0 for `sealed`).
    pub sequence: u64,
    /// SHA-256 (hex) of the line: the log's head when the receipt was written.
    pub head: String,
    /// The signed line itself, exactly as in the log (without its newline).
    pub line: String,
}

impl Receipt {
    /// The receipt of `line`, the log's event number `sequence`, in the package whose
    /// manifest has digest `manifest`.
    pub fn new(manifest: String, sequence: u64, line: &[u8]) -> Result<Receipt, Error> {
        let text = std::str::from_utf8(line).map_err(|_| Error::Package("a log line is not UTF-8".into()))?;
        Ok(Receipt {
            custos_receipt: RECEIPT_FORMAT,
            manifest,
            sequence,
            head: sha256_hex(line),
            line: text.to_owned(),
        })
    }

    /// The file's bytes: one JSON object and a newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Reads a receipt strictly; its `head` must be the digest of its `line`, and the line
    /// must hold an event of the stated sequence.
    pub fn parse(bytes: &[u8]) -> Result<Receipt, Error> {
        let receipt: Receipt =
            strict_json::parse(bytes).map_err(|e| Error::Package(format!("not a custody receipt: {e}")))?;
        if receipt.custos_receipt != RECEIPT_FORMAT {
            return Err(Error::UnsupportedVersion { what: "receipt", found: receipt.custos_receipt });
        }
        if sha256_hex(receipt.line.as_bytes()) != receipt.head {
            return Err(Error::Package("the receipt's head is not the digest of its line".into()));
        }
        match parse_line_unverified(receipt.line.as_bytes()) {
            Some(event) if event.sequence == receipt.sequence => Ok(receipt),
            Some(event) => Err(Error::Package(format!(
                "the receipt says event {}, its line holds event {}",
                receipt.sequence, event.sequence
            ))),
            None => Err(Error::Package("the receipt's line is not a custody event".into())),
        }
    }

    /// Compares the receipt with a log, given the digest of its manifest and of each of its
    /// complete lines. `name` says which receipt, for the findings.
    pub fn check(&self, name: &str, manifest: &str, lines: &[String]) -> Finding {
        let event = format!("event {}", self.sequence);
        if self.manifest != manifest {
            return Finding::fail(
                "custody.receipt",
                name,
                "a receipt for another package (its manifest digest differs)",
            );
        }
        match usize::try_from(self.sequence).ok().and_then(|i| lines.get(i)) {
            None => Finding::fail(
                "custody.rollback",
                name,
                format!(
                    "the receipt shows {event} ({}) was in the log, which now holds {} event(s): events were dropped from its end",
                    short(&self.head),
                    lines.len()
                ),
            ),
            Some(found) if *found != self.head => Finding::fail(
                "custody.fork",
                name,
                format!(
                    "{event} in the log is {}, the receipt's is {}: the log was rewritten from there (two histories of one package)",
                    short(found),
                    short(&self.head)
                ),
            ),
            Some(_) => Finding::pass(
                "custody.receipt",
                name,
                format!("{event} ({}) is in the log, which holds {} event(s)", short(&self.head), lines.len()),
            ),
        }
    }
}

fn short(digest: &str) -> &str {
    digest.get(..16).unwrap_or(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_and_self_consistent() {
        let line = br#"{"payload":"{\"sequence\":1}","payload_type":"x","signatures":[]}"#;
        // Not a full event: refused.
        let receipt = Receipt::new("ab".repeat(32), 1, line).expect("receipt");
        assert!(Receipt::parse(&receipt.to_bytes()).is_err());
        let mut edited = receipt.clone();
        edited.head = "00".repeat(32);
        assert!(Receipt::parse(&edited.to_bytes()).is_err_and(|e| e.to_string().contains("head")));
        assert!(Receipt::parse(b"{\"custos_receipt\":1,\"custos_receipt\":1}").is_err());
    }

    #[test]
    fn rollback_fork_and_match() {
        let receipt = Receipt {
            custos_receipt: 1,
            manifest: "m".into(),
            sequence: 2,
            head: "c".repeat(64),
            line: String::new(),
        };
        let log = |heads: &[&str]| heads.iter().map(|h| h.repeat(64)).collect::<Vec<_>>();
        assert_eq!(receipt.check("r", "m", &log(&["a", "b"])).check, "custody.rollback");
        assert_eq!(receipt.check("r", "m", &log(&["a", "b", "d"])).check, "custody.fork");
        assert_eq!(receipt.check("r", "other", &log(&["a", "b", "c"])).check, "custody.receipt");
        let found = receipt.check("r", "m", &log(&["a", "b", "c", "e"]));
        assert_eq!((found.check, found.verdict), ("custody.receipt", crate::findings::Verdict::Pass));
    }
}
