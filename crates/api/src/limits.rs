//! Per-key rate limits: a token bucket (GCRA, the `governor` crate) per API
//! key id; a request over the limit gets 429 with `Retry-After`.

use crate::api_keys::STANDARD_TIER;
use crate::{AppError, Principal};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
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
        Err((secs, rate)) => AppError::too_many(
            "Too many requests",
            format!("this key (tier `{}`) is limited to {rate} requests per second; retry in {secs} s", p.key.tier),
            secs,
        )
        .with("tier", p.key.tier.as_str())
        .into_response(),
    }
}

/// Erasure calls (DSAR erasures and retention runs through the API) a
/// tenant may make per minute, sustained, and in one burst, by default.
pub const ERASURES_PER_MINUTE: u32 = 60;

/// Erasures are the one write a caller can make that rewrites stores
/// (each one carried out compacts three of them inside a partition's
/// writer): paced per tenant, so that no key can make the sequencer do
/// nothing but compact. The scheduled retention job is not paced.
pub struct ErasurePace {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl Default for ErasurePace {
    fn default() -> Self {
        ErasurePace::per_minute(ERASURES_PER_MINUTE)
    }
}

impl ErasurePace {
    /// `n` erasures per tenant per minute, in bursts of up to `n`.
    pub fn per_minute(n: u32) -> Self {
        let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        ErasurePace { limiter: RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)) }
    }

    /// Ok, or a 429 with `Retry-After` for `tenant`.
    pub fn check(&self, tenant: &str) -> Result<(), AppError> {
        self.limiter.check_key(&tenant.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            AppError::too_many(
                "Too many erasures",
                format!("erasure calls are limited per tenant; retry in {secs} s"),
                secs,
            )
        })
    }
}

/// How long an address that ran out of failures is refused, at least.
pub const PEER_REFUSAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Failed authentications a peer address may make per second, sustained.
pub const PEER_FAILURES_PER_SECOND: u32 = 5;

/// Failed authentications a peer address may make in one burst.
pub const PEER_FAILURE_BURST: u32 = 50;

/// Peers refused before authentication: an address whose calls keep
/// failing authentication (401) is answered 429 without its key being
/// looked at, until its bucket refills. Valid keys from the same address
/// pass while the address is not refused (their own per-key limit
/// applies); while it is, every call from it is refused — the price of
/// refusing before authentication, paid only by an address that failed
/// authentication more than 50 times at over 5 a second (by default), and
/// for 10 seconds.
pub struct PeerGuard {
    failures: DefaultKeyedRateLimiter<std::net::IpAddr>,
    blocked: std::sync::Mutex<HashMap<std::net::IpAddr, std::time::Instant>>,
}

impl Default for PeerGuard {
    fn default() -> Self {
        PeerGuard::new(PEER_FAILURES_PER_SECOND, PEER_FAILURE_BURST)
    }
}

impl PeerGuard {
    /// A guard allowing `per_second` failures per address (bursts of `burst`).
    pub fn new(per_second: u32, burst: u32) -> Self {
        let n = |v: u32| NonZeroU32::new(v.max(1)).unwrap_or(NonZeroU32::MIN);
        PeerGuard {
            failures: RateLimiter::keyed(Quota::per_second(n(per_second)).allow_burst(n(burst))),
            blocked: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `ip` may try again, if it is refused now.
    pub fn refused(&self, ip: std::net::IpAddr) -> Option<u64> {
        let blocked = self.blocked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let until = *blocked.get(&ip)?;
        let left = until.checked_duration_since(std::time::Instant::now())?;
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    /// Counts a failed authentication from `ip`.
    pub fn failed(&self, ip: std::net::IpAddr) {
        let Err(not_until) = self.failures.check_key(&ip) else { return };
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let now = std::time::Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded: addresses whose refusal ran out are forgotten first.
        if blocked.len() >= 100_000 {
            blocked.retain(|_, until| *until > now);
            self.failures.retain_recent();
        }
        blocked.insert(ip, now + wait.max(PEER_REFUSAL));
    }
}

/// Middleware (outside authentication): refuses a peer address that keeps
/// failing authentication with 429 before its key is looked up, and counts
/// each 401 against its address. Without the peer's address (in-process
/// calls) it does nothing.
pub async fn guard_peers(State(guard): State<Arc<PeerGuard>>, req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    if let Some(secs) = peer.and_then(|ip| guard.refused(ip)) {
        return AppError::too_many(
            "Too many failed authentications",
            format!("this address sent too many requests without a valid API key; retry in {secs} s"),
            secs,
        )
        .into_response();
    }
    let resp = next.run(req).await;
    if resp.status() == StatusCode::UNAUTHORIZED {
        if let Some(ip) = peer {
            guard.failed(ip);
        }
    }
    resp
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
        let g = PeerGuard::new(1, 3);
        let (a, b) = ("127.0.0.2".parse().expect("ip"), "127.0.0.3".parse().expect("ip"));
        for _ in 0..3 {
            assert_eq!(g.refused(a), None);
            g.failed(a);
        }
        assert_eq!(g.refused(a), None, "the burst is allowed");
        g.failed(a);
        assert!(g.refused(a).is_some_and(|s| s >= 1), "then the address is refused");
        assert_eq!(g.refused(b), None, "another address is not");
        for bad in ["10", "0:5", "5:x", ":"] {
            assert!(bad.parse::<Tier>().is_err(), "{bad}");
        }
    }
}
