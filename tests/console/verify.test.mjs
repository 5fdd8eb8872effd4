// The console's in-browser verifier (crates/api/console/verify.js), run
// under Node's WebCrypto against vectors nobody here wrote: RFC 6962 Merkle
// proofs (transparency-dev) and C2SP signed notes (golang.org/x/mod), plus
// the ledger format's own known-answer record. Property tests (fast-check)
// mutate every input and require a clean refusal, never a wrong "valid".

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import * as v from "../../crates/api/console/verify.js";

const root = new URL("../../", import.meta.url);
const json = (p) => JSON.parse(readFileSync(new URL(p, root), "utf8"));
const merkle = json("tests/fixtures/merkle-rfc6962.json");
const note = json("tests/fixtures/signed-note.json");
const event = json("tests/fixtures/trace-event.json");
const canonicalHex = readFileSync(new URL("docs/vectors/canonical-example.hex", root), "utf8").trim();

const named = (n) => v.fromHex(merkle.named_hashes[n]);
const rootOf = (size) => merkle.roots_by_size[String(size)];
const runs = { numRuns: 200 };

test("RFC 6962 hasher vectors", async () => {
  assert.equal(v.hex(await v.leafHash(new Uint8Array())), merkle.hasher.leaf_hash_of_empty);
  const leaves = await Promise.all(merkle.leaves_hex.map((h) => v.leafHash(v.fromHex(h))));
  assert.equal(v.hex(leaves[0]), rootOf(1));
  assert.equal(v.hex(await v.nodeHash(leaves[0], leaves[1])), rootOf(2));
});

test("every published inclusion proof leads to the published root", async () => {
  for (const p of merkle.inclusion_proofs) {
    const leaf = await v.leafHash(v.fromHex(merkle.leaves_hex[p.index]));
    const r = await v.rootFromInclusionProof(p.index, p.size, leaf, p.proof.map(named));
    assert.equal(v.hex(r), rootOf(p.size), `index ${p.index} size ${p.size}`);
  }
});

async function accepts(index, size, leaf, proof, want) {
  try {
    return v.hex(await v.rootFromInclusionProof(index, size, leaf, proof)) === want;
  } catch (e) {
    assert.ok(e instanceof v.VerifyError, `a refusal is a VerifyError, got ${e}`);
    return false;
  }
}

test("RFC 6962 negative cases are refused", async () => {
  for (const p of merkle.inclusion_proofs) {
    const leaf = await v.leafHash(v.fromHex(merkle.leaves_hex[p.index]));
    const proof = p.proof.map(named);
    const want = rootOf(p.size);
    assert.ok(await accepts(p.index, p.size, leaf, proof, want));
    for (const i of [p.index - 1, p.index + 1, p.index ^ 2]) assert.ok(!(await accepts(i, p.size, leaf, proof, want)));
    for (const s of [p.size * 2, Math.floor(p.size / 2)]) assert.ok(!(await accepts(p.index, s, leaf, proof, want)));
    assert.ok(!(await accepts(p.index, p.size, leaf, proof.slice(1), want)));
    assert.ok(!(await accepts(p.index, p.size, leaf, [...proof, leaf], want)));
    assert.ok(!(await accepts(p.index, p.size, leaf, [leaf, ...proof], want)));
  }
});

test("property: flipping any bit of any proof hash or of the leaf is refused", async () => {
  const cases = await Promise.all(
    merkle.inclusion_proofs.map(async (p) => ({ ...p, leaf: await v.leafHash(v.fromHex(merkle.leaves_hex[p.index])) })),
  );
  await fc.assert(
    fc.asyncProperty(fc.nat(cases.length - 1), fc.nat(), fc.nat(255), async (c, which, bit) => {
      const p = cases[c];
      const proof = p.proof.map(named);
      let leaf = p.leaf;
      const slot = which % (proof.length + 1);
      const target = slot === proof.length ? (leaf = leaf.slice()) : (proof[slot] = proof[slot].slice());
      target[bit % 32] ^= 1 << bit % 8;
      return !(await accepts(p.index, p.size, leaf, proof, rootOf(p.size)));
    }),
    runs,
  );
});

const signedNote = note.text + "\n" + note.expected_signature_line + "\n";

test("a verifier key whose base64 contains '+' parses", async () => {
  // A real ledger key of this project; its key bytes encode with a '+'.
  const k = await v.parseVerifierKey("traceledger.local+012cf1c2+AaTgp2WrgqA2apnSZzRF+r4aFkPJ0WWXkYr6ZMGg7I9P");
  assert.deepEqual([k.name, k.keyId, k.publicKey.length], ["traceledger.local", "012cf1c2", 32]);
});

test("C2SP signed-note vector opens under its verifier key", async () => {
  const key = await v.parseVerifierKey(note.verifier_key);
  assert.equal(key.name, "PeterNeumann");
  assert.equal(key.keyId, "c74f20a3");
  assert.equal(await v.openNote(signedNote, key), note.text);
  // With a second, unknown signer the known signature still decides.
  const both = signedNote + note.second_signature_line_over_same_text + "\n";
  assert.equal(await v.openNote(both, key), note.text);
  const other = await v.parseVerifierKey(note.second_verifier_key);
  await assert.rejects(v.openNote(signedNote, other), v.VerifyError);
});

test("property: any one-character change of the verifier key is refused", async () => {
  const k = note.verifier_key;
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/= ";
  await fc.assert(
    fc.asyncProperty(fc.nat(k.length - 1), fc.constantFrom(...alphabet), async (i, c) => {
      fc.pre(k[i] !== c);
      const mutated = k.slice(0, i) + c + k.slice(i + 1);
      try {
        await v.parseVerifierKey(mutated);
        return false;
      } catch (e) {
        return e instanceof v.VerifyError;
      }
    }),
    runs,
  );
});

test("property: any change to the note's text or signature is refused", async () => {
  const key = await v.parseVerifierKey(note.verifier_key);
  await fc.assert(
    fc.asyncProperty(fc.nat(signedNote.length - 1), fc.integer({ min: 32, max: 126 }), async (i, code) => {
      const c = String.fromCharCode(code);
      fc.pre(signedNote[i] !== c);
      const mutated = signedNote.slice(0, i) + c + signedNote.slice(i + 1);
      try {
        await v.openNote(mutated, key);
        return false;
      } catch (e) {
        return e instanceof v.VerifyError;
      }
    }),
    runs,
  );
});

test("checkpoint bodies: three lines exactly", () => {
  const body = "example.com/log\n42\n" + Buffer.alloc(32, 7).toString("base64") + "\n";
  const cp = v.parseCheckpoint(body);
  assert.deepEqual([cp.origin, cp.size, cp.root.length], ["example.com/log", 42, 32]);
  for (const bad of [body + "ext\n", body.replace("42", "042"), body.replace("42", "-1"), "a\n1\n"]) {
    assert.throws(() => v.parseCheckpoint(bad), v.VerifyError);
  }
});

test("the ledger format's known-answer record decodes to its event", async () => {
  const bytes = v.fromHex(canonicalHex);
  assert.equal(bytes.length, 607);
  assert.equal(v.hex(await v.leafHash(bytes)), "1ba5cb48aceec07ec66ef3966542029ae440bedab42436969e390b4af858916b");
  const { header, event: e, commitments } = v.decodeCanonical(bytes);
  assert.deepEqual(
    [header.tenant_id, header.seq, header.key_id, header.policy, header.source],
    ["acme", 0, "c74f20a3", "default/v1", { topic: "traces.raw", partition: 3, offset: 42 }],
  );
  assert.equal(header.prev_hash, "f03e84a8106e1d1c8e948a393aa48ff8b03418299865103262a65329ce8cb62e");
  for (const k of ["event_id", "agent_id", "session_id", "step_index", "parent_event_id", "kind", "timestamp"]) {
    assert.deepEqual(e[k], event[k], k);
  }
  assert.deepEqual(e.model, event.model);
  assert.deepEqual(e.tokens, event.tokens);
  assert.deepEqual([e.cost_micros, e.latency_ms, e.status.code], [event.cost_micros, event.latency_ms, "ok"]);
  assert.deepEqual(e.attributes, event.attributes);
  assert.deepEqual(e.subject_ids, event.subject_ids);
  assert.deepEqual(e.tools.map((t) => t.name), ["bureau_lookup"]);
  // Every salt is 32 bytes of 0x11 in the vector: each commitment opens.
  const salt = new Uint8Array(32).fill(0x11);
  const values = [event.input, event.output, event.reasoning, event.tools[0].arguments, event.tools[0].result];
  assert.equal(commitments.length, values.length);
  for (let i = 0; i < values.length; i++) {
    const d = await v.sha256(new Uint8Array([...salt, ...new TextEncoder().encode(values[i])]));
    assert.equal(v.hex(d), commitments[i], v.slotNames(1)[i]);
  }
});

test("property: every truncation of a canonical record is refused with a position", () => {
  const bytes = v.fromHex(canonicalHex);
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => v.decodeCanonical(bytes.slice(0, n)), v.VerifyError, `prefix of ${n}`);
  }
  assert.throws(() => v.decodeCanonical(new Uint8Array([...bytes, 0])), /unexpected bytes/);
});

test("a timestamp beyond what a Date holds is refused, not thrown as a RangeError", () => {
  // Found by the property below: byte 56 (sealed_at's first) set to 0x78.
  const bytes = v.fromHex(canonicalHex);
  bytes[56] = 0x78;
  assert.throws(() => v.decodeCanonical(bytes), v.VerifyError);
});

test("property: arbitrary bytes never crash the decoder", () => {
  const bytes = v.fromHex(canonicalHex);
  fc.assert(
    fc.property(fc.nat(bytes.length - 1), fc.nat(255), fc.uint8Array({ maxLength: 64 }), (i, b, junk) => {
      for (const input of [Uint8Array.from(bytes, (x, j) => (j === i ? b : x)), junk]) {
        try {
          v.decodeCanonical(input);
        } catch (e) {
          if (!(e instanceof v.VerifyError)) return false;
        }
      }
      return true;
    }),
    { numRuns: 20000 },
  );
});

test("every field the record page shows beside content is compared with the signed bytes", () => {
  const signed = v.decodeCanonical(v.fromHex(canonicalHex));
  const h = signed.header;
  // The record as GET /v1/records/{seq} serves it (crates/api record_json).
  const record = {
    tenant_id: h.tenant_id,
    seq: h.seq,
    prev_hash: h.prev_hash,
    sealed_at: h.sealed_at,
    key_id: h.key_id,
    source: h.source,
    policy: h.policy,
    event: structuredClone(event),
  };
  assert.deepEqual(v.mismatchedFields(record, signed), []);
  // Content is the commitments' to check, not this comparison's.
  const contentless = structuredClone(record);
  contentless.event.output = "edited";
  contentless.event.tools[0].result = "edited";
  assert.deepEqual(v.mismatchedFields(contentless, signed), []);
  // Each field the page shows, altered alone, is named (issue 19, finding 9).
  const edits = {
    tenant_id: (r) => (r.tenant_id = "other"),
    seq: (r) => (r.seq += 1),
    prev_hash: (r) => (r.prev_hash = "00".repeat(32)),
    sealed_at: (r) => (r.sealed_at = "2020-01-01T00:00:00.000000Z"),
    key_id: (r) => (r.key_id = "deadbeef"),
    source: (r) => (r.source.offset += 1),
    policy: (r) => (r.policy = "lenient/v9"),
    event_id: (r) => (r.event.event_id = "00000000-0000-4000-8000-000000000000"),
    agent_id: (r) => (r.event.agent_id = "someone-else"),
    session_id: (r) => (r.event.session_id = "other"),
    step_index: (r) => (r.event.step_index += 1),
    parent_event_id: (r) => delete r.event.parent_event_id,
    kind: (r) => (r.event.kind = "decision"),
    timestamp: (r) => (r.event.timestamp = "2026-11-27T09:14:04.512345Z"),
    model: (r) => (r.event.model.version = "2025-01-01"),
    tokens: (r) => (r.event.tokens.cached = 0),
    cost_micros: (r) => (r.event.cost_micros = 1),
    latency_ms: (r) => (r.event.latency_ms = 1),
    status: (r) => (r.event.status.message = "all fine"),
    tools: (r) => (r.event.tools[0].status = "error"),
    subject_ids: (r) => (r.event.subject_ids = []),
    data_classification: (r) => (r.event.data_classification = "public"),
    expected_steps: (r) => (r.event.expected_steps = 6),
    attributes: (r) => r.event.attributes.push({ key: "approved_by", value: "edit" }),
    invented: (r) => (r.event.invented = "a field the signed form lacks"),
  };
  for (const [name, edit] of Object.entries(edits)) {
    const r = structuredClone(record);
    edit(r);
    const named = v.mismatchedFields(r, signed).map(([n]) => n);
    assert.deepEqual(named, [name], `altering ${name}`);
  }
});

// Witness cosignatures (c2sp.org/tlog-cosignature) against a vector made
// with Python's `cryptography`, apart from this code and the Rust side.
const cosig = json("tests/fixtures/cosignature.json");

test("the cosignature vector meets a policy naming its witness, and only that one", async () => {
  const one = await v.parseWitnessPolicy(`log ${cosig.log_verifier_key}\nwitness W1 ${cosig.witness_verifier_key}\nquorum W1\n`);
  const ok = await v.checkWitnesses(cosig.cosigned_note, one);
  assert.equal(ok.ok, true, ok.detail);
  assert.deepEqual(ok.by, [["W1", cosig.timestamp]]);
  const bare = await v.checkWitnesses(cosig.checkpoint_note, one);
  assert.equal(bare.ok, false);
  assert.match(bare.detail, /witness W1 did not cosign/);
  assert.equal((await v.checkWitnesses(cosig.checkpoint_note, await v.parseWitnessPolicy("quorum none\n"))).ok, true);
});

test("a quorum names what is missing, group by group", async () => {
  const key = await v.parseWitnessKey(cosig.witness_verifier_key);
  assert.equal(key.name, cosig.witness_name);
  // A second, absent witness with a valid 0x04 key of its own.
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const raw = new Uint8Array([4, ...new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey))]);
  const name = "witness.example/w2";
  const id = v.hex((await v.sha256(new Uint8Array([...new TextEncoder().encode(name), 10, ...raw]))).slice(0, 4));
  const w2 = `${name}+${id}+${btoa(String.fromCharCode(...raw))}`;
  const policy = await v.parseWitnessPolicy(
    `witness W1 ${cosig.witness_verifier_key}\nwitness W2 ${w2} https://w2.example/\ngroup both all W1 W2\nquorum both\n`,
  );
  const r = await v.checkWitnesses(cosig.cosigned_note, policy);
  assert.equal(r.ok, false);
  assert.match(r.detail, /group both needs 2 of 2 and has 1 \(W1 yes, W2 no\)/);
});

test("malformed policies and keys are refused with the line", async () => {
  for (const [text, want] of [
    ["", /no quorum/],
    [`witness A ${cosig.log_verifier_key}\nquorum A\n`, /0x04/],
    [`group G any A\nquorum G\n`, /line 1/],
    [`witness A ${cosig.witness_verifier_key}\ngroup G 2 A\nquorum G\n`, /threshold/],
    ["frob\nquorum none\n", /unknown keyword/],
  ]) {
    await assert.rejects(v.parseWitnessPolicy(text), want, text);
  }
});

test("every single-byte change to the cosigned note loses or fails the cosignature", async () => {
  const policy = await v.parseWitnessPolicy(`witness W1 ${cosig.witness_verifier_key}\nquorum W1\n`);
  const note = cosig.cosigned_note;
  const bodyEnd = note.indexOf("\n\n") + 1;
  const lineStart = note.length - cosig.cosignature_line.length - 1;
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: note.length - 2 }), fc.integer({ min: 1, max: 127 }), async (i, x) => {
      if (i >= bodyEnd && i < lineStart) return; // the log's own line is not the witness's
      const changed = note.slice(0, i) + String.fromCharCode(note.charCodeAt(i) ^ x) + note.slice(i + 1);
      if (changed === note) return;
      let r;
      try {
        r = await v.checkWitnesses(changed, policy);
      } catch (e) {
        assert.ok(e instanceof v.VerifyError, `a refusal is a VerifyError, got ${e}`);
        return;
      }
      assert.equal(r.ok, false, `accepted a change at ${i}`);
    }),
    runs,
  );
});
