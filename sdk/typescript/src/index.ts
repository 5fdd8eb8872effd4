/**
 * traceledger: record AI-agent trace events into a tamper-evident ledger.
 *
 * ```ts
 * import { Client } from "traceledger";
 *
 * const client = new Client({ url: "http://127.0.0.1:7070", apiKey });
 * const s = client.session("credit-scorer");
 * s.step("llm_call", { input: "…", output: "…", model: { provider: "openai", name: "gpt-4o" } });
 * await client.close();
 * ```
 *
 * `record` and `step` return at once and never throw; `flush` and `close`
 * wait (with a timeout) until the node has the events durably.
 */

export { Client, Session, backoff, now, retryAfterMs, uuid } from "./client.js";
export type { ClientError, ClientOptions, Stats } from "./client.js";
export type { Attribute, Classification, EventKind, Model, Status, StepFields, Tokens, ToolCall, ToolStatus, TraceEvent } from "./event.js";
