//! `alliancepay soak`: one worker of a fleet. Creates an order, then reads it from several
//! threads until told to stop, and prints how many calls succeeded and failed. Several of
//! these on one service code and one session store show whether the fleet authorizes once
//! per session event (the simulator counts the authorizations).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alliancepay_http::{ClientConfig, CreateOrder, Kopecks};
use clap::Args;
use serde_json::json;

use crate::BankArgs;
#[cfg(feature = "tokio")]
use crate::online::merchant_key;
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
    /// Run on the async client (`AsyncClient`, feature `tokio`): `--threads` tasks on one
    /// tokio thread instead of threads on the blocking client.
    #[cfg(feature = "tokio")]
    #[arg(long = "async")]
    use_async: bool,
}

/// What the calling threads (or tasks) count.
struct Counters {
    calls: AtomicU64,
    failed: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Counters {
    /// The order's creation is the first call.
    fn new() -> Self {
        Self {
            calls: AtomicU64::new(1),
            failed: AtomicU64::new(0),
            first_error: std::sync::Mutex::new(None),
        }
    }

    fn called<T, E: std::fmt::Display>(&self, result: Result<T, E>) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = result {
            self.failed.fetch_add(1, Ordering::SeqCst);
            let mut first = self
                .first_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            first.get_or_insert_with(|| e.to_string());
        }
    }

    fn tally(self, authorizations: u64, requests: u64) -> Tally {
        Tally {
            calls: self.calls.into_inner(),
            failed: self.failed.into_inner(),
            first_error: self
                .first_error
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            authorizations,
            requests,
        }
    }
}

/// What a soak run counted.
struct Tally {
    calls: u64,
    failed: u64,
    first_error: Option<String>,
    authorizations: u64,
    requests: u64,
}

pub fn run(out: &Output, args: &SoakArgs) -> Result<(), String> {
    let mut config = config(&args.bank)?;
    if let Some(secs) = args.renew_after_secs {
        let mut renewal = config.renewal();
        renewal.max_age_secs = secs;
        config = config.with_renewal(renewal);
    }
    if let Some(ms) = args.lease_ms {
        config = config.with_lease_ttl(Duration::from_millis(ms));
    }
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let stop = || Instant::now() >= deadline || args.stop_file.as_ref().is_some_and(|f| f.exists());
    #[cfg(feature = "tokio")]
    let tally = if args.use_async {
        run_async(args, config, &stop)?
    } else {
        run_blocking(args, config, &stop)?
    };
    #[cfg(not(feature = "tokio"))]
    let tally = run_blocking(args, config, &stop)?;
    report(out, tally);
    Ok(())
}

fn order(args: &SoakArgs) -> Result<CreateOrder, String> {
    CreateOrder::builder()
        .merchant_id(&args.merchant_id)
        .amount(Kopecks::new(100))
        .customer("soak")
        .success_url("https://shop.example/ok")
        .fail_url("https://shop.example/fail")
        .build()
        .map_err(|e| e.to_string())
}

fn run_blocking(
    args: &SoakArgs,
    config: ClientConfig,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Tally, String> {
    let client = client_with(&args.bank, config)?;
    if args.authorize_loop {
        while !stop() {
            client.authorize().map_err(|e| e.to_string())?;
        }
        return Ok(Counters::new().tally(client.authorizations(), client.bank_requests()));
    }
    let created = client
        .create_order(&order(args)?)
        .into_result()
        .map_err(|e| format!("creating the order: {e}"))?;
    let counters = Counters::new();
    std::thread::scope(|scope| {
        for _ in 0..args.threads.max(1) {
            scope.spawn(|| {
                while !stop() {
                    counters.called(client.order_data(&created.hpp_order_id));
                    std::thread::sleep(Duration::from_millis(args.pause_ms));
                }
            });
        }
    });
    Ok(counters.tally(client.authorizations(), client.bank_requests()))
}

/// The same worker on [`alliancepay_http::AsyncClient`]: `--threads` tasks on a
/// current-thread runtime (store commands go to its blocking pool).
#[cfg(feature = "tokio")]
fn run_async(
    args: &SoakArgs,
    config: ClientConfig,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Tally, String> {
    let key = merchant_key(&args.bank, &config)?;
    let client = alliancepay_http::AsyncClient::new(config, key).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the tokio runtime: {e}"))?;
    runtime.block_on(async {
        if args.authorize_loop {
            while !stop() {
                client.authorize().await.map_err(|e| e.to_string())?;
            }
            return Ok(Counters::new().tally(client.authorizations(), client.bank_requests()));
        }
        let created = client
            .create_order(&order(args)?)
            .await
            .into_result()
            .map_err(|e| format!("creating the order: {e}"))?;
        let counters = Counters::new();
        let task = || async {
            while !stop() {
                counters.called(client.order_data(&created.hpp_order_id).await);
                tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
            }
        };
        // Concurrent on one thread: each task yields while it waits for the bank, the
        // single flight or a store command.
        let mut tasks = Vec::new();
        for _ in 0..args.threads.max(1) {
            tasks.push(task());
        }
        join_all(tasks).await;
        Ok(counters.tally(client.authorizations(), client.bank_requests()))
    })
}

/// Polls every future until all are done (the few soak tasks; no extra dependency).
#[cfg(feature = "tokio")]
async fn join_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut futures {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_pending() {
                    pending = true;
                } else {
                    *slot = None;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
}

fn report(out: &Output, tally: Tally) {
    let Tally {
        calls,
        failed,
        first_error,
        authorizations,
        requests,
    } = tally;
    out.result(
        &format!(
            "{calls} calls, {failed} failed, {authorizations} authorizations by this process{}",
            first_error
                .as_deref()
                .map(|e| format!("; first failure: {e}"))
                .unwrap_or_default()
        ),
        &json!({
            "calls": calls,
            "failed": failed,
            "authorizations": authorizations,
            "requests": requests,
            "firstError": first_error,
        }),
    );
}
