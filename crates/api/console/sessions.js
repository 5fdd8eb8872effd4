// Sessions: the filtered list, and one session's decision chain.

import { badge, facts, fmt, h, page, table } from "./dom.js";
import { api, failure, session } from "./api.js";

export function toRfc3339(local) {
  return local ? new Date(local).toISOString() : "";
}

/**
 * A filter form for a list route: one labelled control per field (text,
 * a choice of [value, text] options, or a local time sent as RFC 3339),
 * filled from `params`; submitting goes to `route` with the set values.
 */
export function filterForm(route, params, fields) {
  const controls = fields.map((f) => {
    const id = `f-${f.name}`;
    const now = params.get(f.name) || "";
    const el = f.options
      ? h("select", { id, name: f.name }, f.options.map(([v, t]) => h("option", { value: v, selected: now === v }, t || v)))
      : h("input", { id, name: f.name, type: f.time ? "datetime-local" : "text", value: f.time ? now.slice(0, 16) : now });
    return { f, el, label: h("label", { for: id }, f.label, el) };
  });
  return h(
    "form",
    {
      class: "filters",
      role: "search",
      onsubmit: (ev) => {
        ev.preventDefault();
        const n = new URLSearchParams();
        for (const { f, el } of controls) {
          const v = el.value.trim();
          if (v) n.set(f.name, f.time ? toRfc3339(v) : v);
        }
        location.hash = `${route}?${n}`;
      },
    },
    controls.map((c) => c.label),
    h("button", { type: "submit" }, "Filter"),
  );
}

export async function sessionsPage(params) {
  const q = new URLSearchParams();
  for (const k of ["agent", "status", "from", "to", "has_pii", "has_anomaly", "cursor"]) if (params.get(k)) q.set(k, params.get(k));
  q.set("limit", "50");
  const form = filterForm("#/sessions", params, [
    { name: "agent", label: "Agent" },
    { name: "status", label: "Status", options: [["", "any"], ["complete"], ["open"], ["incomplete"]] },
    { name: "from", label: "From (local time)", time: true },
    { name: "to", label: "To (local time)", time: true },
    { name: "has_pii", label: "Has PII", options: [["", "any"], ["true", "yes"], ["false", "no"]] },
    { name: "has_anomaly", label: "Has anomaly", options: [["", "any"], ["true", "yes"], ["false", "no"]] },
  ]);
  const root = page("Sessions", form, h("p", { class: "muted" }, "Loading…"));
  let data;
  try {
    data = await api(`/v1/sessions?${q}`);
  } catch (e) {
    return root.replaceChildren(root.firstChild, form, failure(e));
  }
  const rows = data.items.map(({ session: x, completeness, pii_records, anomalies }) => [
    h("a", { href: `#/sessions/${encodeURIComponent(x.session_id)}` }, x.session_id),
    x.agents.join(", "),
    `${x.recorded}${x.expected_steps ? ` / ${x.expected_steps}` : ""}`,
    badge(completeness, completeness),
    [pii_records ? badge(`PII ×${pii_records}`, "pii") : null, anomalies ? badge(`anomalies ×${anomalies}`, "anomaly") : null],
    fmt.n(x.errors),
    fmt.n(x.tool_calls),
    fmt.n((x.input_tokens || 0) + (x.output_tokens || 0)),
    fmt.usd(x.cost_micros),
    fmt.time(x.first_at),
  ]);
  const next = new URLSearchParams(params);
  const pager = h("div", { class: "pager" });
  if (params.get("cursor")) {
    const first = new URLSearchParams(params);
    first.delete("cursor");
    pager.append(h("a", { href: `#/sessions?${first}` }, "First page"));
  }
  if (data.next_cursor) {
    next.set("cursor", data.next_cursor);
    pager.append(h("a", { href: `#/sessions?${next}`, id: "next-page" }, "Next page"));
  }
  root.replaceChildren(
    root.firstChild,
    form,
    rows.length
      ? table(`${rows.length} sessions`, ["Session", "Agents", "Steps", "Status", "Flags", "Errors", "Tool calls", "Tokens", "Cost", "Started"], rows, [5, 6, 7, 8])
      : h("p", {}, "No sessions match."),
    pager,
  );
}

export function contentBlock(label, value, redacted, erased) {
  if (value !== null && value !== undefined) return [h("h4", {}, label), h("pre", { class: "content" }, value)];
  const why = erased.includes(label) ? "erased (a DSAR, retention, or a commitment-only redaction rule; its commitment stays signed)" : redacted ? "hidden for your role (its commitment is signed)" : "none";
  return [h("h4", {}, label), h("p", { class: "muted" }, why)];
}

export function recordContent(rec) {
  const e = rec.event || {};
  const red = rec.content_redacted;
  const erased = rec.content_erased || [];
  const parts = [];
  if (erased.length) parts.push(h("p", { class: "muted erased-note" }, `Content erased: ${erased.join(", ")}. The record, its commitments and its signature stay, so the chain still verifies.`));
  if (red) parts.push(h("p", { class: "muted redacted-note" }, `Content is redacted for your role (${session.me.role}); hashes, commitments and the signature are intact.`));
  for (const f of ["input", "output", "reasoning"]) if (e[f] !== undefined || rec.commitments?.[["input", "output", "reasoning"].indexOf(f)]) parts.push(contentBlock(f, e[f], red, erased));
  (e.tools || []).forEach((t, i) => {
    parts.push(h("h4", {}, `tool ${t.name} (${t.call_id}) `, badge(t.status, t.status)));
    parts.push(contentBlock(`tools[${i}].arguments`, t.arguments, red, erased));
    parts.push(contentBlock(`tools[${i}].result`, t.result, red, erased));
  });
  return parts;
}

export function stepItem(st, piiBySeq, anomaliesBySeq) {
  const pii = piiBySeq.get(st.seq) || [];
  const anomalies = anomaliesBySeq.get(st.seq) || [];
  const details = h("details", {}, h("summary", {}, "Content and tool calls"), h("div", { class: "muted" }, "…"));
  details.addEventListener("toggle", async () => {
    if (!details.open || details.dataset.loaded) return;
    details.dataset.loaded = "1";
    try {
      const rec = await api(`/v1/records/${st.seq}`);
      details.replaceChildren(details.firstChild, ...recordContent(rec).flat(Infinity));
    } catch (e) {
      details.replaceChildren(details.firstChild, failure(e));
    }
  });
  return h(
    "li",
    { class: `step step-${st.status}`, "data-seq": st.seq, "data-step": st.step_index },
    h(
      "div",
      { class: "step-head" },
      h("strong", {}, `#${st.step_index}`),
      badge(st.kind, "kind"),
      st.status !== "ok" ? badge(st.status, "error") : null,
      h("a", { href: `#/records/${st.seq}` }, `record ${st.seq}`),
      pii.map((f) => badge(`PII ${f.kind} in ${f.field}`, "pii")),
      anomalies.map((a) => badge(`${a.kind.replaceAll("_", " ")} (${a.severity})`, "anomaly")),
    ),
    h(
      "div",
      { class: "step-meta" },
      [
        fmt.time(st.timestamp),
        st.agent_id,
        st.model,
        st.tools.length ? `tools: ${st.tools.map((t) => `${t.name} (${t.status})`).join(", ")}` : null,
        st.input_tokens !== null ? `${fmt.n(st.input_tokens)} in / ${fmt.n(st.output_tokens)} out tokens` : null,
        st.cost_micros !== null ? fmt.usd(st.cost_micros) : null,
        st.latency_ms !== null ? fmt.ms(st.latency_ms) : null,
        st.message,
      ]
        .filter(Boolean)
        .join(" · "),
    ),
    st.has_content.length ? details : null,
  );
}

export async function sessionPage(id) {
  const root = page(`Session ${id}`, h("p", { class: "muted" }, "Loading…"));
  let chain;
  let anomalies = [];
  try {
    chain = await api(`/v1/sessions/${encodeURIComponent(id)}`);
    let cursor = null;
    do {
      const a = await api(`/v1/anomalies?session=${encodeURIComponent(id)}&limit=500${cursor ? `&cursor=${cursor}` : ""}`);
      anomalies = anomalies.concat(a.items);
      cursor = a.next_cursor;
    } while (cursor);
  } catch (e) {
    return root.replaceChildren(root.firstChild, failure(e));
  }
  const x = chain.summary;
  const piiBySeq = new Map(chain.pii.map((r) => [r.seq, r.findings]));
  const anomaliesBySeq = new Map();
  for (const a of anomalies) anomaliesBySeq.set(a.seq, [...(anomaliesBySeq.get(a.seq) || []), a]);
  // Steps in order, with the missing indexes shown where they belong.
  const items = chain.steps.map((st) => ({ at: st.step_index, el: () => stepItem(st, piiBySeq, anomaliesBySeq) }));
  for (const m of chain.missing_steps) items.push({ at: m, el: () => h("li", { class: "gap", "data-step": m }, `step #${m} missing: no record was sealed for it`) });
  items.sort((a, b) => a.at - b.at);
  const list = h("ol", { class: "timeline", "aria-label": "Decision chain" }, items.map((i) => i.el()));
  root.replaceChildren(
    root.firstChild,
    h(
      "div",
      { class: "panel" },
      facts([
        ["Status", badge(chain.completeness, chain.completeness)],
        ["Agents", x.agents.join(", ")],
        ["Models", x.models.join(", ") || "—"],
        ["Steps", `${x.recorded} recorded${x.expected_steps ? ` of ${x.expected_steps} expected` : ""}${chain.missing_count ? `, ${chain.missing_count} missing` : ""}`],
        ["Errors", fmt.n(x.errors)],
        ["Tokens", `${fmt.n(x.input_tokens)} in / ${fmt.n(x.output_tokens)} out`],
        ["Cost", fmt.usd(x.cost_micros)],
        ["Time", `${fmt.time(x.first_at)} → ${fmt.time(x.last_at)}`],
        ["Records", `seq ${x.first_seq} … ${x.last_seq}`],
        ["Flags", [chain.pii.length ? badge(`${chain.pii.length} records with PII`, "pii") : null, anomalies.length ? badge(`${anomalies.length} anomalies`, "anomaly") : null, !chain.pii.length && !anomalies.length ? "none" : null]],
      ]),
    ),
    h("h2", {}, "Decision chain"),
    list,
  );
}
