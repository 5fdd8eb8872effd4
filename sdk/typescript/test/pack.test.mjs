// `npm pack` makes a package a project can install from the tarball alone
// (no network: it has no dependency) and use from JavaScript and TypeScript.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL("..", import.meta.url));
const npm = (args, cwd) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

test("the packed tarball installs offline and works from JavaScript and TypeScript", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tl-pack-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [packed] = JSON.parse(npm(["pack", "--json", "--pack-destination", dir], here));
  const files = packed.files.map((f) => f.path).sort();
  for (const f of ["README.md", "package.json", "dist/index.js", "dist/index.d.ts", "dist/client.js", "dist/client.d.ts"]) {
    assert.ok(files.includes(f), `${f} is packed (${files.join(", ")})`);
  }
  assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("test/")), "sources and tests are not packed");

  const app = join(dir, "app");
  execFileSync("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", type: "module", private: true }));
  npm(["install", "--offline", "--no-audit", "--no-fund", join(dir, packed.filename)], app);

  writeFileSync(
    join(app, "use.mjs"),
    `import { Client } from "traceledger";
     const c = new Client({ url: "http://127.0.0.1:9", apiKey: "k", flushOnExitMs: 0 });
     const s = c.session("a");
     s.step("llm_call", { input: "hi" });
     console.log(JSON.stringify({ pending: c.pending, queued: c.stats.queued, step: s.nextStep }));
     await c.close(0);`,
  );
  const out = JSON.parse(execFileSync(process.execPath, ["use.mjs"], { cwd: app, encoding: "utf8" }));
  assert.deepEqual(out, { pending: 1, queued: 1, step: 1 });

  // The declarations type-check a consumer, and catch a wrong event.
  const tsc = join(here, "node_modules", "typescript", "bin", "tsc");
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { noEmit: true, strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022", "dom"], types: [] },
      files: ["use.ts"],
    }),
  );
  const check = (code) => {
    writeFileSync(join(app, "use.ts"), code);
    try {
      execFileSync(process.execPath, [tsc, "-p", "."], { cwd: app, encoding: "utf8" });
      return "";
    } catch (e) {
      return e.stdout;
    }
  };
  assert.equal(
    check(`import { Client, type TraceEvent } from "traceledger";
      const c = new Client({ url: "http://x", apiKey: "k" });
      const e: TraceEvent = { agent_id: "a", session_id: "s", step_index: 0, kind: "tool_call", tools: [{ name: "t", call_id: "1", status: "ok" }] };
      const ok: boolean = c.record(e);
      const done: Promise<boolean> = c.flush(1000);
      void ok; void done;`),
    "",
  );
  assert.match(
    check(`import { Client } from "traceledger";
      new Client({ url: "http://x", apiKey: "k" }).session("a").step("no_such_kind", {});`),
    /no_such_kind/,
  );
});
