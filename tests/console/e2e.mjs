// End-to-end run of the web console in Debian's headless Chromium, driven
// by playwright-core. Started by crates/cli/tests/console.rs, which runs a
// real `traceledger up` with a demo fleet and passes, in the environment:
//   TL_URL         the node's address (http://127.0.0.1:PORT)
//   TL_PHASE       "clean" (everything must verify) or "tampered" (one
//                  record's content was edited in the store: it must fail)
//   TL_AUDITOR, TL_VIEWER, TL_OWNER   API keys of the demo tenant
//   TL_VKEY        the ledger's verifier key
//   TL_SESSION     a demo session id; TL_SEQ a record of it with content
//   TL_LONG        a session of 1,000 steps
//   TL_ARTIFACTS   where screenshots go
// Exits non-zero with the first failed expectation; prints one line per
// step and the 1,000-step render time (a figure, not a pass/fail limit).

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { screenshot } from "./screenshot.mjs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through crates/cli/tests/console.rs)`);
  return v;
};
const URL_ = env("TL_URL");
const PHASE = env("TL_PHASE");
const ART = env("TL_ARTIFACTS");
mkdirSync(ART, { recursive: true });
const step = (m) => console.log(`console e2e [${PHASE}]: ${m}`);

async function shot(page, name) {
  step(await screenshot(page, join(ART, `${PHASE}-${name}.png`)));
}

/** Goes to a console route and waits until that page has loaded. */
async function open(page, hash) {
  await page.goto(`${URL_}/${hash}`);
  await page.locator(`.page[data-ready="${hash}"]`).waitFor();
}

async function signIn(page, key) {
  await page.goto(`${URL_}/#/signin`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  // Keyboard only: the key field has focus on arrival; Enter submits.
  await page.keyboard.type(key);
  await page.keyboard.press("Enter");
  await page.locator("#whoami").waitFor();
}

async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "signing out forgets the key");
}

/** Every form control on the page has a label a screen reader announces. */
async function labelled(page, where) {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea")].filter((e) => e.labels.length === 0).map((e) => e.id || e.name || e.outerHTML.slice(0, 60)),
  );
  assert.deepEqual(unlabelled, [], `controls without a label on ${where}`);
}

async function verifyRecord(page, seq) {
  await page.goto(`${URL_}/#/records/${seq}`);
  await page.getByRole("heading", { name: `Record ${seq}` }).waitFor();
  await labelled(page, "the record page");
  const vkey = page.getByLabel("Verifier key (name+keyid+key)");
  await vkey.fill(process.env.TL_VKEY);
  await vkey.press("Enter");
  const verdict = page.locator("#verdict");
  await verdict.waitFor();
  return { verdict: await verdict.getAttribute("data-verdict"), text: await page.locator("#verify-result").innerText() };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const errors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  // Refusals the run provokes on purpose (a wrong key, a role without the
  // permission, a subject nobody recorded) are API answers, not page errors.
  page.on("console", (m) => m.type() === "error" && !/status of 40[134]/.test(m.text()) && errors.push(m.text()));

  if (PHASE === "clean") {
    // Sign-in refuses a wrong key with a message, and keeps nothing.
    await page.goto(URL_);
    await page.getByLabel("API key").fill("tlk_test_not-a-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#signin-error", { hasText: "Sign-in failed" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await labelled(page, "sign-in");
    await shot(page, "signin");

    // Auditor: sessions list, a demo session's decision chain, a record.
    await signIn(page, env("TL_AUDITOR"));
    assert.match(await page.locator("#whoami").innerText(), /^auditor of /);
    await page.getByRole("heading", { name: "Sessions" }).waitFor();
    await page.locator("table tbody tr").first().waitFor();
    assert.ok(!page.url().includes(env("TL_AUDITOR")), "the key never appears in a URL");
    await labelled(page, "the sessions list");
    await shot(page, "sessions");
    // Filters: one agent's complete sessions (the 1,000-step one).
    await page.getByLabel("Agent").fill("long-runner");
    await page.getByLabel("Status").selectOption("complete");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/agent=long-runner&status=complete/);
    await page.locator("table caption", { hasText: "1 sessions" }).waitFor();
    assert.deepEqual(await page.locator("table tbody tr td:nth-child(1)").allInnerTexts(), [env("TL_LONG")]);
    assert.deepEqual(await page.locator("table tbody tr td:nth-child(4)").allInnerTexts(), ["complete"]);

    // Has PII: every row listed carries the PII flag; "no" lists none that do.
    await open(page, "#/sessions");
    await page.getByLabel("Has PII").selectOption("true");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.locator('.page[data-ready="#/sessions?has_pii=true"]').waitFor();
    assert.ok((await page.locator("table tbody tr").count()) > 0, "the demo fleet has sessions with PII");
    const flagged = await page.locator("table tbody tr td:nth-child(5)").allInnerTexts();
    assert.ok(flagged.every((f) => /PII ×\d+/.test(f)), `has_pii=true: ${flagged}`);
    await open(page, "#/sessions?has_pii=false");
    const unflagged = await page.locator("table tbody tr td:nth-child(5)").allInnerTexts();
    assert.ok(unflagged.every((f) => !/PII/.test(f)), `has_pii=false: ${unflagged}`);

    // Keyboard only: Tab to the first session link, Enter opens it.
    await open(page, "#/sessions");
    let onLink = false;
    for (let i = 0; i < 40 && !onLink; i++) {
      await page.keyboard.press("Tab");
      onLink = await page.evaluate(() => document.activeElement?.matches("table tbody a") ?? false);
    }
    assert.ok(onLink, "a session link is reachable with Tab");
    const target = await page.evaluate(() => document.activeElement.textContent);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: `Session ${target}` }).waitFor();

    const session = env("TL_SESSION");
    await page.goto(`${URL_}/#/sessions/${encodeURIComponent(session)}`);
    await page.getByRole("heading", { name: `Session ${session}` }).waitFor();
    const steps = page.locator("ol.timeline > li.step");
    await steps.first().waitFor();
    assert.ok((await steps.count()) >= 2, "the chain shows its steps");
    // Content loads on demand inside a step, for a role that may read it.
    const withContent = page.locator(`li.step[data-seq="${env("TL_SEQ")}"] details`);
    await withContent.locator("summary").click();
    await withContent.locator("pre.content").first().waitFor();
    await shot(page, "session");

    const clean = await verifyRecord(page, env("TL_SEQ"));
    assert.equal(clean.verdict, "valid", clean.text);
    assert.match(clean.text, /inclusion proof/);
    assert.match(clean.text, /value\(s\) open their commitments/);
    await shot(page, "record-verified");
    // A server that alters what it shows but serves the signed bytes as they
    // are (issue 19, finding 9): each field the page shows, altered alone in
    // the answer to GET /v1/records/{seq}, fails the check by name.
    const alter = {
      timestamp: (r) => (r.event.timestamp = r.event.timestamp.replace(/^\d{4}/, (y) => String(Number(y) - 1))),
      model: (r) => (r.event.model = { provider: "edited", name: "model" }),
      tokens: (r) => (r.event.tokens = { input: 1, output: 2, cached: 3 }),
      parent_event_id: (r) => (r.event.parent_event_id = "00000000-0000-4000-8000-000000000007"),
      status: (r) => (r.event.status = { ...r.event.status, message: "approved by an edit" }),
      data_classification: (r) => (r.event.data_classification = r.event.data_classification === "public" ? "restricted" : "public"),
      sealed_at: (r) => (r.sealed_at = r.sealed_at.replace(/^\d{4}/, (y) => String(Number(y) - 1))),
      policy: (r) => (r.policy = "lenient/v9"),
    };
    for (const [field, edit] of Object.entries(alter)) {
      const pattern = `**/v1/records/${env("TL_SEQ")}`;
      await page.route(pattern, async (route) => {
        const response = await route.fetch();
        const body = await response.json();
        edit(body);
        await route.fulfill({ response, json: body });
      });
      // From another page, so the record page renders anew (a hash that
      // does not change re-renders nothing).
      await open(page, "#/sessions");
      const forged = await verifyRecord(page, env("TL_SEQ"));
      await page.unroute(pattern);
      assert.equal(forged.verdict, "invalid", `${field} altered: ${forged.text}`);
      assert.match(forged.text, new RegExp(`\\b${field}: shown `), `the altered ${field} is named`);
    }
    await open(page, "#/sessions");
    const again = await verifyRecord(page, env("TL_SEQ"));
    assert.equal(again.verdict, "valid", again.text);
    // A wrong verifier key fails, in the browser, whatever the server says.
    await page.getByLabel("Verifier key (name+keyid+key)").fill("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
    await page.getByRole("button", { name: "Verify in browser" }).click();
    await page.locator('#verdict[data-verdict="invalid"]').waitFor();
    // A witness policy pinned in the browser is enforced there: this node
    // has no witness, so a policy asking for one fails the check by name,
    // with the right key; an empty policy checks nothing more.
    await page.getByLabel("Verifier key (name+keyid+key)").fill(process.env.TL_VKEY);
    const policyBox = page.getByLabel(/Witness policy/);
    await policyBox.fill("witness W1 witness.example/w1+eaa4a3c7+BHWtGWTAIVfsGedzi/SwCsz3IPAT59g+9yzU28n+joe6\nquorum W1\n");
    await page.getByRole("button", { name: "Verify in browser" }).click();
    await page.locator('#verdict[data-verdict="invalid"]').waitFor();
    const unwitnessed = await page.locator("#verify-result").innerText();
    assert.match(unwitnessed, /witness quorum: lacks the witness quorum/, unwitnessed);
    assert.match(unwitnessed, /INVALID: witness quorum failed/, unwitnessed);
    await policyBox.fill("");
    await page.evaluate(() => localStorage.removeItem("traceledger.witness-policy"));
    await page.getByRole("button", { name: "Verify in browser" }).click();
    await page.locator('#verdict[data-verdict="valid"]').waitFor();
    // The record's portable proof downloads as a c2sp.org/tlog-proof file.
    await page.getByRole("button", { name: "Portable proof (.tlog-proof)" }).click();
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#proof-link").click()]);
    assert.match(download.suggestedFilename(), new RegExp(`-${env("TL_SEQ")}\\.tlog-proof$`));
    const proof = await readFile(await download.path(), "utf8");
    assert.ok(proof.startsWith("c2sp.org/tlog-proof@v1\nextra "), proof.slice(0, 80));
    assert.match(proof, new RegExp(`\nindex ${env("TL_SEQ")}\n`));

    await page.goto(`${URL_}/#/dashboards`);
    await page.getByRole("heading", { name: "Dashboards" }).waitFor();
    await page.locator("#pii-h").waitFor();
    assert.ok((await page.locator("svg.chart").count()) >= 4, "uptime, error rate, PII by kind and by classification charts");
    for (const chart of await page.locator("svg.chart:not(.line)").all()) {
      const label = await chart.getAttribute("aria-label");
      assert.ok((await chart.locator("rect.bar").count()) > 0, `the chart "${label}" draws bars`);
    }
    // Over time: events, error rate and latency per agent, one line each.
    const lines = page.locator("svg.chart.line");
    assert.equal(await lines.count(), 4, "four charts over time");
    for (const chart of await lines.all()) {
      const label = await chart.getAttribute("aria-label");
      assert.ok((await chart.locator("polyline.series, circle.series").count()) > 0, `the chart "${label}" draws lines`);
    }
    await page.locator(".card").first().waitFor();
    await shot(page, "dashboards");

    await page.goto(`${URL_}/#/anomalies`);
    await page.getByRole("heading", { name: "Anomalies" }).waitFor();
    await page.locator("svg.chart").waitFor();
    await shot(page, "anomalies");

    // Reports: an Auditor makes the signed SOC 2 report of the period.
    await open(page, "#/reports");
    await page.getByLabel("From (UTC day)").fill("2026-01-01");
    await page.getByLabel("Format").selectOption("html");
    await page.getByRole("button", { name: "Make report" }).click();
    await page.locator("#report-anchor").waitFor({ timeout: 60_000 });
    assert.match(await page.locator("#report-anchor").innerText(), /\/\S+ \d+ [0-9a-f]{64}/);
    assert.equal(await page.getByRole("link", { name: /^Download soc2-.*\.html\.sig$/ }).count(), 1);
    // It is kept: listed under past reports, and fetched again from there.
    const kept = page.locator("#past-reports tbody tr").first();
    await kept.waitFor();
    assert.equal(await kept.locator("td").nth(2).innerText(), "html");
    await kept.getByRole("button", { name: /^Fetch soc2-/ }).click();
    await kept.getByRole("link", { name: /^soc2-.*\.html$/ }).waitFor();
    await shot(page, "reports");

    // An Auditor reads the policy but cannot create keys.
    await page.goto(`${URL_}/#/admin`);
    await page.locator("#policy-h").waitFor();
    assert.equal(await page.getByRole("button", { name: "Create key" }).count(), 0, "an Auditor has no key form");
    const refused = await page.evaluate(async () => {
      const r = await fetch("/v1/keys", { method: "POST", headers: { authorization: `Bearer ${sessionStorage.getItem("traceledger.key")}`, "content-type": "application/json" }, body: JSON.stringify({ role: "viewer", name: "x" }) });
      return r.status;
    });
    assert.equal(refused, 403, "the API refuses an Auditor's key creation too");
    // Policies are checked, not changed: a broken regex is refused by key.
    const policy = page.getByLabel(/Check an edited policy/);
    await policy.fill('[[validate]]\nfield = "output.reason"\nregex = "(unclosed"\n');
    await page.getByRole("button", { name: "Check policy" }).click();
    await page.locator('#policy-result [data-valid="false"]', { hasText: "validate[0].regex" }).waitFor();
    await policy.fill('[[budget]]\nagent = "credit-scorer"\ndaily_usd = 2.5\n');
    await page.getByRole("button", { name: "Check policy" }).click();
    await page.locator('#policy-result [data-valid="true"]', { hasText: "1 budgets" }).waitFor();
    await shot(page, "admin-auditor");
    // An Auditor sees the Privacy page but may not erase.
    await open(page, "#/privacy");
    await page.locator("#no-retention").waitFor();
    assert.equal(await page.getByRole("button", { name: "Erase content" }).count(), 0, "an Auditor cannot erase");
    assert.equal(await page.getByRole("button", { name: "Run retention now" }).count(), 0);

    // The 1,000-step session: every step rendered. Its time is a figure
    // (median of 5, with the API fetch of the same chain as the baseline
    // measured in the same run), not a pass/fail limit.
    const long = env("TL_LONG");
    const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const renders = [];
    const fetches = [];
    for (let i = 0; i < 5; i++) {
      await open(page, "#/sessions");
      const t0 = await page.evaluate(() => performance.now());
      await page.evaluate((id) => (location.hash = `#/sessions/${encodeURIComponent(id)}`), long);
      await page.locator(`.page[data-ready="#/sessions/${long}"]`).waitFor();
      const t1 = await page.evaluate(() => performance.now());
      renders.push(t1 - t0);
      assert.equal(await page.locator("ol.timeline > li.step").count(), 1000);
      fetches.push(
        await page.evaluate(async (id) => {
          const k = sessionStorage.getItem("traceledger.key");
          const t = performance.now();
          const r = await fetch(`/v1/sessions/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${k}` }, cache: "no-store" });
          await r.json();
          return performance.now() - t;
        }, long),
      );
    }
    const [r, f] = [median(renders), median(fetches)];
    step(`figure: 1,000-step session page ready in ${r.toFixed(0)} ms median of 5 (API fetch of the chain alone ${f.toFixed(0)} ms; ratio ${(r / f).toFixed(1)}x)`);
    await signOut(page);

    // Viewer: sessions yes, content no, no Admin.
    await signIn(page, env("TL_VIEWER"));
    assert.equal(await page.getByRole("link", { name: "Admin" }).count(), 0, "a Viewer has no Admin page");
    assert.equal(await page.getByRole("link", { name: "Reports" }).count(), 0, "a Viewer makes no reports");
    await page.goto(`${URL_}/#/records/${env("TL_SEQ")}`);
    await page.locator(".redacted-note").waitFor();
    assert.equal(await page.locator("pre.content").count(), 0, "a Viewer sees no content");
    await shot(page, "record-viewer");
    await signOut(page);

    // Owner: create a key (secret shown once), see it listed, revoke it.
    await signIn(page, env("TL_OWNER"));
    await page.goto(`${URL_}/#/admin`);
    await page.getByLabel("Name").fill("e2e reader");
    await page.getByLabel("Role").selectOption("viewer");
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = await page.locator("#secret").innerText();
    assert.match(secret, /^tlk_/);
    const row = page.locator("tr", { hasText: "e2e reader" });
    await row.waitFor();
    await labelled(page, "admin");
    await shot(page, "admin-owner");
    page.once("dialog", (d) => d.accept());
    await row.getByRole("button", { name: /^Revoke/ }).click();
    await page.locator("tr", { hasText: "e2e reader" }).locator(".badge.error", { hasText: "revoked" }).waitFor();
    const status = await page.evaluate(async (k) => (await fetch("/v1/whoami", { headers: { authorization: `Bearer ${k}` } })).status, secret);
    assert.equal(status, 401, "a revoked key is refused");

    // Privacy: a subject nobody recorded is refused; a real one's bundle is
    // offered; erasing their content is sealed and shows on the page, and
    // their record then shows its content erased.
    await open(page, "#/privacy");
    await page.getByLabel("Subject id").fill("hmac:nobody-recorded-this");
    await page.getByRole("button", { name: "Export bundle" }).click();
    await page.locator("#dsar-result [role=alert]", { hasText: "no record of this tenant names this subject" }).waitFor();
    await page.getByLabel("Subject id").fill(env("TL_SUBJECT"));
    await page.getByRole("button", { name: "Export bundle" }).click();
    await page.locator("#dsar-export", { hasText: /^[1-9]\d* record\(s\) about the subject/ }).waitFor({ timeout: 60_000 });
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Erase content" }).click();
    await page.locator("#erasure-result").waitFor();
    const erasureId = (await page.locator("#erasure-result dd code").first().innerText()).trim();
    assert.match(erasureId, /^[0-9a-f-]{36}$/);
    assert.match(await page.locator("#erasure-result").innerText(), /Erasing\s+[1-9]\d* record/);
    await page.locator("#erasures code.erasure-id", { hasText: erasureId }).waitFor({ timeout: 60_000 });
    await labelled(page, "privacy");
    await shot(page, "privacy");
    // Sealed, then carried out by the ledger model right after: reload
    // until the record shows it (at most a minute).
    for (let i = 0; ; i++) {
      await open(page, `#/records/${env("TL_SUBJECT_SEQ")}`);
      if ((await page.locator(".erased-note").count()) > 0) break;
      assert.ok(i < 300, "the subject's record shows its content erased");
      await page.waitForTimeout(200);
    }
    await shot(page, "record-erased");
  } else if (PHASE === "tampered") {
    await signIn(page, env("TL_AUDITOR"));
    const r = await verifyRecord(page, env("TL_SEQ"));
    assert.equal(r.verdict, "invalid", r.text);
    assert.match(r.text, /does not match its commitment \(content altered\)/);
    await shot(page, "record-tampered");
  } else {
    throw new Error(`unknown TL_PHASE ${PHASE}`);
  }
  assert.deepEqual(errors, [], "no script errors in the page");
  step("passed");
} catch (e) {
  // Keep what the page showed when it failed, then fail.
  if (errors.length) console.log(`page errors: ${errors.join(" | ")}`);
  for (const ctx of browser.contexts()) for (const p of ctx.pages()) await p.screenshot({ path: join(ART, `${PHASE}-failure.png`), fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
