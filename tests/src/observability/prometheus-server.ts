import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "@hotpin/test-support";
import { stringify } from "yaml";

export interface PrometheusServer extends AsyncDisposable {
  url: string;
  /** GET /api/v1/<path> with query parameters; the parsed JSON body, whatever the status. */
  api(path: string, params?: Record<string, string>): Promise<PromResponse>;
  /** Resolves once every target was scraped after `sinceSeconds` (unix time). */
  scrapedSince(sinceSeconds: number, timeoutMs?: number): Promise<void>;
}

export interface PromResponse {
  status: "success" | "error";
  errorType?: string;
  error?: string;
  // biome-ignore lint/suspicious/noExplicitAny: the API's data differs per endpoint
  data?: any;
}

/**
 * Debian's Prometheus as a plain process for a test: a generated config scraping `targets`
 * (job name → host:port of a /metrics endpoint) every second, the given rule files evaluated
 * every second, storage in a temporary folder. Dispose with `await using`.
 */
export async function startPrometheus(targets: Record<string, string>, ruleFiles: string[]): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), "hotpin-prometheus-"));
  const port = await freePort();
  const config = {
    global: { scrape_interval: "1s", scrape_timeout: "900ms", evaluation_interval: "1s" },
    rule_files: ruleFiles,
    scrape_configs: Object.entries(targets).map(([job, target]) => ({
      job_name: job,
      static_configs: [{ targets: [target] }],
    })),
  };
  await writeFile(join(dir, "prometheus.yml"), stringify(config));
  const url = `http://127.0.0.1:${port}`;
  let output = "";
  const child: ChildProcess = spawn(
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1h",
      "--enable-feature=exemplar-storage",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(5_000)]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    await rm(dir, { recursive: true, force: true });
  };

  const api = async (path: string, params: Record<string, string> = {}) => {
    const res = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`, {
      signal: AbortSignal.timeout(10_000),
    });
    return (await res.json()) as PromResponse;
  };

  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${output}`);
      const ready = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s: ${output}`);
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url,
    api,
    async scrapedSince(sinceSeconds, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      const jobs = Object.keys(targets).length;
      for (;;) {
        const r = await api("query", { query: `count(timestamp(up == 1) > ${sinceSeconds})` });
        if (Number(r.data?.result?.[0]?.value?.[1] ?? 0) >= jobs) return;
        if (Date.now() > deadline) throw new Error(`not every target was scraped within ${timeoutMs} ms`);
        await sleep(250);
      }
    },
    [Symbol.asyncDispose]: stop,
  };
}
