//! HTTP/1.1 plumbing: accept loop, per-connection tasks, and the mapping of a dropped
//! connection fault to hyper closing the connection.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
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

/// How long a connection may take to send a request's headers, or stay idle between requests.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request's body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once; the next wait in the kernel's queue.
const MAX_CONNECTIONS: usize = 1024;

/// Binds `state.config.listen` and serves until the returned task is aborted; aborting it also
/// ends every open connection. Headers and bodies are read within a bound, connections are
/// capped, and a failing `accept` (out of descriptors) is retried with a growing delay.
pub(crate) async fn serve(
    state: Arc<State>,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(state.config.listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut failures = 0u32;
        loop {
            tokio::select! {
                accepted = accept(&listener, &slots) => {
                    let (stream, permit) = match accepted {
                        Ok(accepted) => {
                            failures = 0;
                            accepted
                        }
                        Err(e) => {
                            if failures == 0 {
                                tracing::warn!(error = %e, "accept failed; retrying with a growing delay");
                            }
                            failures = failures.saturating_add(1);
                            let delay = Duration::from_millis(10 << failures.min(7))
                                .min(Duration::from_secs(1));
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let state = Arc::clone(&state);
                    connections.spawn(async move {
                        let service = service_fn(move |request| handle(Arc::clone(&state), request));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(hyper_util::rt::TokioTimer::new())
                            .header_read_timeout(HEADER_TIMEOUT)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                        drop(permit);
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Ok((url, task))
}

/// The next connection, once one of the slots is free.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> std::io::Result<(TcpStream, OwnedSemaphorePermit)> {
    let permit = Arc::clone(slots)
        .acquire_owned()
        .await
        .map_err(std::io::Error::other)?;
    let (stream, _) = listener.accept().await?;
    Ok((stream, permit))
}

async fn handle(
    state: Arc<State>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let read = Limited::new(body, MAX_REQUEST_BODY).collect();
    let body = match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Err(_) => {
            let reply = api::error_reply(
                408,
                "INVALID_REQUEST",
                "INVALID_BODY",
                "the request body did not arrive in time",
            );
            return Ok(into_response(reply));
        }
        Ok(Err(_)) => {
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
