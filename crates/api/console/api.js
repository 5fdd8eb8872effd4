// The console's calls to the API: the key from sessionStorage in a header,
// errors as ApiError, the signed-in key's role (`session.me`) and what it
// may use (`can`). A 401 signs the user out (app.js listens for it).

import { h } from "./dom.js";

export const KEY = "traceledger.key";
export const VKEY = "traceledger.verifier-key";
// The witness policy a reader pinned for "Verify in browser" (public, like the key).
export const WITNESS_POLICY = "traceledger.witness-policy";

/** The signed-in key ({ tenant, role, key }) and the current page's timers. */
export const session = { me: null, timers: [] };

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export async function api(path, { method = "GET", body, text } = {}) {
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
      window.dispatchEvent(new CustomEvent("traceledger:unauthorized", { detail: `Signed out: ${detail}` }));
    }
    throw new ApiError(r.status, detail);
  }
  return data;
}

export function failure(e) {
  const why = e instanceof ApiError && e.status === 403 ? `Your role (${session.me?.role}) may not see this: ${e.message}` : e.message;
  return h("p", { class: "error", role: "alert" }, why);
}

export const can = {
  proofs: () => ["owner", "admin", "member", "auditor"].includes(session.me?.role),
  keys: () => ["owner", "admin"].includes(session.me?.role),
  policy: () => ["owner", "admin", "auditor"].includes(session.me?.role),
  reports: () => ["owner", "admin", "auditor"].includes(session.me?.role),
  erase: () => ["owner", "admin"].includes(session.me?.role),
  content: () => session.me?.role !== "viewer",
};
