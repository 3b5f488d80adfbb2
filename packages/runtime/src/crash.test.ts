import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";

/** Runs a small process that installs the crash handlers and then fails in the given way. */
function crashWith(failure: string): Promise<{ code: number | null; out: string }> {
  const script = `
    const { createLogger, exitOnCrash } = require(${JSON.stringify(`${__dirname}/index.js`)});
    exitOnCrash(createLogger("crash-test", "info"));
    setInterval(() => {}, 1000); // a live event loop: only the handler can end it
    ${failure}
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out }));
  });
}

test("runtime - an uncaught exception is logged and the process exits 1", async () => {
  const { code, out } = await crashWith(`setTimeout(() => { throw new Error("boom-sync"); }, 10);`);
  assert.equal(code, 1);
  const line = JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
  assert.equal(line.msg, "process crashed, exiting");
  assert.equal(line.kind, "uncaughtException");
  assert.match(line.err.message, /boom-sync/);
});

test("runtime - an unhandled rejection is logged and the process exits 1", async () => {
  const { code, out } = await crashWith(`Promise.reject(new Error("boom-async"));`);
  assert.equal(code, 1);
  assert.match(out, /"kind":"unhandledRejection"/);
  assert.match(out, /boom-async/);
});
