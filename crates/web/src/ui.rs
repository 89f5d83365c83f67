//! The embedded web UI (built from `ui/` by the build script): static assets, and `index.html` for
//! every other page path so the UI's client-side routes (`/explore?expr=...`) can be linked to.

use axum::extract::Request;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// Whether the binary carries a built UI.
pub fn is_built() -> bool {
    ASSETS.iter().any(|(p, _, _)| *p == "/index.html")
}

/// The asset at `path`, if any: (content type, bytes). With `VITALS_UI_DIR` set (UI development),
/// files are read from that folder on each request instead of the embedded build.
fn asset(path: &str) -> Option<(&'static str, std::borrow::Cow<'static, [u8]>)> {
    if let Some(dir) = std::env::var_os("VITALS_UI_DIR") {
        let rel = path.trim_start_matches('/');
        if rel.split('/').any(|c| c == ".." || c.is_empty()) {
            return None;
        }
        let bytes = std::fs::read(std::path::Path::new(&dir).join(rel)).ok()?;
        return Some((content_type(rel), std::borrow::Cow::Owned(bytes)));
    }
    ASSETS.iter().find(|(p, _, _)| *p == path).map(|(_, ct, b)| (*ct, std::borrow::Cow::Borrowed(*b)))
}

/// A response body without copying embedded bytes.
fn body(bytes: std::borrow::Cow<'static, [u8]>) -> axum::body::Body {
    match bytes {
        std::borrow::Cow::Borrowed(b) => axum::body::Body::from(b),
        std::borrow::Cow::Owned(v) => axum::body::Body::from(v),
    }
}

include!("ui_mime.rs");

/// Serves `path` from the UI: an asset, or `index.html` for page paths; `None` for API-like paths,
/// other methods, or paths that look like missing files.
pub(crate) fn serve(method: &Method, path: &str) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    if path.starts_with("/api/") || path.starts_with("/-/") {
        return None;
    }
    if let Some((ct, bytes)) = asset(path) {
        // Vite names assets by content hash, so they never change under the same name.
        let cache = if path.starts_with("/assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
        return Some(([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, cache)], body(bytes)).into_response());
    }
    let last = path.rsplit('/').next().unwrap_or("");
    if last.contains('.') {
        return None;
    }
    let (ct, bytes) = asset("/index.html")?;
    Some(([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "no-cache")], body(bytes)).into_response())
}

/// The router's fallback: the UI for page paths, else Prometheus' JSON 404.
pub(crate) async fn fallback(req: Request) -> Response {
    match serve(req.method(), req.uri().path()) {
        Some(r) => r,
        None => crate::handlers::not_found().await,
    }
}
