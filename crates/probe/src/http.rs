//! The http prober: a small HTTP/1.1 client over a tokio `TcpStream` (and tokio-rustls), one
//! connection per request, so each phase (resolve, connect, tls, processing, transfer) is timed as
//! blackbox_exporter times it; redirects (at most 10), chunked and length-delimited bodies, gzip
//! and deflate when `compression` asks for them.

use std::io::Read as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use vitals_client::TlsConfig;

use crate::config::HttpProbe;
use crate::resolve::choose_address;
use crate::result::Gauges;

const PHASES: &str = "probe_http_duration_seconds";
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;
const MAX_REDIRECTS: u32 = 10;
const USER_AGENT: &str = concat!("vitals-probe/", env!("CARGO_PKG_VERSION"));

/// A parsed `http(s)://host[:port]/path?query` URL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Url {
    pub(crate) https: bool,
    /// Host without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Whether the port was written in the URL.
    pub(crate) explicit_port: bool,
    /// Path and query, starting with `/`.
    pub(crate) path: String,
}

impl Url {
    /// Parses an absolute URL; a target without scheme gets `http://`, as blackbox_exporter does.
    pub(crate) fn parse(s: &str) -> Result<Url, String> {
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if s.contains("://") {
            return Err(format!("unsupported URL scheme in {s:?}"));
        } else {
            (false, s)
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if authority.is_empty() {
            return Err(format!("no host in URL {s:?}"));
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = crate::resolve::split_host_port(authority, default_port)?;
        let explicit_port = authority.ends_with(&format!(":{port}")) && !authority.ends_with(']');
        let tail = tail.split('#').next().unwrap_or("");
        let path = if tail.is_empty() || tail.starts_with('?') { format!("/{tail}") } else { tail.to_string() };
        Ok(Url { https, host, port, explicit_port, path })
    }

    /// The `Host` header value.
    pub(crate) fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.explicit_port {
            format!("{host}:{}", self.port)
        } else {
            host
        }
    }

    /// Resolves a `Location` header against this URL.
    pub(crate) fn join(&self, loc: &str) -> Result<Url, String> {
        if loc.starts_with("http://") || loc.starts_with("https://") {
            return Url::parse(loc);
        }
        if let Some(rest) = loc.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", if self.https { "https" } else { "http" }));
        }
        let mut u = self.clone();
        if loc.starts_with('/') {
            u.path = loc.to_string();
        } else if loc.starts_with('?') {
            u.path = format!("{}{loc}", self.path.split('?').next().unwrap_or("/"));
        } else {
            let base = self.path.split('?').next().unwrap_or("/");
            let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
            u.path = format!("{dir}{loc}");
        }
        Ok(u)
    }
}

/// One response as read from the wire.
#[derive(Debug, Default)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub(crate) version: String,
    pub(crate) headers: Vec<(String, String)>,
    /// The body after content decoding (empty when not read).
    pub(crate) body: Vec<u8>,
    /// `Content-Length`, or -1 when absent.
    pub(crate) content_length: i64,
    /// Whether the connection was TLS.
    pub(crate) tls: bool,
    /// The TLS gauges of this connection.
    pub(crate) tls_gauges: Gauges,
    /// The response time from request written to body read.
    pub(crate) latency: Duration,
}

impl Response {
    /// The first value of a header (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What to send.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) url: &'a Url,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) body: Option<&'a [u8]>,
    pub(crate) tls_config: &'a TlsConfig,
    pub(crate) compression: &'a str,
    pub(crate) read_body: bool,
}

/// Connects to `ip`, sends the request, reads the response; phases are added to `g` as they end.
pub(crate) async fn round_trip(req: &Request<'_>, ip: IpAddr, g: &mut Gauges) -> Result<Response, String> {
    let connect_start = Instant::now();
    let tcp = TcpStream::connect(SocketAddr::new(ip, req.url.port))
        .await
        .map_err(|e| format!("connecting to {}: {e}", SocketAddr::new(ip, req.url.port)))?;
    let _ = tcp.set_nodelay(true);
    let connected = connect_start.elapsed();
    g.add_phase(PHASES, "connect", connected);
    if req.url.https {
        let stream = crate::tls::handshake(tcp, req.tls_config, &req.url.host, true).await;
        // blackbox_exporter's "tls" phase runs from connect start to the end of the handshake.
        g.add_phase(PHASES, "tls", connect_start.elapsed());
        let stream = stream?;
        let mut tg = Gauges::default();
        crate::tls::tls_gauges(&stream, !req.tls_config.insecure_skip_verify, &mut tg);
        let mut resp = exchange(stream, req, g).await?;
        resp.tls = true;
        resp.tls_gauges = tg;
        Ok(resp)
    } else {
        exchange(tcp, req, g).await
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    req: &Request<'_>,
    g: &mut Gauges,
) -> Result<Response, String> {
    let got_conn = Instant::now();
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.url.path);
    let has = |name: &str| req.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !has("host") {
        head.push_str(&format!("Host: {}\r\n", req.url.host_header()));
    }
    if !has("user-agent") {
        head.push_str(&format!("User-Agent: {USER_AGENT}\r\n"));
    }
    if !req.compression.is_empty() && !has("accept-encoding") {
        head.push_str(&format!("Accept-Encoding: {}\r\n", req.compression));
    }
    let body = req.body.unwrap_or(&[]);
    if req.body.is_some() || matches!(req.method, "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in req.headers {
        if k.contains(['\r', '\n']) || v.contains(['\r', '\n']) {
            return Err(format!("header {k:?} contains a line break"));
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut rd = BufReader::with_capacity(16 * 1024, stream);
    {
        let w = rd.get_mut();
        w.write_all(head.as_bytes()).await.map_err(|e| format!("sending request: {e}"))?;
        if !body.is_empty() {
            w.write_all(body).await.map_err(|e| format!("sending request body: {e}"))?;
        }
        w.flush().await.map_err(|e| format!("sending request: {e}"))?;
    }
    let mut resp;
    let first_byte;
    loop {
        if rd.fill_buf().await.map_err(|e| format!("reading response: {e}"))?.is_empty() {
            return Err("server closed the connection without a response".into());
        }
        let t = Instant::now();
        resp = read_head(&mut rd).await?;
        if !(100..200).contains(&resp.status) || resp.status == 101 {
            first_byte = t;
            break;
        }
    }
    g.add_phase(PHASES, "processing", first_byte - got_conn);
    let no_body = req.method == "HEAD" || resp.status == 204 || resp.status == 304 || (100..200).contains(&resp.status);
    resp.content_length = resp.header("content-length").and_then(|v| v.trim().parse().ok()).unwrap_or(-1);
    if !req.read_body {
        return Ok(resp);
    }
    let raw = if no_body {
        Vec::new()
    } else if resp.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        resp.content_length = -1;
        read_chunked(&mut rd).await?
    } else if resp.content_length >= 0 {
        let n = resp.content_length as usize;
        if n > MAX_BODY {
            return Err(format!("response body of {n} bytes is too large"));
        }
        let mut buf = Vec::with_capacity(n);
        (&mut rd).take(n as u64).read_to_end(&mut buf).await.map_err(|e| format!("reading body: {e}"))?;
        if buf.len() < n {
            return Err(format!("body ended after {} of {n} bytes", buf.len()));
        }
        buf
    } else {
        let mut buf = Vec::new();
        (&mut rd).take(MAX_BODY as u64 + 1).read_to_end(&mut buf).await.map_err(|e| format!("reading body: {e}"))?;
        if buf.len() > MAX_BODY {
            return Err("response body is too large".into());
        }
        buf
    };
    let end = Instant::now();
    // As blackbox_exporter: the transfer phase is that of the response kept, not of redirects
    // (whose bodies Go's client discards).
    if !(is_redirect(resp.status) && resp.header("location").is_some()) {
        g.add_phase(PHASES, "transfer", end - first_byte);
    }
    resp.latency = end - got_conn;
    let encoding = resp.header("content-encoding").unwrap_or("").trim().to_ascii_lowercase();
    resp.body = if !req.compression.is_empty() && req.compression != "identity" && encoding == req.compression {
        decode(&raw, &encoding)?
    } else {
        raw
    };
    Ok(resp)
}

async fn read_head<R: AsyncBufReadExt + Unpin>(rd: &mut R) -> Result<Response, String> {
    let mut line = Vec::new();
    let mut total = 0;
    let mut resp = Response::default();
    let mut first = true;
    loop {
        line.clear();
        let n = rd.read_until(b'\n', &mut line).await.map_err(|e| format!("reading response head: {e}"))?;
        total += n;
        if n == 0 {
            return Err("connection closed in the response head".into());
        }
        if total > MAX_HEAD {
            return Err("response head is too large".into());
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if first {
            first = false;
            let mut parts = text.splitn(3, ' ');
            let version = parts.next().unwrap_or("");
            if !version.starts_with("HTTP/1.") {
                return Err(format!("malformed HTTP status line {text:?}"));
            }
            resp.version = version.to_string();
            resp.status = parts
                .next()
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| format!("malformed HTTP status line {text:?}"))?;
            continue;
        }
        if text.is_empty() {
            return Ok(resp);
        }
        if let Some((k, v)) = text.split_once(':') {
            resp.headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
}

async fn read_chunked<R: AsyncBufReadExt + Unpin>(rd: &mut R) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if rd.read_line(&mut line).await.map_err(|e| format!("reading chunk size: {e}"))? == 0 {
            return Err("connection closed inside a chunked body".into());
        }
        let size = line.trim().split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| format!("malformed chunk size {size:?}"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                let n = rd.read_line(&mut line).await.map_err(|e| format!("reading trailer: {e}"))?;
                if n == 0 || line.trim().is_empty() {
                    return Ok(out);
                }
            }
        }
        if out.len() + size > MAX_BODY {
            return Err("response body is too large".into());
        }
        let start = out.len();
        out.resize(start + size, 0);
        rd.read_exact(&mut out[start..]).await.map_err(|e| format!("reading chunk: {e}"))?;
        let mut crlf = [0u8; 2];
        rd.read_exact(&mut crlf).await.map_err(|e| format!("reading chunk end: {e}"))?;
        if &crlf != b"\r\n" {
            return Err("malformed chunk terminator".into());
        }
    }
}

fn decode(raw: &[u8], encoding: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let r = match encoding {
        "gzip" => flate2::read::MultiGzDecoder::new(raw).read_to_end(&mut out),
        // HTTP's "deflate" is zlib-wrapped; some servers send raw deflate.
        "deflate" => match flate2::read::ZlibDecoder::new(raw).read_to_end(&mut out) {
            Ok(n) => Ok(n),
            Err(_) => {
                out.clear();
                flate2::read::DeflateDecoder::new(raw).read_to_end(&mut out)
            }
        },
        _ => return Ok(raw.to_vec()),
    };
    r.map_err(|e| format!("decoding {encoding} body: {e}"))?;
    Ok(out)
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The `Authorization` header of the module's credentials, if any.
pub(crate) fn auth_header(h: &HttpProbe) -> Result<Option<String>, String> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).map(|s| s.trim().to_string()).map_err(|e| format!("reading {}: {e}", p.display()))
    };
    if let Some(b) = &h.basic_auth {
        let pw = match (&b.password, &b.password_file) {
            (Some(p), _) => p.expose().to_string(),
            (None, Some(f)) => read(f)?,
            _ => String::new(),
        };
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{}:{pw}", b.username));
        return Ok(Some(format!("Basic {enc}")));
    }
    if let Some(t) = &h.bearer_token {
        return Ok(Some(format!("Bearer {}", t.expose())));
    }
    if let Some(f) = &h.bearer_token_file {
        return Ok(Some(format!("Bearer {}", read(f)?)));
    }
    if let Some(a) = &h.authorization {
        let creds = match (&a.credentials, &a.credentials_file) {
            (Some(c), _) => c.expose().to_string(),
            (None, Some(f)) => read(f)?,
            _ => String::new(),
        };
        let kind = if a.kind.is_empty() { "Bearer" } else { a.kind.as_str() };
        return Ok(Some(format!("{kind} {creds}")));
    }
    Ok(None)
}

/// Runs the http prober; returns the failure reason, if any.
pub(crate) async fn probe_http(h: &HttpProbe, target: &str, g: &mut Gauges) -> Result<(), String> {
    for phase in ["resolve", "connect", "tls", "processing", "transfer"] {
        g.add_phase(PHASES, phase, Duration::ZERO);
    }
    for name in [
        "probe_http_content_length",
        "probe_http_uncompressed_body_length",
        "probe_http_redirects",
        "probe_http_ssl",
        "probe_http_status_code",
        "probe_http_version",
        "probe_failed_due_to_regex",
    ] {
        g.set(name, 0.0);
    }
    let mut url = Url::parse(target)?;
    let (mut ip, lookup) = choose_address(&url.host, &h.preferred_ip_protocol, h.ip_protocol_fallback, g).await?;
    g.add_phase(PHASES, "resolve", lookup);

    let mut headers: Vec<(String, String)> = h.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(a) = auth_header(h)? {
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization")) {
            headers.push(("Authorization".into(), a));
        }
    }
    let body_owned = match (&h.body, &h.body_file) {
        (Some(b), _) => Some(b.clone().into_bytes()),
        (None, Some(f)) => Some(std::fs::read(f).map_err(|e| format!("reading body_file {}: {e}", f.display()))?),
        _ => None,
    };
    let mut method = if h.method.is_empty() { "GET".to_string() } else { h.method.to_ascii_uppercase() };
    let mut body = body_owned.as_deref();
    let mut redirects = 0u32;
    let mut hop = 0u32;
    let (resp, read_body) = loop {
        if hop > 0 {
            let start = Instant::now();
            let (next_ip, _) =
                choose_address(&url.host, &h.preferred_ip_protocol, h.ip_protocol_fallback, &mut Gauges::default())
                    .await?;
            ip = next_ip;
            g.add_phase(PHASES, "resolve", start.elapsed());
        }
        let req = Request {
            method: &method,
            url: &url,
            headers: &headers,
            body,
            tls_config: &h.tls_config,
            compression: &h.compression,
            read_body: true,
        };
        let resp = round_trip(&req, ip, g).await?;
        let location = resp.header("location").map(str::to_string);
        if is_redirect(resp.status) {
            if let Some(loc) = location {
                // As Go's client: the redirect counter is the number of requests made so far.
                redirects = hop + 1;
                if !h.follows_redirects() || redirects > MAX_REDIRECTS {
                    break (resp, false);
                }
                url = url.join(&loc)?;
                if (301..=303).contains(&resp.status) {
                    if method != "GET" && method != "HEAD" {
                        method = "GET".into();
                    }
                    body = None;
                }
                hop += 1;
                continue;
            }
        }
        break (resp, true);
    };
    finish_http(h, resp, read_body, redirects, g)
}

fn finish_http(h: &HttpProbe, resp: Response, read_body: bool, redirects: u32, g: &mut Gauges) -> Result<(), String> {
    let mut failure: Option<String> = None;
    let ok_status = if h.valid_status_codes.is_empty() {
        (200..300).contains(&resp.status)
    } else {
        h.valid_status_codes.contains(&resp.status)
    };
    if !ok_status {
        failure = Some(format!("invalid HTTP status code {}", resp.status));
    }
    if failure.is_none() && (!h.fail_if_header_matches.is_empty() || !h.fail_if_header_not_matches.is_empty()) {
        match check_headers(h, &resp) {
            Ok(()) => g.set("probe_failed_due_to_regex", 0.0),
            Err(e) => {
                g.set("probe_failed_due_to_regex", 1.0);
                failure = Some(e);
            }
        }
    }
    if failure.is_none() && (!h.fail_if_body_matches_regexp.is_empty() || !h.fail_if_body_not_matches_regexp.is_empty())
    {
        let text = String::from_utf8_lossy(&resp.body);
        let bad = h.fail_if_body_matches_regexp.iter().find(|r| r.0.is_match(&text));
        let missing = h.fail_if_body_not_matches_regexp.iter().find(|r| !r.0.is_match(&text));
        if let Some(r) = bad {
            g.set("probe_failed_due_to_regex", 1.0);
            failure = Some(format!("body matched regular expression {:?}", r.0.as_str()));
        } else if let Some(r) = missing {
            g.set("probe_failed_due_to_regex", 1.0);
            failure = Some(format!("body did not match regular expression {:?}", r.0.as_str()));
        } else {
            g.set("probe_failed_due_to_regex", 0.0);
        }
    }
    if let Some(lm) = resp.header("last-modified") {
        if let Ok(t) = httpdate::parse_http_date(lm) {
            let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as f64).unwrap_or(0.0);
            g.set("probe_http_last_modified_timestamp_seconds", secs);
        }
    }
    g.set("probe_http_version", resp.version.trim_start_matches("HTTP/").parse().unwrap_or(0.0));
    if !h.valid_http_versions.is_empty() && !h.valid_http_versions.contains(&resp.version) && failure.is_none() {
        failure = Some(format!("invalid HTTP version {}", resp.version));
    }
    if resp.tls {
        g.set("probe_http_ssl", 1.0);
        g.metrics.extend(resp.tls_gauges.metrics.iter().cloned());
        if h.fail_if_ssl && failure.is_none() {
            failure = Some("final request was over SSL".into());
        }
    } else if h.fail_if_not_ssl && failure.is_none() {
        failure = Some("final request was not over SSL".into());
    }
    g.set("probe_http_status_code", resp.status as f64);
    g.set("probe_http_content_length", resp.content_length as f64);
    g.set("probe_http_uncompressed_body_length", if read_body { resp.body.len() as f64 } else { 0.0 });
    g.set("probe_http_redirects", redirects as f64);
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

fn check_headers(h: &HttpProbe, resp: &Response) -> Result<(), String> {
    let values = |name: &str| -> Vec<&str> {
        resp.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    };
    for m in &h.fail_if_header_matches {
        let vs = values(&m.header);
        if vs.is_empty() {
            if m.allow_missing {
                continue;
            }
            return Err(format!("missing required header {:?}", m.header));
        }
        if let Some(v) = vs.iter().find(|v| m.regexp.0.is_match(v)) {
            return Err(format!("header {:?} value {v:?} matched {:?}", m.header, m.regexp.0.as_str()));
        }
    }
    for m in &h.fail_if_header_not_matches {
        let vs = values(&m.header);
        if vs.is_empty() {
            if m.allow_missing {
                continue;
            }
            return Err(format!("missing required header {:?}", m.header));
        }
        if !vs.iter().any(|v| m.regexp.0.is_match(v)) {
            return Err(format!("header {:?} did not match {:?}", m.header, m.regexp.0.as_str()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("127.0.0.1:8080").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port, u.path.as_str()), (false, "127.0.0.1", 8080, "/"));
        assert_eq!(u.host_header(), "127.0.0.1:8080");
        let u = Url::parse("https://[::1]/a/b?x=1#frag").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port, u.path.as_str()), (true, "::1", 443, "/a/b?x=1"));
        assert_eq!(u.host_header(), "[::1]");
        assert_eq!(u.join("c").unwrap().path, "/a/c");
        assert_eq!(u.join("/z").unwrap().path, "/z");
        assert_eq!(u.join("http://h:1/q").unwrap(), Url::parse("http://h:1/q").unwrap());
        assert!(Url::parse("ftp://x").is_err());
    }

    #[test]
    fn decodes_gzip_and_deflate() {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"hello").unwrap();
        assert_eq!(decode(&e.finish().unwrap(), "gzip").unwrap(), b"hello");
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"hello").unwrap();
        assert_eq!(decode(&e.finish().unwrap(), "deflate").unwrap(), b"hello");
    }

    #[tokio::test]
    async fn chunked_bodies() {
        let data: &[u8] = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
        let mut rd = BufReader::new(data);
        assert_eq!(read_chunked(&mut rd).await.unwrap(), b"hello world");
        let mut rd = BufReader::new(&b"5\r\nhel"[..]);
        assert!(read_chunked(&mut rd).await.is_err());
    }
}
