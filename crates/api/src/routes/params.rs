//! Query parameters read by name, with errors that name them; cursors; running store work off the async threads.

use super::prelude::*;

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Response> + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

/// Query parameters, all as text, so that a bad value is reported by name.
pub(crate) type Params = Query<std::collections::HashMap<String, String>>;

pub(crate) fn param<T: std::str::FromStr>(q: &Params, name: &str, what: &str) -> Result<Option<T>, Response> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| bad_field(name, format!("`{name}` must be {what}, got `{v}`"))),
    }
}

pub(crate) fn time_param(q: &Params, name: &str) -> Result<Option<i64>, Response> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => Timestamp::parse_rfc3339(v)
            .map(|t| Some(t.0))
            .ok_or_else(|| bad_field(name, format!("`{name}` must be an RFC 3339 time, got `{v}`"))),
    }
}

pub(crate) fn limit(q: &Params) -> Result<usize, Response> {
    let n = param::<usize>(q, "limit", "a whole number")?.unwrap_or(100);
    if n == 0 || n > MAX_LIMIT {
        return Err(bad_field("limit", format!("`limit` must be 1..={MAX_LIMIT}, got {n}")));
    }
    Ok(n)
}

/// Opaque cursors: base64url of the position.
pub(crate) fn encode_cursor(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

pub(crate) fn decode_cursor(q: &Params) -> Result<Option<String>, Response> {
    match q.get("cursor") {
        None => Ok(None),
        Some(c) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| bad_field("cursor", "`cursor` is not a cursor this API returned")),
    }
}

/// The window of a read-out: `from`/`to` (RFC 3339), by default the last 24 hours.
pub(crate) fn window(q: &Params) -> Result<(i64, i64), Response> {
    let to = time_param(q, "to")?.unwrap_or_else(now_micros);
    let from = time_param(q, "from")?.unwrap_or(to - 86_400_000_000);
    if from >= to {
        return Err(bad_field("from", "`from` must be before `to`"));
    }
    Ok((from, to))
}
