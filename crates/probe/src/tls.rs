//! TLS for the probes: a rustls client built from `tls_config` (the same keys as vitals-client's),
//! and the `probe_ssl_*` / `probe_tls_version_info` gauges read from the peer's certificates.

use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, ProtocolVersion, RootCertStore, SignatureScheme,
};
use tokio_rustls::TlsConnector;
use vitals_client::TlsConfig;

use crate::result::Gauges;

/// Go's zero `time.Time` in Unix seconds: what blackbox_exporter 0.23 reports as the last chain
/// expiry when nothing was verified (`insecure_skip_verify`).
const GO_ZERO_TIME: f64 = -62_135_596_800.0;

fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(ring::default_provider())).clone()
}

fn system_roots() -> Arc<RootCertStore> {
    static R: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    R.get_or_init(|| Arc::new(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })).clone()
}

/// Builds the rustls client for `cfg` (files are read now, so certificates may rotate).
pub(crate) fn client_config(cfg: &TlsConfig, alpn_http1: bool) -> Result<Arc<ClientConfig>, String> {
    let versions: &[&'static rustls::SupportedProtocolVersion] =
        if cfg.min_version.as_deref() == Some("TLS13") { &[&rustls::version::TLS13] } else { rustls::ALL_VERSIONS };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| format!("tls: {e}"))?;
    let builder = if cfg.insecure_skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny(provider())))
    } else if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca).map_err(|e| format!("reading ca_file {}: {e}", ca.display()))?;
        let mut roots = RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut pem.as_slice()) {
            let c = c.map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            roots.add(c).map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("ca_file {}: no certificate", ca.display()));
        }
        builder.with_root_certificates(roots)
    } else {
        builder.with_root_certificates(system_roots())
    };
    let mut config = match (&cfg.cert_file, &cfg.key_file) {
        (Some(cert), Some(key)) => {
            let cpem = std::fs::read(cert).map_err(|e| format!("reading cert_file {}: {e}", cert.display()))?;
            let kpem = std::fs::read(key).map_err(|e| format!("reading key_file {}: {e}", key.display()))?;
            let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cpem.as_slice())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("cert_file {}: {e}", cert.display()))?;
            let key = rustls_pemfile::private_key(&mut kpem.as_slice())
                .map_err(|e| format!("key_file {}: {e}", key.display()))?
                .ok_or_else(|| format!("key_file {}: no private key", key.display()))?;
            builder.with_client_auth_cert(certs, key).map_err(|e| format!("client certificate: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    if alpn_http1 {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
    }
    Ok(Arc::new(config))
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

/// Accepts every server certificate but still checks handshake signatures (`insecure_skip_verify`).
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
