// The traceledger console: one page, hash routes, no framework and no
// build step; one ES module per page, served from the binary (crates/api/src/console.rs).
//
// Rules the console keeps (in every module):
// - The API key lives in sessionStorage only (gone when the tab closes),
//   is sent only as an Authorization header to this origin, never in a URL.
// - Trace content is attacker-controlled text: everything is rendered with
//   DOM text nodes (`h()` below), never parsed as HTML.
// - What a user sees follows the key's role: the API redacts content for
//   Viewers and refuses what a role may not do; the page hides what it
//   knows the role cannot use and reports any refusal it gets.
//
// This module: sign-in, the navigation, and the hash router.

import { h, page, view } from "./dom.js";
import { KEY, api, can, failure, session } from "./api.js";
import { sessionPage, sessionsPage } from "./sessions.js";
import { recordPage } from "./record.js";
import { anomaliesPage } from "./anomalies.js";
import { dashboardsPage } from "./dashboards.js";
import { reportsPage } from "./reports.js";
import { privacyPage } from "./privacy.js";
import { adminPage } from "./admin.js";

function signOut(message) {
  sessionStorage.removeItem(KEY);
  session.me = null;
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
          session.me = await api("/v1/whoami");
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
  if (!session.me) {
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
    h("span", { id: "whoami" }, `${session.me.role} of ${session.me.tenant}`),
    h("button", { class: "secondary", type: "button", onclick: () => signOut("Signed out.") }, "Sign out"),
  );
}

let generation = 0;

async function render() {
  const mine = ++generation;
  for (const t of session.timers) clearInterval(t);
  session.timers = [];
  const [path, qs] = (location.hash.slice(1) || "/sessions").split("?");
  const params = new URLSearchParams(qs || "");
  if (!sessionStorage.getItem(KEY)) return signIn();
  if (!session.me) {
    try {
      session.me = await api("/v1/whoami");
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
window.addEventListener("traceledger:unauthorized", (e) => signOut(e.detail));
render();
