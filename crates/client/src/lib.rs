//! HTTP client settings as Prometheus writes them in `scrape_configs` and `remote_write`
//! (`basic_auth`, `authorization`, `tls_config`, `follow_redirects`, `enable_http2`), and the
//! `reqwest` client built from them. It does not send anything itself.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod tls;

/// Why a client could not be built or a credential not read.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A credential or certificate file could not be read.
    #[error("reading {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The settings contradict each other or name something unsupported.
    #[error("{0}")]
    Invalid(String),
    /// The TLS or HTTP stack refused the settings.
    #[error("building the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

/// A secret string: read from configuration, never shown (it prints and serialises as `<secret>`).
#[derive(Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}

/// A URL fit for logs and metrics: a password in its user part is replaced by `<secret>`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{scheme}://{user}:<secret>@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// `basic_auth:` — a user name and a password (inline or from a file).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    #[serde(default)]
    pub username: String,
    /// The password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A file holding the password (read at every request, so rotation needs no reload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

/// `authorization:` — an `Authorization` header of a type (default `Bearer`) and credentials.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme, `Bearer` when empty.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Secret>,
    /// A file holding the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<PathBuf>,
}

/// `tls_config:` — how to verify the server and which client certificate to show.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of CA certificates to trust (besides the system's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Name to verify the server certificate against (must equal the URL's host here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Accept any server certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Lowest TLS version: `TLS12` or `TLS13`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
}

/// The client half of a scrape or remote-write configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpClientConfig {
    /// Basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// An `Authorization` header.
    pub authorization: Option<Authorization>,
    /// TLS settings.
    pub tls_config: Option<TlsConfig>,
    /// Follow 3xx redirects (Prometheus' default: true).
    pub follow_redirects: bool,
    /// Allow HTTP/2 (Prometheus' default: true).
    pub enable_http2: bool,
}

fn read(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|source| ClientError::File { path: path.to_path_buf(), source })
}

impl HttpClientConfig {
    /// Checks the settings without reading any file.
    pub fn validate(&self) -> Result<(), ClientError> {
        if self.basic_auth.is_some() && self.authorization.is_some() {
            return Err(ClientError::Invalid("at most one of basic_auth and authorization may be set".into()));
        }
        if let Some(b) = &self.basic_auth {
            if b.password.is_some() && b.password_file.is_some() {
                return Err(ClientError::Invalid("at most one of basic_auth password & password_file".into()));
            }
        }
        if let Some(a) = &self.authorization {
            if a.credentials.is_some() && a.credentials_file.is_some() {
                return Err(ClientError::Invalid("at most one of authorization credentials & credentials_file".into()));
            }
            if a.kind.eq_ignore_ascii_case("basic") {
                return Err(ClientError::Invalid("authorization type cannot be Basic, use basic_auth".into()));
            }
        }
        if let Some(t) = &self.tls_config {
            if t.cert_file.is_some() != t.key_file.is_some() {
                return Err(ClientError::Invalid("tls_config needs both cert_file and key_file, or neither".into()));
            }
            if let Some(v) = &t.min_version {
                if !matches!(v.as_str(), "TLS12" | "TLS13") {
                    return Err(ClientError::Invalid(format!("tls_config min_version {v:?}: use TLS12 or TLS13")));
                }
            }
        }
        Ok(())
    }

    /// Builds a client with these settings and a per-request `timeout`.
    pub fn build(&self, timeout: Duration, user_agent: &str) -> Result<reqwest::Client, ClientError> {
        self.validate()?;
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(user_agent)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(if self.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            });
        if !self.enable_http2 {
            b = b.http1_only();
        }
        if let Some(t) = &self.tls_config {
            if let Some(ca) = &t.ca_file {
                for cert in reqwest::Certificate::from_pem_bundle(&read(ca)?)? {
                    b = b.add_root_certificate(cert);
                }
            }
            if let (Some(cert), Some(key)) = (&t.cert_file, &t.key_file) {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                b = b.identity(reqwest::Identity::from_pem(&pem)?);
            }
            if t.insecure_skip_verify {
                b = b.danger_accept_invalid_certs(true);
            }
            if t.min_version.as_deref() == Some("TLS13") {
                b = b.min_tls_version(reqwest::tls::Version::TLS_1_3);
            }
        }
        Ok(b.build()?)
    }

    /// Adds the configured credentials to a request (files are read now, so they may rotate).
    pub fn authorize(&self, req: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, ClientError> {
        if let Some(b) = &self.basic_auth {
            let password = match (&b.password, &b.password_file) {
                (Some(p), _) => Some(p.expose().to_string()),
                (None, Some(f)) => Some(String::from_utf8_lossy(&read(f)?).trim().to_string()),
                (None, None) => None,
            };
            return Ok(req.basic_auth(&b.username, password));
        }
        if let Some(a) = &self.authorization {
            let creds = match (&a.credentials, &a.credentials_file) {
                (Some(c), _) => c.expose().to_string(),
                (None, Some(f)) => String::from_utf8_lossy(&read(f)?).trim().to_string(),
                (None, None) => String::new(),
            };
            let kind = if a.kind.is_empty() { "Bearer" } else { a.kind.as_str() };
            return Ok(req.header(reqwest::header::AUTHORIZATION, format!("{kind} {creds}")));
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_or_serialise() {
        let b: BasicAuth = serde_norway::from_str("username: u\npassword: hunter2\n").unwrap();
        assert_eq!(b.password.as_ref().unwrap().expose(), "hunter2");
        assert!(!format!("{b:?}").contains("hunter2"));
        assert!(!serde_norway::to_string(&b).unwrap().contains("hunter2"));
    }

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(redact_url("http://u:pw@h:1/p?q=1"), "http://u:<secret>@h:1/p?q=1");
        assert_eq!(redact_url("https://h/p@x"), "https://h/p@x");
        assert_eq!(redact_url("no-scheme"), "no-scheme");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = serde_norway::from_str::<TlsConfig>("ca_file: x\nbogus: 1\n").unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn contradictions_are_rejected() {
        let c = HttpClientConfig {
            basic_auth: Some(BasicAuth::default()),
            authorization: Some(Authorization::default()),
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = HttpClientConfig {
            tls_config: Some(TlsConfig { cert_file: Some("c".into()), ..Default::default() }),
            ..Default::default()
        };
        assert!(c.validate().is_err());
    }
}
