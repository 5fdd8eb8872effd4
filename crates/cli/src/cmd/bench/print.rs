//! The report as text: each figure beside its same-run baseline and the ratio.

use super::*;

/// A scan's parts, each timed alone, and its slowest part against `goal`
/// MB/s, with `dp` decimals.
fn print_parts(parts: &[ScanPart], whole: f64, slowest: f64, goal: f64, dp: usize) {
    for part in parts {
        println!("  {:<16} {:>6.1} MB  {:>6.dp$} MB/s", part.part, part.mb, part.scan_mb_per_s);
    }
    println!(
        "  slowest part {slowest:.dp$} MB/s, {:.2}× the whole   no cliff (slowest ≥ {goal} MB/s): {}",
        slowest / whole,
        verdict(slowest >= goal)
    );
}

/// A goal's verdict.
fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

pub(super) fn print_report(r: &Report, a: &BenchArgs) {
    println!("traceledger bench — {} events of {} bytes per run, median of {} runs", a.events, r.event_bytes, a.runs);
    if let Some(e) = &r.embedded {
        println!("embedded log");
        println!("  raw ed25519 sign, 1 core       {:>9.0} /s   (baseline)", e.raw_sign_per_s);
        println!(
            "  sealed+durable, 1 partition    {:>9.0} /s   ratio to raw sign {:.3}   goal ≥ {GOAL_SIGN_RATIO}: {}",
            e.one_partition_per_s,
            e.ratio_to_raw_sign,
            verdict(e.ratio_to_raw_sign >= GOAL_SIGN_RATIO)
        );
        println!(
            "  cpu per event, 1 partition     {:>9.1} µs  on {:.2} cores   (signing alone {:.1} µs)",
            e.one_partition_cpu_us_per_event,
            e.one_partition_cores,
            1e6 / e.raw_sign_per_s
        );
        println!(
            "  sealed+durable, 2 partitions   {:>9.0} /s   ratio to 1 partition {:.2}x  (one process on the same cores)",
            e.two_partitions_per_s, e.ratio_two_to_one,
        );
    }
    if let Some(w) = &r.workers {
        println!("sequencer workers, tenants sharded, each worker pinned to its own core (embedded log)");
        println!("  1 worker                       {:>9.0} /s   (baseline)", w.one_worker_per_s);
        println!(
            "  2 workers                      {:>9.0} /s   ratio to 1 worker {:.2}x  goal ≥ {GOAL_TWO_PARTITIONS}x: {}",
            w.two_workers_per_s,
            w.ratio_two_to_one,
            verdict(w.ratio_two_to_one >= GOAL_TWO_PARTITIONS)
        );
    }
    if let Some(k) = &r.kafka {
        println!("kafka-API broker (1 partition)");
        println!(
            "  bare pass-through (rdkafka)    {:>9.0} /s   (baseline: writes the {}-byte events)",
            k.passthrough_per_s, k.event_bytes
        );
        println!(
            "  bare pass-through, sealed bytes{:>9.0} /s   (baseline: writes the {}-byte sealed records)",
            k.sealed_passthrough_per_s, k.sealed_bytes
        );
        println!(
            "  sealed+durable+published       {:>9.0} /s   ratio to pass-through {:.3}   goal ≥ {GOAL_PASSTHROUGH_RATIO}: {}",
            k.sequencer_per_s,
            k.ratio_to_passthrough,
            verdict(k.ratio_to_passthrough >= GOAL_PASSTHROUGH_RATIO)
        );
        println!(
            "                                              ratio to the sealed-bytes pass-through {:.3}   goal ≥ {GOAL_PASSTHROUGH_RATIO}: {}",
            k.ratio_to_sealed_passthrough,
            verdict(k.ratio_to_sealed_passthrough >= GOAL_PASSTHROUGH_RATIO)
        );
    }
    for l in &r.latency {
        println!(
            "latency SDK record → sealed, {:<8} at {:>7.0}/s: p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms   ({} events)",
            l.log, l.rate_per_s, l.p50_ms, l.p99_ms, l.max_ms, l.events
        );
    }
    if let Some(p) = &r.pii {
        println!(
            "pii detection, {:.0} MB of varied agent text in {} fields ({} findings): {:.0} MB/s, Aho-Corasick pass {:.0} MB/s (baseline), ratio {:.3}   goal ≥ 100 MB/s: {}",
            p.text_mb,
            p.fields,
            p.findings,
            p.scan_mb_per_s,
            p.baseline_mb_per_s,
            p.ratio_to_baseline,
            verdict(p.scan_mb_per_s >= 100.0)
        );
        print_parts(&p.parts, p.scan_mb_per_s, p.slowest_part_mb_per_s, 100.0, 0);
    }
    if let Some(p) = &r.injection {
        println!(
            "injection detection, {:.0} MB of prompts and tool results in {} texts ({} flagged): {:.1} MB/s, Aho-Corasick pass {:.0} MB/s (baseline), ratio {:.3}   goal ≥ 20 MB/s: {}",
            p.text_mb,
            p.texts,
            p.detections,
            p.scan_mb_per_s,
            p.baseline_mb_per_s,
            p.ratio_to_baseline,
            verdict(p.scan_mb_per_s >= 20.0)
        );
        print_parts(&p.parts, p.scan_mb_per_s, p.slowest_part_mb_per_s, 20.0, 1);
    }
    if let Some(e) = &r.erasure {
        println!("erasure, one tenant of {} records (embedded log)", e.records);
        println!("  sealed+durable                 {:>9.0} /s   (baseline)", e.seal_per_s);
        println!(
            "  erased, log rewritten, purged  {:>9.0} /s   ratio to sealing {:.2}",
            e.erase_per_s, e.ratio_to_seal
        );
    }
    if let Some(e) = &r.encryption {
        println!("encryption at rest, 1 KiB events, 1 partition (embedded log)");
        println!("  sealed+durable, in the clear   {:>9.0} /s   (baseline)", e.plain_per_s);
        println!(
            "  sealed+durable, encrypted      {:>9.0} /s   ratio to the clear {:.3}",
            e.encrypted_per_s, e.ratio_to_plain
        );
    }
    if let Some(p) = &r.projections {
        println!("projections, {} sealed fleet records (embedded log)", p.records);
        println!("  runner alone (decode, rule, signature, position) {:>9.0} /s   (baseline)", p.baseline_per_s);
        for (name, rate, ratio) in &p.models {
            println!("  {name:<14} {rate:>9.0} records/s   ratio to the runner alone {ratio:.3}");
        }
        if p.all_own_readers_per_s > 0.0 {
            println!(
                "  all {} models, a reader each (before)   {:>9.0} /s   (baseline)",
                p.models.len(),
                p.all_own_readers_per_s
            );
            println!(
                "  all {} models, one verified reader     {:>9.0} /s   ratio {:.2}",
                p.models.len(),
                p.all_one_reader_per_s,
                p.all_one_reader_per_s / p.all_own_readers_per_s
            );
        }
    }
    for x in &r.readside {
        let with = if x.streams { ", projection streams published" } else { "" };
        println!(
            "read side on `traceledger up` ({} log{with}), {} events over HTTP from parallel clients",
            x.log, x.events
        );
        println!("  sealed                           {:>9.0} events/s   (baseline)", x.sealed_per_s);
        println!(
            "  queryable in every read model    {:>9.0} events/s   ratio {:.2}   goal ≥ {}: {}",
            x.queryable_per_s,
            x.ratio,
            super::readside::GOAL_RATIO,
            verdict(x.ratio >= super::readside::GOAL_RATIO)
        );
        println!(
            "  202 → visible in its session     p50 {:>6.1} ms   p99 {:>6.1} ms   ({} probes)",
            x.visible_ms.0, x.visible_ms.1, x.probes
        );
    }
    if let Some(x) = &r.readside_paced {
        println!(
            "read side at a steady {:.0} events/s on `traceledger up` (embedded log), {} events",
            x.rate_per_s, x.events
        );
        println!(
            "  POST /v1/events → 202               p50 {:>6.1} ms   p99 {:>6.1} ms   (baseline)",
            x.ack_ms.0, x.ack_ms.1
        );
        println!(
            "  202 → visible in its session        p50 {:>6.1} ms   p99 {:>6.1} ms   ({} probes)",
            x.visible_ms.0, x.visible_ms.1, x.probes
        );
    }
    if let Some(x) = &r.api {
        println!("query API over HTTP on loopback, {} warm requests per route", x.requests);
        println!(
            "  /v1/whoami (auth + routing)            p50 {:>6.2} ms   p99 {:>6.2} ms   (baseline)",
            x.whoami_ms.0, x.whoami_ms.1
        );
        println!(
            "  session chain of {:>5} steps           p50 {:>6.2} ms   p99 {:>6.2} ms   goal p99 ≤ 5 ms: {}",
            x.chain_steps,
            x.chain_ms.0,
            x.chain_ms.1,
            verdict(x.chain_ms.1 <= 5.0)
        );
        println!(
            "  inclusion proof, {:>9}-record tenant p50 {:>6.2} ms   p99 {:>6.2} ms   goal p99 ≤ 1 ms: {}   (tenant built in {:.0} s)",
            x.proof_records,
            x.proof_ms.0,
            x.proof_ms.1,
            verdict(x.proof_ms.1 <= 1.0),
            x.proof_build_s
        );
    }
    if let Some(m) = &r.memory {
        println!(
            "memory, {} tenants ({} events): peak RSS {:.0} MiB (before sealing {:.0} MiB)   ratio to the {GOAL_RSS_MIB} MiB budget {:.2}: {}",
            m.tenants,
            m.events,
            m.peak_rss_mib,
            m.rss_before_mib,
            m.peak_rss_mib / GOAL_RSS_MIB,
            verdict(m.peak_rss_mib <= GOAL_RSS_MIB)
        );
    }
}
