/**
 * LangChain.js and LangGraph.js: a callback handler that records each run.
 *
 * ```ts
 * import { Client } from "traceledger";
 * import { TraceledgerCallbackHandler } from "traceledger/langchain";
 *
 * const handler = new TraceledgerCallbackHandler(new Client({ url, apiKey }), { agentId: "support-bot" });
 * await agent.invoke({ messages: [["user", "hi"]] }, { callbacks: [handler] });
 * ```
 *
 * The handler implements LangChain's callback methods on a plain object
 * (LangChain accepts any object with them), so this module imports nothing
 * of LangChain and the package stays free of dependencies.
 *
 * One session per top-level run (unless `sessionId` is given):
 * `agent_start` when it starts, `agent_end` when it ends; each LLM or chat
 * model call is an `llm_call` (prompt, answer and its tool calls, model,
 * tokens, latency), each tool run a `tool_call`, each retriever run a
 * `retrieval`. Nested chains (a LangGraph node) are not steps of their own:
 * a step's `parent_event_id` is the nearest run above it that is one.
 * Event ids are LangChain's run ids. Nothing is thrown into LangChain.
 */

import { Client, now } from "./client.js";

type Json = Record<string, unknown>;

interface Run {
  session: TreeSession;
  parent: string | null;
  started: number;
  at: string;
  name: string;
  event: string | null;
  fields: Json;
}

class TreeSession {
  nextStep = 0;
  constructor(
    readonly client: Client,
    readonly agentId: string,
    readonly sessionId: string,
  ) {}

  record(kind: string, eventId: string, parent: string | null, fields: Json): void {
    const ev: Json = { event_id: eventId, agent_id: this.agentId, session_id: this.sessionId, step_index: this.nextStep, kind };
    this.nextStep += 1;
    if (parent !== null) ev["parent_event_id"] = parent;
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) ev[k] = v;
    this.client.record(ev);
  }
}

/** Longest text kept of one value (the node refuses larger fields). */
const MAX_TEXT = 256 * 1024;

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  let s: string;
  if (typeof v === "string") s = v;
  else {
    try {
      s = JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x)) ?? String(v);
    } catch {
      s = String(v);
    }
  }
  return s.length <= MAX_TEXT ? s : s.slice(0, MAX_TEXT) + "…";
}

const attr = (key: string, value: string) => ({ key, value });

function status(err?: unknown): Json {
  if (err === undefined) return { code: "ok" };
  const e = err as { name?: string; message?: string };
  return { code: "error", message: `${e?.name ?? "Error"}: ${e?.message ?? String(err)}`.slice(0, 1024) };
}

/** A LangChain message as plain data: its role, content and tool calls. */
function message(m: unknown): Json {
  const msg = m as { _getType?: () => string; getType?: () => string; type?: string; content?: unknown; tool_calls?: unknown[] };
  const role = msg.type ?? msg.getType?.() ?? msg._getType?.() ?? "unknown";
  const out: Json = { role, content: msg.content };
  if (Array.isArray(msg.tool_calls) && msg.tool_calls.length > 0) out["tool_calls"] = msg.tool_calls;
  return out;
}

function serializedName(s: unknown): string | undefined {
  const o = s as { name?: string; id?: string[] } | undefined;
  return o?.name ?? (Array.isArray(o?.id) ? o?.id[o.id.length - 1] : undefined);
}

export interface LangChainHandlerOptions {
  /** The agent's id on every event. */
  agentId: string;
  /** One session for every run through this handler; default: one per top-level run (its run id). */
  sessionId?: string;
}

/** Records LangChain.js runs as trace events (see the module's doc). */
export class TraceledgerCallbackHandler {
  readonly name = "traceledger";
  readonly awaitHandlers = false;
  readonly raiseError = false;
  readonly #client: Client;
  readonly #agentId: string;
  readonly #sessionId: string | undefined;
  #fixed: TreeSession | null = null;
  readonly #runs = new Map<string, Run>();

  constructor(client: Client, options: LangChainHandlerOptions) {
    this.#client = client;
    this.#agentId = options.agentId;
    this.#sessionId = options.sessionId;
  }

  /** Runs started and not yet forgotten (for tests: 0 once every top-level run ended). */
  get openRuns(): number {
    return this.#runs.size;
  }

  #guard(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      // Never thrown into LangChain; the client's onError sees send failures.
      void what;
      void e;
    }
  }

  #start(runId: string, parent: string | undefined, name: string, fields: Json = {}): Run {
    const up = parent !== undefined ? this.#runs.get(parent) : undefined;
    let session: TreeSession;
    if (up) session = up.session;
    else if (this.#sessionId !== undefined) session = this.#fixed ??= new TreeSession(this.#client, this.#agentId, this.#sessionId);
    else session = new TreeSession(this.#client, this.#agentId, runId);
    const run: Run = { session, parent: up ? (parent as string) : null, started: Date.now(), at: now(), name, event: null, fields };
    this.#runs.set(runId, run);
    return run;
  }

  #parentEvent(run: Run): string | null {
    let p = run.parent;
    while (p !== null) {
      const up = this.#runs.get(p);
      if (!up) return null;
      if (up.event !== null) return up.event;
      p = up.parent;
    }
    return null;
  }

  #record(run: Run, kind: string, eventId: string, fields: Json): void {
    run.session.record(kind, eventId, this.#parentEvent(run), { timestamp: run.at, ...fields });
  }

  /** Forgets a top-level run and every run under it. */
  #forget(root: string): void {
    const doomed = new Set([root]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [id, r] of this.#runs) {
        if (!doomed.has(id) && r.parent !== null && doomed.has(r.parent)) {
          doomed.add(id);
          grew = true;
        }
      }
    }
    for (const id of doomed) this.#runs.delete(id);
  }

  #ended(runId: string, run: Run): void {
    if (run.parent === null) this.#forget(runId);
  }

  // Chains: the top-level one is the agent's start and end. ------------------

  // The order LangChain's callback manager passes (its declarations name
  // another: runType, tags, metadata, runName, parentRunId).
  handleChainStart(chain: unknown, inputs: unknown, runId: string, parentRunId?: string, _tags?: string[], _metadata?: Json, runType?: string, runName?: string): void {
    this.#guard("chain start", () => {
      const name = runName ?? serializedName(chain) ?? runType ?? "chain";
      const run = this.#start(runId, parentRunId, name);
      if (run.parent === null) {
        run.event = runId;
        this.#record(run, "agent_start", runId, { input: text(inputs), attributes: [attr("langchain.run_name", name)] });
      }
    });
  }

  handleChainEnd(outputs: unknown, runId: string): void {
    this.#guard("chain end", () => this.#chainEnd(runId, outputs, undefined));
  }

  handleChainError(err: unknown, runId: string): void {
    this.#guard("chain error", () => this.#chainEnd(runId, undefined, err));
  }

  #chainEnd(runId: string, outputs: unknown, err: unknown): void {
    const run = this.#runs.get(runId);
    if (!run || run.parent !== null) return;
    try {
      run.session.record("agent_end", endId(runId), run.event, {
        timestamp: now(),
        output: text(outputs),
        latency_ms: Date.now() - run.started,
        status: status(err),
        attributes: [attr("langchain.run_name", run.name)],
      });
    } finally {
      this.#forget(runId);
    }
  }

  // Models. ---------------------------------------------------------------------

  handleLLMStart(llm: unknown, prompts: string[], runId: string, parentRunId?: string, extraParams?: Json, _tags?: string[], metadata?: Json): void {
    this.#guard("LLM start", () => this.#llmStart(llm, prompts.join("\n\n"), runId, parentRunId, extraParams, metadata));
  }

  handleChatModelStart(llm: unknown, messages: unknown[][], runId: string, parentRunId?: string, extraParams?: Json, _tags?: string[], metadata?: Json): void {
    this.#guard("chat model start", () => {
      const rendered = messages.map((batch) => batch.map(message));
      this.#llmStart(llm, text(rendered.length === 1 ? rendered[0] : rendered), runId, parentRunId, extraParams, metadata);
    });
  }

  #llmStart(llm: unknown, prompt: string | undefined, runId: string, parent: string | undefined, extra: Json | undefined, metadata: Json | undefined): void {
    const params = (extra?.["invocation_params"] ?? {}) as Json;
    const name = String(metadata?.["ls_model_name"] ?? params["model"] ?? params["modelName"] ?? serializedName(llm) ?? "unknown");
    const provider = String(metadata?.["ls_provider"] ?? params["_type"] ?? "langchain");
    this.#start(runId, parent, name, { input: prompt, model: { provider, name } });
  }

  handleLLMEnd(output: unknown, runId: string): void {
    this.#guard("LLM end", () => this.#llmEnd(runId, output, undefined));
  }

  handleLLMError(err: unknown, runId: string): void {
    this.#guard("LLM error", () => this.#llmEnd(runId, undefined, err));
  }

  #llmEnd(runId: string, output: unknown, err: unknown): void {
    const run = this.#runs.get(runId);
    if (!run) return;
    const g = output === undefined ? { text: undefined, tokens: undefined, tools: [] as string[] } : generation(output);
    run.event = runId;
    this.#record(run, "llm_call", runId, {
      input: run.fields["input"],
      output: g.text,
      model: run.fields["model"],
      tokens: g.tokens,
      latency_ms: Date.now() - run.started,
      status: status(err),
      attributes: g.tools.length > 0 ? [attr("gen_ai.tool.call.requested", g.tools.join(","))] : undefined,
    });
    this.#ended(runId, run);
  }

  // Tools and retrievers. -------------------------------------------------------

  handleToolStart(tool: unknown, input: string, runId: string, parentRunId?: string, _tags?: string[], _metadata?: Json, runName?: string, toolCallId?: string): void {
    this.#guard("tool start", () => {
      this.#start(runId, parentRunId, runName ?? serializedName(tool) ?? "tool", { arguments: input, call_id: toolCallId });
    });
  }

  handleToolEnd(output: unknown, runId: string): void {
    this.#guard("tool end", () => this.#toolEnd(runId, output, undefined));
  }

  handleToolError(err: unknown, runId: string): void {
    this.#guard("tool error", () => this.#toolEnd(runId, undefined, err));
  }

  #toolEnd(runId: string, output: unknown, err: unknown): void {
    const run = this.#runs.get(runId);
    if (!run) return;
    const o = output as { tool_call_id?: string; content?: unknown } | undefined;
    const callId = (run.fields["call_id"] as string | undefined) ?? o?.tool_call_id ?? runId;
    const result = err === undefined ? (o && typeof o === "object" && "content" in o ? o.content : output) : `${(err as Error)?.name}: ${(err as Error)?.message ?? String(err)}`;
    const tool: Json = { name: run.name, call_id: String(callId), status: err === undefined ? "ok" : "error" };
    if (run.fields["arguments"] !== undefined) tool["arguments"] = text(run.fields["arguments"]);
    if (result !== undefined) tool["result"] = text(result);
    run.event = runId;
    this.#record(run, "tool_call", runId, { tools: [tool], latency_ms: Date.now() - run.started, status: status(err) });
    this.#ended(runId, run);
  }

  handleRetrieverStart(retriever: unknown, query: string, runId: string, parentRunId?: string, _tags?: string[], _metadata?: Json, name?: string): void {
    this.#guard("retriever start", () => {
      this.#start(runId, parentRunId, name ?? serializedName(retriever) ?? "retriever", { input: query });
    });
  }

  handleRetrieverEnd(documents: unknown[], runId: string): void {
    this.#guard("retriever end", () => this.#retrieverEnd(runId, documents, undefined));
  }

  handleRetrieverError(err: unknown, runId: string): void {
    this.#guard("retriever error", () => this.#retrieverEnd(runId, [], err));
  }

  #retrieverEnd(runId: string, documents: unknown[], err: unknown): void {
    const run = this.#runs.get(runId);
    if (!run) return;
    const docs = documents.map((d) => (d as { pageContent?: unknown })?.pageContent ?? d);
    run.event = runId;
    this.#record(run, "retrieval", runId, {
      input: run.fields["input"],
      output: text(docs),
      latency_ms: Date.now() - run.started,
      status: status(err),
      attributes: [attr("retrieval.documents", String(docs.length))],
    });
    this.#ended(runId, run);
  }
}

/** The `agent_end` event's id: derived from the run's, so a repeat is sealed once. */
function endId(runId: string): string {
  // The run id with its last hex digits turned: a stable, distinct UUID.
  const hex = runId.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) return runId;
  const flipped = hex.slice(0, 20) + [...hex.slice(20)].map((c) => (15 - parseInt(c, 16)).toString(16)).join("");
  return `${flipped.slice(0, 8)}-${flipped.slice(8, 12)}-${flipped.slice(12, 16)}-${flipped.slice(16, 20)}-${flipped.slice(20)}`;
}

/** The answer's text (with the tool calls it asks for), its tokens, and the tools it calls. */
function generation(output: unknown): { text: string | undefined; tokens: Json | undefined; tools: string[] } {
  const o = output as { generations?: { text?: string; message?: { tool_calls?: { name?: string }[]; usage_metadata?: Json } }[][]; llmOutput?: Json };
  const gens = (o.generations ?? []).flat();
  const texts: unknown[] = [];
  const tools: string[] = [];
  let input = 0;
  let out = 0;
  let cached = 0;
  let any = false;
  for (const g of gens) {
    const calls = g.message?.tool_calls ?? [];
    for (const c of calls) tools.push(String(c.name));
    texts.push(calls.length > 0 ? { content: g.text ?? "", tool_calls: calls } : (g.text ?? ""));
    const um = g.message?.usage_metadata;
    if (um) {
      any = true;
      input += Number(um["input_tokens"] ?? 0);
      out += Number(um["output_tokens"] ?? 0);
      cached += Number((um["input_token_details"] as Json | undefined)?.["cache_read"] ?? 0);
    }
  }
  if (!any) {
    const tu = (o.llmOutput?.["tokenUsage"] ?? o.llmOutput?.["token_usage"]) as Json | undefined;
    if (tu) {
      any = true;
      input = Number(tu["promptTokens"] ?? tu["prompt_tokens"] ?? 0);
      out = Number(tu["completionTokens"] ?? tu["completion_tokens"] ?? 0);
    }
  }
  return { text: text(texts.length === 1 ? texts[0] : texts), tokens: any ? { input, output: out, cached } : undefined, tools };
}
