//! HTTP/1.1 plumbing: accept loop, per-connection tasks, and the mapping of a dropped
//! connection fault to hyper closing the connection.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::State;
use crate::api::{self, Reply};

/// The largest request body the emulator reads.
const MAX_REQUEST_BODY: usize = 1 << 20;

/// The error that makes hyper drop the connection without a response.
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

/// Binds `127.0.0.1:0` and serves until the returned task is aborted; aborting it also ends
/// every open connection.
pub(crate) async fn serve(
    state: Arc<State>,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let state = Arc::clone(&state);
                    connections.spawn(async move {
                        let service = service_fn(move |request| handle(Arc::clone(&state), request));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Ok((url, task))
}

async fn handle(
    state: Arc<State>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let reply = api::error_reply(
                413,
                "INVALID_REQUEST",
                "INVALID_BODY",
                "the request body is too large",
            );
            return Ok(into_response(reply));
        }
    };
    let started = std::time::Instant::now();
    match api::handle(&state, &parts, &body).await {
        Reply::Drop => {
            tracing::info!(method = %parts.method, path = parts.uri.path(), "dropped the connection (injected fault)");
            Err(Dropped)
        }
        reply => {
            let response = into_response(reply);
            tracing::info!(
                method = %parts.method,
                path = parts.uri.path(),
                status = response.status().as_u16(),
                latency_us = started.elapsed().as_micros() as u64,
                "answered"
            );
            Ok(response)
        }
    }
}

fn into_response(reply: Reply) -> hyper::Response<Full<Bytes>> {
    let (status, content_type, headers, body) = match reply {
        Reply::Json {
            status,
            headers,
            body,
        } => (status, "application/json", headers, Bytes::from(body)),
        Reply::Raw {
            status,
            content_type,
            body,
        } => (status, content_type, Vec::new(), Bytes::from(body)),
        Reply::Drop => (500, "text/plain", Vec::new(), Bytes::new()),
    };
    let mut response = hyper::Response::new(Full::new(body));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let h = response.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    for (name, value) in headers {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    }
    response
}
