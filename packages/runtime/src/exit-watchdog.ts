import { Worker } from "node:worker_threads";

// Runs on its own thread so that it fires even when the main thread is stuck: a write to a
// stdout that nobody reads any more, a native call that never returns, a synchronous loop.
const WATCHDOG = `
const { workerData } = require("node:worker_threads");
setTimeout(() => process.kill(workerData.pid, "SIGKILL"), workerData.ms);
`;

/** Ends this process with SIGKILL after `ms` unless it has exited by then. */
export function armExitWatchdog(ms: number): void {
  const worker = new Worker(WATCHDOG, { eval: true, execArgv: [], workerData: { ms, pid: process.pid } });
  // The watchdog never keeps the process alive: a clean exit before the deadline ends it too.
  worker.unref();
}
