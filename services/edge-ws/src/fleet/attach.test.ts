import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger } from "@hotpin/runtime";
import { attachUntilDone } from "./attach";

test("attach - a step that fails after connect is retried until it succeeds, then the next runs", async () => {
  const ran: string[] = [];
  let failures = 2;
  await attachUntilDone(
    createLogger("t", "silent"),
    [
      [
        "stream",
        async () => {
          ran.push("stream");
          if (failures-- > 0) throw new Error("no leader yet");
        },
      ],
      ["fleet", async () => void ran.push("fleet")],
    ],
    5,
  );
  assert.deepEqual(ran, ["stream", "stream", "stream", "fleet"]);
});
