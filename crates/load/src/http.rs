//! A minimal HTTP/1.1 keep-alive client over a tokio `TcpStream`: enough to send one prepared request
//! repeatedly and read responses (Content-Length, chunked, or close-delimited bodies). HTTP/2 is in
//! `http2.rs`; both share the prepared request and the response type.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::config::RequestSpec;

/// The longest response head (status line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;

/// The most body bytes kept for a `body_contains` check; the rest is read and dropped.
pub(crate) const MAX_CAPTURE: usize = 1024 * 1024;

/// What went wrong with one request, before a complete response was read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The TCP connection could not be established.
    #[error("connect: {0}")]
    Connect(io::Error),
    /// The TLS handshake failed (certificate, protocol).
    #[error("tls: {0}")]
    Tls(io::Error),
    /// Writing the request or reading the response failed, or the response was malformed.
    #[error("{0}")]
    Io(io::Error),
    /// The server closed a reused connection before answering (safe to retry on a new one).
    #[error("connection closed before the response")]
    ClosedEarly,
}

/// A complete response as seen by the load generator.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    /// Status code.
    pub status: u16,
    /// Bytes read for this response (head and body).
    pub bytes: u64,
    /// Whether the connection may be reused.
    pub keep_alive: bool,
    /// The body (decoded from chunks, at most 1 MiB) when the request asked for it, else empty.
    pub body: Vec<u8>,
    /// From writing the request to having read the status line (time to first byte).
    pub ttfb: Duration,
    /// The response headers, when the request asked for them (to extract a variable).
    pub headers: Vec<(String, String)>,
}

/// The request, serialized once and sent unchanged on every iteration.
#[derive(Clone)]
pub(crate) struct PreparedRequest {
    bytes: Vec<u8>,
    is_head: bool,
    addr: (String, u16),
    /// For https: the TLS client and the name to verify.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    /// Whether to keep the response body (for a `body_contains` check or a variable).
    capture_body: bool,
    /// Whether to keep the response headers (for a variable).
    capture_headers: bool,
    /// The HTTP/2 form, when the run speaks HTTP/2 (or why the request cannot be sent that way).
    h2: Option<Result<crate::http2::H2Request, String>>,
}

impl PreparedRequest {
    /// Serializes the request line, headers and body of `cfg`; `tls` is the client for https URLs;
    /// `http2` also builds the HTTP/2 form.
    pub fn new(cfg: &RequestSpec, tls: Option<&TlsConnector>, http2: bool) -> PreparedRequest {
        let mut head =
            format!("{} {} HTTP/1.1\r\nHost: {}\r\n", cfg.method, cfg.url.path_and_query, cfg.url.host_header());
        let mut has_ua = false;
        for (name, value) in &cfg.headers {
            let lower = name.to_ascii_lowercase();
            if matches!(lower.as_str(), "host" | "content-length" | "connection" | "transfer-encoding") {
                continue;
            }
            has_ua |= lower == "user-agent";
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !has_ua {
            head.push_str(concat!("User-Agent: vitals-load/", env!("CARGO_PKG_VERSION"), "\r\n"));
        }
        let needs_length = !cfg.body.is_empty() || matches!(cfg.method.as_str(), "POST" | "PUT" | "PATCH");
        if needs_length {
            head.push_str(&format!("Content-Length: {}\r\n", cfg.body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&cfg.body);
        let tls = match (cfg.url.tls, tls) {
            (true, Some(c)) => ServerName::try_from(cfg.url.host.clone()).ok().map(|n| (c.clone(), n)),
            _ => None,
        };
        PreparedRequest {
            bytes,
            is_head: cfg.method == "HEAD",
            addr: (cfg.url.host.clone(), cfg.url.port),
            tls,
            capture_body: cfg.checks.body_contains.is_some()
                || !cfg.checks.json.is_empty()
                || cfg.extract.iter().any(|(_, e)| !e.needs_headers()),
            capture_headers: cfg.extract.iter().any(|(_, e)| e.needs_headers()),
            h2: http2.then(|| crate::http2::H2Request::new(cfg)),
        }
    }

    /// Host and port to connect to.
    pub fn addr(&self) -> (&str, u16) {
        (self.addr.0.as_str(), self.addr.1)
    }

    /// For https: the TLS client and the name to verify.
    pub fn tls(&self) -> Option<&(TlsConnector, ServerName<'static>)> {
        self.tls.as_ref()
    }

    /// Whether the response body is kept.
    pub fn capture_body(&self) -> bool {
        self.capture_body
    }

    /// Whether the response headers are kept.
    pub fn capture_headers(&self) -> bool {
        self.capture_headers
    }

    /// The HTTP/2 form (`None` when the run speaks HTTP/1.1).
    pub fn h2(&self) -> Option<&Result<crate::http2::H2Request, String>> {
        self.h2.as_ref()
    }
}

/// A plain or TLS connection.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One keep-alive connection.
pub(crate) struct Conn {
    stream: BufReader<Stream>,
    /// Whether a response was already read on it (then an early close means "stale", not "refused").
    pub reused: bool,
    /// The body of the current response, when captured.
    body: Vec<u8>,
    capturing: bool,
    /// How long the TCP connect took; taken (set to `None`) once recorded.
    pub connect_time: Option<Duration>,
    /// How long the TLS handshake took (https); taken once recorded.
    pub tls_time: Option<Duration>,
    /// The buffer response lines are read into.
    line: Vec<u8>,
}

impl Conn {
    /// Opens a connection to the request's target.
    pub async fn connect(req: &PreparedRequest) -> Result<Conn, HttpError> {
        let began = Instant::now();
        let stream = TcpStream::connect((req.addr.0.as_str(), req.addr.1)).await.map_err(HttpError::Connect)?;
        let connect_time = Some(began.elapsed());
        let _ = stream.set_nodelay(true);
        let (stream, tls_time) = match &req.tls {
            Some((connector, name)) => {
                let began = Instant::now();
                let tls = connector.connect(name.clone(), stream).await.map_err(HttpError::Tls)?;
                (Stream::Tls(Box::new(tls)), Some(began.elapsed()))
            }
            None => (Stream::Plain(stream), None),
        };
        Ok(Conn {
            line: Vec::with_capacity(256),
            connect_time,
            tls_time,
            stream: BufReader::with_capacity(16 * 1024, stream),
            reused: false,
            body: Vec::new(),
            capturing: false,
        })
    }

    /// Sends the request and reads the whole response, discarding the body.
    pub async fn send(&mut self, req: &PreparedRequest) -> Result<Response, HttpError> {
        let reused = self.reused;
        let early = |e: io::Error| {
            if reused && matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset) {
                HttpError::ClosedEarly
            } else {
                HttpError::Io(e)
            }
        };
        self.body.clear();
        self.capturing = req.capture_body;
        let began = Instant::now();
        self.stream.get_mut().write_all(&req.bytes).await.map_err(early)?;
        // TLS buffers inside rustls when the socket is full; reading the answer would not push it out.
        self.stream.get_mut().flush().await.map_err(early)?;
        // One line buffer per connection, reused: no allocation per response.
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let n = self.stream.read_until(b'\n', &mut line).await.map_err(early)?;
        let ttfb = began.elapsed();
        if n == 0 {
            return Err(if reused { HttpError::ClosedEarly } else { HttpError::Io(eof("before the status line")) });
        }
        let mut bytes = n as u64;
        let (version_11, status) = parse_status_line(&line)?;
        let mut keep_alive = version_11;
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut headers = Vec::new();
        loop {
            line.clear();
            let n = self.stream.read_until(b'\n', &mut line).await.map_err(HttpError::Io)?;
            if n == 0 {
                return Err(HttpError::Io(eof("in the response head")));
            }
            bytes += n as u64;
            if bytes > MAX_HEAD as u64 {
                return Err(HttpError::Io(invalid("response head too large")));
            }
            // Bytes, not strings: header names and values are compared without allocating.
            let text = line.trim_ascii();
            if text.is_empty() {
                break;
            }
            let Some(colon) = text.iter().position(|&b| b == b':') else { continue };
            let (name, value) = (text[..colon].trim_ascii(), text[colon + 1..].trim_ascii());
            if req.capture_headers {
                headers.push((String::from_utf8_lossy(name).into_owned(), String::from_utf8_lossy(value).into_owned()));
            }
            if name.eq_ignore_ascii_case(b"content-length") {
                let v = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
                length = Some(v.ok_or_else(|| HttpError::Io(invalid("bad Content-Length")))?);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                chunked = contains_ignore_case(value, b"chunked");
            } else if name.eq_ignore_ascii_case(b"connection") {
                if contains_ignore_case(value, b"close") {
                    keep_alive = false;
                } else if contains_ignore_case(value, b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
        self.line = line;
        let bodyless = req.is_head || status == 204 || status == 304 || (100..200).contains(&status);
        if bodyless {
        } else if chunked {
            bytes += self.read_chunked().await?;
        } else if let Some(len) = length {
            bytes += self.discard(len).await?;
        } else {
            bytes += self.discard(u64::MAX).await?;
            keep_alive = false;
        }
        self.reused = true;
        Ok(Response { status, bytes, keep_alive, body: std::mem::take(&mut self.body), ttfb, headers })
    }

    /// Reads and drops up to `len` body bytes (until EOF when `len` is `u64::MAX`).
    async fn discard(&mut self, len: u64) -> Result<u64, HttpError> {
        let mut left = len;
        while left > 0 {
            let buf = self.stream.fill_buf().await.map_err(HttpError::Io)?;
            if buf.is_empty() {
                if len == u64::MAX {
                    break;
                }
                return Err(HttpError::Io(eof("in the response body")));
            }
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            if self.capturing && self.body.len() < MAX_CAPTURE {
                let keep = n.min(MAX_CAPTURE - self.body.len());
                self.body.extend_from_slice(&buf[..keep]);
            }
            self.stream.consume(n);
            left -= n as u64;
        }
        Ok(len - left)
    }

    /// Reads a chunked body and its trailers, returning the bytes read.
    async fn read_chunked(&mut self) -> Result<u64, HttpError> {
        let mut total = 0u64;
        let mut line = Vec::with_capacity(32);
        loop {
            line.clear();
            let n = self.stream.read_until(b'\n', &mut line).await.map_err(HttpError::Io)?;
            if n == 0 {
                return Err(HttpError::Io(eof("in a chunked body")));
            }
            total += n as u64;
            let text = std::str::from_utf8(&line).unwrap_or("").trim();
            let size_hex = text.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_hex, 16).map_err(|_| HttpError::Io(invalid("bad chunk size")))?;
            if size == 0 {
                // Trailers end with an empty line.
                loop {
                    line.clear();
                    let n = self.stream.read_until(b'\n', &mut line).await.map_err(HttpError::Io)?;
                    total += n as u64;
                    if n == 0 || line.trim_ascii().is_empty() {
                        return Ok(total);
                    }
                }
            }
            total += self.discard(size).await?;
            let mut crlf = [0u8; 2];
            self.stream.read_exact(&mut crlf).await.map_err(HttpError::Io)?;
            total += 2;
        }
    }
}

/// Whether `hay` contains `needle`, ignoring ASCII case.
fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

fn parse_status_line(line: &[u8]) -> Result<(bool, u16), HttpError> {
    let text = std::str::from_utf8(line).map_err(|_| HttpError::Io(invalid("bad status line")))?;
    let mut parts = text.split_ascii_whitespace();
    let version = parts.next().unwrap_or("");
    let status = parts.next().and_then(|s| s.parse::<u16>().ok());
    match (version.strip_prefix("HTTP/1."), status) {
        (Some(minor), Some(status)) => Ok((minor != "0", status)),
        _ => Err(HttpError::Io(invalid("bad status line"))),
    }
}

fn eof(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, format!("connection closed {what}"))
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// The TLS client for https targets (vitals-client's `tls_config` client): the built-in web PKI roots,
/// the CA certificates of `ca_file`, or (with `insecure`) any certificate; ALPN offers only HTTP/1.1,
/// or only HTTP/2 (`h2`) with `http2`.
pub(crate) fn tls_connector(
    insecure: bool,
    ca_file: Option<&std::path::Path>,
    http2: bool,
) -> Result<TlsConnector, String> {
    let cfg = vitals_client::TlsConfig {
        insecure_skip_verify: insecure,
        ca_file: ca_file.map(std::path::Path::to_path_buf),
        ..Default::default()
    };
    let alpn: &[u8] = if http2 { b"h2" } else { b"http/1.1" };
    Ok(TlsConnector::from(vitals_client::tls::rustls_client_config(&cfg, &[alpn])?))
}
