//! Proptest strategies for events and sealed chains (feature `testkit`).

use crate::event::*;
use crate::seal::{ChainHead, SealedRecord, Sealer, Source};
use crate::signing::{Keyring, SigningKey, VerifierKey};
use proptest::prelude::*;
use std::collections::BTreeMap;
use uuid::Uuid;

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z ]{0,24}", "\\PC{0,16}", Just(String::new()),]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9._-]{0,11}"
}

/// Any valid trace event of `tenant`.
pub fn arb_event(tenant: String) -> impl Strategy<Value = TraceEvent> {
    let tool = (ident(), ident(), opt_text(), opt_text(), prop::sample::select(ToolStatus::ALL))
        .prop_map(|(name, call_id, arguments, result, status)| ToolCall { name, call_id, arguments, result, status });
    let model =
        prop::option::of((ident(), ident(), prop::option::of(ident())).prop_map(|(provider, name, version)| Model {
            provider,
            name,
            version,
        }));
    let ids = (any::<u128>(), prop::option::of(any::<u128>()), ident(), ident(), 0u32..50);
    let body = (
        prop::sample::select(EventKind::ALL),
        -2_000_000_000_000_000i64..4_000_000_000_000_000,
        model,
        opt_text(),
        opt_text(),
        opt_text(),
        prop::collection::vec(tool, 0..3),
    );
    let tail = (
        prop::option::of((any::<u32>(), any::<u32>(), any::<u32>())),
        prop::option::of(0..=i64::MAX as u64),
        prop::option::of(0..=i64::MAX as u64),
        (prop::sample::select(StatusCode::ALL), opt_text()),
        prop::collection::vec("hmac:[0-9a-f]{8}", 0..2),
        prop::option::of(prop::sample::select(Classification::ALL)),
        prop::option::of(0u32..100),
        prop::collection::vec((ident(), text()), 0..3),
    );
    (ids, body, tail).prop_map(move |(ids, body, tail)| {
        let (id, parent, agent_id, session_id, step_index) = ids;
        let (kind, ts, model, input, output, reasoning, tools) = body;
        let (
            tokens,
            cost_micros,
            latency_ms,
            (code, message),
            subject_ids,
            data_classification,
            expected_steps,
            attrs,
        ) = tail;
        let event_id = Uuid::from_u128(id | 1);
        TraceEvent {
            event_id,
            tenant_id: tenant.clone(),
            agent_id,
            session_id,
            step_index,
            parent_event_id: parent.map(|p| Uuid::from_u128(p & !1)),
            kind,
            timestamp: Timestamp(ts),
            model,
            input,
            output,
            reasoning,
            tools,
            tokens: tokens.map(|(i, o, c)| Tokens {
                input: i.into(),
                output: o.into(),
                cached: c.into(),
            }),
            cost_micros,
            latency_ms,
            status: Status { code, message },
            subject_ids,
            data_classification,
            expected_steps,
            attributes: attrs
                .into_iter()
                .map(|(key, value)| Attribute { key, value })
                .collect(),
        }
    })
}

/// Events of 1–3 tenants, interleaved.
pub fn arb_events(max: usize) -> impl Strategy<Value = Vec<TraceEvent>> {
    prop::collection::vec((0usize..3).prop_flat_map(|t| arb_event(format!("tenant-{t}"))), 1..max)
}

/// A deterministic test key: the same name gives the same key, different names different keys.
pub fn test_key(name: &str) -> SigningKey {
    use rand::SeedableRng;
    let seed: [u8; 32] = crate::hash::sha256(name.as_bytes()).0;
    let mut rng = rand::rngs::StdRng::from_seed(seed);
    SigningKey::generate(name, &mut rng).unwrap_or_else(|e| panic!("test key: {e}"))
}

/// The keyring holding `key`'s verifier key with no validity bounds.
pub fn keyring_of(key: &SigningKey) -> Keyring {
    Keyring::new(vec![VerifierKey::parse(&key.verifier_key_string()).unwrap_or_else(|e| panic!("{e}"))])
}

/// Seals `events` in order with `key`, one chain per tenant, sealed_at
/// increasing from 1_700_000_000_000_000 µs by 1 µs per record.
pub fn seal_all(key: &SigningKey, events: Vec<TraceEvent>) -> Vec<SealedRecord> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let sealer = Sealer::new(key.clone(), "default/v1");
    let mut heads: BTreeMap<String, ChainHead> = BTreeMap::new();
    events
        .into_iter()
        .enumerate()
        .map(|(i, ev)| {
            let head = heads.entry(ev.tenant_id.clone()).or_insert_with(|| ChainHead::genesis(&ev.tenant_id));
            let src = Source { topic: "traces.raw".into(), partition: 0, offset: i as u64 };
            sealer.seal(head, ev, Timestamp(1_700_000_000_000_000 + i as i64), Some(src), &mut rng)
        })
        .collect()
}

/// `n` simple, valid events of `tenant` (steps 0..n of one session), the
/// same for the same arguments.
pub fn fixed_events(tenant: &str, n: usize) -> Vec<TraceEvent> {
    fixed_events_seeded(tenant, n, 0)
}

/// Like [`fixed_events`], with event ids and content derived from `seed`.
pub fn fixed_events_seeded(tenant: &str, n: usize, seed: u64) -> Vec<TraceEvent> {
    (0..n)
        .map(|i| {
            let id = (u128::from(seed) << 64) | (i as u128 + 1);
            let at = Timestamp(1_700_000_000_000_000 + i as i64);
            let bare = TraceEvent::bare(
                Uuid::from_u128(id),
                tenant.to_string(),
                "agent-1",
                format!("s-{seed}"),
                EventKind::LlmCall,
                at,
            );
            TraceEvent {
                step_index: i as u32,
                input: Some(format!("input {seed}/{i}")),
                output: Some(format!("output {seed}/{i}")),
                ..bare
            }
        })
        .collect()
}
