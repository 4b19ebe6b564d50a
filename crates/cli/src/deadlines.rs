//! `custos deadlines`: what must happen by when, per package, soonest first: preservation
//! lapses and production dates the policies set, retention dates of disclosures, the ends
//! of orders. Read from the events that verify under the keys the operator trusts.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use custos_policy::{Deadline, DeadlineKind};

use crate::judge::{Inputs, JudgeArgs, Verifier};
use crate::render::escape;
use crate::Status;

#[derive(Debug, Args)]
pub struct DeadlinesArgs {
    /// Packages, or folders (and s3:// prefixes) holding packages
    #[arg(value_name = "PKG|ROOT", required = true)]
    pub roots: Vec<PathBuf>,
    /// Only deadlines due within this long, or past: 14d, 36h, 2w (days when no unit)
    #[arg(long, value_name = "DURATION", value_parser = duration_days)]
    pub within: Option<f64>,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// One JSON record per package
    #[arg(long)]
    pub json: bool,
}

/// `14d`, `36h`, `2w` or `14` as days.
fn duration_days(text: &str) -> Result<f64, String> {
    let (number, unit) = match text.trim().char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => (&text.trim()[..at], Some(unit)),
        _ => (text.trim(), None),
    };
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("`{}` is not a duration such as 14d, 36h or 2w", escape(text)))?;
    match unit {
        None | Some('d') => Ok(value),
        Some('h') => Ok(value / 24.0),
        Some('w') => Ok(value * 7.0),
        Some(_) => Err(format!("`{}`: the unit is d (days), h (hours) or w (weeks)", escape(text))),
    }
}

/// `preservation lapses  preservation_order PRES-1 on 2027-01-16 (in 40.0 days; budapest-…)`.
pub fn describe(deadline: &Deadline) -> String {
    let what = match deadline.kind {
        DeadlineKind::PreservationLapse => "preservation lapses",
        DeadlineKind::ProductionDue => "production due",
        DeadlineKind::RetentionEnd => "retention ends",
        DeadlineKind::OrderEnd => "order ends",
    };
    let when = if deadline.days_left < 0.0 {
        format!("{:.1} days overdue", -deadline.days_left)
    } else {
        format!("in {:.1} days", deadline.days_left)
    };
    let by = deadline.policy.as_deref().map(|p| format!("; {}", escape(p))).unwrap_or_default();
    format!("{what:<20} {} on {} ({when}{by})", deadline.subject, &deadline.due[..deadline.due.len().min(16)])
}

pub fn run(args: DeadlinesArgs) -> Result<Status> {
    let verifier = Verifier::load(&args.judge)?;
    if !verifier.trusts_any_key() && !args.judge.allow_untrusted {
        bail!(
            "no --trust key: deadlines are read from custody events signed by keys you trust, and none was found in what --trust names. Give them with --trust KEY.pub or --trust FOLDER (repeatable), or with a --policy that names them"
        );
    }
    let mut packages = Vec::new();
    for root in &args.roots {
        packages.extend(crate::location::packages_under(root)?);
    }
    let mut status = Status::Ok;
    for package in packages {
        let store = match crate::location::open_package(&package) {
            Ok(store) => store,
            Err(error) => {
                crate::render::say(&format!("{}: {error:#}", crate::render::shown(&package)));
                status = Status::Failed;
                continue;
            }
        };
        // Deadlines need the signed facts, not the payload: no item is re-hashed.
        let judgement = verifier.judge(store.as_ref(), &Inputs { fast: true, ..Inputs::default() });
        let failed = judgement.verification.findings.iter().any(|f| {
            f.verdict == custos_manifest::findings::Verdict::Fail && f.check != "bag.payload_digest"
        });
        let shown: Vec<&Deadline> = judgement
            .deadlines
            .iter()
            .filter(|d| args.within.is_none_or(|days| d.days_left <= days))
            .collect();
        if args.json {
            crate::render::print_json(&serde_json::json!({
                "package": package.display().to_string(),
                "verified": !failed,
                "deadlines": shown,
            }))?;
        } else {
            println!(
                "{}:{}",
                crate::render::shown(&package),
                if shown.is_empty() { " no open deadline" } else { "" }
            );
            for deadline in &shown {
                println!("  {}", describe(deadline));
            }
            if failed {
                println!(
                    "  (its verification failed: only the events that verified are read; run custos verify)"
                );
            }
        }
        if failed {
            status = Status::Failed;
        }
    }
    Ok(status)
}
