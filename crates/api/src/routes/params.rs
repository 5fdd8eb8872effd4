//! Query parameters as typed structs: each parameter is named once (its
//! field), documented once (its doc comment, read by `utoipa::IntoParams`
//! into the OpenAPI document), and a bad value answers 400 naming it.
//! Also cursors, and running store work off the async threads.

use super::prelude::*;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::{DeserializeOwned, Deserializer, Error as _};

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f).await?
}

/// The query string deserialized into `T`; a value that does not parse is
/// a 400 naming its parameter, with what it must be and what came.
pub(crate) struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Q).map_err(|e| {
            let path = e.path().to_string();
            // An error of the whole query (a parameter given twice) has no
            // field of its own: the query is at fault.
            let field = if path.is_empty() || path == "." { "query" } else { path.as_str() };
            AppError::bad_field(field, format!("`{field}` {}", e.inner()))
        })
    }
}

/// A parameter's value type: parsed from its text, with an error that
/// says what it must be and what came (the extractor puts the name first).
pub(crate) trait Param: Sized {
    fn parse(v: &str) -> Result<Self, String>;
}

/// Implements `Deserialize` for [`Param`] types (a query value is text).
macro_rules! param_types {
    ($($t:ty),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = std::borrow::Cow::<str>::deserialize(d)?;
                <$t as Param>::parse(&v).map_err(D::Error::custom)
            }
        }
    )*};
}
param_types!(Time, Limit, Flag, Whole, Cursor, Amount);

/// An RFC 3339 time, as µs since the epoch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Time(pub i64);

impl Param for Time {
    fn parse(v: &str) -> Result<Self, String> {
        Timestamp::parse_rfc3339(v).map(|t| Time(t.0)).ok_or_else(|| format!("must be an RFC 3339 time, got `{v}`"))
    }
}

/// The length of a page: 1..=[`MAX_LIMIT`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit(pub usize);

impl Param for Limit {
    fn parse(v: &str) -> Result<Self, String> {
        match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(Limit(n)),
            Ok(n) => Err(format!("must be 1..={MAX_LIMIT}, got {n}")),
            Err(_) => Err(format!("must be a whole number, got `{v}`")),
        }
    }
}

/// The page length asked for, or 100.
pub(crate) fn page(l: Option<Limit>) -> usize {
    l.map_or(100, |l| l.0)
}

/// `true` or `false`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag(pub bool);

impl Param for Flag {
    fn parse(v: &str) -> Result<Self, String> {
        v.parse().map(Flag).map_err(|_| format!("must be true or false, got `{v}`"))
    }
}

/// A whole number (a seq, a tree size, seconds).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Whole(pub u64);

impl Param for Whole {
    fn parse(v: &str) -> Result<Self, String> {
        v.parse().map(Whole).map_err(|_| format!("must be a whole number, got `{v}`"))
    }
}

/// An amount of US dollars, 0 up to a trillion, as µUSD.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Amount(pub u64);

impl Param for Amount {
    fn parse(v: &str) -> Result<Self, String> {
        match v.parse::<f64>() {
            Ok(x) if (0.0..1e12).contains(&x) => Ok(Amount((x * 1e6).round() as u64)),
            _ => Err(format!("must be a non-negative amount, got `{v}`")),
        }
    }
}

/// An opaque cursor: base64url of a position this API returned.
#[derive(Debug, Clone)]
pub(crate) struct Cursor(pub String);

impl Param for Cursor {
    fn parse(v: &str) -> Result<Self, String> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(v)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Cursor)
            .ok_or_else(|| "is not a cursor this API returned".to_string())
    }
}

impl Cursor {
    /// The position in it, or a 400 when it holds none of this kind.
    pub(crate) fn position<T>(&self, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, AppError> {
        parse(&self.0).ok_or_else(|| AppError::bad_field("cursor", "`cursor` is not a cursor this API returned"))
    }
}

/// Opaque cursors: base64url of the position.
pub(crate) fn encode_cursor(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// One of a fixed set of names, each naming a value of `T`.
pub(crate) fn choice<T: Copy>(field: &str, v: &str, names: &[(&str, T)]) -> Result<T, AppError> {
    names.iter().find(|(n, _)| *n == v).map(|(_, t)| *t).ok_or_else(|| {
        let all: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
        AppError::bad_field(field, format!("`{field}` must be one of {}, got `{v}`", all.join(", ")))
    })
}

/// A read-out's window: `from`/`to`, by default the 24 hours before `to`
/// (by default now).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Window {
    /// RFC 3339 window start (default: 24 hours before `to`)
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<Time>,
    /// RFC 3339 window end (default: now)
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<Time>,
}

impl Window {
    /// `(from, to)` in µs, `from < to`.
    pub(crate) fn bounds(&self) -> Result<(i64, i64), AppError> {
        let to = self.to.map_or_else(|| Timestamp::now().0, |t| t.0);
        let from = self.from.map_or(to - 86_400_000_000, |t| t.0);
        if from >= to {
            return Err(AppError::bad_field("from", "`from` must be before `to`"));
        }
        Ok((from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[derive(Debug, Deserialize)]
    struct Sample {
        limit: Option<Limit>,
        from: Option<Time>,
        flag: Option<Flag>,
        cursor: Option<Cursor>,
        name: Option<String>,
    }

    async fn parse(q: &str) -> Result<Sample, (String, String)> {
        let req = Request::builder().uri(format!("/x?{q}")).body(()).expect("request");
        let (mut parts, ()) = req.into_parts();
        match Q::<Sample>::from_request_parts(&mut parts, &()).await {
            Ok(Q(s)) => Ok(s),
            Err(e) => {
                let r = e.into_response();
                let bytes = axum::body::to_bytes(r.into_body(), usize::MAX).await.expect("body");
                let doc: Value = serde_json::from_slice(&bytes).expect("json");
                Err((
                    doc["field"].as_str().unwrap_or_default().into(),
                    doc["detail"].as_str().unwrap_or_default().into(),
                ))
            }
        }
    }

    #[tokio::test]
    async fn each_bad_value_is_named_with_what_it_must_be() {
        let ok = parse("limit=5&from=2026-01-01T00:00:00Z&flag=true&name=a%20b&unknown=1").await.expect("parses");
        assert_eq!(
            (ok.limit.map(|l| l.0), ok.flag.map(|f| f.0), ok.name.as_deref()),
            (Some(5), Some(true), Some("a b"))
        );
        assert!(ok.from.is_some() && ok.cursor.is_none());
        for (q, field, says) in [
            ("limit=0", "limit", "`limit` must be 1..=1000, got 0"),
            ("limit=x", "limit", "`limit` must be a whole number, got `x`"),
            ("from=yesterday", "from", "`from` must be an RFC 3339 time, got `yesterday`"),
            ("flag=maybe", "flag", "`flag` must be true or false, got `maybe`"),
            ("cursor=%25%25", "cursor", "`cursor` is not a cursor this API returned"),
        ] {
            assert_eq!(parse(q).await.map(|_| ()), Err((field.to_string(), says.to_string())), "{q}");
        }
        let (field, _) = parse("limit=1&limit=2").await.map(|_| ()).expect_err("a parameter twice");
        assert_eq!(field, "query");
    }

    #[test]
    fn a_cursor_round_trips_and_a_window_is_ordered() {
        let c = Cursor::parse(&encode_cursor("12/3")).expect("cursor");
        assert_eq!(
            c.position(|s| s.split_once('/').map(|(a, b)| (a.to_string(), b.to_string()))).ok(),
            Some(("12".into(), "3".into()))
        );
        let w = Window { from: Some(Time(10)), to: Some(Time(5)) };
        assert_eq!(w.bounds().map_err(|e| e.status()).err(), Some(StatusCode::BAD_REQUEST));
        let w = Window { from: None, to: Some(Time(100_000_000_000)) };
        assert_eq!(w.bounds().ok(), Some((100_000_000_000 - 86_400_000_000, 100_000_000_000)));
    }
}
