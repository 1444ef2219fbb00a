//! Fleets of separate OS processes (`alliancepay soak`, 4 threads each) on one service code
//! against the simulator, sharing a file or Redis session store (issue 10). With feature
//! `tokio` the workers alternate between the blocking and the async client (`soak --async`),
//! so every fleet runs both drivers on one store (issue 12). Everything is
//! measured from the simulator's side: when it granted each authorization, how many bank
//! requests it received, and the calls the workers report as failed.
//!
//! Redis tests start their own `redis-server` on a free loopback port and stop it. Without
//! `redis-server` they print a SKIPPED line, unless `ALLIANCEPAY_REQUIRE_PEERS=1` (CI), which
//! makes them fail. `ALLIANCEPAY_KILLS` sets the number of `kill -9` rounds (default 500).
//! The fleets are `#[ignore]`d in a plain `cargo test` (they take minutes of CPU); run them
//! with `cargo test -p alliancepay-http --all-features --test fleet -- --include-ignored`.
#![cfg(feature = "cli")]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use alliancepay_http::__private::crypto;
use alliancepay_http::__private::sealed::{self, Binding};
use alliancepay_http::PrivateJwk;
use alliancepay_http::sessions::{FileStore, SessionStore};
use alliancepay_http::simulator::{MerchantRegistration, Simulator, SimulatorConfig};
use alliancepay_http::{Client, ClientConfig, Kopecks, Secret, store};
use serde_json::Value;

/// Threads per soak worker.
const WORKER_THREADS: usize = 4;
/// Renewal age the workers use: a proactive renewal every 2 s.
const RENEW_SECS: i64 = 2;
/// Gap below which two authorizations would be two for one event.
const MIN_GAP: Duration = Duration::from_millis(1000);
/// How long after a bank-side loss its one authorization must come.
const LOSS_WINDOW: Duration = Duration::from_millis(900);

/// The fleet tests share two cores: one at a time, so timings are the fleet's own.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Which client each soak worker runs: the blocking [`Client`] or, with feature `tokio`, the
/// [`alliancepay_http::AsyncClient`] (`soak --async`).
#[derive(Clone, Copy, Debug)]
enum Drivers {
    /// Every worker on the blocking client (builds without `tokio`).
    #[cfg_attr(feature = "tokio", allow(dead_code))]
    Blocking,
    /// Every worker on the async client.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Async,
    /// Even-numbered workers blocking, odd-numbered async: every fleet then runs both drivers
    /// against one store, and each must follow the other's generations and leases.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Alternating,
}

impl Default for Drivers {
    fn default() -> Self {
        if cfg!(feature = "tokio") {
            Drivers::Alternating
        } else {
            Drivers::Blocking
        }
    }
}

impl Drivers {
    fn label(self) -> &'static str {
        match self {
            Drivers::Blocking => "blocking",
            Drivers::Async => "async",
            Drivers::Alternating => "alternating",
        }
    }

    fn is_async(self, worker: usize) -> bool {
        match self {
            Drivers::Blocking => false,
            Drivers::Async => true,
            Drivers::Alternating => worker % 2 == 1,
        }
    }
}

/// The bank, a merchant registered with it, and the merchant's key on disk.
struct Bank {
    sim: Arc<Simulator>,
    key: PrivateJwk,
    key_file: PathBuf,
    service_code: String,
    merchant_id: String,
    dir: PathBuf,
    /// Which client the soak workers run.
    drivers: Drivers,
    /// Removes `dir` (and everything the test wrote there) when dropped.
    _dir_guard: tempfile::TempDir,
}

fn bank(name: &str) -> Bank {
    let dir_tmp = tempfile::Builder::new()
        .prefix(&format!("alliancepay-fleet-{name}-"))
        .tempdir()
        .unwrap();
    let dir = dir_tmp.path().to_owned();
    let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
    let key_file = dir.join("merchant.jwk");
    store::write_private_file(&key_file, crypto::private_jwk_to_string(&key).as_bytes()).unwrap();
    let (service_code, merchant_id) = (crypto::new_uuid(), crypto::new_uuid());
    let sim = Simulator::start(SimulatorConfig {
        merchants: vec![MerchantRegistration {
            service_code: service_code.clone(),
            merchant_id: merchant_id.clone(),
            public_key: *key.public_jwk(),
        }],
        ..SimulatorConfig::default()
    })
    .unwrap();
    Bank {
        sim: Arc::new(sim),
        key,
        key_file,
        service_code,
        merchant_id,
        dir,
        drivers: Drivers::default(),
        _dir_guard: dir_tmp,
    }
}

impl Bank {
    /// `alliancepay` with the bank options and `store`.
    fn command(&self, store: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_alliancepay"));
        c.env("ALLIANCEPAY_SERVICE_CODE", &self.service_code)
            .env("ALLIANCEPAY_BASE_URL", self.sim.base_url())
            .env("ALLIANCEPAY_KEY", &self.key_file)
            .env("ALLIANCEPAY_SESSION_STORE", store)
            .env_remove("ALLIANCEPAY_SESSION_FILE")
            // The Redis store's host-local fallback file goes here, and with the run's
            // directory when it is removed.
            .env("XDG_RUNTIME_DIR", &self.dir);
        c
    }

    /// One soak worker: 4 threads, renewal every 2 s, stopping when `stop` exists.
    fn worker(&self, store: &str, stop: &Path, index: usize) -> Child {
        let stderr =
            std::fs::File::create(self.dir.join(format!("worker-{index}.stderr"))).unwrap();
        self.command(store)
            .args([
                "soak",
                "--json",
                "--threads",
                &WORKER_THREADS.to_string(),
                "--seconds",
                "120",
                "--pause-ms",
                "20",
            ])
            .args(["--merchant-id", &self.merchant_id, "--timeout-ms", "2000"])
            .args([
                "--lease-ms",
                "3000",
                "--renew-after-secs",
                &RENEW_SECS.to_string(),
            ])
            .arg("--stop-file")
            .arg(stop)
            .args(self.drivers.is_async(index).then_some("--async"))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap()
    }

    /// A purchase order of this merchant.
    fn order(&self) -> alliancepay_http::CreateOrder {
        alliancepay_http::CreateOrder::builder()
            .merchant_id(&self.merchant_id)
            .amount(Kopecks::new(100))
            .customer("c")
            .success_url("https://s/ok")
            .fail_url("https://s/no")
            .build()
            .unwrap()
    }

    fn binding(&self) -> Binding {
        Binding {
            base_url: self.sim.base_url(),
            service_code: Secret::new(self.service_code.clone()),
            key_thumbprint: self
                .key
                .public_jwk()
                .thumbprint()
                .to_base64url()
                .to_string(),
        }
    }
}

/// Records when the simulator granted each authorization (polled every 2 ms).
struct Monitor {
    times: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Monitor {
    fn start(sim: &Arc<Simulator>) -> Self {
        let (times, stop) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(AtomicBool::new(false)),
        );
        let (t, s, sim) = (Arc::clone(&times), Arc::clone(&stop), Arc::clone(sim));
        let thread = std::thread::spawn(move || {
            let mut seen = sim.authorizations();
            while !s.load(Ordering::SeqCst) {
                let now = sim.authorizations();
                for _ in seen..now {
                    t.lock().unwrap().push(Instant::now());
                }
                seen = now;
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Self {
            times,
            stop,
            thread: Some(thread),
        }
    }

    fn count(&self) -> usize {
        self.times.lock().unwrap().len()
    }

    fn times(&self) -> Vec<Instant> {
        self.times.lock().unwrap().clone()
    }

    /// Waits until more than `count` authorizations were seen.
    fn wait_beyond(&self, count: usize, within: Duration) -> Instant {
        let deadline = Instant::now() + within;
        loop {
            if let Some(t) = self.times().get(count) {
                return *t;
            }
            assert!(
                Instant::now() < deadline,
                "no authorization #{} within {within:?}",
                count + 1
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What one fleet run measured.
#[derive(Debug, Default)]
struct Run {
    /// The clients the workers ran.
    drivers: Drivers,
    processes: usize,
    authorizations: usize,
    renewals: usize,
    losses: usize,
    calls: u64,
    failed: u64,
    requests: u64,
    /// Requests beyond one per call and one per authorization: rejected sends.
    extra: u64,
    warnings: usize,
    /// Authorizations granted while Redis was down, when it was.
    during_outage: usize,
    /// Authorizations that superseded a session younger than a renewal can be, as the
    /// simulator saw them: a second authorization for one event.
    duplicates: usize,
    /// Each worker's own requests beyond one per call and one per authorization.
    extra_per_worker: Vec<u64>,
}

impl Run {
    fn row(&self, store: &str) -> String {
        let events = (self.renewals + self.losses).max(1) as f64;
        let worst = self.extra_per_worker.iter().max().copied().unwrap_or(0);
        format!(
            "| {store} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {worst} | {} |",
            self.drivers.label(),
            self.processes,
            self.renewals,
            self.losses,
            self.authorizations,
            self.calls,
            self.failed,
            self.extra,
            self.extra as f64 / (self.processes as f64 * events),
            self.duplicates
        )
    }
}

/// What happens in the middle of a run, besides renewals and losses.
/// It may add bank-side losses of its own to the list.
type Interlude<'a> = &'a mut dyn FnMut(&Monitor, &mut Vec<Instant>) -> Option<(Instant, Instant)>;

/// Runs `processes` workers on `store` through three bank-side losses and at least five
/// proactive renewals; `interlude` runs after the losses (the Redis outage test kills Redis
/// there and returns the outage's start and end).
fn fleet(bank: &Bank, store: &str, processes: usize, interlude: Interlude<'_>) -> Run {
    let stop = bank.dir.join(format!("stop-{processes}"));
    let _ = std::fs::remove_file(&stop);
    let monitor = Monitor::start(&bank.sim);
    let requests_before = bank.sim.requests();
    let mut workers: Vec<Child> = (0..processes)
        .map(|i| bank.worker(store, &stop, i))
        .collect();
    let guard = scopeguard(&stop);
    monitor.wait_beyond(0, Duration::from_secs(20));
    let mut losses = Vec::new();
    for (i, forget) in [false, true, false].into_iter().enumerate() {
        // Halfway between two renewals, so a loss and a renewal are never one event.
        let seen = monitor.count();
        monitor.wait_beyond(seen, Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(1000));
        let at = Instant::now();
        if forget {
            bank.sim.forget_sessions();
        } else {
            bank.sim.expire_sessions();
        }
        losses.push(at);
        let granted = monitor.wait_beyond(monitor.count(), Duration::from_secs(10));
        assert!(granted >= at, "loss {i}");
    }
    let outage = interlude(&monitor, &mut losses);
    // At least five renewals, as the simulator tells them apart (see `classify`).
    let renewals = || classify(&bank.sim.granted()).renewals;
    let deadline = Instant::now() + Duration::from_secs(30);
    while renewals() < 5 {
        assert!(Instant::now() < deadline, "fewer than 5 renewals in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    // One more renewal period for good measure, then stop.
    std::thread::sleep(Duration::from_millis(500));
    drop(guard);
    let mut run = Run {
        drivers: bank.drivers,
        processes,
        losses: losses.len(),
        ..Run::default()
    };
    let mut worker_requests = 0;
    for (i, w) in workers.iter_mut().enumerate() {
        let status = w.wait().unwrap();
        let mut out = String::new();
        w.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let stderr = std::fs::read_to_string(bank.dir.join(format!("worker-{i}.stderr"))).unwrap();
        assert!(status.success(), "worker {i}: {status}: {stderr}");
        let report: Value = serde_json::from_str(out.trim()).unwrap();
        let (calls, authorizations, requests) = (
            report["calls"].as_u64().unwrap(),
            report["authorizations"].as_u64().unwrap(),
            report["requests"].as_u64().unwrap(),
        );
        run.extra_per_worker
            .push(requests.saturating_sub(calls + authorizations));
        worker_requests += requests;
        run.calls += calls;
        run.failed += report["failed"].as_u64().unwrap();
        assert_eq!(report["failed"], 0, "worker {i}: {report}\n{stderr}");
        run.warnings += stderr
            .matches("calls go on with this process's own session")
            .count()
            + stderr.matches("the processes of this host share").count();
    }
    drop(monitor_stop(monitor, &bank.sim, &mut run, &losses, outage));
    run.requests = bank.sim.requests() - requests_before;
    // The workers' own counts add up to what the simulator received, so their per-worker
    // figures are the simulator's, attributed.
    assert_eq!(worker_requests, run.requests, "{run:?}");
    run.extra = run.requests - run.calls - run.authorizations as u64;
    run
}

/// The simulator's account of a run's authorizations.
#[derive(Debug, Default)]
struct Granted {
    /// The first and those after a loss: no session the bank still accepted was left.
    fresh: usize,
    /// Those that replaced a live session at least [`MIN_GAP`] old: proactive renewals.
    renewals: usize,
    /// Indexes of those that replaced a live session younger than that: a second
    /// authorization for one event.
    duplicates: Vec<usize>,
}

/// Tells renewals from authorizations after a loss and from duplicates by what each one did
/// to the previous session at the bank, not by when it came. A worker renews at
/// [`RENEW_SECS`] of age on the bank's clock, which the client reads in whole seconds: a
/// renewal can come as early as one second after the grant, never earlier.
fn classify(granted: &[alliancepay_http::simulator::Granted]) -> Granted {
    let min_age = i64::try_from(MIN_GAP.as_millis()).unwrap();
    let mut g = Granted::default();
    for (i, a) in granted.iter().enumerate() {
        match a.superseded_age_ms {
            None => g.fresh += 1,
            Some(age) if age >= min_age => g.renewals += 1,
            Some(_) => g.duplicates.push(i),
        }
    }
    g
}

/// Stops the monitor and checks the authorizations' timeline: exactly one in each loss
/// window, none closer than [`MIN_GAP`] to the previous one outside them.
fn monitor_stop(
    monitor: Monitor,
    sim: &Simulator,
    run: &mut Run,
    losses: &[Instant],
    outage: Option<(Instant, Instant)>,
) -> Vec<Instant> {
    let times = monitor.times();
    drop(monitor);
    run.authorizations = times.len();
    let in_loss = |t: &Instant| losses.iter().any(|l| *t >= *l && *t < *l + LOSS_WINDOW);
    for (i, l) in losses.iter().enumerate() {
        let n = times
            .iter()
            .filter(|t| **t >= *l && **t < *l + LOSS_WINDOW)
            .count();
        assert_eq!(n, 1, "loss {i}: {n} authorizations for one event");
    }
    for pair in times.windows(2) {
        if !in_loss(&pair[1]) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= MIN_GAP,
                "two authorizations {gap:?} apart: one event, two authorizations"
            );
        }
    }
    let in_outage = |t: &Instant| outage.is_some_and(|(from, to)| *t >= from && *t <= to);
    if outage.is_some() {
        run.during_outage = times.iter().filter(|t| in_outage(t)).count();
    }
    let granted = sim.granted();
    assert_eq!(granted.len(), times.len(), "the monitor saw every grant");
    let g = classify(&granted);
    run.renewals = g.renewals;
    run.duplicates = g.duplicates.len();
    // Also while Redis is down: the processes of the host then share the host-local
    // fallback file (sessions::WithHostFallback).
    assert!(
        g.duplicates.is_empty(),
        "authorizations {:?} superseded a session younger than {MIN_GAP:?}: {g:?}",
        g.duplicates
    );
    assert_eq!(g.fresh, run.losses + 1, "{g:?}");
    assert_eq!(run.authorizations, run.renewals + run.losses + 1, "{g:?}");
    assert!(run.renewals >= 5, "{run:?}");
    times
}

/// Creates the stop file when dropped, so workers end even if an assertion fails.
struct StopOnDrop(PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, b"stop");
    }
}

fn scopeguard(stop: &Path) -> StopOnDrop {
    StopOnDrop(stop.to_owned())
}

fn check(run: &Run, store: &str) {
    check_calls(run, store);
    // Per worker: at a renewal the holder lets calls already sent come back first and the
    // others hold new calls back, so at most one refused request; a bank-side loss ends the
    // session under every call in flight at once, so at most one per thread (each thread's
    // call in flight), and after the first refusal the process sends the dead session no more.
    let bound = (run.renewals + run.losses * WORKER_THREADS) as u64;
    for (i, extra) in run.extra_per_worker.iter().enumerate() {
        assert!(
            *extra <= bound,
            "worker {i}: {extra} extra bank requests, more than {bound}: {run:?}"
        );
    }
}

/// Every call succeeded (the fleet's own reports; the simulator's counts are checked by
/// [`fleet`]).
fn check_calls(run: &Run, store: &str) {
    println!("{}", run.row(store));
    assert_eq!(run.failed, 0);
}

#[test]
#[ignore = "a multi-process fleet (minutes of CPU): .ci/run runs it, see alliancepay-http/README.md"]
fn file_store_fleets_authorize_once_per_event() {
    let _one = one_at_a_time();
    for processes in [2, 4, 8] {
        let bank = bank(&format!("file-{processes}"));
        let store = format!("file:{}", bank.dir.join("session.json").display());
        let run = fleet(&bank, &store, processes, &mut |_, _| None);
        check(&run, "file");
    }
}

/// Fleets with every worker on the async client (`soak --async`: its threads are tasks of one
/// tokio thread, store commands on tokio's blocking pool), on a file store and, when
/// `redis-server` is there, on Redis: the same rule, the same single flight, one authorization
/// per event. (The other fleets alternate the two clients worker by worker.)
#[cfg(feature = "tokio")]
#[test]
#[ignore = "a multi-process fleet (minutes of CPU): .ci/run runs it, see alliancepay-http/README.md"]
fn async_workers_authorize_once_per_event() {
    {
        let _one = one_at_a_time();
        let mut bank = bank("file-async");
        bank.drivers = Drivers::Async;
        let store = format!("file:{}", bank.dir.join("session.json").display());
        let run = fleet(&bank, &store, 4, &mut |_, _| None);
        check(&run, "file");
    }
    #[cfg(feature = "redis")]
    if let Some((_one, redis)) = redis_or_skip() {
        let mut bank = bank("redis-async");
        bank.drivers = Drivers::Async;
        let run = fleet(&bank, &redis.url(), 4, &mut |_, _| None);
        check(&run, "redis");
    }
}

/// A `redis-server` of our own on a free loopback port, killed when dropped.
#[cfg(feature = "redis")]
struct Redis {
    child: Option<Child>,
    port: u16,
}

#[cfg(feature = "redis")]
fn redis_available() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("ALLIANCEPAY_REQUIRE_PEERS").as_deref() != Ok("1"),
            "redis-server is not installed, and ALLIANCEPAY_REQUIRE_PEERS=1 (run .ci/setup)"
        );
        // Straight to stderr, past libtest's capture, so the skip shows in a plain run.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr().lock(),
            b"SKIPPED Redis fleet test: redis-server not found (apt-get install redis-server)\n",
        );
    }
    found
}

/// The fleet lock and a fresh Redis, or `None` (after a SKIPPED line) without `redis-server`.
#[cfg(feature = "redis")]
fn redis_or_skip() -> Option<(MutexGuard<'static, ()>, Redis)> {
    if !redis_available() {
        return None;
    }
    let one = one_at_a_time();
    Some((one, Redis::start()))
}

#[cfg(feature = "redis")]
impl Redis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self { child: None, port };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port, with nothing persisted, and waits for PONG.
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{BufRead, BufReader, Write};
                let _ = s.write_all(b"PING\r\n");
                let mut line = String::new();
                if BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("+PONG") {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[cfg(feature = "redis")]
impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(feature = "redis")]
#[test]
#[ignore = "a multi-process fleet (minutes of CPU): .ci/run runs it, see alliancepay-http/README.md"]
fn redis_store_fleets_authorize_once_per_event() {
    let Some((_one, redis)) = redis_or_skip() else {
        return;
    };
    for processes in [2, 4, 8] {
        let bank = bank(&format!("redis-{processes}"));
        let run = fleet(&bank, &redis.url(), processes, &mut |_, _| None);
        check(&run, "redis");
    }
}

/// Redis killed for 10 s in the middle of an 8-process run, with a bank-side session loss
/// 3 s into the outage, then started again empty.
#[cfg(feature = "redis")]
#[test]
#[ignore = "a multi-process fleet (minutes of CPU): .ci/run runs it, see alliancepay-http/README.md"]
fn redis_outage_costs_no_call() {
    let Some((_one, mut redis)) = redis_or_skip() else {
        return;
    };
    let bank = bank("redis-outage");
    let url = redis.url();
    let mut outage = |monitor: &Monitor, losses: &mut Vec<Instant>| {
        // Just after an authorization was published, so that none is under way when Redis
        // dies.
        let seen = monitor.count();
        monitor.wait_beyond(seen, Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(200));
        let from = Instant::now();
        redis.kill();
        std::thread::sleep(Duration::from_secs(2));
        // Halfway between two renewals (made under the host-local lease now), as in `fleet`.
        let seen = monitor.count();
        monitor.wait_beyond(seen, Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(1000));
        // The bank drops the session while nobody can reach Redis: the processes must still
        // authorize once between them (through the host-local fallback file), not once each.
        let at = Instant::now();
        bank.sim.forget_sessions();
        losses.push(at);
        let granted = monitor.wait_beyond(monitor.count(), Duration::from_secs(6));
        assert!(
            granted >= at,
            "the loss during the outage was not recovered from"
        );
        std::thread::sleep(
            (from + Duration::from_secs(10)).saturating_duration_since(Instant::now()),
        );
        redis.restart();
        Some((from, Instant::now()))
    };
    let run = fleet(&bank, &url, 8, &mut outage);
    // `fleet` checked: authorizations = renewals + losses + 1 (the loss during the outage
    // included), no duplicate, and the simulator's request count.
    check_calls(&run, "redis, 10 s outage + 1 loss during it");
    println!(
        "outage: {} authorizations while Redis was down (1 of them for the loss), {} outage warnings from 8 processes",
        run.during_outage, run.warnings
    );
    assert!(
        run.warnings <= 8,
        "one warning per outage per process: {run:?}"
    );
}

/// Temporary files a writer of `path` may have left beside it.
fn temps_beside(path: &Path) -> usize {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter(|e| {
            let n = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .into_owned();
            n.starts_with(&format!(".{name}.")) && n.ends_with(".tmp")
        })
        .count()
}

/// Waits (up to 10 s) until the simulator granted more than `before` authorizations.
fn wait_for_authorization(sim: &Simulator, before: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.authorizations() <= before {
        assert!(Instant::now() < deadline, "the worker never authorized");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The lease of the kill tests' workers.
const KILL_LEASE: Duration = Duration::from_secs(2);

/// Starts a worker that authorizes in a loop on `store`, and kills it with `kill -9` at a
/// random moment (up to 20 ms) after its first authorization: once the loop runs, it holds the
/// lease nearly all the time (authorizing, sealing, writing the temporary file, renaming).
fn kill_in_the_loop(bank: &Bank, store: &str, state: &mut u64) {
    let before = bank.sim.authorizations();
    let mut child = bank
        .command(store)
        .args([
            "soak",
            "--authorize-loop",
            "--seconds",
            "30",
            "--timeout-ms",
            "1000",
        ])
        .args(["--merchant-id", &bank.merchant_id, "--lease-ms"])
        .arg(KILL_LEASE.as_millis().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_authorization(&bank.sim, before);
    std::thread::sleep(Duration::from_micros(next(state) % 20_000));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A client on `store` (as `--session-store` spells it) with the kill tests' lease.
fn fresh_client(bank: &Bank, store: &str) -> Client {
    let config = ClientConfig::new(&bank.sim.base_url(), &bank.service_code)
        .with_session_store(alliancepay_http::sessions::StoreSpec::parse(store).unwrap())
        .with_timeout(Duration::from_secs(1))
        .with_lease_ttl(KILL_LEASE);
    Client::new(config, bank.key.clone()).unwrap()
}

/// A small deterministic generator for kill delays (the run prints its seed).
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `kill -9` of a worker that authorizes in a loop (taking the lease, writing the session,
/// releasing) at random moments: the session file is never torn, the generation never goes
/// back, the next start leaves no temporary file, and a new worker gets a session at once
/// (the kernel released the dead holder's lock).
#[test]
#[ignore = "a multi-process fleet (minutes of CPU): .ci/run runs it, see alliancepay-http/README.md"]
fn kill_nine_while_holding_the_lease_or_writing_the_session() {
    let _one = one_at_a_time();
    let kills: usize = std::env::var("ALLIANCEPAY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let bank = bank("kill");
    let path = bank.dir.join("session.json");
    let store = format!("file:{}", path.display());
    let binding = bank.binding();
    let mut state = u64::from(std::process::id());
    println!("kill -9 rounds: {kills}, seed {state}");
    let (mut temps_left, mut last_generation, mut rounds_with_progress) = (0, 0, 0);
    for round in 0..kills {
        let before = bank.sim.authorizations();
        kill_in_the_loop(&bank, &store, &mut state);
        let progress = bank.sim.authorizations() - before;
        rounds_with_progress += usize::from(progress > 1);
        temps_left += temps_beside(&path);
        // The next start: the file is whole and ours, and the dead writer's temps are gone.
        let next_start = FileStore::open(&path).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(
            temps_beside(&path),
            0,
            "round {round}: a temporary file survived a start"
        );
        if let Some(record) = next_start.load().unwrap() {
            sealed::unseal(&record.sealed, &binding, record.generation, &bank.key)
                .unwrap_or_else(|e| panic!("round {round}: torn or foreign session: {e}"));
            assert!(
                record.generation >= last_generation,
                "round {round}: generation went back"
            );
            last_generation = record.generation;
        }
    }
    // Recovery: a worker started now uses the stored session or authorizes, and then takes
    // the lease to authorize again, without waiting for any lease to expire or for the
    // deadline the killed holder left in the lock file.
    let started = Instant::now();
    let client = fresh_client(&bank, &store);
    let order = bank.order();
    client.create_order(&order).into_result().unwrap();
    client.authorize().unwrap();
    client.create_order(&bank.order()).into_result().unwrap();
    let recovery = started.elapsed();
    println!(
        "{kills} kills, each in the authorize loop ({rounds_with_progress} after two or more authorizations): {temps_left} left a temporary file (removed at the next start), last generation {last_generation}, 0 torn; recovery {recovery:?}"
    );
    // Well under the 200 ms a call waits for a lease it believes held (PUBLISH_WAIT).
    assert!(recovery < Duration::from_millis(150), "{recovery:?}");
    assert!(
        temps_left > 0 || kills < 50,
        "no kill hit a write: the test did not test it"
    );
}

/// The Redis lease of a holder killed with `kill -9` lapses after its time to live; the next
/// worker then authorizes.
#[cfg(feature = "redis")]
#[test]
#[ignore = "a multi-process fleet (minutes of CPU): .ci/run runs it, see alliancepay-http/README.md"]
fn redis_lease_of_a_killed_holder_lapses() {
    let Some((_one, redis)) = redis_or_skip() else {
        return;
    };
    let bank = bank("redis-kill");
    let mut state = u64::from(std::process::id());
    let lease = KILL_LEASE;
    let (mut worst, mut held) = (Duration::ZERO, 0);
    for round in 0..5 {
        kill_in_the_loop(&bank, &redis.url(), &mut state);
        let started = Instant::now();
        let client = fresh_client(&bank, &redis.url());
        client
            .authorize()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        worst = worst.max(started.elapsed());
        held += usize::from(started.elapsed() >= lease / 2);
    }
    println!(
        "Redis: 5 kill -9 in the authorize loop, {held} while holding the lease; the next worker authorized at most {worst:?} later (lease {lease:?})"
    );
    assert!(worst <= lease + Duration::from_millis(500), "{worst:?}");
    // Killed in the loop, the holder nearly always held the lease: its successor waited.
    assert!(held >= 3, "{held} of 5 kills hit a held lease");
}

/// A session path naming the key file (or any file not ours) stops the client before it
/// writes anything; the key is left as it was.
#[test]
fn the_key_file_is_refused_as_session_file() {
    let bank = bank("key-file");
    let key_before = std::fs::read(&bank.key_file).unwrap();
    for args in [
        vec![
            "--session-file".to_owned(),
            bank.key_file.display().to_string(),
        ],
        vec![
            "--session-store".to_owned(),
            format!("file:{}", bank.key_file.display()),
        ],
    ] {
        let out = bank
            .command("memory")
            // Only the option under test names a store (two are a usage error of their own).
            .env_remove("ALLIANCEPAY_SESSION_STORE")
            .arg("authorize")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("merchant key file"), "{stderr}");
    }
    // Through a symlink the CLI's path check sees the same file; the library refuses it by
    // its contents whatever the path.
    let config = ClientConfig::new(&bank.sim.base_url(), &bank.service_code)
        .with_session_file(bank.key_file.clone());
    let e = Client::new(config, bank.key.clone())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("private key") && e.contains("nothing was written"),
        "{e}"
    );
    assert_eq!(std::fs::read(&bank.key_file).unwrap(), key_before);
    assert_eq!(bank.sim.authorizations(), 0, "refused before any request");
    let leftovers: Vec<_> = std::fs::read_dir(&bank.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers,
        ["merchant.jwk"],
        "nothing written beside the key"
    );
}

/// The rule, step by step, with two clients on one session file (as two processes would be):
/// a session another client published is used without authorizing; a rejected one is
/// replaced by one authorization, which the other client then uses without being refused.
#[test]
fn two_clients_on_one_file_follow_the_rule() {
    let bank = bank("rule");
    let path = bank.dir.join("session.json");
    let client = || {
        let config = ClientConfig::new(&bank.sim.base_url(), &bank.service_code)
            .with_session_file(path.clone());
        Client::new(config, bank.key.clone()).unwrap()
    };
    let (a, b) = (client(), client());
    let order = bank.order();
    let created = a.create_order(&order).into_result().unwrap();
    assert!(a.generation() > 0);
    assert_eq!(bank.sim.authorizations(), 1);
    // B was constructed before A published: it finds generation 1 at its first call.
    let requests = bank.sim.requests();
    b.order_data(&created.hpp_order_id).unwrap();
    assert_eq!(b.authorizations(), 0);
    assert_eq!(b.generation(), a.generation());
    assert_eq!(
        bank.sim.requests() - requests,
        1,
        "one request, no authorization"
    );
    for (round, lose) in [Simulator::forget_sessions, Simulator::expire_sessions]
        .into_iter()
        .enumerate()
    {
        lose(&bank.sim);
        let before = b.generation();
        // B meets the loss: refused once, authorizes once, publishes the next generation.
        let requests = bank.sim.requests();
        b.order_data(&created.hpp_order_id).unwrap();
        assert_eq!(
            bank.sim.requests() - requests,
            3,
            "round {round}: refused, authorize, resend"
        );
        assert!(b.generation() > before, "round {round}");
        // A sees the newer generation before sending: one request, nothing refused.
        let requests = bank.sim.requests();
        a.order_data(&created.hpp_order_id).unwrap();
        assert_eq!(bank.sim.requests() - requests, 1, "round {round}");
        assert_eq!(a.generation(), b.generation());
    }
    assert_eq!(bank.sim.authorizations(), 3);
    assert_eq!((a.authorizations(), b.authorizations()), (1, 2));
    // A record sealed for this bank and key is useless to another service code's client on
    // the same file: it is ignored, not used.
    let other = ClientConfig::new(&bank.sim.base_url(), "another-service-code")
        .with_session_file(path.clone());
    let stranger = Client::new(other, bank.key.clone()).unwrap();
    assert!(
        stranger.session().is_err(),
        "the simulator does not know that code"
    );
    assert_eq!(bank.sim.authorizations(), 3);
}

/// A Redis that accepts connections and never answers (a stalled server): calls go on with
/// the process's own session, each store command bounded by its timeout, and the client
/// authorizes once.
#[cfg(feature = "redis")]
#[test]
fn a_stalled_redis_costs_no_call() {
    let bank = bank("stalled");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&held);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    let config = ClientConfig::new(&bank.sim.base_url(), &bank.service_code)
        .with_session_store(
            alliancepay_http::sessions::StoreSpec::parse(&format!("redis://127.0.0.1:{port}"))
                .unwrap(),
        )
        .with_store_timeout(Duration::from_millis(100));
    let client = Client::new(config, bank.key.clone()).unwrap();
    let order = bank.order();
    let started = Instant::now();
    let created = client.create_order(&order).into_result().unwrap();
    // Eight threads at once: those queued behind one stuck on the connection must not each
    // try (and time out) in turn.
    let threads = 8;
    let slowest = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut slowest = Duration::ZERO;
                    for _ in 0..25 {
                        let call = Instant::now();
                        client.order_data(&created.hpp_order_id).unwrap();
                        slowest = slowest.max(call.elapsed());
                        // Past the store's quiet period now and then, so Redis is tried (and
                        // times out) again.
                        std::thread::sleep(Duration::from_millis(40));
                    }
                    slowest
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap()
    });
    let calls = 1 + threads * 25;
    println!(
        "stalled Redis: {calls} calls from {threads} threads in {:?}, slowest read {slowest:?}",
        started.elapsed()
    );
    assert_eq!(bank.sim.authorizations(), 1);
    assert_eq!(
        bank.sim.requests(),
        calls as u64 + 1,
        "one authorization and the calls"
    );
    // A read waits at most for about one store command (connect, or a reply that never
    // comes; a thread behind it waits for that one, not for its own), and it did wait: the
    // store was tried again after its quiet period.
    assert!(slowest < Duration::from_millis(400), "{slowest:?}");
    assert!(slowest >= Duration::from_millis(90), "{slowest:?}");
    assert!(!held.lock().unwrap().is_empty(), "the client did try Redis");
}

/// A lease whose publish timed out is still released at once, although the store is in its
/// quiet period after the timeout: otherwise every other worker waits for it for the lease's
/// whole time to live.
#[cfg(feature = "redis")]
#[test]
fn a_lease_is_released_after_a_publish_timed_out() {
    use alliancepay_http::sessions::{Record, RedisStore};
    let Some((_one, redis)) = redis_or_skip() else {
        return;
    };
    let timeout = Duration::from_millis(100);
    let store = RedisStore::open(&redis.url(), "t:", "release", timeout).unwrap();
    let other = RedisStore::open(&redis.url(), "t:", "release", timeout).unwrap();
    let lease = store.try_lease(Duration::from_secs(40)).unwrap().unwrap();
    assert!(other.leased().unwrap());
    // Writes stall for 150 ms: the publish times out (100 ms), the release right after it
    // is answered once the pause ends.
    redis_command(&redis, "CLIENT PAUSE 150 WRITE");
    let record = Record {
        generation: 1,
        sealed: "x".into(),
    };
    let published = store.publish(&lease, 0, &record);
    assert!(published.is_err(), "{published:?}");
    store.release(lease);
    assert!(
        !other.leased().unwrap(),
        "the lease stayed in Redis after the failed publish"
    );
}

/// Sends one inline command to `redis` and returns its reply line.
#[cfg(feature = "redis")]
fn redis_command(redis: &Redis, command: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    s.write_all(format!("{command}\r\n").as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    assert!(line.starts_with('+'), "{command}: {line}");
    line
}

/// A store that lost its record (a Redis restarted empty) while a fresh worker published a
/// newer session: an old worker adopts that one rather than publishing its own, which the
/// bank already replaced.
#[cfg(feature = "redis")]
#[test]
fn an_old_session_is_not_published_over_a_newer_one_after_the_store_lost_it() {
    let Some((_one, redis)) = redis_or_skip() else {
        return;
    };
    let bank = bank("redis-empty");
    let client = || {
        let config = ClientConfig::new(&bank.sim.base_url(), &bank.service_code)
            .with_session_store(
                alliancepay_http::sessions::StoreSpec::parse(&redis.url()).unwrap(),
            );
        Client::new(config, bank.key.clone()).unwrap()
    };
    let old = client();
    let created = old.create_order(&bank.order()).into_result().unwrap();
    // Several generations into the run.
    old.authorize().unwrap();
    old.authorize().unwrap();
    // The store loses everything (connections survive, as after a fast restart).
    redis_command(&redis, "FLUSHALL");
    let fresh = client();
    fresh.session().unwrap();
    let authorizations = bank.sim.authorizations();
    let requests = bank.sim.requests();
    old.order_data(&created.hpp_order_id).unwrap();
    assert_eq!(
        bank.sim.requests() - requests,
        1,
        "the old worker used the fresh worker's session: one request, none refused"
    );
    assert_eq!(bank.sim.authorizations(), authorizations);
    assert_eq!(old.generation(), fresh.generation());
    fresh.order_data(&created.hpp_order_id).unwrap();
    assert_eq!(bank.sim.authorizations(), authorizations);
}

/// One process's view of a shared store, which can be cut off from it (a store that flaps for
/// some workers only).
#[derive(Debug)]
struct View {
    store: Arc<alliancepay_http::sessions::MemoryStore>,
    down: Arc<AtomicBool>,
}

impl View {
    fn check(&self) -> Result<(), alliancepay_http::sessions::StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(alliancepay_http::sessions::StoreError::Unavailable(
                "cut off".into(),
            ));
        }
        Ok(())
    }
}

impl SessionStore for View {
    fn generation(&self) -> Result<u64, alliancepay_http::sessions::StoreError> {
        self.check()?;
        self.store.generation()
    }
    fn leased(&self) -> Result<bool, alliancepay_http::sessions::StoreError> {
        self.check()?;
        self.store.leased()
    }
    fn load(
        &self,
    ) -> Result<Option<alliancepay_http::sessions::Record>, alliancepay_http::sessions::StoreError>
    {
        self.check()?;
        self.store.load()
    }
    fn try_lease(
        &self,
        ttl: Duration,
    ) -> Result<Option<alliancepay_http::sessions::Lease>, alliancepay_http::sessions::StoreError>
    {
        self.check()?;
        self.store.try_lease(ttl)
    }
    fn publish(
        &self,
        lease: &alliancepay_http::sessions::Lease,
        expected: u64,
        record: &alliancepay_http::sessions::Record,
    ) -> Result<(), alliancepay_http::sessions::StoreError> {
        self.check()?;
        self.store.publish(lease, expected, record)
    }
    fn release(&self, lease: alliancepay_http::sessions::Lease) {
        self.store.release(lease);
    }
}

/// A worker cut off from the store authorizes on its own; when it sees the store again, a
/// record published meanwhile by another worker, but granted before its own session, does not
/// replace its own (the bank already superseded it): its session is published instead.
#[test]
fn a_newer_unpublished_session_is_kept_over_an_older_stored_one() {
    let bank = bank("flap");
    let store = Arc::new(alliancepay_http::sessions::MemoryStore::default());
    let a_down = Arc::new(AtomicBool::new(false));
    let client = |down: &Arc<AtomicBool>| {
        let config = ClientConfig::new(&bank.sim.base_url(), &bank.service_code);
        Client::builder(config, bank.key.clone())
            .store(View {
                store: Arc::clone(&store),
                down: Arc::clone(down),
            })
            .build()
            .unwrap()
    };
    let (a, b) = (client(&a_down), client(&Arc::new(AtomicBool::new(false))));
    let created = a.create_order(&bank.order()).into_result().unwrap();
    // B replaces A's session and publishes it; A does not see it: it is cut off.
    b.authorize().unwrap();
    a_down.store(true, Ordering::SeqCst);
    // A's session is refused; with no store, A authorizes on its own (after its grace).
    a.order_data(&created.hpp_order_id).unwrap();
    assert_eq!(a.authorizations(), 2);
    // A sees the store again: B's record is older than A's session, which the bank holds now.
    a_down.store(false, Ordering::SeqCst);
    let (authorizations, requests) = (bank.sim.authorizations(), bank.sim.requests());
    a.order_data(&created.hpp_order_id).unwrap();
    b.order_data(&created.hpp_order_id).unwrap();
    assert_eq!(
        (
            bank.sim.authorizations() - authorizations,
            bank.sim.requests() - requests
        ),
        (0, 2),
        "both used A's session: no authorization, nothing refused"
    );
    assert_eq!(a.generation(), b.generation());
}

/// A free loopback port.
#[cfg(feature = "redis")]
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A test PKI by the `openssl` command: a CA (`ca.pem`), a server certificate for 127.0.0.1
/// signed by it (`server.pem`, `server.key`) and an unrelated CA (`other-ca.pem`); `false`
/// after a SKIPPED line when the command is missing (a failure under
/// ALLIANCEPAY_REQUIRE_PEERS=1).
#[cfg(feature = "redis")]
fn test_pki(dir: &Path) -> bool {
    const SCRIPT: &str = r#"set -e
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -days 1 -subj /CN=alliancepay-test-ca -keyout ca.key -out ca.pem
openssl req -x509 $ec -days 1 -subj /CN=another-ca -keyout other-ca.key -out other-ca.pem
openssl req $ec -subj /CN=127.0.0.1 -keyout server.key -out server.csr
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile server.ext -out server.pem
"#;
    let made = Command::new("sh")
        .args(["-c", SCRIPT])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        assert!(
            std::env::var("ALLIANCEPAY_REQUIRE_PEERS").as_deref() != Ok("1"),
            "the openssl command could not make a test PKI, and ALLIANCEPAY_REQUIRE_PEERS=1"
        );
        eprintln!(
            "SKIPPED rediss:// store test: no openssl command to make a test PKI (apt-get install openssl)"
        );
    }
    made
}

/// `rediss://` end to end: Redis with TLS only on its public port, a worker verifying it
/// against a private CA (`?ca=`) shares its session through it, and a worker trusting another
/// CA cannot connect (and says so) rather than talk to an unverified server.
#[cfg(feature = "redis")]
#[test]
fn rediss_store_verifies_the_server_against_the_given_ca() {
    let Some((_one, _plain)) = redis_or_skip() else {
        return;
    };
    let bank = bank("rediss");
    if !test_pki(&bank.dir) {
        return;
    }
    let (ca, other_ca) = (bank.dir.join("ca.pem"), bank.dir.join("other-ca.pem"));
    let (cert, key) = (bank.dir.join("server.pem"), bank.dir.join("server.key"));
    let (plain, tls) = (free_port(), free_port());
    let mut server = Command::new("redis-server")
        .args(["--port", &plain.to_string(), "--tls-port", &tls.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .args(["--tls-auth-clients", "no"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Counts the keys over the plain port (loopback only, for the test's own eyes).
    let keys = || -> Option<u64> {
        use std::io::{BufRead, BufReader, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", plain)).ok()?;
        s.write_all(b"DBSIZE\r\n").ok()?;
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).ok()?;
        line.trim().strip_prefix(':')?.parse().ok()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while keys().is_none() {
        assert!(
            Instant::now() < deadline,
            "redis-server with TLS did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = |ca: &Path| {
        let store = format!("rediss://127.0.0.1:{tls}/0?ca={}", ca.display());
        let out = bank
            .command(&store)
            .args(["soak", "--json", "--threads", "1", "--seconds", "1"])
            .args(["--merchant-id", &bank.merchant_id])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let verified = run(&ca);
    assert!(!verified.contains("unavailable"), "{verified}");
    assert_eq!(keys(), Some(1), "the session was published over TLS");
    let authorizations = bank.sim.granted().len();
    // A second worker trusting the right CA adopts the stored session: no authorization.
    let _ = run(&ca);
    assert_eq!(bank.sim.granted().len(), authorizations, "adopted over TLS");
    // One trusting another CA refuses the server: the store is unavailable to it.
    let refused = run(&other_ca);
    assert!(refused.contains("session store unavailable"), "{refused}");
    let _ = server.kill();
    let _ = server.wait();
    std::fs::remove_dir_all(&bank.dir).unwrap();
}
