//! Per-key rate limits: a token bucket (GCRA, the `governor` crate) per API
//! key id; a request over the limit gets 429 with `Retry-After`.

use crate::{problem, Principal};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::json;
use std::num::NonZeroU32;
use std::sync::Arc;

/// The limiter of a node.
pub struct RateLimits {
    limiter: DefaultKeyedRateLimiter<String>,
    per_second: NonZeroU32,
}

impl RateLimits {
    /// `per_second` sustained, bursts of up to `burst`, per key.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        RateLimits { limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)), per_second }
    }

    /// Ok, or how many whole seconds to wait (at least 1).
    pub fn check(&self, key_id: &str) -> Result<(), u64> {
        self.limiter.check_key(&key_id.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// Middleware (inside authentication): 429 with `Retry-After` when the
/// caller's key is over its limit.
pub async fn rate_limit(State(limits): State<Arc<RateLimits>>, req: Request, next: Next) -> Response {
    let Some(p) = req.extensions().get::<Principal>() else { return next.run(req).await };
    match limits.check(&p.key.id) {
        Ok(()) => next.run(req).await,
        Err(secs) => {
            let mut r = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                format!("this key is limited to {} requests per second; retry in {secs} s", limits.per_second),
                json!({ "retry_after": secs }),
            );
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_bucket_refuses_per_key() {
        let l = RateLimits::new(NonZeroU32::MIN, NonZeroU32::new(3).expect("3"));
        for _ in 0..3 {
            assert_eq!(l.check("a"), Ok(()));
        }
        assert!(matches!(l.check("a"), Err(s) if s >= 1));
        assert_eq!(l.check("b"), Ok(()), "another key has its own bucket");
    }
}
