//! `alliancepay simulate`: the local bank in the foreground, for clients in any language.

use std::net::SocketAddr;
use std::path::PathBuf;

use alliancepay_http::simulator::{MerchantRegistration, Simulator, SimulatorConfig};
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

pub fn run(out: &Output, args: &SimulateArgs) -> Result<(), String> {
    if args.token_ttl <= 0 {
        return Err("--token-ttl must be a positive number of seconds".into());
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
        ..SimulatorConfig::default()
    };
    let simulator =
        Simulator::start(config).map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
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
