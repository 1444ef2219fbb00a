//! The simulator's HPP checkout page in a real browser: Debian's `chromium`, headless, driven
//! over W3C WebDriver by `chromedriver` (package `chromium-driver`). For each test card the
//! test creates an order through our client, opens its `redirectUrl`, types the card, passes
//! the 3-D Secure page where there is one, and checks where the browser lands (the merchant's
//! `successUrl` or `failUrl`), the callback the bank sent, and the order state read back.
//!
//! Without Chromium or chromedriver the test prints a `SKIPPED` line and passes, unless
//! `ALLIANCEPAY_REQUIRE_PEERS=1` (CI sets it), when it fails (`alliancepay_tests::peers`). Screenshots of the pages go to
//! `target/hpp-screenshots/`, or to `ALLIANCEPAY_SCREENSHOTS` if set (alliancepay-http/docs
//! holds the ones the README shows).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alliancepay_http::PrivateJwk;
use alliancepay_http::StatusPageType;
use alliancepay_http::simulator::{CallbackSink, MerchantRegistration, Simulator, SimulatorConfig};
use alliancepay_http::{Client, ClientConfig, CreateOrder, Kopecks};
use serde_json::{Value, json};

const MERCHANT: &str = "3e9b7c10-8d2f-4a61-b5c3-0f1e2d3c4b5a";

/// An executable on `PATH`, or the path in `env` if set.
fn find(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Kills chromedriver (and with it the browser) however the test ends.
struct Driver {
    child: Child,
    base: String,
    session: Option<String>,
    agent: ureq::Agent,
    _profile: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            let _ = self
                .agent
                .delete(format!("{}/session/{id}", self.base))
                .call();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(chromedriver: &Path, chromium: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(60)))
                .build(),
        );
        let profile = std::env::temp_dir().join(format!(
            "alliancepay-chromium-{}",
            alliancepay_http::__private::crypto::new_uuid()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let mut driver = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            session: None,
            agent,
            _profile: TempDir(profile.clone()),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while driver
            .agent
            .get(format!("{}/status", driver.base))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_none_or(|v| v["value"]["ready"] != true)
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let created = driver.post(
            "/session",
            &json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--window-size=720,1000",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                },
            }}}),
        );
        driver.session = Some(
            created["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("no session: {created}"))
                .to_owned(),
        );
        driver
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        let mut r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap();
        let text = r.body_mut().read_to_string().unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        value["value"].clone()
    }

    fn get(&self, path: &str) -> Value {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .unwrap();
        let text = r.body_mut().read_to_string().unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["value"].clone()
    }

    fn session(&self) -> String {
        format!("/session/{}", self.session.as_deref().unwrap_or_default())
    }

    fn go(&self, url: &str) {
        self.post(&format!("{}/url", self.session()), &json!({ "url": url }));
    }

    fn url(&self) -> String {
        self.get(&format!("{}/url", self.session()))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn source(&self) -> String {
        self.get(&format!("{}/source", self.session()))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The element matching `css`, waiting up to 10 s for it.
    fn element(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.post(
                &format!("{}/element", self.session()),
                &json!({"using": "css selector", "value": css}),
            );
            if let Some(id) = found
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
            {
                return id.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} in {}",
                self.source()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Replaces the field's value with `text`, typed key by key.
    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.post(
            &format!("{}/element/{id}/clear", self.session()),
            &json!({}),
        );
        self.post(
            &format!("{}/element/{id}/value", self.session()),
            &json!({ "text": text }),
        );
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.post(
            &format!("{}/element/{id}/click", self.session()),
            &json!({}),
        );
    }

    fn screenshot(&self, dir: &Path, name: &str) {
        let data = self.get(&format!("{}/screenshot", self.session()));
        let png = base64_standard(data.as_str().unwrap_or_default());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }
}

/// Standard base64 (WebDriver screenshots), padding and whitespace ignored.
fn base64_standard(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for six in text.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(six);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    out
}

/// The merchant's shop: answers every GET with a page naming the path, and records the paths.
fn shop() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let _ = reader.read_line(&mut line);
            // The rest of the head.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = line.split(' ').nth(1).unwrap_or("").to_owned();
            record.lock().unwrap().push(path.clone());
            let page =
                format!("<!doctype html><title>Shop</title><h1 id=\"shop\">Shop: {path}</h1>");
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    (base, seen)
}

/// The URL of the shop page the browser lands on, waiting up to 10 s.
fn landed(driver: &Driver, shop: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = driver.url();
        if url.starts_with(shop) {
            return url;
        }
        assert!(
            Instant::now() < deadline,
            "still on {url}, not the shop: {}",
            driver.source()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn hpp_checkout_in_headless_chromium() {
    let chromedriver = find("CHROMEDRIVER", &["chromedriver"]);
    let chromium = find(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let (Some(chromedriver), Some(chromium)) = (chromedriver, chromium) else {
        alliancepay_tests::peers::missing(
            "hpp_checkout_in_headless_chromium: chromium or chromedriver not found",
            "apt-get install chromium chromium-driver",
        );
        return;
    };
    let shots = std::env::var_os("ALLIANCEPAY_SCREENSHOTS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/hpp-screenshots"),
        PathBuf::from,
    );
    let key = PrivateJwk::generate(&mut rand_core::UnwrapErr(getrandom::SysRng)).unwrap();
    let sim = Simulator::start(SimulatorConfig {
        merchants: vec![MerchantRegistration {
            service_code: "service-1".into(),
            merchant_id: MERCHANT.into(),
            public_key: *key.public_jwk(),
        }],
        ..SimulatorConfig::default()
    })
    .unwrap();
    let client = Client::new(ClientConfig::new(&sim.base_url(), "service-1"), key.clone()).unwrap();
    let sink = CallbackSink::start().unwrap();
    let (shop, visits) = shop();
    let driver = Driver::start(&chromedriver, &chromium);

    // (card, expected order status, where the browser lands, the status page type)
    let cases = [
        (
            "5375 9300 0000 0145",
            "SUCCESS",
            "/ok",
            StatusPageType::StatusRedirectMerchantPage,
        ),
        (
            "4000000000000002",
            "FAIL",
            "/fail",
            StatusPageType::StatusRedirectMerchantPage,
        ),
        (
            "5200000000003258",
            "SUCCESS",
            "/ok",
            StatusPageType::StatusRedirectMerchantPage,
        ),
        (
            "4111111111111111",
            "SUCCESS",
            "/ok",
            StatusPageType::StatusTimerPage,
        ),
    ];
    for (i, (card, status, landing, page_type)) in cases.into_iter().enumerate() {
        let mut order = CreateOrder::builder()
            .merchant_id(MERCHANT)
            .amount(Kopecks::new(12_345))
            .customer(format!("customer-{i}"))
            .success_url(format!("{shop}/ok"))
            .fail_url(format!("{shop}/fail"))
            .build()
            .unwrap();
        order.status_page_type = page_type;
        order.notification_url = Some(sink.url().to_owned());
        order.purpose = Some("Order 48213 <test & check>".into());
        let created = client.create_order(&order).into_result().unwrap();
        driver.go(created.redirect_url.as_deref().expect("a redirectUrl"));
        let page = driver.source();
        assert!(page.contains("123.45 UAH"), "{page}");
        assert!(
            page.contains("&lt;test &amp; check&gt;"),
            "purpose not escaped: {page}"
        );
        assert!(
            !page.contains("<script"),
            "the page must work without JavaScript"
        );
        if i == 0 {
            // A wrong number first: the form comes back with an alert naming the field.
            driver.type_into("#pan", "4111 1111 1111 1112");
            driver.type_into("#expiry", "12/39");
            driver.type_into("#cvv", "123");
            driver.click("#pay");
            driver.element("[role=alert] a[href='#pan']");
            driver.element("#pan[aria-invalid=true]");
            driver.screenshot(&shots, "hpp-invalid-card.png");
            let id = driver.element("#pan");
            driver.post(
                &format!("{}/element/{id}/clear", driver.session()),
                &json!({}),
            );
        }
        driver.type_into("#pan", card);
        driver.type_into("#expiry", "12/39");
        driver.type_into("#cvv", "123");
        if i == 1 {
            driver.screenshot(&shots, "hpp-checkout.png");
        }
        driver.click("#pay");
        if card.starts_with("5200") {
            driver.element("#otp");
            driver.screenshot(&shots, "hpp-3ds-challenge.png");
            driver.type_into("#otp", "1234");
            driver.click("#confirm");
        }
        if page_type == StatusPageType::StatusTimerPage {
            // The bank's status page, which returns after a minute; the link goes at once.
            driver.element("#status");
            let page = driver.source();
            // The refresh goes back to this order's merchant URL for its outcome.
            assert!(
                page.contains(&format!(
                    "http-equiv=\"refresh\" content=\"60;url={shop}{landing}\""
                )),
                "{page}"
            );
            driver.screenshot(&shots, "hpp-status-timer.png");
            driver.click("#back");
        }
        let url = landed(&driver, &shop);
        assert_eq!(url, format!("{shop}{landing}"), "card {card}");
        // The shop saw the browser arrive (browsers also ask for /favicon.ico).
        let last_page = visits
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|p| *p != "/favicon.ico")
            .cloned();
        assert_eq!(last_page.as_deref(), Some(landing));
        // The callback: this order, this outcome, the card's mask and system.
        let callback: Value = serde_json::from_slice(
            &sink
                .next(Duration::from_secs(10))
                .expect("no callback arrived"),
        )
        .unwrap();
        assert_eq!(callback["hppOrderId"], created.hpp_order_id.as_str());
        assert_eq!(callback["orderStatus"], status, "card {card}");
        let digits: String = card.chars().filter(char::is_ascii_digit).collect();
        let operation = &callback["operations"];
        assert_eq!(
            operation["cardNumberMask"],
            format!("{}••••••{}", &digits[..6], &digits[digits.len() - 4..])
        );
        assert_eq!(
            operation["paymentSystem"],
            if digits.starts_with('4') {
                "Visa"
            } else {
                "MasterCard"
            }
        );
        if card.starts_with("5200") {
            assert_eq!(operation["threeDSMode"], "CHALLENGE");
            assert_eq!(operation["statusThreeDs"], "Y");
        }
        // And the order as the merchant reads it back.
        let read = client.order_data(&created.hpp_order_id).unwrap();
        assert_eq!(
            serde_json::to_value(&read.order_status).unwrap(),
            json!(status),
            "card {card}"
        );
        println!("hpp: card {card} -> {status}, landed on {landing}");
    }
    // A wrong 3-D Secure code declines.
    let mut order = CreateOrder::builder()
        .merchant_id(MERCHANT)
        .amount(Kopecks::new(500))
        .customer("c-3ds")
        .success_url(format!("{shop}/ok"))
        .fail_url(format!("{shop}/fail"))
        .build()
        .unwrap();
    order.status_page_type = StatusPageType::StatusRedirectMerchantPage;
    order.notification_url = Some(sink.url().to_owned());
    let created = client.create_order(&order).into_result().unwrap();
    driver.go(created.redirect_url.as_deref().expect("a redirectUrl"));
    driver.type_into("#pan", "5200000000003258");
    driver.type_into("#expiry", "12/39");
    driver.type_into("#cvv", "123");
    driver.click("#pay");
    driver.type_into("#otp", "0000");
    driver.click("#confirm");
    let url = landed(&driver, &shop);
    assert_eq!(url, format!("{shop}/fail"));
    // The callback and the order read back say declined, authentication failed.
    let callback: Value = serde_json::from_slice(
        &sink
            .next(Duration::from_secs(10))
            .expect("no callback for the wrong code"),
    )
    .unwrap();
    assert_eq!(callback["hppOrderId"], created.hpp_order_id.as_str());
    assert_eq!(callback["orderStatus"], "FAIL");
    assert_eq!(callback["operations"]["threeDSMode"], "CHALLENGE");
    assert_eq!(callback["operations"]["statusThreeDs"], "N");
    let read = client.order_data(&created.hpp_order_id).unwrap();
    assert_eq!(
        serde_json::to_value(&read.order_status).unwrap(),
        json!("FAIL")
    );
}
