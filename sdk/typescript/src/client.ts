/**
 * The traceledger client: records trace events without ever blocking or
 * failing the agent that records them.
 *
 * `record` puts an event on a bounded in-memory queue and returns at once.
 * A background loop sends the queue in batches to `POST /v1/events` (a JSON
 * array; the node answers 202 once the batch is durable in its log).
 * Failures are retried with exponential backoff and jitter, honouring
 * `Retry-After`, resending the same batch: event ids make a retry
 * idempotent on the node, so a batch that reached the log before a
 * connection broke is sealed once. Nothing is thrown into the agent; what
 * went wrong is counted in `client.stats` and passed to `onError`.
 *
 * A connection error, a timeout, a 5xx, 408 or 429 is retried; what the node
 * refuses (any other 4xx) is not: a batch is all or nothing there, and its
 * problem+json answer lists the bad events by index and field. The client
 * drops those events (counted in `stats.rejected`) and sends the rest again,
 * so one bad event never holds up the others.
 *
 * Only what every runtime with `fetch` has is used (no `node:` module, no
 * Buffer): Node.js 20+, Deno, Bun, edge functions, browser workers.
 */

import type { StepFields, EventKind, TraceEvent } from "./event.js";

/** What the client did; `client.stats` is a snapshot. */
export interface Stats {
  /** Events accepted by `record`. */
  queued: number;
  /** Events the node acknowledged as durable (HTTP 202). */
  sent: number;
  /** Events dropped because the queue was full, or left unsent by `close`. */
  dropped: number;
  /** Events the node refused (invalid, another tenant's, bad key) or that could not be encoded. */
  rejected: number;
  /** Batches sent again after a failure. */
  retries: number;
  /** The most recent failure, for display. */
  lastError: string | null;
}

/** A failure reported to `onError`: never an event's values, only ids and reasons. */
export interface ClientError {
  /** `retry`: the batch will be sent again; `rejected`: events were dropped as refused; `dropped`: lost to the queue bound or to `close`. */
  kind: "retry" | "rejected" | "dropped";
  message: string;
  /** The ids of the events concerned, when known. */
  eventIds?: string[];
}

export interface ClientOptions {
  /** The node's base URL, e.g. `http://127.0.0.1:7070`. */
  url: string;
  /** A key whose role may ingest (Owner, Admin or Member). */
  apiKey: string;
  /** Events that may wait; when full, the oldest waiting event is dropped (counted). Default 10,000. */
  maxQueue?: number;
  /** Events per request, at most. Default 500 (the node takes up to 10,000). */
  batchSize?: number;
  /** Bytes per request, at most. Default 4 MiB (the node takes up to 16 MiB). */
  maxBatchBytes?: number;
  /** How long the first event of a batch waits for others, in ms. Default 200. */
  flushIntervalMs?: number;
  /** A request's timeout, in ms. Default 10,000. */
  timeoutMs?: number;
  /** Retry backoff in ms: the first pause and the longest. Default [100, 5000]. */
  backoffMs?: [number, number];
  /** The longest `Retry-After` obeyed, in ms (a longer one is cut to this). Default 60,000. */
  maxRetryAfterMs?: number;
  /** In Node.js, flush (for at most this many ms) when the process is about to exit with events queued. 0 turns it off. Default 5,000. */
  flushOnExitMs?: number;
  /** The `fetch` to use. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Called on each failure (never with event values); exceptions from it are ignored. */
  onError?: (error: ClientError) => void;
}

type Json = Record<string, unknown>;

interface Batch {
  events: Json[];
  encoded: string[];
  attempts: number;
}

interface Waiter {
  resolve: (done: boolean) => void;
}

/** `setTimeout` whose timer does not keep a Node.js process alive (a no-op elsewhere). */
function unref(t: ReturnType<typeof setTimeout>): void {
  (t as unknown as { unref?: () => void }).unref?.();
}

const encoder = new TextEncoder();

/** The current time as the RFC 3339 UTC timestamp events carry. */
export function now(): string {
  return new Date().toISOString();
}

/** A random UUID (v4): `crypto.randomUUID` where there is one. */
export function uuid(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  // A runtime without Web Crypto: Math.random is enough for an event id
  // (it is a key for idempotence, not a secret).
  const h = Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16));
  h[12] = "4";
  h[16] = ((parseInt(h[16] ?? "0", 16) & 3) | 8).toString(16);
  const s = h.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** `Retry-After` in ms: whole seconds or an HTTP date; `null` when absent or unreadable. */
export function retryAfterMs(value: string | null, nowMs: number = Date.now()): number | null {
  if (value == null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms)
  // starts with a day name; anything else Date.parse might read as a year.
  if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /.test(v)) return null;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** The pause before attempt `attempts + 1`: exponential with jitter (half to all of it), at least `Retry-After`. */
export function backoff(attempts: number, [lo, hi]: [number, number], retryAfter: number | null, random: () => number = Math.random): number {
  const exp = Math.min(hi, lo * 2 ** Math.min(Math.max(attempts - 1, 0), 16));
  const jittered = exp * (0.5 + random() / 2);
  return retryAfter == null ? jittered : Math.max(retryAfter, jittered);
}

/** Sends trace events to a traceledger node. */
export class Client {
  readonly #url: string;
  readonly #auth: string;
  readonly #maxQueue: number;
  readonly #batchSize: number;
  readonly #maxBatchBytes: number;
  readonly #flushInterval: number;
  readonly #timeout: number;
  readonly #backoff: [number, number];
  readonly #maxRetryAfter: number;
  readonly #fetch: typeof fetch;
  readonly #onError: ((e: ClientError) => void) | undefined;

  // The queue: an array read from `#head` (compacted as it drains).
  #queue: Json[] = [];
  #head = 0;
  #inflight = 0;
  #stats: Stats = { queued: 0, sent: 0, dropped: 0, rejected: 0, retries: 0, lastError: null };
  #pumping: Promise<void> | null = null;
  #closed = false;
  #flushing = 0;
  #firstWaiting: number | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #pause: { timer: ReturnType<typeof setTimeout>; wake: () => void } | null = null;
  #request: AbortController | null = null;
  #waiters: Waiter[] = [];
  #exitHook: (() => void) | null = null;

  constructor(options: ClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new TypeError(`url must be http(s)://host[:port], not ${JSON.stringify(options.url)}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new TypeError(`url must be http(s)://host[:port], not ${JSON.stringify(options.url)}`);
    }
    const positive = (name: string, v: number | undefined, d: number): number => {
      const n = v ?? d;
      if (!Number.isFinite(n) || n < (name === "flushIntervalMs" ? 0 : 1)) throw new RangeError(`${name} must be a positive number, not ${n}`);
      return n;
    };
    this.#url = parsed.href.replace(/\/+$/, "") + "/v1/events";
    this.#auth = `Bearer ${options.apiKey}`;
    this.#maxQueue = positive("maxQueue", options.maxQueue, 10_000);
    this.#batchSize = positive("batchSize", options.batchSize, 500);
    this.#maxBatchBytes = positive("maxBatchBytes", options.maxBatchBytes, 4 << 20);
    this.#flushInterval = positive("flushIntervalMs", options.flushIntervalMs, 200);
    this.#timeout = positive("timeoutMs", options.timeoutMs, 10_000);
    this.#backoff = options.backoffMs ?? [100, 5000];
    this.#maxRetryAfter = positive("maxRetryAfterMs", options.maxRetryAfterMs, 60_000);
    const f = options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
    if (typeof f !== "function") throw new TypeError("no fetch: pass options.fetch on a runtime without one");
    this.#fetch = f;
    this.#onError = options.onError;
    this.#hookExit(options.flushOnExitMs ?? 5000);
  }

  // The agent's side. -------------------------------------------------------

  /**
   * Queues `event` for sending and returns at once: `true` if queued,
   * `false` if dropped (closed client) or not an event. Never throws.
   * When the queue is full the oldest waiting event is dropped (counted).
   */
  record(event: TraceEvent | Json): boolean {
    let ev: Json;
    try {
      if (event === null || typeof event !== "object" || Array.isArray(event)) throw new TypeError(`an event is an object, not ${event === null ? "null" : Array.isArray(event) ? "an array" : typeof event}`);
      ev = { ...(event as Json) };
      if (ev["event_id"] == null) ev["event_id"] = uuid();
      if (ev["timestamp"] == null) ev["timestamp"] = now();
    } catch (e) {
      this.#stats.rejected += 1;
      this.#fail("rejected", `not an event: ${String(e)}`);
      return false;
    }
    if (this.#closed) {
      this.#stats.dropped += 1;
      this.#report("dropped", "the client is closed", [String(ev["event_id"])]);
      return false;
    }
    if (this.#queue.length - this.#head >= this.#maxQueue) {
      const old = this.#queue[this.#head];
      this.#head += 1;
      this.#stats.dropped += 1;
      this.#report("dropped", `the queue is full (${this.#maxQueue}); the oldest waiting event was dropped`, [String(old?.["event_id"])]);
    }
    this.#queue.push(ev);
    this.#stats.queued += 1;
    if (this.#firstWaiting === null) this.#firstWaiting = Date.now();
    this.#schedule();
    return true;
  }

  /**
   * A session of one agent: its steps get `step_index` 0, 1, 2, … and each
   * names the previous one as its parent.
   */
  session(agentId: string, options: { sessionId?: string; tenantId?: string; expectedSteps?: number } = {}): Session {
    return new Session(this, agentId, options.sessionId ?? uuid(), options.tenantId, options.expectedSteps);
  }

  /** A snapshot of the counters. */
  get stats(): Stats {
    return { ...this.#stats };
  }

  /** Events waiting to be sent or in flight. */
  get pending(): number {
    return this.#queue.length - this.#head + this.#inflight;
  }

  /**
   * Resolves once every event queued so far is acknowledged by the node (or
   * refused by it), or after `timeoutMs` (none: as long as it takes):
   * `true` if nothing is left to send. Never rejects.
   */
  flush(timeoutMs?: number): Promise<boolean> {
    if (this.pending === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      // The timers below keep a Node.js process alive while it waits (the
      // client's own timers do not), so `await client.flush()` at the end
      // of a script sends before the script exits.
      let timer: ReturnType<typeof setTimeout> | null = null;
      const waiter: Waiter = {
        resolve: (done) => {
          if (timer !== null) clearTimeout(timer);
          this.#flushing -= 1;
          resolve(done);
        },
      };
      this.#flushing += 1;
      this.#waiters.push(waiter);
      timer =
        timeoutMs === undefined
          ? setInterval(() => undefined, 1 << 30)
          : setTimeout(() => {
              this.#waiters = this.#waiters.filter((w) => w !== waiter);
              waiter.resolve(this.pending === 0);
            }, Math.max(0, timeoutMs));
      this.#kick();
    });
  }

  /**
   * Flushes for at most `timeoutMs`, then stops: what is still queued is
   * dropped (counted) and later `record`s are refused. Resolves `true` if
   * everything was sent. Never rejects.
   */
  async close(timeoutMs = 5000): Promise<boolean> {
    const done = await this.flush(timeoutMs);
    if (!this.#closed) {
      this.#closed = true;
      const left = this.#queue.length - this.#head;
      if (left > 0) {
        this.#stats.dropped += left;
        this.#report("dropped", `${left} events were still queued when the client closed`);
      }
      this.#queue = [];
      this.#head = 0;
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      // An attempt in progress is given up: its events count as dropped
      // once it ends (the node may still have them: ids make that harmless).
      this.#request?.abort();
      this.#pause?.wake();
      this.#unhookExit();
    }
    // The sender ends at once now; its last batch is then counted.
    await this.#pumping;
    this.#settle();
    return done;
  }

  // The sender. -------------------------------------------------------------

  /** Starts the sender now if a batch is ready, else when the first event will have waited long enough. */
  #schedule(): void {
    if (this.#pumping) return;
    const waiting = this.#queue.length - this.#head;
    if (waiting === 0) return;
    if (waiting >= this.#batchSize || this.#flushing > 0 || this.#closed) {
      this.#kick();
      return;
    }
    if (this.#timer !== null) return;
    const due = (this.#firstWaiting ?? Date.now()) + this.#flushInterval - Date.now();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#kick();
    }, Math.max(0, due));
    unref(this.#timer);
  }

  #kick(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#pumping) return;
    this.#pumping = this.#pump().finally(() => {
      this.#pumping = null;
      this.#settle();
      this.#schedule();
    });
  }

  async #pump(): Promise<void> {
    while (!this.#closed) {
      const waiting = this.#queue.length - this.#head;
      if (waiting === 0) return;
      const ready =
        waiting >= this.#batchSize ||
        this.#flushing > 0 ||
        Date.now() - (this.#firstWaiting ?? 0) >= this.#flushInterval;
      if (!ready) return;
      const batch = this.#take();
      try {
        await this.#deliver(batch);
      } catch (e) {
        // Nothing is meant to reach here; if something does, the batch is
        // counted rather than lost silently, and the sender goes on.
        this.#stats.dropped += batch.events.length;
        this.#fail("dropped", `sender error: ${String(e)}`);
      }
      this.#inflight = 0;
      this.#settle();
    }
  }

  /** Takes the next batch off the queue (events that are not JSON are refused here). */
  #take(): Batch {
    const events: Json[] = [];
    const encoded: string[] = [];
    let size = 2;
    while (this.#head < this.#queue.length && events.length < this.#batchSize) {
      const ev = this.#queue[this.#head] as Json;
      let text: string;
      try {
        text = JSON.stringify(ev);
        if (typeof text !== "string") throw new TypeError("it has no JSON form");
      } catch (e) {
        this.#head += 1;
        this.#stats.rejected += 1;
        this.#fail("rejected", `event ${String(ev["event_id"])} is not JSON: ${String(e)}`, [String(ev["event_id"])]);
        continue;
      }
      const bytes = encoder.encode(text).length;
      if (events.length > 0 && size + bytes + 1 > this.#maxBatchBytes) break;
      events.push(ev);
      encoded.push(text);
      size += bytes + 1;
      this.#head += 1;
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      this.#firstWaiting = null;
    } else {
      if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#firstWaiting = Date.now();
    }
    this.#inflight = events.length;
    return { events, encoded, attempts: 0 };
  }

  /** Sends `batch` until it is settled (acknowledged, refused, emptied) or the client closes. */
  async #deliver(batch: Batch): Promise<void> {
    for (;;) {
      if (batch.events.length === 0) return;
      const outcome = await this.#post(batch);
      if (outcome.kind === "settled") return;
      if (this.#closed) {
        this.#stats.dropped += batch.events.length;
        this.#report("dropped", `${batch.events.length} events not delivered before close: ${outcome.why}`, ids(batch.events));
        return;
      }
      batch.attempts += 1;
      this.#stats.retries += 1;
      this.#fail("retry", outcome.why);
      await this.#sleep(backoff(batch.attempts, this.#backoff, outcome.retryAfter === null ? null : Math.min(outcome.retryAfter, this.#maxRetryAfter)));
    }
  }

  async #post(batch: Batch): Promise<{ kind: "settled" } | { kind: "retry"; why: string; retryAfter: number | null }> {
    const abort = new AbortController();
    this.#request = abort;
    const timer = setTimeout(() => abort.abort(), this.#timeout);
    unref(timer);
    let status: number;
    let text: string;
    let retryAfter: number | null;
    try {
      const resp = await this.#fetch(this.#url, {
        method: "POST",
        headers: { Authorization: this.#auth, "Content-Type": "application/json" },
        body: `[${batch.encoded.join(",")}]`,
        signal: abort.signal,
      });
      status = resp.status;
      retryAfter = retryAfterMs(resp.headers.get("retry-after"));
      text = await resp.text();
    } catch (e) {
      const why = abort.signal.aborted && !this.#closed ? `no answer within ${this.#timeout} ms` : errorText(e);
      return { kind: "retry", why, retryAfter: null };
    } finally {
      clearTimeout(timer);
      this.#request = null;
    }
    if (status === 200 || status === 202) {
      this.#stats.sent += batch.events.length;
      return { kind: "settled" };
    }
    const detail = problemDetail(text);
    if ((status === 400 || status === 403) && this.#dropRefused(batch, status, text)) {
      return batch.events.length === 0 ? { kind: "settled" } : this.#post(batch);
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      // The key, the size, the body: sending the same again cannot succeed.
      this.#stats.rejected += batch.events.length;
      this.#fail("rejected", `HTTP ${status}: ${detail}; ${batch.events.length} events refused, not retried`, ids(batch.events));
      batch.events = [];
      return { kind: "settled" };
    }
    return { kind: "retry", why: `HTTP ${status}: ${detail}`, retryAfter };
  }

  /** Drops the events a problem+json answer names by index; `false` if it names none. */
  #dropRefused(batch: Batch, status: number, body: string): boolean {
    let bad: Map<number, Json>;
    try {
      const errors = (JSON.parse(body) as { errors?: unknown }).errors;
      if (!Array.isArray(errors)) return false;
      bad = new Map();
      for (const e of errors as Json[]) {
        const i = Number(e["index"]);
        if (Number.isInteger(i) && i >= 0 && i < batch.events.length) bad.set(i, e);
      }
    } catch {
      return false;
    }
    if (bad.size === 0) return false;
    const refused: string[] = [];
    const reasons: string[] = [];
    for (const [i, e] of [...bad].sort((a, b) => a[0] - b[0])) {
      const id = String(batch.events[i]?.["event_id"]);
      refused.push(id);
      // Every reason is reported; values of the event are not.
      reasons.push(`event ${id}: ${String(e["field"] ?? "")}: ${String(e["reason"] ?? "")}`);
    }
    this.#stats.rejected += bad.size;
    this.#fail("rejected", `HTTP ${status}: ${reasons.join("; ")}`, refused);
    const keep = batch.events.map((_, i) => i).filter((i) => !bad.has(i));
    batch.events = keep.map((i) => batch.events[i] as Json);
    batch.encoded = keep.map((i) => batch.encoded[i] as string);
    this.#inflight = batch.events.length;
    return true;
  }

  /** Waits `ms`, or less if the client closes. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#pause = null;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      // A flush in progress keeps the process alive with its own timer.
      unref(timer);
      this.#pause = { timer, wake };
    });
  }

  /** Resolves the flushes that are done. */
  #settle(): void {
    if (this.pending !== 0 && !this.#closed) return;
    const done = this.pending === 0;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve(done);
  }

  #fail(kind: ClientError["kind"], message: string, eventIds?: string[]): void {
    this.#stats.lastError = message;
    this.#report(kind, message, eventIds);
  }

  #report(kind: ClientError["kind"], message: string, eventIds?: string[]): void {
    if (!this.#onError) return;
    try {
      this.#onError(eventIds === undefined ? { kind, message } : { kind, message, eventIds });
    } catch {
      // An observer's failure is not the agent's.
    }
  }

  /** In Node.js: when the event loop runs dry with events queued, close (flushing for at most `ms`). */
  #hookExit(ms: number): void {
    const proc = (globalThis as { process?: { once?: unknown; removeListener?: unknown } }).process as
      | { once: (e: string, f: () => void) => void; removeListener: (e: string, f: () => void) => void }
      | undefined;
    if (ms <= 0 || typeof proc?.once !== "function") return;
    const hook = (): void => {
      this.#exitHook = null;
      if (this.pending > 0) void this.close(ms);
    };
    this.#exitHook = hook;
    proc.once("beforeExit", hook);
  }

  #unhookExit(): void {
    const hook = this.#exitHook;
    this.#exitHook = null;
    const proc = (globalThis as { process?: { removeListener?: (e: string, f: () => void) => void } }).process;
    if (hook && typeof proc?.removeListener === "function") proc.removeListener("beforeExit", hook);
  }
}

/** Records the steps of one agent session (see `Client.session`). */
export class Session {
  nextStep = 0;
  lastEventId: string | null = null;

  constructor(
    readonly client: Client,
    readonly agentId: string,
    readonly sessionId: string,
    readonly tenantId?: string,
    readonly expectedSteps?: number,
  ) {}

  /**
   * Records the session's next step of `kind` with `fields` (`input`,
   * `output`, `model`, `tools`, `tokens`, …); returns its event id. Never
   * throws. `fields.parent_event_id` overrides the link to the previous step
   * (a tree of calls rather than a line).
   */
  step(kind: EventKind, fields: StepFields = {}): string {
    const eventId = fields.event_id ?? uuid();
    const ev: Json = {
      event_id: eventId,
      agent_id: this.agentId,
      session_id: this.sessionId,
      step_index: this.nextStep,
      kind,
    };
    if (this.lastEventId !== null) ev["parent_event_id"] = this.lastEventId;
    if (this.tenantId !== undefined) ev["tenant_id"] = this.tenantId;
    if (this.expectedSteps !== undefined) ev["expected_steps"] = this.expectedSteps;
    Object.assign(ev, fields, { event_id: eventId });
    this.nextStep += 1;
    this.lastEventId = eventId;
    this.client.record(ev);
    return eventId;
  }
}

function ids(events: Json[]): string[] {
  return events.map((e) => String(e["event_id"]));
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    return cause instanceof Error ? `${e.name}: ${e.message} (${cause.message})` : `${e.name}: ${e.message}`;
  }
  return String(e);
}

function problemDetail(body: string): string {
  try {
    const v = JSON.parse(body) as Json;
    return String(v["detail"] ?? v["title"] ?? body.slice(0, 200));
  } catch {
    return body.slice(0, 200);
  }
}
