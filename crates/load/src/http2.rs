//! HTTP/2 for the load generator: requests go as streams multiplexed over a fixed number of connections
//! (h2c with prior knowledge on http, ALPN `h2` on https); the framing is the `h2` crate's.

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};
use tokio::net::TcpStream;

use crate::config::RequestSpec;
use crate::http::{HttpError, PreparedRequest, Response, MAX_CAPTURE};

/// Streams a connection carries at once (the usual `SETTINGS_MAX_CONCURRENT_STREAMS`; when a server
/// allows fewer, further requests wait for a stream to close).
pub(crate) const STREAMS_PER_CONN: usize = 100;

/// Flow-control windows we grant the server: per stream and per connection. Responses are read as they
/// come, so the windows only bound what may be in flight, not what is kept.
const STREAM_WINDOW: u32 = 1 << 20;
const CONN_WINDOW: u32 = 16 << 20;

/// Headers that describe an HTTP/1.1 connection and are not allowed in HTTP/2 (RFC 9113, 8.2.2); `host`
/// becomes the `:authority` pseudo-header.
const CONNECTION_HEADERS: [&str; 7] =
    ["host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "content-length"];

/// A request in HTTP/2 form, built once and cloned per stream.
#[derive(Clone, Debug)]
pub(crate) struct H2Request {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    idempotent: bool,
}

impl H2Request {
    /// The HTTP/2 form of `cfg`; an error names the method, URL or header HTTP/2 cannot carry.
    pub fn new(cfg: &RequestSpec) -> Result<H2Request, String> {
        let method = Method::from_bytes(cfg.method.as_bytes()).map_err(|_| format!("method {:?}", cfg.method))?;
        let scheme = if cfg.url.tls { "https" } else { "http" };
        let uri = format!("{scheme}://{}{}", cfg.url.host_header(), cfg.url.path_and_query);
        let uri: Uri = uri.parse().map_err(|e| format!("URL {uri:?}: {e}"))?;
        let mut headers = HeaderMap::new();
        let mut has_ua = false;
        for (name, value) in &cfg.headers {
            let lower = name.to_ascii_lowercase();
            if CONNECTION_HEADERS.contains(&lower.as_str())
                || (lower == "te" && !value.eq_ignore_ascii_case("trailers"))
            {
                continue;
            }
            has_ua |= lower == "user-agent";
            let name = HeaderName::from_bytes(lower.as_bytes()).map_err(|_| format!("header name {name:?}"))?;
            // Bytes, as HTTP/1.1 sends them (UTF-8 included); only control characters are refused.
            let value =
                HeaderValue::from_bytes(value.as_bytes()).map_err(|_| format!("header {name}: value {value:?}"))?;
            headers.append(name, value);
        }
        if !has_ua {
            let ua = concat!("vitals-load/", env!("CARGO_PKG_VERSION"));
            headers.insert(http::header::USER_AGENT, HeaderValue::from_static(ua));
        }
        if !cfg.body.is_empty() || matches!(cfg.method.as_str(), "POST" | "PUT" | "PATCH") {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(cfg.body.len()));
        }
        // Safe to send again when a connection fails under it (RFC 9110, 9.2.2).
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
        );
        Ok(H2Request { method, uri, headers, body: Bytes::from(cfg.body.clone()), idempotent })
    }
}

/// The HTTP/2 connections to one address: a fixed number of slots, each one connection shared by the
/// streams of every worker assigned to it, (re)connected on first use.
pub(crate) struct H2Pool {
    slots: Vec<tokio::sync::Mutex<Option<SendRequest<Bytes>>>>,
}

/// How long a new connection took to set up: TCP connect, and the TLS handshake on https.
pub(crate) type Setup = (Duration, Option<Duration>);

impl H2Pool {
    /// A pool of `n` connections (at least one).
    pub fn new(n: usize) -> H2Pool {
        H2Pool { slots: (0..n.max(1)).map(|_| tokio::sync::Mutex::new(None)).collect() }
    }

    /// Sends `req` on connection `slot` (modulo the pool size), connecting it when it has none or its
    /// connection is gone, and retrying once on a new connection when an old one turns out to be closed
    /// before the request went out, refused the stream, or (idempotent methods only) failed under it.
    /// Returns the response and, when it connected, the set-up times.
    pub async fn send(&self, slot: usize, req: &PreparedRequest) -> Result<(Response, Option<Setup>), HttpError> {
        let h2 = match req.h2() {
            Some(Ok(h2)) => h2,
            Some(Err(e)) => return Err(HttpError::Io(io::Error::new(io::ErrorKind::InvalidInput, e.clone()))),
            None => return Err(HttpError::Io(io::Error::other("request not prepared for HTTP/2"))),
        };
        let slot = &self.slots[slot % self.slots.len()];
        let mut setup = None;
        let mut retried = false;
        loop {
            let handle = {
                let mut guard = slot.lock().await;
                match guard.as_ref() {
                    Some(h) => h.clone(),
                    None => {
                        let (h, s) = connect(req).await?;
                        setup = Some(s);
                        retried = true; // a fresh connection is not retried
                        guard.insert(h).clone()
                    }
                }
            };
            match exchange(handle, h2, req).await {
                Err(Exchange::ConnectionGone(e)) => {
                    let mut guard = slot.lock().await;
                    // Only drop the connection if nobody replaced it in the meantime.
                    if guard.as_ref().is_some_and(connection_failed) {
                        *guard = None;
                    }
                    drop(guard);
                    if retried {
                        return Err(HttpError::Io(e));
                    }
                    retried = true;
                }
                Err(Exchange::Failed(e)) => return Err(e),
                Ok(resp) => return Ok((resp, setup)),
            }
        }
    }
}

/// Why one exchange failed.
enum Exchange {
    /// The connection is closed (GOAWAY, reset, EOF): safe to retry on a new one.
    ConnectionGone(io::Error),
    /// The stream failed (reset by the server, a protocol error in the response).
    Failed(HttpError),
}

/// Whether a handle's connection has failed, checked without waiting.
fn connection_failed(handle: &SendRequest<Bytes>) -> bool {
    let mut h = handle.clone();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    matches!(h.poll_ready(&mut cx), std::task::Poll::Ready(Err(_)))
}

/// Opens a connection for `req`: TCP, TLS with ALPN `h2` on https, then the HTTP/2 preface and settings;
/// the connection is driven by its own task from then on.
async fn connect(req: &PreparedRequest) -> Result<(SendRequest<Bytes>, Setup), HttpError> {
    let (host, port) = req.addr();
    let began = Instant::now();
    let tcp = TcpStream::connect((host, port)).await.map_err(HttpError::Connect)?;
    let connect_time = began.elapsed();
    let _ = tcp.set_nodelay(true);
    let mut builder = h2::client::Builder::new();
    // Until the server's SETTINGS arrive, assume the usual stream limit rather than none, so a burst of
    // workers on a new connection does not open more streams than the server will take.
    builder
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONN_WINDOW)
        .initial_max_send_streams(STREAMS_PER_CONN);
    let handshake_err = |e: h2::Error| HttpError::Io(io::Error::other(format!("HTTP/2 handshake: {e}")));
    let (handle, tls_time) = match req.tls() {
        Some((connector, name)) => {
            let began = Instant::now();
            let tls = connector.connect(name.clone(), tcp).await.map_err(HttpError::Tls)?;
            let tls_time = began.elapsed();
            if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Err(HttpError::Tls(io::Error::other("the server did not agree to HTTP/2 (ALPN h2)")));
            }
            let (handle, conn) = builder.handshake(tls).await.map_err(handshake_err)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            (handle, Some(tls_time))
        }
        None => {
            let (handle, conn) = builder.handshake(tcp).await.map_err(handshake_err)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            (handle, None)
        }
    };
    Ok((handle, (connect_time, tls_time)))
}

/// Sends one request as a stream on `handle` and reads the whole response.
async fn exchange(handle: SendRequest<Bytes>, h2: &H2Request, req: &PreparedRequest) -> Result<Response, Exchange> {
    let gone = |e: h2::Error| Exchange::ConnectionGone(io::Error::other(e.to_string()));
    let failed = |e: h2::Error| Exchange::Failed(HttpError::Io(io::Error::other(e.to_string())));
    // After the request may have reached the server: a refused stream was not processed (RFC 9113,
    // 8.7) and is retried; a connection failing under it only for methods safe to repeat.
    let after_send = |e: h2::Error| {
        let refused = e.reason() == Some(h2::Reason::REFUSED_STREAM);
        if refused || (h2.idempotent && (e.is_go_away() || e.is_io())) {
            gone(e)
        } else {
            failed(e)
        }
    };
    // Fails when the connection is gone (nothing was sent yet). Each exchange has its own handle, so
    // this does not wait for a free stream: h2 queues a stream over the server's limit inside, and that
    // wait counts in the time to first byte.
    let mut handle = handle.ready().await.map_err(gone)?;
    let began = Instant::now();
    let mut request = Request::new(());
    *request.method_mut() = h2.method.clone();
    *request.uri_mut() = h2.uri.clone();
    *request.headers_mut() = h2.headers.clone();
    let end = h2.body.is_empty();
    let (response, mut stream) = handle.send_request(request, end).map_err(after_send)?;
    if !end {
        stream.send_data(h2.body.clone(), true).map_err(after_send)?;
    }
    let response = response.await.map_err(after_send)?;
    let ttfb = began.elapsed();
    let (parts, mut body) = response.into_parts();
    // HTTP/2 compresses headers: count what they decode to (name, value and ": \r\n" as in HTTP/1.1).
    let mut bytes: u64 = parts.headers.iter().map(|(n, v)| (n.as_str().len() + v.len() + 4) as u64).sum();
    let headers = if req.capture_headers() {
        parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect()
    } else {
        Vec::new()
    };
    let mut captured = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(failed)?;
        let n = chunk.len();
        bytes += n as u64;
        if req.capture_body() && captured.len() < MAX_CAPTURE {
            let keep = n.min(MAX_CAPTURE - captured.len());
            captured.extend_from_slice(&chunk[..keep]);
        }
        let _ = body.flow_control().release_capacity(n);
    }
    Ok(Response { status: parts.status.as_u16(), bytes, keep_alive: true, body: captured, ttfb, headers })
}
