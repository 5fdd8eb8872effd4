//! The SOC 2 evidence report of a running node: every figure of the JSON
//! recomputed here from the tenant's sealed records (read one by one over
//! the API), the signed note checked with `traceledger verify-report` (and
//! an edited copy refused), the HTML rendered in Debian's headless Chromium
//! (`tests/console/report.mjs`: every section and chart present, a
//! non-blank screenshot, a PDF), and the roles that may not have it refused.

mod common;

use common::{create_key, get_with_headers, http_as};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::get_ok as get;

fn counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_array()
        .expect("counts")
        .iter()
        .map(|c| (c["name"].as_str().expect("name").to_string(), c["count"].as_u64().expect("count")))
        .collect()
}

fn verify_report(file: &Path, vkey: &str) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .arg("verify-report")
        .arg(file)
        .args(["--key", vkey, "--json"])
        .output()
        .expect("verify-report");
    (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn the_soc2_report_matches_the_ledger_verifies_offline_and_renders() {
    let data = common::demo_data();
    let exe = env!("CARGO_BIN_EXE_traceledger");
    let tenant = "acme";
    let auditor = std::fs::read_to_string(data.path().join(format!("demo-{tenant}.key"))).expect("demo key");
    let auditor = auditor.trim();
    let viewer = create_key(data.path(), tenant, "viewer");
    let vkey = std::fs::read_to_string(data.path().join("keys/ledger.pub")).expect("ledger.pub").trim().to_string();
    // A register with two of the demo's providers, one without a transfer basis.
    let register = data.path().join("providers.toml");
    std::fs::write(
        &register,
        "eu_subjects = true\n[[provider]]\nname = \"openai\"\nregion = \"us\"\ntraining_use = false\ndpa = true\ntransfer_basis = \"scc\"\n\
         [[provider]]\nname = \"anthropic\"\nregion = \"us\"\ntraining_use = false\ndpa = true\n",
    )
    .expect("register");
    let register = register.to_str().expect("utf-8 path").to_string();
    let (child, addr) = common::start_up(data.path(), &["--checkpoint-seconds", "1", "--providers", &register]);
    let _node = common::Killed(child);

    // Every record of the tenant, read over the API (content included).
    let start = Instant::now();
    let size = loop {
        let (status, _, body) = http_as(&addr, Some(auditor), "GET", "/v1/checkpoints/latest", b"");
        if status == 200 {
            break serde_json::from_str::<Value>(&body).expect("json")["size"].as_u64().expect("size");
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no checkpoint: {body}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let records: Vec<Value> = (0..size).map(|seq| get(&addr, auditor, &format!("/v1/records/{seq}"))).collect();
    let events: Vec<&Value> = records.iter().map(|r| &r["event"]).collect();

    // One data-subject export, answered: the report counts it from the
    // access chain (sealed off the request path, so wait for it).
    let subject = events.iter().find_map(|e| e["subject_ids"][0].as_str()).expect("a subject").to_string();
    let (status, _) = common::get_bytes(&addr, auditor, &format!("/v1/dsar/{subject}"));
    assert_eq!(status, 200);
    let period = "from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z";
    let start = Instant::now();
    let (head, body, rep) = loop {
        let (status, head, body) = get_with_headers(&addr, auditor, &format!("/v1/reports/soc2?{period}&format=json"));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let rep: Value = serde_json::from_slice(&body).expect("report json");
        if rep["privacy"]["dsar"].as_str().is_some_and(|d| d.starts_with("1 data-subject export")) {
            break (head, body, rep);
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the DSAR export is not in the report: {}", rep["privacy"]);
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(rep["format"], "traceledger-soc2/v1");
    assert_eq!(rep["tenant_id"], tenant);

    // Processing Integrity: volumes per agent and day, verification, completeness.
    let mut volumes: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for e in &events {
        let day = e["timestamp"].as_str().expect("time")[..10].to_string();
        let v = volumes.entry((day, e["agent_id"].as_str().expect("agent").to_string())).or_default();
        v.0 += 1;
        v.1 += u64::from(e["status"]["code"] == "error");
    }
    let got: BTreeMap<(String, String), (u64, u64)> = rep["processing_integrity"]["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .map(|v| {
            let k = (v["day"].as_str().expect("day").into(), v["agent"].as_str().expect("agent").into());
            (k, (v["events"].as_u64().expect("events"), v["errors"].as_u64().expect("errors")))
        })
        .collect();
    assert_eq!(got, volumes, "events and errors per agent and day");
    let ver = &rep["processing_integrity"]["verification"];
    assert_eq!((ver["valid"].as_bool(), ver["records"].as_u64()), (Some(true), Some(size)), "{ver}");
    assert!(ver["checkpoints"].as_u64() >= Some(1));
    // Sessions: ended with every step present and at least the expected
    // count is complete; the demo's are days old, so no session is open.
    let mut sessions: BTreeMap<String, (bool, std::collections::BTreeSet<u64>, u64)> = BTreeMap::new();
    for e in &events {
        let s = sessions.entry(e["session_id"].as_str().expect("sid").to_string()).or_default();
        s.0 |= e["kind"] == "agent_end";
        s.1.insert(e["step_index"].as_u64().expect("step"));
        s.2 = s.2.max(e["expected_steps"].as_u64().unwrap_or(0));
    }
    let complete = sessions
        .values()
        .filter(|(ended, steps, expected)| {
            let max = steps.iter().max().copied().unwrap_or(0);
            *ended && steps.len() as u64 == max + 1 && steps.len() as u64 >= *expected
        })
        .count() as u64;
    let c = &rep["processing_integrity"]["completeness"];
    assert_eq!(c["sessions"].as_u64(), Some(sessions.len() as u64), "{c}");
    assert_eq!((c["complete"].as_u64(), c["open"].as_u64()), (Some(complete), Some(0)), "{c}");
    assert_eq!(c["incomplete"].as_u64(), Some(sessions.len() as u64 - complete), "{c}");
    assert_eq!(c["recorded_steps"].as_u64(), Some(size));

    // Confidentiality: records with personal data, by kind, per the detectors.
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut pii_records = 0;
    for e in &events {
        let mut texts: Vec<&str> = ["input", "output", "reasoning"].iter().filter_map(|f| e[*f].as_str()).collect();
        for t in e["tools"].as_array().into_iter().flatten() {
            texts.extend(["arguments", "result"].iter().filter_map(|f| t[*f].as_str()));
        }
        let kinds: std::collections::BTreeSet<String> =
            texts.iter().flat_map(|t| traceledger_pii::scan(t)).map(|f| f.kind.name().to_string()).collect();
        pii_records += u64::from(!kinds.is_empty());
        for k in kinds {
            *by_kind.entry(k).or_default() += 1;
        }
    }
    let conf = &rep["confidentiality"];
    assert_eq!(conf["pii_records"].as_u64(), Some(pii_records), "{conf}");
    assert_eq!(counts(&conf["by_kind"]), by_kind);
    let classified: u64 = counts(&conf["classification"]).values().sum();
    assert_eq!(classified, size, "every record has one classification");
    // This node runs without redaction rules or a master key, and says so.
    assert!(conf["redaction"].as_str().is_some_and(|r| r.starts_with("No redaction rule applies")), "{conf}");
    assert!(conf["encryption_at_rest"].as_str().is_some_and(|r| r.starts_with("Not encrypted at rest")), "{conf}");

    // Availability: each agent's events and errors in the period.
    for a in rep["availability"]["agents"].as_array().expect("agents") {
        let name = a["name"].as_str().expect("name");
        let (n, x) = volumes.iter().filter(|((_, ag), _)| ag == name).fold((0, 0), |t, (_, v)| (t.0 + v.0, t.1 + v.1));
        assert_eq!((a["events"].as_u64(), a["errors"].as_u64()), (Some(n), Some(x)), "{name}");
    }
    // Security: the keys made here, by role.
    let roles = counts(&rep["security"]["keys"]["by_role"]);
    assert_eq!((roles.get("auditor"), roles.get("viewer")), (Some(&1), Some(&1)), "{roles:?}");
    // Privacy: the inventory names the providers seen.
    let providers: Vec<&str> =
        rep["privacy"]["providers_seen"].as_array().expect("providers").iter().filter_map(Value::as_str).collect();
    let mut want: Vec<&str> = events
        .iter()
        .filter_map(|e| e["model"]["provider"].as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    want.sort_unstable();
    assert_eq!(providers, want);
    // The register's flags: every provider used but not registered; every
    // provider sent personal data that is unregistered or outside the EU
    // without a transfer basis (anthropic, here).
    let inventory = get(&addr, auditor, "/v1/pii/inventory");
    let sent: std::collections::BTreeSet<&str> = inventory["inventory"]
        .as_array()
        .expect("inventory")
        .iter()
        .filter_map(|i| i["provider"].as_str())
        .filter(|p| *p != "none")
        .collect();
    let registered = ["anthropic", "openai"];
    let used: std::collections::BTreeSet<&str> = want.iter().copied().chain(sent.iter().copied()).collect();
    let unregistered: Vec<&str> = used.iter().copied().filter(|p| !registered.contains(p)).collect();
    let got: Vec<&str> = rep["privacy"]["unregistered_providers"]
        .as_array()
        .expect("unregistered")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(got, unregistered);
    let flags: Vec<&str> =
        rep["privacy"]["transfer_flags"].as_array().expect("flags").iter().filter_map(Value::as_str).collect();
    let flagged: Vec<&str> = sent.iter().copied().filter(|p| *p != "openai").collect();
    assert_eq!(flags.len(), flagged.len(), "{flags:?}");
    for (f, p) in flags.iter().zip(&flagged) {
        assert!(f.contains(&format!("`{p}`")), "{f}");
    }
    assert_eq!(rep["privacy"]["register"].as_array().map(Vec::len), Some(2));

    // The regulation mapping: every requirement, its status following the
    // figures above.
    let regs = rep["regulations"].as_array().expect("regulations");
    let refs: Vec<&str> = regs.iter().filter_map(|q| q["reference"].as_str()).collect();
    assert_eq!(
        refs,
        [
            "Art. 12(1)",
            "Art. 12(2)(a)",
            "Art. 12(2)(b)",
            "Art. 12(2)(c)",
            "Art. 19(1)",
            "Art. 26(6)",
            "Annex A, A.6.2.8",
            "GOVERN",
            "MAP",
            "MEASURE",
            "MANAGE"
        ]
    );
    let status = |r: &str| regs.iter().find(|q| q["reference"] == r).and_then(|q| q["status"].as_str()).unwrap_or("");
    assert!(regs.iter().all(|q| q["evidence"].as_array().is_some_and(|e| !e.is_empty())));
    let missing = c["missing_steps"].as_u64().unwrap_or(0);
    assert_eq!(status("Art. 12(1)"), if missing > 0 { "gap" } else { "met" }, "{}", rep["regulations"]);
    let floor = rep["privacy"]["retention_rule"]["min_days"].as_u64();
    let want = match floor {
        None => "not_configured",
        Some(d) if d < 183 => "gap",
        Some(_) => "met",
    };
    assert_eq!((status("Art. 19(1)"), status("Art. 26(6)")), (want, want));
    assert_eq!(status("MAP"), "gap", "the register flags providers");
    let kinds: u64 = counts(&rep["recording"]["kinds"]).values().sum();
    assert_eq!(kinds, size, "every event of the period is tallied by kind");
    assert!(rep["recording"]["first_sealed_at"].as_str().is_some());

    // The signature: verify-report accepts the file and its note, refuses an edit.
    let sig = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().starts_with("x-traceledger-report-signature:").then(|| l[31..].trim().to_string())
        })
        .expect("signature header");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("report.json");
    std::fs::write(&file, &body).expect("write");
    use base64::Engine;
    let note = base64::engine::general_purpose::STANDARD.decode(sig).expect("base64");
    std::fs::write(dir.path().join("report.json.sig"), &note).expect("write");
    let (ok, out) = verify_report(&file, &vkey);
    assert!(ok, "{out}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["anchor"]["size"], rep["anchor"]["size"]);
    let edited = String::from_utf8(body.clone()).expect("utf-8").replacen("\"valid\": true", "\"valid\": false", 1);
    assert_ne!(edited.as_bytes(), &body[..]);
    std::fs::write(&file, edited).expect("write");
    let (ok, out) = verify_report(&file, &vkey);
    assert!(!ok && out.contains("altered"), "{out}");

    // Every report made is kept: listed (newest first) with the checkpoint
    // it rests on, and served again byte for byte with the same note.
    let header = |head: &str, name: &str| {
        head.lines().find_map(|l| l.to_ascii_lowercase().starts_with(name).then(|| l[name.len()..].trim().to_string()))
    };
    let id = header(&head, "x-traceledger-report-id:").expect("the report's archive id");
    let listed = get(&addr, auditor, "/v1/reports");
    let entry = listed.as_array().expect("list").iter().find(|r| r["id"] == id.as_str()).expect("listed").clone();
    use sha2::Digest;
    assert_eq!(entry["sha256"], hex::encode(sha2::Sha256::digest(&body)));
    assert_eq!((entry["format"].as_str(), entry["from"].as_str()), (Some("json"), rep["from"].as_str()));
    let anchor = format!(
        "{} {} {}",
        rep["anchor"]["origin"].as_str().expect("origin"),
        rep["anchor"]["size"],
        rep["anchor"]["root"].as_str().expect("root")
    );
    assert_eq!(entry["anchor"], anchor.as_str());
    let (status, again_head, again) = get_with_headers(&addr, auditor, &format!("/v1/reports/{id}"));
    assert_eq!((status, again == body), (200, true));
    assert_eq!(
        header(&again_head, "x-traceledger-report-signature:"),
        header(&head, "x-traceledger-report-signature:")
    );
    assert_eq!(get_with_headers(&addr, auditor, "/v1/reports/soc2-0-000000000000").0, 404);
    assert_eq!(http_as(&addr, Some(&viewer), "GET", "/v1/reports", b"").0, 403);

    // The HTML through the CLI, verified, then rendered in Chromium.
    std::fs::write(dir.path().join("auditor.key"), auditor).expect("key file");
    // `traceledger report soc2 --format FORMAT --out OUT` as the Auditor.
    let report_cli = |format: &str, out: &Path| {
        let o = Command::new(exe)
            .args(["report", "soc2", "--url", &format!("http://{addr}"), "--from", "2026-01-01T00:00:00Z"])
            .args(["--to", "2027-01-01T00:00:00Z", "--format", format, "--api-key-file"])
            .arg(dir.path().join("auditor.key"))
            .arg("--out")
            .arg(out)
            .output()
            .expect("report soc2");
        assert!(o.status.success(), "{format}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let html = dir.path().join("report.html");
    report_cli("html", &html);
    let (ok, out) = verify_report(&html, &vkey);
    assert!(ok, "{out}");
    let artifacts = std::env::var("TRACELEDGER_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("traceledger-console-artifacts"));
    let console = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/console");
    let o = Command::new("node")
        .arg("report.mjs")
        .current_dir(&console)
        .env("TL_REPORT", &html)
        .env("TL_ARTIFACTS", &artifacts)
        .output()
        .expect("node (scripts/deps.sh installs it)");
    let out = String::from_utf8_lossy(&o.stdout);
    print!("{out}");
    assert!(o.status.success() && out.contains("passed"), "{out}{}", String::from_utf8_lossy(&o.stderr));

    // A PDF: printed from the signed HTML written beside it.
    let pdf = dir.path().join("print.pdf");
    report_cli("pdf", &pdf);
    assert!(std::fs::read(&pdf).expect("pdf").starts_with(b"%PDF"));
    assert!(verify_report(&dir.path().join("print.html"), &vkey).0);

    // The DSAR export through the CLI, and a subject id from a secret.
    let tar_path = dir.path().join("dsar.tar");
    let o = Command::new(exe)
        .args(["dsar", "export", "--url", &format!("http://{addr}"), "--subject", &subject, "--api-key-file"])
        .arg(dir.path().join("auditor.key"))
        .arg("--out")
        .arg(&tar_path)
        .output()
        .expect("dsar export");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let n = events
        .iter()
        .filter(|e| e["subject_ids"].as_array().is_some_and(|s| s.iter().any(|x| x == subject.as_str())))
        .count();
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("{n} record(s) about the subject")));
    assert!(std::fs::metadata(&tar_path).expect("tar").len() > 0);
    std::fs::write(dir.path().join("secret"), b"Jefe").expect("secret");
    let o = Command::new(exe)
        .args(["dsar", "subject-id", "--secret-file"])
        .arg(dir.path().join("secret"))
        .arg("what do ya want for nothing?")
        .output()
        .expect("subject-id");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "hmac:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );

    // Roles: a Viewer may not have the report; bad periods are named.
    let (status, _, _) = http_as(&addr, Some(&viewer), "GET", &format!("/v1/reports/soc2?{period}"), b"");
    assert_eq!(status, 403);
    for (q, field) in [
        ("to=2027-01-01T00:00:00Z", "from"),
        ("from=2027-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&format=docx", "format"),
    ] {
        let (status, _, body) = http_as(&addr, Some(auditor), "GET", &format!("/v1/reports/soc2?{q}"), b"");
        assert_eq!(status, 400, "{q}: {body}");
        assert!(body.contains(&format!("\"field\":\"{field}\"")), "{q}: {body}");
    }
}
