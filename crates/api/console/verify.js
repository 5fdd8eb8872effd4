// traceledger record verification, run by the reader's own browser.
//
// Nothing here trusts the server's answer: the leaf hash is recomputed from
// the record's canonical bytes, the signature and the checkpoint note are
// checked with WebCrypto Ed25519 against a verifier key the reader pins, the
// inclusion proof is folded up to the checkpoint's root (RFC 6962 / RFC 9162
// §2.1.3.2), and every content value shown is checked against its signed
// commitment. The canonical bytes are decoded here (docs/ledger-format.md),
// so what the page calls "signed" is read from the signed bytes themselves.
//
// Plain ES module with no dependencies: the same file runs in the console
// and under `node --test` (tests/console/verify.test.mjs) against the
// public RFC 6962 and C2SP signed-note vectors.

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();
const utf8d = new TextDecoder("utf-8", { fatal: true });

export class VerifyError extends Error {}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(s) {
  if (typeof s !== "string" || s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) {
    throw new VerifyError(`not lowercase hex: ${String(s).slice(0, 20)}`);
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function fromBase64(s) {
  if (typeof s !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
    throw new VerifyError(`not base64: ${String(s).slice(0, 20)}`);
  }
  const bin = atob(s);
  // Canonical only: unused low bits must be zero, so a value has one spelling.
  if (btoa(bin) !== s) throw new VerifyError(`not canonical base64: ${s.slice(0, 20)}`);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

/** RFC 6962 leaf hash: SHA-256(0x00 || data). */
export function leafHash(data) {
  return sha256(concat(Uint8Array.of(0), data));
}

/** RFC 6962 interior node: SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/**
 * The root that an inclusion proof of leaf `index` in a tree of `size`
 * leads to (RFC 9162 §2.1.3.2). Throws when the proof has the wrong length.
 */
export async function rootFromInclusionProof(index, size, leaf, proof) {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size)) || index < 0 || index >= size) {
    throw new VerifyError(`index ${index} is outside a tree of ${size} leaves`);
  }
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new VerifyError("the proof is longer than the tree is deep");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new VerifyError("the proof is shorter than the tree is deep");
  return r;
}

/**
 * A C2SP verifier key `name+hexid+base64(0x01 || Ed25519 public key)`; the
 * key id must be the first 4 bytes of SHA-256(name || 0x0A || 0x01 || key).
 */
export function parseVerifierKey(text) {
  return parseKey(text, 1, "verifier key", "the key must be 0x01 (Ed25519) then 32 bytes");
}

/** A C2SP key `name+hexid+base64(alg || 32-byte Ed25519 key)` of algorithm `alg`. */
async function parseKey(text, alg, what, wrongAlg) {
  const s = String(text).trim();
  // The name holds no '+', the id is hex; the base64 key may contain '+'.
  const m = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(s);
  if (!m) throw new VerifyError(`a ${what} reads name+keyid+key (three parts joined by '+')`);
  const [, name, idHex, b64] = m;
  if (!name || /[\s+]/.test(name)) throw new VerifyError(`the ${what} name is empty or contains spaces`);
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new VerifyError(`the ${what} id must be 8 lowercase hex digits`);
  const raw = fromBase64(b64);
  if (raw.length !== 33 || raw[0] !== alg) throw new VerifyError(wrongAlg);
  const digest = await sha256(concat(utf8.encode(name), Uint8Array.of(10), raw));
  if (hex(digest.slice(0, 4)) !== idHex) throw new VerifyError(`the ${what} id does not match the key's name and bytes`);
  const publicKey = raw.slice(1);
  const cryptoKey = await subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return { text: s, name, keyId: idHex, publicKey, cryptoKey };
}

export function ed25519Verify(vkey, signature, message) {
  return subtle.verify({ name: "Ed25519" }, vkey.cryptoKey, signature, message);
}

/**
 * Splits a signed note into its text (ending in a newline) and signature
 * lines `— name base64(keyid || signature)`.
 */
export function parseNote(note) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new VerifyError("the note has no blank line before its signatures");
  const text = note.slice(0, split + 1);
  const sigLines = note.slice(split + 2);
  if (!sigLines.endsWith("\n")) throw new VerifyError("the note does not end in a newline");
  const sigs = sigLines
    .slice(0, -1)
    .split("\n")
    .map((line) => {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) throw new VerifyError(`not a signature line: ${line.slice(0, 40)}`);
      const blob = fromBase64(m[2]);
      if (blob.length < 5) throw new VerifyError("a signature line is too short");
      return { name: m[1], keyId: hex(blob.slice(0, 4)), signature: blob.slice(4) };
    });
  return { text, sigs };
}

/** Verifies a signed note under `vkey`; returns its text. */
export async function openNote(note, vkey) {
  const { text, sigs } = parseNote(note);
  const mine = sigs.filter((s) => s.name === vkey.name && s.keyId === vkey.keyId);
  if (mine.length === 0) throw new VerifyError(`the note is not signed by ${vkey.name}+${vkey.keyId}`);
  for (const s of mine) {
    if (s.signature.length !== 64 || !(await ed25519Verify(vkey, s.signature, utf8.encode(text)))) {
      throw new VerifyError(`the note's signature by ${vkey.name} does not verify`);
    }
  }
  return text;
}

/**
 * A witness key `name+hexid+base64(0x04 || Ed25519 public key)`
 * (c2sp.org/tlog-cosignature); the id is SHA-256(name || 0x0A || 0x04 || key)[:4].
 */
export function parseWitnessKey(text) {
  return parseKey(text, 4, "witness key", `witness key ${String(text).split("+")[0]}: must be 0x04 (cosignature/v1) then 32 bytes`);
}

/**
 * A c2sp.org/tlog-policy: `witness NAME VKEY [URL]`, `group NAME all|any|K
 * MEMBER...`, `quorum NAME|none`; `log` lines are read and left to the
 * pinned verifier key, which stands for them here.
 */
export async function parseWitnessPolicy(text) {
  const witnesses = new Map();
  const groups = new Map();
  let quorum;
  const lines = String(text).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const w = lines[i].split(/[ \t]+/).filter(Boolean);
    const at = `policy line ${i + 1}`;
    if (w.length === 0 || w[0].startsWith("#") || w[0] === "log") continue;
    const defined = (n) => witnesses.has(n) || groups.has(n);
    if (w[0] === "witness") {
      if (w.length < 3 || w.length > 4) throw new VerifyError(`${at}: expected witness <name> <vkey> [<url>]`);
      if (w[1] === "none" || defined(w[1])) throw new VerifyError(`${at}: ${w[1]} is reserved or already defined`);
      witnesses.set(w[1], await parseWitnessKey(w[2]));
    } else if (w[0] === "group") {
      const members = w.slice(3);
      if (w.length < 4 || w[1] === "none" || defined(w[1])) throw new VerifyError(`${at}: expected group <new name> all|any|<k> <member>...`);
      for (const m of members) if (!defined(m)) throw new VerifyError(`${at}: ${m} is not defined above`);
      const k = w[2] === "all" ? members.length : w[2] === "any" ? 1 : /^[1-9][0-9]*$/.test(w[2]) ? Number(w[2]) : 0;
      if (k < 1 || k > members.length) throw new VerifyError(`${at}: threshold ${w[2]} must be all, any or 1..${members.length}`);
      groups.set(w[1], { k, members });
    } else if (w[0] === "quorum") {
      if (w.length !== 2 || quorum !== undefined) throw new VerifyError(`${at}: one quorum line, quorum <name>`);
      if (w[1] !== "none" && !defined(w[1])) throw new VerifyError(`${at}: ${w[1]} is not defined above`);
      quorum = w[1];
    } else {
      throw new VerifyError(`${at}: unknown keyword ${w[0]}`);
    }
  }
  if (quorum === undefined) throw new VerifyError("the policy has no quorum line");
  return { witnesses, groups, quorum };
}

/**
 * Checks a checkpoint note's cosignatures against a parsed policy: returns
 * `{ ok, by: [[name, unixSeconds]], detail }`. A listed witness's line that
 * does not verify fails, whatever the quorum.
 */
export async function checkWitnesses(note, policy) {
  const { text, sigs } = parseNote(note);
  const by = [];
  for (const [pname, key] of policy.witnesses) {
    for (const s of sigs.filter((s) => s.name === key.name && s.keyId === key.keyId)) {
      if (s.signature.length !== 72) return { ok: false, by, detail: `witness ${pname}'s line is not a cosignature/v1` };
      const ts = new DataView(s.signature.buffer, s.signature.byteOffset, 8).getBigUint64(0);
      const msg = concat(utf8.encode(`cosignature/v1\ntime ${ts}\n`), utf8.encode(text));
      const good = await subtle.verify({ name: "Ed25519" }, key.cryptoKey, s.signature.slice(8), msg);
      if (!good) return { ok: false, by, detail: `witness ${pname}'s cosignature does not verify over this checkpoint` };
      if (!by.some(([n]) => n === pname)) by.push([pname, Number(ts)]);
    }
  }
  const has = (n) => by.some(([w]) => w === n);
  const met = (n) => {
    const g = policy.groups.get(n);
    return g ? g.members.filter(met).length >= g.k : has(n);
  };
  const explain = (n) => {
    const g = policy.groups.get(n);
    if (!g) return `witness ${n} did not cosign`;
    const parts = g.members.map((m) => `${m} ${met(m) ? "yes" : "no"}`).join(", ");
    const deeper = g.members.filter((m) => !met(m) && policy.groups.has(m)).map(explain);
    return [`group ${n} needs ${g.k} of ${g.members.length} and has ${g.members.filter(met).length} (${parts})`, ...deeper].join("; ");
  };
  const cosigned = by.map(([n, t]) => `${n} at ${new Date(t * 1000).toISOString()}`).join(", ");
  if (policy.quorum === "none" || met(policy.quorum)) {
    return { ok: true, by, detail: by.length ? `cosigned by ${cosigned}` : "the policy asks for no witness" };
  }
  return { ok: false, by, detail: `lacks the witness quorum: ${explain(policy.quorum)}` };
}

/** A tlog checkpoint body: origin, size, base64 root (no extension lines). */
export function parseCheckpoint(text) {
  const lines = text.split("\n");
  if (lines.length !== 4 || lines[3] !== "") throw new VerifyError("a checkpoint is exactly three lines");
  const [origin, sizeText, rootText] = lines;
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new VerifyError(`bad checkpoint size ${sizeText}`);
  const root = fromBase64(rootText);
  if (root.length !== 32) throw new VerifyError("the checkpoint root is not 32 bytes");
  return { origin, size: Number(sizeText), root };
}

const KINDS = [
  "agent_start",
  "llm_call",
  "tool_call",
  "decision",
  "agent_end",
  "error",
  "heartbeat",
  "retrieval",
  "handoff",
  "human_review",
  "evaluation",
  "guardrail",
];
const TOOL_STATUS = ["ok", "error", "timeout", "denied"];
const STATUS = ["ok", "error"];
const CLASSES = ["public", "internal", "confidential", "restricted"];

class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.at = 0;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n, what) {
    if (this.at + n > this.b.length) {
      throw new VerifyError(`canonical bytes end at byte ${this.b.length} inside ${what} (needs ${n} at ${this.at})`);
    }
  }
  bytes(n, what) {
    this.need(n, what);
    const out = this.b.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8(what) {
    this.need(1, what);
    return this.b[this.at++];
  }
  u32(what) {
    this.need(4, what);
    const v = this.view.getUint32(this.at);
    this.at += 4;
    return v;
  }
  u64(what) {
    this.need(8, what);
    const v = this.view.getBigUint64(this.at);
    this.at += 8;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(what) {
    this.need(8, what);
    const v = this.view.getBigInt64(this.at);
    this.at += 8;
    return v;
  }
  str(what) {
    const n = this.u32(`${what} length`);
    const raw = this.bytes(n, what);
    try {
      return utf8d.decode(raw);
    } catch {
      throw new VerifyError(`${what} at byte ${this.at - n} is not UTF-8`);
    }
  }
  opt(what, f) {
    const flag = this.u8(`${what} flag`);
    if (flag === 0) return null;
    if (flag !== 1) throw new VerifyError(`byte ${this.at - 1}: ${what} flag is ${flag}, not 0 or 1`);
    return f();
  }
  code(table, what) {
    const c = this.u8(what);
    if (c >= table.length) throw new VerifyError(`byte ${this.at - 1}: unknown ${what} code ${c}`);
    return table[c];
  }
  uuid(what) {
    const h = hex(this.bytes(16, what));
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  commitment(what) {
    return this.opt(what, () => hex(this.bytes(32, what)));
  }
}

function micros(t) {
  // Microseconds since the epoch → RFC 3339 with microseconds, UTC.
  const ms = Number(t / 1000n);
  // A JavaScript Date spans ±8.64e15 ms; past that the bytes cannot be a
  // real time (and toISOString would throw a RangeError).
  if (!(Math.abs(ms) <= 8.64e15)) throw new VerifyError(`a timestamp of ${t} µs is out of range`);
  const us = Number(((t % 1000000n) + 1000000n) % 1000000n);
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${String(us).padStart(6, "0")}Z`);
}

/**
 * Decodes canonical record bytes (format v1). Every malformed input throws
 * a VerifyError naming the byte position; trailing bytes are refused.
 */
export function decodeCanonical(bytes) {
  const r = new Reader(bytes);
  const magic = r.bytes(8, "the format header");
  if (!equal(magic, utf8.encode("TLREC\0\0\u0001"))) throw new VerifyError("not a canonical record (format TLREC v1)");
  const header = {
    tenant_id: r.str("tenant_id"),
    seq: r.u64("seq"),
    prev_hash: hex(r.bytes(32, "prev_hash")),
    sealed_at: micros(r.i64("sealed_at")),
    key_id: r.u32("key_id").toString(16).padStart(8, "0"),
    source: r.opt("source", () => ({ topic: r.str("source topic"), partition: r.u32("partition"), offset: r.u64("offset") })),
    policy: r.str("policy"),
  };
  const event = {
    event_id: r.uuid("event_id"),
    agent_id: r.str("agent_id"),
    session_id: r.str("session_id"),
    step_index: r.u32("step_index"),
    parent_event_id: r.opt("parent_event_id", () => r.uuid("parent_event_id")),
    kind: r.code(KINDS, "event kind"),
    timestamp: micros(r.i64("timestamp")),
    model: r.opt("model", () => ({
      provider: r.str("model provider"),
      name: r.str("model name"),
      version: r.opt("model version", () => r.str("model version")),
    })),
  };
  const commitments = [r.commitment("input"), r.commitment("output"), r.commitment("reasoning")];
  const nTools = r.u32("tool count");
  event.tools = [];
  for (let i = 0; i < nTools; i++) {
    event.tools.push({ name: r.str("tool name"), call_id: r.str("call_id"), status: r.code(TOOL_STATUS, "tool status") });
    commitments.push(r.commitment(`tools[${i}].arguments`), r.commitment(`tools[${i}].result`));
  }
  event.tokens = r.opt("tokens", () => ({ input: r.u64("tokens"), output: r.u64("tokens"), cached: r.u64("tokens") }));
  event.cost_micros = r.opt("cost", () => r.u64("cost"));
  event.latency_ms = r.opt("latency", () => r.u64("latency"));
  event.status = { code: r.code(STATUS, "status") };
  event.status.message = r.opt("status message", () => r.str("status message"));
  const nSubjects = r.u32("subject count");
  event.subject_ids = [];
  for (let i = 0; i < nSubjects; i++) event.subject_ids.push(r.str("subject id"));
  event.data_classification = r.opt("classification", () => r.code(CLASSES, "classification"));
  event.expected_steps = r.opt("expected_steps", () => r.u32("expected_steps"));
  const nAttrs = r.u32("attribute count");
  event.attributes = [];
  for (let i = 0; i < nAttrs; i++) event.attributes.push({ key: r.str("attribute key"), value: r.str("attribute value") });
  if (r.at !== bytes.length) throw new VerifyError(`${bytes.length - r.at} unexpected bytes after the record at byte ${r.at}`);
  return { header, event, commitments };
}

/** Content slot names in canonical order: input, output, reasoning, then per tool arguments, result. */
export function slotNames(toolCount) {
  const names = ["input", "output", "reasoning"];
  for (let i = 0; i < toolCount; i++) names.push(`tools[${i}].arguments`, `tools[${i}].result`);
  return names;
}

function shownContent(ev) {
  const v = [ev.input, ev.output, ev.reasoning];
  for (const t of ev.tools || []) v.push(t.arguments, t.result);
  return v.map((x) => (typeof x === "string" ? x : null));
}

/** A value as the record's JSON and the signed bytes both mean it: absent,
 * null and an empty list are one thing (the JSON leaves them out), and
 * object keys compare in any order. */
function normal(x) {
  if (x === undefined || x === null) return null;
  if (Array.isArray(x)) return x.length ? x.map(normal) : null;
  if (typeof x === "object") {
    const out = {};
    for (const k of Object.keys(x).sort()) {
      const v = normal(x[k]);
      if (v !== null) out[k] = v;
    }
    return out;
  }
  return x;
}

const CONTENT = ["input", "output", "reasoning"];
const TOOL_CONTENT = ["arguments", "result"];

/**
 * Every field the record's JSON carries beside its content (which the
 * commitments check), compared with the signed bytes: header and event,
 * including any field the signed form does not have. Returns the
 * mismatches as [name, shown, signed]; the page shows nothing that is not
 * in this comparison (crates/api/console/app.js renders from the same
 * object that is checked).
 */
export function mismatchedFields(record, signed) {
  const shownEvent = { ...(record.event || {}) };
  for (const k of CONTENT) delete shownEvent[k];
  if (Array.isArray(shownEvent.tools)) {
    shownEvent.tools = shownEvent.tools.map((t) => {
      const c = { ...t };
      for (const k of TOOL_CONTENT) delete c[k];
      return c;
    });
  }
  const signedEvent = { ...signed.event, tenant_id: signed.header.tenant_id };
  const shown = { header: {}, event: shownEvent };
  const want = { header: {}, event: signedEvent };
  for (const k of ["tenant_id", "seq", "prev_hash", "sealed_at", "key_id", "source", "policy"]) {
    shown.header[k] = record[k];
    want.header[k] = signed.header[k];
  }
  const out = [];
  for (const part of ["header", "event"]) {
    const names = new Set([...Object.keys(shown[part]), ...Object.keys(want[part])]);
    for (const k of [...names].sort()) {
      const a = normal(shown[part][k]);
      const b = normal(want[part][k]);
      if (JSON.stringify(a) !== JSON.stringify(b)) out.push([k, a, b]);
    }
  }
  return out;
}

/**
 * Checks one record end to end. `record` is `GET /v1/records/{seq}`,
 * `inclusion` is `GET /v1/proofs/inclusion?seq=`, `vkeyText` the pinned
 * verifier key, `policyText` an optional c2sp.org/tlog-policy whose witness
 * quorum the checkpoint must carry. Returns `{ ok, checks: [{ name, ok, detail }], signed }`;
 * never throws on bad input (a failed check names what is wrong).
 */
export async function verifyRecord(record, inclusion, vkeyText, policyText = "") {
  const checks = [];
  const check = (name, ok, detail) => {
    checks.push({ name, ok, detail });
    return ok;
  };
  const done = (signed = null) => ({ ok: checks.length > 0 && checks.every((c) => c.ok), checks, signed });
  let vkey;
  try {
    vkey = await parseVerifierKey(vkeyText);
    check("verifier key", true, `${vkey.name}+${vkey.keyId} (pinned by you, not sent by the server)`);
  } catch (e) {
    check("verifier key", false, e.message);
    return done();
  }
  let canonical;
  let signed;
  try {
    canonical = fromBase64(record.canonical);
    signed = decodeCanonical(canonical);
    check("canonical bytes", true, `${canonical.length} bytes, format TLREC v1`);
  } catch (e) {
    check("canonical bytes", false, e.message);
    return done();
  }
  const leaf = await leafHash(canonical);
  if (!check("leaf hash", hex(leaf) === record.leaf_hash, `SHA-256(0x00 ‖ canonical) = ${hex(leaf).slice(0, 16)}…`)) {
    checks[checks.length - 1].detail += ` but the server says ${String(record.leaf_hash).slice(0, 16)}…`;
  }
  const mismatched = mismatchedFields(record, signed);
  check(
    "shown fields",
    mismatched.length === 0,
    mismatched.length === 0
      ? "every field shown beside the content (chain position, sealed-at, policy, key, and the event's ids, time, model, tokens, cost, latency, status, tools, subjects, classification, attributes) matches the signed bytes"
      : mismatched.map(([n, shown, s]) => `${n}: shown ${JSON.stringify(shown)}, signed ${JSON.stringify(s)}`).join("; "),
  );
  if (signed.header.key_id !== vkey.keyId) {
    check("record signature", false, `signed by key ${signed.header.key_id}, not the pinned ${vkey.keyId}`);
  } else {
    let ok = false;
    try {
      const sig = fromBase64(record.signature);
      ok = sig.length === 64 && (await ed25519Verify(vkey, sig, leaf));
    } catch {
      ok = false;
    }
    check("record signature", ok, ok ? "Ed25519 over the leaf hash verifies" : "Ed25519 signature does not verify");
  }
  // Content: each value shown must open its commitment; redacted or erased
  // values are reported, not failed (their commitments are still signed).
  const names = slotNames(signed.event.tools.length);
  const shown = record.content_redacted ? names.map(() => null) : shownContent(record.event || {});
  const salts = record.salts || [];
  const bad = [];
  let opened = 0;
  let withheld = 0;
  for (let i = 0; i < names.length; i++) {
    const c = signed.commitments[i];
    const v = shown[i] ?? null;
    if (v === null) {
      if (c !== null) withheld++;
      continue;
    }
    if (c === null) {
      bad.push(`${names[i]} is shown but the signed record has no content there`);
      continue;
    }
    try {
      const digest = await sha256(concat(fromHex(salts[i] || ""), utf8.encode(v)));
      if (hex(digest) === c) opened++;
      else bad.push(`${names[i]} does not match its commitment (content altered)`);
    } catch {
      bad.push(`${names[i]} has no valid salt`);
    }
  }
  check(
    "content",
    bad.length === 0,
    bad.length
      ? bad.join("; ")
      : `${opened} value(s) open their commitments` + (withheld ? `; ${withheld} not shown (redacted or erased), commitments signed` : ""),
  );
  // Inclusion in a signed checkpoint.
  try {
    if (!inclusion || inclusion.seq !== signed.header.seq) throw new VerifyError("the proof is for another record");
    const note = inclusion.checkpoint?.note;
    const text = await openNote(String(note), vkey);
    const cp = parseCheckpoint(text);
    check("checkpoint signature", true, `${cp.origin} size ${cp.size}, signed by ${vkey.name}`);
    if (!check("checkpoint origin", cp.origin.endsWith(`/${signed.header.tenant_id}`), `origin ${cp.origin}, tenant ${signed.header.tenant_id}`)) {
      return done(signed);
    }
    const proof = (inclusion.proof || []).map(fromHex);
    const root = await rootFromInclusionProof(Number(signed.header.seq), cp.size, leaf, proof);
    check(
      "inclusion proof",
      equal(root, cp.root),
      `${proof.length} hashes lead from leaf ${signed.header.seq} to ${equal(root, cp.root) ? "the" : "a different"} root of the checkpoint of ${cp.size}`,
    );
  } catch (e) {
    check("inclusion proof", false, e.message);
  }
  if (String(policyText).trim()) {
    try {
      const w = await checkWitnesses(String(inclusion?.checkpoint?.note), await parseWitnessPolicy(policyText));
      check("witness quorum", w.ok, w.ok ? w.detail : `${w.detail} (a new checkpoint may still be on its way to the witnesses: try again in a moment)`);
    } catch (e) {
      check("witness quorum", false, e.message);
    }
  }
  return done(signed);
}
