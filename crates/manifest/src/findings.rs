//! Findings: what a verifier reports instead of stopping at the first problem. Every check
//! says what it looked at and what it concluded, so a court sees every failure, not one.

use serde::Serialize;

/// The conclusion of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The check passed.
    Pass,
    /// Worth a human's attention, not a failure.
    Warn,
    /// The check failed.
    Fail,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which check (`bag.payload_digest`, `bag.extra_file`, …).
    pub check: &'static str,
    /// What it was about (a path, a key id, an event number).
    pub subject: String,
    /// The conclusion.
    pub verdict: Verdict,
    /// Expected and found, in words.
    pub detail: String,
    /// Byte ranges `[start, end)` of the subject that the check found changed (damaged
    /// ranges named by segment digests); empty for every other check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<[u64; 2]>,
}

impl Finding {
    /// A passing finding.
    pub fn pass(check: &'static str, subject: impl Into<String>, detail: impl Into<String>) -> Finding {
        Finding {
            check,
            subject: subject.into(),
            verdict: Verdict::Pass,
            detail: detail.into(),
            ranges: Vec::new(),
        }
    }

    /// A failing finding.
    pub fn fail(check: &'static str, subject: impl Into<String>, detail: impl Into<String>) -> Finding {
        Finding {
            check,
            subject: subject.into(),
            verdict: Verdict::Fail,
            detail: detail.into(),
            ranges: Vec::new(),
        }
    }

    /// A warning.
    pub fn warn(check: &'static str, subject: impl Into<String>, detail: impl Into<String>) -> Finding {
        Finding {
            check,
            subject: subject.into(),
            verdict: Verdict::Warn,
            detail: detail.into(),
            ranges: Vec::new(),
        }
    }
}

/// The worst verdict among `findings` (`Pass` when there are none).
pub fn overall(findings: &[Finding]) -> Verdict {
    findings.iter().map(|f| f.verdict).max().unwrap_or(Verdict::Pass)
}
