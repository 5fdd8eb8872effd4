// Anomalies: the list, filtered, with their counts by kind.

import { badge, barChart, fmt, h, page, table } from "./dom.js";
import { api, failure } from "./api.js";
import { filterForm } from "./sessions.js";

export async function anomaliesPage(params) {
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
