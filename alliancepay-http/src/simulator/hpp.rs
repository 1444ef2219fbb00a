//! The hosted payment page (HPP) a customer sees at an order's `redirectUrl`: plain HTML
//! forms, no JavaScript, labelled fields and error messages tied to them, so it works in any
//! browser and with a screen reader.
//!
//! ```text
//!  GET /__sim/hpp/{id} ──► card form ──POST …/pay──► approve / decline ──► merchant URL
//!                                          │
//!                                          └─ challenge card ──► 3-D Secure page
//!                                                 ──POST …/3ds──► approve (right code) / decline
//! ```
//!
//! The outcome comes from the card number ([`TEST_CARDS`]); any other card number that passes
//! the Luhn check follows the bank's amount table (5 and 6 kopecks fail). After the payment
//! the callback goes out and the browser is sent per the order's `statusPageType`
//! (bank-api.md §3.2): `STATUS_REDIRECT_MERCHANT_PAGE` redirects at once (303) to `successUrl`
//! or `failUrl`; `STATUS_TIMER_PAGE` shows the result and returns after 60 s (a meta refresh,
//! and a link); `STATUS_PAGE` shows the result with a link back.

use std::fmt::Write as _;

use super::bank::{CardUsed, OrderView};
use super::http::{Request, Response};
use super::{CardBehaviour, PaymentOutcome, Shared};

/// The test cards the page knows: number, payment system, behaviour. Any expiry date in the
/// future and any three-digit CVV go with them.
pub const TEST_CARDS: [(&str, &str, CardBehaviour); 4] = [
    ("5375930000000145", "MasterCard", CardBehaviour::Approve),
    ("4111111111111111", "Visa", CardBehaviour::Approve),
    ("4000000000000002", "Visa", CardBehaviour::Decline),
    ("5200000000003258", "MasterCard", CardBehaviour::Challenge),
];

/// The one-time code that passes the simulated 3-D Secure challenge.
pub const CHALLENGE_CODE: &str = "1234";

/// Seconds the timer status page waits before returning to the merchant (bank-api.md §3.2).
const TIMER_SECS: u32 = 60;

/// Answers `GET`/`POST` under `/__sim/hpp/`.
pub(crate) fn handle(shared: &Shared, request: &Request) -> Response {
    let rest = request.path.trim_start_matches("/__sim/hpp/");
    let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(order) = shared.bank.order_view(id) else {
        return page(
            404,
            "Order not found",
            "<p>There is no such order at this bank.</p>",
        );
    };
    match (request.method.as_str(), action) {
        ("GET", "") => checkout(id, &order, &Form::default()),
        ("GET", "status") => status_page(&order, false),
        ("POST", "pay") => pay(shared, id, &order, &parse_form(&request.body)),
        ("POST", "3ds") => challenge_answer(shared, id, &order, &parse_form(&request.body)),
        _ => page(
            405,
            "Not here",
            "<p>This page does not take that request.</p>",
        ),
    }
}

/// The card form's values and what is wrong with them, to show the form again.
#[derive(Default)]
struct Form {
    pan: String,
    expiry: String,
    holder: String,
    errors: Vec<(&'static str, &'static str)>,
}

impl Form {
    fn error(&self, field: &str) -> Option<&'static str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, e)| *e)
    }
}

fn checkout(id: &str, order: &OrderView, form: &Form) -> Response {
    if order.status != "PENDING" || order.expired {
        return status_page(order, false);
    }
    let mut body = String::new();
    let _ = write!(
        body,
        "<p class=\"amount\">Amount: <strong>{}</strong></p>\n<dl>\n<dt>Merchant</dt><dd>{}</dd>\n<dt>Order</dt><dd>{}</dd>\n",
        uah(order.coin_amount),
        escape(&order.merchant_id),
        escape(id)
    );
    if let Some(purpose) = &order.purpose {
        let _ = writeln!(body, "<dt>Purpose</dt><dd>{}</dd>", escape(purpose));
    }
    body.push_str("</dl>\n");
    if !form.errors.is_empty() {
        body.push_str(
            "<div role=\"alert\" id=\"errors\"><p>Please correct the card details:</p><ul>\n",
        );
        for (field, message) in &form.errors {
            let _ = writeln!(body, "<li><a href=\"#{field}\">{message}</a></li>");
        }
        body.push_str("</ul></div>\n");
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/__sim/hpp/{id}/pay\" novalidate>\n<fieldset>\n<legend>Card</legend>\n{}{}{}{}</fieldset>\n<button type=\"submit\" id=\"pay\">Pay {}</button>\n</form>\n",
        field(
            "pan",
            "Card number",
            "cc-number",
            "numeric",
            &form.pan,
            form.error("pan")
        ),
        field(
            "expiry",
            "Expiry date (MM/YY)",
            "cc-exp",
            "numeric",
            &form.expiry,
            form.error("expiry")
        ),
        field(
            "cvv",
            "Security code (CVV)",
            "cc-csc",
            "numeric",
            "",
            form.error("cvv")
        ),
        field(
            "holder",
            "Name on card (optional)",
            "cc-name",
            "text",
            &form.holder,
            None
        ),
        uah(order.coin_amount),
        id = escape(id),
    );
    body.push_str("<section aria-labelledby=\"cards\">\n<h2 id=\"cards\">Test cards</h2>\n<table>\n<thead><tr><th scope=\"col\">Number</th><th scope=\"col\">System</th><th scope=\"col\">Outcome</th></tr></thead>\n<tbody>\n");
    for (number, system, behaviour) in TEST_CARDS {
        let outcome = match behaviour {
            CardBehaviour::Approve => "approved",
            CardBehaviour::Decline => "declined",
            CardBehaviour::Challenge => "3-D Secure challenge",
        };
        let _ = writeln!(
            body,
            "<tr><td>{number}</td><td>{system}</td><td>{outcome}</td></tr>"
        );
    }
    body.push_str("</tbody>\n</table>\n<p>Any future expiry date and any three-digit code will do.</p>\n</section>\n");
    page(200, "Pay with card", &body)
}

fn field(
    name: &str,
    label: &str,
    autocomplete: &str,
    inputmode: &str,
    value: &str,
    error: Option<&str>,
) -> String {
    let described = error.map_or_else(String::new, |e| {
        format!(
            " aria-invalid=\"true\" aria-describedby=\"{name}-error\"><span class=\"error\" id=\"{name}-error\">{e}</span"
        )
    });
    format!(
        "<p><label for=\"{name}\">{label}</label>\n<input id=\"{name}\" name=\"{name}\" autocomplete=\"{autocomplete}\" inputmode=\"{inputmode}\" value=\"{}\"{described}></p>\n",
        escape(value)
    )
}

fn pay(shared: &Shared, id: &str, order: &OrderView, fields: &[(String, String)]) -> Response {
    if order.status != "PENDING" || order.expired {
        return status_page(order, false);
    }
    let get = |name: &str| form_value(fields, name);
    let pan: String = get("pan").chars().filter(|c| !c.is_whitespace()).collect();
    let expiry = get("expiry").trim().to_owned();
    let cvv = get("cvv").trim();
    let mut form = Form {
        // The number is never sent back: it would sit in the page, the browser's cache and
        // the request log. The customer types it again.
        pan: String::new(),
        expiry: expiry.clone(),
        holder: get("holder").to_owned(),
        errors: Vec::new(),
    };
    if !(12..=19).contains(&pan.len()) || !pan.bytes().all(|b| b.is_ascii_digit()) || !luhn(&pan) {
        form.errors.push(("pan", "The card number is not valid."));
    }
    if !expiry_is_future(&expiry, shared.bank.now()) {
        form.errors.push((
            "expiry",
            "The expiry date must be a future month, as MM/YY.",
        ));
    }
    if cvv.len() != 3 || !cvv.bytes().all(|b| b.is_ascii_digit()) {
        form.errors
            .push(("cvv", "The security code is three digits."));
    }
    if !form.errors.is_empty() {
        let mut r = checkout(id, order, &form);
        r.status = 422;
        return r;
    }
    let (system, behaviour) = TEST_CARDS.iter().find(|(n, _, _)| *n == pan).map_or_else(
        || {
            (
                if pan.starts_with('4') {
                    "Visa"
                } else {
                    "MasterCard"
                },
                None,
            )
        },
        |(_, s, b)| (*s, Some(*b)),
    );
    let card = CardUsed {
        mask: mask(&pan),
        payment_system: system,
        challenged: false,
    };
    let outcome = match behaviour {
        Some(CardBehaviour::Approve) => Some(PaymentOutcome::Success),
        Some(CardBehaviour::Decline) => Some(PaymentOutcome::Fail),
        Some(CardBehaviour::Challenge) => return challenge_page(shared, id, card),
        None => None,
    };
    finish(shared, id, outcome, card)
}

fn challenge_page(shared: &Shared, id: &str, card: CardUsed) -> Response {
    let body = format!(
        "<p>Your bank asks you to confirm this payment with card {}.</p>\n<p>The simulator's code is <strong>{CHALLENGE_CODE}</strong>; any other code declines the payment.</p>\n<form method=\"post\" action=\"/__sim/hpp/{id}/3ds\">\n<p><label for=\"otp\">One-time code</label>\n<input id=\"otp\" name=\"otp\" autocomplete=\"one-time-code\" inputmode=\"numeric\"></p>\n<button type=\"submit\" id=\"confirm\">Confirm</button>\n</form>\n",
        escape(&card.mask),
        id = escape(id),
    );
    // The card stays on the server: the answer cannot skip the card form, nor choose what
    // the record shows.
    if !shared.bank.set_challenge(id, card) {
        return page(404, "Order not found", "<p>The order is gone.</p>");
    }
    page(200, "3-D Secure", &body)
}

fn challenge_answer(
    shared: &Shared,
    id: &str,
    order: &OrderView,
    fields: &[(String, String)],
) -> Response {
    if order.status != "PENDING" || order.expired {
        return status_page(order, false);
    }
    let Some(mut card) = shared.bank.take_challenge(id) else {
        return page(
            409,
            "No challenge pending",
            &format!(
                "<p>This payment has no 3-D Secure challenge to answer.</p>\n<p><a href=\"/__sim/hpp/{}\">Enter the card</a></p>",
                escape(id)
            ),
        );
    };
    card.challenged = true;
    let outcome = if form_value(fields, "otp").trim() == CHALLENGE_CODE {
        PaymentOutcome::Success
    } else {
        PaymentOutcome::Fail
    };
    finish(shared, id, Some(outcome), card)
}

/// Pays (which sends the callback) and sends the browser on per `statusPageType`.
fn finish(shared: &Shared, id: &str, outcome: Option<PaymentOutcome>, card: CardUsed) -> Response {
    if let Err(e) = shared.pay(id, outcome, Some(card)) {
        return page(
            409,
            "Payment not possible",
            &format!("<p>{}</p>", escape(&e.to_string())),
        );
    }
    let Some(order) = shared.bank.order_view(id) else {
        return page(404, "Order not found", "<p>The order is gone.</p>");
    };
    // A URL that is not plain http(s) (validation allows any text up to 1,000 characters, as
    // the docs do) gets the status page, which shows it as text, instead of a redirect.
    if order.status_page_type == "STATUS_REDIRECT_MERCHANT_PAGE" && is_web_url(merchant_url(&order))
    {
        let mut r = Response::empty(303);
        r.headers
            .push(("Location".into(), merchant_url(&order).to_owned()));
        r.headers.extend(page_headers());
        return r;
    }
    status_page(&order, order.status_page_type == "STATUS_TIMER_PAGE")
}

fn merchant_url(order: &OrderView) -> &str {
    if order.status == "SUCCESS" {
        &order.success_url
    } else {
        &order.fail_url
    }
}

fn status_page(order: &OrderView, timer: bool) -> Response {
    let (title, text) = match (order.status.as_str(), order.expired) {
        ("PENDING", true) => (
            "Order expired",
            "This order has expired and can no longer be paid.",
        ),
        ("PENDING", false) => ("Awaiting payment", "This order has not been paid yet."),
        ("SUCCESS", _) => ("Payment successful", "The payment went through."),
        ("FAIL", _) => ("Payment declined", "The payment was declined."),
        _ => ("Order status", "This order is closed."),
    };
    let target = merchant_url(order);
    let url = escape(target);
    // Only an http(s) URL becomes a link or a refresh target: a `javascript:` or `data:` one
    // would run on the simulator's origin, whose control routes need no credentials.
    let linkable = is_web_url(target);
    let mut body = format!(
        "<p id=\"status\" data-status=\"{}\">{text}</p>\n<p>Amount: {}</p>\n",
        escape(&order.status),
        uah(order.coin_amount)
    );
    if order.status != "PENDING" {
        if linkable {
            let _ = writeln!(
                body,
                "<p><a id=\"back\" href=\"{url}\">Return to the shop</a></p>"
            );
        } else {
            let _ = writeln!(
                body,
                "<p id=\"back-text\">The shop's return address is not a web address: <code>{url}</code></p>"
            );
        }
    }
    let refresh = (timer && linkable && order.status != "PENDING")
        .then(|| format!("<meta http-equiv=\"refresh\" content=\"{TIMER_SECS};url={url}\">\n"));
    if refresh.is_some() {
        let _ = writeln!(
            body,
            "<p>You will be returned to the shop in {TIMER_SECS} seconds.</p>"
        );
    }
    let status = if order.expired { 410 } else { 200 };
    page_with_head(status, title, refresh.as_deref().unwrap_or(""), &body)
}

fn page(status: u16, title: &str, body: &str) -> Response {
    page_with_head(status, title, "", body)
}

/// A whole page; `title` and `body` are already HTML, `head` extra head elements.
fn page_with_head(status: u16, title: &str, head: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n{head}<title>{title} · AlliancePay simulator</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header><p>AlliancePay <em>simulator</em>: a test bank, no real money moves.</p></header>\n<main>\n<h1>{title}</h1>\n{body}</main>\n</body>\n</html>\n"
    );
    let mut r = Response::with_body(status, "text/html; charset=utf-8", html.into_bytes());
    r.headers.extend(page_headers());
    r
}

/// Headers of every HPP answer. The pages need no script, no frame and no resource but their
/// inline style; forms post to the simulator, whose answer may redirect to the merchant's
/// http(s) URL (Chromium checks `form-action` on that redirect too). Card data must not stay
/// in a cache.
fn page_headers() -> [(String, String); 3] {
    [
        (
            "Content-Security-Policy".into(),
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'".into(),
        ),
        ("Cache-Control".into(), "no-store".into()),
        ("X-Content-Type-Options".into(), "nosniff".into()),
    ]
}

/// Whether `url` is an absolute http(s) URL that can be a link, a refresh target or a
/// `Location` value as it is.
fn is_web_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && url.bytes().all(|b| b.is_ascii_graphic())
}

/// Enough style to be legible; contrast ratios above 4.5:1, focus outlines kept.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:1rem auto;padding:0 1rem;color:#1b1b1b;background:#fff}header{border-bottom:2px solid #0b5394;color:#0b5394}label{display:block;font-weight:600}input{font-size:1.1rem;padding:.4rem;width:100%;box-sizing:border-box;border:1px solid #555}button{font-size:1.1rem;padding:.6rem 1.4rem;background:#0b5394;color:#fff;border:0;margin:.5rem 0}.error,[role=alert]{color:#a00000}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2rem .5rem;text-align:left}dt{font-weight:600}.amount{font-size:1.3rem}";

/// `12345` kopecks as `123.45 UAH`.
fn uah(kopecks: u64) -> String {
    format!("{}.{:02} UAH", kopecks / 100, kopecks % 100)
}

/// The bank's mask: the first six and last four digits, bullets between.
fn mask(pan: &str) -> String {
    let len = pan.len();
    let head = pan.get(..6).unwrap_or_default();
    let tail = pan.get(len.saturating_sub(4)..).unwrap_or_default();
    format!("{head}{}{tail}", "•".repeat(len.saturating_sub(10)))
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `MM/YY` (or `MMYY`) no earlier than this month of the bank's clock.
fn expiry_is_future(text: &str, now: crate::time::UtcTime) -> bool {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let (Some(mm), Some(yy)) = (
        digits.get(..2).and_then(|m| m.parse::<u32>().ok()),
        digits.get(2..).and_then(|y| y.parse::<u32>().ok()),
    ) else {
        return false;
    };
    if digits.len() != 4 || !(1..=12).contains(&mm) {
        return false;
    }
    // `to_rfc3339` starts with `YYYY-MM`.
    let today = now.to_rfc3339();
    let (Some(year), Some(month)) = (
        today.get(2..4).and_then(|y| y.parse::<u32>().ok()),
        today.get(5..7).and_then(|m| m.parse::<u32>().ok()),
    ) else {
        return false;
    };
    (yy, mm) >= (year, month)
}

/// The first value of form field `name`, or `""`.
fn form_value<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// `application/x-www-form-urlencoded` pairs (WHATWG URL standard's parser, minus charsets).
pub(crate) fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let name = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default();
            (decode(name), decode(value))
        })
        .collect()
}

fn decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) {
                    // Two hex digits make at most 255.
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Escapes text for HTML element content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_pass_luhn_and_others_do_not() {
        for (number, _, _) in TEST_CARDS {
            assert!(luhn(number), "{number}");
        }
        assert!(!luhn("4111111111111112"));
        assert_eq!(mask("5375930000000145"), "537593••••••0145");
    }

    #[test]
    fn forms_decode_and_text_is_escaped() {
        assert_eq!(
            parse_form(b"pan=4111+1111&expiry=12%2F30&x=%zz"),
            vec![
                ("pan".into(), "4111 1111".into()),
                ("expiry".into(), "12/30".into()),
                ("x".into(), "%zz".into())
            ]
        );
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }

    #[test]
    fn only_http_urls_are_web_urls() {
        assert!(is_web_url("https://shop.example/ok?a=1"));
        assert!(is_web_url("HTTP://shop.example/"));
        for url in [
            "javascript:alert(1)",
            " https://x",
            "JavaScript:fetch('/__sim/pay')",
            "data:text/html,x",
            "https://x/a b",
            "//evil.example/",
            "http:",
        ] {
            assert!(!is_web_url(url), "{url}");
        }
    }

    #[test]
    fn expiry_must_not_be_past() {
        let now = crate::time::UtcTime::from_unix(1_773_131_702); // 2026-03-10
        assert!(expiry_is_future("03/26", now));
        assert!(expiry_is_future("1230", now));
        assert!(!expiry_is_future("02/26", now));
        assert!(!expiry_is_future("13/30", now));
        assert!(!expiry_is_future("12/3", now));
        assert!(!expiry_is_future("", now));
    }
}
