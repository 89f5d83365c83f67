//! TLS for the probes: a rustls client built from `tls_config` (the same keys as vitals-client's),
//! and the `probe_ssl_*` / `probe_tls_version_info` gauges read from the peer's certificates.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, ProtocolVersion};
use tokio_rustls::TlsConnector;
use vitals_client::TlsConfig;

use crate::result::Gauges;

/// Go's zero `time.Time` in Unix seconds: what blackbox_exporter 0.23 reports as the last chain
/// expiry when nothing was verified (`insecure_skip_verify`).
const GO_ZERO_TIME: f64 = -62_135_596_800.0;

/// Builds the rustls client for `cfg` (see `vitals_client::tls`), offering ALPN `http/1.1` when asked.
pub(crate) fn client_config(cfg: &TlsConfig, alpn_http1: bool) -> Result<Arc<ClientConfig>, String> {
    let alpn: &[&[u8]] = if alpn_http1 { &[b"http/1.1"] } else { &[] };
    vitals_client::tls::rustls_client_config(cfg, alpn)
}

/// Runs the TLS handshake over `io`, verifying against `server_name` (tls_config's or the host).
pub(crate) async fn handshake<IO: AsyncRead + AsyncWrite + Unpin>(
    io: IO,
    cfg: &TlsConfig,
    host: &str,
    alpn_http1: bool,
) -> Result<TlsStream<IO>, String> {
    let config = client_config(cfg, alpn_http1)?;
    let name = cfg.server_name.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| host.to_string());
    let name = name.trim_start_matches('[').trim_end_matches(']').to_string();
    let server_name = ServerName::try_from(name.clone()).map_err(|_| format!("tls: invalid server name {name:?}"))?;
    TlsConnector::from(config).connect(server_name, io).await.map_err(|e| format!("tls handshake: {e}"))
}

/// Sets `probe_ssl_earliest_cert_expiry`, `probe_ssl_last_chain_expiry_timestamp_seconds`,
/// `probe_ssl_last_chain_info` and `probe_tls_version_info` from an established connection.
pub(crate) fn tls_gauges<IO>(stream: &TlsStream<IO>, verified: bool, g: &mut Gauges) {
    let conn = stream.get_ref().1;
    let certs = conn.peer_certificates().unwrap_or(&[]);
    let facts: Vec<CertFacts> = certs.iter().filter_map(|c| cert_facts(c)).collect();
    if let Some(earliest) = facts.iter().map(|f| f.not_after).min() {
        g.set("probe_ssl_earliest_cert_expiry", earliest as f64);
    } else {
        g.set("probe_ssl_earliest_cert_expiry", GO_ZERO_TIME);
    }
    let chain_expiry = if verified { facts.iter().map(|f| f.not_after).min().map(|t| t as f64) } else { None };
    g.set("probe_ssl_last_chain_expiry_timestamp_seconds", chain_expiry.unwrap_or(GO_ZERO_TIME));
    if let Some(leaf) = facts.first() {
        g.set_with(
            "probe_ssl_last_chain_info",
            vec![
                ("fingerprint_sha256", leaf.fingerprint.clone()),
                ("subject", leaf.subject.clone()),
                ("issuer", leaf.issuer.clone()),
                ("subjectalternative", leaf.dns_names.clone()),
            ],
            1.0,
        );
    }
    let version = match conn.protocol_version() {
        Some(ProtocolVersion::TLSv1_2) => "TLS 1.2",
        Some(ProtocolVersion::TLSv1_3) => "TLS 1.3",
        _ => "unknown",
    };
    g.set_with("probe_tls_version_info", vec![("version", version.to_string())], 1.0);
}

/// What the probes report about one certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct CertFacts {
    /// `notAfter` in Unix seconds.
    pub not_after: i64,
    /// Subject as Go's `pkix.Name.String()` writes it (e.g. `CN=example.com,O=Example`).
    pub subject: String,
    /// Issuer, same form.
    pub issuer: String,
    /// DNS names of the subjectAltName extension, comma-separated.
    pub dns_names: String,
    /// SHA-256 of the DER, lowercase hex.
    pub fingerprint: String,
}

/// Reads the facts of a DER certificate (None when it does not parse).
pub fn cert_facts(der: &[u8]) -> Option<CertFacts> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(s) => Some(*s),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    let fingerprint = Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect();
    Some(CertFacts {
        not_after: cert.validity().not_after.timestamp(),
        subject: go_name(cert.subject()),
        issuer: go_name(cert.issuer()),
        dns_names,
        fingerprint,
    })
}

/// Go's `pkix.Name.String()`: the standard attributes in reverse RDN order, comma-separated.
fn go_name(name: &x509_parser::x509::X509Name<'_>) -> String {
    // Go rebuilds the sequence as C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER and prints it reversed.
    const ORDER: [(&str, &str); 9] = [
        ("2.5.4.5", "SERIALNUMBER"),
        ("2.5.4.3", "CN"),
        ("2.5.4.11", "OU"),
        ("2.5.4.10", "O"),
        ("2.5.4.17", "POSTALCODE"),
        ("2.5.4.9", "STREET"),
        ("2.5.4.7", "L"),
        ("2.5.4.8", "ST"),
        ("2.5.4.6", "C"),
    ];
    let mut parts = Vec::new();
    for (oid, short) in ORDER {
        let values: Vec<String> = name
            .iter_attributes()
            .filter(|a| a.attr_type().to_id_string() == oid)
            .filter_map(|a| a.as_str().ok().map(escape_dn))
            .collect();
        if !values.is_empty() {
            parts.push(values.iter().map(|v| format!("{short}={v}")).collect::<Vec<_>>().join("+"));
        }
    }
    parts.join(",")
}

fn escape_dn(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == ' ' || c == '#'))
            || (i == n - 1 && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
