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
        Target::with_tls(uri, tls_connector)
    }

    /// The upstream of `uri`, with `tls` making the TLS settings when it is `https`.
    fn with_tls(
        uri: &http::Uri,
        tls: impl FnOnce() -> io::Result<tokio_rustls::TlsConnector>,
    ) -> io::Result<Target> {
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
            rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| invalid("the upstream host name"))?;
            Some(tls()?)
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
fn tls_connector() -> io::Result<tokio_rustls::TlsConnector> {
    use rustls_platform_verifier::ConfigVerifierExt;
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
        // The connection's own buffer, kept between requests.
        let mut request = std::mem::take(&mut conn.wire.out);
        request.clear();
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
            conn.wire.io.write_all(&request).await?;
            conn.wire.io.flush().await
        };
        match tokio::time::timeout_at(deadline, written).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(before(false)),
            Err(_) => return Err(before(true)),
        }
        // The request holds the secret: not kept past its use.
        request.fill(0);
        if request.capacity() <= 64 * 1024 {
            conn.wire.out = request;
        }
        // The connection's own timer, moved along (registered once, not once per request).
        conn.timer.as_mut().reset(deadline);
        let answer = tokio::select! {
            biased;
            answer = conn.wire.answer(max_body) => answer,
            () = conn.timer.as_mut() => {
                return Err(Failure {
                    timed_out: true,
                    answering: conn.wire.answering,
                });
            }
        };
        match answer {
            Ok((answer, reusable)) => {
                if reusable {
                    self.checkin(conn);
                }
                Ok(answer)
            }
            Err(failure) => Err(failure),
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
                    if since.elapsed() < IDLE_TIMEOUT && conn.wire.still_open() {
                        conn.wire.answering = false;
                        return Ok(conn);
                    }
                }
                None => break,
            }
        }
        // Boxed: connecting (and its TLS handshake) is rare, and its future is large; kept
        // inline, every request's future would carry (and move) it.
        Box::pin(self.connect()).await
    }

    /// A new connection to the upstream.
    async fn connect(&self) -> io::Result<Conn> {
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
            wire: Wire {
                io,
                buf: BytesMut::with_capacity(4096),
                answering: false,
                out: Vec::new(),
            },
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
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

/// One connection to the upstream, and its timer for the answer in flight.
struct Conn {
    wire: Wire,
    timer: Pin<Box<tokio::time::Sleep>>,
}

/// A connection's stream, with what has been read from it and not yet used.
struct Wire {
    io: Io,
    buf: BytesMut,
    /// Whether the current answer's head has arrived.
    answering: bool,
    /// The request being written (emptied and zeroed after each).
    out: Vec<u8>,
}

impl Wire {
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
            match Head::parse(&self.buf) {
                Parsed::Interim(n) => self.buf.advance(n),
                Parsed::Final(status, head, n) => {
                    break (status, head.content_type, head.framing, head.keep_alive, n);
                }
                Parsed::Partial if self.buf.len() < MAX_HEAD => {
                    if !self.fill().await.map_err(|_| failed(false))? {
                        return Err(failed(false));
                    }
                }
                Parsed::Partial | Parsed::Invalid => return Err(failed(false)),
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

/// What the buffer holds of an answer's head.
enum Parsed {
    /// An interim (`1xx`) answer of this many bytes, to skip.
    Interim(usize),
    /// The answer's head, of this many bytes.
    Final(StatusCode, Head, usize),
    Partial,
    Invalid,
}

impl Head {
    /// Parses the head at the start of `buf` (not async: the parser's header array is not
    /// kept in any future).
    fn parse(buf: &[u8]) -> Parsed {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(buf) {
            Ok(httparse::Status::Complete(n)) => {
                let code = response.code.unwrap_or(0);
                if (100..200).contains(&code) && code != 101 {
                    return Parsed::Interim(n);
                }
                let Ok(status) = StatusCode::from_u16(code) else {
                    return Parsed::Invalid;
                };
                match Head::read(&response, status) {
                    Some(head) => Parsed::Final(status, head, n),
                    None => Parsed::Invalid,
                }
            }
            Ok(httparse::Status::Partial) => Parsed::Partial,
            Err(_) => Parsed::Invalid,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    const HEADERS: [&[u8]; 2] = [
        b"plaid-secret: s3cret-value\r\n",
        b"plaid-version: 2020-09-14\r\n",
    ];

    /// An upstream on loopback that answers each request on a connection with the next of
    /// `answers` (raw bytes), closing the connection after an answer marked `close`, and
    /// silent once they are all said. Returns
    /// its URI, how many connections it accepted, and the requests it read.
    async fn upstream(
        answers: Vec<(&'static [u8], bool)>,
    ) -> (
        http::Uri,
        Arc<AtomicUsize>,
        Arc<std::sync::Mutex<Vec<String>>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let uri = format!("http://{}", listener.local_addr().expect("addr"))
            .parse()
            .expect("uri");
        let accepted = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let answers = Arc::new(std::sync::Mutex::new(answers.into_iter()));
        let (count, requests) = (Arc::clone(&accepted), Arc::clone(&seen));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (answers, requests) = (Arc::clone(&answers), Arc::clone(&requests));
                tokio::spawn(async move {
                    let mut read = Vec::new();
                    loop {
                        // One request: its head, then its Content-Length of body.
                        let end = loop {
                            if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                                let head = String::from_utf8_lossy(&read[..at]).to_string();
                                let length: usize = head
                                    .lines()
                                    .find_map(|l| l.strip_prefix("content-length: "))
                                    .and_then(|n| n.parse().ok())
                                    .unwrap_or(0);
                                if read.len() >= at + 4 + length {
                                    break at + 4 + length;
                                }
                            }
                            let mut chunk = [0u8; 4096];
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => read.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let request: Vec<u8> = read.drain(..end).collect();
                        requests
                            .lock()
                            .expect("requests")
                            .push(String::from_utf8_lossy(&request).to_string());
                        let next = answers.lock().expect("answers").next();
                        let Some((answer, close)) = next else {
                            // Nothing more to say: silent, with the connection open.
                            std::future::pending::<()>().await;
                            return;
                        };
                        if stream.write_all(answer).await.is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        (uri, accepted, seen)
    }

    fn pool(uri: &http::Uri) -> Pool {
        Pool::new(Target::new(uri).expect("target"))
    }

    fn soon() -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(10)
    }

    async fn post(pool: &Pool, max_body: usize) -> Result<Answer, Failure> {
        pool.post(
            "/x/processor/token/create",
            &HEADERS,
            br#"{"a":1}"#,
            max_body,
            soon(),
        )
        .await
    }

    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";

    #[tokio::test]
    async fn answers_by_length_keep_their_connection() {
        let (uri, accepted, seen) = upstream(vec![(OK, false), (OK, false)]).await;
        let pool = pool(&uri);
        for _ in 0..2 {
            let answer = post(&pool, 1024).await.expect("answer");
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(&answer.body[..], b"{}");
            assert_eq!(
                answer.content_type.as_ref().map(HeaderValue::as_bytes),
                Some(&b"application/json"[..])
            );
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one kept-alive connection"
        );
        let requests = seen.lock().expect("requests").clone();
        let authority = uri.authority().expect("authority").as_str();
        assert_eq!(
            requests[0],
            format!(
                "POST /x/processor/token/create HTTP/1.1\r\nhost: {authority}\r\nplaid-secret: s3cret-value\r\nplaid-version: 2020-09-14\r\ncontent-length: 7\r\n\r\n{{\"a\":1}}"
            )
        );
    }

    #[tokio::test]
    async fn chunked_answers_are_joined_and_interim_ones_skipped() {
        let chunked: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n4;x=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\ntrailer: t\r\n\r\n";
        let (uri, accepted, _) = upstream(vec![(chunked, false), (OK, false)]).await;
        let pool = pool(&uri);
        let answer = post(&pool, 1024).await.expect("answer");
        assert_eq!(answer.status, StatusCode::CREATED);
        assert_eq!(&answer.body[..], br#"{"a":1}"#);
        assert_eq!(
            post(&pool, 1024).await.expect("answer").status,
            StatusCode::OK
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_answer_ended_by_closing_is_read_whole_and_its_connection_dropped() {
        let (uri, accepted, _) = upstream(vec![
            (b"HTTP/1.1 200 OK\r\n\r\n{\"b\":2}", true),
            (OK, false),
        ])
        .await;
        let pool = pool(&uri);
        assert_eq!(
            &post(&pool, 1024).await.expect("answer").body[..],
            br#"{"b":2}"#
        );
        assert_eq!(&post(&pool, 1024).await.expect("answer").body[..], b"{}");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_idle_connection_the_upstream_closed_is_not_reused() {
        // Answered with a length (so kept), then closed by the upstream while idle.
        let (uri, accepted, _) = upstream(vec![(OK, true), (OK, false)]).await;
        let pool = pool(&uri);
        post(&pool, 1024).await.expect("answer");
        // Until this thread's event loop has seen the close.
        let mut seen_closed = false;
        for _ in 0..10_000 {
            let open = pool
                .idle
                .lock()
                .expect("idle")
                .front_mut()
                .is_some_and(|(conn, _)| conn.wire.still_open());
            if !open {
                seen_closed = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(seen_closed, "the close was never seen");
        assert_eq!(
            post(&pool, 1024).await.expect("answer").status,
            StatusCode::OK
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn malformed_or_oversized_answers_fail_and_say_when() {
        let conflicting: &[u8] =
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}";
        let (uri, _, _) = upstream(vec![(conflicting, false)]).await;
        let failure = post(&pool(&uri), 1024).await.err().expect("refused");
        assert_eq!(
            failure,
            Failure {
                timed_out: false,
                answering: false
            }
        );
        let (uri, _, _) = upstream(vec![(OK, false)]).await;
        let failure = post(&pool(&uri), 1).await.err().expect("over the limit");
        assert_eq!(
            failure,
            Failure {
                timed_out: false,
                answering: true
            }
        );
        let (uri, _, _) = upstream(vec![(
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{}",
            true,
        )])
        .await;
        let failure = post(&pool(&uri), 1024).await.err().expect("cut short");
        assert!(failure.answering && !failure.timed_out);
        let (uri, _, _) = upstream(vec![(b"NOT HTTP\r\n\r\n", false)]).await;
        assert!(post(&pool(&uri), 1024).await.is_err());
    }

    /// How a request to an upstream that says `answers` and then nothing fails.
    async fn silenced(answers: Vec<(&'static [u8], bool)>) -> Failure {
        let (uri, _, _) = upstream(answers).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        pool(&uri)
            .post("/x", &HEADERS, b"{}", 1024, deadline)
            .await
            .err()
            .expect("timed out")
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_upstream_times_out_saying_whether_it_had_begun() {
        assert_eq!(
            silenced(vec![]).await,
            Failure {
                timed_out: true,
                answering: false
            }
        );
        let begun: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{";
        assert_eq!(
            silenced(vec![(begun, false)]).await,
            Failure {
                timed_out: true,
                answering: true
            }
        );
    }

    #[tokio::test]
    async fn https_upstreams_are_read_over_rustls_and_kept() {
        use rustls::pki_types::pem::PemObject;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls");
        let certs: Vec<_> =
            rustls::pki_types::CertificateDer::pem_file_iter(dir.join("localhost.pem"))
                .expect("certificate")
                .collect::<Result<_, _>>()
                .expect("certificate");
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("localhost.key"))
            .expect("key");
        let server = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server settings");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                tokio::spawn(async move {
                    let mut read = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Each request here is a head and a 7-byte body.
                    while let Ok(n) = tls.read(&mut chunk).await {
                        if n == 0 {
                            return;
                        }
                        read.extend_from_slice(&chunk[..n]);
                        while let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                            if read.len() < at + 4 + 7 {
                                break;
                            }
                            read.drain(..at + 4 + 7);
                            if tls.write_all(OK).await.is_err() || tls.flush().await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        let mut roots = rustls::RootCertStore::empty();
        for ca in rustls::pki_types::CertificateDer::pem_file_iter(dir.join("ca.pem")).expect("CA")
        {
            roots.add(ca.expect("CA")).expect("a root");
        }
        let client = |roots: rustls::RootCertStore| {
            move || {
                Ok(tokio_rustls::TlsConnector::from(Arc::new(
                    rustls::ClientConfig::builder()
                        .with_root_certificates(roots)
                        .with_no_client_auth(),
                )))
            }
        };
        let uri: http::Uri = format!("https://localhost:{port}").parse().expect("uri");
        let pool = Pool::new(Target::with_tls(&uri, client(roots)).expect("target"));
        for _ in 0..2 {
            let answer = post(&pool, 1024).await.expect("answer over TLS");
            assert_eq!(
                (answer.status, &answer.body[..]),
                (StatusCode::OK, &b"{}"[..])
            );
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one kept-alive TLS connection"
        );
        // A certificate the client does not trust: nothing is sent.
        let stranger = Pool::new(
            Target::with_tls(&uri, client(rustls::RootCertStore::empty())).expect("target"),
        );
        assert_eq!(
            post(&stranger, 1024).await.err(),
            Some(Failure {
                timed_out: false,
                answering: false
            })
        );
    }
}
