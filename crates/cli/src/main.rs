//! `custos`: the command line. It parses arguments, calls the libraries, and renders their
//! results as text for people or JSON for machines. Exit codes: 0 all good, 1 a mismatch or
//! failed check, 2 a usage or I/O error.

mod acquire;
mod audit;
mod check;
mod deadlines;
mod demo;
mod evidence;
mod hash;
mod hash_audit;
mod human;
mod interchange;
mod jobs;
mod judge;
mod keygen;
mod location;
mod media;
mod order;
mod policy;
mod progress;
mod render;
mod report;
mod resume;
mod seal;
mod size;
mod store;

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// How a command ended, ordered by severity; the exit code of a run is the worst one seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Everything verified or was computed.
    Ok = 0,
    /// A digest did not match, or a check failed.
    Failed = 1,
    /// A usage error or an input that could not be read.
    Error = 2,
}

#[derive(Debug, Parser)]
#[command(
    name = "custos",
    version,
    about = "Keep digital evidence provably intact, from acquisition to court",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Hash files, devices, stdin or directory trees with several algorithms in one pass.
    Hash(hash::HashArgs),
    /// Make an Ed25519 key pair: PATH.key (secret, passphrase-protected) and PATH.pub.
    Keygen(keygen::KeygenArgs),
    /// Show a public key and its fingerprint, or export it for minisign.
    #[command(subcommand)]
    Key(keygen::KeyCommand),
    /// Seal evidence into a signed package (a BagIt bag with a manifest and custody log).
    Seal(seal::SealArgs),
    /// Image a device, file or stream once, read-only, straight into a new sealed package,
    /// with the acquisition record (source, sectors, every unreadable range) signed in it.
    Acquire(acquire::AcquireArgs),
    /// Add your signature to a sealed package's manifest (four eyes), recorded in its log.
    Cosign(evidence::CosignArgs),
    /// Add to or show a package's custody log.
    #[command(subcommand)]
    Custody(evidence::CustodyCommand),
    /// Record or list the legal orders a package is held under, in its custody log.
    #[command(subcommand)]
    Order(order::OrderCommand),
    /// Verify a package: its bytes, signatures, signers and custody chain.
    Verify(evidence::VerifyArgs),
    /// Write a self-contained HTML report for a court (the same checks as verify).
    Report(report::ReportArgs),
    /// Jurisdiction policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Write files that other tools check: checksum lists, minisign signatures, CASE/UCO,
    /// DFXML and hashdeep.
    #[command(subcommand)]
    Export(evidence::ExportCommand),
    /// Verify every package under one or more folders, unattended: one JSON line per
    /// package, resumable, with a signed ledger outside the evidence
    Audit(audit::AuditArgs),
    /// List what must happen by when (preservation lapses, production and retention dates,
    /// ends of orders), per package, soonest first
    Deadlines(deadlines::DeadlinesArgs),
    /// Packages in S3-compatible object stores: push one there, pull one back.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Run the main job on the bundled test images and check every result.
    Demo(demo::DemoArgs),
}

impl Command {
    /// Whether the command was asked for JSON: then its errors are JSON records too.
    fn wants_json(&self) -> bool {
        use evidence::{CustodyCommand as C, ExportCommand as E};
        match self {
            Command::Hash(args) => args.json,
            Command::Keygen(args) => args.json,
            Command::Key(keygen::KeyCommand::Show { json, .. })
            | Command::Key(keygen::KeyCommand::ExportMinisign { json, .. })
            | Command::Key(keygen::KeyCommand::Verify { json, .. }) => *json,
            Command::Seal(args) => args.package.json,
            Command::Acquire(args) => args.package.json,
            Command::Cosign(args) => args.json,
            Command::Custody(C::Release { event, .. })
            | Command::Custody(C::Accept { event, .. })
            | Command::Custody(C::Withdraw { event })
            | Command::Custody(C::AuthoriseOnward { event, .. })
            | Command::Custody(C::Record { event, .. }) => event.json,
            Command::Custody(C::Disclose(args)) => args.event.json,
            Command::Custody(C::Receipt { json, .. }) | Command::Custody(C::Log { json, .. }) => *json,
            Command::Order(command) => command.json(),
            Command::Verify(args) => args.json,
            Command::Report(args) => args.verify.json,
            Command::Policy(policy::PolicyCommand::Sign { json, .. })
            | Command::Policy(policy::PolicyCommand::Check { json, .. })
            | Command::Policy(policy::PolicyCommand::Trust { json, .. }) => *json,
            Command::Export(E::Checksums { json, .. }) | Command::Export(E::Minisign { json, .. }) => *json,
            Command::Export(E::Case { args })
            | Command::Export(E::Dfxml { args })
            | Command::Export(E::Hashdeep { args }) => args.json,
            Command::Store(command) => command.json(),
            Command::Demo(args) => args.json,
            Command::Audit(args) => args.wants_json(),
            Command::Deadlines(args) => args.json,
        }
    }
}

/// Runs one parsed command.
fn dispatch(command: Command) -> anyhow::Result<Status> {
    match command {
        Command::Hash(args) => hash::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Key(command) => keygen::run_key(command),
        Command::Seal(args) => seal::run_seal(args),
        Command::Acquire(args) => acquire::run(args),
        Command::Cosign(args) => evidence::run_cosign(args),
        Command::Custody(command) => evidence::run_custody(command),
        Command::Order(command) => order::run(command),
        Command::Verify(args) => evidence::run_verify(args),
        Command::Export(command) => evidence::run_export(command),
        Command::Audit(args) => audit::run(args),
        Command::Deadlines(args) => deadlines::run(args),
        Command::Policy(command) => policy::run_policy(command),
        Command::Report(args) => report::run(args),
        Command::Store(command) => store::run(command),
        Command::Demo(args) => demo::run(args),
    }
}

/// Parses and runs a command line given as words (the demo runs real commands this way).
fn run_words(words: &[&std::ffi::OsStr]) -> anyhow::Result<Status> {
    let cli =
        Cli::try_parse_from(std::iter::once(std::ffi::OsStr::new("custos")).chain(words.iter().copied()))?;
    dispatch(cli.command)
}

fn main() -> ExitCode {
    custos_manifest::custody::build::set_commit(env!("CUSTOS_COMMIT"));
    // `custos … | head`: printing to a closed pipe is the reader's choice, not a crash.
    // println! panics on it; end quietly with status 0 instead of a panic's 101.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // A usage error in a JSON run is a record too, so a batch job sees it.
            if error.use_stderr() && std::env::args_os().any(|a| a == "--json") {
                let message = error.render().to_string();
                let what =
                    message.split("\n\nUsage").next().unwrap_or_default().trim_start_matches("error: ");
                let what = what.split_whitespace().collect::<Vec<_>>().join(" ");
                let _ = render::print_json(&serde_json::json!({ "verdict": "error", "error": what }));
            }
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { Status::Error as u8 } else { 0 });
        }
    };
    let json = cli.command.wants_json();
    match dispatch(cli.command) {
        Ok(status) => ExitCode::from(status as u8),
        Err(error) => {
            // A closed pipe (`custos hash … | head`) is the reader's choice, not a failure.
            if error.chain().any(|cause| {
                cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let message = render::error_chain(error.as_ref());
            // Automation reads stdout: it gets a record for a failed run too.
            if json {
                let _ = render::print_json(&serde_json::json!({ "verdict": "error", "error": message }));
            }
            // The one boundary where an error's text reaches a terminal: E01 section names,
            // unknown fields, S3 keys and paths from input are shown, never obeyed.
            eprintln!("custos: error: {}", render::escape(&message));
            ExitCode::from(Status::Error as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap checks its definitions only when a command runs in a debug build: two flags of one
    /// name (a `--passphrase-file` flattened twice into `report`) would go unnoticed until a
    /// user ran that very command. This checks every command at once.
    #[test]
    fn every_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
