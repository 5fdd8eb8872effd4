// The SOC 2 report's HTML in Debian's headless Chromium: every criterion's
// section and every chart present and drawn, no script, a non-blank
// screenshot, and a PDF printed from the same page. Started by
// crates/cli/tests/report.rs with TL_REPORT (the HTML file) and TL_ARTIFACTS.

import assert from "node:assert/strict";
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { screenshot } from "./screenshot.mjs";

const file = process.env.TL_REPORT;
const art = process.env.TL_ARTIFACTS;
assert.ok(file && art, "TL_REPORT and TL_ARTIFACTS must be set (run through crates/cli/tests/report.rs)");
mkdirSync(art, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(pathToFileURL(file).href);
  for (const [id, title] of [
    ["processing-integrity", "Processing Integrity"],
    ["confidentiality", "Confidentiality"],
    ["availability", "Availability"],
    ["security", "Security"],
    ["privacy", "Privacy"],
  ]) {
    assert.equal(await page.locator(`section#${id} > h2`).innerText(), title, `section ${id}`);
  }
  for (const chart of ["chart-volume", "chart-pii", "chart-uptime"]) {
    assert.ok((await page.locator(`svg#${chart} rect.bar`).count()) > 0, `chart ${chart} draws bars`);
  }
  assert.equal(
    await page.locator("section#regulations > h2").innerText(),
    "Regulation mapping: EU AI Act, ISO/IEC 42001, NIST AI RMF",
  );
  assert.equal(await page.locator("table#requirements tbody tr").count(), 11, "every requirement has a row");
  assert.ok((await page.locator("svg#chart-regulations rect").count()) > 0, "the status chart draws bars");
  assert.equal(await page.locator("script").count(), 0, "the report runs no script");
  assert.match(await page.locator("section#processing-integrity").innerText(), /VALID: \d+ records/);
  console.log(`report e2e: ${await screenshot(page, join(art, "report.png"))}`);
  const pdf = join(art, "report.pdf");
  await page.pdf({ path: pdf, format: "A4", printBackground: true });
  assert.ok(statSync(pdf).size > 10_000, "the PDF has content");
  assert.deepEqual(errors, []);
  console.log(`report e2e: printed ${pdf} (${statSync(pdf).size} bytes); passed`);
} finally {
  await browser.close();
}
