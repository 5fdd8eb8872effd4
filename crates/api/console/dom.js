// DOM helpers of the console: elements built from text nodes only (trace
// content is attacker-controlled and never parsed as HTML), SVG charts,
// and the page root every page writes to.

export const view = document.getElementById("view");

export function h(tag, attrs = {}, ...kids) {
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

export const SVG = "http://www.w3.org/2000/svg";
export function s(tag, attrs = {}, ...kids) {
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
export function page(title, ...kids) {
  document.title = `${title} · traceledger`;
  const h1 = h("h1", { tabindex: "-1" }, title);
  const root = h("div", { class: "page" }, h1, kids);
  view.replaceChildren(root);
  h1.focus();
  return root;
}

export const fmt = {
  time: (us) => (us === null || us === undefined ? "—" : new Date(Number(us) / 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z")),
  usd: (micros) => (micros === null || micros === undefined ? "—" : `$${(Number(micros) / 1e6).toFixed(4)}`),
  n: (x) => (x === null || x === undefined ? "—" : Number(x).toLocaleString("en-US")),
  pct: (x) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)}%`),
  ms: (x) => (x === null || x === undefined ? "—" : `${Math.round(x).toLocaleString("en-US")} ms`),
};

export function badge(text, cls = "") {
  return h("span", { class: `badge ${cls}` }, text);
}

export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function table(caption, headers, rows, numeric = []) {
  return h(
    "table",
    {},
    h("caption", { class: "muted" }, caption),
    h("thead", {}, h("tr", {}, headers.map((x, i) => h("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { class: numeric.includes(i) ? "num" : null }, c))))),
  );
}

/** A horizontal bar chart as inline SVG: [{ label, value, bad }]. */
export function barChart(title, items, format = fmt.n, max = null) {
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
export function lineChart(title, series, format = fmt.n) {
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
