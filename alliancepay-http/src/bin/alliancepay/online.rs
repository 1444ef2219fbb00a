//! Commands that talk to the bank (or the simulator).

use alliancepay_http::model::{CreateOrder, Refund};
use alliancepay_http::{Client, ClientConfig, Order, Session, store};
use clap::Args;
use serde_json::{Value, json};

use crate::BankArgs;
use crate::output::Output;

pub fn client(bank: &BankArgs) -> Result<Client, String> {
    let key = store::load_private_key(&bank.key).map_err(|e| e.to_string())?;
    let mut config = ClientConfig::new(&bank.base_url, &bank.service_code);
    config.api_version.clone_from(&bank.api_version);
    config.session_file.clone_from(&bank.session_file);
    Ok(Client::new(config, key))
}

/// The session as text and JSON; tokens only when asked for.
pub fn session_summary(session: &Session, show_secrets: bool) -> (String, Value) {
    let mut value = json!({
        "deviceId": session.device_id,
        "authorizedAt": session.authorized_at.to_rfc3339(),
        "expiresAt": session.expires_at.to_rfc3339(),
        "serverPublicThumbprint": session.server_public.thumbprint().to_base64url().as_str(),
    });
    let mut text = format!(
        "device id:      {}\nauthorized at:  {}\nexpires at:     {}\nserver key:     {} (thumbprint)",
        session.device_id,
        session.authorized_at,
        session.expires_at,
        session.server_public.thumbprint().to_base64url()
    );
    if show_secrets {
        value["refreshToken"] = json!(session.refresh_token.expose());
        value["authToken"] = json!(session.auth_token.expose());
        text.push_str(&format!(
            "\nrefresh token:  {}\nauth token:     {}",
            session.refresh_token.expose(),
            session.auth_token.expose()
        ));
    } else {
        text.push_str("\n(tokens hidden; --show-secrets prints them)");
    }
    (text, value)
}

pub fn authorize(out: &Output, bank: &BankArgs, show_secrets: bool) -> Result<(), String> {
    let session = client(bank)?.authorize().map_err(|e| e.to_string())?;
    let (text, value) = session_summary(&session, show_secrets);
    out.result(&text, &value);
    Ok(())
}

/// One line per order for people.
pub fn order_text(order: &Order) -> String {
    let mut text = format!(
        "order {}: {}, {} kopecks",
        order.hpp_order_id,
        String::from(order.order_status.clone()),
        order
            .coin_amount
            .map_or_else(|| "?".into(), |a| a.to_string())
    );
    if let Some(url) = &order.redirect_url {
        text.push_str(&format!("\npayment link: {url}"));
    }
    for op in &order.operations {
        text.push_str(&format!(
            "\n  operation {} {} {} ({} kopecks)",
            op.operation_id.as_deref().unwrap_or("?"),
            op.kind.as_deref().unwrap_or("?"),
            op.status.as_deref().unwrap_or("?"),
            op.coin_amount.map_or_else(|| "?".into(), |a| a.to_string())
        ));
    }
    text
}

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    bank: BankArgs,
    /// The bank's merchant id.
    #[arg(long)]
    merchant_id: String,
    /// Amount in kopecks (integer: 125050 is 1250.50 UAH).
    #[arg(long)]
    amount: u64,
    /// Your id for the customer.
    #[arg(long)]
    customer_id: String,
    /// Where the customer's browser returns after paying.
    #[arg(long)]
    success_url: String,
    /// Where it returns after a failure.
    #[arg(long)]
    fail_url: String,
    /// Where the bank POSTs the callback.
    #[arg(long)]
    notification_url: Option<String>,
    /// Ask for encrypted callbacks.
    #[arg(long)]
    encrypt_callbacks: bool,
    /// Reuse this merchantRequestId (to retry an order whose outcome is unknown); a fresh UUID
    /// otherwise, printed before sending so it is never lost.
    #[arg(long)]
    merchant_request_id: Option<String>,
}

pub fn create_order(out: &Output, args: &CreateArgs) -> Result<(), String> {
    let mut order = CreateOrder::purchase(
        &args.merchant_id,
        args.amount,
        &args.customer_id,
        &args.success_url,
        &args.fail_url,
    );
    if let Some(id) = &args.merchant_request_id {
        order.merchant_request_id.clone_from(id);
    }
    order.notification_url.clone_from(&args.notification_url);
    order.notification_encryption = args.encrypt_callbacks.then_some(true);
    // Written to stderr first, so a crash or a timeout never loses the id to look it up by.
    eprintln!("merchantRequestId {}", order.merchant_request_id);
    let created = client(&args.bank)?
        .create_order(&order)
        .map_err(|e| e.to_string())?;
    out.result(
        &order_text(&created),
        &serde_json::to_value(&created).unwrap_or_default(),
    );
    Ok(())
}

pub fn order_status(out: &Output, bank: &BankArgs, hpp_order_id: &str) -> Result<(), String> {
    let order = client(bank)?
        .order_data(hpp_order_id)
        .map_err(|e| e.to_string())?;
    out.result(
        &order_text(&order),
        &serde_json::to_value(&order).unwrap_or_default(),
    );
    Ok(())
}

#[derive(Args)]
pub struct RefundArgs {
    #[command(flatten)]
    bank: BankArgs,
    /// The bank's merchant id.
    #[arg(long)]
    merchant_id: String,
    /// The purchase operation to refund (operationId, not hppOrderId).
    #[arg(long)]
    operation_id: String,
    /// Amount in kopecks.
    #[arg(long)]
    amount: u64,
    /// Reuse this merchantRequestId (a fresh UUID otherwise).
    #[arg(long)]
    merchant_request_id: Option<String>,
}

pub fn refund(out: &Output, args: &RefundArgs) -> Result<(), String> {
    let mut refund = Refund::new(&args.merchant_id, &args.operation_id, args.amount);
    if let Some(id) = &args.merchant_request_id {
        refund.merchant_request_id.clone_from(id);
    }
    eprintln!("merchantRequestId {}", refund.merchant_request_id);
    let op = client(&args.bank)?
        .refund(&refund)
        .map_err(|e| e.to_string())?;
    let text = format!(
        "refund {} {} ({} kopecks)",
        op.operation_id.as_deref().unwrap_or("?"),
        op.status.as_deref().unwrap_or("?"),
        op.coin_amount.map_or_else(|| "?".into(), |a| a.to_string())
    );
    out.result(&text, &serde_json::to_value(&op).unwrap_or_default());
    Ok(())
}
