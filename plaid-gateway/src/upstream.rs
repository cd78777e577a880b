//! The gateway's HTTP/1.1 client to Plaid: one pool of kept-alive connections per serving
//! thread, each request written and its answer read by the task that forwards it (no
//! connection task, no channel between them), over rustls for `https` or plain TCP for a
//! local upstream. It follows no redirect (that would carry the credentials to the host it
//! names) and retries nothing once a request is written.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderValue, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// How long connecting to the upstream may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an idle connection is kept for the next request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The most idle connections one pool keeps.
const MAX_IDLE: usize = 1024;

/// The most an answer's status line and headers may take.
const MAX_HEAD: usize = 64 * 1024;

/// Where the upstream is, and how to reach it.
#[derive(Clone)]
pub(crate) struct Target {
    /// The host to connect to (no brackets around an IPv6 address).
    host: String,
    port: u16,
    /// The `Host` header: the URL's authority.
    authority: String,
    /// TLS for `https`; `None` for plain HTTP.
    tls: Option<tokio_rustls::TlsConnector>,
}

impl Target {
    /// The upstream of `uri` (`http` or `https`).
    pub(crate) fn new(uri: &http::Uri) -> io::Result<Target> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("the upstream URL has no host"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid("the upstream URL must be http or https")),
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = if https {
            Some(tls_connector(&host)?)
        } else {
            None
        };
        Ok(Target {
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
            authority: authority.as_str().to_string(),
            host,
            tls,
        })
    }
}

/// rustls with the platform's roots, speaking HTTP/1.1 only.
fn tls_connector(host: &str) -> io::Result<tokio_rustls::TlsConnector> {
    use rustls_platform_verifier::ConfigVerifierExt;
    rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the upstream host name"))?;
    let mut config = rustls::ClientConfig::with_platform_verifier()
        .map_err(|e| io::Error::other(format!("cannot set up TLS: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// An answer from upstream, whole.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) content_type: Option<HeaderValue>,
    pub(crate) body: Bytes,
}

/// Why forwarding failed: whether it timed out, and whether the answer had begun (its
/// status line and headers had arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) timed_out: bool,
    pub(crate) answering: bool,
}

/// One serving thread's connections to the upstream.
pub(crate) struct Pool {
    target: Target,
    idle: std::sync::Mutex<VecDeque<(Conn, Instant)>>,
}

impl Pool {
    pub(crate) fn new(target: Target) -> Pool {
        Pool {
            target,
            idle: std::sync::Mutex::new(VecDeque::new()),
        }
    }

    /// Sends `POST target` with the `headers` lines (each ending in CRLF, no `Host` nor
    /// `Content-Length`) and `body`, and reads the whole answer (at most `max_body` bytes),
    /// all before `deadline`.
    pub(crate) async fn post(
        &self,
        target: &str,
        headers: &[&[u8]],
        body: &[u8],
        max_body: usize,
        deadline: tokio::time::Instant,
    ) -> Result<Answer, Failure> {
        let before = |timed_out| Failure {
            timed_out,
            answering: false,
        };
        let mut conn = match tokio::time::timeout_at(deadline, self.checkout()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(_)) => return Err(before(false)),
            Err(_) => return Err(before(true)),
        };
        let mut request = Vec::with_capacity(256 + body.len());
        request.extend_from_slice(b"POST ");
        request.extend_from_slice(target.as_bytes());
        request.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        request.extend_from_slice(self.target.authority.as_bytes());
        request.extend_from_slice(b"\r\n");
        for line in headers {
            request.extend_from_slice(line);
        }
        request.extend_from_slice(b"content-length: ");
        request.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        request.extend_from_slice(b"\r\n\r\n");
        request.extend_from_slice(body);
        let written = async {
            conn.io.write_all(&request).await?;
            conn.io.flush().await
        };
        match tokio::time::timeout_at(deadline, written).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(before(false)),
            Err(_) => return Err(before(true)),
        }
        // The request holds the secret: not kept past its use.
        request.fill(0);
        drop(request);
        let answer = tokio::time::timeout_at(deadline, conn.answer(max_body)).await;
        match answer {
            Ok(Ok((answer, reusable))) => {
                if reusable {
                    self.checkin(conn);
                }
                Ok(answer)
            }
            Ok(Err(failure)) => Err(failure),
            Err(_) => Err(Failure {
                timed_out: true,
                answering: conn.answering,
            }),
        }
    }

    /// An idle connection that is still open, or a new one.
    async fn checkout(&self) -> io::Result<Conn> {
        loop {
            let idle = self
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .pop_back();
            match idle {
                Some((mut conn, since)) => {
                    if since.elapsed() < IDLE_TIMEOUT && conn.still_open() {
                        conn.answering = false;
                        return Ok(conn);
                    }
                }
                None => break,
            }
        }
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((self.target.host.as_str(), self.target.port)),
        )
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        tcp.set_nodelay(true)?;
        let io = match &self.target.tls {
            None => Io::Plain(tcp),
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(self.target.host.clone())
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "host name"))?;
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, tls.connect(name, tcp))
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS timed out"))??;
                Io::Tls(Box::new(stream))
            }
        };
        Ok(Conn {
            io,
            buf: BytesMut::with_capacity(4096),
            answering: false,
        })
    }

    /// Keeps `conn` for the next request; the oldest idle ones past their time go.
    fn checkin(&self, conn: Conn) {
        let now = Instant::now();
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while idle
            .front()
            .is_some_and(|(_, since)| now.duration_since(*since) >= IDLE_TIMEOUT)
            || idle.len() >= MAX_IDLE
        {
            idle.pop_front();
        }
        idle.push_back((conn, now));
    }
}

/// One connection to the upstream, with what has been read from it and not yet used.
struct Conn {
    io: Io,
    buf: BytesMut,
    /// Whether the current answer's head has arrived.
    answering: bool,
}

impl Conn {
    /// Whether an idle connection can carry a request: the peer has not closed it, and sent
    /// nothing unasked.
    fn still_open(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut byte = [0u8; 1];
        let mut read = ReadBuf::new(&mut byte);
        matches!(
            Pin::new(&mut self.io).poll_read(&mut cx, &mut read),
            Poll::Pending
        )
    }

    /// Reads more into the buffer; `Ok(false)` at the end of the stream.
    async fn fill(&mut self) -> io::Result<bool> {
        use tokio::io::AsyncReadExt;
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(8192);
        }
        Ok(self.io.read_buf(&mut self.buf).await? > 0)
    }

    /// Reads one answer (skipping interim `1xx` ones); with it, whether the connection can
    /// carry another request.
    async fn answer(&mut self, max_body: usize) -> Result<(Answer, bool), Failure> {
        let failed = |answering| Failure {
            timed_out: false,
            answering,
        };
        let (status, content_type, framing, mut reusable, head_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let code = response.code.unwrap_or(0);
                    if (100..200).contains(&code) && code != 101 {
                        self.buf.advance(n);
                        continue;
                    }
                    let status = StatusCode::from_u16(code).map_err(|_| failed(false))?;
                    let head = Head::read(&response, status).ok_or(failed(false))?;
                    break (status, head.content_type, head.framing, head.keep_alive, n);
                }
                Ok(httparse::Status::Partial) if self.buf.len() < MAX_HEAD => {
                    if !self.fill().await.map_err(|_| failed(false))? {
                        return Err(failed(false));
                    }
                }
                _ => return Err(failed(false)),
            }
        };
        self.answering = true;
        let body = match framing {
            Framing::Length(length) => {
                if length > max_body as u64 {
                    return Err(failed(true));
                }
                let end = head_len + length as usize;
                while self.buf.len() < end {
                    if !self.fill().await.map_err(|_| failed(true))? {
                        return Err(failed(true));
                    }
                }
                let mut whole = self.buf.split_to(end).freeze();
                whole.advance(head_len);
                whole
            }
            Framing::Chunked => {
                self.buf.advance(head_len);
                self.chunked(max_body).await.map_err(|()| failed(true))?
            }
            Framing::UntilClosed => {
                reusable = false;
                self.buf.advance(head_len);
                while self.fill().await.map_err(|_| failed(true))? {
                    if self.buf.len() > max_body {
                        return Err(failed(true));
                    }
                }
                self.buf.split().freeze()
            }
        };
        let answer = Answer {
            status,
            content_type,
            body,
        };
        Ok((answer, reusable && self.buf.is_empty()))
    }

    /// A chunked body (the head already consumed), at most `max_body` bytes.
    async fn chunked(&mut self, max_body: usize) -> Result<Bytes, ()> {
        let mut body = BytesMut::new();
        loop {
            // The size line: hex digits, then extensions to ignore.
            let line = loop {
                if let Some(at) = find_crlf(&self.buf) {
                    break at;
                }
                if self.buf.len() > 4096 || !self.fill().await.map_err(|_| ())? {
                    return Err(());
                }
            };
            let digits = self.buf[..line]
                .split(|b| *b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            let size = std::str::from_utf8(digits)
                .ok()
                .filter(|d| !d.is_empty() && d.len() <= 15)
                .and_then(|d| usize::from_str_radix(d, 16).ok())
                .ok_or(())?;
            self.buf.advance(line + 2);
            if size == 0 {
                // Trailers, until an empty line.
                loop {
                    match find_crlf(&self.buf) {
                        Some(0) => {
                            self.buf.advance(2);
                            return Ok(body.freeze());
                        }
                        Some(at) => self.buf.advance(at + 2),
                        None => {
                            if self.buf.len() > MAX_HEAD || !self.fill().await.map_err(|_| ())? {
                                return Err(());
                            }
                        }
                    }
                }
            }
            if body.len() + size > max_body {
                return Err(());
            }
            while self.buf.len() < size + 2 {
                if !self.fill().await.map_err(|_| ())? {
                    return Err(());
                }
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(());
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.advance(size + 2);
        }
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

/// How an answer's body is delimited.
enum Framing {
    Length(u64),
    Chunked,
    UntilClosed,
}

/// What the gateway reads of an answer's head.
struct Head {
    content_type: Option<HeaderValue>,
    framing: Framing,
    keep_alive: bool,
}

impl Head {
    /// `None` for a head no client may trust (conflicting or malformed lengths).
    fn read(response: &httparse::Response<'_, '_>, status: StatusCode) -> Option<Head> {
        let mut content_type = None;
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut encoded = false;
        let mut keep_alive = response.version == Some(1);
        for header in response.headers.iter() {
            let name = header.name;
            if name.eq_ignore_ascii_case("content-type") {
                if content_type.is_none() {
                    content_type = HeaderValue::from_bytes(header.value).ok();
                }
            } else if name.eq_ignore_ascii_case("content-length") {
                let text = std::str::from_utf8(header.value).ok()?.trim();
                if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let n: u64 = text.parse().ok()?;
                if length.is_some_and(|l| l != n) {
                    return None;
                }
                length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                encoded = true;
                chunked = std::str::from_utf8(header.value)
                    .ok()?
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            } else if name.eq_ignore_ascii_case("connection") {
                let value = std::str::from_utf8(header.value).unwrap_or_default();
                for option in value.split(',') {
                    let option = option.trim();
                    if option.eq_ignore_ascii_case("close") {
                        keep_alive = false;
                    } else if option.eq_ignore_ascii_case("keep-alive") {
                        keep_alive = true;
                    }
                }
            }
        }
        let bodiless = status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
            || status.is_informational();
        let framing = if bodiless {
            Framing::Length(0)
        } else if encoded {
            if length.is_some() {
                // Both: a smuggling shape; the connection is not trusted again.
                keep_alive = false;
            }
            if chunked {
                Framing::Chunked
            } else {
                Framing::UntilClosed
            }
        } else {
            match length {
                Some(n) => Framing::Length(n),
                None => Framing::UntilClosed,
            }
        };
        Some(Head {
            content_type,
            framing,
            keep_alive,
        })
    }
}

/// A connection's stream: plain TCP or TLS over it.
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
