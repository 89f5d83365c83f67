//! The web configuration file (`--web.config.file`), as in Prometheus' exporter-toolkit:
//! `tls_server_config` and `basic_auth_users` (bcrypt hashes), plus vitals' `bearer_tokens`.
//! When any credential is configured every endpoint but `/-/healthy` and `/-/ready` needs one.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde::Deserialize;

use crate::WebState;

/// Most remembered successful basic-auth checks (bcrypt is deliberately slow).
const CACHE_MAX: usize = 1024;

/// The web configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Serve HTTPS with this certificate.
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    /// User name → bcrypt hash of the password.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
    /// Accepted `Authorization: Bearer` tokens (vitals' addition).
    #[serde(default)]
    pub bearer_tokens: Vec<String>,
}

/// `tls_server_config:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// `TLS12` (default) or `TLS13`.
    #[serde(default)]
    pub min_version: Option<String>,
}

impl WebConfig {
    /// Reads and checks a web configuration file; errors name the file and the problem.
    pub fn load(path: &std::path::Path) -> Result<WebConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let c: WebConfig = serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for (user, hash) in &c.basic_auth_users {
            if !hash.starts_with("$2") || hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(format!("{}: basic_auth_users.{user}: not a bcrypt hash", path.display()));
            }
        }
        if c.bearer_tokens.iter().any(|t| t.is_empty()) {
            return Err(format!("{}: bearer_tokens: a token is empty", path.display()));
        }
        if let Some(t) = &c.tls_server_config {
            if let Some(v) = &t.min_version {
                if v != "TLS12" && v != "TLS13" {
                    return Err(format!("{}: tls_server_config.min_version {v:?}: use TLS12 or TLS13", path.display()));
                }
            }
        }
        Ok(c)
    }
}

/// The authentication part of the web configuration, ready to check requests.
#[derive(Default)]
pub struct AuthConfig {
    users: BTreeMap<String, String>,
    tokens: Vec<String>,
    verified: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig").field("users", &self.users.keys()).field("tokens", &self.tokens.len()).finish()
    }
}

impl AuthConfig {
    /// Credentials from a web configuration.
    pub fn new(c: &WebConfig) -> Self {
        AuthConfig { users: c.basic_auth_users.clone(), tokens: c.bearer_tokens.clone(), verified: Default::default() }
    }

    /// True when requests need credentials.
    pub fn enabled(&self) -> bool {
        !self.users.is_empty() || !self.tokens.is_empty()
    }

    /// Checks an `Authorization` header value.
    async fn allows(self: &Arc<Self>, header: Option<&str>) -> bool {
        let Some(h) = header else { return false };
        if let Some(token) = h.strip_prefix("Bearer ") {
            return self.tokens.iter().any(|t| constant_time_eq(t.as_bytes(), token.trim().as_bytes()));
        }
        let Some(encoded) = h.strip_prefix("Basic ") else { return false };
        let Some(decoded) = base64_decode(encoded.trim()).and_then(|d| String::from_utf8(d).ok()) else { return false };
        let Some((user, password)) = decoded.split_once(':') else { return false };
        let Some(hash) = self.users.get(user).cloned() else { return false };
        if self.verified.lock().contains(&decoded) {
            return true;
        }
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
        if ok {
            let mut v = self.verified.lock();
            if v.len() >= CACHE_MAX {
                v.clear();
            }
            v.insert(decoded);
        }
        ok
    }
}

/// Middleware: answers 401 unless the request carries valid credentials (when any are configured).
pub(crate) async fn check(State(state): State<Arc<WebState>>, req: Request, next: Next) -> Response {
    if !state.auth.enabled() || matches!(req.uri().path(), "/-/healthy" | "/-/ready") {
        return next.run(req).await;
    }
    let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let auth = state.auth.clone();
    if auth.allows(header.as_deref()).await {
        return next.run(req).await;
    }
    let mut resp = crate::api_error(401, "unauthorized", "unauthorized: valid credentials required");
    resp.headers_mut().insert(WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Basic realm=\"vitals\""));
    resp.into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("YWxpY2U6c2VjcmV0").unwrap(), b"alice:secret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("!!!!").is_none());
    }

    #[tokio::test]
    async fn checks_bcrypt_users_and_tokens() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let c = WebConfig {
            basic_auth_users: [("alice".to_string(), hash)].into(),
            bearer_tokens: vec!["tok123".into()],
            ..Default::default()
        };
        let a = Arc::new(AuthConfig::new(&c));
        assert!(a.allows(Some("Basic YWxpY2U6c2VjcmV0")).await);
        assert!(a.allows(Some("Basic YWxpY2U6c2VjcmV0")).await, "cached");
        assert!(!a.allows(Some("Basic YWxpY2U6d3Jvbmc=")).await);
        assert!(a.allows(Some("Bearer tok123")).await);
        assert!(!a.allows(Some("Bearer tok124")).await);
        assert!(!a.allows(None).await);
        assert!(!format!("{a:?}").contains("tok123"));
    }
}
