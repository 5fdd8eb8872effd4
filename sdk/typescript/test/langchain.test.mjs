// The LangChain.js handler on a real LangGraph.js ReAct agent, driven by
// LangChain's own offline fake streaming chat model, against a real node.

import { test } from "node:test";
import assert from "node:assert/strict";
import { AIMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { createReactAgent } from "@langchain/langgraph/prebuilt";
import { z } from "zod";

import { Client } from "../dist/index.js";
import { TraceledgerCallbackHandler } from "../dist/langchain.js";
import { dataDir, startNode } from "./node.mjs";

const lookupOrder = tool(async ({ orderId }) => JSON.stringify({ orderId, status: "shipped" }), {
  name: "lookup_order",
  description: "Where an order is.",
  schema: z.object({ orderId: z.string() }),
});

const issueRefund = tool(
  async ({ orderId }) => {
    throw new Error(`refunds for ${orderId} need a human`);
  },
  { name: "issue_refund", description: "Refunds an order.", schema: z.object({ orderId: z.string() }) },
);

/**
 * LangChain's fake list chat model, answering with scripted messages (tool
 * calls and token usage included) in order; binding tools changes nothing
 * (the script already calls them). LangChain.js ships no fake that scripts
 * tool calls in sequence: its streaming fake repeats its first answer.
 */
class ScriptedChatModel extends FakeListChatModel {
  constructor(messages) {
    super({ responses: messages.map((m) => String(m.content)) });
    this.script = messages;
  }
  bindTools() {
    return this;
  }
  async _generate() {
    const message = this.script.shift();
    return { generations: [{ text: String(message.content), message }] };
  }
}

const usage = (i, o) => ({ input_tokens: i, output_tokens: o, total_tokens: i + o });

async function records(node, session, n) {
  const chain = await node.waitFor(`/v1/sessions/${session}`, (c) => c.steps?.length === n, `${n} steps`);
  const out = [];
  for (const s of chain.steps) out.push((await node.waitFor(`/v1/records/by-event/${s.event_id}`, () => true, "a record")).event);
  return out;
}

test("a LangGraph.js agent run is a tree of steps with tokens, tool calls and latency", async (t) => {
  const node = await startNode(dataDir(t));
  const model = new ScriptedChatModel([
      new AIMessage({ content: "", tool_calls: [{ name: "lookup_order", args: { orderId: "A-17" }, id: "call_1" }], usage_metadata: usage(50, 10) }),
      new AIMessage({ content: "Order A-17 has shipped.", usage_metadata: usage(80, 7) }),
  ]);
  const agent = createReactAgent({ llm: model, tools: [lookupOrder] });
  const client = new Client({ url: node.url, apiKey: node.key, flushIntervalMs: 10 });
  const handler = new TraceledgerCallbackHandler(client, { agentId: "support-bot", sessionId: "s-langgraph-js" });
  const out = await agent.invoke({ messages: [["user", "Where is order A-17?"]] }, { callbacks: [handler] });
  assert.equal(out.messages.at(-1).content, "Order A-17 has shipped.");
  assert.equal(await client.flush(60_000), true);
  assert.equal(handler.openRuns, 0, "finished runs are forgotten");
  const ev = await records(node, "s-langgraph-js", 5);
  assert.deepEqual(ev.map((e) => e.kind), ["agent_start", "llm_call", "tool_call", "llm_call", "agent_end"]);
  const root = ev[0].event_id;
  assert.equal(ev[0].parent_event_id ?? null, null);
  for (const e of ev.slice(1)) assert.equal(e.parent_event_id, root);
  assert.match(ev[0].input, /Where is order A-17\?/);
  assert.deepEqual([ev[1].tokens.input, ev[1].tokens.output, ev[3].tokens.input, ev[3].tokens.output], [50, 10, 80, 7]);
  assert.match(ev[1].output, /lookup_order/);
  assert.equal(ev[3].output, "Order A-17 has shipped.");
  const [call] = ev[2].tools;
  assert.deepEqual([call.name, call.call_id, call.status], ["lookup_order", "call_1", "ok"]);
  assert.deepEqual(JSON.parse(call.arguments), { orderId: "A-17" });
  assert.match(call.result, /shipped/);
  for (const e of ev.slice(1)) assert.equal(typeof e.latency_ms, "number");
  assert.match(ev[4].output, /Order A-17 has shipped\./);
  await client.close(1000);
});

test("a failing tool is an error step, and each top-level run is its own session", async (t) => {
  const node = await startNode(dataDir(t));
  const client = new Client({ url: node.url, apiKey: node.key, flushIntervalMs: 10 });
  const handler = new TraceledgerCallbackHandler(client, { agentId: "refunds" });
  const runs = [crypto.randomUUID(), crypto.randomUUID()];
  for (const runId of runs) {
    const model = new ScriptedChatModel([
        new AIMessage({ content: "", tool_calls: [{ name: "issue_refund", args: { orderId: "B-2" }, id: "call_9" }] }),
        new AIMessage({ content: "A human will look at your refund." }),
    ]);
    const agent = createReactAgent({ llm: model, tools: [issueRefund] });
    await agent.invoke({ messages: [["user", "Refund B-2"]] }, { callbacks: [handler], runId });
  }
  assert.equal(await client.flush(60_000), true);
  for (const runId of runs) {
    const ev = await records(node, runId, 5);
    assert.equal(ev[0].event_id, runId);
    const step = ev[2];
    assert.equal(step.kind, "tool_call");
    assert.equal(step.tools[0].status, "error");
    assert.match(step.tools[0].result, /need a human/);
    assert.equal(step.status.code, "error");
    assert.equal(ev[4].kind, "agent_end");
  }
  await client.close(1000);
});

test("the handler never throws into LangChain", async () => {
  const client = new Client({ url: "http://127.0.0.1:9", apiKey: "k", flushOnExitMs: 0 });
  await client.close(0);
  const handler = new TraceledgerCallbackHandler(client, { agentId: "a" });
  const model = new ScriptedChatModel([new AIMessage("fine")]);
  assert.equal((await model.invoke("hi", { callbacks: [handler] })).content, "fine");
  handler.handleToolEnd({}, "no-such-run");
  handler.handleChainStart(null, null, crypto.randomUUID());
  handler.handleLLMEnd(null, "no-such-run");
  assert.ok(client.stats.dropped >= 1);
});
