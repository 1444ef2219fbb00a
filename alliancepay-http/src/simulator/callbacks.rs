//! Callback delivery (bank-api.md §3.6): POST the body to `notificationUrl` on a background
//! thread, and on anything but HTTP 200 try again after 5 s, 30 s, 5 min, 30 min and 1 h
//! (each multiplied by the configured scale); the first 200 ends it. Optionally, as the bank
//! warns may happen, every callback arrives twice, and an earlier state arrives after the final
//! one (bank-api.md §3.6, §6.1.9).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The bank's resend schedule, in seconds after each failed attempt.
pub const RETRY_SCHEDULE_SECS: [u64; 5] = [5, 30, 300, 1800, 3600];

/// One callback to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// The order's or refund's `notificationUrl`.
    pub url: String,
    /// The JSON body: the plain document or `{"jwe": …}`.
    pub body: Vec<u8>,
    /// The body of an earlier state (`PENDING`), sent after `body` when the simulator plays
    /// out-of-order delivery.
    pub earlier: Option<Vec<u8>>,
}

/// A stop signal that sleeping threads wake up for.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    /// Signals every waiter.
    pub(crate) fn stop(&self) {
        *super::lock(&self.stopped) = true;
        self.wake.notify_all();
    }

    /// Sleeps up to `d`; `true` if stopped meanwhile.
    fn sleep(&self, d: Duration) -> bool {
        let guard = super::lock(&self.stopped);
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, d, |stopped| !*stopped)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard
    }
}

/// Sends callbacks and counts them.
#[derive(Debug)]
pub(crate) struct CallbackSender {
    scale: f64,
    duplicates: bool,
    agent: ureq::Agent,
    stop: Arc<Stop>,
    /// Callbacks answered with 200.
    pub delivered: AtomicU64,
    /// POSTs made, successful or not.
    pub attempts: AtomicU64,
}

impl CallbackSender {
    /// A sender whose waits are [`RETRY_SCHEDULE_SECS`] times `scale`; with `duplicates`
    /// every callback is delivered twice.
    pub(crate) fn new(scale: f64, duplicates: bool, stop: Arc<Stop>) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .max_redirects(0)
            .user_agent("alliancepay-simulator")
            .build();
        Self {
            scale: if scale.is_finite() && scale >= 0.0 {
                scale
            } else {
                1.0
            },
            duplicates,
            agent: ureq::Agent::new_with_config(config),
            stop,
            delivered: AtomicU64::new(0),
            attempts: AtomicU64::new(0),
        }
    }

    /// Starts delivering `delivery` in the background.
    pub(crate) fn send(self: &Arc<Self>, delivery: Delivery) {
        let sender = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("alliancepay-sim-callback".into())
            .spawn(move || {
                let copies = if sender.duplicates { 2 } else { 1 };
                for _ in 0..copies {
                    sender.deliver(&delivery.url, &delivery.body);
                }
                if let Some(earlier) = &delivery.earlier {
                    sender.deliver(&delivery.url, earlier);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("simulator: could not start a callback thread: {e}");
        }
    }

    fn post(&self, url: &str, body: &[u8]) -> Result<u16, ureq::Error> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let response = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body)?;
        Ok(response.status().as_u16())
    }

    /// One callback through the resend schedule.
    fn deliver(&self, url: &str, body: &[u8]) {
        let waits = RETRY_SCHEDULE_SECS
            .iter()
            .map(|s| Duration::from_secs_f64(*s as f64 * self.scale));
        for (attempt, wait) in std::iter::once(Duration::ZERO).chain(waits).enumerate() {
            if self.stop.sleep(wait) {
                return;
            }
            match self.post(url, body) {
                Ok(200) => {
                    self.delivered.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                Ok(status) => tracing::info!(
                    "simulator: callback attempt {} to {} got HTTP {status}",
                    attempt + 1,
                    url
                ),
                Err(e) => tracing::info!(
                    "simulator: callback attempt {} to {} failed: {e}",
                    attempt + 1,
                    url
                ),
            }
        }
        tracing::warn!("simulator: gave up delivering a callback to {url}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receiver that answers 500 twice, then 200: three attempts, one delivery.
    #[test]
    fn retries_until_the_first_200() {
        let sink = super::super::CallbackSink::answering(vec![500, 500, 200]).unwrap();
        let sender = Arc::new(CallbackSender::new(
            0.0001,
            false,
            Arc::new(Stop::default()),
        ));
        sender.deliver(sink.url(), b"{\"a\":1}");
        let bodies: Vec<_> =
            std::iter::from_fn(|| sink.next(std::time::Duration::from_millis(200))).collect();
        assert_eq!(bodies, vec![b"{\"a\":1}".to_vec(); 3]);
        assert_eq!(sender.attempts.load(Ordering::SeqCst), 3);
        assert_eq!(sender.delivered.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn stop_ends_the_schedule() {
        let stop = Arc::new(Stop::default());
        let sender = CallbackSender::new(1.0, false, Arc::clone(&stop));
        stop.stop();
        // Nothing listens on port 9 of loopback; the first attempt fails, the first wait stops.
        sender.deliver("http://127.0.0.1:9/", b"");
        assert_eq!(sender.attempts.load(Ordering::SeqCst), 0);
    }
}
