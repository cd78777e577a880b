//! Test support for plaid-sdk's end-to-end tests: a scripted HTTP/1.1 server on loopback
//! that records every request it gets and answers from a script, faults included (reset
//! connections, truncated bodies, stalls), and a sleeper that records retry delays instead of
//! waiting.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST`, ...
    pub method: String,
    /// The request target, such as `/processor/token/create`.
    pub path: String,
    /// Header names (lowercase) and values, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The value of the header `name` (case-insensitive), if present once or more.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The header names, sorted.
    pub fn header_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.headers.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names
    }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Action {
    /// A complete response.
    Respond {
        /// The status code.
        status: u16,
        /// Extra headers (Content-Length is added).
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// Close the connection with a TCP reset, without answering.
    Reset,
    /// Read the request and never answer (until the server is dropped).
    Stall,
    /// Declare `declared` body bytes, send `body`, then close.
    Truncate {
        /// The Content-Length announced.
        declared: usize,
        /// What is actually sent.
        body: Vec<u8>,
    },
    /// Announce a body of `len` bytes and stream it in 64 KiB chunks.
    Huge {
        /// The total length.
        len: usize,
        /// Whether to announce it in Content-Length (else chunked).
        declared: bool,
    },
}

/// A JSON response.
pub fn json(status: u16, body: &str) -> Action {
    Action::Respond {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// A response with a `Retry-After` header.
pub fn json_retry_after(status: u16, retry_after: &str, body: &str) -> Action {
    Action::Respond {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("retry-after".into(), retry_after.into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

/// A Plaid error body.
pub fn plaid_error(status: u16, error_type: &str, error_code: &str, message: &str) -> Action {
    json(
        status,
        &format!(
            r#"{{"error_type":"{error_type}","error_code":"{error_code}","error_message":"{message}","display_message":null,"request_id":"req-err-1"}}"#
        ),
    )
}

struct State {
    script: Mutex<VecDeque<Action>>,
    default: Action,
    requests: Mutex<Vec<Recorded>>,
    hits: AtomicUsize,
    /// The number of requests recorded, for waiting on arrivals.
    arrived: tokio::sync::watch::Sender<usize>,
}

/// A scripted HTTP/1.1 server on `127.0.0.1`, stopped when dropped.
#[allow(missing_debug_implementations)] // holds task handles; nothing useful to print
pub struct ScriptedServer {
    addr: std::net::SocketAddr,
    state: Arc<State>,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.abort_all();
        }
    }
}

impl ScriptedServer {
    /// Starts a server that answers with `default` whenever the script is empty.
    pub async fn start(default: Action) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            script: Mutex::new(VecDeque::new()),
            default,
            requests: Mutex::new(Vec::new()),
            hits: AtomicUsize::new(0),
            arrived: tokio::sync::watch::Sender::new(0),
        });
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let accept_state = Arc::clone(&state);
        let accept_tasks = Arc::clone(&tasks);
        tasks.lock().expect("tasks").spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&accept_state);
                if let Ok(mut set) = accept_tasks.lock() {
                    set.spawn(serve(stream, state));
                }
            }
        });
        ScriptedServer { addr, state, tasks }
    }

    /// Queues actions for the next requests, in order.
    pub fn push(&self, actions: impl IntoIterator<Item = Action>) {
        self.state.script.lock().expect("script").extend(actions);
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests arrived.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("requests").clone()
    }

    /// Waits until `n` requests have arrived (the server records a request before it
    /// answers it), then returns every request received so far.
    pub async fn wait_for_requests(&self, n: usize) -> Vec<Recorded> {
        let mut arrived = self.state.arrived.subscribe();
        arrived
            .wait_for(|count| *count >= n)
            .await
            .expect("the server outlives its handle");
        self.requests()
    }
}

async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        let count = {
            let mut requests = state.requests.lock().expect("requests");
            requests.push(request);
            requests.len()
        };
        state.hits.fetch_add(1, Ordering::SeqCst);
        state.arrived.send_replace(count);
        let action = state
            .script
            .lock()
            .expect("script")
            .pop_front()
            .unwrap_or_else(|| state.default.clone());
        match action {
            Action::Respond {
                status,
                headers,
                body,
            } => {
                let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                for (n, v) in headers {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(&body).await.is_err()
                {
                    return;
                }
            }
            Action::Reset => {
                let _ = stream.set_zero_linger();
                return;
            }
            Action::Stall => {
                std::future::pending::<()>().await;
            }
            Action::Truncate { declared, body } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\n\r\n"
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
                let _ = stream.shutdown().await;
                return;
            }
            Action::Huge { len, declared } => {
                let head = if declared {
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n")
                } else {
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_string()
                };
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = len;
                while left > 0 {
                    let n = left.min(chunk.len());
                    let ok = if declared {
                        stream.write_all(&chunk[..n]).await.is_ok()
                    } else {
                        let framed =
                            [format!("{n:x}\r\n").as_bytes(), &chunk[..n], b"\r\n"].concat();
                        stream.write_all(&framed).await.is_ok()
                    };
                    if !ok {
                        return; // the client hung up, as it should past its limit
                    }
                    left -= n;
                }
                if !declared {
                    let _ = stream.write_all(b"0\r\n\r\n").await;
                }
            }
        }
    }
}

/// Reads one request (head and Content-Length body) from the stream; `None` at end of stream.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Recorded> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buf.len() < body_start + len {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[body_start..body_start + len].to_vec();
    buf.drain(..body_start + len);
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

/// A [`plaid_sdk::retry::Sleeper`] that records each delay and returns at once.
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    delays: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    /// A new sleeper, shared with the policy that uses it.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The delays asked for so far.
    pub fn delays(&self) -> Vec<Duration> {
        self.delays.lock().expect("delays").clone()
    }
}

impl plaid_sdk::retry::Sleeper for RecordingSleeper {
    fn sleep(&self, delay: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.delays.lock().expect("delays").push(delay);
        Box::pin(std::future::ready(()))
    }
}

/// A loopback port that refuses connections: bound but never listening, and held until
/// dropped, so no other test can start a server on it meanwhile.
#[derive(Debug)]
pub struct ClosedPort {
    _socket: tokio::net::TcpSocket,
    addr: std::net::SocketAddr,
}

impl ClosedPort {
    /// Binds a fresh loopback port without listening on it.
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind");
        let addr = socket.local_addr().expect("addr");
        ClosedPort {
            _socket: socket,
            addr,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        Self::new()
    }
}

/// A writer that keeps everything written to it, for capturing a subscriber's log output.
#[derive(Clone, Debug, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture")).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
