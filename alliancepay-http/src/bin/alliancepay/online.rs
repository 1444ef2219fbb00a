//! Commands that talk to the bank (or the simulator).

use alliancepay_http::PrivateJwk;
use alliancepay_http::sessions::StoreSpec;
use alliancepay_http::{
    Client, ClientConfig, HppOrderId, Kopecks, MerchantRequestId, Order, Outcome, Session, store,
};
use alliancepay_http::{CreateOrder, Operation, Refund};
use clap::Args;
use serde_json::{Value, json};

use crate::output::{Output, note};
use crate::{BankArgs, Failure};

pub fn config(bank: &BankArgs) -> Result<ClientConfig, String> {
    let config =
        ClientConfig::new(&bank.base_url, &bank.service_code).with_api_version(&bank.api_version);
    // Two stores named: which one the user meant cannot be guessed, and using either would
    // silently split the fleet.
    if bank.session_file.is_some() && bank.session_store.is_some() {
        return Err(
            "--session-file and --session-store (or ALLIANCEPAY_SESSION_FILE and ALLIANCEPAY_SESSION_STORE) both name a session store; give only one (--session-file PATH is --session-store file:PATH)".into(),
        );
    }
    let store = match (&bank.session_file, &bank.session_store) {
        (Some(path), _) => StoreSpec::File(path.clone()),
        (None, Some(spec)) => {
            StoreSpec::parse(spec).map_err(|e| format!("--session-store: {e}"))?
        }
        (None, None) => StoreSpec::Memory,
    };
    let config = config
        .with_session_store(store)
        .with_store_prefix(&bank.session_store_prefix)
        .with_plain_http_allowed(bank.allow_plain_http)
        .with_timeout(std::time::Duration::from_millis(bank.timeout_ms));
    config.check().map_err(|e| e.to_string())?;
    Ok(config)
}

/// Whether two paths name one existing file (the session path given as the key's, say).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The merchant key, once the configured session file is known not to be the key file.
pub fn merchant_key(bank: &BankArgs, config: &ClientConfig) -> Result<PrivateJwk, String> {
    if let StoreSpec::File(path) = config.session_store()
        && same_file(path, &bank.key)
    {
        return Err(format!(
            "the session file {} is the merchant key file; refusing to start (nothing was written): give the session its own path",
            path.display()
        ));
    }
    store::load_private_key(&bank.key).map_err(|e| e.to_string())
}

pub fn client_with(bank: &BankArgs, config: ClientConfig) -> Result<Client, String> {
    let key = merchant_key(bank, &config)?;
    Client::new(config, key).map_err(|e| e.to_string())
}

pub fn client(bank: &BankArgs) -> Result<Client, String> {
    client_with(bank, config(bank)?)
}

/// The merchantRequestId to send: the one given, or a fresh UUID. Printed to stderr before
/// anything is sent, so that a crash, a timeout or a lost answer never loses it.
fn request_id(given: Option<&String>) -> Result<MerchantRequestId, Failure> {
    given.map_or_else(
        || Ok(MerchantRequestId::generate()),
        |id| MerchantRequestId::new(id.as_str()).map_err(|e| Failure::Failed(e.to_string())),
    )
}

/// Prints a write's record, or turns its refusal or unknown outcome into the exit status.
/// `resolve` says how to resolve an unknown outcome and `existing` what to do about an earlier
/// request with the same id; both are built only when needed (reading the command line must
/// not be able to fail after a write went out).
fn report<T>(
    out: &Output,
    outcome: Outcome<T>,
    show: impl FnOnce(&T) -> (String, Value),
    resolve: impl FnOnce() -> String,
    existing: impl FnOnce() -> String,
) -> Result<(), Failure> {
    match outcome {
        Outcome::Done(record) => {
            let (text, value) = show(&record);
            out.result(&text, &value);
            match out.failure() {
                // The bank did it: say so where it can still be read, and never with the
                // status of a refusal, after which a script would retry with a new id.
                Some(e) => Err(Failure::DoneUnwritten(format!(
                    "{e}; the bank DID apply the request:\n{text}"
                ))),
                None => Ok(()),
            }
        }
        Outcome::Refused(why) => Err(Failure::Failed(why.to_string())),
        Outcome::Unknown(u) if u.already_exists() => Err(Failure::AlreadyExists(format!(
            "{}\nalready exists: {}",
            u.cause,
            existing()
        ))),
        Outcome::Unknown(u) => Err(Failure::Unknown(format!(
            "{}\noutcome unknown: the bank may have applied it. To resolve, run: {}",
            u.cause,
            resolve()
        ))),
    }
}

fn operation_text(op: &Operation) -> (String, Value) {
    (
        format!(
            "{} {} {} ({} kopecks), merchantRequestId {}",
            op.kind.as_deref().unwrap_or("operation").to_lowercase(),
            op.operation_id.as_deref().unwrap_or("?"),
            op.status.as_deref().unwrap_or("?"),
            op.coin_amount
                .map_or_else(|| "?".into(), |a| a.get().to_string()),
            op.merchant_request_id.as_deref().unwrap_or("?"),
        ),
        serde_json::to_value(op).unwrap_or_default(),
    )
}

/// The command line that re-runs this one with `id`, each argument quoted for a POSIX shell.
/// The service code is left out (it is a credential: give it through
/// `ALLIANCEPAY_SERVICE_CODE`). Arguments that are not UTF-8 (a path, say) are shown with
/// U+FFFD in place of the bytes they cannot show; this never fails.
fn rerun_with(id: &str) -> String {
    rerun_line(
        std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned()),
        id,
    )
}

fn rerun_line(args: impl Iterator<Item = String>, id: &str) -> String {
    let mut kept = vec!["alliancepay".to_owned()];
    let mut skip_value = false;
    for arg in args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        match arg.as_str() {
            "--merchant-request-id" | "--service-code" => skip_value = true,
            a if a.starts_with("--merchant-request-id=") || a.starts_with("--service-code=") => {}
            _ => kept.push(shell_quote(&arg)),
        }
    }
    kept.extend(["--merchant-request-id".to_owned(), shell_quote(id)]);
    kept.join(" ")
}

/// `text` as one word of a POSIX shell: as is when it has only safe characters, otherwise in
/// single quotes (a quote inside becoming `'\''`).
fn shell_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
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
            .map_or_else(|| "?".into(), |a| a.get().to_string())
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
            op.coin_amount
                .map_or_else(|| "?".into(), |a| a.get().to_string())
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
    /// Reuse this merchantRequestId (to resolve an order whose outcome is unknown: the bank
    /// refuses a second order with the same id); a fresh UUID otherwise, printed to stderr
    /// before sending so it is never lost.
    #[arg(long)]
    merchant_request_id: Option<String>,
}

pub fn create_order(out: &Output, args: &CreateArgs) -> Result<(), Failure> {
    let mut builder = CreateOrder::builder()
        .merchant_request_id(request_id(args.merchant_request_id.as_ref())?)
        .merchant_id(&args.merchant_id)
        .amount(Kopecks::new(args.amount))
        .customer(args.customer_id.as_str())
        .success_url(&args.success_url)
        .fail_url(&args.fail_url);
    if let Some(url) = &args.notification_url {
        builder = builder.notification_url(url);
    }
    if args.encrypt_callbacks {
        builder = builder.notification_encryption(true);
    }
    let order = builder
        .build()
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let client = client(&args.bank)?;
    note(&format!("merchantRequestId {}", order.merchant_request_id));
    let outcome = client.create_order(&order);
    let id = &order.merchant_request_id;
    report(
        out,
        outcome,
        |o| (order_text(o), serde_json::to_value(o).unwrap_or_default()),
        || {
            format!(
                "{}\n(it creates the order, or exits {EXIT} because the first one exists)",
                rerun_with(id),
                EXIT = crate::EXIT_ALREADY_EXISTS
            )
        },
        || order_exists(id),
    )
}

/// What to do about an order whose `merchantRequestId` the bank already has.
fn order_exists(id: &str) -> String {
    format!(
        "the bank has received an earlier order with merchantRequestId {id}. It cannot be fetched by this id while unpaid: let it expire and create a new order with a new id. Once paid, `alliancepay order find --merchant-request-id {id}` shows the payment."
    )
}

pub fn order_status(out: &Output, bank: &BankArgs, hpp_order_id: &str) -> Result<(), String> {
    let hpp_order_id = HppOrderId::new(hpp_order_id).map_err(|e| e.to_string())?;
    let order = client(bank)?
        .order_data(&hpp_order_id)
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
    /// Reuse this merchantRequestId, to resolve a refund whose outcome is unknown: the bank
    /// identifies the refund by it, so a re-run is the same refund (our simulator answers with
    /// the refund it already made; the bank's documents do not say, and an answer that the id
    /// exists exits 4). A fresh UUID otherwise, printed to stderr before sending.
    #[arg(long)]
    merchant_request_id: Option<String>,
}

pub fn refund(out: &Output, args: &RefundArgs) -> Result<(), Failure> {
    let refund = Refund::builder()
        .merchant_request_id(request_id(args.merchant_request_id.as_ref())?)
        .merchant_id(&args.merchant_id)
        .operation_id(&args.operation_id)
        .amount(Kopecks::new(args.amount))
        .build()
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let client = client(&args.bank)?;
    note(&format!("merchantRequestId {}", refund.merchant_request_id));
    let outcome = client.refund(&refund);
    let id = &refund.merchant_request_id;
    report(
        out,
        outcome,
        operation_text,
        || {
            format!(
                "alliancepay order find --merchant-request-id {} (with the same bank options)\nif the bank has no such operation yet, re-run: {}",
                shell_quote(id),
                rerun_with(id)
            )
        },
        || {
            format!(
                "the bank has received an earlier request with merchantRequestId {id}; look it up: alliancepay order find --merchant-request-id {} (with the same bank options)",
                shell_quote(id)
            )
        },
    )
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("lookup").required(true).args(["merchant_request_id", "operation_id"]))]
pub struct FindArgs {
    #[command(flatten)]
    bank: BankArgs,
    /// Our id of the payment or refund.
    #[arg(long)]
    merchant_request_id: Option<String>,
    /// The bank's operation id.
    #[arg(long)]
    operation_id: Option<String>,
}

pub fn find(out: &Output, args: &FindArgs) -> Result<(), String> {
    let client = client(&args.bank)?;
    let found = match (&args.merchant_request_id, &args.operation_id) {
        (Some(id), _) => client.operation_by_merchant_request_id(
            &MerchantRequestId::new(id.as_str()).map_err(|e| e.to_string())?,
        ),
        (None, Some(id)) => client.operation_by_id(id),
        (None, None) => return Err("give --merchant-request-id or --operation-id".into()),
    };
    match found {
        Ok(op) => {
            let (text, value) = operation_text(&op);
            out.result(&text, &value);
            Ok(())
        }
        Err(e)
            if e.bank_error().is_some_and(|b| {
                matches!(
                    b.msg_code.as_str(),
                    "b_operation_not_found" | "payment_operation_not_found"
                )
            }) =>
        {
            // Not proof that nothing was applied: a write still in flight, or an order nobody
            // has paid, is not found either.
            Err(format!(
                "{e}: not found yet; re-run the same command with the same --merchant-request-id"
            ))
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rerun_lines_are_shell_quoted_without_the_service_code() {
        let args = [
            "order",
            "refund",
            "--service-code",
            "svc-secret",
            "--session-file",
            "/tmp/it's here/s\u{fffd}.json",
            "--merchant-request-id=old",
            "--amount",
            "300",
        ]
        .map(str::to_owned);
        let line = rerun_line(args.into_iter(), "r 1");
        assert_eq!(
            line,
            "alliancepay order refund --session-file '/tmp/it'\\''s here/s\u{fffd}.json' --amount 300 --merchant-request-id 'r 1'"
        );
        assert!(!line.contains("svc-secret") && !line.contains("old"));
        assert_eq!(shell_quote(""), "''");
    }
}
