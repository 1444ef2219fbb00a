//! `alliancepay simulate`: the local bank in the foreground, for clients in any language.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::time::Duration;

use alliancepay_http::simulator::{Limits, MerchantRegistration, Simulator, SimulatorConfig};
use alliancepay_http::store;
use clap::Args;
use serde_json::json;

use crate::output::Output;

#[derive(Args)]
pub struct SimulateArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Register a merchant: SERVICE_CODE:MERCHANT_ID:PUBLIC_JWK_FILE (repeatable).
    #[arg(
        long = "merchant",
        value_name = "SERVICE_CODE:MERCHANT_ID:PUBLIC_JWK_FILE"
    )]
    merchants: Vec<String>,
    /// Session lifetime in seconds.
    #[arg(long, default_value_t = 86_400)]
    token_ttl: i64,
    /// Refuse what the docs call mandatory where the live bank is lenient (authorize without
    /// x-api_version, JSON without Content-Type).
    #[arg(long)]
    strict: bool,
    /// What a superseded session's tokens answer.
    #[arg(long, default_value = "b_used_token", value_parser = ["b_used_token", "b_previous_auth_token_expired"])]
    superseded_code: String,
    /// Keep earlier sessions of a service code valid after a new authorization.
    #[arg(long)]
    keep_previous_sessions: bool,
    /// Add `sessionExpiration` to the session payload (a 2025 bank module requires it).
    #[arg(long)]
    session_expiration: bool,
    /// Multiply the callback resend schedule (5 s, 30 s, 5 min, 30 min, 1 h) by this.
    #[arg(long, default_value_t = 1.0)]
    callback_retry_scale: f64,
    /// Deliver every callback twice.
    #[arg(long)]
    duplicate_callbacks: bool,
    /// After each final callback, deliver an earlier (PENDING) state too.
    #[arg(long)]
    out_of_order_callbacks: bool,
    /// Append one JSON line per request and per response to FILE (secrets redacted).
    #[arg(long, value_name = "FILE")]
    log_requests: Option<PathBuf>,
    /// Keep orders this many seconds after they expire.
    #[arg(long, default_value_t = 86_400)]
    order_retention: i64,
    /// Most orders held (the oldest are forgotten first).
    #[arg(long, default_value_t = 50_000)]
    max_orders: usize,
    /// Keep superseded, forgotten or expired sessions this many seconds.
    #[arg(long, default_value_t = 600)]
    session_retention: i64,
    /// Most sessions held (the oldest are forgotten first).
    #[arg(long, default_value_t = 10_000)]
    max_sessions: usize,
    /// Most connections open at once (more get 503).
    #[arg(long, default_value_t = 4096)]
    max_connections: usize,
    /// Seconds a request head may take (also the keep-alive idle timeout).
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 64 << 10)]
    max_body: usize,
}

fn registration(spec: &str) -> Result<MerchantRegistration, String> {
    let mut parts = spec.splitn(3, ':');
    let (Some(code), Some(merchant_id), Some(file)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "--merchant {spec:?}: expected SERVICE_CODE:MERCHANT_ID:PUBLIC_JWK_FILE"
        ));
    };
    if code.is_empty() || merchant_id.is_empty() {
        return Err(format!(
            "--merchant {spec:?}: the service code and merchant id must not be empty"
        ));
    }
    let public_key = store::load_public_key(&PathBuf::from(file))
        .map_err(|e| format!("--merchant {spec:?}: {e}"))?;
    Ok(MerchantRegistration {
        service_code: code.to_owned(),
        merchant_id: merchant_id.to_owned(),
        public_key,
    })
}

/// Largest `--header-timeout`, in seconds (a day).
const MAX_HEADER_TIMEOUT: u64 = 86_400;

/// Largest `--callback-retry-scale` (the last resend then comes after 1,000 hours).
const MAX_RETRY_SCALE: f64 = 1000.0;

pub fn run(out: &Output, args: &SimulateArgs) -> Result<(), String> {
    if args.token_ttl <= 0 {
        return Err("--token-ttl must be a positive number of seconds".into());
    }
    // Bounded so that the resend times (up to an hour, times the scale) and the timers' ends
    // stay far from the overflow of the clock's arithmetic.
    if !(args.callback_retry_scale.is_finite()
        && (0.0..=MAX_RETRY_SCALE).contains(&args.callback_retry_scale))
    {
        return Err(format!(
            "--callback-retry-scale must be a number from 0 to {MAX_RETRY_SCALE}"
        ));
    }
    if args.order_retention < 0 || args.session_retention < 0 {
        return Err("--order-retention and --session-retention must not be negative".into());
    }
    if args.max_orders == 0 || args.max_sessions == 0 || args.max_connections == 0 {
        return Err("--max-orders, --max-sessions and --max-connections must be at least 1".into());
    }
    if !(1..=MAX_HEADER_TIMEOUT).contains(&args.header_timeout) {
        return Err(format!(
            "--header-timeout must be 1 to {MAX_HEADER_TIMEOUT} seconds"
        ));
    }
    let merchants = args
        .merchants
        .iter()
        .map(|m| registration(m))
        .collect::<Result<Vec<_>, _>>()?;
    let config = SimulatorConfig {
        listen: args.listen,
        token_ttl_secs: args.token_ttl,
        merchants,
        callback_retry_scale: args.callback_retry_scale,
        new_authorization_invalidates_previous: !args.keep_previous_sessions,
        superseded_code: args.superseded_code.clone(),
        session_expiration_member: args.session_expiration,
        strict: args.strict,
        order_retention_secs: args.order_retention,
        max_orders: args.max_orders,
        session_retention_secs: args.session_retention,
        max_sessions: args.max_sessions,
        duplicate_callbacks: args.duplicate_callbacks,
        out_of_order_callbacks: args.out_of_order_callbacks,
        request_log: args.log_requests.clone(),
        limits: Limits {
            max_connections: args.max_connections,
            header_read_timeout: Duration::from_secs(args.header_timeout),
            max_body_bytes: args.max_body,
            ..Limits::default()
        },
    };
    let simulator =
        Simulator::start(config).map_err(|e| format!("cannot start on {}: {e}", args.listen))?;
    let codes = simulator.service_codes();
    out.result(
        &format!(
            "AlliancePay simulator listening on {}\nregistered service codes: {}\nsession lifetime: {} s; stop with Ctrl-C",
            simulator.base_url(),
            if codes.is_empty() { "(none: pass --merchant)".to_owned() } else { codes.join(", ") },
            args.token_ttl
        ),
        &json!({"baseUrl": simulator.base_url(), "serviceCodes": codes, "tokenTtl": args.token_ttl}),
    );
    if let Some(e) = out.failure() {
        return Err(e);
    }
    loop {
        std::thread::park();
    }
}
