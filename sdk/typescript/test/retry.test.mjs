// Properties of the retry policy: the Retry-After parser and the backoff.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";

import { backoff, retryAfterMs } from "../dist/index.js";

test("Retry-After in whole seconds is read as milliseconds", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e9 }), fc.constantFrom("", " ", "\t"), (s, pad) => {
      assert.equal(retryAfterMs(`${pad}${s}${pad}`), s * 1000);
    }),
  );
});

test("Retry-After as an HTTP date is the time until then, never negative", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4e12 }), fc.integer({ min: -1e6, max: 1e9 }), (now, ahead) => {
      const at = Math.floor((now + ahead) / 1000) * 1000;
      const header = new Date(at).toUTCString();
      assert.equal(retryAfterMs(header, now), Math.max(0, at - now));
    }),
  );
});

test("an unreadable Retry-After is no Retry-After", () => {
  fc.assert(
    fc.property(fc.string(), (s) => {
      const v = retryAfterMs(s, 0);
      assert.ok(v === null || (Number.isFinite(v) && v >= 0), `${JSON.stringify(s)} -> ${v}`);
    }),
  );
  for (const s of [null, "", "soon", "-5", "1.5", "1e3"]) assert.equal(retryAfterMs(s, 0), null, String(s));
});

test("backoff grows exponentially to its cap, jittered within half of it, and waits at least Retry-After", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 100 }),
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: 100_000 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      fc.option(fc.integer({ min: 0, max: 120_000 })),
      (attempts, lo, extra, r, after) => {
        const hi = lo + extra;
        const exp = Math.min(hi, lo * 2 ** Math.min(Math.max(attempts - 1, 0), 16));
        const d = backoff(attempts, [lo, hi], after, () => r);
        assert.ok(d <= Math.max(exp, after ?? 0) + 1e-9, `${d} > ${exp}`);
        assert.ok(d >= Math.min(exp / 2, hi) - 1e-9 || (after !== null && d >= after), `${d} < ${exp / 2}`);
        if (after !== null) assert.ok(d >= after);
        assert.ok(d <= hi || d === after, "capped, unless the node asks for longer");
      },
    ),
  );
});
