//! What the benches share: the loopback server, the hand-written call and the SDK's call.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use plaid_sdk::{Environment, PlaidClient, Processor};
use tokio::net::TcpListener;

pub const ACCESS: &str = "access-sandbox-5b2c1a9e-0000-4d2a-9a55-aabbccddeeff";
const BODY: &[u8] =
    br#"{"processor_token":"processor-sandbox-0asd1-a92nc","request_id":"xrQNYZ7Zoh6R7gV"}"#;

/// A minimal HTTP/1.1 server that reads the request body and answers with a fixed token, on a
/// thread and runtime of its own, so that the client side measured is alone on its runtime.
///
/// With `spin`, the server's thread never sleeps (a task yields in a loop, so the runtime polls
/// for I/O without blocking): a client's write then never has to wake it. On loopback the
/// writer pays for that wake-up, and on a virtual machine it costs more than the work being
/// compared and varies with timing; with a server that is always awake each side pays only
/// for its own work, as a client does when the server is on another machine.
pub fn serve(spin: bool) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let _ = tx.send(format!("http://{}", listener.local_addr().expect("addr")));
            if spin {
                tokio::spawn(async {
                    loop {
                        tokio::task::yield_now().await;
                    }
                });
            }
            accept(listener).await;
        });
    });
    rx.recv().expect("server address")
}

async fn accept(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let _ = req.into_body().collect().await;
                let mut response = hyper::Response::new(Full::new(Bytes::from_static(BODY)));
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/json"),
                );
                Ok::<_, Infallible>(response)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[derive(serde::Deserialize)]
pub struct Created {
    pub processor_token: String,
    pub request_id: String,
}

/// The request body, serialized on each call as any client must (its values change per call).
#[derive(serde::Serialize)]
struct CreateRequest<'a> {
    access_token: &'a str,
    account_id: &'a str,
    processor: &'a str,
}

/// The floor: what a careful hand-written client sends and parses, with the same per-request
/// timeout the SDK applies by default. Its `reqwest::Client` is built with the same features,
/// and so the same TLS backend (rustls with aws-lc-rs), as the SDK's: the TLS configuration a
/// real client needs is in both, in memory and in set-up.
pub struct HandWritten {
    http: reqwest::Client,
    url: String,
    headers: reqwest::header::HeaderMap,
}

impl HandWritten {
    pub fn new(base: &str) -> Self {
        use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("plaid-client-id"),
            HeaderValue::from_static("client-id-123"),
        );
        let mut secret = HeaderValue::from_static("bench-secret");
        secret.set_sensitive(true);
        headers.insert(HeaderName::from_static("plaid-secret"), secret);
        headers.insert(
            HeaderName::from_static("plaid-version"),
            HeaderValue::from_static("2020-09-14"),
        );
        headers.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_static(plaid_sdk::USER_AGENT),
        );
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        HandWritten {
            http: reqwest::Client::new(),
            url: format!("{base}/processor/token/create"),
            headers,
        }
    }

    pub async fn call(&self) -> Created {
        let response = self
            .http
            .post(&self.url)
            .headers(self.headers.clone())
            .body(
                serde_json::to_vec(&CreateRequest {
                    access_token: ACCESS,
                    account_id: "acc_1",
                    processor: "dwolla",
                })
                .expect("json"),
            )
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("send");
        let bytes = response.bytes().await.expect("body");
        serde_json::from_slice(&bytes).expect("parse")
    }
}

pub async fn sdk_call(client: &PlaidClient) -> String {
    let created = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect("sdk call");
    created.request_id
}

/// The client side's runtime: one thread, as the measured side is alone on it.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The SDK's client for the loopback server at `base`, with its defaults.
pub fn sdk_client(base: &str) -> PlaidClient {
    PlaidClient::builder()
        .environment(Environment::custom(base).expect("url"))
        .credentials("client-id-123", "bench-secret")
        .build()
        .expect("client")
}
