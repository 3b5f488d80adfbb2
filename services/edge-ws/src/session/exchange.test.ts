import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import type { stt } from "@hotpin/contracts";
import { firmware } from "../dialects/firmware";
import type { PendingImages } from "../images/pending-images";
import type { Services } from "../pipeline/services";
import { RecordingTransport } from "../recording-transport.test-util";
import { Recorder } from "./recording";
import { memoryDeps } from "./session.test-util";
import { SessionCore } from "./session-core";

/** Turns of the event loop until `ready()` holds; fails past `turns` (bounded, no clock). */
async function until(ready: () => boolean, what: string, turns = 500): Promise<void> {
  for (let i = 0; i < turns && !ready(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(ready(), what);
}

/** A gate a test opens: `wait()` resolves once `open()` was called. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, wait: () => opened };
}

/**
 * A firmware exchange whose STT final and event confirms the test releases, with peers that
 * record when they are called: which waits lie on the way from the stop to the LLM call.
 */
function exchange() {
  const { deps } = memoryDeps();
  const calls: string[] = [];
  const sttFinal = gate();
  const confirms = gate();
  const sttClient = {
    recognize() {
      const call = Object.assign(new EventEmitter(), {
        write: () => {},
        end: () =>
          void sttFinal.wait().then(() => {
            calls.push("stt final");
            call.emit("data", { result: { $case: "final", value: { text: "go forward", confidence: 0.9 } } });
            call.emit("end");
          }),
        cancel: () => queueMicrotask(() => call.emit("end")),
      });
      return call;
    },
  } as unknown as stt.SpeechToTextClient;
  const services = {
    ...deps.services,
    stt: sttClient,
    storage: {
      recentTurns: (_req: unknown, _md: unknown, _opts: unknown, cb: (err: null, res: unknown) => void) => {
        calls.push("history");
        queueMicrotask(() => cb(null, { turns: [] }));
      },
    },
    // The answer never comes: the test is about what happens before the LLM is asked.
    llm: {
      chat: () => {
        calls.push("llm");
        return Object.assign(new PassThrough({ objectMode: true }), { cancel() {} });
      },
    },
  } as unknown as Services;
  const events = {
    publish: deps.events.publish,
    confirm: async () => {
      await confirms.wait();
      return true;
    },
  };
  const images = { take: async () => undefined, clear: async () => undefined } as unknown as PendingImages;
  const sessionDeps = { ...deps, services, events, images };
  const transport = new RecordingTransport();
  const core = new SessionCore(
    sessionDeps,
    firmware.create(transport, { cfg: deps.cfg, speech: deps.apologies }),
    transport,
    () => {},
    () => {},
  );
  const rec = new Recorder(
    core,
    core.exchangeHost({ rerecord: (reason) => rec.rerecord(reason), answered: () => {}, playbackStarted: () => {} }),
  );
  core.deviceId = "pin.exchange";
  core.state = "idle";
  /** The firmware's processing stages the device has seen, in order. */
  const stages = () => transport.texts().map((m) => m.stage);
  return { core, rec, calls, sttFinal, confirms, stages };
}

test("exchange - the history is read while STT finishes, and the LLM is asked before the transcript is stored; the device still hears the transcript first", async () => {
  const { core, rec, calls, sttFinal, confirms, stages } = exchange();
  rec.begin(false);
  rec.add(Buffer.alloc(3200, 1), undefined);
  rec.stop();
  await until(() => calls.includes("history"), "the history is read before the final transcript");
  assert.deepEqual(calls, ["history"]);
  sttFinal.open();
  await until(() => calls.includes("llm"), "the LLM is asked while the transcript event waits for its ack");
  assert.deepEqual(calls, ["history", "stt final", "llm"]);
  assert.deepEqual(stages(), ["transcription"], "the device is not told the transcript before it is stored");
  confirms.open();
  await until(() => stages().length === 2, "the transcript goes out once stored");
  assert.deepEqual(stages(), ["transcription", "llm"]);
  core.abort.abort();
});
