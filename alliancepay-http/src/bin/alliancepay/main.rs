//! `alliancepay`: offline key and JWE tools, the bank's session flow, and a local bank.
//!
//! Exit status: 0 done; 1 refused or failed (the bank refused, decryption failed, a file was
//! unusable, stdout could not be written); 2 command-line usage errors (clap's convention);
//! 3 outcome unknown: a write may have been applied, and stderr says the command that resolves
//! it (`order find`, or the same command with the same `--merchant-request-id`); 4 already
//! exists: the bank has an earlier request with this `--merchant-request-id`, so it was
//! received (look it up with `order find`; an unpaid order cannot be fetched by it: let it
//! expire and create a new order with a new id); 5 done, but the result could not be written
//! to stdout: the bank applied the write, and stderr has its summary (never re-run it with a
//! new id).

#![forbid(unsafe_code)]

mod demo;
mod offline;
mod online;
mod output;
mod simulate;
mod soak;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Offline JOSE tools, the AlliancePay session flow, and a local bank simulator.
#[derive(Parser)]
#[command(
    name = "alliancepay",
    version,
    about,
    long_about = None,
    after_help = "Exit status: 0 done; 1 refused or failed; 2 usage error; 3 outcome unknown (the bank may have applied a write: stderr says the command that resolves it); 4 already exists (the bank has an earlier request with this --merchant-request-id: look it up with `order find`; an unpaid order cannot be fetched: let it expire and create a new order with a new id); 5 done, but the result could not be written to stdout (stderr has it)."
)]
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
    /// Keep calling the bank from several threads for a while and print what happened: a
    /// load check of a worker fleet sharing one service code (run several at once).
    Soak(soak::SoakArgs),
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
    /// Look an operation (payment or refund) up by merchantRequestId or operation id: how to
    /// resolve a write that ended with exit status 3 or 4.
    Find(online::FindArgs),
}

/// Why a command did not succeed, and its exit status.
pub enum Failure {
    /// Refused or failed: exit 1.
    Failed(String),
    /// A write may have been applied: exit 3.
    Unknown(String),
    /// The bank has an earlier request with this id: exit 4.
    AlreadyExists(String),
    /// The bank applied the write but stdout could not take the result: exit 5.
    DoneUnwritten(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::Failed(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Self::Failed(message.to_owned())
    }
}

/// Exit status of an unknown outcome.
const EXIT_UNKNOWN: u8 = 3;
/// Exit status of a write whose `merchantRequestId` the bank already has.
pub const EXIT_ALREADY_EXISTS: u8 = 4;
/// Exit status of a write the bank applied whose result could not be written to stdout.
const EXIT_DONE_UNWRITTEN: u8 = 5;

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
    /// Keep the session in this file (mode 0600) so later commands reuse it; the same as
    /// --session-store file:PATH.
    #[arg(long, env = "ALLIANCEPAY_SESSION_FILE")]
    session_file: Option<PathBuf>,
    /// Share the session with other processes: file:PATH (one host: a lock file beside it)
    /// or `redis://HOST[:PORT][/DB]` / `rediss://…` (many hosts). The stored refresh token is
    /// encrypted to the merchant key.
    #[arg(long, env = "ALLIANCEPAY_SESSION_STORE", hide_env_values = true)]
    session_store: Option<String>,
    /// Prefix of the Redis keys (the merchant key's thumbprint and a keyed digest of the base
    /// URL and the service code follow it).
    #[arg(
        long,
        env = "ALLIANCEPAY_SESSION_STORE_PREFIX",
        default_value = "alliancepay:"
    )]
    session_store_prefix: String,
    /// The x-api_version header.
    #[arg(long, default_value = "v1")]
    api_version: String,
    /// Accept a plain http:// base URL on a host other than loopback (the service code and
    /// refresh token then cross the network unencrypted).
    #[arg(long)]
    allow_plain_http: bool,
    /// Timeout of each HTTP exchange, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    output::init_logging(cli.verbose);
    let out = output::Output::new(cli.json);
    let result: Result<(), Failure> = match cli.command {
        Command::Keygen { out: dir, force } => {
            offline::keygen(&out, &dir, force).map_err(Into::into)
        }
        Command::Encrypt { key } => offline::encrypt(&out, &key).map_err(Into::into),
        Command::Decrypt { key } => offline::decrypt(&out, &key).map_err(Into::into),
        Command::Thumbprint { file } => offline::thumbprint(&out, &file).map_err(Into::into),
        Command::Authorize { bank, show_secrets } => {
            online::authorize(&out, &bank, show_secrets).map_err(Into::into)
        }
        Command::Order { command } => match command {
            OrderCommand::Create(args) => online::create_order(&out, &args),
            OrderCommand::Status { bank, hpp_order_id } => {
                online::order_status(&out, &bank, &hpp_order_id).map_err(Into::into)
            }
            OrderCommand::Refund(args) => online::refund(&out, &args),
            OrderCommand::Find(args) => online::find(&out, &args).map_err(Into::into),
        },
        Command::Simulate(args) => simulate::run(&out, &args).map_err(Into::into),
        Command::Soak(args) => soak::run(&out, &args).map_err(Into::into),
        Command::Demo => demo::run(&out).map_err(Into::into),
    };
    // A result that could not be written is a failure even if the bank said yes; an unknown
    // outcome keeps its own status.
    let result = match (result, out.failure()) {
        (Ok(()), Some(e)) => Err(Failure::Failed(e)),
        (other, _) => other,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Failed(message)) => {
            output::note(&format!("alliancepay: {message}"));
            ExitCode::FAILURE
        }
        Err(Failure::Unknown(message)) => {
            output::note(&format!("alliancepay: {message}"));
            ExitCode::from(EXIT_UNKNOWN)
        }
        Err(Failure::AlreadyExists(message)) => {
            output::note(&format!("alliancepay: {message}"));
            ExitCode::from(EXIT_ALREADY_EXISTS)
        }
        Err(Failure::DoneUnwritten(message)) => {
            output::note(&format!("alliancepay: {message}"));
            ExitCode::from(EXIT_DONE_UNWRITTEN)
        }
    }
}
