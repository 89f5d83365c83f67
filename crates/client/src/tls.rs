//! The rustls client built from `tls_config` (CA file or the web PKI roots, client certificate,
//! `insecure_skip_verify`, `min_version`), for the clients that speak TLS on their own sockets: the
//! probes and the load generator.

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::TlsConfig;

fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(ring::default_provider())).clone()
}

fn system_roots() -> Arc<RootCertStore> {
    static R: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    R.get_or_init(|| Arc::new(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })).clone()
}

/// Builds the rustls client for `cfg` (files are read now, so certificates may rotate).
/// Builds the rustls client for `cfg` offering the `alpn` protocols (none: no ALPN). Files are read
/// now, so certificates may rotate between calls; errors name the file and key.
pub fn rustls_client_config(cfg: &TlsConfig, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, String> {
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
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
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
