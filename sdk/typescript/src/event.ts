/**
 * The TraceEvent in its JSON form, as `POST /v1/events` takes it
 * (`tests/fixtures/trace-event.json` at the repository root is a full
 * example; `schemas/` holds the Avro schema it is sealed in).
 */

/** What a step of an agent was. */
export type EventKind =
  | "agent_start"
  | "llm_call"
  | "tool_call"
  | "decision"
  | "agent_end"
  | "error"
  | "heartbeat"
  | "retrieval"
  | "handoff"
  | "human_review"
  | "evaluation"
  | "guardrail";

/** How a tool call ended. */
export type ToolStatus = "ok" | "error" | "timeout" | "denied";

/** How sensitive an event's content is. */
export type Classification = "public" | "internal" | "confidential" | "restricted";

export interface Model {
  provider: string;
  name: string;
  version?: string;
}

export interface ToolCall {
  name: string;
  call_id: string;
  /** The arguments as the agent sent them (usually JSON text). */
  arguments?: string;
  /** The result as the tool returned it. */
  result?: string;
  status: ToolStatus;
}

export interface Tokens {
  input: number;
  output: number;
  cached?: number;
}

export interface Status {
  code: "ok" | "error";
  message?: string;
}

export interface Attribute {
  key: string;
  value: string;
}

/**
 * One step of an agent. `event_id` and `timestamp` are filled in by
 * `Client.record` when missing; `tenant_id` may be left out (it is the API
 * key's).
 */
export interface TraceEvent {
  event_id?: string;
  tenant_id?: string;
  agent_id: string;
  session_id: string;
  step_index: number;
  parent_event_id?: string;
  kind: EventKind;
  /** RFC 3339 UTC, e.g. `2026-11-27T09:14:03.512Z`. */
  timestamp?: string;
  model?: Model;
  input?: string;
  output?: string;
  reasoning?: string;
  tools?: ToolCall[];
  tokens?: Tokens;
  cost_micros?: number;
  latency_ms?: number;
  status?: Status;
  /** Keyed hashes of the people the event is about (`hmac:…`), for DSAR. */
  subject_ids?: string[];
  data_classification?: Classification;
  /** How many steps the session is expected to have (gaps are reported). */
  expected_steps?: number;
  attributes?: Attribute[];
}

/** The fields of a session step: everything but what the session numbers. */
export type StepFields = Omit<TraceEvent, "agent_id" | "session_id" | "step_index" | "kind">;
