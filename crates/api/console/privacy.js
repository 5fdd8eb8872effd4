// Privacy: DSAR exports and erasures, with their progress.

import { badge, facts, h, page, s, table } from "./dom.js";
import { ApiError, KEY, api, can, failure, session } from "./api.js";

export function erasureRows(actions) {
  return actions.map((a) => [
    a.seq,
    a.sealed_at,
    badge(a.action, a.action === "dsar_erase" ? "medium" : ""),
    a.subject ? h("code", {}, a.subject) : a.cutoff ? `before ${a.cutoff}` : "—",
    a.erasing,
    a.held ? `${a.held} until ${a.held_until || "?"}` : "0",
    h("code", {}, a.requested_by),
    h("code", { class: "erasure-id" }, a.erasure_id),
  ]);
}

export async function privacyPage() {
  const root = page(
    "Privacy",
    h("p", {}, "Data-subject requests and retention. Erasure removes content (input, output, reasoning, tool arguments and results) and keeps every record, its commitments and its signature, so the chain still verifies. Each erasure is itself sealed in the ledger (chain _privacy.<tenant>)."),
  );
  // Retention rule.
  const ret = h("section", { class: "panel", "aria-labelledby": "ret-h" }, h("h2", { id: "ret-h" }, "Retention"));
  root.append(ret);
  try {
    const r = await api("/v1/retention");
    ret.append(
      r.rule
        ? facts([
            ["Minimum", `${r.rule.min_days} days: nothing younger is erased, a DSAR included (it is held)`],
            ["Maximum", r.rule.max_days ? `${r.rule.max_days} days: the retention job erases older content daily` : "none: content is kept"],
            ["Erasable now", `content sealed before ${r.erasable_before}`],
            ["Next cutoff", r.retention_cutoff || "—"],
            ["Policy", h("code", {}, r.policy_version)],
          ])
        : h("p", { id: "no-retention" }, "No retention rule applies to this tenant: content is kept, and a DSAR erasure is not held. Set [[retention]] min_days / max_days in the policy file."),
    );
  } catch (e) {
    ret.append(failure(e));
  }
  // Sealed erasures, refreshed while one is on its way.
  const list = h("div", { id: "erasures" }, h("p", { class: "muted" }, "…"));
  let waitingFor = null;
  const refresh = async () => {
    try {
      const actions = await api("/v1/privacy/actions");
      list.replaceChildren(
        actions.length
          ? table(`${actions.length} erasures sealed`, ["Seq", "Sealed", "Action", "Subject / cutoff", "Records erased", "Held", "By", "Erasure id"], erasureRows(actions), [0, 4])
          : h("p", {}, "No erasure has been sealed for this tenant."),
      );
      if (waitingFor && actions.some((a) => a.erasure_id === waitingFor)) waitingFor = null;
    } catch (e) {
      list.replaceChildren(failure(e));
    }
  };
  // DSAR: export or erase a subject's records.
  const subject = h("input", { id: "dsar-subject", name: "subject", required: true, placeholder: "hmac:…", size: 70 });
  const out = h("div", { id: "dsar-result", "aria-live": "polite" });
  const exportBundle = async () => {
    out.replaceChildren(h("p", { class: "muted" }, "Writing the bundle…"));
    try {
      const r = await fetch(`/v1/dsar/${encodeURIComponent(subject.value.trim())}`, { headers: { authorization: `Bearer ${sessionStorage.getItem(KEY)}` }, cache: "no-store" });
      if (!r.ok) {
        const p = await r.json().catch(() => ({}));
        throw new ApiError(r.status, p.detail || `HTTP ${r.status}`);
      }
      const n = r.headers.get("x-traceledger-subject-records") || "0";
      const name = `dsar-${session.me.tenant}-${subject.value.trim().replace(/[^A-Za-z0-9]/g, "").slice(-12)}.tar`;
      out.replaceChildren(
        h("p", { id: "dsar-export" }, `${n} record(s) about the subject, with content; the rest of the chain without. `, h("a", { href: URL.createObjectURL(await r.blob()), download: name }, `Download ${name}`), ". Check it offline: tar xf, then traceledger verify DIR --key VERIFIER_KEY."),
      );
    } catch (e) {
      out.replaceChildren(failure(e));
    }
  };
  const erase = async () => {
    const who = subject.value.trim();
    if (!who || !confirm(`Erase the content of every record about ${who}? This cannot be undone; the records and their commitments stay.`)) return;
    try {
      const o = await api(`/v1/dsar/${encodeURIComponent(who)}/erase`, { method: "POST" });
      out.replaceChildren(
        h("div", { class: "panel", id: "erasure-result" },
          facts([
            ["Erasure", h("code", {}, o.erasure_id)],
            ["Erasing", `${o.erasing} record(s) (${o.seqs || "none"})`],
            ["Already erased", o.already_erased],
            ["Held", o.held ? `${o.held} record(s) inside the retention minimum, until ${o.held_until}` : "none"],
            ["Recorded in", h("code", {}, o.recorded_in)],
          ]),
          h("p", { class: "muted" }, "The content goes once the sequencer seals the erasure; it then appears below."),
        ),
      );
      waitingFor = o.erasure_id;
    } catch (e) {
      out.replaceChildren(failure(e));
    }
  };
  root.append(
    h(
      "section",
      { "aria-labelledby": "dsar-h" },
      h("h2", { id: "dsar-h" }, "Data-subject requests"),
      h("p", { class: "muted" }, "Agents record a person as subject id hmac:… (HMAC-SHA256 of the customer id under the tenant's secret; traceledger dsar subject-id derives it)."),
      h(
        "form",
        { class: "filters", onsubmit: (ev) => (ev.preventDefault(), exportBundle()) },
        h("label", { for: "dsar-subject" }, "Subject id", subject),
        h("button", { type: "submit", id: "dsar-export-button" }, "Export bundle"),
        can.erase() ? h("button", { type: "button", class: "danger", id: "dsar-erase-button", onclick: erase }, "Erase content") : null,
      ),
      out,
    ),
  );
  const actions = h("section", { "aria-labelledby": "act-h" }, h("h2", { id: "act-h" }, "Erasures sealed"), list);
  if (can.erase()) {
    actions.append(
      h("button", {
        type: "button",
        class: "secondary",
        id: "retention-run",
        onclick: async () => {
          try {
            const o = await api("/v1/retention/run", { method: "POST" });
            out.replaceChildren(h("p", { id: "retention-result" }, `Retention run ${o.erasure_id}: erasing ${o.erasing} record(s) sealed before ${o.cutoff}.`));
            waitingFor = o.erasure_id;
          } catch (e) {
            out.replaceChildren(failure(e));
          }
        },
      }, "Run retention now"),
    );
  }
  root.append(actions);
  await refresh();
  session.timers.push(setInterval(() => waitingFor && refresh(), 1000));
  return root;
}
