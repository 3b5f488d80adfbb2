import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { grpc } from "@hotpin/runtime";
import { goforward, recognize, startTestStt } from "../testing/harness";
import { EngineUnavailableError } from "./engine";
import { selectEngines } from "./select";
import { loadVoskModel, voskApi } from "./vosk-binding";

// No Vosk model can be obtained on these machines (README: how a deployment gets one), so these
// tests prove the binding really loads libvosk and that every missing-model path is a clear error.

test("stt vosk - the koffi binding loads libvosk and calls into it", () => {
  const api = voskApi();
  // libvosk answers NULL for a folder that holds no model, without crashing the process.
  assert.equal(api.modelNew(join(tmpdir(), "no-such-vosk-model")), null);
});

test("stt vosk - a missing, absent or unreadable model is an EngineUnavailableError naming it", () => {
  assert.throws(() => loadVoskModel(""), EngineUnavailableError);
  assert.throws(() => loadVoskModel(""), /no Vosk model configured \(HOTPIN_STT_VOSK_MODEL_PATH\)/);
  assert.throws(() => loadVoskModel("/nonexistent/vosk-model-small-en-in-0.4"), /not found: \/nonexistent/);
  const empty = mkdtempSync(join(tmpdir(), "vosk-empty-"));
  assert.throws(() => loadVoskModel(empty), new RegExp(`libvosk could not load the model in ${empty}`));
});

test("stt vosk - auto falls back to pocketsphinx and says why; explicit vosk has no engine", () => {
  const base = {
    voskModelPath: "/nonexistent/model",
    voskLibPath: "",
    pocketsphinxModelDir: "/usr/share/pocketsphinx/model/en-us",
    groqApiKey: "",
    groqBaseUrl: "http://127.0.0.1:1",
  };
  const auto = selectEngines({ ...base, engine: "auto" });
  assert.equal(auto.preferred, "pocketsphinx");
  assert.match(auto.reason, /vosk: Vosk model folder not found: \/nonexistent\/model/);
  const vosk = selectEngines({ ...base, engine: "vosk" });
  assert.equal(vosk.preferred, undefined);
  assert.match(vosk.reason, /vosk configured but unavailable/);
});

test("stt vosk - configured without a model: health says so and streams get FAILED_PRECONDITION", async () => {
  await using stt = await startTestStt({
    HOTPIN_STT_ENGINE: "vosk",
    HOTPIN_STT_VOSK_MODEL_PATH: "/nonexistent/vosk-model-small-en-us-0.15",
    HOTPIN_STT_WORKERS: "1",
  });
  assert.match(String(stt.service.check()), /Vosk model folder not found: \/nonexistent\/vosk-model-small-en-us-0.15/);
  const out = await recognize(stt.client, goforward().subarray(0, 8192));
  assert.equal(out.error?.code, grpc.status.FAILED_PRECONDITION);
  assert.match(out.error?.details ?? "", /no STT engine can run/);
});
