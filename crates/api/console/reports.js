// Reports: SOC 2 / AI Act evidence reports, generated and downloaded.

import { facts, h, page, s, table } from "./dom.js";
import { ApiError, KEY, api, failure, session } from "./api.js";

export async function reportsPage() {
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
            const name = `soc2-${session.me.tenant}-${from.value}-${to.value}.${format.value}`;
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
