//! `traceledger bench` end to end, small: every figure is produced on a real
//! embedded log and a real broker, and what it reports is consistent (all
//! events came back sealed, percentiles ordered, memory measured for the
//! tenants asked). It checks that the bench works, not how fast anything is:
//! speed is for `make bench` and BENCHMARKS.md.

use serde_json::Value;
use std::process::Command;

#[test]
fn the_bench_reports_every_figure() {
    let broker = std::env::var("TRACELEDGER_TEST_BROKER").expect("run under scripts/with-broker.sh (make test)");
    let out = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["bench", "--json", "--events", "2000", "--runs", "1", "--latency-seconds", "2", "--tenants", "3000"])
        .args(["--kafka", &broker])
        .args(["--api-requests", "50", "--chain-steps", "100", "--proof-records", "3000"])
        .output()
        .expect("run traceledger bench");
    assert!(out.status.success(), "bench failed: {}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let num = |v: &Value, k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} missing in {v}"));
    let e = &r["embedded"];
    for k in ["raw_sign_per_s", "one_partition_per_s", "two_partitions_per_s"] {
        assert!(num(e, k) > 0.0, "{k}");
    }
    assert!((num(e, "ratio_to_raw_sign") - num(e, "one_partition_per_s") / num(e, "raw_sign_per_s")).abs() < 1e-9);
    let w = &r["workers"];
    assert!(num(w, "one_worker_per_s") > 0.0 && num(w, "two_workers_per_s") > 0.0, "{w}");
    assert!((num(w, "ratio_two_to_one") - num(w, "two_workers_per_s") / num(w, "one_worker_per_s")).abs() < 1e-9);
    let k = &r["kafka"];
    assert!(num(k, "passthrough_per_s") > 0.0 && num(k, "sequencer_per_s") > 0.0);
    assert!(num(k, "sealed_passthrough_per_s") > 0.0, "{k}");
    // A sealed record carries the event plus its header, commitments,
    // salts and signature.
    assert!(num(k, "sealed_bytes") > num(k, "event_bytes") && num(k, "event_bytes") > 900.0, "{k}");
    let lat = r["latency"].as_array().expect("latency figures");
    assert_eq!(lat.iter().map(|l| l["log"].as_str().unwrap_or_default()).collect::<Vec<_>>(), ["embedded", "kafka"]);
    for l in lat {
        assert!(num(l, "events") > 0.0, "{l}");
        assert!(num(l, "p50_ms") <= num(l, "p99_ms") && num(l, "p99_ms") <= num(l, "max_ms"), "{l}");
    }
    let p = &r["pii"];
    assert!(num(p, "findings") > 0.0 && num(p, "scan_mb_per_s") > 0.0 && num(p, "baseline_mb_per_s") > 0.0, "{p}");
    let parts = p["parts"].as_array().expect("pii parts");
    assert_eq!(parts.len(), 8, "{p}");
    assert!(parts.iter().all(|x| num(x, "scan_mb_per_s") >= num(p, "slowest_part_mb_per_s")), "{p}");
    let i = &r["injection"];
    assert!(num(i, "detections") > 0.0 && num(i, "scan_mb_per_s") > 0.0 && num(i, "baseline_mb_per_s") > 0.0, "{i}");
    assert!(num(i, "detections") < num(i, "texts"), "{i}");
    let parts = i["parts"].as_array().expect("injection parts");
    assert_eq!(parts.len(), 4, "{i}");
    assert!(parts.iter().all(|x| num(x, "scan_mb_per_s") >= num(i, "slowest_part_mb_per_s")), "{i}");
    let pr = &r["projections"];
    assert!(num(pr, "records") > 0.0 && num(pr, "baseline_per_s") > 0.0, "{pr}");
    let names: Vec<&str> = pr["models"].as_array().expect("models").iter().filter_map(|m| m[0].as_str()).collect();
    assert_eq!(names, ["ledger", "sessions", "pii", "anomaly", "availability"]);
    assert!(num(pr, "all_one_reader_per_s") > 0.0 && num(pr, "all_own_readers_per_s") > 0.0, "{pr}");
    let rs = r["readside"].as_array().expect("readside figures");
    let runs: Vec<(&str, bool)> =
        rs.iter().map(|x| (x["log"].as_str().unwrap_or_default(), x["streams"] == true)).collect();
    assert_eq!(runs, [("embedded", false), ("embedded", true), ("kafka", false)], "without and with the streams");
    let paced = &r["readside_paced"];
    assert!(num(paced, "rate_per_s") == 1000.0 && num(paced, "events") > 0.0 && num(paced, "probes") > 0.0, "{paced}");
    for k in ["ack_ms", "visible_ms"] {
        let (p50, p99) = (paced[k][0].as_f64().expect("p50"), paced[k][1].as_f64().expect("p99"));
        assert!(p50 > 0.0 && p50 <= p99, "{k}: {paced}");
    }
    for x in rs {
        // Every event was sealed before it was queryable everywhere.
        assert!(num(x, "events") > 1000.0 && num(x, "queryable_per_s") > 0.0, "{x}");
        assert!(num(x, "queryable_per_s") <= num(x, "sealed_per_s") * 1.0001, "{x}");
        assert!(num(x, "ratio") > 0.0 && num(x, "ratio") <= 1.0001, "{x}");
        let (p50, p99) = (x["visible_ms"][0].as_f64().expect("p50"), x["visible_ms"][1].as_f64().expect("p99"));
        assert!(num(x, "probes") > 0.0 && p50 > 0.0 && p50 <= p99, "{x}");
    }
    let api = &r["api"];
    assert_eq!((num(api, "chain_steps"), num(api, "proof_records")), (100.0, 3000.0));
    for k in ["whoami_ms", "chain_ms", "proof_ms"] {
        let (p50, p99) = (api[k][0].as_f64().expect("p50"), api[k][1].as_f64().expect("p99"));
        assert!(p50 > 0.0 && p50 <= p99, "{k}: {api}");
    }
    let er = &r["erasure"];
    assert_eq!(num(er, "records"), 2000.0, "{er}");
    assert!(num(er, "seal_per_s") > 0.0 && num(er, "erase_per_s") > 0.0, "{er}");
    let en = &r["encryption"];
    assert!(num(en, "plain_per_s") > 0.0 && num(en, "encrypted_per_s") > 0.0, "{en}");
    assert!((num(en, "ratio_to_plain") - num(en, "encrypted_per_s") / num(en, "plain_per_s")).abs() < 1e-9, "{en}");
    let m = &r["memory"];
    assert_eq!(num(m, "tenants"), 3000.0);
    assert_eq!(num(m, "events"), 6000.0);
    assert!(num(m, "peak_rss_mib") >= num(m, "rss_after_mib") && num(m, "rss_after_mib") > 0.0, "{m}");
}
