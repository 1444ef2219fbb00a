//! The local bank simulator over real loopback HTTP: load (200 concurrent clients), every fault
//! kind on the wire, the control routes and callback delivery. The end-to-end client scenarios
//! live in `http_e2e.rs`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use alliancepay_http::__private::crypto;
use alliancepay_http::__private::protocol::{
    self, AUTHORIZE_PATH, CREATE_ORDER_PATH, HttpRequest, HttpResponse, ORDER_DATA_PATH,
};
use alliancepay_http::PrivateJwk;
use alliancepay_http::simulator::{
    CallbackSink, Fault, FaultKind, Limits, MerchantRegistration, PaymentOutcome, Simulator,
    SimulatorConfig,
};
use alliancepay_http::{
    Client, ClientConfig, CreateOrder, Error, Kopecks, MerchantRequestId, Transport, UreqTransport,
    UtcTime,
};
use serde_json::Value;

const MERCHANT: &str = "3e9b7c10-8d2f-4a61-b5c3-0f1e2d3c4b5a";

/// The load test and the timing-sensitive fault test run one at a time (test threads share
/// two cores).
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn key() -> PrivateJwk {
    PrivateJwk::generate(&mut rand_core::UnwrapErr(getrandom::SysRng)).unwrap()
}

fn registration(code: &str, key: &PrivateJwk) -> MerchantRegistration {
    MerchantRegistration {
        service_code: code.into(),
        merchant_id: MERCHANT.into(),
        public_key: *key.public_jwk(),
    }
}

fn simulator(key: &PrivateJwk, scale: f64) -> Simulator {
    Simulator::start(SimulatorConfig {
        merchants: vec![registration("service-1", key)],
        callback_retry_scale: scale,
        ..SimulatorConfig::default()
    })
    .unwrap()
}

fn order() -> CreateOrder {
    CreateOrder::builder()
        .merchant_id(MERCHANT)
        .amount(Kopecks::new(125_050))
        .customer("cust-1")
        .success_url("https://shop.example/ok")
        .fail_url("https://shop.example/fail")
        .build()
        .unwrap()
}

/// One request with a hand-written HTTP/1.1 client (`Connection: close`): status and body.
fn raw_http(base_url: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(base_url.trim_start_matches("http://")).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A count from the environment (the load figures in alliancepay-http's README use larger
/// ones), or `default`.
fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `q`-quantile of sorted `samples`.
fn quantile(samples: &[Duration], q: f64) -> Duration {
    let last = samples.len().saturating_sub(1);
    let index = ((last as f64) * q).round() as usize;
    samples.get(index.min(last)).copied().unwrap_or_default()
}

/// (a) Issue 13: 1,000 clients (`ALLIANCEPAY_LOAD_CLIENTS`), each with its own service code,
/// agent and connection, all at once: authorize, create an order, read it back. Zero errors
/// allowed; the latency of each client's three requests is reported (no threshold: a figure).
#[test]
fn a_thousand_concurrent_clients_without_an_error() {
    let clients = count("ALLIANCEPAY_LOAD_CLIENTS", 1000);
    let _alone = alone();
    let key = key();
    let sim = Simulator::start(SimulatorConfig {
        merchants: (0..clients)
            .map(|i| registration(&format!("service-{i}"), &key))
            .collect(),
        ..SimulatorConfig::default()
    })
    .unwrap();
    let (start, done) = (Barrier::new(clients), Barrier::new(clients));
    let held = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let results: Vec<Result<Duration, String>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..clients)
            .map(|i| {
                let (start, done, held, sim, key) = (&start, &done, &held, &sim, key.clone());
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn_scoped(scope, move || -> Result<Duration, String> {
                        let client = Client::new(
                            ClientConfig::new(&sim.base_url(), &format!("service-{i}")),
                            key,
                        )
                        .unwrap();
                        start.wait();
                        let began = Instant::now();
                        let result = (|| {
                            let created = client
                                .create_order(&order())
                                .into_result()
                                .map_err(|e| format!("client {i}: create: {e}"))?;
                            let read = client
                                .order_data(&created.hpp_order_id)
                                .map_err(|e| format!("client {i}: read: {e}"))?;
                            if read.hpp_order_id == created.hpp_order_id {
                                Ok(began.elapsed())
                            } else {
                                Err(format!("client {i}: read another order"))
                            }
                        })();
                        // Every client still holds its keep-alive connection here.
                        if done.wait().is_leader() {
                            held.store(sim.open_connections(), std::sync::atomic::Ordering::SeqCst);
                        }
                        result
                    })
                    .unwrap()
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| Err("panicked".into())))
            .collect()
    });
    let elapsed = started.elapsed();
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let mut latencies: Vec<Duration> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .copied()
        .collect();
    latencies.sort();
    println!(
        "simulator load: {clients} concurrent clients (authorize + create + read each), {} connections open at once, {} errors, {} requests in {:.2} s; per client p50 {} ms, p99 {} ms, max {} ms",
        held.load(std::sync::atomic::Ordering::SeqCst),
        errors.len(),
        sim.requests(),
        elapsed.as_secs_f64(),
        quantile(&latencies, 0.5).as_millis(),
        quantile(&latencies, 0.99).as_millis(),
        quantile(&latencies, 1.0).as_millis(),
    );
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(sim.authorizations(), clients as u64);
    assert_eq!(sim.requests(), 3 * clients as u64);
    // The clients really were concurrent: most of their keep-alive connections were open at
    // the same moment. Not all of them need be: on a loaded machine a few clients' pooled
    // connections were seen replaced or closed before the barrier (948 and 964 of 1,000, with
    // 0 errors), which says nothing about the server's capacity.
    assert!(held.load(std::sync::atomic::Ordering::SeqCst) >= clients / 2);
}

/// This process's resident set size in KiB (Linux), for the memory figure.
fn rss_kib() -> Option<u64> {
    status_kib("VmRSS:")
}

/// A `kB` line of `/proc/self/status` (Linux): `VmRSS:` now, `VmHWM:` the peak so far.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// (c) Issue 13: memory stays bounded over a long run. `ALLIANCEPAY_LOAD_ORDERS` orders
/// (20,000 here; 1,000,000 for the README's figure) through the default retention, created by
/// 8 clients at once; the stats must show eviction, the RSS is reported.
#[test]
fn orders_through_a_long_run_keep_memory_bounded() {
    const WRITERS: usize = 8;
    let orders = count("ALLIANCEPAY_LOAD_ORDERS", 20_000);
    let max_orders = count("ALLIANCEPAY_LOAD_MAX_ORDERS", 5_000);
    let _alone = alone();
    let key = key();
    let sim = Simulator::start(SimulatorConfig {
        merchants: (0..WRITERS)
            .map(|i| registration(&format!("service-{i}"), &key))
            .collect(),
        max_orders,
        ..SimulatorConfig::default()
    })
    .unwrap();
    let before = rss_kib();
    let started = Instant::now();
    let peak = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let (sim, key, peak) = (&sim, key.clone(), &peak);
            scope.spawn(move || {
                let client = Client::new(
                    ClientConfig::new(&sim.base_url(), &format!("service-{w}")),
                    key,
                )
                .unwrap();
                for n in (w..orders).step_by(WRITERS) {
                    client.create_order(&order()).into_result().unwrap();
                    if n % 1_000 == 0 {
                        let rss = rss_kib().unwrap_or(0);
                        peak.fetch_max(rss, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let after = rss_kib();
    let stats = stats(&sim);
    println!(
        "simulator memory: {orders} orders in {:.1} s with max_orders {max_orders}: held {}, evicted {}; RSS before {} MiB, peak {} MiB, after {} MiB",
        started.elapsed().as_secs_f64(),
        stats["orders"],
        stats["evictedOrders"],
        before.unwrap_or(0) / 1024,
        peak.load(std::sync::atomic::Ordering::SeqCst)
            .max(after.unwrap_or(0))
            / 1024,
        after.unwrap_or(0) / 1024,
    );
    assert_eq!(
        stats["orders"].as_u64(),
        Some(max_orders.min(orders) as u64)
    );
    assert_eq!(
        stats["evictedOrders"].as_u64(),
        Some(orders.saturating_sub(max_orders) as u64)
    );
    // The growth of the resident set during the run stays within a budget per held order
    // (4 KiB; about 3 were measured) plus 16 MiB for the runtime, the clients and allocator
    // slack: with 20,000 orders and 5,000 held, orders that were not forgotten exceed it. Measured as growth,
    // since other tests of this binary (the thousand client threads) raise the process's
    // peak before this one runs. Linux only: elsewhere there is no figure.
    if cfg!(target_os = "linux") {
        let before = before.expect("VmRSS in /proc/self/status");
        let peak = peak
            .load(std::sync::atomic::Ordering::SeqCst)
            .max(after.unwrap_or(0));
        let budget = 4 * max_orders.min(orders) as u64 + 16 * 1024;
        println!(
            "simulator memory: grew {} KiB, budget {budget} KiB; process peak (VmHWM) {} MiB",
            peak.saturating_sub(before),
            status_kib("VmHWM:").unwrap_or(0) / 1024
        );
        assert!(
            peak.saturating_sub(before) <= budget,
            "RSS grew {} KiB, over the budget of {budget} KiB",
            peak.saturating_sub(before)
        );
    }
}

fn authorize(transport: &UreqTransport, base: &str) -> Result<HttpResponse, String> {
    let request = protocol::authorize_request("service-1", "v1", &mut crypto::os_rng());
    transport
        .send(base, &request)
        .map(|r| r.response)
        .map_err(|e| format!("{e:?}"))
}

fn json(r: &HttpResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// (b) Each fault kind, armed for 2 requests, shows on exactly 2 and then the bank answers.
#[test]
fn every_fault_takes_effect_exactly_times_times() {
    let key = key();
    let sim = simulator(&key, 1.0);
    let base = sim.base_url();
    let transport = UreqTransport::new(Duration::from_secs(10));
    type Shows = Box<dyn Fn(&Result<HttpResponse, String>, Duration) -> bool>;
    let kinds: Vec<(FaultKind, Shows)> = vec![
        (
            FaultKind::Latency(Duration::from_millis(1500)),
            Box::new(|r, t| {
                t >= Duration::from_millis(1500)
                    && r.as_ref().is_ok_and(|r| json(r)["jwe"].is_string())
            }),
        ),
        (
            FaultKind::Status(503),
            Box::new(|r, _| {
                r.as_ref()
                    .is_ok_and(|r| r.status == 503 && r.body.is_empty())
            }),
        ),
        (
            FaultKind::ErrorCode {
                status: 503,
                code: "b_server_is_overloaded".into(),
            },
            Box::new(|r, _| {
                r.as_ref().is_ok_and(|r| {
                    r.status == 503 && json(r)["msgCode"] == "b_server_is_overloaded"
                })
            }),
        ),
        (FaultKind::DropConnection, Box::new(|r, _| r.is_err())),
        (
            FaultKind::Unauthorized,
            Box::new(|r, _| {
                r.as_ref()
                    .is_ok_and(|r| r.status == 401 && r.body.is_empty())
            }),
        ),
        (
            FaultKind::Html,
            Box::new(|r, _| {
                r.as_ref().is_ok_and(|r| {
                    r.status == 502 && r.content_type.as_deref() == Some("text/html")
                })
            }),
        ),
        (
            FaultKind::Truncated,
            Box::new(|r, _| {
                r.as_ref().is_ok_and(|r| {
                    r.status == 200
                        && r.content_type.as_deref() == Some("application/json")
                        && json(r).is_null()
                        && !r.body.is_empty()
                })
            }),
        ),
        (
            FaultKind::WrongContentType,
            Box::new(|r, _| {
                r.as_ref()
                    .is_ok_and(|r| r.content_type.as_deref() == Some("application/octet-stream"))
            }),
        ),
        (
            FaultKind::MissingJwe,
            Box::new(|r, _| {
                r.as_ref().is_ok_and(|r| {
                    r.status == 200 && json(r)["token"].is_string() && json(r).get("jwe").is_none()
                })
            }),
        ),
        (
            FaultKind::ApplyThenFail,
            Box::new(|r, _| {
                r.as_ref()
                    .is_ok_and(|r| r.status == 500 && json(r)["msgCode"] == "b_unknown_error")
            }),
        ),
        (FaultKind::ApplyThenDrop, Box::new(|r, _| r.is_err())),
        (
            FaultKind::EmptyJwe,
            Box::new(|r, _| {
                r.as_ref()
                    .is_ok_and(|r| r.status == 200 && json(r)["jwe"] == "")
            }),
        ),
        (FaultKind::UndecryptableJwe, {
            let key = key.clone();
            Box::new(move |r, _| {
                r.as_ref().is_ok_and(|r| {
                    json(r)["jwe"]
                        .as_str()
                        .is_some_and(|t| crypto::decrypt_to_vec(&key, t).is_err())
                })
            })
        }),
    ];
    let _alone = alone();
    let mut authorizations = 0;
    for (kind, shows) in kinds {
        sim.inject(Fault::on(AUTHORIZE_PATH, 2, kind.clone()));
        // Another path is not affected.
        let other = HttpRequest {
            path: ORDER_DATA_PATH,
            headers: vec![("x-api_version", "v1".into())],
            content_type: "application/json",
            body: b"{}".to_vec(),
        };
        let other = transport.send(&base, &other).unwrap().response;
        assert_eq!(
            json(&other)["msgCode"],
            "b_refresh_token_absent",
            "{kind:?}"
        );
        let before = sim.requests();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let response = authorize(&transport, &base);
            seen.push(shows(&response, started.elapsed()));
        }
        assert_eq!(seen, [true, true, false], "{kind:?}");
        assert_eq!(sim.requests() - before, 3, "{kind:?}");
        let normal = authorize(&transport, &base).unwrap();
        // Every answer the bank itself writes states the simulated clock in `Date`.
        let dated = transport
            .send(
                &base,
                &protocol::authorize_request("service-1", "v1", &mut crypto::os_rng()),
            )
            .unwrap();
        let date = UtcTime::parse_http_date(dated.date.as_deref().unwrap()).unwrap();
        // Loose bound: a loaded CI machine may stall between the answer and this line.
        assert!(date.since(sim.now()).abs() <= 30, "{date} vs {}", sim.now());
        authorizations += 1;
        assert!(
            json(&normal)["jwe"].is_string(),
            "{kind:?}: after the fault the bank answers"
        );
        // Faults that process the request authorize; the others must not.
        let processes = matches!(
            kind,
            FaultKind::Latency(_)
                | FaultKind::Truncated
                | FaultKind::WrongContentType
                | FaultKind::ApplyThenFail
                | FaultKind::ApplyThenDrop
                | FaultKind::EmptyJwe
                | FaultKind::UndecryptableJwe
        );
        assert_eq!(
            sim.authorizations() - authorizations,
            2 + 2 * u64::from(processes),
            "{kind:?}"
        );
        authorizations = sim.authorizations();
    }
}

#[test]
fn path_filter_and_apply_then_fail_reconciliation() {
    let key = key();
    let sim = simulator(&key, 1.0);
    let client = Client::new(ClientConfig::new(&sim.base_url(), "service-1"), key).unwrap();
    sim.inject(Fault::on(CREATE_ORDER_PATH, 1, FaultKind::ApplyThenFail));
    let request = order();
    // Authorization passes untouched; the order is created, then the answer is a 500.
    let err = client.create_order(&request).into_result().unwrap_err();
    assert!(err.outcome_unknown(), "{err}");
    assert_eq!(
        err.bank_error().map(|e| e.msg_code.as_str()),
        Some("b_unknown_error")
    );
    // Proof the write happened: the same merchantRequestId is now a duplicate.
    match client.create_order(&request).into_result() {
        Err(Error::AlreadyExists(e)) => assert_eq!(
            (e.status, e.msg_code.as_str()),
            (400, "b_duplicate_field_value")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.authorizations(), 1);
}

#[test]
fn encrypted_callback_is_retried_until_200_and_control_routes_work() {
    let key = key();
    let sim = simulator(&key, 0.001);
    let client = Client::new(ClientConfig::new(&sim.base_url(), "service-1"), key.clone()).unwrap();
    let sink = CallbackSink::answering(vec![500, 503, 200]).unwrap();
    let mut request = order();
    request.notification_url = Some(sink.url().to_owned());
    request.notification_encryption = Some(true);
    let created = client.create_order(&request).into_result().unwrap();
    // Pay through the control route, as a test in another language would.
    let (status, body) = raw_http(
        &sim.base_url(),
        "POST",
        "/__sim/pay",
        &format!(
            r#"{{"hppOrderId":"{}","outcome":"SUCCESS"}}"#,
            created.hpp_order_id
        ),
    );
    assert_eq!(status, 200, "{body}");
    let bodies: Vec<String> = (0..3)
        .map(|_| String::from_utf8(sink.next(Duration::from_secs(10)).unwrap()).unwrap())
        .collect();
    assert!(bodies.iter().all(|b| b == &bodies[0]));
    match client.parse_callback(bodies[0].as_bytes()).unwrap() {
        alliancepay_http::Callback::Order(o) => {
            assert_eq!(o.hpp_order_id, created.hpp_order_id);
            assert_eq!(o.operations.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.callbacks_delivered() < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!((sim.callbacks_delivered(), sim.callback_attempts()), (1, 3));
    // Paying twice is refused; the other control routes answer.
    assert!(
        sim.pay(&created.hpp_order_id, PaymentOutcome::Fail)
            .is_err()
    );
    let (status, stats) = raw_http(&sim.base_url(), "GET", "/__sim/stats", "");
    assert_eq!(status, 200);
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["callbacksDelivered"], 1);
    assert_eq!(
        raw_http(
            &sim.base_url(),
            "POST",
            "/__sim/advance-clock",
            r#"{"secs":60}"#
        )
        .0,
        200
    );
    assert_eq!(
        raw_http(&sim.base_url(), "POST", "/__sim/expire-sessions", "").0,
        200
    );
    assert_eq!(
        raw_http(
            &sim.base_url(),
            "POST",
            "/__sim/fault",
            r#"{"times":1,"kind":"unauthorized"}"#
        )
        .0,
        200
    );
    assert_eq!(raw_http(&sim.base_url(), "POST", "/__sim/nope", "").0, 404);
    let (status, page) = raw_http(
        &sim.base_url(),
        "GET",
        &format!("/__sim/hpp/{}", created.hpp_order_id),
        "",
    );
    assert!(status == 200 && page.contains("SUCCESS"), "{page}");
}

#[test]
fn malformed_http_gets_a_clear_400() {
    let key = key();
    let sim = simulator(&key, 1.0);
    let mut stream = TcpStream::connect(sim.local_addr()).unwrap();
    stream.write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
}

/// Reads one response head (and a `Content-Length` body) from `stream`.
fn read_response(stream: &mut TcpStream) -> (u16, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            break;
        }
        bytes.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&bytes).into_owned();
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Issue 13: curl's `Expect: 100-continue` is answered at once (it used to stall a second),
/// and a chunked body is read (it used to get a plain-text 400).
#[test]
fn expect_continue_and_chunked_bodies_are_served() {
    let key = key();
    let sim = simulator(&key, 1.0);
    let mut stream = TcpStream::connect(sim.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let body = r#"{"serviceCode":"service-1"}"#;
    write!(
        stream,
        "POST {AUTHORIZE_PATH} HTTP/1.1\r\nHost: sim\r\nx-api_version: v1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let started = Instant::now();
    let (status, _) = read_response(&mut stream);
    assert_eq!(status, 100, "no 100 Continue");
    assert!(started.elapsed() < Duration::from_millis(900));
    let (first, second) = body.split_at(10);
    write!(
        stream,
        "{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    )
    .unwrap();
    let (status, answer) = read_response(&mut stream);
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert!(answer["jwe"].is_string(), "{answer}");
    // The same connection serves the next request (keep-alive after a chunked body).
    write!(stream, "GET /__sim/stats HTTP/1.1\r\nHost: sim\r\n\r\n").unwrap();
    let (status, stats) = read_response(&mut stream);
    assert_eq!(status, 200);
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["authorizations"], 1);
}

/// Issue 13: the bank's WordPress plugin authorizes without `x-api_version`; over the wire it
/// gets a session, unless the simulator runs `strict`.
#[test]
fn authorize_without_api_version_over_http() {
    let key = key();
    for strict in [false, true] {
        let sim = Simulator::start(SimulatorConfig {
            merchants: vec![registration("service-1", &key)],
            strict,
            ..SimulatorConfig::default()
        })
        .unwrap();
        let (status, body) = raw_http(
            &sim.base_url(),
            "POST",
            AUTHORIZE_PATH,
            r#"{"serviceCode":"service-1"}"#,
        );
        let body: Value = serde_json::from_str(&body).unwrap();
        if strict {
            assert_eq!(
                (status, body["msgCode"].as_str()),
                (200, Some("b_invalid_request"))
            );
        } else {
            assert_eq!(status, 200);
            let payload = crypto::decrypt_to_vec(&key, body["jwe"].as_str().unwrap()).unwrap();
            let payload: Value = serde_json::from_slice(&payload).unwrap();
            assert!(payload["refreshToken"].is_string(), "{payload}");
        }
    }
}

fn limited(limits: Limits) -> (PrivateJwk, Simulator) {
    let key = key();
    let sim = Simulator::start(SimulatorConfig {
        merchants: vec![registration("service-1", &key)],
        limits,
        ..SimulatorConfig::default()
    })
    .unwrap();
    (key, sim)
}

fn stats(sim: &Simulator) -> Value {
    serde_json::from_str(&raw_http(&sim.base_url(), "GET", "/__sim/stats", "").1).unwrap()
}

/// Beyond `max_connections` a new connection gets a 503 and is closed; once one closes, the
/// next is served.
#[test]
fn connections_beyond_the_cap_get_503() {
    let (_key, sim) = limited(Limits {
        max_connections: 4,
        ..Limits::default()
    });
    let held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(sim.local_addr()).unwrap())
        .collect();
    // Let the server take them all.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.open_connections() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut extra = TcpStream::connect(sim.local_addr()).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = String::new();
    let _ = extra.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    drop(held);
    // Once they are closed, a new connection is served (the stats request itself).
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.open_connections() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = stats(&sim);
    assert_eq!(stats["connectionsRefused"], 1, "{stats}");
}

/// A body over the limit is refused with 413, whether announced or chunked.
#[test]
fn oversized_bodies_get_413() {
    let (_key, sim) = limited(Limits {
        max_body_bytes: 1000,
        ..Limits::default()
    });
    let mut stream = TcpStream::connect(sim.local_addr()).unwrap();
    write!(
        stream,
        "POST {AUTHORIZE_PATH} HTTP/1.1\r\nHost: sim\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"
    )
    .unwrap();
    assert_eq!(read_response(&mut stream).0, 413);
    let mut stream = TcpStream::connect(sim.local_addr()).unwrap();
    write!(
        stream,
        "POST {AUTHORIZE_PATH} HTTP/1.1\r\nHost: sim\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let chunk = "x".repeat(600);
    let _ = write!(stream, "258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n");
    assert_eq!(read_response(&mut stream).0, 413);
    assert_eq!(stats(&sim)["bodiesRefused"], 2);
}

/// Issue 13: connections that send nothing, or a byte now and then, used to hold a thread and
/// three descriptors each forever. Now they cost a socket, do not delay a normal client
/// (served within 1 s with `IDLE` of them open), and are closed after the header timeout.
#[test]
fn slow_and_idle_connections_do_not_block_a_normal_client() {
    const IDLE: usize = 1000;
    let _alone = alone();
    let (key, sim) = limited(Limits {
        header_read_timeout: Duration::from_secs(4),
        ..Limits::default()
    });
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let mut s = TcpStream::connect(sim.local_addr())
            .unwrap_or_else(|e| panic!("connection {i}: {e} (raise `ulimit -n`)"));
        if i % 2 == 1 {
            // Slow loris: a head that never ends.
            s.write_all(b"POST /api-gateway/authorize_virtual_device HTTP/1.1\r\nX-Slow: ")
                .unwrap();
        }
        idle.push(s);
    }
    // The kernel has completed every handshake; wait for the server to take them all.
    let deadline = Instant::now() + Duration::from_secs(3);
    while sim.open_connections() < IDLE && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let open = sim.open_connections();
    let client = Client::new(ClientConfig::new(&sim.base_url(), "service-1"), key).unwrap();
    let started = Instant::now();
    let created = client.create_order(&order()).into_result().unwrap();
    client.order_data(&created.hpp_order_id).unwrap();
    let served = started.elapsed();
    println!(
        "simulator: {open} idle or slow connections open; a new client authorized, created and read an order in {} ms",
        served.as_millis()
    );
    assert!(open >= IDLE, "only {open} connections were held");
    assert!(served < Duration::from_secs(1), "{served:?}");
    // The header timeout closes them all.
    std::thread::sleep(Duration::from_millis(4500));
    let mut closed = 0;
    for mut s in idle {
        // A closed socket reads at once; an open one would wait (and fail the count).
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let mut buf = [0u8; 256];
        if s.read(&mut buf).is_ok() {
            closed += 1;
        }
    }
    assert_eq!(closed, IDLE, "connections not closed by the header timeout");
}

/// Orders beyond `max_orders` are forgotten, oldest first; the stats say how many.
#[test]
fn orders_are_evicted_beyond_the_cap() {
    let key = key();
    let sim = Simulator::start(SimulatorConfig {
        merchants: vec![registration("service-1", &key)],
        max_orders: 50,
        ..SimulatorConfig::default()
    })
    .unwrap();
    let client = Client::new(ClientConfig::new(&sim.base_url(), "service-1"), key).unwrap();
    let first = client.create_order(&order()).into_result().unwrap();
    for _ in 0..199 {
        client.create_order(&order()).into_result().unwrap();
    }
    let stats = stats(&sim);
    assert_eq!(
        (stats["orders"].as_u64(), stats["evictedOrders"].as_u64()),
        (Some(50), Some(150))
    );
    assert!(matches!(
        client.order_data(&first.hpp_order_id),
        Err(Error::Bank(e)) if e.msg_code == "b_hpp_order_not_found"
    ));
}

#[test]
fn shutdown_stops_serving() {
    let key = key();
    let mut sim = simulator(&key, 1.0);
    let addr = sim.local_addr();
    // An idle keep-alive connection is closed by shutdown.
    let mut idle = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    sim.shutdown();
    let mut buf = [0u8; 1];
    assert_eq!(idle.read(&mut buf).unwrap_or(0), 0);
    assert!(TcpStream::connect(addr).is_err());
}

/// bank-api.md §3.6 and §6.1.9: the same callback may arrive twice, and an earlier state after
/// the final one. With both modes on, a payment's callbacks arrive as SUCCESS, SUCCESS,
/// PENDING, and a refund's as SUCCESS, SUCCESS, PENDING too.
#[test]
fn duplicate_and_out_of_order_callbacks() {
    let key = key();
    let sim = Simulator::start(SimulatorConfig {
        merchants: vec![registration("service-1", &key)],
        duplicate_callbacks: true,
        out_of_order_callbacks: true,
        ..SimulatorConfig::default()
    })
    .unwrap();
    let client = Client::new(ClientConfig::new(&sim.base_url(), "service-1"), key).unwrap();
    let sink = CallbackSink::start().unwrap();
    let mut request = order();
    request.notification_url = Some(sink.url().to_owned());
    let created = client.create_order(&request).into_result().unwrap();
    sim.pay(&created.hpp_order_id, PaymentOutcome::Success)
        .unwrap();
    let statuses = |n: usize, member: &str| -> Vec<String> {
        (0..n)
            .map(|_| {
                let body: Value =
                    serde_json::from_slice(&sink.next(Duration::from_secs(10)).unwrap()).unwrap();
                body[member].as_str().unwrap_or_default().to_owned()
            })
            .collect()
    };
    assert_eq!(
        statuses(3, "orderStatus"),
        ["SUCCESS", "SUCCESS", "PENDING"]
    );
    assert!(sink.next(Duration::from_millis(200)).is_none());
    let data = client.order_data(&created.hpp_order_id).unwrap();
    let operation_id = data.operations[0].operation_id.clone().unwrap();
    let mut refund = alliancepay_http::Refund::builder()
        .merchant_id(MERCHANT)
        .operation_id(&operation_id)
        .amount(Kopecks::new(1_000))
        .build()
        .unwrap();
    refund.notification_url = Some(sink.url().to_owned());
    client.refund(&refund).into_result().unwrap();
    assert_eq!(statuses(3, "status"), ["SUCCESS", "SUCCESS", "PENDING"]);
}

/// A body that trickles in is cut off after the body timeout with a 408.
#[test]
fn slow_bodies_get_408() {
    let (_key, sim) = limited(Limits {
        body_read_timeout: Duration::from_millis(500),
        ..Limits::default()
    });
    let mut stream = TcpStream::connect(sim.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "POST {AUTHORIZE_PATH} HTTP/1.1\r\nHost: sim\r\nContent-Length: 100\r\n\r\n{{\"serviceCode\""
    )
    .unwrap();
    assert_eq!(read_response(&mut stream).0, 408);
    assert_eq!(stats(&sim)["bodiesRefused"], 1);
}

/// The payment page without a browser: `STATUS_PAGE` shows the result with a link back, a
/// paid order's page shows its status, an expired order's page says so (410).
#[test]
fn payment_page_status_page_and_expiry() {
    let key = key();
    let sim = simulator(&key, 1.0);
    let client = Client::new(ClientConfig::new(&sim.base_url(), "service-1"), key).unwrap();
    let mut request = order();
    request.status_page_type = alliancepay_http::StatusPageType::StatusPage;
    let created = client.create_order(&request).into_result().unwrap();
    let page = format!("/__sim/hpp/{}", created.hpp_order_id);
    let (status, html) = raw_http(&sim.base_url(), "GET", &page, "");
    assert_eq!(status, 200);
    assert!(html.contains("<form method=\"post\"") && html.contains("<label for=\"pan\">"));
    let (status, html) = raw_http(
        &sim.base_url(),
        "POST",
        &format!("{page}/pay"),
        "pan=4000+0000+0000+0002&expiry=12%2F39&cvv=123",
    );
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-status=\"FAIL\""), "{html}");
    assert!(
        html.contains("href=\"https://shop.example/fail\""),
        "{html}"
    );
    // Paying again is refused: the page shows the status, no form.
    let (_, html) = raw_http(&sim.base_url(), "GET", &page, "");
    assert!(!html.contains("<form"), "{html}");
    let pending = client.create_order(&order()).into_result().unwrap();
    sim.advance_clock(16 * 60);
    let (status, html) = raw_http(
        &sim.base_url(),
        "GET",
        &format!("/__sim/hpp/{}", pending.hpp_order_id),
        "",
    );
    assert_eq!(status, 410, "{html}");
    assert!(html.contains("expired"));
    let (status, _) = raw_http(&sim.base_url(), "GET", "/__sim/hpp/nope", "");
    assert_eq!(status, 404);
}

/// The 3-D Secure step cannot be reached without the card form, and the answer cannot choose
/// what the record shows: the card comes from the challenge the page issued. A wrong code
/// declines the payment with `statusThreeDs` "N".
#[test]
fn challenge_answer_needs_the_card_form_and_cannot_be_tampered_with() {
    use alliancepay_http::OrderStatus;
    let key = key();
    let sim = simulator(&key, 1.0);
    let client = Client::new(ClientConfig::new(&sim.base_url(), "service-1"), key).unwrap();
    let mut request = order();
    request.status_page_type = alliancepay_http::StatusPageType::StatusPage;
    // Straight to the challenge answer: refused, the order stays PENDING.
    request.merchant_request_id = MerchantRequestId::generate();
    let skipped = client.create_order(&request).into_result().unwrap();
    let page = format!("/__sim/hpp/{}", skipped.hpp_order_id);
    let (status, html) = raw_http(
        &sim.base_url(),
        "POST",
        &format!("{page}/3ds"),
        "otp=1234&mask=4111111111111111&system=Visa",
    );
    assert_eq!(status, 409, "{html}");
    let read = client.order_data(&skipped.hpp_order_id).unwrap();
    assert_eq!(read.order_status, OrderStatus::Pending);
    // Through the card form, then an answer with forged hidden fields: the record keeps the
    // challenge card's mask and system.
    let (status, html) = raw_http(
        &sim.base_url(),
        "POST",
        &format!("{page}/pay"),
        "pan=5200000000003258&expiry=12%2F39&cvv=123",
    );
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("name=\"mask\""), "{html}");
    let (status, html) = raw_http(
        &sim.base_url(),
        "POST",
        &format!("{page}/3ds"),
        "otp=1234&mask=4111111111111111&system=Visa",
    );
    assert_eq!(status, 200, "{html}");
    let read = client.order_data(&skipped.hpp_order_id).unwrap();
    assert_eq!(read.order_status, OrderStatus::Success);
    let op = &read.operations[0];
    assert_eq!(op.other["cardNumberMask"], "520000••••••3258");
    assert_eq!(op.other["paymentSystem"], "MasterCard");
    assert_eq!(op.other["statusThreeDs"], "Y");
    // The challenge is answered once.
    let (status, _) = raw_http(&sim.base_url(), "POST", &format!("{page}/3ds"), "otp=1234");
    assert_eq!(status, 200);
    // A wrong code: declined, not authenticated.
    request.merchant_request_id = MerchantRequestId::generate();
    let wrong = client.create_order(&request).into_result().unwrap();
    let page = format!("/__sim/hpp/{}", wrong.hpp_order_id);
    raw_http(
        &sim.base_url(),
        "POST",
        &format!("{page}/pay"),
        "pan=5200000000003258&expiry=12%2F39&cvv=123",
    );
    let (status, html) = raw_http(&sim.base_url(), "POST", &format!("{page}/3ds"), "otp=9999");
    assert_eq!(status, 200, "{html}");
    let read = client.order_data(&wrong.hpp_order_id).unwrap();
    assert_eq!(read.order_status, OrderStatus::Fail);
    assert_eq!(read.operations[0].other["threeDSMode"], "CHALLENGE");
    assert_eq!(read.operations[0].other["statusThreeDs"], "N");
}

/// A create-order request sent as it is: our client refuses what the bank accepts (a
/// `successUrl` that is not http(s)), which another client may send.
struct Unvalidated(CreateOrder);

impl alliancepay_http::Validate for Unvalidated {
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
}

impl protocol::Endpoint for Unvalidated {
    type Output = alliancepay_http::Order;
    const KIND: protocol::Kind = protocol::Kind::Write;
    fn path(&self) -> &'static str {
        protocol::Endpoint::path(&self.0)
    }
    fn encrypted(&self) -> bool {
        protocol::Endpoint::encrypted(&self.0)
    }
    fn json_body(&self, now: UtcTime) -> Result<Vec<u8>, Error> {
        protocol::Endpoint::json_body(&self.0, now)
    }
    fn merchant_request_id(&self) -> Option<&MerchantRequestId> {
        protocol::Endpoint::merchant_request_id(&self.0)
    }
    fn check(&self, output: &Self::Output) -> Result<(), String> {
        protocol::Endpoint::check(&self.0, output)
    }
}

/// A merchant URL that is not http(s) is shown as text, never a link, a refresh target or a
/// redirect; every HPP answer carries a content security policy and `no-store`.
#[test]
fn payment_page_never_links_to_a_script_url() {
    use alliancepay_http::StatusPageType;
    let key = key();
    let sim = simulator(&key, 1.0);
    let client = Client::new(ClientConfig::new(&sim.base_url(), "service-1"), key).unwrap();
    let raw = |method: &str, path: &str, body: &str| {
        let mut stream = TcpStream::connect(sim.local_addr()).unwrap();
        write!(stream, "{method} {path} HTTP/1.1\r\nHost: sim\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    for kind in [
        StatusPageType::StatusTimerPage,
        StatusPageType::StatusRedirectMerchantPage,
        StatusPageType::StatusPage,
    ] {
        let mut request = order();
        request.success_url = "javascript:fetch('/__sim/clock')".into();
        request.fail_url = "JAVASCRIPT:alert(1)".into();
        request.status_page_type = kind;
        request.merchant_request_id = MerchantRequestId::generate();
        let created = client.call(&Unvalidated(request)).into_result().unwrap();
        let page = format!("/__sim/hpp/{}", created.hpp_order_id);
        let answer = raw("GET", &page, "");
        let head = answer
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            head.contains("content-security-policy: default-src 'none'"),
            "{head}"
        );
        assert!(head.contains("frame-ancestors 'none'"), "{head}");
        assert!(head.contains("cache-control: no-store"), "{head}");
        let answer = raw(
            "POST",
            &format!("{page}/pay"),
            "pan=4111111111111111&expiry=12%2F39&cvv=123",
        );
        assert!(answer.starts_with("HTTP/1.1 200"), "{kind:?}: {answer}");
        let lower = answer.to_ascii_lowercase();
        assert!(!lower.contains("location:"), "{kind:?}: {answer}");
        assert!(!lower.contains("href=\"javascript"), "{kind:?}: {answer}");
        assert!(
            !lower.contains("http-equiv=\"refresh\""),
            "{kind:?}: {answer}"
        );
        assert!(
            lower.contains("content-security-policy"),
            "{kind:?}: {answer}"
        );
        assert!(
            lower.contains("cache-control: no-store"),
            "{kind:?}: {answer}"
        );
        // Still shown, as text, so the merchant sees what they sent.
        assert!(answer.contains("javascript:fetch("), "{kind:?}: {answer}");
    }
}

/// A card form sent back for correction does not carry the card number: not in the page, not
/// in the request log.
#[test]
fn corrected_card_form_does_not_echo_the_number() {
    let key = key();
    let dir = std::env::temp_dir().join(format!("sim-echo-{}", crypto::new_uuid()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("requests.jsonl");
    let sim = Simulator::start(SimulatorConfig {
        merchants: vec![registration("service-1", &key)],
        request_log: Some(log.clone()),
        ..SimulatorConfig::default()
    })
    .unwrap();
    let client = Client::new(ClientConfig::new(&sim.base_url(), "service-1"), key).unwrap();
    let created = client.create_order(&order()).into_result().unwrap();
    let (status, html) = raw_http(
        &sim.base_url(),
        "POST",
        &format!("/__sim/hpp/{}/pay", created.hpp_order_id),
        "pan=4242424242424242&expiry=01%2F20&cvv=123&holder=Ann+Example",
    );
    assert_eq!(status, 422, "{html}");
    assert!(!html.contains("4242424242"), "{html}");
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in ["4242424242", "Ann", "service-1\""] {
        assert!(!text.contains(secret), "{secret} in the log: {text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A client that sends requests and never reads the answers is cut off once the answers
/// stop moving, so its slot of the connection cap comes back.
#[test]
fn a_client_that_never_reads_is_cut_off() {
    let _serial = alone();
    let (_key, sim) = limited(Limits {
        max_connections: 1,
        write_stall_timeout: Duration::from_secs(1),
        ..Limits::default()
    });
    let mut greedy = TcpStream::connect(sim.local_addr()).unwrap();
    greedy
        .set_write_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    // About 25 MB of 404 pages, more than the loopback socket buffers hold.
    let request = b"GET /__sim/hpp/nope HTTP/1.1\r\nHost: sim\r\n\r\n";
    let many = request.repeat(1000);
    for _ in 0..20 {
        if greedy.write_all(&many).is_err() {
            break;
        }
    }
    // Served again within the stall timeout and a little; before, the 503 lasted for ever.
    let start = Instant::now();
    let served = loop {
        let status = TcpStream::connect(sim.local_addr()).ok().and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            write!(
                s,
                "GET /__sim/stats HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n"
            )
            .ok()?;
            let mut answer = Vec::new();
            let _ = s.read_to_end(&mut answer);
            String::from_utf8_lossy(&answer)
                .get(9..12)?
                .parse::<u16>()
                .ok()
        });
        if status == Some(200) || start.elapsed() > Duration::from_secs(15) {
            break status;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(served, Some(200), "after {:?}", start.elapsed());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(stats(&sim)["writeStalls"], 1);
    drop(greedy);
}

/// The connection cap in force stays under the process's open-file limit, so that the cap's
/// 503 comes before `accept` runs out of descriptors.
#[test]
fn the_connection_cap_fits_the_open_file_limit() {
    let soft: u64 = std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .expect("a numeric soft limit of open files");
    let (_key, sim) = limited(Limits {
        max_connections: 10_000_000,
        ..Limits::default()
    });
    let cap = stats(&sim)["maxConnections"].as_u64().unwrap();
    assert!(cap > 0 && cap < soft, "cap {cap}, open-file limit {soft}");
}

/// By default a body is at most 64 KiB (the bank's requests are a few KiB): with four
/// thousand connections each holding one, memory stays in the hundreds of MB, not gigabytes.
#[test]
fn default_body_limit_is_64_kib() {
    assert_eq!(Limits::default().max_body_bytes, 64 << 10);
    let key = key();
    let sim = simulator(&key, 1.0);
    let mut stream = TcpStream::connect(sim.local_addr()).unwrap();
    write!(
        stream,
        "POST {AUTHORIZE_PATH} HTTP/1.1\r\nHost: sim\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        (64 << 10) + 1
    )
    .unwrap();
    assert_eq!(read_response(&mut stream).0, 413);
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(60 << 10));
    let (status, _) = raw_http(&sim.base_url(), "POST", AUTHORIZE_PATH, &body);
    assert_ne!(status, 413);
}
