// Dashboards: availability, cost, tokens and latency over a window.

import { badge, barChart, fmt, h, lineChart, page, table } from "./dom.js";
import { api, failure, session } from "./api.js";

export const WINDOWS = { "24h": 864e5, "7d": 7 * 864e5, "30d": 30 * 864e5, "365d": 365 * 864e5 };

export async function dashboardsPage(params) {
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
  session.timers.push(setInterval(poll, 5000));

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
