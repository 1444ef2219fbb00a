//! `alliancepay`: offline key and JWE tools, the bank's session flow, and a local bank.
//!
//! Exit status: 0 on success, 1 when the operation failed (the bank refused, decryption
//! failed, a file was unusable), 2 for command-line usage errors (clap's convention).

#![forbid(unsafe_code)]

mod demo;
mod offline;
mod online;
mod output;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Offline JOSE tools, the AlliancePay session flow, and a local bank simulator.
#[derive(Parser)]
#[command(name = "alliancepay", version, about, long_about = None)]
struct Cli {
    /// More diagnostics on stderr (-v info, -vv debug). Secrets are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a merchant key pair: DIR/merchant.jwk (private, mode 0600) and DIR/merchant.pub.jwk.
    Keygen {
        /// Directory to write the two files into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Replace existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Encrypt stdin to a public JWK (ECDH-ES+A256KW / A256GCM); prints the compact JWE.
    Encrypt {
        /// The recipient's public JWK file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Decrypt a compact JWE read from stdin with a private JWK; prints the plaintext.
    Decrypt {
        /// The private JWK file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Print the RFC 7638 thumbprint of a JWK file.
    Thumbprint {
        /// The JWK file (public or private).
        file: PathBuf,
    },
    /// Authorize the virtual device and print a session summary.
    Authorize {
        #[command(flatten)]
        bank: BankArgs,
        /// Also print the refresh and auth tokens.
        #[arg(long)]
        show_secrets: bool,
    },
    /// HPP orders.
    Order {
        #[command(subcommand)]
        command: OrderCommand,
    },
    /// Run the local bank simulator in the foreground.
    Simulate(simulate::SimulateArgs),
    /// Walk the whole flow against an embedded simulator, step by step.
    Demo,
}

#[derive(Subcommand)]
enum OrderCommand {
    /// Create an HPP purchase order; prints the order and the customer's payment link.
    Create(online::CreateArgs),
    /// Read an order and its operations.
    Status {
        #[command(flatten)]
        bank: BankArgs,
        /// The bank's order id (hppOrderId).
        #[arg(long)]
        hpp_order_id: String,
    },
    /// Refund (part of) a purchase operation.
    Refund(online::RefundArgs),
}

/// Where the bank is and who we are.
#[derive(Args, Clone)]
struct BankArgs {
    /// The bank's base URL (or the simulator's).
    #[arg(long, env = "ALLIANCEPAY_BASE_URL")]
    base_url: String,
    /// The merchant's service code (prefer the environment variable: arguments show in `ps`).
    #[arg(long, env = "ALLIANCEPAY_SERVICE_CODE", hide_env_values = true)]
    service_code: String,
    /// The merchant's private JWK file.
    #[arg(long, env = "ALLIANCEPAY_KEY")]
    key: PathBuf,
    /// Keep the session in this file (mode 0600) so later commands reuse it.
    #[arg(long, env = "ALLIANCEPAY_SESSION_FILE")]
    session_file: Option<PathBuf>,
    /// The x-api_version header.
    #[arg(long, default_value = "v1")]
    api_version: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    output::init_logging(cli.verbose);
    let out = output::Output::new(cli.json);
    let result = match cli.command {
        Command::Keygen { out: dir, force } => offline::keygen(&out, &dir, force),
        Command::Encrypt { key } => offline::encrypt(&key),
        Command::Decrypt { key } => offline::decrypt(&key),
        Command::Thumbprint { file } => offline::thumbprint(&out, &file),
        Command::Authorize { bank, show_secrets } => online::authorize(&out, &bank, show_secrets),
        Command::Order { command } => match command {
            OrderCommand::Create(args) => online::create_order(&out, &args),
            OrderCommand::Status { bank, hpp_order_id } => {
                online::order_status(&out, &bank, &hpp_order_id)
            }
            OrderCommand::Refund(args) => online::refund(&out, &args),
        },
        Command::Simulate(args) => simulate::run(&out, &args),
        Command::Demo => demo::run(&out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("alliancepay: {message}");
            ExitCode::FAILURE
        }
    }
}
