//! `custos report`: one self-contained HTML file for a court: the case and exhibits with
//! their digests, the custody timeline with each signer, the verdict of every jurisdiction
//! with reasons and citations, and how to re-check key facts with independent tools. No
//! external assets, no JavaScript, and a print stylesheet.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use custos_manifest::findings::{Finding, Verdict};
use custos_policy::PolicyVerdict;

use crate::evidence::{judge, Judgement, VerifyArgs};
use crate::Status;

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// The HTML file to write (never overwritten)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn run(args: ReportArgs) -> Result<Status> {
    let judgement = judge(&args.verify)?;
    let html = render(&args.verify.package, &judgement);
    std::fs::File::create_new(&args.out)
        .and_then(|mut f| std::io::Write::write_all(&mut f, html.as_bytes()))
        .with_context(|| {
            format!("cannot write {} (an existing report is never overwritten)", args.out.display())
        })?;
    if args.verify.json {
        println!(
            "{}",
            serde_json::json!({ "report": args.out.display().to_string(), "verdict": judgement.verdict })
        );
    } else {
        println!("wrote {}", args.out.display());
    }
    Ok(judgement.status())
}

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
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
        Verdict::Fail => ("FAILED", "fail"),
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

const STYLE: &str = "body{font:15px/1.45 Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #999;margin-top:2rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #bbb;padding:.3rem .4rem;text-align:left;vertical-align:top}\
th{background:#eee}code,.mono{font-family:Menlo,Consolas,monospace;font-size:.8rem;word-break:break-all}\
.verdict{font-weight:bold;padding:.1rem .4rem;border:2px solid}.pass{color:#0a5d1e}.warn{color:#7a5200}\
.fail{color:#a00000}.na{color:#555}\
.note{color:#444;font-size:.9rem}@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}tr{page-break-inside:avoid}}";

/// The whole report as one HTML document.
pub fn render(package: &Path, judgement: &Judgement) -> String {
    let mut html = String::new();
    let manifest = judgement.verification.manifest.as_ref();
    let case = manifest.map_or_else(|| "(unverified package)".to_owned(), |m| m.case.reference.clone());
    let (word, class) = integrity_word(judgement.verdict);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Custos report: {}</title><style>{STYLE}</style></head><body>\n",
        esc(&case)
    );
    let _ = write!(html, "<h1>Evidence report: case {}</h1>\n<p class=\"note\">Package <code>{}</code>, checked by custos {} on {}.</p>\n", esc(&case), esc(&package.display().to_string()), env!("CARGO_PKG_VERSION"), esc(&custos_manifest::time::now_rfc3339()));
    let _ = writeln!(
        html,
        "<p>Integrity: <span id=\"integrity-verdict\" class=\"verdict {class}\">{word}</span></p>"
    );

    if let Some(manifest) = manifest {
        let _ = write!(
            html,
            "<h2>Case and exhibits</h2>\n<table><tr><th>Case</th><td>{}</td></tr>",
            esc(&manifest.case.reference)
        );
        if let Some(exhibit) = &manifest.case.exhibit {
            let _ = write!(html, "<tr><th>Exhibit</th><td>{}</td></tr>", esc(exhibit));
        }
        let _ = write!(html, "<tr><th>Sealed at</th><td>{}</td></tr>", esc(&manifest.sealed_at));
        for basis in &manifest.legal_basis {
            let _ = write!(
                html,
                "<tr><th>Legal basis</th><td>{}: {}{}</td></tr>",
                esc(&basis.kind),
                esc(&basis.reference),
                basis.authority.as_deref().map(|a| format!(" ({})", esc(a))).unwrap_or_default()
            );
        }
        html.push_str("</table>\n<table><tr><th>Item</th><th>Bytes</th><th>Category</th><th>Digests (signed)</th></tr>\n");
        for item in &manifest.items {
            let digests: String = item
                .digests
                .iter()
                .map(|(a, d)| format!("{}: <span class=\"mono\">{}</span><br>", esc(a), esc(d)))
                .collect();
            let category = item.category.map(|c| format!("{c:?}").to_lowercase()).unwrap_or_default();
            let _ = writeln!(
                html,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{digests}</td></tr>",
                esc(&item.path),
                if item.reference { " (kept outside the package)" } else { "" },
                item.size,
                esc(&category)
            );
        }
        html.push_str("</table>\n");
    } else {
        html.push_str("<h2>Case and exhibits</h2>\n<p><strong>The manifest was not read: no valid signature by a trusted key.</strong></p>\n");
    }

    html.push_str("<h2>Chain of custody</h2>\n<table><tr><th>#</th><th>Time</th><th>Action</th><th>By (signer)</th><th>Details</th></tr>\n");
    for event in &judgement.verification.events {
        let actor = &event.actor;
        let who = format!(
            "{} ({}{}{})<br><span class=\"mono\">key {}</span>",
            esc(&actor.name),
            esc(&actor.role),
            actor.organisation.as_deref().map(|o| format!(", {}", esc(o))).unwrap_or_default(),
            actor.jurisdiction.as_deref().map(|j| format!(", {}", esc(j))).unwrap_or_default(),
            esc(actor.key_id.get(..16).unwrap_or(&actor.key_id))
        );
        let details: Vec<String> = [
            ("to", event.receiver.as_deref()),
            ("purpose", event.purpose.as_deref()),
            ("location", event.location.as_deref()),
            ("note", event.note.as_deref()),
            ("legal basis", event.legal_basis.as_deref()),
        ]
        .into_iter()
        .filter_map(|(label, value)| value.map(|v| format!("{label}: {}", esc(v))))
        .collect();
        let action = event.action.name();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{who}</td><td>{}</td></tr>",
            event.sequence,
            esc(&event.time),
            esc(action),
            details.join("<br>")
        );
    }
    html.push_str("</table>\n");
    // Who holds it now, and what the log can and cannot prove by itself.
    let custody = &judgement.verification.custody;
    let holder = match (&custody.holder.holder, &custody.holder.pending) {
        (_, Some(pending)) => format!(
            "In transit: released by {} (event {}), not yet accepted by its receiver.",
            esc(&pending.from.name),
            pending.sequence
        ),
        (Some(holder), None) => format!(
            "Held by {} <span class=\"mono\">(key {})</span>.",
            esc(&holder.name),
            esc(holder.key_id.get(..16).unwrap_or(&holder.key_id))
        ),
        (None, None) => "No holder could be established.".to_owned(),
    };
    let _ = writeln!(
        html,
        "<p>{holder} The log holds {} event(s); its newest line has SHA-256 <span class=\"mono\">{}</span>. A log proves only what it still holds: whoever kept a receipt of an event can show whether it is still there (<span class=\"mono\">custos verify --receipt</span>).</p>",
        custody.events,
        esc(custody.head.as_deref().unwrap_or("none"))
    );

    html.push_str("<h2>Integrity checks</h2>\n");
    let problems: Vec<&Finding> =
        judgement.verification.findings.iter().filter(|f| f.verdict != Verdict::Pass).collect();
    let passed = judgement.verification.findings.len() - problems.len();
    let _ = writeln!(html, "<p>{passed} checks passed.</p>");
    if !problems.is_empty() {
        html.push_str("<table><tr><th>Verdict</th><th>Check</th><th>Subject</th><th>Detail</th></tr>\n");
        for finding in problems {
            let (word, class) = integrity_word(finding.verdict);
            let _ = writeln!(
                html,
                "<tr><td class=\"{class}\">{word}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(finding.check),
                esc(&finding.subject),
                esc(&finding.detail)
            );
        }
        html.push_str("</table>\n");
    }

    if !judgement.policies.is_empty() {
        html.push_str("<h2>Jurisdictions</h2>\n");
        for policy in &judgement.policies {
            let (word, class) = policy_word(policy.verdict);
            let _ = write!(html, "<h3>{} ({})</h3>\n<p><span class=\"verdict {class} policy-verdict\" data-jurisdiction=\"{}\">{word}</span> <span class=\"note\">policy {}</span></p>\n", esc(&policy.name), esc(&policy.jurisdiction), esc(&policy.jurisdiction), esc(&policy.id));
            html.push_str(
                "<table><tr><th>Rule</th><th>Verdict</th><th>Reason</th><th>Modelled on</th></tr>\n",
            );
            for finding in policy.findings.iter().filter(|f| f.verdict != PolicyVerdict::NotApplicable) {
                let (word, class) = policy_word(finding.verdict);
                let _ = writeln!(
                    html,
                    "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td><td>{}</td></tr>",
                    esc(finding.rule),
                    esc(&finding.evidence),
                    esc(&finding.citation)
                );
            }
            html.push_str("</table>\n");
        }
    }

    let pkg = esc(&package.display().to_string());
    let _ = write!(
        html,
        "<h2>Re-check with independent tools</h2>\n<ul>\
<li>The evidence bytes against the bag's digests (GNU coreutils): <code>cd {pkg} &amp;&amp; sha256sum -c manifest-sha256.txt</code></li>\
<li>The package as a BagIt bag (Library of Congress bagit-python): <code>bagit.py --validate {pkg}</code></li>\
<li>The manifest's signature, after <code>custos export minisign</code> by its signer: <code>minisign -Vm {pkg}/custos/manifest.json -p {pkg}/custos/keys/KEYID.minisign.pub</code></li>\
<li>Compare the SHA-256 digests printed above with those in <code>{pkg}/custos/manifest.json</code> and with the digests recorded at acquisition.</li>\
</ul>\n<p class=\"note\">Checksums prove the bytes match a list; only the signature proves who made the list. Whether a key belongs to who it names must be established out of band.</p>\n</body></html>\n"
    );
    html
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
