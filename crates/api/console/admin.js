// Admin: API keys and the policy file.

import { badge, facts, fmt, h, page, table } from "./dom.js";
import { api, can, failure, session } from "./api.js";

export async function adminPage() {
  const root = page("Admin");
  if (can.keys()) {
    const role = h("select", { id: "k-role", name: "role" }, ["viewer", "member", "auditor", "admin", session.me.role === "owner" ? "owner" : null].filter(Boolean).map((r) => h("option", { value: r }, r)));
    const name = h("input", { id: "k-name", name: "name", required: true });
    const days = h("input", { id: "k-days", name: "expires_in_days", type: "number", min: 1, max: 3650, value: 90 });
    const secret = h("div", { id: "new-key", "aria-live": "polite" });
    const list = h("div", {}, h("p", { class: "muted" }, "…"));
    const refresh = async () => {
      try {
        const keys = await api("/v1/keys");
        list.replaceChildren(
          table(
            `${keys.items.length} keys of ${session.me.tenant}`,
            ["Key", "Name", "Role", "Tier", "Created", "Expires", "State", ""],
            keys.items.map((k) => [
              h("code", {}, k.id),
              k.name,
              k.role,
              k.tier,
              fmt.time(k.created_at),
              k.expires_at ? fmt.time(k.expires_at) : "never",
              k.revoked_at ? badge("revoked", "error") : badge("active", "ok"),
              k.revoked_at || k.id === session.me.key
                ? k.id === session.me.key
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
