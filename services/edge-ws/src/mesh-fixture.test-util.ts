import { existsSync } from "node:fs";
import { after, before } from "node:test";
import { type FakeGroq, startFakeGroq, startMesh, type TestMesh, type TestMeshOptions } from "@hotpin/test-support";

/** Real speech from Debian's pocketsphinx-testdata: "go forward ten meters". */
export const GOFORWARD = "/usr/share/pocketsphinx/test/data/goforward.raw";

/** Why this file's real-mesh tests cannot run (printed once), or false. */
export function meshSkip(what: string): string | false {
  const skip =
    process.env.HOTPIN_EDGE_SKIP_MESH === "1"
      ? "HOTPIN_EDGE_SKIP_MESH=1"
      : existsSync(GOFORWARD)
        ? false
        : `${GOFORWARD} is missing (Debian package pocketsphinx-testdata)`;
  if (skip) console.log(`# ${what} skipped: ${skip}`);
  return skip;
}

export interface MeshFixture {
  readonly groq: FakeGroq;
  readonly mesh: TestMesh;
  /** ws://…/ws of the mesh's edge. */
  wsUrl(): string;
}

/**
 * One fake Groq answering `answer` and one whole mesh using it, for a test file: started in
 * before(), disposed in after(); nothing starts when `skip` is set.
 */
export function useMesh(skip: string | false, answer: string, options: TestMeshOptions = {}): MeshFixture {
  let groq: FakeGroq | undefined;
  let mesh: TestMesh | undefined;
  before(async () => {
    if (skip) return;
    groq = await startFakeGroq({ defaultAnswer: answer });
    mesh = await startMesh({ ...options, env: { GROQ_API_KEY: "test-key", GROQ_BASE_URL: groq.url, ...options.env } });
  });
  after(async () => {
    await mesh?.[Symbol.asyncDispose]();
    await groq?.[Symbol.asyncDispose]();
  });
  return {
    get groq() {
      if (!groq) throw new Error("the fake Groq is not running");
      return groq;
    },
    get mesh() {
      if (!mesh) throw new Error("the mesh is not running");
      return mesh;
    },
    wsUrl: () => `${(mesh?.edgeUrl ?? "").replace("http", "ws")}/ws`,
  };
}
