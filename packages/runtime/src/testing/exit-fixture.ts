// A process that shuts down the way every service does, for the exit tests: `node exit-fixture.js
// <mode> <deadlineMs>`. Modes: "log" logs 2000 lines in its shutdown step; "stuck" blocks its main
// thread for a minute in its shutdown step.
import { createLogger } from "../log";
import { Shutdown } from "../shutdown";

const [mode, deadline] = process.argv.slice(2);
const log = createLogger("exit-fixture");
const shutdown = new Shutdown(log, () => {}, {
  drainDelayMs: 0,
  stepTimeoutMs: 120_000,
  deadlineMs: Number(deadline ?? 30_000),
});
if (mode === "stuck") {
  shutdown.add("stuck", () => {
    log.info("step blocks the main thread");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  });
} else {
  shutdown.add("log", () => {
    for (let i = 0; i < 2000; i++) log.info({ i }, "shutdown line");
  });
}
shutdown.listen();
log.info("ready");
// Stays alive until a signal, like a server would.
setInterval(() => {}, 60_000);
