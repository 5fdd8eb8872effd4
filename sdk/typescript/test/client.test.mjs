// The TypeScript SDK against real `traceledger up` nodes on loopback.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";

import { Client } from "../dist/index.js";
import { createKey, dataDir, freePort, startNode } from "./node.mjs";

const ev = (session, i, extra = {}) => ({ agent_id: "a", session_id: session, step_index: i, kind: "llm_call", ...extra });

test("a session's steps arrive in order, each linked to the one before", async (t) => {
  const node = await startNode(dataDir(t));
  const client = new Client({ url: node.url, apiKey: node.key, batchSize: 64 });
  const sessions = [];
  for (const agent of ["planner", "executor"]) {
    const s = client.session(agent, { expectedSteps: 300 });
    const ids = [];
    for (let i = 0; i < 300; i++) {
      ids.push(s.step("llm_call", { input: `q${i}`, output: `a${i}`, model: { provider: "openai", name: "gpt-4o" }, tokens: { input: 10, output: 2 } }));
    }
    sessions.push([s.sessionId, ids]);
  }
  assert.equal(await client.flush(60_000), true);
  const stats = client.stats;
  assert.deepEqual([stats.queued, stats.sent, stats.dropped, stats.rejected], [600, 600, 0, 0], JSON.stringify(stats));
  for (const [sid, ids] of sessions) {
    const chain = await node.waitFor(`/v1/sessions/${sid}`, (c) => c.steps?.length === 300, "the session's 300 steps");
    assert.deepEqual(chain.steps.map((s) => s.step_index), [...Array(300).keys()]);
    assert.deepEqual(chain.steps.map((s) => s.event_id), ids);
    assert.equal(chain.steps[0].parent_event_id, null);
    for (let i = 1; i < 300; i++) assert.equal(chain.steps[i].parent_event_id, ids[i - 1]);
  }
  assert.equal(await client.close(1000), true);
});

test("bad events are dropped with their reasons (never their values) and the rest delivered", async (t) => {
  const node = await startNode(dataDir(t));
  const errors = [];
  const client = new Client({ url: node.url, apiKey: node.key, flushIntervalMs: 20, onError: (e) => errors.push(e) });
  const good = Array.from({ length: 5 }, () => crypto.randomUUID());
  const secret = "the applicant's SSN is 536-22-8147";
  assert.equal(client.record(ev("s-mixed", 0, { event_id: good[0] })), true);
  const badKind = crypto.randomUUID();
  assert.equal(client.record(ev("s-mixed", 9, { event_id: badKind, kind: "no-such-kind", input: secret })), true);
  assert.equal(client.record(ev("s-mixed", 1, { event_id: good[1] })), true);
  assert.equal(client.record(ev("s-mixed", 9, { output: 10n })), true, "not JSON: refused when sent");
  assert.equal(client.record(42), false, "not an event: refused at once");
  assert.equal(client.record(null), false);
  assert.equal(client.record(ev("s-mixed", 9, { tenant_id: "someone-else", input: secret })), true);
  good.slice(2).forEach((g, k) => assert.equal(client.record(ev("s-mixed", k + 2, { event_id: g })), true));
  assert.equal(await client.flush(60_000), true);
  const stats = client.stats;
  assert.equal(stats.sent, 5, JSON.stringify(stats));
  assert.equal(stats.rejected, 5, JSON.stringify(stats));
  const rejected = errors.filter((e) => e.kind === "rejected");
  assert.ok(rejected.some((e) => e.eventIds?.includes(badKind) && e.message.includes("kind")), JSON.stringify(errors));
  assert.ok(rejected.some((e) => e.message.includes("not JSON")), JSON.stringify(errors));
  assert.ok(rejected.some((e) => e.message.includes("tenant_id")), JSON.stringify(errors));
  assert.ok(!JSON.stringify(errors).includes("536-22-8147"), "an event's values are never reported");
  for (const g of good) await node.waitFor(`/v1/records/by-event/${g}`, (r) => r.event.event_id === g, "a good event");
  assert.equal(await client.close(1000), true);
});

test("a rate-limited node's Retry-After is obeyed, and every event arrives once", async (t) => {
  const node = await startNode(dataDir(t), { args: ["--rate-limit", "1", "--rate-burst", "1"] });
  let requests = 0;
  const counting = (url, init) => {
    requests += 1;
    return fetch(url, init);
  };
  // A 10 ms backoff would send ~100 requests a second if Retry-After (1 s) were ignored.
  const client = new Client({ url: node.url, apiKey: node.key, batchSize: 1, flushIntervalMs: 0, backoffMs: [10, 20], fetch: counting });
  const ids = [0, 1, 2].map((i) => {
    const id = crypto.randomUUID();
    client.record(ev("s-limited", i, { event_id: id }));
    return id;
  });
  const started = Date.now();
  assert.equal(await client.flush(60_000), true);
  const took = Date.now() - started;
  const stats = client.stats;
  assert.equal(stats.sent, 3, JSON.stringify(stats));
  assert.ok(stats.retries >= 1, JSON.stringify(stats));
  assert.match(stats.lastError ?? "", /HTTP 429/);
  assert.ok(requests <= 3 + 2 * stats.retries && stats.retries <= 6, `${requests} requests, ${stats.retries} retries in ${took} ms`);
  // Three requests at one a second: at least two waits.
  assert.ok(took >= 1500, `took ${took} ms`);
  const chain = await node.waitFor("/v1/sessions/s-limited", (c) => c.steps?.length === 3, "three steps");
  assert.deepEqual(chain.steps.map((s) => s.event_id), ids);
  await client.close(1000);
});

test("events recorded while the node is down arrive when it comes up; the queue's bound drops the oldest, counted", async (t) => {
  const data = dataDir(t);
  const key = createKey(data);
  const port = await freePort();
  const client = new Client({ url: `http://127.0.0.1:${port}`, apiKey: key, maxQueue: 50, batchSize: 10, flushIntervalMs: 10, backoffMs: [10, 200] });
  const ids = Array.from({ length: 80 }, () => crypto.randomUUID());
  ids.forEach((id, i) => assert.equal(client.record(ev("s-outage", i, { event_id: id })), true));
  // The tenth event filled a batch, which the sender took at once; of the
  // 70 that then waited, the oldest 20 beyond the queue's bound (50) were
  // dropped, counted. Nothing answers: the batch is retried.
  assert.equal(await client.flush(300), false);
  let stats = client.stats;
  assert.ok(stats.sent === 0 && stats.retries >= 1 && stats.lastError !== null, JSON.stringify(stats));
  assert.equal(stats.dropped, 20, JSON.stringify(stats));
  const node = await startNode(data, { port, key });
  assert.equal(await client.flush(60_000), true);
  stats = client.stats;
  assert.deepEqual([stats.sent, stats.dropped, stats.rejected], [60, 20, 0], JSON.stringify(stats));
  const chain = await node.waitFor("/v1/sessions/s-outage", (c) => c.steps?.length === 60, "the kept events");
  // The batch in flight, then the newest 50.
  assert.deepEqual(chain.steps.map((s) => s.event_id), [...ids.slice(0, 10), ...ids.slice(30)]);
  await client.close(1000);
});

test("a node killed (kill -9) and restarted mid-stream: nothing lost, nothing doubled, once flush returns", async (t) => {
  const data = dataDir(t);
  const key = createKey(data);
  const port = await freePort();
  let node = await startNode(data, { port, key });
  const client = new Client({ url: node.url, apiKey: key, batchSize: 50, flushIntervalMs: 5, backoffMs: [20, 200], maxQueue: 100_000 });
  const total = 3000;
  const s = client.session("streamer", { sessionId: "s-kill" });
  const ids = [];
  let killed = false;
  for (let i = 0; i < total; i++) {
    ids.push(s.step("llm_call", { input: `q${i}` }));
    if (i % 50 === 49) await sleep(2);
    // Half-way at the latest, once 500 are acknowledged, the node dies.
    while (!killed && i === total / 2 && client.stats.sent < 500) await sleep(10);
    if (!killed && client.stats.sent >= 500) {
      // Batches are in flight: some may reach the log before the kill and
      // get no answer; the client sends them again.
      await node.kill();
      killed = true;
      node = await startNode(data, { port, key });
    }
  }
  assert.ok(killed, `the node was killed mid-stream (sent ${client.stats.sent} before the last event)`);
  assert.equal(await client.flush(120_000), true);
  const stats = client.stats;
  assert.deepEqual([stats.sent, stats.dropped, stats.rejected], [total, 0, 0], JSON.stringify(stats));
  const chain = await node.waitFor("/v1/sessions/s-kill", (c) => c.steps?.length >= total, `${total} steps`);
  assert.equal(chain.steps.length, total, "no event is sealed twice");
  assert.deepEqual(chain.steps.map((st) => st.event_id), ids);
  await client.close(1000);
});

// A separate Node.js process records; the test kills it (kill -9) the moment
// it says its flush returned, or lets it end without a flush.
async function agentProcess(url, key, session, count, mode) {
  const script = `
    import { Client } from ${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)};
    const client = new Client({ url: ${JSON.stringify(url)}, apiKey: ${JSON.stringify(key)}, batchSize: 40 });
    const s = client.session("agent", { sessionId: ${JSON.stringify(session)} });
    for (let i = 0; i < ${count}; i++) s.step("tool_call", { tools: [{ name: "t", call_id: "c" + i, status: "ok" }] });
    if (${JSON.stringify(mode)} === "flush") {
      const done = await client.flush(60000);
      console.log(done ? "flushed" : "not flushed");
      setInterval(() => {}, 1000); // keeps running until killed
    }
    // "exit": the script ends with events queued; the client's exit hook sends them.
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  if (mode === "flush") {
    const line = await new Promise((resolve) => createInterface({ input: child.stdout }).once("line", resolve));
    assert.equal(line, "flushed");
    child.kill("SIGKILL");
  } else {
    child.stdout.resume();
  }
  return await exited;
}

test("an agent process killed (kill -9) right after flush returns has lost nothing; one that just ends sends on exit", async (t) => {
  const node = await startNode(dataDir(t));
  assert.equal(await agentProcess(node.url, node.key, "s-agent-killed", 500, "flush"), "SIGKILL");
  await node.waitFor("/v1/sessions/s-agent-killed", (c) => c.steps?.length === 500, "500 steps flushed before the kill");
  assert.equal(await agentProcess(node.url, node.key, "s-agent-ends", 120, "exit"), 0);
  const chain = await node.waitFor("/v1/sessions/s-agent-ends", (c) => c.steps?.length === 120, "120 steps sent on exit");
  assert.deepEqual(chain.steps.map((s) => s.step_index), [...Array(120).keys()]);
});

test("a wrong key is counted, not thrown, and not retried", async (t) => {
  const node = await startNode(dataDir(t));
  const client = new Client({ url: node.url, apiKey: "tl_test_not_a_key", flushIntervalMs: 5 });
  for (let i = 0; i < 3; i++) assert.equal(client.record(ev("s-key", i)), true);
  assert.equal(await client.flush(30_000), true, "a refused batch is settled, not retried forever");
  const stats = client.stats;
  assert.deepEqual([stats.sent, stats.rejected, stats.retries], [0, 3, 0], JSON.stringify(stats));
  assert.match(stats.lastError ?? "", /401/);
  await client.close(1000);
});

test("with nothing listening, close gives up at its timeout, counts what it drops, and never throws", async () => {
  const port = await freePort();
  const client = new Client({ url: `http://127.0.0.1:${port}`, apiKey: "k", maxQueue: 5, backoffMs: [5, 20] });
  const results = Array.from({ length: 8 }, (_, i) => client.record(ev("s", i)));
  assert.deepEqual(results, Array(8).fill(true), "record never refuses for a full queue: it drops the oldest");
  const started = Date.now();
  assert.equal(await client.close(200), false);
  assert.ok(Date.now() - started < 5000, "close is bounded by its timeout (and the request's)");
  const stats = client.stats;
  // Every event recorded is accounted for: none sent, all dropped.
  assert.deepEqual([stats.queued, stats.sent, stats.dropped, stats.rejected], [8, 0, 8, 0], JSON.stringify(stats));
  assert.equal(client.record(ev("s", 9)), false, "a closed client drops");
  assert.equal(client.stats.dropped, 9);
});

test("the package has no runtime dependency and imports nothing of Node.js", async () => {
  const { readFileSync, readdirSync } = await import("node:fs");
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8"));
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), []);
  const dist = fileURLToPath(new URL("../dist/", import.meta.url));
  for (const f of readdirSync(dist).filter((f) => f.endsWith(".js"))) {
    // The code, without its comments (which show imports of examples).
    const src = readFileSync(dist + f, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    const imports = [...src.matchAll(/(?:import|export)[^;]*?from\s+["']([^"']+)["']/g)].map((m) => m[1]);
    assert.deepEqual(imports.filter((i) => !i.startsWith("./")), [], `${f} imports only its siblings`);
    assert.ok(!/\brequire\s*\(|\bBuffer\s*\.|\bprocess\.env\b/.test(src), `${f} uses no require, Buffer or process.env`);
  }
});
