/**
 * `npm run bench:llm [-- --json] [--first-token-ms 200] [--per-token-ms 10] [--rounds 3]`
 * The fake Groq at fixed latency; the same chats through the LLM service (its real process, over
 * gRPC) and straight to the fake with groq-sdk, at 1 and at 50 concurrent chats. Reports p50/p99
 * of time to first token, to first speech segment and total, and the service/direct ratios.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { llm } from "@hotpin/contracts";
import { createGrpcClient, deadlineIn } from "@hotpin/runtime";
import { percentile, startFakeGroq } from "@hotpin/test-support";
import Groq from "groq-sdk";
import { SentenceSegmenter } from "./sentence-segmenter";

const { values: args } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    "first-token-ms": { type: "string", default: "200" },
    "per-token-ms": { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "50" },
  },
});
const firstTokenMs = Number(args["first-token-ms"]);
const perTokenMs = Number(args["per-token-ms"]);
const rounds = Math.max(1, Number(args.rounds));
const concurrency = Math.max(1, Number(args.concurrency));
const ANSWER =
  "The mug on your desk is red with a white handle. It looks like ceramic, about ten centimetres tall. " +
  "There is a little steam rising, so the drink is probably still hot. Be careful when you pick it up.";
const segmenterLimits = { minChars: 12, maxChars: 240 };

interface Timing {
  firstToken: number;
  firstSegment: number;
  total: number;
}

async function viaService(client: llm.LanguageModelClient): Promise<Timing> {
  const began = performance.now();
  const t: Timing = { firstToken: 0, firstSegment: 0, total: 0 };
  const call = client.chat(
    {
      history: [],
      userText: "What is this?",
      systemPrompt: "",
      maxOutputTokens: 0,
      deviceId: "bench",
      sessionId: "bench",
    },
    { deadline: deadlineIn(60_000) },
  );
  call.on("data", (res: llm.ChatResponse) => {
    const at = performance.now() - began;
    if (res.event?.$case === "delta" && !t.firstToken) t.firstToken = at;
    if (res.event?.$case === "segment" && !t.firstSegment) t.firstSegment = at;
  });
  await once(call, "end");
  t.total = performance.now() - began;
  return t;
}

async function direct(groq: Groq): Promise<Timing> {
  const began = performance.now();
  const t: Timing = { firstToken: 0, firstSegment: 0, total: 0 };
  const segmenter = new SentenceSegmenter(segmenterLimits);
  const stream = await groq.chat.completions.create({
    model: "meta-llama/llama-4-scout-17b-16e-instruct",
    stream: true,
    messages: [{ role: "user", content: "What is this?" }],
  });
  for await (const chunk of stream) {
    const text = chunk.choices[0]?.delta.content;
    if (!text) continue;
    const at = performance.now() - began;
    if (!t.firstToken) t.firstToken = at;
    if (segmenter.push(text).length > 0 && !t.firstSegment) t.firstSegment = at;
  }
  if (!t.firstSegment && segmenter.flush().length > 0) t.firstSegment = performance.now() - began;
  t.total = performance.now() - began;
  return t;
}

async function run(fn: () => Promise<Timing>, parallel: number, times: number): Promise<Timing[]> {
  const out: Timing[] = [];
  for (let r = 0; r < times; r++) out.push(...(await Promise.all(Array.from({ length: parallel }, fn))));
  return out;
}

function summary(ts: Timing[]) {
  const r = (n: number) => Math.round(n * 10) / 10;
  const of = (k: keyof Timing) => ({
    p50: r(
      percentile(
        ts.map((t) => t[k]),
        50,
      ),
    ),
    p99: r(
      percentile(
        ts.map((t) => t[k]),
        99,
      ),
    ),
  });
  return {
    n: ts.length,
    first_token_ms: of("firstToken"),
    first_segment_ms: of("firstSegment"),
    total_ms: of("total"),
  };
}

/** Starts the service's real process on free ports and returns its gRPC port. */
async function startService(fakeUrl: string) {
  const child = spawn(process.execPath, [join(__dirname, "main.js")], {
    env: {
      ...process.env,
      GROQ_API_KEY: "bench-key",
      GROQ_BASE_URL: fakeUrl,
      HOTPIN_LLM_HOST: "127.0.0.1",
      HOTPIN_LLM_PORT: "0",
      HOTPIN_LLM_METRICS_PORT: "0",
      HOTPIN_LLM_MAX_CONCURRENT_CHATS: String(Math.max(128, concurrency)),
      // Info, to read the bound port from the "grpc listening" line; later lines are discarded.
      HOTPIN_LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`llm service exited with ${code}: ${out}`)));
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-16_000);
      const m = /"port":(\d+)[^\n]*"msg":"grpc listening"/.exec(out);
      if (!m) return;
      child.stdout.off("data", onData);
      child.stdout.resume();
      resolve(Number(m[1]));
    };
    child.stdout.on("data", onData);
  });
  return { port, stop: () => child.kill("SIGTERM") };
}

async function main() {
  await using fake = await startFakeGroq({ defaultAnswer: ANSWER, latency: { firstTokenMs, perTokenMs } });
  const svc = await startService(fake.url);
  try {
    const client = createGrpcClient(llm.LanguageModelClient, `127.0.0.1:${svc.port}`);
    const groq = new Groq({ apiKey: "bench-key", baseURL: fake.url, maxRetries: 0 });
    await run(() => viaService(client), 5, 1);
    await run(() => direct(groq), 5, 1);
    const results: Record<string, { service: ReturnType<typeof summary>; direct: ReturnType<typeof summary> }> = {};
    for (const c of [1, concurrency]) {
      const times = c === 1 ? 20 : rounds;
      results[`c${c}`] = {
        direct: summary(await run(() => direct(groq), c, times)),
        service: summary(await run(() => viaService(client), c, times)),
      };
    }
    client.close();
    const at = results[`c${concurrency}`]!;
    const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
    const report = {
      concurrency,
      fake_latency: { first_token_ms: firstTokenMs, per_token_ms: perTokenMs },
      ttft_ratio_p50: ratio(at.service.first_token_ms.p50, at.direct.first_token_ms.p50),
      ttft_ratio_p99: ratio(at.service.first_token_ms.p99, at.direct.first_token_ms.p99),
      first_segment_ratio_p50: ratio(at.service.first_segment_ms.p50, at.direct.first_segment_ms.p50),
      first_segment_ratio_p99: ratio(at.service.first_segment_ms.p99, at.direct.first_segment_ms.p99),
      total_ratio_p50: ratio(at.service.total_ms.p50, at.direct.total_ms.p50),
      total_ratio_p99: ratio(at.service.total_ms.p99, at.direct.total_ms.p99),
      results,
    };
    if (args.json) console.log(JSON.stringify(report));
    else {
      console.log(`fake Groq latency: first token ${firstTokenMs} ms, ${perTokenMs} ms per token`);
      for (const [name, r] of Object.entries(results)) {
        for (const [path, s] of Object.entries(r)) {
          console.log(
            `${name.padEnd(4)} ${path.padEnd(8)} n=${s.n} first token p50 ${s.first_token_ms.p50} p99 ${s.first_token_ms.p99} ms | ` +
              `first segment p50 ${s.first_segment_ms.p50} p99 ${s.first_segment_ms.p99} ms | total p50 ${s.total_ms.p50} p99 ${s.total_ms.p99} ms`,
          );
        }
      }
      console.log(
        `service/direct at ${concurrency} concurrent: first token p50 ${report.ttft_ratio_p50} p99 ${report.ttft_ratio_p99}, ` +
          `first segment p50 ${report.first_segment_ratio_p50}, total p50 ${report.total_ratio_p50} p99 ${report.total_ratio_p99}`,
      );
    }
  } finally {
    svc.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
