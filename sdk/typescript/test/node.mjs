// A real traceledger node on loopback for the SDK's tests: `traceledger up`
// from $TRACELEDGER_BIN (scripts/sdk-typescript.sh builds it and sets it).

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createInterface } from "node:readline";

export function binary() {
  const b = process.env.TRACELEDGER_BIN;
  if (!b) throw new Error("TRACELEDGER_BIN is not set: run `make test` (target sdk-typescript)");
  return b;
}

// The nodes started on each data directory, stopped before it is removed.
const nodesOf = new Map();

/** A fresh data directory; when the test ends its nodes stop, then it is removed. */
export function dataDir(t) {
  const dir = mkdtempSync(join(tmpdir(), "tl-ts-"));
  const data = join(dir, "data");
  nodesOf.set(data, []);
  t.after(async () => {
    for (const n of nodesOf.get(data) ?? []) await n.stop();
    nodesOf.delete(data);
    rmSync(dir, { recursive: true, force: true });
  });
  return data;
}

/** A port nothing listens on now. */
export async function freePort() {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * `traceledger up` on `data` (on `port`, or any); its key is `key` or the
 * Owner key it makes on first start. `args` are more flags for `up`.
 */
export async function startNode(data, { port = 0, key, args = [] } = {}) {
  const proc = spawn(binary(), ["up", "--http", `127.0.0.1:${port}`, "--data", data, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: proc.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once("line", resolve);
    proc.once("exit", (code) => reject(new Error(`traceledger up exited with ${code} before printing its address`)));
  });
  // Keep reading its output so the pipe never fills.
  lines.on("line", () => {});
  const m = /http:\/\/(\S+)/.exec(first);
  if (!m) {
    proc.kill("SIGKILL");
    throw new Error(`traceledger up printed ${JSON.stringify(first)}`);
  }
  const url = `http://${m[1].replace(/\/+$/, "")}`;
  const node = new Node(url, key ?? readFileSync(join(data, "bootstrap-owner.key"), "utf8").trim(), proc);
  nodesOf.get(data)?.push(node);
  return node;
}

/** An API key made on a node's data directory before the node runs. */
export function createKey(data, { role = "member", tenant = "default" } = {}) {
  const out = execFileSync(
    binary(),
    ["keys", "create", "--tenant", tenant, "--role", role, "--env", "test", "--json", "--data", data],
    { encoding: "utf8" },
  );
  return JSON.parse(out).secret;
}

export class Node {
  constructor(url, key, proc) {
    this.url = url;
    this.key = key;
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once("exit", resolve));
  }

  get port() {
    return Number(new URL(this.url).port);
  }

  async get(path) {
    const r = await fetch(this.url + path, { headers: { Authorization: `Bearer ${this.key}` } });
    return [r.status, r.status === 200 ? await r.json() : null];
  }

  /** Polls `GET path` until `ok(body)` (the pipeline is asynchronous). */
  async waitFor(path, ok, what, timeoutMs = 120_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [status, body] = await this.get(path);
      if (status === 200 && ok(body)) return body;
      if (Date.now() > deadline) throw new Error(`${what}: ${path} answered ${status} ${JSON.stringify(body)?.slice(0, 500)}`);
      await sleep(50);
    }
  }

  /** SIGTERM, then SIGKILL after 30 s. */
  async stop() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 30_000);
    await this.exited;
    clearTimeout(t);
  }

  /** kill -9: no chance to flush or close anything. */
  async kill() {
    this.proc.kill("SIGKILL");
    await this.exited;
  }
}
