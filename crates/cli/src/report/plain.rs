//! The report's plain language: what the verifier's findings mean for a reader who is not a
//! technician, one sentence each, with names instead of key ids. Text only; the HTML
//! renderer escapes it.

use std::collections::BTreeMap;

use custos_manifest::findings::{Finding, Verdict};
use custos_manifest::keys::PublicKey;
use custos_policy::PolicyVerdict;

use crate::human;
use crate::judge::{Judgement, KeySource, TrustedKey};
use crate::policy::{group_findings, PolicyReport, RuleGroup};

/// Who a key id names: the court's own key files first, then (marked as a claim) the
/// package's.
pub struct Names<'a> {
    pub trusted: &'a [TrustedKey],
    pub shipped: &'a BTreeMap<String, PublicKey>,
}

impl Names<'_> {
    /// `Ada Examiner` for a trusted key; for any other, what its key file claims, said as a
    /// claim.
    pub fn of(&self, key_id: &str) -> String {
        if let Some(trusted) = self.trusted.iter().find(|t| t.key.id().to_string() == key_id) {
            return trusted.shown.name.clone();
        }
        match self.shipped.get(key_id) {
            Some(key) => format!(
                "a key not trusted by the verifier that calls itself \u{201c}{}\u{201d} (key {})",
                key.owner.name,
                short(key_id)
            ),
            None => format!("an unknown key ({})", short(key_id)),
        }
    }
}

impl Names<'_> {
    /// `Ada Examiner (examiner, Fictional Forensics Lab, DE)` for a trusted key, from what
    /// the one who trusts it says; for any other key, its claim, said as one.
    pub fn describe(&self, key_id: &str) -> String {
        match self.trusted.iter().find(|t| t.key.id().to_string() == key_id) {
            Some(trusted) => {
                let owner = &trusted.shown;
                let details: Vec<&str> = [
                    Some(owner.role.as_str()).filter(|r| !r.is_empty()),
                    owner.organisation.as_deref(),
                    owner.jurisdiction.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect();
                if details.is_empty() {
                    owner.name.clone()
                } else {
                    format!("{} ({})", owner.name, details.join(", "))
                }
            }
            None => self.of(key_id),
        }
    }
}

pub fn short(key_id: &str) -> &str {
    key_id.get(..16).unwrap_or(key_id)
}

/// Where a trusted key came from, in words.
pub fn key_source(source: &KeySource) -> String {
    match source {
        KeySource::File(path) => format!("given by the verifier: {}", path.display()),
        KeySource::Policy(ids) => {
            format!(
                "named by the policy {} (key file read from the package, matched by key id)",
                ids.join(", ")
            )
        }
    }
}

/// Whether the evidence bytes were read in this check.
pub fn bytes_checked(findings: &[Finding]) -> bool {
    !findings.iter().any(|f| {
        f.verdict != Verdict::Pass
            && matches!(f.check, "bag.payload_digest" | "item.reference")
            && f.detail.starts_with("not")
    })
}

/// The reasons integrity did not simply pass, one plain sentence each, failures first.
pub fn integrity_reasons(judgement: &Judgement, names: &Names) -> Vec<(Verdict, String)> {
    let findings = &judgement.verification.findings;
    let mut reasons: Vec<(Verdict, String)> = Vec::new();
    let mut say = |verdict: Verdict, text: String| {
        if !reasons.iter().any(|(_, t)| *t == text) {
            reasons.push((verdict, text));
        }
    };
    let failed =
        |check: &'static str| findings.iter().filter(move |f| f.verdict == Verdict::Fail && f.check == check);

    // The evidence bytes.
    let mut altered: Vec<&str> = Vec::new();
    for finding in failed("item.damaged_ranges").filter(|f| !f.ranges.is_empty()) {
        let ranges: Vec<String> = finding.ranges.iter().map(|[s, e]| human::byte_range(*s, *e)).collect();
        say(
            Verdict::Fail,
            format!("{} was altered after it was sealed, in {}.", finding.subject, ranges.join("; ")),
        );
        altered.push(&finding.subject);
    }
    for finding in findings.iter().filter(|f| {
        f.verdict == Verdict::Fail && matches!(f.check, "item.digest" | "item.size" | "bag.payload_digest")
    }) {
        if !altered.contains(&finding.subject.as_str()) {
            say(
                Verdict::Fail,
                format!(
                    "{} no longer matches the fingerprints taken when it was sealed: it was altered.",
                    finding.subject
                ),
            );
            altered.push(&finding.subject);
        }
    }
    for finding in failed("item.missing") {
        say(Verdict::Fail, format!("{}, sealed as evidence, is missing from the package.", finding.subject));
    }

    // Who signed.
    for finding in failed("trust.signer") {
        let who = if finding.subject.len() == 64 {
            names.of(&finding.subject)
        } else {
            "a key the verifier does not trust".to_owned()
        };
        say(
            Verdict::Fail,
            format!(
                "A signature is by {who}: who made it is not established by the keys the verifier trusts."
            ),
        );
    }
    // The finding on the manifest file itself says only that no trusted key signed it (the
    // next sentence); a signature that does not verify is named by its key id.
    if failed("signature.manifest").any(|f| f.subject != custos_manifest::package::MANIFEST_PATH) {
        say(
            Verdict::Fail,
            "A signature on the record of what was sealed does not verify: that record may have been altered.".into(),
        );
    }
    if judgement.verification.manifest.is_none() {
        say(
            Verdict::Fail,
            "No record of what was sealed carries a valid signature by a trusted key, so nothing in the package can be relied on.".into(),
        );
    }

    // The custody record.
    if failed("custody.rollback").next().is_some() {
        say(
            Verdict::Fail,
            "The custody record is shorter than a receipt shows it once was: events were removed from its end.".into(),
        );
    }
    if failed("custody.fork").next().is_some() {
        say(Verdict::Fail, "The custody record contradicts a receipt: it was rewritten.".into());
    }
    let other_custody = findings
        .iter()
        .filter(|f| {
            f.verdict == Verdict::Fail
                && f.check.starts_with("custody.")
                && !matches!(f.check, "custody.rollback" | "custody.fork")
        })
        .count();
    if other_custody > 0 {
        say(
            Verdict::Fail,
            format!(
                "The custody record fails {other_custody} check(s) of its signatures, order or hand-overs (listed under \u{201c}All integrity checks\u{201d})."
            ),
        );
    }

    // The package's own files and records.
    let structure = findings
        .iter()
        .filter(|f| {
            f.verdict == Verdict::Fail
                && (f.check.starts_with("bag.")
                    || f.check.starts_with("package.")
                    || f.check.starts_with("manifest."))
                && f.check != "bag.payload_digest"
        })
        .count();
    if structure > 0 {
        say(
            Verdict::Fail,
            format!(
                "The package's files do not match its own lists: a file was added, removed or changed ({structure} problem(s))."
            ),
        );
    }
    if findings.iter().any(|f| f.verdict == Verdict::Fail && f.check.starts_with("time.")) {
        say(Verdict::Fail, "A time-stamp token does not verify.".into());
    }

    // Warnings: what was not checked, or needs a person's attention.
    if !bytes_checked(findings) {
        say(
            Verdict::Warn,
            "The evidence bytes were not re-read in this check; only their sizes were compared.".into(),
        );
    }
    if findings.iter().any(|f| f.verdict == Verdict::Warn && f.check == "trust.signer") {
        say(
            Verdict::Warn,
            "Signers were not checked against trusted keys: this result covers the integrity of the bytes only.".into(),
        );
    }
    for finding in findings.iter().filter(|f| f.verdict == Verdict::Warn && f.check == "item.acquisition") {
        say(Verdict::Warn, format!("{}: {}.", finding.subject, finding.detail.trim_end_matches('.')));
    }
    for finding in findings.iter().filter(|f| f.verdict == Verdict::Fail && f.check == "item.acquisition") {
        say(
            Verdict::Fail,
            format!(
                "The acquisition record of {} contradicts the item: {}.",
                finding.subject, finding.detail
            ),
        );
    }
    if judgement.verification.custody.holder.pending.is_some() {
        say(
            Verdict::Warn,
            "A hand-over of the evidence has not yet been acknowledged by its receiver.".into(),
        );
    }
    let covered = |f: &Finding| {
        matches!(f.check, "bag.payload_digest" | "item.reference" | "trust.signer" | "item.acquisition")
            || f.check == "custody.pending"
    };
    let other_warnings = findings.iter().filter(|f| f.verdict == Verdict::Warn && !covered(f)).count();
    if other_warnings > 0 {
        say(
            Verdict::Warn,
            format!("{other_warnings} other point(s) need attention (listed under \u{201c}All integrity checks\u{201d})."),
        );
    }
    // Anything failed that no sentence above explains is still said.
    let fails = findings.iter().filter(|f| f.verdict == Verdict::Fail).count();
    if fails > 0 && !reasons.iter().any(|(v, _)| *v == Verdict::Fail) {
        reasons.push((
            Verdict::Fail,
            format!("{fails} check(s) failed (listed under \u{201c}All integrity checks\u{201d})."),
        ));
    }
    reasons
}

/// One sentence per rule that is not met (or warns) for a policy's verdict on the first
/// screen; for a policy that passes, how many rules it applied.
pub fn policy_reasons(policy: &PolicyReport) -> Vec<String> {
    let groups = group_findings(&policy.findings);
    let problems: Vec<String> = groups
        .iter()
        .filter(|g| matches!(g.verdict, PolicyVerdict::Fail | PolicyVerdict::Warn))
        .map(RuleGroup::sentence)
        .collect();
    if !problems.is_empty() {
        return problems;
    }
    let mut rules: Vec<&str> = groups.iter().map(|g| g.rule).collect();
    rules.sort_unstable();
    rules.dedup();
    match rules.len() {
        0 => vec!["None of its rules apply to this package.".into()],
        n => vec![format!("All {n} of its rules that apply to this package are met.")],
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn and_list(parts: &[&str]) -> String {
    match parts {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_policy::PolicyFinding;

    fn finding(
        rule: &'static str,
        verdict: PolicyVerdict,
        subject: Option<&str>,
        reason: &str,
    ) -> PolicyFinding {
        PolicyFinding {
            policy: "p".into(),
            rule,
            verdict,
            evidence: subject.map_or_else(|| reason.to_owned(), |s| format!("{s}: {reason}")),
            citation: "Act s. 1".into(),
            subject: subject.map(str::to_owned),
        }
    }

    #[test]
    fn one_failing_rule_over_many_events_is_one_sentence() {
        let findings: Vec<PolicyFinding> = (0..5)
            .map(|n| {
                finding(
                    "storage.allowed_countries",
                    PolicyVerdict::Fail,
                    Some(&format!("event {n} (sealed by Ada)")),
                    "held in DE; allowed: XB",
                )
            })
            .chain([finding("policy.in_force", PolicyVerdict::Pass, None, "in force since 2026-01-01")])
            .collect();
        let groups = group_findings(&findings);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].verdict, PolicyVerdict::Fail, "failures first");
        assert_eq!(
            groups[0].sentence(),
            "Evidence held only in allowed countries: held in DE; allowed: XB (events 0, 1, 2, 3 and 4)."
        );
    }

    #[test]
    fn a_passing_policy_says_how_many_rules_applied() {
        let report = PolicyReport {
            id: "p".into(),
            jurisdiction: "XA".into(),
            name: "Auria".into(),
            verdict: PolicyVerdict::Pass,
            signature: custos_policy::PolicySignature::Unsigned,
            findings: vec![
                finding("policy.in_force", PolicyVerdict::Pass, None, "in force"),
                finding("digests.required_any", PolicyVerdict::Pass, None, "has sha256"),
                finding("storage", PolicyVerdict::NotApplicable, None, "no storage rule"),
            ],
        };
        assert_eq!(policy_reasons(&report), ["All 2 of its rules that apply to this package are met."]);
    }

    #[test]
    fn lists_read_as_english() {
        assert_eq!(and_list(&["0"]), "0");
        assert_eq!(and_list(&["0", "1"]), "0 and 1");
        assert_eq!(and_list(&["0", "1", "2"]), "0, 1 and 2");
    }
}
