//! The wire: hyper's HTTP/1.1 server on a single-threaded tokio runtime of its own, so that
//! framing (keep-alive, chunked bodies, `Expect: 100-continue`, pipelining) is done by a
//! well-kept implementation rather than by us.
//!
//! The runtime thread only moves bytes. Each fully read [`Request`] goes to the handler on
//! tokio's blocking pool, because the bank's work is CPU-bound (P-384 key generation, JWE) and
//! some faults sleep; an idle connection therefore costs one socket and a few KiB, not a thread.
//!
//! Abuse limits ([`Limits`]): at most `max_connections` open at once (beyond that a new
//! connection gets a `503` and is closed, so the file-descriptor budget stays ours); a request
//! head must arrive within `header_read_timeout` of the connection becoming ready for it, which
//! also closes idle keep-alive connections; a body must arrive within `body_read_timeout` and
//! be at most `max_body_bytes` (`413` otherwise); an answer whose client takes no byte of it
//! for `write_stall_timeout` closes the connection (hyper has no write timeout of its own).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper_util::rt::{TokioIo, TokioTimer};

use super::http::{Reply, Request, Response};

/// What one server accepts before it refuses or closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once; more are answered `503` and closed (default 4,096).
    pub max_connections: usize,
    /// How long a request head may take, counted from when the connection is ready for it (so
    /// it is also the keep-alive idle timeout); default 10 s.
    pub header_read_timeout: Duration,
    /// How long a request body may take once its head has arrived (default 10 s).
    pub body_read_timeout: Duration,
    /// Largest request body (default 64 KiB: the bank's requests are a few KiB, and every
    /// connection may hold one body in memory at once).
    pub max_body_bytes: usize,
    /// Most request header lines (default 100).
    pub max_headers: usize,
    /// How long an answer may wait to be written with no byte taken by the client (default
    /// 10 s): a client that sends requests and never reads their answers is cut off then, and
    /// its connection slot freed.
    pub write_stall_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_body_bytes: 64 << 10,
            max_headers: 100,
            write_stall_timeout: Duration::from_secs(10),
        }
    }
}

/// What the server counts (for `/__sim/stats`).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Connections open now.
    pub open: AtomicUsize,
    /// Connections accepted since the start.
    pub accepted: AtomicU64,
    /// Connections refused because `max_connections` were open.
    pub refused: AtomicU64,
    /// Requests whose body was too large or too slow.
    pub bodies_refused: AtomicU64,
    /// Connections closed because their client stopped taking the answers.
    pub write_stalls: AtomicU64,
    /// The connection cap in force: `max_connections`, lowered to fit the open-file limit.
    pub max_connections: AtomicUsize,
}

/// The request handler: runs on the blocking pool, one call per request.
pub(crate) type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A running server; dropping it stops it: idle connections close at once, answers in
/// progress get [`GRACE`] to finish.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<Stopper>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

/// How long a stopping server lets requests in progress finish.
const GRACE: Duration = Duration::from_secs(1);

/// The answer to a connection beyond the cap: written without reading the request.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 34\r\nConnection: close\r\n\r\ntoo many connections; retry later\n";

/// Tells the accept loop to stop, from any thread.
#[derive(Default)]
struct Stopper {
    flag: AtomicBool,
    /// Keeps its permit if the loop is not waiting yet, so no stop is missed.
    wake: tokio::sync::Notify,
}

impl Stopper {
    fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// Decrements the open-connection count when a connection's task ends, however it ends.
struct Open(Arc<Counters>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The service future's error: close the connection without an answer.
#[derive(Debug)]
struct Hangup;

impl std::fmt::Display for Hangup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the handler chose to close the connection")
    }
}

impl std::error::Error for Hangup {}

/// A bound, listening socket whose server has not started yet: clients can connect (their
/// connections queue) while the caller builds its handler around [`Bound::local_addr`].
pub(crate) struct Bound {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    limits: Limits,
}

/// Pending connections the kernel queues for us. Rust's and most defaults are 128, which a
/// burst of a thousand clients overflows: the kernel then drops SYNs and each such client
/// waits a second to retry. The kernel caps it at `net.core.somaxconn`.
const BACKLOG: u32 = 4096;

impl Bound {
    /// The bound address (loopback if the listen address was unspecified).
    pub(crate) const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts serving on a thread of its own.
    ///
    /// # Errors
    /// The operating system's error if the thread cannot be started.
    pub(crate) fn serve(self, handler: Handler) -> io::Result<Server> {
        let Self {
            runtime,
            listener,
            addr,
            limits,
        } = self;
        let limits = Limits {
            max_connections: fitting_connections(limits.max_connections, open_file_limit()),
            ..limits
        };
        let stop = Arc::new(Stopper::default());
        let counters = Arc::new(Counters::default());
        counters
            .max_connections
            .store(limits.max_connections, Ordering::SeqCst);
        let (stop2, counters2) = (Arc::clone(&stop), Arc::clone(&counters));
        let thread = std::thread::Builder::new()
            .name("alliancepay-sim-accept".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let (closing, closing_rx) = tokio::sync::watch::channel(false);
                    accept_loop(listener, limits, handler, &stop2, &counters2, &closing_rx).await;
                    // Stopped: idle connections close now, a request being answered gets up
                    // to GRACE to finish (a callback sink dropped right after reading a body
                    // must still answer it).
                    let _ = closing.send(true);
                    let deadline = tokio::time::Instant::now() + GRACE;
                    while counters2.open.load(Ordering::SeqCst) > 0
                        && tokio::time::Instant::now() < deadline
                    {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                });
                // Cancels what is left (closing its sockets) without waiting for handlers
                // still running on the blocking pool.
                runtime.shutdown_background();
            })?;
        Ok(Server {
            addr,
            stop,
            counters,
            thread: Some(thread),
        })
    }
}

impl Server {
    /// Binds `listen` and starts listening; [`Bound::serve`] then starts the server.
    ///
    /// # Errors
    /// The operating system's error if the address cannot be bound or the runtime not built.
    pub(crate) fn bind(listen: SocketAddr, limits: Limits) -> io::Result<Bound> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            // CPU-bound bank work on two cores gains nothing from hundreds of threads; queued
            // requests wait their turn instead.
            .max_blocking_threads(16)
            .thread_name("alliancepay-sim")
            .build()?;
        // Sockets register with the runtime they are made in.
        let listener = {
            let _in_runtime = runtime.enter();
            let socket = if listen.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            // A restarted simulator can take its port back at once (TIME_WAIT sockets).
            socket.set_reuseaddr(true)?;
            socket.bind(listen)?;
            socket.listen(BACKLOG)?
        };
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        }
        Ok(Bound {
            runtime,
            listener,
            addr,
            limits,
        })
    }

    /// Binds `listen` and serves on a thread of its own.
    ///
    /// # Errors
    /// The operating system's error if the address cannot be bound or a thread not started.
    pub(crate) fn start(listen: SocketAddr, limits: Limits, handler: Handler) -> io::Result<Self> {
        Self::bind(listen, limits)?.serve(handler)
    }

    /// The bound address (loopback if the listen address was unspecified).
    pub(crate) const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The counters, shared.
    pub(crate) fn counters_arc(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// Stops accepting and closes every connection (after [`GRACE`] at most). Idempotent.
    pub(crate) fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Wakes the accept loop from outside the runtime; connecting to ourselves instead failed
        // where that address cannot be reached (`[::]` on an IPv6-only host), and hung here.
        self.stop.stop();
        let _ = thread.join();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    limits: Limits,
    handler: Handler,
    stop: &Stopper,
    counters: &Arc<Counters>,
    closing: &tokio::sync::watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    let mut stopped = std::pin::pin!(stop.wake.notified());
    loop {
        let accepted = std::future::poll_fn(|cx| {
            if stopped.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            listener.poll_accept(cx).map(Some)
        })
        .await;
        let Some(accepted) = accepted else {
            return;
        };
        if stop.flag.load(Ordering::SeqCst) {
            return;
        }
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off (10 ms doubling to 1 s) and
                // keep serving the connections open; one warning per run of failures.
                if failures == 0 {
                    tracing::warn!("simulator: accept failed: {e}; retrying");
                }
                failures = failures.saturating_add(1);
                let wait = 10u64 << failures.min(7);
                tokio::time::sleep(Duration::from_millis(wait.min(1000))).await;
                continue;
            }
        };
        failures = 0;
        if counters.open.load(Ordering::SeqCst) >= limits.max_connections {
            counters.refused.fetch_add(1, Ordering::SeqCst);
            // Best effort: a fresh socket's send buffer takes these bytes at once.
            let _ = stream.try_write(BUSY);
            continue;
        }
        counters.open.fetch_add(1, Ordering::SeqCst);
        counters.accepted.fetch_add(1, Ordering::SeqCst);
        let _ = stream.set_nodelay(true);
        let open = Open(Arc::clone(counters));
        let handler = Arc::clone(&handler);
        let counters = Arc::clone(counters);
        let mut closing = closing.clone();
        tokio::spawn(async move {
            let _open = open;
            let stall = Arc::new(Stall::default());
            let stream = Watched {
                inner: stream,
                stall: Arc::clone(&stall),
            };
            let ours = Arc::clone(&counters);
            let service = hyper::service::service_fn(move |request| {
                answer(request, limits, Arc::clone(&handler), Arc::clone(&counters))
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_headers(limits.max_headers)
                .serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            let mut stopped = std::pin::pin!(async move {
                let _ = closing.wait_for(|c| *c).await;
            });
            let mut graceful = false;
            // hyper has no write timeout: a client that pipelines requests and never reads
            // would keep the connection (and a slot of the cap) for ever.
            let period = (limits.write_stall_timeout / 4).max(Duration::from_millis(10));
            let mut check = tokio::time::interval(period);
            // The connection, until the server stops; then hyper's graceful shutdown, which
            // closes it at once if idle and after the answer in progress otherwise.
            let ended = std::future::poll_fn(|cx| {
                if !graceful && stopped.as_mut().poll(cx).is_ready() {
                    connection.as_mut().graceful_shutdown();
                    graceful = true;
                }
                while check.poll_tick(cx).is_ready() {
                    if stall.longer_than(limits.write_stall_timeout) {
                        return std::task::Poll::Ready(Ok(false));
                    }
                }
                connection.as_mut().poll(cx).map(|r| r.map(|()| true))
            })
            .await;
            match ended {
                Ok(true) => {}
                Ok(false) => {
                    ours.write_stalls.fetch_add(1, Ordering::SeqCst);
                    tracing::debug!("simulator: closed a connection whose client took no answer");
                }
                Err(e) => tracing::debug!("simulator: connection ended: {e}"),
            }
        });
    }
}

/// Since when a connection's writes have made no progress, if they are waiting.
#[derive(Default)]
struct Stall(std::sync::Mutex<Option<std::time::Instant>>);

impl Stall {
    /// A write could not proceed: the stall starts now, unless it already runs.
    fn blocked(&self) {
        super::lock(&self.0).get_or_insert_with(std::time::Instant::now);
    }

    /// Bytes went out: no stall.
    fn progressed(&self) {
        *super::lock(&self.0) = None;
    }

    fn longer_than(&self, limit: Duration) -> bool {
        super::lock(&self.0).is_some_and(|since| since.elapsed() >= limit)
    }
}

/// A socket that notes when its writes stall and when they move again.
struct Watched {
    inner: tokio::net::TcpStream,
    stall: Arc<Stall>,
}

impl Watched {
    fn note<T>(
        &self,
        poll: Poll<io::Result<T>>,
        moved: impl Fn(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        match &poll {
            Poll::Pending => self.stall.blocked(),
            Poll::Ready(Ok(v)) if moved(v) => self.stall.progressed(),
            Poll::Ready(_) => {}
        }
        poll
    }
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(poll, |n| *n > 0)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(poll, |n| *n > 0)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.note(poll, |()| false)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The process's soft limit of open files, where the system tells it without `unsafe`
/// (Linux's `/proc/self/limits`); `None` elsewhere or if unlimited.
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&text)
}

fn parse_open_file_limit(text: &str) -> Option<usize> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The connection cap that fits under the open-file limit: each connection is one descriptor,
/// and the listener, the request log, callback deliveries and the blocking pool need some
/// too. Past the limit `accept` fails with `EMFILE` and new clients wait unanswered instead
/// of getting the cap's `503`.
fn fitting_connections(wanted: usize, open_files: Option<usize>) -> usize {
    let Some(limit) = open_files else {
        return wanted;
    };
    let headroom = 64 + limit / 8;
    let fitting = limit.saturating_sub(headroom).max(1);
    if wanted > fitting {
        tracing::warn!(
            "simulator: --max-connections {wanted} lowered to {fitting} to fit the open-file limit of {limit}"
        );
        fitting
    } else {
        wanted
    }
}

/// Reads the body within the limits, runs the handler, and converts its reply.
async fn answer(
    request: hyper::Request<Incoming>,
    limits: Limits,
    handler: Handler,
    counters: Arc<Counters>,
) -> Result<hyper::Response<Full<Bytes>>, Hangup> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        counters.bodies_refused.fetch_add(1, Ordering::SeqCst);
        // Refused before hyper sends `100 Continue`, so a client that asked never sends it.
        return Ok(closing(plain(
            413,
            "the body is larger than the simulator accepts",
        )));
    }
    let collected = tokio::time::timeout(
        limits.body_read_timeout,
        Limited::new(body, limits.max_body_bytes).collect(),
    )
    .await;
    let body = match collected {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            counters.bodies_refused.fetch_add(1, Ordering::SeqCst);
            return Ok(closing(plain(
                413,
                "the body is larger than the simulator accepts",
            )));
        }
        // The peer went away or broke the framing mid-body: nobody to answer.
        Ok(Err(_)) => return Err(Hangup),
        Err(_) => {
            counters.bodies_refused.fetch_add(1, Ordering::SeqCst);
            return Ok(closing(plain(408, "the body did not arrive in time")));
        }
    };
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else {
            return Ok(plain(400, &format!("header {name} is not visible ASCII")));
        };
        headers.push((name.as_str().to_owned(), value.trim().to_owned()));
    }
    let request = Request {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers,
        // The collected body is one buffer: taken over, not copied.
        body: Vec::from(body),
    };
    match tokio::task::spawn_blocking(move || handler(&request)).await {
        Ok(Reply::Send(response)) => Ok(to_hyper(response)),
        Ok(Reply::Drop) => Err(Hangup),
        Err(e) => {
            tracing::error!("simulator: a request handler failed: {e}");
            Ok(plain(500, "the simulator failed on this request"))
        }
    }
}

fn to_hyper(response: Response) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() =
        hyper::StatusCode::from_u16(response.status).unwrap_or(hyper::StatusCode::OK);
    let headers = out.headers_mut();
    if let Some(value) = response
        .content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
    {
        headers.insert(CONTENT_TYPE, value);
    }
    for (name, value) in response.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(n), Ok(v)) => {
                headers.append(n, v);
            }
            _ => tracing::warn!("simulator: dropped an unwritable response header {name:?}"),
        }
    }
    out
}

fn plain(status: u16, text: &str) -> hyper::Response<Full<Bytes>> {
    to_hyper(Response::with_body(
        status,
        "text/plain; charset=utf-8",
        format!("{text}\n").into_bytes(),
    ))
}

/// Marks a response as the connection's last (its request body may be unread).
fn closing(mut response: hyper::Response<Full<Bytes>>) -> hyper::Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    #[test]
    fn the_connection_cap_fits_under_the_open_file_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            1024                 524288               files     \n";
        assert_eq!(parse_open_file_limit(limits), Some(1024));
        assert_eq!(
            parse_open_file_limit("Max open files unlimited unlimited files"),
            None
        );
        assert_eq!(fitting_connections(4096, Some(1024)), 832);
        assert_eq!(fitting_connections(100, Some(1024)), 100);
        assert_eq!(fitting_connections(4096, Some(10)), 1);
        assert_eq!(fitting_connections(4096, None), 4096);
    }

    /// A request being answered when the server stops still gets its answer; an idle
    /// connection is closed at once (the callback sink relies on the first).
    /// Stopping needs no connection to the server's own address, which cannot always be
    /// reached (a wildcard IPv6 listener on an IPv6-only host): here the address it would
    /// connect to has nobody listening.
    #[test]
    fn stopping_does_not_depend_on_reaching_our_own_address() {
        let mut server = Server::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Limits::default(),
            Arc::new(|_request: &Request| Reply::Drop),
        )
        .unwrap();
        let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        server.addr = nobody.local_addr().unwrap();
        drop(nobody);
        let (done, stopped) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            server.shutdown();
            let _ = done.send(());
        });
        assert!(
            stopped.recv_timeout(Duration::from_secs(5)).is_ok(),
            "shutdown hung"
        );
    }

    #[test]
    fn stopping_lets_an_answer_in_progress_finish() {
        let mut server = Server::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Limits::default(),
            Arc::new(|_request: &Request| {
                std::thread::sleep(Duration::from_millis(300));
                Reply::Send(Response::with_body(200, "text/plain", b"late".to_vec()))
            }),
        )
        .unwrap();
        let mut busy = TcpStream::connect(server.local_addr()).unwrap();
        let mut idle = TcpStream::connect(server.local_addr()).unwrap();
        busy.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        server.shutdown();
        let mut answer = String::new();
        busy.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = busy.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 200 ") && answer.ends_with("late"),
            "{answer}"
        );
        idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(idle.read(&mut [0u8; 16]).unwrap_or(0), 0);
    }
}
