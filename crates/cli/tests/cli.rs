//! The `traceledger` binary end to end, as a user runs it: real files, real
//! processes, exit codes and output checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_traceledger"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run traceledger")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Env {
    dir: tempfile::TempDir,
    vkey: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tmp");
        let key = dir.path().join("ledger.key");
        let o = run(&["keys", "generate", "--name", "test.traceledger", "--out", key.to_str().expect("utf8")]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let vkey = stdout(&o).trim().to_string();
        Env { dir, vkey }
    }
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn s(&self, name: &str) -> String {
        self.p(name).to_str().expect("utf8").to_string()
    }
    fn fleet(&self, name: &str, sessions: &str) -> String {
        let o = run(&["fleet", "--tenants", "2", "--agents", "2", "--sessions", sessions, "--out", &self.s(name)]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        self.s(name)
    }
    fn export(&self, from: &str, out: &str, extra: &[&str]) -> Output {
        let (from, key, out) = (self.s(from), self.s("ledger.key"), self.s(out));
        let mut args = vec!["export", "--from", &from, "--key", &key, "--out", &out];
        args.extend_from_slice(extra);
        run(&args)
    }
    fn seal(&self, events: &str, out: &str, extra: &[&str]) -> Output {
        let key = self.s("ledger.key");
        let mut args = vec!["seal", "--events", events, "--key", &key, "--out", out];
        args.extend_from_slice(extra);
        run(&args)
    }
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn keys_generate_writes_a_private_file_and_prints_the_verifier_key() {
    let env = Env::new();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.p("ledger.key")).expect("key").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(env.vkey.starts_with("test.traceledger+"), "{}", env.vkey);
    assert!(!env.vkey.contains("PRIVATE"));
    let shown = run(&["keys", "show", "--key", &env.s("ledger.key")]);
    assert_eq!(stdout(&shown).trim(), env.vkey);
    assert_eq!(std::fs::read_to_string(env.p("ledger.key.pub")).expect("pub").trim(), env.vkey);
    // Never overwrites an existing key.
    let again = run(&["keys", "generate", "--out", &env.s("ledger.key")]);
    assert_eq!(code(&again), 2);
}

#[test]
fn fleet_seal_verify_round_trip_in_text_and_json() {
    let env = Env::new();
    let events = env.fleet("events.jsonl", "5");
    // A trailing slash, as shells complete it, names the same bundle.
    let o = env.seal(&events, &format!("{}/", env.s("b")), &["--checkpoint-every", "7", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let sealed = json(&o);
    let lines = std::fs::read_to_string(&events).expect("events").lines().count() as u64;
    assert_eq!(sealed["sealed"], lines);

    let o = run(&["verify", &env.s("b"), "--key", &env.vkey]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("VALID"), "{}", stdout(&o));
    assert!(stdout(&o).contains("pinned by you"));

    let o = run(&["verify", &env.s("b"), "--key", &env.vkey, "--json"]);
    let v = json(&o);
    assert_eq!(v["outcome"], "valid");
    assert_eq!(v["records"], lines);
    assert_eq!(v["signatures"], lines);
    assert_eq!(v["keys_pinned"], true);

    // Without --key: still valid, but says the keys came from the bundle.
    let o = run(&["verify", &env.s("b")]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("integrity, not origin"));
}

#[test]
fn tampering_is_exit_1_truncation_and_bad_keys_exit_2() {
    let env = Env::new();
    let events = env.fleet("events.jsonl", "4");
    assert_eq!(code(&env.seal(&events, &env.s("b"), &[])), 0);
    let records = env.p("b/records.avro");
    let pristine = std::fs::read(&records).expect("records");

    let mut bytes = pristine.clone();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&records, &bytes).expect("write");
    let o = run(&["verify", &env.s("b"), "--key", &env.vkey, "--json"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert_ne!(json(&o)["outcome"], "valid");
    let o = run(&["verify", &env.s("b"), "--key", &env.vkey]);
    assert!(stdout(&o).starts_with("✘ INVALID"), "{}", stdout(&o));

    std::fs::write(&records, &pristine[..pristine.len() - 10]).expect("truncate");
    let o = run(&["verify", &env.s("b"), "--key", &env.vkey, "--json"]);
    assert_eq!(code(&o), 2);
    let v = json(&o);
    assert_eq!(v["outcome"], "unusable");
    assert_eq!(v["path"], "records.avro");
    assert_eq!(v["offset"], pristine.len() as u64 - 10);

    std::fs::write(&records, &pristine).expect("restore");
    let o = run(&["verify", &env.s("b"), "--key", "not+a+key"]);
    assert_eq!(code(&o), 2);
    assert!(stdout(&o).contains("--key #1"), "{}", stdout(&o));
    let o = run(&["verify", &env.s("missing"), "--key", &env.vkey]);
    assert_eq!(code(&o), 2);
}

#[test]
fn a_bad_line_stops_the_run_naming_line_and_field_or_goes_to_the_dead_letter_file() {
    let env = Env::new();
    let good = std::fs::read_to_string(env.fleet("events.jsonl", "1")).expect("events");
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    lines.insert(2, lines[0].replace("\"step_index\":0", "\"step_index\":\"zero\""));
    lines.insert(4, "{not json".to_string());
    let first = lines[0].clone();
    lines.push(first); // a producer retry: same event_id again
    std::fs::write(env.p("mixed.jsonl"), lines.join("\n") + "\n").expect("write");

    let o = env.seal(&env.s("mixed.jsonl"), &env.s("b1"), &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("mixed.jsonl:3") && stderr(&o).contains("step_index"), "{}", stderr(&o));
    // A run that stopped leaves no bundle, complete-looking or partial.
    assert!(!env.p("b1").exists() && !env.p("b1.partial").exists());

    let o = env.seal(&env.s("mixed.jsonl"), &env.s("b2"), &["--dead-letter", &env.s("dlq.jsonl"), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = json(&o);
    assert_eq!(s["rejected"], 2);
    assert_eq!(s["duplicates"], 1);
    assert_eq!(s["sealed"], good.lines().count() as u64);
    let dlq: Vec<serde_json::Value> = std::fs::read_to_string(env.p("dlq.jsonl"))
        .expect("dlq")
        .lines()
        .map(|l| serde_json::from_str(l).expect("dlq line"))
        .collect();
    assert_eq!(dlq[0]["line"], 3);
    assert!(dlq[0]["reason"].as_str().expect("reason").contains("step_index"));
    assert_eq!(dlq[1]["line"], 5);
    assert_eq!(code(&run(&["verify", &env.s("b2"), "--key", &env.vkey])), 0);
}

#[test]
fn a_world_readable_key_is_refused() {
    let env = Env::new();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.p("ledger.key"), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let o = env.seal(&env.fleet("e.jsonl", "1"), &env.s("b"), &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
    assert!(!Path::new(&env.s("b")).exists());
}

#[test]
fn the_shared_example_event_seals_as_is() {
    let env = Env::new();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/trace-event.json");
    let one_line = serde_json::to_string(
        &serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(example).expect("example")).expect("json"),
    )
    .expect("json");
    std::fs::write(env.p("one.jsonl"), one_line).expect("write");
    assert_eq!(code(&env.seal(&env.s("one.jsonl"), &env.s("b"), &[])), 0);
    assert_eq!(code(&run(&["verify", &env.s("b"), "--key", &env.vkey])), 0);
}

#[test]
fn export_one_tenant_without_content_still_verifies_and_holds_no_content() {
    let env = Env::new();
    let events = env.fleet("events.jsonl", "4");
    assert_eq!(code(&env.seal(&events, &env.s("b"), &["--checkpoint-every", "5"])), 0);
    let o = env.export("b", "x", &["--tenant", "globex", "--without-content", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = json(&o);
    assert_eq!(s["tenants"].as_object().expect("tenants").keys().collect::<Vec<_>>(), vec!["globex"]);
    assert!(s["checkpoints_copied"].as_u64().expect("n") >= 1);
    let o = run(&["verify", &env.s("x"), "--key", &env.vkey, "--json"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let v = json(&o);
    assert_eq!(v["tenants"][0]["tenant_id"], "globex");
    assert_eq!(v["tenants"][0]["content_verified"], 0);
    assert!(v["tenants"][0]["content_erased"].as_u64().expect("n") > 0);
    let bytes = std::fs::read(env.p("x/records.avro")).expect("records");
    assert!(!bytes.windows(5).any(|w| w == b"Plan:"), "content must be gone");
    // An unknown tenant is refused with the list of known ones.
    let o = env.export("b", "y", &["--tenant", "nope"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("acme, globex"), "{}", stderr(&o));
}
