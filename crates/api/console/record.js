// One record, and its verification in the browser against a pinned
// verifier key (verify.js).

import { verifyRecord } from "./verify.js";
import { badge, facts, fmt, h, page } from "./dom.js";
import { VKEY, WITNESS_POLICY, api, can, failure, session } from "./api.js";
import { recordContent } from "./sessions.js";

export async function recordPage(seq) {
  const root = page(`Record ${seq}`, h("p", { class: "muted" }, "Loading…"));
  let rec;
  try {
    rec = await api(`/v1/records/${encodeURIComponent(seq)}`);
  } catch (e) {
    return root.replaceChildren(root.firstChild, failure(e));
  }
  const e = rec.event || {};
  const vkeyInput = h("input", { id: "vkey", name: "vkey", size: 80, spellcheck: "false", autocomplete: "off", value: localStorage.getItem(VKEY) || "" });
  const pin = h("input", { id: "pin", type: "checkbox", checked: !!localStorage.getItem(VKEY) });
  const policyInput = h("textarea", { id: "witness-policy", name: "witness-policy", rows: 4, cols: 80, spellcheck: "false", placeholder: "witness W1 witness.example/w1+…+B… \nquorum W1" }, localStorage.getItem(WITNESS_POLICY) || "");
  const out = h("div", { id: "verify-result", "aria-live": "polite" });
  const verify = async () => {
    const vk = vkeyInput.value.trim();
    const policy = policyInput.value;
    if (pin.checked && vk) localStorage.setItem(VKEY, vk);
    if (pin.checked && policy.trim()) localStorage.setItem(WITNESS_POLICY, policy);
    if (!pin.checked) localStorage.removeItem(VKEY), localStorage.removeItem(WITNESS_POLICY);
    out.replaceChildren(h("p", { class: "muted" }, "Checking in this browser…"));
    let inclusion = null;
    let proofError = null;
    try {
      // The record checked is the one this page shows (a server could
      // serve a second, honest copy to the check alone); the proof is
      // fetched now, against the newest checkpoint.
      inclusion = await api(`/v1/proofs/inclusion?seq=${encodeURIComponent(seq)}`);
    } catch (err) {
      proofError = err;
    }
    const result = await verifyRecord(rec, inclusion, vk, policy);
    if (proofError) result.checks.push({ name: "inclusion proof", ok: false, detail: `could not fetch the proof: ${proofError.message}` }), (result.ok = false);
    const verdict = result.ok
      ? "VALID: checked in this browser against the pinned key"
      : `INVALID: ${result.checks.filter((c) => !c.ok).map((c) => c.name).join(", ")} failed`;
    out.replaceChildren(
      h("div", { class: `verdict ${result.ok ? "valid" : "invalid"}`, id: "verdict", "data-verdict": result.ok ? "valid" : "invalid", role: "status" }, verdict),
      h("ul", { class: "checks" }, result.checks.map((c) => h("li", { class: c.ok ? "ok" : "bad" }, h("strong", {}, c.name), ": ", c.detail))),
    );
  };
  root.replaceChildren(
    root.firstChild,
    h(
      "div",
      { class: "grid2" },
      h(
        "section",
        { class: "panel", "aria-labelledby": "ev-h" },
        h("h2", { id: "ev-h" }, "Event"),
        facts([
          ["Kind", e.kind],
          ["Agent", e.agent_id],
          ["Session", h("a", { href: `#/sessions/${encodeURIComponent(e.session_id)}` }, e.session_id)],
          ["Step", e.step_index],
          ["Event id", h("code", {}, e.event_id)],
          ["Parent", e.parent_event_id ? h("code", {}, e.parent_event_id) : "—"],
          ["Time", e.timestamp],
          ["Model", e.model ? `${e.model.provider}/${e.model.name}${e.model.version ? `@${e.model.version}` : ""}` : "—"],
          ["Tokens", e.tokens ? `${fmt.n(e.tokens.input)} in / ${fmt.n(e.tokens.output)} out / ${fmt.n(e.tokens.cached)} cached` : "—"],
          ["Cost", fmt.usd(e.cost_micros)],
          ["Latency", fmt.ms(e.latency_ms)],
          ["Status", [badge(e.status?.code || "—", e.status?.code), e.status?.message || ""]],
          ["Classification", e.data_classification || "—"],
        ]),
      ),
      h(
        "section",
        { class: "panel", "aria-labelledby": "chain-h" },
        h("h2", { id: "chain-h" }, "Chain position"),
        facts([
          ["Tenant", rec.tenant_id],
          ["Seq", rec.seq],
          ["Sealed at", rec.sealed_at],
          ["Policy", rec.policy],
          ["Previous", h("code", { class: "hash" }, rec.prev_hash)],
          ["Leaf hash", h("code", { class: "hash" }, rec.leaf_hash)],
          ["Chain hash", h("code", { class: "hash" }, rec.chain_hash)],
          ["Signing key", h("code", {}, rec.key_id)],
          ["Signature", h("code", { class: "hash" }, rec.signature)],
          ["Source", rec.source ? `${rec.source.topic}[${rec.source.partition}] @ ${rec.source.offset}` : "—"],
        ]),
      ),
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "verify-h" },
      h("h2", { id: "verify-h" }, "Verify in browser"),
      h(
        "p",
        { class: "muted" },
        "Your browser recomputes the leaf hash from the canonical bytes, checks the Ed25519 signature and the checkpoint's signed note with WebCrypto, folds the inclusion proof up to the checkpoint root, and opens each shown value against its signed commitment. The server is not asked for the answer; paste the ledger's verifier key from a source you trust (e.g. DATA/keys/ledger.pub).",
      ),
      h(
        "form",
        {
          class: "stack",
          onsubmit: (ev) => {
            ev.preventDefault();
            verify();
          },
        },
        h("label", { for: "vkey" }, "Verifier key (name+keyid+key)", vkeyInput),
        h("label", { for: "witness-policy" }, "Witness policy (optional, c2sp.org/tlog-policy): the checkpoint must carry its quorum of cosignatures", policyInput),
        h("label", { for: "pin", class: "inline" }, pin, " Pin this key and policy in this browser (they are public, not secrets)"),
        h("button", { type: "submit", id: "verify" }, "Verify in browser"),
      ),
      out,
      can.proofs() ? proofDownload(seq) : h("p", { class: "muted" }, `Your role (${session.me.role}) may not read inclusion proofs: the signature and leaf checks still run.`),
    ),
    h("section", { "aria-labelledby": "content-h" }, h("h2", { id: "content-h" }, "Content"), recordContent(rec)),
  );
}

// The record's portable proof (c2sp.org/tlog-proof): the record, its audit
// path and the signed checkpoint in one file, checked offline with
// `traceledger verify-proof FILE --key VKEY`.
function proofDownload(seq) {
  const out = h("div", { id: "proof-download", "aria-live": "polite" });
  const fetchProof = async () => {
    out.replaceChildren(h("p", { class: "muted" }, "Fetching the proof…"));
    try {
      const text = await api(`/v1/proofs/record?seq=${encodeURIComponent(seq)}`);
      const name = `${session.me.tenant}-${seq}.tlog-proof`;
      const href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      out.replaceChildren(
        h("p", {}, h("a", { href, download: name, id: "proof-link" }, `Download ${name}`), ` — check it anywhere with: traceledger verify-proof ${name} --key VERIFIER_KEY`),
      );
    } catch (e) {
      out.replaceChildren(failure(e));
    }
  };
  return h("div", { class: "stack" }, h("button", { type: "button", id: "proof", onclick: fetchProof }, "Portable proof (.tlog-proof)"), out);
}
