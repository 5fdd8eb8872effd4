//! The demo fleet's traffic (crates/fleet: many tenants, agents, tools and
//! sessions) is benign: the detector must stay quiet on all of it, with the
//! policy's defaults (input as a prompt, tool results as data).

use traceledger_fleet::{generate, FleetSpec};
use traceledger_injection::{Detector, Source};

#[test]
fn the_demo_fleet_raises_no_injection() {
    let d = Detector::builtin();
    let events = generate(&FleetSpec {
        tenants: 6,
        agents_per_tenant: 4,
        sessions_per_agent: 12,
        seed: 11,
        ..FleetSpec::default()
    });
    let mut texts = 0;
    for e in &events {
        let mut check = |t: &str, s: Source| {
            texts += 1;
            if let Some(x) = d.detect(t, s) {
                assert!(x.score < 0.5, "{x:?} on {t:?}");
            }
        };
        if let Some(t) = &e.input {
            check(t, Source::Prompt);
        }
        for c in &e.tools {
            if let Some(t) = &c.result {
                check(t, Source::Data);
            }
        }
    }
    assert!(texts > 500, "{texts} texts");
}
