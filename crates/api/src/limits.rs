//! Per-key rate limits: a token bucket (GCRA, the `governor` crate) per API
//! key id; a request over the limit gets 429 with `Retry-After`.

use crate::keys::STANDARD_TIER;
use crate::{problem, Principal};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::json;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

/// A tier's quota: sustained requests per second and burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Largest burst.
    pub burst: NonZeroU32,
}

impl std::str::FromStr for Tier {
    type Err = String;

    /// `RATE:BURST`, e.g. `1000:2000`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (r, b) = s.split_once(':').ok_or_else(|| format!("`{s}`: expected RATE:BURST, e.g. 1000:2000"))?;
        let n = |v: &str| v.parse::<NonZeroU32>().map_err(|_| format!("`{v}` in `{s}` is not a positive whole number"));
        Ok(Tier { per_second: n(r)?, burst: n(b)? })
    }
}

/// The limiters of a node: a keyed token bucket per tier.
pub struct RateLimits {
    tiers: HashMap<String, (DefaultKeyedRateLimiter<String>, Tier)>,
}

impl RateLimits {
    /// The `standard` tier and `more` named tiers.
    pub fn new(standard: Tier, more: &[(String, Tier)]) -> Self {
        let mut tiers = HashMap::new();
        for (name, t) in std::iter::once((STANDARD_TIER.to_string(), standard)).chain(more.iter().cloned()) {
            let limiter = RateLimiter::keyed(Quota::per_second(t.per_second).allow_burst(t.burst));
            tiers.insert(name, (limiter, t));
        }
        RateLimits { tiers }
    }

    /// The tier a key of tier `name` gets: its own, or `standard` when the
    /// node does not define it.
    fn tier(&self, name: &str) -> Option<&(DefaultKeyedRateLimiter<String>, Tier)> {
        self.tiers.get(name).or_else(|| self.tiers.get(STANDARD_TIER))
    }

    /// Ok, or how many whole seconds to wait (at least 1) and the tier's rate.
    pub fn check(&self, tier: &str, key_id: &str) -> Result<(), (u64, u32)> {
        let Some((limiter, t)) = self.tier(tier) else { return Ok(()) };
        limiter.check_key(&key_id.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0), t.per_second.get())
        })
    }
}

/// Middleware (inside authentication): 429 with `Retry-After` when the
/// caller's key is over its limit.
pub async fn rate_limit(State(limits): State<Arc<RateLimits>>, req: Request, next: Next) -> Response {
    let Some(p) = req.extensions().get::<Principal>() else { return next.run(req).await };
    match limits.check(&p.key.tier, &p.key.id) {
        Ok(()) => next.run(req).await,
        Err((secs, rate)) => {
            let mut r = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                format!("this key (tier `{}`) is limited to {rate} requests per second; retry in {secs} s", p.key.tier),
                json!({ "retry_after": secs, "tier": p.key.tier }),
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
    fn a_burst_passes_then_the_bucket_refuses_per_key_and_tier() {
        let standard: Tier = "1:3".parse().expect("tier");
        let l = RateLimits::new(standard, &[("high".into(), "1:10".parse().expect("tier"))]);
        for _ in 0..3 {
            assert_eq!(l.check("standard", "a"), Ok(()));
        }
        assert!(matches!(l.check("standard", "a"), Err((s, 1)) if s >= 1));
        assert_eq!(l.check("standard", "b"), Ok(()), "another key has its own bucket");
        for _ in 0..10 {
            assert_eq!(l.check("high", "c"), Ok(()), "a high-tier key has a bigger bucket");
        }
        assert!(l.check("high", "c").is_err());
        for _ in 0..3 {
            assert_eq!(l.check("undefined", "d"), Ok(()));
        }
        assert!(l.check("undefined", "d").is_err(), "a tier the node does not define is standard");
        for bad in ["10", "0:5", "5:x", ":"] {
            assert!(bad.parse::<Tier>().is_err(), "{bad}");
        }
    }
}
