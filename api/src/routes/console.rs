//! The admin console: the single-page app built from `ui/` (ADR 0015), embedded in
//! the binary and served at `/`.
//!
//! - A file of the bundle is served with its type; hashed assets (`/assets/…`) are
//!   cached for good, `index.html` never (it names the current assets). When the
//!   client accepts gzip and the bundle holds a `.gz` twin, the twin is sent.
//! - Any other `GET` of a path that is not the API's (`/v1/`, `/graphql`, `/health`,
//!   `/ready`, `/metrics`) and names no file (no `.` in its last segment) is a page
//!   of the console: `index.html`, whose script routes it.
//! - Everything else is the API's 404 (`route_not_found`).

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse as _, Response};
use include_dir::{include_dir, Dir};

use crate::error::ApiError;

/// The built bundle (`ui/dist`), committed, so building `ledgerd` needs no Node.js.
static BUNDLE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../ui/dist");

/// Paths that belong to the API, never to the console.
const API_PREFIXES: &[&str] = &["/v1/", "/graphql", "/health", "/ready", "/metrics"];

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn accepts_gzip(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| coding.split(';').next().is_some_and(|c| c.trim() == "gzip"))
}

fn file(path: &str, gzip: bool) -> Option<Response> {
    let file = BUNDLE.get_file(path)?;
    let twin = gzip
        .then(|| BUNDLE.get_file(format!("{path}.gz")))
        .flatten();
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = match twin {
        Some(twin) => {
            let mut r = twin.contents().into_response();
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        None => file.contents().into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Some(response)
}

/// The fallback route: a file of the console, a page of it, or the API's 404.
pub async fn serve(request: Request) -> Response {
    let path = request.uri().path();
    let is_read = request.method() == Method::GET || request.method() == Method::HEAD;
    if !is_read || API_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return super::not_found().await.into_response();
    }
    let gzip = accepts_gzip(&request);
    let relative = path.trim_start_matches('/');
    if let Some(response) = (!relative.is_empty())
        .then(|| file(relative, gzip))
        .flatten()
    {
        return response;
    }
    let last = relative.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        return super::not_found().await.into_response();
    }
    file("index.html", gzip).unwrap_or_else(|| {
        ApiError::NotFound {
            code: "console_not_built",
            detail: "this ledgerd was built without the console (ui/dist is empty)".into(),
        }
        .into_response()
    })
}

/// Whether the bundle has a page to serve (for the start-up log).
pub fn is_built() -> bool {
    BUNDLE.get_file("index.html").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_extension() {
        assert_eq!(
            content_type("assets/index-abc.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.unknown"), "application/octet-stream");
    }
}
