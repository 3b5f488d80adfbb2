#!/usr/bin/env node
import { readFile, writeFile } from "node:fs/promises";
import { extname } from "node:path";
import { toWav } from "@hotpin/audio";
import { type CliRun, parseCli, USAGE, UsageError } from "./cli-args";
import { runDap1Device } from "./dap1-device";
import { SimError } from "./errors";
import { runDevice } from "./run-device";
import { type FleetResult, runFleet } from "./run-fleet";
import { runSesameDevice } from "./sesame-device";
import { loadSpeech } from "./speech-input";
import { type Percentiles, percentiles } from "./stats";
import { formatEvent } from "./timeline";
import type { DeviceOptions, DeviceResult } from "./types";
import { runXiaozhiDevice } from "./xiaozhi-device";

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_SERVER_REFUSED = 2;
const EXIT_USAGE = 64;

/** Where utterance `n` of a device is saved: the name as given for a single reply, else suffixed. */
export function replyPath(out: string, single: boolean, deviceId: string, n: number): string {
  if (single) return out;
  const ext = extname(out);
  return `${out.slice(0, out.length - ext.length)}-${deviceId}-${n}${ext || ".wav"}`;
}

function fmt(p: Percentiles): string {
  if (p.count === 0) return "n/a";
  return `p50 ${p.p50!.toFixed(1)} ms, p95 ${p.p95!.toFixed(1)} ms, p99 ${p.p99!.toFixed(1)} ms (n=${p.count})`;
}

/** The result as JSON with the audio replaced by its size. */
function jsonReplacer(key: string, value: unknown): unknown {
  if (key === "replyWav" && value && typeof value === "object")
    return { bytes: (value as { data: unknown[] }).data.length };
  return value;
}

function deviceLine(r: DeviceResult): string {
  const outcomes = r.utterances.map((u) => u.outcome).join(",") || "none";
  const err = r.error ? ` error (${r.error.kind}): ${r.error.message}` : "";
  return `${r.deviceId}: ${r.ok ? "ok" : "FAILED"} [${outcomes}] connections=${r.connections}${err}`;
}

function exitCode(results: DeviceResult[]): number {
  if (results.some((r) => r.error)) return EXIT_FAILED;
  if (results.some((r) => !r.ok)) return EXIT_SERVER_REFUSED;
  return EXIT_OK;
}

/** One DAWN DAP1 exchange: the speech as a WAV up, the reply WAV back. */
async function runDap1(cmd: CliRun, dap1: { host: string; port: number }, pcm: Buffer): Promise<number> {
  const r = await runDap1Device({
    ...dap1,
    wav: toWav(pcm),
    ...(cmd.replyTimeoutMs !== undefined ? { firstReplyTimeoutMs: cmd.replyTimeoutMs } : {}),
  });
  if (cmd.out) await writeFile(cmd.out, r.reply);
  const summary = { replyBytes: r.reply.length, firstPacketMs: r.firstPacketMs, replyMs: r.replyMs };
  process.stdout.write(
    cmd.json
      ? `${JSON.stringify(summary)}\n`
      : `dap1: reply ${r.reply.length} B, first packet ${r.firstPacketMs} ms and whole reply ${r.replyMs} ms after the upload${cmd.out ? `, saved to ${cmd.out}` : ""}\n`,
  );
  return EXIT_OK;
}

/** One Sesame-style call: the speech streamed (once per utterance) with silence around it, replies saved. */
async function runSesame(cmd: CliRun, pcm: Buffer): Promise<number> {
  const r = await runSesameDevice({
    url: cmd.url,
    token: cmd.token,
    pcm,
    utterances: cmd.utterances,
    ...(cmd.bargeInAfterMs !== undefined ? { bargeInAfterMs: cmd.bargeInAfterMs } : {}),
    ...(cmd.replyTimeoutMs !== undefined ? { replyTimeoutMs: cmd.replyTimeoutMs } : {}),
    ...(cmd.quiet || cmd.json ? {} : { onEvent: (e) => process.stdout.write(`${formatEvent(e)}\n`) }),
  });
  const rate = r.sampleRate ?? 24_000;
  if (cmd.out) {
    for (const [i, t] of r.turns.entries()) {
      await writeFile(
        replyPath(cmd.out, r.turns.length === 1, "sesame", i + 1),
        toWav(t.replyPcm, { sampleRate: rate, channels: 1, bitsPerSample: 16 }),
      );
    }
  }
  const turns = r.turns.map((t) => ({
    firstAudioMs: t.firstAudioMs,
    replyMs: (t.replyPcm.length / 2 / rate) * 1000,
    bargedIn: t.bargedIn,
    audioAfterBargeInMs: t.audioAfterBargeInMs,
  }));
  const summary = { ok: r.ok, error: r.error, turns, chats: r.chats.length, warnings: r.warnings };
  process.stdout.write(
    cmd.json
      ? `${JSON.stringify(summary)}\n`
      : `sesame: ${r.ok ? "ok" : `FAILED${r.error ? ` (${r.error.kind}): ${r.error.message}` : ""}`}; ${turns
          .map(
            (t, i) =>
              `turn ${i + 1}: first audio ${t.firstAudioMs?.toFixed(0) ?? "-"} ms after the end of speech, ${t.replyMs.toFixed(0)} ms of reply${t.bargedIn ? `, interrupted (audio ${t.audioAfterBargeInMs?.toFixed(0) ?? "-"} ms after)` : ""}`,
          )
          .join("; ")}\n`,
  );
  return r.error ? EXIT_FAILED : r.ok ? EXIT_OK : EXIT_SERVER_REFUSED;
}

/** One xiaozhi-esp32 device: OTA (and activation, the code printed), hello, the turns on one socket. */
async function runXiaozhi(cmd: CliRun, x: NonNullable<CliRun["xiaozhi"]>, pcm: Buffer): Promise<number> {
  // A MAC, as the firmware's Device-Id; the id of HotPin devices is not one.
  const deviceId = cmd.deviceId === "esp32-cam-hotpin" ? "02:00:00:00:00:01" : cmd.deviceId;
  const r = await runXiaozhiDevice({
    otaUrl: x.otaUrl,
    deviceId,
    // The board keeps its UUID in flash: the same on every run, so a binding holds.
    clientId:
      x.clientId ??
      `5a1e0000-0000-4000-8000-${deviceId
        .replace(/[^0-9a-f]/gi, "")
        .padStart(12, "0")
        .slice(-12)}`,
    pcm,
    turns: Array.from({ length: cmd.utterances }, () => ({
      mode: x.mode,
      ...(x.abortAfterMs !== undefined ? { abortAfterMs: x.abortAfterMs } : {}),
    })),
    pacing: cmd.pacing,
    ...(cmd.replyTimeoutMs !== undefined ? { replyTimeoutMs: cmd.replyTimeoutMs } : {}),
    onActivationCode: (code) => {
      process.stderr.write(`xiaozhi: activation code ${code}: bind it with \`hotpin activate ${code}\`\n`);
    },
    ...(cmd.quiet || cmd.json ? {} : { onEvent: (e) => process.stdout.write(`${formatEvent(e)}\n`) }),
  });
  const rate = r.downlink?.sampleRate ?? 24_000;
  if (cmd.out) {
    for (const [i, t] of r.turns.entries()) {
      await writeFile(
        replyPath(cmd.out, r.turns.length === 1, "xiaozhi", i + 1),
        toWav(t.replyPcm, { sampleRate: rate, channels: 1, bitsPerSample: 16 }),
      );
    }
  }
  const turns = r.turns.map((t) => ({
    transcript: t.transcript,
    sentences: t.sentences,
    packets: t.packets,
    firstAudioMs: t.firstAudioMs,
    replyMs: (t.replyPcm.length / 2 / rate) * 1000,
    dropped: t.droppedOverflow + t.droppedOutsideSpeaking,
    abortToStopMs: t.abortToStopMs,
  }));
  const summary = { ok: r.ok, error: r.error, activationCode: r.activationCode, turns, warnings: r.warnings };
  process.stdout.write(
    cmd.json
      ? `${JSON.stringify(summary)}\n`
      : `xiaozhi: ${r.ok ? "ok" : `FAILED${r.error ? ` (${r.error.kind}): ${r.error.message}` : ""}`}; ${turns
          .map(
            (t, i) =>
              `turn ${i + 1}: heard "${t.transcript ?? ""}", first audio ${t.firstAudioMs?.toFixed(0) ?? "-"} ms after the end of speech, ${t.packets} packets, ${t.replyMs.toFixed(0)} ms of reply${t.dropped ? `, ${t.dropped} dropped` : ""}`,
          )
          .join("; ")}\n`,
  );
  return r.error ? EXIT_FAILED : r.ok ? EXIT_OK : EXIT_SERVER_REFUSED;
}

async function run(cmd: CliRun): Promise<number> {
  const pcm = await loadSpeech(cmd.input);
  if (cmd.dap1) return runDap1(cmd, cmd.dap1, pcm);
  if (cmd.sesame) return runSesame(cmd, pcm);
  if (cmd.xiaozhi) return runXiaozhi(cmd, cmd.xiaozhi, pcm);
  const image = cmd.image ? await readFile(cmd.image) : undefined;
  const device: Omit<DeviceOptions, "deviceId" | "onEvent"> = {
    url: cmd.url,
    dialect: cmd.dialect,
    token: cmd.token,
    pcm,
    utterances: cmd.utterances,
    chunkBytes: cmd.chunkBytes,
    pacing: cmd.pacing,
    chunkPauseMs: cmd.chunkPauseMs,
    handshakeDelayMs: cmd.handshakeDelayMs,
    maxUnacked: cmd.maxUnacked,
    ackTimeoutMs: cmd.ackTimeoutMs,
    replyTimeoutMs: cmd.replyTimeoutMs,
    image,
    readyForPlayback: cmd.readyForPlayback,
    fetchDownload: cmd.fetchDownload,
    waitForReady: cmd.waitForReady,
    capabilities: cmd.capabilities,
    pingIntervalMs: cmd.pingIntervalMs,
    retries: cmd.retries,
    ...(cmd.backoffCapMs !== undefined ? { backoff: { capMs: cmd.backoffCapMs } } : {}),
  };
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  let results: DeviceResult[];
  let fleet: FleetResult | undefined;
  if (cmd.devices === 1) {
    const r = await runDevice({
      ...device,
      deviceId: cmd.deviceId,
      ...(cmd.quiet || cmd.json ? {} : { onEvent: (e) => log(formatEvent(e)) }),
    });
    results = [r];
  } else {
    fleet = await runFleet({
      ...device,
      devices: cmd.devices,
      deviceIdPrefix: cmd.deviceId,
      staggerMs: cmd.staggerMs,
      ...(cmd.quiet || cmd.json ? {} : { onEvent: (id, e) => log(formatEvent(e, id)) }),
    });
    results = fleet.devices;
  }
  if (cmd.out) {
    const single = results.length === 1 && cmd.utterances === 1;
    for (const r of results) {
      for (const u of r.utterances) {
        if (!u.replyWav) continue;
        const path = replyPath(cmd.out, single, r.deviceId, u.index + 1);
        await writeFile(path, u.replyWav);
        if (!cmd.json) log(`saved reply ${u.replyWav.length} B to ${path}`);
      }
    }
  }
  if (cmd.json) {
    log(JSON.stringify(fleet ?? results[0], jsonReplacer, 2));
  } else if (fleet) {
    for (const r of results) log(deviceLine(r));
    log(`devices: ${fleet.ok} ok, ${fleet.failed} failed, ${(fleet.wallMs / 1000).toFixed(1)} s`);
    log(`first audio (end of speech -> first reply byte): ${fmt(fleet.firstAudioMs)}`);
    log(`ACK latency: ${fmt(fleet.ackLatencyMs)}`);
  } else {
    const r = results[0]!;
    for (const u of r.utterances) {
      if (u.transcript !== undefined) log(`transcript: ${u.transcript}`);
      if (u.response !== undefined) log(`response: ${u.response}`);
      if (u.firstAudioMs !== undefined) log(`first audio: ${u.firstAudioMs.toFixed(1)} ms after end of speech`);
      for (const w of u.warnings) log(`warning: ${w}`);
    }
    log(`ACK latency: ${fmt(percentiles(r.ackLatenciesMs))}`);
    log(deviceLine(r));
  }
  return exitCode(results);
}

export async function main(argv: string[]): Promise<number> {
  let cmd: ReturnType<typeof parseCli>;
  try {
    cmd = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`hotpin-sim: ${err.message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (cmd.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  try {
    return await run(cmd);
  } catch (err) {
    if (err instanceof SimError && err.kind === "input") {
      process.stderr.write(`hotpin-sim: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      process.stderr.write(`hotpin-sim: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`hotpin-sim: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = EXIT_FAILED;
    },
  );
}
