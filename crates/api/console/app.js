// The traceledger console: one page, hash routes, no framework and no
// build step, served from the binary (crates/api/src/console.rs).
//
// Rules this file keeps:
// - The API key lives in sessionStorage only (gone when the tab closes),
//   is sent only as an Authorization header to this origin, never in a URL.
// - Trace content is attacker-controlled text: everything is rendered with
//   DOM text nodes (`h()` below), never parsed as HTML.
// - What a user sees follows the key's role: the API redacts content for
//   Viewers and refuses what a role may not do; the page hides what it
//   knows the role cannot use and reports any refusal it gets.

import { verifyRecord } from "./verify.js";

const KEY = "traceledger.key";
const VKEY = "traceledger.verifier-key";
const view = document.getElementById("view");
let me = null; // { tenant, role, key }
let timers = [];

// ---------- DOM helpers ----------

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of kids.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of kids.flat(Infinity)) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

/**
 * Starts a page: its own root element replaces the view, and the page's
 * later (async) writes go to that root, so a page the user already left
 * can never write over the one they went to.
 */
function page(title, ...kids) {
  document.title = `${title} · traceledger`;
  const h1 = h("h1", { tabindex: "-1" }, title);
  const root = h("div", { class: "page" }, h1, kids);
  view.replaceChildren(root);
  h1.focus();
  return root;
}

const fmt = {
  time: (us) => (us === null || us === undefined ? "—" : new Date(Number(us) / 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z")),
  usd: (micros) => (micros === null || micros === undefined ? "—" : `$${(Number(micros) / 1e6).toFixed(4)}`),
  n: (x) => (x === null || x === undefined ? "—" : Number(x).toLocaleString("en-US")),
  pct: (x) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)}%`),
  ms: (x) => (x === null || x === undefined ? "—" : `${Math.round(x).toLocaleString("en-US")} ms`),
};

function badge(text, cls = "") {
  return h("span", { class: `badge ${cls}` }, text);
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function table(caption, headers, rows, numeric = []) {
  return h(
    "table",
    {},
    h("caption", { class: "muted" }, caption),
    h("thead", {}, h("tr", {}, headers.map((x, i) => h("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { class: numeric.includes(i) ? "num" : null }, c))))),
  );
}

/** A horizontal bar chart as inline SVG: [{ label, value, bad }]. */
function barChart(title, items, format = fmt.n, max = null) {
  const rowH = 22;
  const labelW = 190;
  const width = 620;
  const top = Math.max(max ?? 0, ...items.map((i) => i.value), 1e-9);
  const svg = s(
    "svg",
    { class: "chart", role: "img", "aria-label": title, width, height: items.length * rowH + 8, viewBox: `0 0 ${width} ${items.length * rowH + 8}` },
    s("title", {}, title),
    items.map((it, i) => {
      const w = Math.max(1, ((width - labelW - 90) * it.value) / top);
      const y = 4 + i * rowH;
      return [
        s("text", { x: 0, y: y + 14 }, it.label.length > 28 ? `${it.label.slice(0, 27)}…` : it.label),
        s("rect", { class: it.bad ? "bar bad" : "bar", x: labelW, y: y + 3, width: w, height: rowH - 8, rx: 2 }),
        s("text", { x: labelW + w + 6, y: y + 14 }, format(it.value)),
      ];
    }),
  );
  return h("figure", { class: "chart-figure" }, svg, h("figcaption", { class: "muted" }, title));
}

/**
 * A line chart over time as inline SVG: [{ name, points: [{ x: µs, y }] }],
 * one line per series, a legend, and the y axis from 0 to the highest value.
 */
function lineChart(title, series, format = fmt.n) {
  const W = 620;
  const H = 200;
  const L = 70;
  const B = 26;
  const all = series.flatMap((s) => s.points);
  if (!all.length) return h("p", { class: "muted" }, `${title}: no data in this window.`);
  const x0 = Math.min(...all.map((p) => p.x));
  const x1 = Math.max(...all.map((p) => p.x), x0 + 1);
  const y1 = Math.max(...all.map((p) => p.y), 1e-9);
  const X = (x) => L + ((W - L - 10) * (x - x0)) / (x1 - x0);
  const Y = (y) => H - B - ((H - B - 10) * y) / y1;
  const day = (us) => fmt.time(us).slice(5, 16);
  const legendH = 16 * series.length;
  const svg = s(
    "svg",
    { class: "chart line", role: "img", "aria-label": title, width: W, height: H + legendH, viewBox: `0 0 ${W} ${H + legendH}` },
    s("title", {}, title),
    s("line", { x1: L, y1: H - B, x2: W - 10, y2: H - B, class: "axis" }),
    s("line", { x1: L, y1: 10, x2: L, y2: H - B, class: "axis" }),
    s("text", { x: L - 6, y: 14, "text-anchor": "end" }, format(y1)),
    s("text", { x: L - 6, y: H - B, "text-anchor": "end" }, format(0)),
    s("text", { x: L, y: H - 8 }, day(x0)),
    s("text", { x: W - 10, y: H - 8, "text-anchor": "end" }, day(x1)),
    series.map((se, i) => [
      s("polyline", { class: `series s${i % 6}`, fill: "none", points: se.points.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(" ") }),
      se.points.length === 1 ? s("circle", { class: `series s${i % 6}`, cx: X(se.points[0].x), cy: Y(se.points[0].y), r: 3 }) : null,
      s("rect", { class: `swatch s${i % 6}`, x: L, y: H + 4 + 16 * i, width: 10, height: 10 }),
      s("text", { x: L + 16, y: H + 13 + 16 * i }, se.name),
    ]),
  );
  return h("figure", { class: "chart-figure" }, svg, h("figcaption", { class: "muted" }, title));
}

// ---------- API ----------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path, { method = "GET", body, text } = {}) {
  const headers = { authorization: `Bearer ${sessionStorage.getItem(KEY) || ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (text !== undefined) headers["content-type"] = "text/plain; charset=utf-8";
  const payload = text !== undefined ? text : body === undefined ? undefined : JSON.stringify(body);
  const r = await fetch(path, { method, headers, body: payload, cache: "no-store" });
  const ct = r.headers.get("content-type") || "";
  const data = ct.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    const detail = (data && (data.detail || data.title)) || `HTTP ${r.status}`;
    if (r.status === 401 && path !== "/v1/whoami") {
      signOut(`Signed out: ${detail}`);
    }
    throw new ApiError(r.status, detail);
  }
  return data;
}

function failure(e) {
  const why = e instanceof ApiError && e.status === 403 ? `Your role (${me?.role}) may not see this: ${e.message}` : e.message;
  return h("p", { class: "error", role: "alert" }, why);
}

const can = {
  proofs: () => ["owner", "admin", "member", "auditor"].includes(me?.role),
  keys: () => ["owner", "admin"].includes(me?.role),
  policy: () => ["owner", "admin", "auditor"].includes(me?.role),
  reports: () => ["owner", "admin", "auditor"].includes(me?.role),
  erase: () => ["owner", "admin"].includes(me?.role),
  content: () => me?.role !== "viewer",
};

// ---------- sign-in ----------

function signOut(message) {
  sessionStorage.removeItem(KEY);
  me = null;
  location.hash = "#/signin";
  renderChrome();
  signIn(message);
}

function signIn(message) {
  const input = h("input", { id: "api-key", name: "api-key", type: "password", autocomplete: "off", required: true, spellcheck: "false", size: 60 });
  const err = h("p", { class: "error", role: "alert", id: "signin-error" }, message || "");
  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: async (ev) => {
        ev.preventDefault();
        sessionStorage.setItem(KEY, input.value.trim());
        try {
          me = await api("/v1/whoami");
          renderChrome();
          if (location.hash === "#/sessions") render();
          else location.hash = "#/sessions";
        } catch (e) {
          sessionStorage.removeItem(KEY);
          err.textContent = `Sign-in failed: ${e.message}`;
          input.focus();
        }
      },
    },
    h("label", { for: "api-key" }, "API key", input),
    h("button", { type: "submit" }, "Sign in"),
    err,
    h("p", { class: "muted" }, "The key stays in this tab's session storage and goes only to this server, in a header. Closing the tab forgets it."),
  );
  page("Sign in", form);
  input.focus();
}

function renderChrome() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!me) {
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  const links = [
    ["#/sessions", "Sessions"],
    ["#/anomalies", "Anomalies"],
    ["#/dashboards", "Dashboards"],
    can.reports() ? ["#/reports", "Reports"] : null,
    can.reports() ? ["#/privacy", "Privacy"] : null,
    can.keys() || can.policy() ? ["#/admin", "Admin"] : null,
  ].filter(Boolean);
  const current = location.hash.split("?")[0].split("/").slice(0, 2).join("/");
  nav.replaceChildren(h("ul", {}, links.map(([href, t]) => h("li", {}, h("a", { href, "aria-current": current === href ? "page" : null }, t)))));
  who.replaceChildren(
    h("span", { id: "whoami" }, `${me.role} of ${me.tenant}`),
    h("button", { class: "secondary", type: "button", onclick: () => signOut("Signed out.") }, "Sign out"),
  );
}

// ---------- sessions ----------

function toRfc3339(local) {
  return local ? new Date(local).toISOString() : "";
}

/**
 * A filter form for a list route: one labelled control per field (text,
 * a choice of [value, text] options, or a local time sent as RFC 3339),
 * filled from `params`; submitting goes to `route` with the set values.
 */
function filterForm(route, params, fields) {
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

async function sessionsPage(params) {
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

function contentBlock(label, value, redacted, erased) {
  if (value !== null && value !== undefined) return [h("h4", {}, label), h("pre", { class: "content" }, value)];
  const why = erased.includes(label) ? "erased (a DSAR, retention, or a commitment-only redaction rule; its commitment stays signed)" : redacted ? "hidden for your role (its commitment is signed)" : "none";
  return [h("h4", {}, label), h("p", { class: "muted" }, why)];
}

function recordContent(rec) {
  const e = rec.event || {};
  const red = rec.content_redacted;
  const erased = rec.content_erased || [];
  const parts = [];
  if (erased.length) parts.push(h("p", { class: "muted erased-note" }, `Content erased: ${erased.join(", ")}. The record, its commitments and its signature stay, so the chain still verifies.`));
  if (red) parts.push(h("p", { class: "muted redacted-note" }, `Content is redacted for your role (${me.role}); hashes, commitments and the signature are intact.`));
  for (const f of ["input", "output", "reasoning"]) if (e[f] !== undefined || rec.commitments?.[["input", "output", "reasoning"].indexOf(f)]) parts.push(contentBlock(f, e[f], red, erased));
  (e.tools || []).forEach((t, i) => {
    parts.push(h("h4", {}, `tool ${t.name} (${t.call_id}) `, badge(t.status, t.status)));
    parts.push(contentBlock(`tools[${i}].arguments`, t.arguments, red, erased));
    parts.push(contentBlock(`tools[${i}].result`, t.result, red, erased));
  });
  return parts;
}

function stepItem(st, piiBySeq, anomaliesBySeq) {
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

async function sessionPage(id) {
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

// ---------- record and in-browser verification ----------

async function recordPage(seq) {
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
  const out = h("div", { id: "verify-result", "aria-live": "polite" });
  const verify = async () => {
    const vk = vkeyInput.value.trim();
    if (pin.checked && vk) localStorage.setItem(VKEY, vk);
    if (!pin.checked) localStorage.removeItem(VKEY);
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
    const result = await verifyRecord(rec, inclusion, vk);
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
        h("label", { for: "pin", class: "inline" }, pin, " Pin this key in this browser (it is public, not a secret)"),
        h("button", { type: "submit", id: "verify" }, "Verify in browser"),
      ),
      out,
      can.proofs() ? null : h("p", { class: "muted" }, `Your role (${me.role}) may not read inclusion proofs: the signature and leaf checks still run.`),
    ),
    h("section", { "aria-labelledby": "content-h" }, h("h2", { id: "content-h" }, "Content"), recordContent(rec)),
  );
}

// ---------- anomalies ----------

async function anomaliesPage(params) {
  const q = new URLSearchParams();
  for (const k of ["kind", "agent", "session", "min_severity", "cursor"]) if (params.get(k)) q.set(k, params.get(k));
  q.set("limit", "50");
  const form = filterForm("#/anomalies", params, [
    { name: "kind", label: "Kind" },
    { name: "agent", label: "Agent" },
    { name: "min_severity", label: "Minimum severity", options: [["", "any"], ["low"], ["medium"], ["high"], ["critical"]] },
  ]);
  const root = page("Anomalies", form);
  let data;
  try {
    data = await api(`/v1/anomalies?${q}`);
  } catch (e) {
    return root.append(failure(e));
  }
  const counts = Object.entries(data.counts || {}).map(([k, v]) => ({ label: k.replaceAll("_", " "), value: v, bad: true }));
  const next = new URLSearchParams(params);
  const pager = h("div", { class: "pager" });
  if (data.next_cursor) {
    next.set("cursor", data.next_cursor);
    pager.append(h("a", { href: `#/anomalies?${next}` }, "Next page"));
  }
  root.append(
    counts.length ? barChart("Anomalies by kind (whole tenant)", counts) : h("p", {}, "No anomalies."),
    table(
      `${data.items.length} anomalies`,
      ["Time", "Kind", "Severity", "Agent", "Session", "Rule", "Detail", "Record"],
      data.items.map((a) => [
        fmt.time(a.timestamp),
        a.kind.replaceAll("_", " "),
        badge(a.severity, a.severity),
        a.agent_id,
        h("a", { href: `#/sessions/${encodeURIComponent(a.session_id)}` }, a.session_id),
        h("code", {}, a.rule),
        a.detail,
        h("a", { href: `#/records/${a.seq}` }, a.seq),
      ]),
    ),
    pager,
  );
}

// ---------- dashboards ----------

const WINDOWS = { "24h": 864e5, "7d": 7 * 864e5, "30d": 30 * 864e5, "365d": 365 * 864e5 };

async function dashboardsPage(params) {
  const win = WINDOWS[params.get("window")] ? params.get("window") : "30d";
  const select = h(
    "select",
    { id: "d-window", name: "window", onchange: () => (location.hash = `#/dashboards?window=${select.value}`) },
    Object.keys(WINDOWS).map((w) => h("option", { value: w, selected: w === win }, `last ${w}`)),
  );
  const health = h("section", { "aria-labelledby": "ingest-h" }, h("h2", { id: "ingest-h" }, "Ingest health"), h("p", { class: "muted" }, "…"));
  const root = page("Dashboards", h("form", { class: "filters" }, h("label", { for: "d-window" }, "Window", select)), health);
  let last = null;
  const poll = async () => {
    try {
      const r = await fetch("/v1/health", { cache: "no-store" });
      const x = await r.json();
      const now = Date.now();
      const rate = last ? ((x.sequencer.sealed - last.sealed) * 1000) / (now - last.at) : null;
      last = { sealed: x.sequencer.sealed, at: now };
      const projLag = Object.values(x.projections || {}).reduce((m, p) => Math.max(m, p.lag ?? 0), 0);
      const card = (k, v) => h("div", { class: "card" }, h("div", { class: "v" }, v), h("div", { class: "k" }, k));
      health.replaceChildren(
        health.firstChild,
        h(
          "div",
          { class: "cards" },
          card("status", x.status),
          card("events sealed", fmt.n(x.sequencer.sealed)),
          card("sealed / s (now)", rate === null ? "…" : rate.toFixed(1)),
          card("dead-lettered", fmt.n(x.sequencer.dead_lettered)),
          card("duplicates", fmt.n(x.sequencer.duplicates)),
          card("forks", fmt.n(x.sequencer.forks)),
          card("sequencer lag", fmt.n(x.lag)),
          card("read-model lag (max)", fmt.n(projLag)),
        ),
      );
    } catch (e) {
      health.replaceChildren(health.firstChild, failure(e));
    }
  };
  await poll();
  timers.push(setInterval(poll, 5000));

  const from = new Date(Date.now() - WINDOWS[win]).toISOString();
  const [avail, inv, series] = await Promise.allSettled([api(`/v1/availability?from=${from}`), api("/v1/pii/inventory"), api(`/v1/availability/series?from=${from}`)]);
  if (avail.status === "fulfilled") {
    const a = avail.value;
    const sideTable = (title, xs) =>
      table(
        title,
        ["Name", "Events", "Errors", "Success", "Uptime", "p50", "p95", "p99", "Tokens", "Spend"],
        xs.map((x) => [x.name, fmt.n(x.events), fmt.n(x.errors), fmt.pct(x.success_ratio), fmt.pct(x.uptime), fmt.ms(x.latency_ms?.p50), fmt.ms(x.latency_ms?.p95), fmt.ms(x.latency_ms?.p99), fmt.n(x.input_tokens + x.output_tokens), fmt.usd(x.cost_micros)]),
        [1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
    const breakers = Object.entries(a.breakers || {});
    root.append(
      h(
        "section",
        { "aria-labelledby": "avail-h" },
        h("h2", { id: "avail-h" }, `Availability, ${fmt.time(a.from)} → ${fmt.time(a.to)} (policy ${a.policy})`),
        h(
          "div",
          { class: "grid2" },
          barChart("Uptime per agent", a.agents.map((x) => ({ label: x.name, value: x.uptime ?? 0, bad: (x.uptime ?? 0) < 0.99 })), fmt.pct, 1),
          barChart("Error rate per provider", a.providers.map((x) => ({ label: x.name, value: 1 - (x.success_ratio ?? 1), bad: true })), fmt.pct),
        ),
        series.status === "fulfilled"
          ? (() => {
              const agents = series.value.series.filter((x) => x.scope === "agent");
              const per = (f) => agents.map((x) => ({ name: x.name, points: x.points.filter((p) => f(p) !== null).map((p) => ({ x: p.at, y: f(p) })) }));
              const m = series.value.bucket_seconds / 60;
              const bucket = m % 1440 === 0 ? `${m / 1440}-day buckets` : m % 60 === 0 ? `${m / 60}-hour buckets` : `${m}-minute buckets`;
              return h(
                "div",
                { class: "grid2" },
                lineChart(`Events per agent over time (${bucket})`, per((p) => p.events)),
                lineChart(`Error rate per agent over time (${bucket})`, per((p) => (p.events ? p.errors / p.events : 0)), fmt.pct),
                lineChart(`Latency p95 per agent over time, ms (${bucket})`, per((p) => p.latency_ms?.p95 ?? null), fmt.ms),
                lineChart(`Latency p50 per agent over time, ms (${bucket})`, per((p) => p.latency_ms?.p50 ?? null), fmt.ms),
              );
            })()
          : failure(series.reason),
        a.agents.length ? sideTable("Agents", a.agents) : h("p", {}, "No agent activity in this window."),
        a.providers.length ? sideTable("Providers", a.providers) : null,
        h("h2", {}, "Budgets and circuit breakers"),
        table(
          "Spend today against each agent's daily budget; breaker state",
          ["Agent", "Spent today", "Daily budget", "Breaker"],
          a.agents.map((x) => [x.name, fmt.usd(x.spent_day_micros), x.daily_budget_micros === null ? "none" : fmt.usd(x.daily_budget_micros), (() => {
            const b = breakers.find(([n]) => n === x.name)?.[1];
            const st = typeof b === "string" ? b : b?.state || "closed";
            return badge(st, st === "closed" ? "ok" : "error");
          })()]),
          [1, 2],
        ),
        a.limits?.length
          ? table("Usage against configured rate limits", ["Limit", "Peak share", "Warning minutes"], a.limits.map((l) => [l.scope || l.name || JSON.stringify(l.rule || ""), fmt.pct(l.peak_share), fmt.n(l.warning_minutes)]), [1, 2])
          : null,
      ),
    );
  } else root.append(failure(avail.reason));
  if (inv.status === "fulfilled") {
    const byKind = new Map();
    for (const r of inv.value.inventory) byKind.set(r.kind, (byKind.get(r.kind) || 0) + r.records);
    root.append(
      h(
        "section",
        { "aria-labelledby": "pii-h" },
        h("h2", { id: "pii-h" }, "Personal data"),
        h(
          "div",
          { class: "grid2" },
          barChart("Records with PII, by kind", [...byKind].sort((a, b) => b[1] - a[1]).map(([k, v]) => ({ label: k.replaceAll("_", " "), value: v }))),
          barChart("Records by classification", Object.entries(inv.value.classification || {}).map(([k, v]) => ({ label: k, value: v, bad: k === "restricted" }))),
        ),
        table(
          "Kinds of personal data per agent and model provider",
          ["Agent", "Kind", "Provider", "Records"],
          inv.value.inventory.map((r) => [r.agent_id, r.kind.replaceAll("_", " "), r.provider, fmt.n(r.records)]),
          [3],
        ),
      ),
    );
  } else root.append(failure(inv.reason));
}

// ---------- reports ----------

async function reportsPage() {
  const day = (d) => d.toISOString().slice(0, 10);
  const now = new Date();
  const from = h("input", { id: "r-from", name: "from", type: "date", value: day(new Date(now.getTime() - 90 * 864e5)), required: true });
  const to = h("input", { id: "r-to", name: "to", type: "date", value: day(new Date(now.getTime() + 864e5)), required: true });
  const format = h("select", { id: "r-format", name: "format" }, h("option", { value: "html" }, "HTML (printable)"), h("option", { value: "json" }, "JSON (for GRC tools)"));
  const out = h("div", { id: "report-result", "aria-live": "polite" });
  const root = page(
    "Reports",
    h("p", {}, "The SOC 2 evidence report of your tenant over a period: one section per Trust Service Criterion, every figure read from the ledger now, the chain verified, anchored to the latest signed checkpoint, and signed by the ledger's key."),
    h(
      "form",
      {
        class: "filters",
        onsubmit: async (ev) => {
          ev.preventDefault();
          out.replaceChildren(h("p", { class: "muted" }, "Verifying the chain and gathering the figures…"));
          try {
            const q = new URLSearchParams({ from: `${from.value}T00:00:00Z`, to: `${to.value}T00:00:00Z`, format: format.value });
            const r = await fetch(`/v1/reports/soc2?${q}`, { headers: { authorization: `Bearer ${sessionStorage.getItem(KEY)}` }, cache: "no-store" });
            if (!r.ok) {
              const p = await r.json().catch(() => ({}));
              throw new ApiError(r.status, p.detail || `HTTP ${r.status}`);
            }
            const blob = await r.blob();
            const note = atob(r.headers.get("x-traceledger-report-signature") || "");
            const name = `soc2-${me.tenant}-${from.value}-${to.value}.${format.value}`;
            const link = (b, n, text) => h("a", { href: URL.createObjectURL(b), download: n }, text);
            const anchor = /^anchor (.*)$/m.exec(note)?.[1] || "none";
            out.replaceChildren(
              h("div", { class: "panel" },
                facts([
                  ["Report", link(blob, name, `Download ${name}`)],
                  ["Signed note", link(new Blob([note], { type: "text/plain" }), `${name}.sig`, `Download ${name}.sig`)],
                  ["Anchored to", h("code", { id: "report-anchor" }, anchor)],
                  ["SHA-256", h("code", {}, /^sha256 (.*)$/m.exec(note)?.[1] || "")],
                ]),
                h("p", { class: "muted" }, `Check it offline: traceledger verify-report ${name} --key VERIFIER_KEY`),
              ),
            );
            await refreshPast();
          } catch (e) {
            out.replaceChildren(failure(e));
          }
        },
      },
      h("label", { for: "r-from" }, "From (UTC day)", from),
      h("label", { for: "r-to" }, "To (UTC day, exclusive)", to),
      h("label", { for: "r-format" }, "Format", format),
      h("button", { type: "submit", id: "make-report" }, "Make report"),
    ),
    out,
  );
  // Past reports: each kept by the node, byte for byte, with its note.
  const past = h("div", { id: "past-reports" }, h("p", { class: "muted" }, "…"));
  const fetchReport = async (r, cell) => {
    try {
      const resp = await fetch(`/v1/reports/${encodeURIComponent(r.id)}`, { headers: { authorization: `Bearer ${sessionStorage.getItem(KEY)}` }, cache: "no-store" });
      if (!resp.ok) throw new ApiError(resp.status, `HTTP ${resp.status}`);
      const note = atob(resp.headers.get("x-traceledger-report-signature") || "");
      const name = `${r.id}.${r.format}`;
      cell.replaceChildren(
        h("a", { href: URL.createObjectURL(await resp.blob()), download: name }, name),
        " ",
        h("a", { href: URL.createObjectURL(new Blob([note], { type: "text/plain" })), download: `${name}.sig` }, ".sig"),
      );
    } catch (e) {
      cell.replaceChildren(failure(e));
    }
  };
  const refreshPast = async () => {
    try {
      const list = await api("/v1/reports");
      past.replaceChildren(
        list.length
          ? table(
              `${list.length} report(s) kept`,
              ["Made", "Period", "Format", "Anchored to", "SHA-256", "By", "File"],
              list.map((r) => {
                const cell = h("span", {}, h("button", { type: "button", class: "secondary", "aria-label": `Fetch ${r.id}`, onclick: () => fetchReport(r, cell) }, "Fetch"));
                return [r.generated_at, `${r.from} – ${r.to}`, r.format, h("code", { class: "hash" }, r.anchor || "none"), h("code", { title: r.sha256 }, r.sha256.slice(0, 16)), h("code", {}, r.requested_by), cell];
              }),
            )
          : h("p", {}, "No report has been made for this tenant yet."),
      );
    } catch (e) {
      past.replaceChildren(failure(e));
    }
  };
  root.append(
    h("section", { "aria-labelledby": "past-h" }, h("h2", { id: "past-h" }, "Past reports"), h("p", { class: "muted" }, "Every report made is kept by the node as made, with its signed note: fetch one again and check it offline with traceledger verify-report."), past),
  );
  await refreshPast();
  return root;
}

// ---------- privacy ----------

function erasureRows(actions) {
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

async function privacyPage() {
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
      const name = `dsar-${me.tenant}-${subject.value.trim().replace(/[^A-Za-z0-9]/g, "").slice(-12)}.tar`;
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
  timers.push(setInterval(() => waitingFor && refresh(), 1000));
  return root;
}

// ---------- admin ----------

async function adminPage() {
  const root = page("Admin");
  if (can.keys()) {
    const role = h("select", { id: "k-role", name: "role" }, ["viewer", "member", "auditor", "admin", me.role === "owner" ? "owner" : null].filter(Boolean).map((r) => h("option", { value: r }, r)));
    const name = h("input", { id: "k-name", name: "name", required: true });
    const days = h("input", { id: "k-days", name: "expires_in_days", type: "number", min: 1, max: 3650, value: 90 });
    const secret = h("div", { id: "new-key", "aria-live": "polite" });
    const list = h("div", {}, h("p", { class: "muted" }, "…"));
    const refresh = async () => {
      try {
        const keys = await api("/v1/keys");
        list.replaceChildren(
          table(
            `${keys.items.length} keys of ${me.tenant}`,
            ["Key", "Name", "Role", "Tier", "Created", "Expires", "State", ""],
            keys.items.map((k) => [
              h("code", {}, k.id),
              k.name,
              k.role,
              k.tier,
              fmt.time(k.created_at),
              k.expires_at ? fmt.time(k.expires_at) : "never",
              k.revoked_at ? badge("revoked", "error") : badge("active", "ok"),
              k.revoked_at || k.id === me.key
                ? k.id === me.key
                  ? h("span", { class: "muted" }, "this session's key")
                  : ""
                : h(
                    "span",
                    {},
                    h("button", { type: "button", class: "secondary", "aria-label": `Rotate ${k.id}`, onclick: () => act(`/v1/keys/${encodeURIComponent(k.id)}/rotate`, "POST", {}, `Rotated ${k.id}`) }, "Rotate"),
                    " ",
                    h("button", { type: "button", class: "danger", "aria-label": `Revoke ${k.id}`, onclick: () => confirm(`Revoke ${k.id}? Calls with it will fail at once.`) && act(`/v1/keys/${encodeURIComponent(k.id)}`, "DELETE", undefined, `Revoked ${k.id}`) }, "Revoke"),
                  ),
            ]),
          ),
        );
      } catch (e) {
        list.replaceChildren(failure(e));
      }
    };
    const act = async (path, method, body, done) => {
      try {
        const r = await api(path, { method, body });
        secret.replaceChildren(
          r && r.secret
            ? h("div", { class: "secret" }, h("p", {}, `${done}. The new secret is shown once; store it now:`), h("code", { id: "secret" }, r.secret))
            : h("p", {}, done),
        );
        await refresh();
      } catch (e) {
        secret.replaceChildren(failure(e));
      }
    };
    root.append(
      h(
        "section",
        { "aria-labelledby": "keys-h" },
        h("h2", { id: "keys-h" }, "API keys"),
        h(
          "form",
          {
            class: "filters",
            onsubmit: (ev) => {
              ev.preventDefault();
              act("/v1/keys", "POST", { role: role.value, name: name.value.trim(), expires_in_days: Number(days.value) }, `Created a ${role.value} key`);
            },
          },
          h("label", { for: "k-name" }, "Name", name),
          h("label", { for: "k-role" }, "Role", role),
          h("label", { for: "k-days" }, "Expires in days", days),
          h("button", { type: "submit", id: "create-key" }, "Create key"),
        ),
        secret,
        list,
      ),
    );
    await refresh();
  }
  if (can.policy()) {
    const sec = h("section", { "aria-labelledby": "policy-h" }, h("h2", { id: "policy-h" }, "Policy in force"));
    root.append(sec);
    try {
      const p = await api("/v1/policy");
      sec.append(
        facts([
          ["Version", h("code", {}, p.digest)],
          ["File", p.file || "built-in defaults"],
          ["Last refused reload", p.last_error ? h("span", { class: "error" }, JSON.stringify(p.last_error)) : "none"],
        ]),
        h("details", {}, h("summary", {}, "Rules, tool boundaries, budgets, limits and alert sinks (as JSON)"), h("pre", {}, JSON.stringify(p, null, 2))),
      );
      const text = h("textarea", { id: "policy-text", name: "policy", rows: 10, cols: 80, spellcheck: "false" });
      const result = h("div", { id: "policy-result", "aria-live": "polite" });
      sec.append(
        h(
          "form",
          {
            class: "stack",
            onsubmit: async (ev) => {
              ev.preventDefault();
              try {
                const r = await api("/v1/policy/check", { method: "POST", text: text.value });
                const e = r.error;
                result.replaceChildren(
                  r.valid
                    ? h("p", { class: "verdict valid", "data-valid": "true" }, `Valid: version ${r.summary.version}; ${r.summary.validate} validation rules, ${r.summary.tools} tool boundaries, ${r.summary.budgets} budgets, ${r.summary.limits} limits, ${r.summary.alerts} alert sinks`)
                    : h("p", { class: "verdict invalid", "data-valid": "false" }, `Refused: ${e.line ? `line ${e.line}${e.column ? `, column ${e.column}` : ""}: ` : ""}${e.path ? `${e.path}: ` : ""}${e.message}`),
                );
              } catch (err) {
                result.replaceChildren(failure(err));
              }
            },
          },
          h("label", { for: "policy-text" }, "Check an edited policy before deploying it (as this node would load it; nothing is changed)", text),
          h("button", { type: "submit", id: "check-policy" }, "Check policy"),
        ),
        result,
      );
    } catch (e) {
      sec.append(failure(e));
    }
  }
}

// ---------- router ----------

let generation = 0;

async function render() {
  const mine = ++generation;
  for (const t of timers) clearInterval(t);
  timers = [];
  const [path, qs] = (location.hash.slice(1) || "/sessions").split("?");
  const params = new URLSearchParams(qs || "");
  if (!sessionStorage.getItem(KEY)) return signIn();
  if (!me) {
    try {
      me = await api("/v1/whoami");
    } catch (e) {
      sessionStorage.removeItem(KEY);
      return signIn(`Sign-in needed: ${e.message}`);
    }
  }
  renderChrome();
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "sessions" && parts[1]) await sessionPage(parts[1]);
    else if (parts[0] === "records" && parts[1]) await recordPage(parts[1]);
    else if (parts[0] === "anomalies") await anomaliesPage(params);
    else if (parts[0] === "dashboards") await dashboardsPage(params);
    else if (parts[0] === "admin") await adminPage();
    else if (parts[0] === "reports") await reportsPage();
    else if (parts[0] === "privacy") await privacyPage();
    else if (parts[0] === "signin") signIn();
    else await sessionsPage(params);
  } catch (e) {
    view.append(failure(e));
  }
  // Marks the page done loading (for tests and assistive tools), unless the
  // user has already moved on to another one.
  if (mine === generation) view.firstElementChild?.setAttribute("data-ready", location.hash || "#/");
}

window.addEventListener("hashchange", render);
render();
