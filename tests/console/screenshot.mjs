// A full-page screenshot saved as a test artifact, refused when blank:
// at least 1% of its pixels must differ from its most common colour.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { PNG } from "pngjs";

export async function screenshot(page, path) {
  const buf = await page.screenshot({ fullPage: true });
  writeFileSync(path, buf);
  const png = PNG.sync.read(buf);
  const counts = new Map();
  for (let i = 0; i < png.data.length; i += 4) {
    const px = png.data.readUInt32BE(i);
    counts.set(px, (counts.get(px) || 0) + 1);
  }
  const share = 1 - Math.max(...counts.values()) / (png.width * png.height);
  assert.ok(share > 0.01, `screenshot ${basename(path)} is blank (${(share * 100).toFixed(2)}% of pixels differ from the background)`);
  return `screenshot ${basename(path)}: ${png.width}x${png.height}, ${(share * 100).toFixed(1)}% non-background, ${counts.size} colours`;
}
