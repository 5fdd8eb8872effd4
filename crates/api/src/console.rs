//! The web console: static assets compiled into the binary and served at
//! `/` and `/console/…`, no key needed (they hold no data; every datum the
//! page shows comes from the keyed API with the key the user signs in with).
//!
//! The assets are a fixed list of `include_bytes!` rather than a
//! directory-embedding crate: four files, so the set of paths served is a
//! reviewable allowlist checked at compile time, and nothing else in the
//! source tree can be served by accident.
//!
//! Every answer carries a strict Content-Security-Policy: scripts and styles
//! only from this origin, no inline script, no framing, connections only back
//! to this origin. Trace content is attacker-controlled text (prompt
//! injections are what we detect), so the page renders it with `textContent`
//! only, and the policy is the second wall if that ever slips.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const INDEX: &[u8] = include_bytes!("../console/index.html");

/// (file name, content type, bytes) of every asset under `/console/`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../console/app.js")),
    ("verify.js", "text/javascript; charset=utf-8", include_bytes!("../console/verify.js")),
    ("style.css", "text/css; charset=utf-8", include_bytes!("../console/style.css")),
];

/// The policy every console answer carries.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Assets change with the binary: revalidate rather than serve a stale app.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

async fn file(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, body)) => asset(ct, body),
        None => (StatusCode::NOT_FOUND, "no such console file").into_response(),
    }
}

/// `GET /` and `GET /console/{file}`.
pub fn router() -> Router {
    Router::new().route("/", get(index)).route("/console/{file}", get(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_loads_is_served() {
        let page = std::str::from_utf8(INDEX).expect("utf-8");
        for (name, _, body) in ASSETS {
            assert!(!body.is_empty(), "{name} is empty");
            if *name != "verify.js" {
                assert!(page.contains(&format!("/console/{name}")), "index.html does not load {name}");
            }
        }
        // No inline script: the CSP would block it.
        assert!(!page.contains("<script>"), "inline script in index.html");
        assert!(!page.contains("style="), "inline style in index.html");
    }
}
