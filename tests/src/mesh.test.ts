import assert from "node:assert/strict";
import { test } from "node:test";
import { Metadata } from "@grpc/grpc-js";
import { health } from "@hotpin/contracts";
import { createGrpcClient, deadlineIn } from "@hotpin/runtime";
import { startFakeGroq, startMesh } from "@hotpin/test-support";

const grpcServices = [
  ["stt", "hotpin.stt.v1.SpeechToText"],
  ["llm", "hotpin.llm.v1.LanguageModel"],
  ["tts", "hotpin.tts.v1.TextToSpeech"],
  ["storage", "hotpin.storage.v1.Storage"],
] as const;

function check(address: string, service: string): Promise<health.HealthCheckResponse_ServingStatus> {
  const client = createGrpcClient(health.HealthClient, address);
  return new Promise((resolve, reject) =>
    client.check({ service }, new Metadata(), { deadline: deadlineIn(5_000) }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res.status);
    }),
  );
}

test("mesh - every gRPC service answers health SERVING and every process serves /metrics; stop leaves no process", async () => {
  await using groq = await startFakeGroq();
  const mesh = await startMesh({ env: { GROQ_API_KEY: "test-key", GROQ_BASE_URL: groq.url } });
  const pids: number[] = [];
  try {
    for (const [name, service] of grpcServices) {
      assert.equal(await check(mesh.address(name), service), health.HealthCheckResponse_ServingStatus.SERVING, name);
      assert.equal(await check(mesh.address(name), ""), health.HealthCheckResponse_ServingStatus.SERVING, name);
    }
    for (const name of ["edge", "stt", "llm", "tts", "storage"] as const) {
      const res = await fetch(`http://127.0.0.1:${mesh.mesh.ports[name].metricsPort}/metrics`);
      assert.equal(res.status, 200, name);
      assert.match(await res.text(), /^hotpin_process_cpu_seconds_total/m, name);
      const pid = mesh.mesh.pid(name);
      assert.ok(pid, name);
      pids.push(pid);
    }
  } finally {
    await mesh[Symbol.asyncDispose]();
  }
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `process ${pid} is gone`);
});
