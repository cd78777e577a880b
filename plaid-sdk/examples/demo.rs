//! The main job: the processor-token flow from start to end, one line a step.
//!
//! ```text
//! cargo run -p plaid-sdk --example demo
//! ```
//!
//! With no `PLAID_CLIENT_ID` in the environment it starts the offline emulator
//! (`plaid-emulator`) and runs against that: no credentials, no network. The flow: create a
//! link token for a Link session → create a Sandbox public token → exchange it for an access
//! token → list the accounts → check the balance before a debit → create a processor token →
//! the partner reads the account and routing numbers with it → limit its products (the
//! partner's numbers call is then refused) → point the Item's webhooks at a receiver in this
//! process, fire one, and verify what arrives (emulator only: a real environment cannot reach
//! loopback) → remove the Item → show that the partner's token no longer works.
//!
//! With `PLAID_CLIENT_ID`, `PLAID_SECRET` and `PLAID_ENV` set it calls that environment: the
//! same flow in the Sandbox, or, when `PLAID_ACCESS_TOKEN` and `PLAID_ACCOUNT_ID` (or
//! `--access-token` and `--account-id`) name an existing Item, only the processor token for it
//! (the way to use it in Production). `PLAID_PROCESSOR` or `--processor` picks the partner
//! (default `dwolla`).
//!
//! With `PLAID_GATEWAY_TOKEN` and `PLAID_ENV` (the gateway's URL) set instead of credentials, it
//! runs the flow in gateway mode: no credentials of its own, the token sent as
//! `x-gateway-token` to a gateway that adds them.
//!
//! `RUST_LOG=debug` (or `trace`) logs each request's span on stderr, secrets left out.

use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use plaid_emulator::Emulator;
use plaid_sdk::types::{
    AccountsBalanceGetRequestOptions, CountryCode, LinkTokenCreateRequestUser,
    SandboxItemFireWebhookRequestWebhookCode,
};
use plaid_sdk::webhooks::{WebhookKind, WebhookVerifier};
use plaid_sdk::{AccessToken, Environment, PlaidClient, Processor, Product};
use tokio::sync::mpsc;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn arg_or_env(flag: &str, var: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == flag {
            return args.next();
        }
        if let Some(value) = arg.strip_prefix(&format!("{flag}=")) {
            return Some(value.to_string());
        }
    }
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

fn products(list: &[Product]) -> String {
    let names: Vec<&str> = list.iter().map(Product::as_str).collect();
    if names.is_empty() {
        "no limit".into()
    } else {
        names.join(", ")
    }
}

/// A webhook receiver on loopback: every POST's headers and body go to the channel, answered
/// 200. Returns its URL.
async fn receiver() -> Result<(String, mpsc::UnboundedReceiver<(http::HeaderMap, Bytes)>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/plaid/webhook", listener.local_addr()?);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                let tx = tx.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let body: Bytes = BodyExt::collect(body).await?.to_bytes();
                    let _ = tx.send((parts.headers, body));
                    Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::new())))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    Ok((url, rx))
}

/// Sets the Item's webhook URL to a receiver here, fires a webhook, and verifies what arrives.
async fn webhooks(client: &PlaidClient, access_token: &AccessToken, step: u32) -> Result<u32> {
    let (url, mut inbox) = receiver().await?;
    let verifier = WebhookVerifier::new(client.clone());
    client
        .item_webhook_update(access_token)
        .webhook(&url)
        .await?;
    let (headers, body) = inbox.recv().await.ok_or("the receiver stopped")?;
    let event = verifier.verify(&headers, &body).await?;
    println!(
        "{step}. webhook URL set to {url}: {} {} arrived, signature verified",
        event.webhook_type, event.webhook_code
    );
    client
        .sandbox_item_fire_webhook(
            access_token,
            SandboxItemFireWebhookRequestWebhookCode::NewAccountsAvailable,
        )
        .await?;
    let (headers, body) = inbox.recv().await.ok_or("the receiver stopped")?;
    let event = verifier.verify(&headers, &body).await?;
    let what = match &event.kind {
        WebhookKind::ItemNewAccountsAvailable(_) => "the user has accounts to add in Link",
        _ => "(unexpected)",
    };
    println!(
        "{}. fired NEW_ACCOUNTS_AVAILABLE: {} {} for item {} arrived and verified: {what}",
        step + 1,
        event.webhook_type,
        event.webhook_code,
        event.item_id.as_deref().unwrap_or("-")
    );
    Ok(step + 2)
}

/// The whole flow on a Sandbox-like environment; `with_webhooks` when the environment can
/// reach a receiver on this machine's loopback.
async fn flow(client: &PlaidClient, processor: Processor, with_webhooks: bool) -> Result<()> {
    // What an app's backend does first: a link token for the user's Link session.
    let link = client
        .link_token_create("Platypus Pay", "en", [CountryCode::Us])
        .user(LinkTokenCreateRequestUser::new("demo-user-1"))
        .products([Product::Auth])
        .await?;
    println!(
        "1. link token for the user's Link session: {} (expires {}, request {})",
        link.link_token, link.expiration, link.request_id
    );
    // In the Sandbox, a public token stands for the user going through Link.
    let public = client
        .sandbox_public_token_create("ins_109508", [Product::Auth])
        .await?;
    println!(
        "2. sandbox public token created at ins_109508 (request {})",
        public.request_id
    );

    let exchanged = client
        .item_public_token_exchange(&public.public_token)
        .await?;
    println!(
        "3. exchanged for the access token of item {} (request {})",
        exchanged.item_id, exchanged.request_id
    );

    let accounts = client.accounts_get(&exchanged.access_token).await?;
    let summary: Vec<String> = accounts
        .accounts
        .iter()
        .map(|a| {
            let subtype = a.subtype.as_ref().map_or("?", |s| s.as_str());
            let mask = a.mask.as_deref().unwrap_or("????");
            format!("{} ({subtype} …{mask})", a.name)
        })
        .collect();
    println!(
        "4. {} accounts: {}",
        accounts.accounts.len(),
        summary.join(", ")
    );
    let account = accounts
        .accounts
        .first()
        .ok_or("the Item has no accounts")?;

    // Before a debit: the balance, read from the bank now.
    let balance = client
        .accounts_balance_get(&exchanged.access_token)
        .options(
            AccountsBalanceGetRequestOptions::default()
                .account_ids(vec![account.account_id.clone()]),
        )
        .await?;
    let available = balance
        .accounts
        .first()
        .and_then(|a| a.balances.available.or(a.balances.current))
        .ok_or("no balance for the account")?;
    println!(
        "5. balance of {} before the debit: {available:.2} available (request {})",
        account.name, balance.request_id
    );

    let created = client
        .processor_token_create(
            &exchanged.access_token,
            account.account_id.as_str(),
            processor.clone(),
        )
        .await?;
    println!(
        "6. processor token for {processor} on {}: {} (request {})",
        account.name,
        created.processor_token.expose_secret(),
        created.request_id
    );

    // The partner's side: it redeems the token (with its own Plaid credentials; here the
    // same client stands for it).
    let auth = client.processor_auth_get(&created.processor_token).await?;
    let ach = auth.numbers.ach.as_ref().ok_or("no ACH numbers")?;
    println!(
        "7. the partner reads {}: account {}, routing {} (request {})",
        auth.account.name,
        masked(&ach.account),
        masked(&ach.routing),
        auth.request_id
    );

    let limit = [Product::Balance];
    client
        .processor_token_permissions_set(&created.processor_token, limit.clone())
        .await?;
    let read = client
        .processor_token_permissions_get(&created.processor_token)
        .await?;
    println!(
        "8. limited the token to {} (read back: {})",
        products(&limit),
        products(&read.products)
    );
    match client.processor_auth_get(&created.processor_token).await {
        Err(e) => println!(
            "9. the partner's numbers call is now refused: {}/{}",
            e.error_type().map_or("-", |t| t.as_str()),
            e.error_code().unwrap_or("-")
        ),
        Ok(_) => return Err("the partner read numbers its token may not use".into()),
    }

    let step = if with_webhooks {
        webhooks(client, &exchanged.access_token, 10).await?
    } else {
        10
    };

    let removed = client.item_remove(&exchanged.access_token).await?;
    println!(
        "{step}. removed item {} (request {})",
        exchanged.item_id, removed.request_id
    );

    match client.processor_balance_get(&created.processor_token).await {
        Err(e) => println!(
            "{}. the partner's token no longer works: {}/{}",
            step + 1,
            e.error_type().map_or("-", |t| t.as_str()),
            e.error_code().unwrap_or("-")
        ),
        Ok(_) => return Err("the processor token still works after /item/remove".into()),
    }
    Ok(())
}

/// A number with all but its last four digits hidden.
fn masked(number: &str) -> String {
    let hidden = number.chars().count().saturating_sub(4);
    let last: String = number.chars().skip(hidden).collect();
    format!("{}{last}", "•".repeat(hidden))
}

async fn run() -> Result<()> {
    let processor = Processor::from(
        arg_or_env("--processor", "PLAID_PROCESSOR").unwrap_or_else(|| "dwolla".into()),
    );
    if let (None, Some(token)) = (
        std::env::var_os("PLAID_CLIENT_ID"),
        arg_or_env("--gateway-token", "PLAID_GATEWAY_TOKEN"),
    ) {
        let url = arg_or_env("--env", "PLAID_ENV")
            .ok_or("gateway mode needs PLAID_ENV, the gateway's URL")?;
        let client = PlaidClient::builder()
            .environment(url.parse::<Environment>()?)
            .without_credentials()
            .gateway_header(plaid_sdk::DEFAULT_GATEWAY_HEADER, token)
            .build()?;
        println!(
            "environment: the gateway at {} (gateway mode: no credentials here)",
            client.environment()
        );
        return flow(&client, processor, false).await;
    }
    if std::env::var_os("PLAID_CLIENT_ID").is_none() {
        let emulator = Emulator::start().await?;
        println!(
            "environment: the offline emulator at {} (no PLAID_CLIENT_ID set)",
            emulator.base_url()
        );
        let client = PlaidClient::builder()
            .environment(Environment::custom(emulator.base_url())?)
            .credentials(emulator.client_id(), emulator.secret())
            .build()?;
        return flow(&client, processor, true).await;
    }
    let client = PlaidClient::from_env()?;
    println!("environment: {}", client.environment());
    let access_token = arg_or_env("--access-token", "PLAID_ACCESS_TOKEN");
    if access_token.is_none() && *client.environment() != Environment::Production {
        return flow(&client, processor, false).await;
    }
    let (Some(access_token), Some(account_id)) =
        (access_token, arg_or_env("--account-id", "PLAID_ACCOUNT_ID"))
    else {
        return Err(
            "give PLAID_ACCESS_TOKEN and PLAID_ACCOUNT_ID (or --access-token and --account-id)"
                .into(),
        );
    };
    let created = client
        .processor_token_create(access_token, account_id, processor.clone())
        .await?;
    println!("processor: {processor}");
    println!(
        "processor_token: {}",
        created.processor_token.expose_secret()
    );
    println!("request_id: {}", created.request_id);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    // RUST_LOG (`debug`, `plaid_sdk=trace`, ...) logs on stderr; nothing by default.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
