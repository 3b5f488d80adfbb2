import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { events, storage } from "@hotpin/contracts";
import { eventSubject, grpc } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { call, getBlob, putBlob, waitFor } from "./testing/client";
import { postgresDatabase, sqliteDatabase, type TestDatabase } from "./testing/databases";
import { type InProcessStorage, startInProcess } from "./testing/in-process";

const { SessionStatus, LogLevel, TurnRole } = storage;

async function rejectsWith(promise: Promise<unknown>, code: grpc.status): Promise<void> {
  await assert.rejects(promise, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `expected ${grpc.status[code]}, got ${grpc.status[err.code]}: ${err.details}`);
    return true;
  });
}

const suites: Array<{ name: string; db: () => Promise<TestDatabase>; blobs: "nats" | "folder" }> = [
  { name: "sqlite, nats object store", db: sqliteDatabase, blobs: "nats" },
  { name: "sqlite, folder blobs", db: sqliteDatabase, blobs: "folder" },
  { name: "postgres, nats object store", db: postgresDatabase, blobs: "nats" },
];

for (const suite of suites) {
  describe(`storage over gRPC (${suite.name})`, () => {
    let nats: TestNats;
    let db: TestDatabase;
    let s: InProcessStorage;

    before(async () => {
      nats = await startNats();
      db = await suite.db();
      s = await startInProcess(db, nats.url, {
        HOTPIN_STORAGE_BLOB_BACKEND: suite.blobs,
        HOTPIN_STORAGE_DEVICE_QUOTA_BYTES: String(200_000),
        HOTPIN_STORAGE_BLOB_MAX_BYTES: String(150_000),
        HOTPIN_STORAGE_CONSUMER_BATCH: "50",
      });
    });
    after(async () => {
      await s?.[Symbol.asyncDispose]();
      await db?.[Symbol.asyncDispose]();
      await nats?.[Symbol.asyncDispose]();
    });

    test("storage - starts, ends, gets and lists sessions by device and time", async () => {
      const t0 = new Date("2030-01-01T10:00:00Z");
      const started = await call<"startSession", storage.StartSessionRequest, storage.Session>(
        s.client,
        "startSession",
        {
          id: "s-1",
          deviceId: "dev-a",
          dialect: "firmware",
          startedAt: t0,
          edgeInstance: "edge-1",
        },
      );
      assert.equal(started.status, SessionStatus.SESSION_STATUS_ACTIVE);
      assert.equal(started.startedAt?.getTime(), t0.getTime());
      await call(s.client, "startSession", {
        id: "s-2",
        deviceId: "dev-a",
        dialect: "spec",
        startedAt: new Date(t0.getTime() + 60_000),
        edgeInstance: "",
      });
      await call(s.client, "startSession", {
        id: "s-3",
        deviceId: "dev-b",
        dialect: "spec",
        startedAt: t0,
        edgeInstance: "",
      });
      const ended = await call<"endSession", storage.EndSessionRequest, storage.Session>(s.client, "endSession", {
        id: "s-1",
        status: SessionStatus.SESSION_STATUS_ERROR,
        notes: "stt failed twice",
        endedAt: new Date(t0.getTime() + 30_000),
      });
      assert.equal(ended.status, SessionStatus.SESSION_STATUS_ERROR);
      assert.equal(ended.notes, "stt failed twice");
      assert.equal(ended.endedAt?.getTime(), t0.getTime() + 30_000);
      const got = await call<"getSession", storage.GetSessionRequest, storage.Session>(s.client, "getSession", {
        id: "s-1",
      });
      assert.deepEqual(got, ended);

      const all = await call<"listSessions", storage.ListSessionsRequest, storage.ListSessionsResponse>(
        s.client,
        "listSessions",
        { deviceId: "dev-a", limit: 0 },
      );
      assert.deepEqual(
        all.sessions.map((x) => x.id),
        ["s-2", "s-1"],
      );
      const later = await call<"listSessions", storage.ListSessionsRequest, storage.ListSessionsResponse>(
        s.client,
        "listSessions",
        {
          deviceId: "dev-a",
          since: new Date(t0.getTime() + 1),
          limit: 10,
        },
      );
      assert.deepEqual(
        later.sessions.map((x) => x.id),
        ["s-2"],
      );

      await rejectsWith(call(s.client, "getSession", { id: "nope" }), grpc.status.NOT_FOUND);
      await rejectsWith(call(s.client, "endSession", { id: "nope", status: 2, notes: "" }), grpc.status.NOT_FOUND);
      await rejectsWith(call(s.client, "startSession", { id: "", deviceId: "dev-a" }), grpc.status.INVALID_ARGUMENT);
      await rejectsWith(call(s.client, "startSession", { id: "s-1", deviceId: "dev-z" }), grpc.status.INVALID_ARGUMENT);
      await rejectsWith(
        call(s.client, "endSession", { id: "s-2", status: 2, notes: "x".repeat(20_000) }),
        grpc.status.INVALID_ARGUMENT,
      );
    });

    test("storage - appends logs once per key and queries them by session, device, level and time", async () => {
      const t0 = new Date("2020-02-01T00:00:00Z").getTime();
      const entry = (sec: number, level: number, message: string, sessionId = "ls-1") => ({
        entry: { id: 0, time: new Date(t0 + sec * 1000), sessionId, deviceId: "log-dev", level, message },
        key: "",
      });
      const a = await call<"appendLog", storage.AppendLogRequest, storage.AppendLogResponse>(s.client, "appendLog", {
        ...entry(1, LogLevel.LOG_LEVEL_INFO, "hello"),
        key: "k-1",
      });
      const again = await call<"appendLog", storage.AppendLogRequest, storage.AppendLogResponse>(
        s.client,
        "appendLog",
        {
          ...entry(1, LogLevel.LOG_LEVEL_INFO, "hello"),
          key: "k-1",
        },
      );
      assert.equal(again.id, a.id, "the same key appends once");
      await call(s.client, "appendLog", entry(2, LogLevel.LOG_LEVEL_WARNING, "careful"));
      await call(s.client, "appendLog", entry(3, LogLevel.LOG_LEVEL_ERROR, "broken"));
      await call(s.client, "appendLog", entry(4, LogLevel.LOG_LEVEL_DEBUG, "other", "ls-2"));

      type Q = storage.QueryLogsRequest;
      const q = (req: Partial<Q>) =>
        call<"queryLogs", Q, storage.QueryLogsResponse>(s.client, "queryLogs", {
          sessionId: "",
          deviceId: "",
          minLevel: 0,
          limit: 0,
          ...req,
        }).then((r) => r.entries.map((e) => e.message));
      assert.deepEqual(await q({ sessionId: "ls-1" }), ["hello", "careful", "broken"]);
      assert.deepEqual(await q({ deviceId: "log-dev", minLevel: LogLevel.LOG_LEVEL_WARNING }), ["careful", "broken"]);
      assert.deepEqual(await q({ deviceId: "log-dev", since: new Date(t0 + 2000), until: new Date(t0 + 4000) }), [
        "careful",
        "broken",
      ]);
      assert.deepEqual(await q({ deviceId: "log-dev", limit: 1 }), ["hello"]);
      await rejectsWith(call(s.client, "appendLog", { key: "" }), grpc.status.INVALID_ARGUMENT);
      await rejectsWith(call(s.client, "appendLog", entry(5, 99, "bad level")), grpc.status.INVALID_ARGUMENT);
    });

    test("storage - a device's conversation continues across sessions and returns the recent N oldest first", async () => {
      const turn = (i: number, sessionId: string) => ({
        turn: {
          deviceId: "conv-dev",
          sessionId,
          role: i % 2 ? TurnRole.TURN_ROLE_ASSISTANT : TurnRole.TURN_ROLE_USER,
          text: `turn ${i}`,
          time: undefined,
          hadImage: i === 0,
        },
      });
      for (let i = 0; i < 3; i++) await call(s.client, "appendTurn", turn(i, "first-connection"));
      // A reconnect (new session, maybe another edge replica) continues the same conversation.
      for (let i = 3; i < 5; i++) await call(s.client, "appendTurn", turn(i, "second-connection"));
      const recent = await call<"recentTurns", storage.RecentTurnsRequest, storage.RecentTurnsResponse>(
        s.client,
        "recentTurns",
        {
          deviceId: "conv-dev",
          limit: 3,
        },
      );
      assert.deepEqual(
        recent.turns.map((t) => t.text),
        ["turn 2", "turn 3", "turn 4"],
      );
      const all = await call<"recentTurns", storage.RecentTurnsRequest, storage.RecentTurnsResponse>(
        s.client,
        "recentTurns",
        {
          deviceId: "conv-dev",
          limit: 0,
        },
      );
      assert.equal(all.turns.length, 5);
      assert.equal(all.turns[0]?.hadImage, true);
      await call(s.client, "clearConversation", { deviceId: "conv-dev" });
      const cleared = await call<"recentTurns", storage.RecentTurnsRequest, storage.RecentTurnsResponse>(
        s.client,
        "recentTurns",
        {
          deviceId: "conv-dev",
          limit: 0,
        },
      );
      assert.deepEqual(cleared.turns, []);
      await rejectsWith(
        call(s.client, "appendTurn", { turn: { ...turn(0, "x").turn, role: 0 } }),
        grpc.status.INVALID_ARGUMENT,
      );
    });

    test("storage - a conversation idle past its TTL is empty and the next turn starts a new one", async () => {
      const conv = s.components.parts.conversations;
      const now = Date.now();
      const ttl = s.cfg.conversationIdleTtlS * 1000;
      const turn = (text: string) => ({
        turn: {
          deviceId: "idle-dev",
          sessionId: "",
          role: TurnRole.TURN_ROLE_USER,
          text,
          time: undefined,
          hadImage: false,
          interrupted: false,
        },
      });
      await conv.append(turn("old"), now);
      assert.equal((await conv.recent({ deviceId: "idle-dev", limit: 0 }, now + ttl - 1)).turns.length, 1);
      assert.deepEqual((await conv.recent({ deviceId: "idle-dev", limit: 0 }, now + ttl + 1)).turns, []);
      await conv.append(turn("new"), now + ttl + 1);
      const after = await conv.recent({ deviceId: "idle-dev", limit: 0 }, now + ttl + 2);
      assert.deepEqual(
        after.turns.map((t) => t.text),
        ["new"],
      );
    });

    test("storage - puts and streams back a blob byte for byte, and deletes it", async () => {
      const data = Buffer.alloc(100_000);
      for (let i = 0; i < data.length; i++) data[i] = (i * 31) % 251;
      const info = await putBlob(
        s.client,
        { deviceId: "blob-dev", contentType: "image/jpeg", kind: "image", sessionId: "bs-1" },
        data,
      );
      assert.equal(info.sizeBytes, data.length);
      assert.equal(info.sha256, createHash("sha256").update(data).digest("hex"));
      assert.equal(info.contentType, "image/jpeg");
      const back = await getBlob(s.client, info.id);
      assert.deepEqual(back.info, info);
      assert.ok(back.data.equals(data), "same bytes back");
      await call(s.client, "deleteBlob", { id: info.id });
      await rejectsWith(getBlob(s.client, info.id), grpc.status.NOT_FOUND);
      await rejectsWith(call(s.client, "deleteBlob", { id: info.id }), grpc.status.NOT_FOUND);
      await rejectsWith(
        putBlob(s.client, { deviceId: "blob-dev", contentType: "not a type", kind: "image" }, data),
        grpc.status.INVALID_ARGUMENT,
      );
    });

    test("storage - refuses a blob beyond the device quota with RESOURCE_EXHAUSTED and keeps nothing of it", async () => {
      const meta = { deviceId: "quota-dev", contentType: "audio/wav", kind: "reply-audio" };
      const first = await putBlob(s.client, meta, Buffer.alloc(120_000, 1));
      await rejectsWith(putBlob(s.client, meta, Buffer.alloc(120_000, 2)), grpc.status.RESOURCE_EXHAUSTED);
      assert.equal(
        await s.components.parts.blobs.usage("quota-dev"),
        120_000,
        "the refused upload left no bytes counted",
      );
      // Another device has its own quota; one blob may not exceed the per-blob limit.
      await putBlob(s.client, { ...meta, deviceId: "quota-dev-2" }, Buffer.alloc(120_000, 3));
      await rejectsWith(
        putBlob(s.client, { ...meta, deviceId: "quota-dev-3" }, Buffer.alloc(160_000, 3)),
        grpc.status.INVALID_ARGUMENT,
      );
      // Freeing space makes room again.
      await call(s.client, "deleteBlob", { id: first.id });
      await putBlob(s.client, meta, Buffer.alloc(120_000, 4));
    });

    test("storage - download tokens resolve to their blob until they expire, then NOT_FOUND", async () => {
      const info = await putBlob(
        s.client,
        { deviceId: "tok-dev", contentType: "audio/wav", kind: "reply-audio" },
        Buffer.from("RIFF"),
      );
      const token = await call<"createDownloadToken", storage.CreateDownloadTokenRequest, storage.DownloadToken>(
        s.client,
        "createDownloadToken",
        { blobId: info.id, ttlSeconds: 0 },
      );
      assert.match(token.token, /^[A-Za-z0-9_-]{43,}$/, "URL-safe, at least 128 random bits");
      const ttl = (token.expiresAt?.getTime() ?? 0) - Date.now();
      assert.ok(ttl > 290_000 && ttl <= 300_000, `default expiry is 300 s (got ${ttl} ms)`);
      const resolved = await call<"resolveDownloadToken", storage.ResolveDownloadTokenRequest, storage.BlobInfo>(
        s.client,
        "resolveDownloadToken",
        { token: token.token },
      );
      assert.equal(resolved.id, info.id);
      await rejectsWith(
        // One character changed (the last one holds only 4 bits, so "A" there was sometimes no change).
        call(s.client, "resolveDownloadToken", {
          token: `${token.token[0] === "A" ? "B" : "A"}${token.token.slice(1)}`,
        }),
        grpc.status.NOT_FOUND,
      );
      await rejectsWith(
        call(s.client, "createDownloadToken", { blobId: "missing", ttlSeconds: 0 }),
        grpc.status.NOT_FOUND,
      );
      // Past its expiry the token resolves to NOT_FOUND.
      await assert.rejects(
        s.components.parts.tokens.resolve({ token: token.token }, (token.expiresAt?.getTime() ?? 0) + 1),
        (err: { code: number }) => err.code === grpc.status.NOT_FOUND,
      );
    });

    test("storage - retention removes expired blobs, tokens, idle conversations and old logs", async () => {
      const info = await putBlob(
        s.client,
        { deviceId: "ret-dev", contentType: "image/png", kind: "image", ttlSeconds: 60 },
        Buffer.alloc(1000, 7),
      );
      await call(s.client, "createDownloadToken", { blobId: info.id, ttlSeconds: 30 });
      await call(s.client, "appendTurn", {
        turn: { deviceId: "ret-dev", sessionId: "", role: TurnRole.TURN_ROLE_USER, text: "hi", hadImage: false },
      });
      const later = Date.now() + 61_000;
      const counts = await s.components.retention.runOnce(later + s.cfg.logRetentionDays * 86_400_000);
      assert.ok(
        counts.blobs >= 1 && counts.tokens >= 1 && counts.conversations >= 1 && counts.logs >= 1,
        JSON.stringify(counts),
      );
      await rejectsWith(getBlob(s.client, info.id), grpc.status.NOT_FOUND);
      assert.equal(await s.components.backend.get(info.id), undefined, "the bytes are gone from the backend");
      const logs = await call<"queryLogs", storage.QueryLogsRequest, storage.QueryLogsResponse>(s.client, "queryLogs", {
        sessionId: "",
        deviceId: "log-dev",
        minLevel: 0,
        limit: 0,
      });
      assert.deepEqual(logs.entries, []);
    });

    test("storage - the blob store gauges follow uploads, deletes and retention, and match the database", async () => {
      const gauges = async () => ({
        bytes: (await s.metrics.blobStoreBytes.get()).values[0]?.value ?? Number.NaN,
        blobs: (await s.metrics.blobStoreBlobs.get()).values[0]?.value ?? Number.NaN,
      });
      const inDatabase = async () => {
        const rows = await s.components.database.db.selectFrom("blobs").select("size_bytes").execute();
        return { bytes: rows.reduce((n, r) => n + Number(r.size_bytes), 0), blobs: rows.length };
      };
      const before = await gauges();
      assert.deepEqual(before, await inDatabase(), "read from the database at start");
      const meta = { deviceId: "gauge-dev", contentType: "image/png", kind: "image" };
      const kept = await putBlob(s.client, meta, Buffer.alloc(1000, 1));
      await putBlob(s.client, { ...meta, ttlSeconds: 60 }, Buffer.alloc(500, 2));
      assert.deepEqual(await gauges(), { bytes: before.bytes + 1500, blobs: before.blobs + 2 });
      // A refused upload leaves nothing counted.
      await rejectsWith(putBlob(s.client, meta, Buffer.alloc(160_000, 3)), grpc.status.INVALID_ARGUMENT);
      await call(s.client, "deleteBlob", { id: kept.id });
      assert.deepEqual(await gauges(), { bytes: before.bytes + 500, blobs: before.blobs + 1 });
      assert.deepEqual(await gauges(), await inDatabase());
      // Retention removes the one that expired; the gauges follow (and are read from the database again).
      const counts = await s.components.retention.runOnce(Date.now() + 61_000);
      assert.ok(counts.blobs >= 1, JSON.stringify(counts));
      assert.deepEqual(await gauges(), await inDatabase());
      assert.deepEqual(await gauges(), before);
    });

    test("storage - writes sessions and logs from the event stream, errors at error level, no user text", async () => {
      const js = jetstream(s.nc);
      const t0 = new Date("2030-03-01T00:00:00Z").getTime();
      const base = { deviceId: "ev-dev", sessionId: "ev-s1", edgeInstance: "edge-7" };
      const evs: events.Event[] = [
        {
          ...base,
          id: "e1",
          time: new Date(t0),
          payload: { $case: "connected", value: { dialect: "firmware", remoteAddress: "" } },
        },
        {
          ...base,
          id: "e2",
          time: new Date(t0 + 1),
          payload: {
            $case: "transcript",
            value: { utterance: 1, text: "my secret words", confidence: 0.9, durationMs: 800 },
          },
        },
        {
          ...base,
          id: "e3",
          time: new Date(t0 + 2),
          payload: { $case: "error", value: { code: "stt_failed", message: "engine down" } },
        },
        {
          ...base,
          id: "e4",
          time: new Date(t0 + 3),
          payload: { $case: "log", value: { level: "warning", message: "edge says hi" } },
        },
        {
          ...base,
          id: "e5",
          time: new Date(t0 + 4),
          payload: { $case: "disconnected", value: { closeCode: 1006, reason: "gone", clean: false } },
        },
      ];
      for (const ev of evs) {
        const h = headers();
        h.set("Nats-Msg-Id", ev.id);
        await js.publish(eventSubject(ev.deviceId, ev.payload?.$case ?? "log"), events.Event.encode(ev).finish(), {
          headers: h,
          msgID: ev.id,
        });
      }
      // A message that is not an Event is kept as an error row, not dropped and not crashing the consumer.
      await js.publish("hotpin.events.ev-dev.log", new Uint8Array([0xff, 0xff, 0xff]), { msgID: "garbage-1" });
      const logs = await waitFor(
        async () => {
          const r = await call<"queryLogs", storage.QueryLogsRequest, storage.QueryLogsResponse>(
            s.client,
            "queryLogs",
            {
              sessionId: "ev-s1",
              deviceId: "",
              minLevel: 0,
              limit: 0,
            },
          );
          return r.entries.length === 5 ? r.entries : undefined;
        },
        10_000,
        "5 event logs",
      );
      assert.deepEqual(
        logs.map((l) => l.level),
        [
          LogLevel.LOG_LEVEL_INFO,
          LogLevel.LOG_LEVEL_INFO,
          LogLevel.LOG_LEVEL_ERROR,
          LogLevel.LOG_LEVEL_WARNING,
          LogLevel.LOG_LEVEL_WARNING,
        ],
      );
      assert.equal(logs[3]?.message, "edge says hi", "the Log payload is stored as sent");
      assert.ok(!logs.some((l) => l.message.includes("secret")), "no transcript text in the log");
      const session = await call<"getSession", storage.GetSessionRequest, storage.Session>(s.client, "getSession", {
        id: "ev-s1",
      });
      assert.equal(session.deviceId, "ev-dev");
      assert.equal(session.dialect, "firmware");
      assert.equal(session.edgeInstance, "edge-7");
      assert.equal(session.startedAt?.getTime(), t0);
      assert.equal(session.endedAt?.getTime(), t0 + 4);
      assert.equal(session.status, SessionStatus.SESSION_STATUS_ERROR);
      await waitFor(
        async () => ((await s.metrics.eventsUndecodable.get()).values[0]?.value === 1 ? true : undefined),
        5_000,
        "undecodable counted",
      );
      assert.equal(s.components.consumer.check(), true);
    });
  });
}
