//! Real servers on loopback for the probe tests: an axum HTTP app, a TLS server with rcgen
//! certificates, a line-based TCP server and a hickory DNS server.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

/// Whether a peer binary is on PATH. In CI (`CI=true`) a missing peer is a test failure, not a skip.
pub fn have_peer(bin: &str) -> bool {
    let found =
        Command::new("sh").arg("-c").arg(format!("command -v {bin}")).output().is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("peer {bin} is not installed; .ci/run should have installed it");
        }
        eprintln!("SKIPPED: {bin} is not installed (apt-get install it to run this test)");
    }
    found
}

/// The test HTTP app: `/ok`, `/slow`, `/fail`, `/redirect`, `/redirect3`, `/loop`, `/gzip`,
/// `/lastmod`, `POST /login` and `/me` (needs `Authorization: Bearer abc`).
pub fn app() -> Router {
    Router::new()
        .route("/ok", get(|| async { "hello world, all systems go" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route("/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "broken") }))
        .route("/redirect", get(|| async { (StatusCode::FOUND, [("location", "/ok")]) }))
        .route("/redirect3", get(|| async { (StatusCode::MOVED_PERMANENTLY, [("location", "/redirect2")]) }))
        .route("/redirect2", get(|| async { (StatusCode::FOUND, [("location", "redirect")]) }))
        .route("/loop", get(|| async { (StatusCode::FOUND, [("location", "/loop")]) }))
        .route(
            "/gzip",
            get(|| async {
                use std::io::Write as _;
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(&b"compressed hello ".repeat(100)).unwrap();
                ([("content-encoding", "gzip")], e.finish().unwrap())
            }),
        )
        .route("/lastmod", get(|| async { ([("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT")], "x") }))
        .route(
            "/login",
            post(|body: String| async move {
                if body.contains("alice") {
                    (
                        StatusCode::OK,
                        [("content-type", "application/json")],
                        r#"{"token":"abc","user":{"roles":["admin"]}}"#,
                    )
                        .into_response()
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }),
        )
        .route(
            "/me",
            get(|h: HeaderMap| async move {
                if h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer abc") {
                    (StatusCode::OK, r#"{"name":"alice"}"#).into_response()
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }),
        )
}

/// Serves [`app`] on a free loopback port; returns `http://127.0.0.1:PORT`.
pub async fn http_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app()).await.unwrap() });
    format!("http://{addr}")
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, expiring at `not_after` (Unix s).
pub struct TestCert {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

pub fn self_signed(not_after: i64) -> TestCert {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "vitals test");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "vitals");
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    TestCert { cert_pem: cert.pem(), cert_der: cert.der().to_vec(), key_der: key.serialize_der() }
}

/// A TLS server answering every HTTP request with 200 "secure"; returns its address.
pub async fn tls_http_server(cert: &TestCert) -> SocketAddr {
    use tokio_rustls::rustls;
    let certs = vec![rustls::pki_types::CertificateDer::from(cert.cert_der.clone())];
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_der.clone().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(sock).await else { return };
                let mut rd = BufReader::new(tls);
                let mut line = String::new();
                loop {
                    line.clear();
                    if rd.read_line(&mut line).await.unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                let _ = rd
                    .get_mut()
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure")
                    .await;
                let _ = rd.get_mut().shutdown().await;
            });
        }
    });
    addr
}

/// A line server: greets with `220 ready`, answers `PING <x>` with `PONG <x>`, `QUIT` with `221 bye`.
pub async fn line_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut rd = BufReader::new(sock);
                let _ = rd.get_mut().write_all(b"220 ready\r\n").await;
                let mut line = String::new();
                loop {
                    line.clear();
                    if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim();
                    let reply = if let Some(x) = l.strip_prefix("PING ") {
                        format!("PONG {x}\r\n")
                    } else if l == "QUIT" {
                        let _ = rd.get_mut().write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        "500 what\r\n".to_string()
                    };
                    let _ = rd.get_mut().write_all(reply.as_bytes()).await;
                }
            });
        }
    });
    addr
}

/// A hickory DNS server on a free UDP (and TCP) port serving zone `example.test.` with
/// `www A 192.0.2.10` and `multi A 192.0.2.1, 192.0.2.2`.
pub async fn dns_server() -> SocketAddr {
    use hickory_proto::rr::rdata::{A, SOA};
    use hickory_proto::rr::{LowerName, Name, RData, Record};
    use hickory_server::authority::{Catalog, ZoneType};
    use hickory_server::store::in_memory::InMemoryAuthority;
    use std::str::FromStr;

    let origin = Name::from_str("example.test.").unwrap();
    let mut auth = InMemoryAuthority::empty(origin.clone(), ZoneType::Primary, false);
    let soa = SOA::new(
        Name::from_str("ns.example.test.").unwrap(),
        Name::from_str("admin.example.test.").unwrap(),
        1,
        3600,
        600,
        86400,
        60,
    );
    auth.upsert_mut(Record::from_rdata(origin.clone(), 3600, RData::SOA(soa)), 1);
    let www = Name::from_str("www.example.test.").unwrap();
    auth.upsert_mut(Record::from_rdata(www, 300, RData::A(A::new(192, 0, 2, 10))), 1);
    let multi = Name::from_str("multi.example.test.").unwrap();
    auth.upsert_mut(Record::from_rdata(multi.clone(), 300, RData::A(A::new(192, 0, 2, 1))), 1);
    auth.upsert_mut(Record::from_rdata(multi, 300, RData::A(A::new(192, 0, 2, 2))), 1);
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&origin), vec![Arc::new(auth)]);
    // UDP and TCP on the same port: the UDP port's TCP twin may be taken (an outgoing connection's
    // local port), so try a few ports.
    let mut tries = 0;
    let (udp, tcp, addr) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        match TcpListener::bind(addr).await {
            Ok(tcp) => break (udp, tcp, addr),
            Err(e) if tries < 20 => {
                tries += 1;
                eprintln!("dns test server: tcp {addr}: {e}; another port");
            }
            Err(e) => panic!("dns test server: tcp {addr}: {e}"),
        }
    };
    let mut server = hickory_server::ServerFuture::new(catalog);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5));
    tokio::spawn(async move {
        let _ = server.block_until_done().await;
    });
    addr
}

/// Reads a whole HTTP/1.0 response body from `url` (for the peer test).
pub async fn http_get(addr: &str, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}
