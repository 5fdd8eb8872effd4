//! The web console: static assets compiled into the binary and served at
//! `/` and `/console/…`, no key needed (they hold no data; every datum the
//! page shows comes from the keyed API with the key the user signs in with).
//!
//! The assets are a fixed list of `include_bytes!` rather than a
//! directory-embedding crate: a dozen files (one ES module per page, no
//! build step), so the set of paths served is a reviewable allowlist checked
//! at compile time, and nothing else in the source tree can be served by
//! accident. A test checks that every module the page imports is listed.
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

/// A JavaScript module under `/console/`.
macro_rules! module {
    ($name:literal) => {
        ($name, "text/javascript; charset=utf-8", include_bytes!(concat!("../console/", $name)))
    };
}

/// (file name, content type, bytes) of every asset under `/console/`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    module!("app.js"),
    module!("dom.js"),
    module!("api.js"),
    module!("sessions.js"),
    module!("record.js"),
    module!("anomalies.js"),
    module!("dashboards.js"),
    module!("reports.js"),
    module!("privacy.js"),
    module!("admin.js"),
    module!("verify.js"),
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
        let served = |name: &str| ASSETS.iter().any(|(n, _, _)| *n == name);
        // What index.html loads, then every module those import, transitively.
        let mut reached: Vec<String> = ["app.js", "style.css"]
            .iter()
            .inspect(|n| assert!(page.contains(&format!("/console/{n}"))))
            .map(|n| n.to_string())
            .collect();
        let mut i = 0;
        while i < reached.len() {
            let name = reached[i].clone();
            assert!(served(&name), "{name} is loaded but not served");
            let body = ASSETS.iter().find(|(n, _, _)| *n == name).map(|(_, _, b)| *b).unwrap_or_default();
            let text = std::str::from_utf8(body).expect("utf-8");
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let target =
                    line.rsplit("\"./").next().and_then(|t| t.strip_suffix("\";")).expect("import from \"./x.js\"");
                if !reached.iter().any(|r| r == target) {
                    reached.push(target.to_string());
                }
            }
            i += 1;
        }
        for (name, _, body) in ASSETS {
            assert!(!body.is_empty(), "{name} is empty");
            assert!(reached.iter().any(|r| r == name), "{name} is served but nothing loads it");
        }
        // No inline script: the CSP would block it.
        assert!(!page.contains("<script>"), "inline script in index.html");
        assert!(!page.contains("style="), "inline style in index.html");
    }
}
