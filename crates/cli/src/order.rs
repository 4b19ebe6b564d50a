//! `custos order`: legal orders as signed records in a package's custody log
//! (docs/formats/orders.md).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use custos_manifest::manifest::Category;
use custos_manifest::order::{Order, MAX_DOCUMENT_BYTES, ORDER_KINDS};

use crate::evidence::short;
use crate::evidence::SignerArgs;
use crate::keygen::load_signer;
use crate::render::escape;
use crate::Status;

#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Record an order (a warrant, a production or preservation order, an EPOC, an MLA
    /// request, …) in the package's custody log, with its document kept in the package
    Add(Box<AddArgs>),
    /// List the orders recorded in a package
    List {
        /// The package
        package: PathBuf,
        /// One JSON record per order
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The package
    pub package: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// warrant, court_order, production_order, preservation_order, epoc, epoc_pr,
    /// mla_request, emergency_request, consent, seizure_record or statutory_power
    #[arg(long)]
    pub kind: String,
    /// The order's reference (file number), unique among the package's orders
    #[arg(long)]
    pub reference: String,
    /// Who issued it
    #[arg(long)]
    pub issuer: String,
    /// The state whose authority issued it (ISO 3166-1 alpha-2)
    #[arg(long, value_name = "CC", value_parser = crate::evidence::country_code)]
    pub issuing_state: String,
    /// The state where it is executed, when another
    #[arg(long, value_name = "CC", value_parser = crate::evidence::country_code)]
    pub enforcing_state: Option<String>,
    /// When it was issued (RFC 3339, or a date)
    #[arg(long, value_name = "TIME")]
    pub issued_at: String,
    /// From when it authorises
    #[arg(long, value_name = "TIME")]
    pub valid_from: String,
    /// Until when
    #[arg(long, value_name = "TIME")]
    pub valid_until: String,
    /// The kinds of data it covers (all when not given): subscriber, identification,
    /// traffic, content
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub categories: Vec<String>,
    /// The reference of an earlier recorded order this one amends or extends
    #[arg(long, value_name = "REF")]
    pub extends: Option<String>,
    /// The order's document (a PDF, a scan), kept in the package; its digest is signed
    #[arg(long, value_name = "DOCUMENT")]
    pub file: Option<PathBuf>,
    /// The country the evidence is in (ISO 3166-1 alpha-2), signed in the event
    #[arg(long, value_name = "CC", value_parser = crate::evidence::country_code)]
    pub country: Option<String>,
    /// Time-stamp the event's signature
    #[arg(long, value_name = "URL")]
    pub tsa: Option<String>,
    /// Print the appended event as JSON
    #[arg(long)]
    pub json: bool,
}

impl OrderCommand {
    /// Whether the run prints JSON.
    pub fn json(&self) -> bool {
        match self {
            OrderCommand::Add(args) => args.json,
            OrderCommand::List { json, .. } => *json,
        }
    }
}

pub fn run(command: OrderCommand) -> Result<Status> {
    match command {
        OrderCommand::Add(args) => add(*args),
        OrderCommand::List { package, json } => list(&package, json),
    }
}

fn add(args: AddArgs) -> Result<Status> {
    // Cheap checks first: nobody should type a passphrase for a command that cannot run.
    if !args.package.join(custos_manifest::package::MANIFEST_PATH).is_file() {
        bail!("{} is not an evidence package (no custos/manifest.json)", crate::render::shown(&args.package));
    }
    let kind = custos_manifest::vocabulary::canonical(&args.kind, &ORDER_KINDS, "order kind")
        .map_err(anyhow::Error::msg)
        .context("--kind")?;
    let categories = args
        .categories
        .iter()
        .map(|name| {
            Category::parse(name.trim()).with_context(|| {
                format!(
                    "--categories: `{}` is not a category: subscriber, identification, traffic or content",
                    escape(name)
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let time = time_arg;
    let order = Order {
        kind: kind.to_owned(),
        reference: args.reference.clone(),
        issuer: args.issuer.clone(),
        issuing_state: args.issuing_state.clone(),
        enforcing_state: args.enforcing_state.clone(),
        issued_at: time("--issued-at", &args.issued_at)?,
        valid_from: time("--valid-from", &args.valid_from)?,
        valid_until: time("--valid-until", &args.valid_until)?,
        categories: (!categories.is_empty()).then_some(categories),
        extends: args.extends.clone(),
        document: None,
    };
    order.check().map_err(anyhow::Error::msg)?;
    let document = match &args.file {
        Some(file) => {
            let bytes = crate::render::read_input_file(file, MAX_DOCUMENT_BYTES, "order document")?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Some((name, bytes))
        }
        None => None,
    };
    let (secret, public) = load_signer(&args.signer.key, args.signer.passphrase_file.as_deref())?;
    let appended = custos_manifest::package::record_order(
        &args.package,
        custos_manifest::time::now_rfc3339(),
        args.country.clone(),
        order,
        document.as_ref().map(|(name, bytes)| (name.as_str(), bytes.as_slice())),
        &secret,
        &public,
        args.tsa.as_deref(),
    )
    .with_context(|| format!("cannot record the order in {}", crate::render::shown(&args.package)))?;
    let event = &appended.event;
    if args.json {
        crate::render::print_json(event)?;
    } else {
        println!(
            "event {}: order_recorded by {} at {}: {}",
            event.sequence,
            escape(&event.actor.name),
            event.time,
            event.order.as_ref().map(describe).unwrap_or_default()
        );
    }
    Ok(Status::Ok)
}

/// A time given on the command line (RFC 3339, or a date), as events write it (UTC, `Z`).
pub fn time_arg(flag: &str, text: &str) -> Result<String> {
    let seconds = custos_policy::time::parse_rfc3339(text).with_context(|| {
        format!("{flag} {}: not an RFC 3339 time (2026-03-01T09:00:00Z) nor a date", escape(text))
    })?;
    Ok(custos_manifest::time::rfc3339_from_unix(seconds.max(0) as u64))
}

/// One line about an order: kind, reference, issuer and state, validity, categories.
pub fn describe(order: &Order) -> String {
    let categories = match &order.categories {
        None => "all kinds of data".to_owned(),
        Some(categories) => categories.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "),
    };
    let enforcing =
        order.enforcing_state.as_deref().map(|s| format!(", executed in {s}")).unwrap_or_default();
    let extends = order.extends.as_deref().map(|r| format!(", extends {}", escape(r))).unwrap_or_default();
    let document = order
        .document
        .as_ref()
        .map(|d| format!(", document {} (SHA-256 {})", escape(&d.path), short(&d.sha256)))
        .unwrap_or_default();
    format!(
        "{} {} by {} ({}{enforcing}), valid {} to {}, for {categories}{extends}{document}",
        order.kind,
        escape(&order.reference),
        escape(&order.issuer),
        order.issuing_state,
        order.valid_from,
        order.valid_until
    )
}

fn list(package: &Path, json: bool) -> Result<Status> {
    let (findings, events) = custos_manifest::package::log_with_shipped_keys(package)
        .with_context(|| format!("cannot read the custody log of {}", crate::render::shown(package)))?;
    for event in &events {
        let Some(order) = &event.order else { continue };
        if json {
            crate::render::print_json(&serde_json::json!({
                "sequence": event.sequence,
                "recorded_at": event.time,
                "recorded_by": { "key_id": event.actor.key_id, "name": event.actor.name },
                "order": order,
            }))?;
        } else {
            println!("{:>3}  {}", event.sequence, describe(order));
        }
    }
    let problems: Vec<_> = findings
        .iter()
        .filter(|f| f.verdict == custos_manifest::findings::Verdict::Fail && f.check != "trust.signer")
        .collect();
    for finding in &problems {
        crate::render::say(&format!("{} {}: {}", finding.check, finding.subject, finding.detail));
    }
    if !json {
        crate::render::say("signatures checked against the keys shipped in the package only; `custos verify --trust` checks who signed");
    }
    Ok(if problems.is_empty() { Status::Ok } else { Status::Failed })
}
