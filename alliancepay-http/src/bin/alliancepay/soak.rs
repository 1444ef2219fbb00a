//! `alliancepay soak`: one worker of a fleet. Creates an order, then reads it from several
//! threads until told to stop, and prints how many calls succeeded and failed. Several of
//! these on one service code and one session store show whether the fleet authorizes once
//! per session event (the simulator counts the authorizations).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alliancepay_http::{CreateOrder, Kopecks};
use clap::Args;
use serde_json::json;

use crate::BankArgs;
use crate::online::{client_with, config};
use crate::output::Output;

#[derive(Args)]
pub struct SoakArgs {
    #[command(flatten)]
    bank: BankArgs,
    /// The bank's merchant id (for the order the threads read).
    #[arg(long)]
    merchant_id: String,
    /// Threads calling at once.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Stop after this many seconds at the latest.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Stop as soon as this file exists.
    #[arg(long)]
    stop_file: Option<PathBuf>,
    /// Pause between two calls of one thread, in milliseconds.
    #[arg(long, default_value_t = 5)]
    pause_ms: u64,
    /// Renew sessions older than this many seconds (default: the client's 12 hours).
    #[arg(long)]
    renew_after_secs: Option<i64>,
    /// The session store's authorization lease, in milliseconds.
    #[arg(long)]
    lease_ms: Option<u64>,
    /// Instead of calling, authorize over and over (each time taking the lease and publishing
    /// the session): what a crash test kills at random moments.
    #[arg(long)]
    authorize_loop: bool,
}

pub fn run(out: &Output, args: &SoakArgs) -> Result<(), String> {
    let mut config = config(&args.bank)?;
    if let Some(secs) = args.renew_after_secs {
        config.renewal.max_age_secs = secs;
    }
    if let Some(ms) = args.lease_ms {
        config.lease_ttl = Duration::from_millis(ms);
    }
    let client = client_with(&args.bank, config)?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let stop = || Instant::now() >= deadline || args.stop_file.as_ref().is_some_and(|f| f.exists());
    if args.authorize_loop {
        while !stop() {
            client.authorize().map_err(|e| e.to_string())?;
        }
        return Ok(());
    }
    let order = CreateOrder::builder()
        .merchant_id(&args.merchant_id)
        .amount(Kopecks::new(100))
        .customer("soak")
        .success_url("https://shop.example/ok")
        .fail_url("https://shop.example/fail")
        .build()
        .map_err(|e| e.to_string())?;
    let created = client
        .create_order(&order)
        .into_result()
        .map_err(|e| format!("creating the order: {e}"))?;
    let (calls, failed) = (AtomicU64::new(1), AtomicU64::new(0));
    let first_error = std::sync::Mutex::new(None::<String>);
    std::thread::scope(|scope| {
        for _ in 0..args.threads.max(1) {
            scope.spawn(|| {
                while !stop() {
                    calls.fetch_add(1, Ordering::SeqCst);
                    if let Err(e) = client.order_data(&created.hpp_order_id) {
                        failed.fetch_add(1, Ordering::SeqCst);
                        let mut first = first_error
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        first.get_or_insert_with(|| e.to_string());
                    }
                    std::thread::sleep(Duration::from_millis(args.pause_ms));
                }
            });
        }
    });
    let (calls, failed) = (calls.into_inner(), failed.into_inner());
    let first_error = first_error
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    out.result(
        &format!(
            "{calls} calls, {failed} failed, {} authorizations by this process{}",
            client.authorizations(),
            first_error
                .as_deref()
                .map(|e| format!("; first failure: {e}"))
                .unwrap_or_default()
        ),
        &json!({
            "calls": calls,
            "failed": failed,
            "authorizations": client.authorizations(),
            "requests": client.bank_requests(),
            "firstError": first_error,
        }),
    );
    Ok(())
}
