//! The gateway's own HTTP/1.1 path for API requests, and the hand-over to hyper for
//! everything else.
//!
//! A connection starts here. While its requests are plain API calls (HTTP/1.1 `POST` to an
//! allowed path, a `Content-Length` body within the limit, no `Expect`, no upgrade, no
//! CORS to answer), each is parsed here (`httparse`), run through the same steps as every
//! request ([`crate::forward`]) and answered here, on the connection's own task. The first
//! request that is anything else (the console, `/healthz`, a chunked body, a preflight, a
//! malformed head...) hands the connection, with every byte already read, to hyper's server,
//! which serves it from then on. So the edge cases keep hyper's handling, and the hot path
//! crosses no task or channel per request.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::{Head, Out, Settings};

/// The most a request's line and headers may take on this path (a longer head goes to hyper,
/// which refuses it).
const MAX_HEAD: usize = 16 * 1024;

/// Serves one connection until it closes, the client goes quiet past the header timeout, or
/// `stop` turns true (after the request in flight).
pub(crate) async fn connection(
    mut stream: TcpStream,
    settings: Settings,
    worker: usize,
    stop: watch::Receiver<bool>,
) {
    let mut buf = BytesMut::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    // One timer and one stop signal for the connection's life, moved along per request (a
    // timer pushed later stays registered; a new one per request would be registered anew).
    let timer = tokio::time::sleep(std::time::Duration::ZERO);
    tokio::pin!(timer);
    let stopped = {
        let mut stop = stop.clone();
        async move {
            let _ = stop.wait_for(|stop| *stop).await;
        }
    };
    tokio::pin!(stopped);
    loop {
        let state = settings.current();
        // The next request's head, within the header timeout (which also bounds idleness).
        timer
            .as_mut()
            .reset(tokio::time::Instant::now() + state.config.header_timeout);
        let (head_len, request) = loop {
            match Request::parse(&buf, &state) {
                Parsed::Ours(head_len, request) => break (head_len, request),
                Parsed::Partial if buf.len() < MAX_HEAD => {}
                Parsed::Partial | Parsed::Hyper => {
                    return Box::pin(hand_over(stream, buf, settings, worker, stop)).await;
                }
            }
            if buf.capacity() - buf.len() < 1024 {
                buf.reserve(4096);
            }
            let idle = buf.is_empty();
            let read = tokio::select! {
                biased;
                read = stream.read_buf(&mut buf) => read,
                () = &mut stopped, if idle => return,
                // Silent past the header timeout: close (as hyper does for a late head).
                () = &mut timer => return,
            };
            match read {
                Ok(n) if n > 0 => {}
                // Closed or failed.
                _ => return,
            }
        };
        let end = head_len + request.length;
        let head = Head {
            method: "POST",
            path: &request.path,
            query: false,
            token: request.token.as_deref(),
            version: request.version.as_deref(),
        };
        let body = async {
            let body_timeout = state.config.body_timeout;
            let arrived = tokio::time::timeout(body_timeout, async {
                while buf.len() < end {
                    if buf.capacity() - buf.len() < end - buf.len() {
                        buf.reserve(end - buf.len());
                    }
                    if stream.read_buf(&mut buf).await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
                Ok::<_, io::Error>(())
            })
            .await;
            match arrived {
                Err(_) => Err(crate::Refusal::body_timeout()),
                Ok(Err(_)) => Err(crate::Refusal {
                    close: true,
                    ..crate::Refusal::unreadable_body()
                }),
                Ok(Ok(())) => {
                    crate::canonical_body(&buf[head_len..end]).map_err(crate::Refusal::invalid_body)
                }
            }
        };
        let reply = crate::api(&state, &settings, worker, &head, body).await;
        let close = reply.close || request.close || *stop.borrow();
        out.clear();
        encode(&reply, close, &mut out);
        // A client that does not take its reply within the header timeout is closed, so it
        // cannot hold its connection's slot by not reading.
        let write = async {
            if reply.body.len() <= 16 * 1024 {
                out.extend_from_slice(&reply.body);
                stream.write_all(&out).await
            } else {
                stream.write_all(&out).await?;
                stream.write_all(&reply.body).await
            }
        };
        let written = tokio::time::timeout(state.config.header_timeout, write).await;
        if !matches!(written, Ok(Ok(()))) || close {
            let _ = stream.shutdown().await;
            return;
        }
        if buf.len() >= end {
            buf.advance(end);
        } else {
            // A refusal before the body was read: the rest of the body is unread, so the
            // connection cannot be parsed further.
            let _ = stream.shutdown().await;
            return;
        }
        if out.capacity() > 64 * 1024 {
            out = Vec::with_capacity(1024);
        }
    }
}

/// What the buffer holds of the next request.
enum Parsed {
    /// A whole head of this many bytes, of a request this path serves.
    Ours(usize, Request),
    /// A head not yet whole.
    Partial,
    /// A request for hyper: anything but a plain API call, or a malformed head.
    Hyper,
}

/// What this path needs of a request's head.
struct Request {
    path: String,
    length: usize,
    token: Option<String>,
    version: Option<Vec<u8>>,
    close: bool,
}

impl Request {
    /// The head at the start of `buf`. Not async: the parser's header array is not kept in
    /// the connection's future.
    fn parse(buf: &[u8], state: &crate::State) -> Parsed {
        let mut headers = [httparse::EMPTY_HEADER; 48];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(buf) {
            Ok(httparse::Status::Complete(n)) => match Request::read(&request, state) {
                Some(ours) => Parsed::Ours(n, ours),
                None => Parsed::Hyper,
            },
            Ok(httparse::Status::Partial) => Parsed::Partial,
            Err(_) => Parsed::Hyper,
        }
    }

    fn read(request: &httparse::Request<'_, '_>, state: &crate::State) -> Option<Request> {
        if request.method != Some("POST") || request.version != Some(1) {
            return None;
        }
        let path = request.path?;
        // Only an exact allowed path (a query or any other spelling is hyper's to refuse).
        let rest = path.strip_prefix(state.config.path_prefix.as_str())?;
        if !state.uris.contains_key(rest) {
            return None;
        }
        let mut length = None;
        let mut token = None;
        let mut bearer = None;
        let mut version = None;
        let mut close = false;
        for header in request.headers.iter() {
            let (name, value) = (header.name, header.value);
            if name.eq_ignore_ascii_case("content-length") {
                let text = std::str::from_utf8(value).ok()?;
                if length.is_some() || text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                length = Some(text.parse::<usize>().ok()?);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                || name.eq_ignore_ascii_case("expect")
                || name.eq_ignore_ascii_case("upgrade")
                || (name.eq_ignore_ascii_case("origin") && state.cors.is_some())
            {
                return None;
            } else if name.eq_ignore_ascii_case(crate::CALLER_HEADER) {
                if token.is_none() {
                    token = Some(visible(value)?.to_string());
                }
            } else if name.eq_ignore_ascii_case("authorization") {
                if bearer.is_none() {
                    bearer = Some(visible(value)?);
                }
            } else if name.eq_ignore_ascii_case("plaid-version") {
                if version.is_none() {
                    version = Some(value.to_vec());
                }
            } else if name.eq_ignore_ascii_case("connection") {
                for option in std::str::from_utf8(value).ok()?.split(',') {
                    let option = option.trim();
                    if option.eq_ignore_ascii_case("close") {
                        close = true;
                    } else if !option.eq_ignore_ascii_case("keep-alive") {
                        return None;
                    }
                }
            }
        }
        let length = length.filter(|n| *n <= state.config.max_body_bytes)?;
        let token = token.or_else(|| crate::bearer(bearer?).map(str::to_string));
        Some(Request {
            path: path.to_string(),
            length,
            token,
            version,
            close,
        })
    }
}

/// A header value as text, when it is all visible ASCII (what hyper's `to_str` accepts).
fn visible(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|b| *b == b'\t' || (0x20..0x7f).contains(b))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

/// The reply's status line and headers, as hyper would write them for the same reply.
fn encode(reply: &Out, close: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(reply.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(
        reply
            .status
            .canonical_reason()
            .unwrap_or("Unknown")
            .as_bytes(),
    );
    out.extend_from_slice(b"\r\ncontent-type: ");
    out.extend_from_slice(reply.content_type.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in crate::SECURITY_HEADERS {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(wait) = reply.retry_after {
        out.extend_from_slice(b"retry-after: ");
        out.extend_from_slice(itoa::Buffer::new().format(wait).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(reply.body.len()).as_bytes());
    out.extend_from_slice(b"\r\ndate: ");
    date(out);
    out.extend_from_slice(b"\r\n\r\n");
}

/// Today's `Date` header value, formatted once a second per thread.
fn date(out: &mut Vec<u8>) {
    use std::cell::RefCell;
    use std::time::{SystemTime, UNIX_EPOCH};
    thread_local! {
        static CACHED: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CACHED.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != second || cached.1.is_empty() {
            *cached = (second, httpdate::fmt_http_date(now));
        }
        out.extend_from_slice(cached.1.as_bytes());
    });
}

/// Serves the rest of the connection with hyper, starting with the bytes already read.
async fn hand_over(
    stream: TcpStream,
    read: BytesMut,
    settings: Settings,
    worker: usize,
    mut stop: watch::Receiver<bool>,
) {
    let header_timeout = settings.current().config.header_timeout;
    let service = hyper_util::service::TowerToHyperService::new(crate::service(settings, worker));
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(
            TokioIo::new(Replayed {
                read: read.freeze(),
                stream,
            }),
            service,
        );
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stop.wait_for(|stop| *stop) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// A stream that first gives back bytes already read from it.
struct Replayed {
    read: bytes::Bytes,
    stream: TcpStream,
}

impl AsyncRead for Replayed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.read.is_empty() {
            let n = self.read.len().min(buf.remaining());
            buf.put_slice(&self.read[..n]);
            self.read.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Replayed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::visible;

    #[test]
    fn only_visible_ascii_header_values_are_read_as_text() {
        assert_eq!(visible(b"Bearer abc"), Some("Bearer abc"));
        assert_eq!(visible(b"tab\there"), Some("tab\there"));
        assert_eq!(visible(b"caf\xc3\xa9"), None);
        assert_eq!(visible(b"nul\x00"), None);
    }
}
