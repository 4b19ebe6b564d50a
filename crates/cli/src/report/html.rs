//! The report as one self-contained HTML document: a first screen in plain language (the
//! outcome per jurisdiction and why, who sealed and who holds the evidence, which keys were
//! trusted and from where), then the details a technician checks. No external assets, no
//! JavaScript, and a print stylesheet.

use std::fmt::Write as _;
use std::path::Path;

use custos_manifest::custody::{Action, Event};
use custos_manifest::findings::{Finding, Verdict};
use custos_policy::{PolicySignature, PolicyVerdict};

use super::plain::{self, Names};
use crate::human;
use crate::judge::Judgement;
use crate::keygen::fingerprint;

/// What the report is rendered from besides the judgement.
pub struct Context<'a> {
    /// The package as the user named it.
    pub package: &'a Path,
    /// Its absolute path, for commands that work from anywhere.
    pub package_absolute: &'a Path,
    pub names: Names<'a>,
    /// When the check ran (RFC 3339).
    pub checked_at: &'a str,
}

/// Escapes text for HTML element content and attribute values; the invisible and
/// reordering characters a planted name could use are shown as `\u{…}` first.
pub fn esc(text: &str) -> String {
    let text = crate::render::escape(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn integrity_word(verdict: Verdict) -> (&'static str, &'static str) {
    match verdict {
        Verdict::Pass => ("VERIFIED", "pass"),
        Verdict::Warn => ("VERIFIED WITH WARNINGS", "warn"),
        Verdict::Fail => ("NOT VERIFIED", "fail"),
    }
}

fn policy_word(verdict: PolicyVerdict) -> (&'static str, &'static str) {
    match verdict {
        PolicyVerdict::Pass => ("ACCEPTABLE", "pass"),
        PolicyVerdict::Warn => ("ACCEPTABLE WITH WARNINGS", "warn"),
        PolicyVerdict::Fail => ("NOT ACCEPTABLE", "fail"),
        PolicyVerdict::NotApplicable => ("NOT APPLICABLE", "na"),
    }
}

const STYLE: &str = "body{font:15px/1.45 Georgia,serif;max-width:62rem;margin:1.5rem auto;padding:0 1rem;color:#111}\
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.2rem;border-bottom:1px solid #999;margin-top:1.8rem}\
h3{font-size:1.05rem;margin:1.2rem 0 .3rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #bbb;padding:.3rem .45rem;text-align:left;vertical-align:top}\
th{background:#eee;font-weight:normal;color:#333}\
code,.mono{font-family:Menlo,Consolas,monospace;font-size:.8rem;overflow-wrap:anywhere}\
.when{white-space:nowrap}.id{display:block;color:#555;font-size:.75rem;font-family:Menlo,Consolas,monospace;overflow-wrap:anywhere}\
.verdict{font-weight:bold;white-space:nowrap}.pass{color:#0a5d1e}.warn{color:#7a5200}.fail{color:#a00000}.na{color:#555}\
.outcome{border:3px solid;padding:.6rem 1rem;margin:1rem 0}.outcome.pass{border-color:#0a5d1e}.outcome.warn{border-color:#b07a00}.outcome.fail{border-color:#a00000}\
.headline{font-size:1.35rem;font-weight:bold;margin:.1rem 0 .4rem}.outcome td{color:#111}\
.sub{display:block;color:#555;font-size:.8rem}\
.outcome ul{margin:.2rem 0;padding-left:1.2rem}\
.damage{border:3px solid #a00000;background:#fff4f4;padding:.5rem 1rem;margin:1rem 0}\
.facts th{width:11rem}.note{color:#444;font-size:.9rem}dt{font-weight:bold;margin-top:.4rem}dd{margin-left:1.2rem}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}.outcome,.damage{break-inside:avoid}}";

/// The whole report.
pub fn render(judgement: &Judgement, context: &Context) -> String {
    let mut html = String::new();
    let manifest = judgement.verification.manifest.as_ref();
    let case = manifest.map_or_else(|| "(not established)".to_owned(), |m| m.case.reference.clone());
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Evidence report: case {}</title><style>{STYLE}</style></head><body>\n",
        esc(&case)
    );
    first_screen(&mut html, judgement, context, &case);
    damage(&mut html, &judgement.verification.findings);
    exhibits(&mut html, judgement);
    super::legal::timeline(&mut html, judgement, context);
    custody(&mut html, judgement, context);
    super::legal::orders(&mut html, judgement, context);
    super::legal::disclosures(&mut html, judgement, context);
    jurisdictions(&mut html, judgement);
    integrity_checks(&mut html, &judgement.verification.findings);
    glossary(&mut html);
    recheck(&mut html, judgement, context);
    html.push_str("</body></html>\n");
    html
}

/// The overall outcome in one line, and its class.
fn headline(judgement: &Judgement) -> (String, &'static str) {
    if judgement.verdict == Verdict::Fail {
        return ("NOT VERIFIED: the evidence cannot be relied on as sealed".into(), "fail");
    }
    let policies = &judgement.policies;
    let failed: Vec<&str> = policies
        .iter()
        .filter(|p| p.verdict == PolicyVerdict::Fail)
        .map(|p| p.jurisdiction.as_str())
        .collect();
    if judgement.trusted.is_empty() {
        // --allow-untrusted: integrity only, and the first line says so.
        let mut text = "NOT CHECKED AGAINST ANY TRUSTED KEY: the bytes match the package's own seal, but no key the verifier trusts shows who sealed it".to_owned();
        if !failed.is_empty() {
            text.push_str(&format!("; NOT ACCEPTABLE in {}", plain::and_list(&failed)));
        }
        return (text, if failed.is_empty() { "warn" } else { "fail" });
    }
    if !failed.is_empty() {
        return (
            format!(
                "NOT ACCEPTABLE in {} of {} jurisdictions ({})",
                failed.len(),
                policies.len(),
                plain::and_list(&failed)
            ),
            "fail",
        );
    }
    if judgement.overall() == "fail" {
        return ("FAILED: warnings count as failures in this strict check".into(), "fail");
    }
    let warned = judgement.overall() == "warn";
    let (text, class) = match (policies.is_empty(), warned) {
        (true, false) => ("VERIFIED".to_owned(), "pass"),
        (true, true) => ("VERIFIED WITH WARNINGS".to_owned(), "warn"),
        (false, false) => (format!("ACCEPTABLE in all {} jurisdictions checked", policies.len()), "pass"),
        (false, true) => {
            (format!("ACCEPTABLE WITH WARNINGS in the {} jurisdictions checked", policies.len()), "warn")
        }
    };
    (text, class)
}

fn first_screen(html: &mut String, judgement: &Judgement, context: &Context, case: &str) {
    let manifest = judgement.verification.manifest.as_ref();
    let exhibit = manifest
        .and_then(|m| m.case.exhibit.as_deref())
        .map(|e| format!(", exhibit {}", esc(e)))
        .unwrap_or_default();
    let _ = write!(
        html,
        "<section id=\"summary\">\n<h1>Evidence report: case {}{exhibit}</h1>\n<p class=\"note\">Checked <span class=\"when\">{}</span> by Custos {} from the package <code>{}</code>.</p>\n",
        esc(case),
        esc(&human::time(context.checked_at)),
        env!("CARGO_PKG_VERSION"),
        esc(&context.package.display().to_string())
    );

    let (headline, class) = headline(judgement);
    let (integrity, integrity_class) = integrity_word(judgement.verdict);
    let _ = writeln!(
        html,
        "<div class=\"outcome {class}\"><p id=\"overall\" class=\"headline {class}\">{}</p>",
        esc(&headline)
    );
    // Integrity first, then each jurisdiction, each with its reasons.
    let reasons = plain::integrity_reasons(judgement, &context.names);
    let integrity_text =
        if reasons.is_empty() { integrity_sentence(judgement, &context.names) } else { String::new() };
    html.push_str("<table class=\"facts\">");
    let _ = write!(
        html,
        "<tr><th>Integrity</th><td><span id=\"integrity-verdict\" class=\"verdict {integrity_class}\">{integrity}</span> "
    );
    if reasons.is_empty() {
        let _ = write!(html, "{}", esc(&integrity_text));
    } else {
        html.push_str("<ul>");
        for (verdict, reason) in &reasons {
            let class = if *verdict == Verdict::Fail { "fail" } else { "warn" };
            let _ = write!(html, "<li class=\"{class}\">{}</li>", esc(reason));
        }
        html.push_str("</ul>");
    }
    html.push_str("</td></tr>\n");
    for policy in &judgement.policies {
        let (word, class) = policy_word(policy.verdict);
        let _ = write!(
            html,
            "<tr><th>{}<span class=\"sub\">{}</span></th><td><span class=\"verdict {class} policy-verdict\" data-jurisdiction=\"{}\">{word}</span><ul>",
            esc(&policy.jurisdiction),
            esc(&policy.name),
            esc(&policy.jurisdiction)
        );
        for reason in plain::policy_reasons(policy) {
            let _ = write!(html, "<li>{}</li>", esc(&reason));
        }
        html.push_str("</ul></td></tr>\n");
    }
    if judgement.policies.is_empty() {
        html.push_str(
            "<tr><th>Jurisdictions</th><td>No jurisdiction's rules were applied in this check.</td></tr>\n",
        );
    }
    html.push_str("</table></div>\n");

    // What was checked, who sealed, who holds, whom the verifier trusted.
    html.push_str("<table class=\"facts\">\n");
    let _ =
        writeln!(html, "<tr><th>What was checked</th><td><ul>{}</ul></td></tr>", what_was_checked(judgement));
    let sealed = judgement.verification.events.iter().find(|e| e.action == Action::Sealed);
    let sealer = match (sealed, manifest) {
        (Some(event), _) => format!(
            "on <span class=\"when\">{}</span>{} by {}",
            esc(&human::time(&event.time)),
            event.location.as_deref().map(|l| format!(", at {}", esc(l))).unwrap_or_default(),
            person(event, &context.names)
        ),
        (None, Some(m)) => format!(
            "at <span class=\"when\">{}</span>; the sealing event is not established",
            esc(&human::time(&m.sealed_at))
        ),
        (None, None) => "not established".to_owned(),
    };
    let _ = writeln!(html, "<tr><th>Sealed by</th><td id=\"sealed-by\">{sealer}</td></tr>");
    let _ = writeln!(html, "<tr><th>Held by</th><td id=\"held-by\">{}</td></tr>", holder(judgement, context));
    html.push_str("<tr><th>Keys the verifier trusted</th><td id=\"trusted-keys\">");
    if context.names.trusted.is_empty() {
        html.push_str("<strong>None.</strong> No key was given as trusted, so no signature can show who sealed or handled the evidence.");
    } else {
        html.push_str("<ul>");
        for trusted in context.names.trusted {
            let owner = &trusted.shown;
            let _ = write!(
                html,
                "<li>{} ({}{}{}), {}<span class=\"id\">fingerprint {} · key {}</span></li>",
                esc(&owner.name),
                esc(&owner.role),
                owner.organisation.as_deref().map(|o| format!(", {}", esc(o))).unwrap_or_default(),
                owner.jurisdiction.as_deref().map(|j| format!(", {}", esc(j))).unwrap_or_default(),
                esc(&plain::key_source(&trusted.source)),
                esc(&fingerprint(&trusted.key.id().to_string())),
                esc(plain::short(&trusted.key.id().to_string()))
            );
        }
        html.push_str("</ul><span class=\"note\">A key is trusted because whoever ran this check supplied it; that it belongs to the person it names is established by comparing its fingerprint with that person.</span>");
    }
    html.push_str("</td></tr>\n</table>\n</section>\n");
}

/// The integrity sentence when nothing failed or warned.
fn integrity_sentence(judgement: &Judgement, names: &Names) -> String {
    let Some(manifest) = &judgement.verification.manifest else {
        return "No record of what was sealed could be read.".into();
    };
    let total: u64 = manifest.items.iter().map(|i| i.size).sum();
    let signers: Vec<String> =
        judgement.verification.manifest_signers.iter().map(|id| names.of(id)).collect();
    let signers: Vec<&str> = signers.iter().map(String::as_str).collect();
    format!(
        "All {} of the {} are exactly as sealed on {}; the seal is signed by {}, and every step of the custody record is signed and in order.",
        human::size(total),
        human::plural(manifest.items.len(), "evidence item"),
        human::time(&manifest.sealed_at),
        plain::and_list(&signers)
    )
}

fn what_was_checked(judgement: &Judgement) -> String {
    let mut out = String::new();
    let verification = &judgement.verification;
    if let Some(manifest) = &verification.manifest {
        let total: u64 = manifest.items.iter().map(|i| i.size).sum();
        let mut algorithms: Vec<&str> =
            manifest.items.iter().flat_map(|i| i.digests.keys().map(String::as_str)).collect();
        algorithms.sort_unstable();
        algorithms.dedup();
        let bytes = if plain::bytes_checked(&verification.findings) {
            format!(
                "re-read in full and compared with the fingerprints ({}) taken when it was sealed",
                algorithms.join(", ")
            )
        } else {
            "<strong>not re-read</strong> in this check (only sizes compared)".to_owned()
        };
        let _ = write!(
            out,
            "<li>The evidence: {}, {}, {bytes}.</li>",
            human::plural(manifest.items.len(), "item"),
            esc(&human::size(total))
        );
    }
    let signatures = verification.findings.iter().filter(|f| f.check == "signature.manifest").count();
    let _ = write!(
        out,
        "<li>The signatures on the seal ({signatures}), with the keys the verifier trusted.</li>"
    );
    let receipts = verification
        .findings
        .iter()
        .filter(|f| {
            f.check == "custody.receipt" || f.check == "custody.rollback" || f.check == "custody.fork"
        })
        .count();
    let _ = write!(
        out,
        "<li>The custody record: {}, each signed and linked to the one before{}.</li>",
        human::plural(verification.custody.events, "event"),
        if receipts > 0 { ", and compared with the receipts given" } else { "" }
    );
    let tokens = verification.findings.iter().filter(|f| f.check == "time.token").count();
    if tokens > 0 {
        let _ = write!(out, "<li>Time-stamps from a trusted authority ({tokens}).</li>");
    }
    if !judgement.policies.is_empty() {
        let names: Vec<String> =
            judgement.policies.iter().map(|p| format!("{} ({})", p.jurisdiction, p.name)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let _ = write!(out, "<li>The rules of {}.</li>", esc(&plain::and_list(&names)));
    }
    out
}

/// `Ada Examiner (examiner, DE)` with the key in a smaller line.
/// Who signed an event, as the verifier's trusted keys name them (an event's own `actor`
/// text is its signer's claim), with the key in a smaller line.
pub(super) fn person(event: &Event, names: &Names) -> String {
    let key_id = &event.actor.key_id;
    format!("{}<span class=\"id\">key {}</span>", esc(&names.describe(key_id)), esc(plain::short(key_id)))
}

fn holder(judgement: &Judgement, context: &Context) -> String {
    let custody = &judgement.verification.custody;
    let ended = custody
        .holder
        .ended
        .map(|(sequence, action)| {
            format!(" Custody ended: the evidence was {} (event {sequence}).", action.name())
        })
        .unwrap_or_default();
    match (&custody.holder.holder, &custody.holder.pending) {
        (_, Some(pending)) => format!(
            "In transit: released by {} (event {}) to {}, who has not yet acknowledged receiving it.{ended}",
            esc(&context.names.of(&pending.from.key_id)),
            pending.sequence,
            esc(&context.names.of(&pending.to))
        ),
        (Some(holder), None) => {
            let since = judgement
                .verification
                .events
                .iter()
                .rev()
                .find(|e| {
                    e.actor.key_id == holder.key_id && matches!(e.action, Action::Sealed | Action::Accepted)
                })
                .map(|e| {
                    format!(
                        " since <span class=\"when\">{}</span> (event {})",
                        esc(&human::time(&e.time)),
                        e.sequence
                    )
                })
                .unwrap_or_default();
            format!(
                "{}{since}.<span class=\"id\">key {}</span>{ended}",
                esc(&context.names.of(&holder.key_id)),
                esc(plain::short(&holder.key_id))
            )
        }
        (None, None) => format!("Not established.{ended}"),
    }
}

/// The damaged ranges, where segment digests name them: prominent, near the top.
fn damage(html: &mut String, findings: &[Finding]) {
    let damaged: Vec<&Finding> =
        findings.iter().filter(|f| f.check == "item.damaged_ranges" && !f.ranges.is_empty()).collect();
    if damaged.is_empty() {
        return;
    }
    html.push_str("<section id=\"damage\" class=\"damage\"><h2>Altered evidence</h2>\n<p>These bytes differ from the bytes that were sealed (found by comparing the fingerprints of each segment):</p><ul>");
    for finding in damaged {
        for [start, end] in &finding.ranges {
            let _ = write!(
                html,
                "<li><code>{}</code>: {}</li>",
                esc(&finding.subject),
                esc(&human::byte_range(*start, *end))
            );
        }
    }
    html.push_str("</ul></section>\n");
}

fn exhibits(html: &mut String, judgement: &Judgement) {
    let Some(manifest) = &judgement.verification.manifest else {
        html.push_str("<h2>Evidence</h2>\n<p><strong>The record of what was sealed was not read: it carries no valid signature by a trusted key.</strong></p>\n");
        return;
    };
    html.push_str("<h2>Evidence</h2>\n<table class=\"facts\">");
    let _ = write!(html, "<tr><th>Case</th><td>{}</td></tr>", esc(&manifest.case.reference));
    if let Some(exhibit) = &manifest.case.exhibit {
        let _ = write!(html, "<tr><th>Exhibit</th><td>{}</td></tr>", esc(exhibit));
    }
    let _ = write!(
        html,
        "<tr><th>Sealed</th><td class=\"when\">{}</td></tr>",
        esc(&human::time(&manifest.sealed_at))
    );
    if manifest.legal_basis.is_empty() {
        html.push_str("<tr><th>Legal basis</th><td>none recorded</td></tr>");
    }
    for basis in &manifest.legal_basis {
        let _ = write!(
            html,
            "<tr><th>Legal basis</th><td>{}: {}{}</td></tr>",
            esc(&basis.kind.replace('_', " ")),
            esc(&basis.reference),
            basis.authority.as_deref().map(|a| format!(" ({})", esc(a))).unwrap_or_default()
        );
    }
    html.push_str("</table>\n<table><tr><th>Item</th><th>Size</th><th>Kind of data</th><th>Fingerprints (digests) taken when sealed</th></tr>\n");
    for item in &manifest.items {
        let digests: String = item
            .digests
            .iter()
            .map(|(a, d)| format!("{}: <span class=\"mono\">{}</span><br>", esc(&a.to_uppercase()), esc(d)))
            .collect();
        let category =
            item.category.map(|c| format!("{c:?}").to_lowercase()).unwrap_or_else(|| "not stated".into());
        let _ = writeln!(
            html,
            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{digests}</td></tr>",
            esc(&item.path),
            if item.reference { "<br>(kept outside the package)" } else { "" },
            esc(&human::size(item.size)),
            esc(&category)
        );
        if let Some(record) = &item.acquisition {
            let _ = writeln!(html, "<tr><td colspan=\"4\" class=\"note\">{}</td></tr>", acquisition(record));
        }
        if let Some(copy) = &item.copy_verification {
            let _ = writeln!(
                html,
                "<tr><td colspan=\"4\" class=\"note\">Copied into the package when sealed; the copy was synced and read back with {} and matched the source.</td></tr>",
                esc(&copy.algorithm.to_uppercase())
            );
        }
    }
    html.push_str("</table>\n");
}

/// How an acquired item was read, from its signed acquisition record.
fn acquisition(record: &serde_json::Map<String, serde_json::Value>) -> String {
    use serde_json::Value;
    fn text<'v>(value: Option<&'v Value>, key: &str) -> &'v str {
        value.and_then(|v| v.get(key)).and_then(Value::as_str).unwrap_or("")
    }
    let number = |value: Option<&Value>, key: &str| value.and_then(|v| v.get(key)).and_then(Value::as_u64);
    let source = record.get("source");
    let device = source.and_then(|s| s.get("device"));
    let mut facts = vec![text(source, "kind").replace('_', " ")];
    for (label, key) in [("model", "model"), ("serial", "serial")] {
        if !text(device, key).is_empty() {
            facts.push(format!("{label} {}", text(device, key)));
        }
    }
    let sector = number(source.and_then(|s| s.get("logical_sector_size")), "bytes").unwrap_or(512);
    let mut out = format!(
        "Acquired from <code>{}</code> ({}) from <span class=\"when\">{}</span> to <span class=\"when\">{}</span>: {} sectors of {sector} bytes. ",
        esc(text(source, "path")),
        esc(&facts.join(", ")),
        esc(&human::time(record.get("started_at").and_then(Value::as_str).unwrap_or(""))),
        esc(&human::time(record.get("ended_at").and_then(Value::as_str).unwrap_or(""))),
        human::count(record.get("sector_count").and_then(Value::as_u64).unwrap_or(0))
    );
    let ranges = record.get("read_errors").and_then(|m| m.get("ranges")).and_then(Value::as_array);
    let substituted = record.get("bytes_substituted").and_then(Value::as_u64);
    match ranges.filter(|r| !r.is_empty()) {
        None if substituted == Some(0) => out.push_str("Every sector was read. "),
        None => out.push_str("<strong>The record does not say which bytes were read.</strong> "),
        Some(ranges) => {
            let substituted = record.get("bytes_substituted").and_then(Value::as_u64).unwrap_or(0);
            let _ = write!(
                out,
                "<strong>{} could not be read and are zeros in the image:</strong> ",
                esc(&human::size(substituted))
            );
            let listed: Vec<String> = ranges
                .iter()
                .map(|r| {
                    let at = |key: &str| r.get(key).and_then(Value::as_u64).unwrap_or(0);
                    esc(&human::byte_range(at("byte_offset"), at("byte_offset") + at("byte_length")))
                })
                .collect();
            out.push_str(&listed.join("; "));
            out.push_str(". ");
        }
    }
    let image = text(record.get("image_verification"), "result");
    out.push_str(if image == "match" {
        "The image was read back from disk and matched. "
    } else {
        "The image was not read back. "
    });
    match text(record.get("source_verification"), "result") {
        "match" => out.push_str("The source, read a second time, matched."),
        "differs" => out.push_str("<strong>The source, read a second time, differed.</strong>"),
        _ => {}
    }
    out
}

fn custody(html: &mut String, judgement: &Judgement, context: &Context) {
    html.push_str("<h2>Chain of custody</h2>\n<table><tr><th>#</th><th>When (UTC)</th><th>What happened</th><th>By</th><th>Where the evidence was</th><th>Details</th></tr>\n");
    // The country each event states, or the last one stated before it; never guessed.
    let mut country: Option<&str> = None;
    for event in &judgement.verification.events {
        let place = match (event.country.as_deref(), country) {
            (Some(stated), _) => esc(stated),
            (None, Some(carried)) => format!("{} (as stated before)", esc(carried)),
            (None, None) => "unknown".to_owned(),
        };
        country = event.country.as_deref().or(country);
        let action = match (event.action, event.receiver.as_deref()) {
            (Action::Released, Some(to)) => format!("released to {}", esc(&context.names.of(to))),
            (Action::Disclosed, Some(to)) => format!("disclosed to {}", esc(&context.names.of(to))),
            (Action::OnwardAuthorised, Some(to)) => {
                format!("authorised onward transfer to {}", esc(&context.names.of(to)))
            }
            (Action::Notified, _) => {
                format!("notified {}", esc(event.to_state.as_deref().unwrap_or("?")))
            }
            (action, _) => esc(&action.name().replace('_', " ")),
        };
        let onward = event.onward.map(|o| format!("onward transfer {}", o.name()));
        let late = custos_manifest::custody::occurrence::recorded_after(event);
        let happened = event.occurred_at.as_deref().map(|at| {
            if late >= 3600 {
                format!("{} (recorded {:.1} days later)", human::time(at), late as f64 / 86_400.0)
            } else {
                human::time(at)
            }
        });
        let details: Vec<String> = [
            ("purpose", event.purpose.as_deref()),
            ("location", event.location.as_deref()),
            ("note", event.note.as_deref()),
            ("legal basis", event.legal_basis.as_deref()),
            ("conditions", event.conditions.as_deref()),
            ("keep until", event.retain_until.as_deref()),
            ("terms", onward.as_deref()),
            ("authorisation", event.authorisation.as_deref()),
            ("happened", happened.as_deref()),
            ("seal", event.seal_number.as_deref()),
            ("condition", event.condition.as_deref()),
            ("stored in", event.storage.as_deref()),
            ("exhibit", event.exhibit.as_deref()),
        ]
        .into_iter()
        .filter_map(|(label, value)| value.map(|v| format!("{label}: {}", esc(v))))
        .chain(event.attachments.iter().map(|a| {
            format!(
                "attached: <code>{}</code> (SHA-256 <span class=\"mono\">{}</span>)",
                esc(&a.path),
                esc(&a.sha256)
            )
        }))
        .collect();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"when\">{}</td><td>{action}</td><td>{}</td><td class=\"country\">{place}</td><td>{}</td></tr>",
            event.sequence,
            esc(&human::time(&event.time)),
            person(event, &context.names),
            details.join("<br>")
        );
    }
    html.push_str("</table>\n");
    let custody = &judgement.verification.custody;
    let _ = writeln!(
        html,
        "<p class=\"note\">The record holds {} event(s); its newest entry has the SHA-256 fingerprint <span class=\"mono\">{}</span>. A record proves only what it still holds: whoever kept a receipt of a later event can show whether events were removed.</p>",
        custody.events,
        esc(custody.head.as_deref().unwrap_or("none"))
    );
}

fn jurisdictions(html: &mut String, judgement: &Judgement) {
    if judgement.policies.is_empty() {
        return;
    }
    html.push_str("<h2>Jurisdictions in detail</h2>\n");
    for policy in &judgement.policies {
        let (word, class) = policy_word(policy.verdict);
        let vouched = match &policy.signature {
            PolicySignature::SignedBy { signers } => {
                let names: Vec<&str> = signers.iter().map(|s| s.name.as_str()).collect();
                format!("signed by {}", esc(&plain::and_list(&names)))
            }
            PolicySignature::Unsigned => "not signed".to_owned(),
            _ => "signed by keys the verifier does not trust".to_owned(),
        };
        let _ = write!(
            html,
            "<h3>{}: {}</h3>\n<p><span class=\"verdict {class}\">{word}</span> <span class=\"note\">(policy {}, {vouched})</span></p>\n",
            esc(&policy.jurisdiction),
            esc(&policy.name),
            esc(&policy.id)
        );
        html.push_str("<table><tr><th>Rule</th><th>Outcome</th><th>Why</th><th>Modelled on</th></tr>\n");
        for group in crate::policy::group_findings(&policy.findings) {
            let (word, class) = match group.verdict {
                PolicyVerdict::Fail => ("not met", "fail"),
                PolicyVerdict::Warn => ("met, with a warning", "warn"),
                _ => ("met", "pass"),
            };
            let applies = if group.subjects.is_empty() {
                String::new()
            } else {
                format!("<br><span class=\"note\">for {}</span>", esc(&group.subjects_text()))
            };
            let _ = writeln!(
                html,
                "<tr><td>{}<span class=\"id\">{}</span></td><td class=\"verdict {class}\">{word}</td><td>{}{applies}</td><td>{}</td></tr>",
                esc(custos_policy::rule_title(group.rule)),
                esc(group.rule),
                esc(group.reason),
                esc(group.citation)
            );
        }
        html.push_str("</table>\n");
    }
}

/// The technician's view: every failure and warning, and how many checks passed.
fn integrity_checks(html: &mut String, findings: &[Finding]) {
    html.push_str("<h2>All integrity checks</h2>\n");
    let problems: Vec<&Finding> = findings.iter().filter(|f| f.verdict != Verdict::Pass).collect();
    let passed = findings.len() - problems.len();
    let _ = writeln!(
        html,
        "<p>{} check(s) passed{}.</p>",
        human::count(passed as u64),
        if problems.is_empty() { ", none failed" } else { "; these did not" }
    );
    if problems.is_empty() {
        return;
    }
    html.push_str("<table><tr><th>Outcome</th><th>Check</th><th>About</th><th>Detail</th></tr>\n");
    for finding in problems {
        let (word, class) =
            if finding.verdict == Verdict::Fail { ("failed", "fail") } else { ("warning", "warn") };
        let _ = writeln!(
            html,
            "<tr><td class=\"verdict {class}\">{word}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            esc(finding.check),
            esc(&finding.subject),
            esc(&finding.detail)
        );
    }
    html.push_str("</table>\n");
}

fn glossary(html: &mut String) {
    html.push_str(
        "<h2>What the outcomes mean</h2>\n<dl>\
<dt>VERIFIED</dt><dd>Every check passed: the evidence bytes are exactly those that were sealed, every signature verifies with a key the verifier trusts, and the custody record is complete and in order as far as its own links show.</dd>\
<dt>VERIFIED WITH WARNINGS</dt><dd>Nothing failed, but something was not checked or needs a person's attention; the warnings are listed.</dd>\
<dt>NOT VERIFIED</dt><dd>At least one check failed: the package cannot be relied on as it was sealed. The failures are listed.</dd>\
<dt>ACCEPTABLE</dt><dd>The package meets every rule of that jurisdiction's policy that applies to it.</dd>\
<dt>ACCEPTABLE WITH WARNINGS</dt><dd>No rule is broken, but a rule raised a point for a person to consider.</dd>\
<dt>NOT ACCEPTABLE</dt><dd>At least one rule of the policy is not met; each is named with its reason.</dd>\
<dt>NOT APPLICABLE</dt><dd>The policy has no rule on this point.</dd>\
</dl>\n<h3>What VERIFIED proves, and what it does not</h3>\n<ul>\
<li>It proves that the bytes are bit-for-bit those that were sealed, and that the seal and each custody entry were signed with the trusted keys and not changed since.</li>\
<li>It does not prove that the evidence was acquired lawfully or correctly before it was sealed, nor that a trusted key belongs to the person it names: that is established by comparing the key's fingerprint with that person.</li>\
<li>Times in the record are those the signers' computers gave, unless a trusted time-stamping authority confirmed them.</li>\
<li>A custody record cannot show by itself that no entries were removed from its end; a receipt kept by a holder can.</li>\
</ul>\n",
    );
}

/// Commands a technician can run with tools other than Custos, with the package's real path.
/// The signed facts come first: the seal's signature, then the bytes against the digests it
/// covers. The bag's own lists come last and are said to be unsigned: whoever holds the
/// package can rewrite them, so on their own they prove nothing about what was sealed.
fn recheck(html: &mut String, judgement: &Judgement, context: &Context) {
    let pkg = context.package_absolute.display().to_string();
    let quoted = shell_quote(&pkg);
    html.push_str("<h2>Re-check with independent tools</h2>\n<p class=\"note\">For a technical expert: these confirm the key facts without Custos.</p><ul>");
    let minisig = context.package_absolute.join(custos_manifest::export::MINISIGN_SIGNATURE_PATH);
    if minisig.is_file() {
        html.push_str("<li>The seal's signature over the manifest (the signed list of every evidence file's fingerprints) with minisign, using a signer's public key in minisign form (made from the key file you trust with <code>custos key export-minisign KEY.pub --out KEY.minisign.pub</code>): ");
        let _ = write!(
            html,
            "<code>minisign -Vm {} -x {} -p KEY.minisign.pub</code></li>",
            esc(&shell_quote(&format!("{pkg}/custos/manifest.json"))),
            esc(&shell_quote(&minisig.display().to_string()))
        );
    } else {
        html.push_str("<li>The seal's signature can also be checked with minisign once a signer exports it (<code>custos export minisign</code>); this package holds no such export.</li>");
    }
    let _ = write!(
        html,
        "<li>Every evidence file against the SHA-256 fingerprints in that signed manifest (jq and GNU coreutils; every line must end in OK): <code class=\"signed-recheck\">cd {} &amp;&amp; {}</code></li>",
        esc(&quoted),
        esc(SIGNED_DIGESTS_CHECK)
    );
    if let Some(manifest) = &judgement.verification.manifest {
        for (command, digest) in item_rechecks(manifest, &pkg) {
            let _ = write!(
                html,
                "<li>{}: <code class=\"recheck\">{}</code> must print <span class=\"mono expect\">{}</span> (the fingerprint the seal signed)</li>",
                esc(command.what),
                esc(&command.line),
                esc(&digest)
            );
        }
    }
    html.push_str("</ul>\n<p class=\"note\">The package is also a BagIt bag. Its lists are not signed: whoever holds the package can rewrite them after changing a file, so these show only that the bag is consistent with itself, never that it holds what was sealed.</p><ul>");
    let algorithms: Vec<&str> = ["sha256", "sha512", "sha1", "md5"]
        .into_iter()
        .filter(|a| context.package_absolute.join(format!("manifest-{a}.txt")).is_file())
        .collect();
    if let Some(algorithm) = algorithms.first() {
        let _ = write!(
            html,
            "<li>The files against the bag's own (unsigned) list of {} fingerprints (GNU coreutils): <code>cd {} &amp;&amp; {algorithm}sum -c manifest-{algorithm}.txt</code></li>",
            algorithm.to_uppercase(),
            esc(&quoted)
        );
    }
    let _ = write!(
        html,
        "<li>The bag's structure and its own lists (Library of Congress bagit-python): <code>bagit.py --validate {}</code></li>",
        esc(&quoted)
    );
    html.push_str("</ul>\n<p class=\"note\">Fingerprints prove that bytes match a list; only a signature proves who made the list.</p>\n");
}

/// Reads every file's SHA-256 out of the signed manifest (each part of an item kept in
/// several files, otherwise the item) and has `sha256sum -c` check them: run inside the
/// package, after the manifest's signature was checked.
const SIGNED_DIGESTS_CHECK: &str = r#"jq -r '.items[] | select(.reference != true) | (.stored_as.parts // [.])[] | .digests.sha256 + "  " + .path' custos/manifest.json | sha256sum -c"#;

/// One command that re-checks an item with tools other than Custos.
struct Recheck {
    /// What it checks, in words.
    what: &'static str,
    /// The command line, paths quoted for a shell.
    line: String,
}

/// For the first item of each kind (a single file, a split raw image, an E01 set) with a
/// SHA-256: a command that prints that digest when the bytes are as sealed, and the digest.
/// A split image has no file at its path: its parts are read in order. An E01 file's own
/// digest is not the media's: libewf's `ewfverify` reads the media out of the set and prints
/// its SHA-256 (`ewfexport -t -` would mix its status line into the bytes on stdout).
fn item_rechecks(manifest: &custos_manifest::manifest::Manifest, pkg: &str) -> Vec<(Recheck, String)> {
    use custos_manifest::manifest::PartFormat;
    let path = |p: &str| shell_quote(&format!("{pkg}/{p}"));
    let mut out = Vec::new();
    let mut seen: Vec<Option<PartFormat>> = Vec::new();
    for item in manifest.items.iter().filter(|i| !i.reference) {
        let Some(digest) = item.digests.get("sha256") else { continue };
        let kind = item.stored_as.as_ref().map(|s| s.format);
        if seen.contains(&kind) {
            continue;
        }
        seen.push(kind);
        let recheck = match &item.stored_as {
            None => Recheck {
                what: "One item by itself (GNU coreutils)",
                line: format!("sha256sum {}", path(&item.path)),
            },
            Some(stored) => match stored.format {
                PartFormat::Split => {
                    let parts: Vec<String> = stored.parts.iter().map(|p| path(&p.path)).collect();
                    Recheck {
                        what: "One image kept in several files, its parts read in order (GNU coreutils)",
                        line: format!("cat {} | sha256sum", parts.join(" ")),
                    }
                }
                PartFormat::E01 => {
                    let Some(first) = stored.parts.first() else { continue };
                    Recheck {
                        what: "One E01 image's media, read out of its segment files (libewf's ewfverify, which also checks the container's own checksums and stored MD5, and ends with \u{201c}ewfverify: SUCCESS\u{201d})",
                        line: format!("ewfverify -q -d sha256 {}", path(&first.path)),
                    }
                }
            },
        };
        let expect = match kind {
            Some(PartFormat::E01) => format!("SHA256 hash calculated over data: {digest}"),
            _ => digest.clone(),
        };
        out.push((recheck, expect));
    }
    out
}

/// A path as one shell word: left alone when it holds only safe characters, otherwise in
/// single quotes.
fn shell_quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:,=@".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::{esc, shell_quote};

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn escapes_reordering_characters() {
        assert_eq!(esc("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
    }

    #[test]
    fn quotes_paths_for_a_shell() {
        assert_eq!(shell_quote("/tmp/pkg"), "/tmp/pkg");
        assert_eq!(shell_quote("/tmp/my pkg"), "'/tmp/my pkg'");
        assert_eq!(shell_quote("/tmp/it's"), "'/tmp/it'\\''s'");
    }
}
