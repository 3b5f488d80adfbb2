import { events } from "@hotpin/contracts";
import { observerMessage } from "@hotpin/edge-ws/dist/observers/observer-format";
import { EVENT_SUBJECTS, type Logger } from "@hotpin/runtime";
import type { KV } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type {
  DeviceDetail,
  DeviceView,
  FleetCounts,
  FleetSnapshot,
  LiveMessage,
  TimelineEntry,
  TurnLatency,
} from "../api-types";
import { followBucket } from "./buckets";

/** The edge's buckets (services/edge-ws/src/fleet/ownership.ts, images/pending-images.ts). */
export const OWNER_BUCKET = "hotpin_device_owners";
export const PENDING_IMAGE_BUCKET = "hotpin_pending_images";

const TURNS_KEPT = 50;
const IMAGES_KEPT = 20;
const RECONCILE_MS = 10_000;

export interface FleetOptions {
  maxDevices: number;
  timelineEvents: number;
  /** Asks the replica holding a device what it is doing (for devices connected before the console started). */
  getState?: (deviceId: string) => Promise<Partial<DeviceView> | undefined>;
  log: Logger;
}

interface Tracked {
  view: DeviceView;
  timeline: TimelineEntry[];
  turns: TurnLatency[];
  /** Images the edge pointed the device's next turn at: full blob id → thumbnail blob id. */
  images: { blobId: string; thumbnailBlobId: string; uploadedAt: number }[];
  /** Thumbnail of the image waiting for the next turn, if any. */
  pendingThumbnail?: string;
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every device of the fleet across edge replicas: who is connected where from the ownership KV
 * (the edge's truth), what each is doing from the event stream (live, core NATS: the console
 * shows, storage keeps). Bounded: devices, timeline entries and turns per device.
 */
export class Fleet {
  private readonly devices = new Map<string, Tracked>();
  private readonly listeners = new Set<(m: LiveMessage) => void>();
  private readonly abort = new AbortController();
  private owners: KV | undefined;
  private sub: Subscription | undefined;
  private watchers: { stop(): void }[] = [];
  /** Ownership KV key → device id, from the entries' values (keys are hashes of long ids). */
  private readonly ownerKeys = new Map<string, string>();
  private reconcileTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: FleetOptions) {}

  async attach(nc: NatsConnection): Promise<void> {
    this.sub = nc.subscribe(EVENT_SUBJECTS);
    const sub = this.sub;
    void (async () => {
      for await (const msg of sub) {
        try {
          this.onEvent(events.Event.decode(msg.data));
        } catch {
          // Not an event: storage records those; the console ignores them.
        }
      }
    })().catch((err) => this.opts.log.warn({ err: (err as Error).message }, "event subscription ended"));
    // The buckets appear when the first edge starts; the console may start before it.
    followBucket(nc, OWNER_BUCKET, this.abort.signal, this.opts.log, (kv) => this.watchOwners(kv));
    followBucket(nc, PENDING_IMAGE_BUCKET, this.abort.signal, this.opts.log, (kv) => this.watchImages(kv));
  }

  stop(): void {
    this.abort.abort();
    clearInterval(this.reconcileTimer);
    for (const w of this.watchers) w.stop();
    this.sub?.unsubscribe();
  }

  get watchingOwners(): boolean {
    return this.owners !== undefined;
  }

  subscribe(fn: (m: LiveMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  snapshot(): FleetSnapshot {
    const devices = [...this.devices.values()].map((d) => d.view);
    devices.sort((a, b) => Number(b.connected) - Number(a.connected) || a.deviceId.localeCompare(b.deviceId));
    return { devices, counts: this.counts() };
  }

  detail(deviceId: string): DeviceDetail {
    const d = this.devices.get(deviceId);
    return { device: d?.view, timeline: d?.timeline ?? [], turns: d?.turns ?? [] };
  }

  /** The thumbnail of the last image seen uploaded by the device before `time`. */
  thumbnailBefore(deviceId: string, time: number): string | undefined {
    const images = this.devices.get(deviceId)?.images ?? [];
    let best: string | undefined;
    for (const i of images) if (i.uploadedAt <= time) best = i.thumbnailBlobId;
    return best;
  }

  /** Whether a blob is a thumbnail the edge stored for this console's devices (served only then). */
  isThumbnail(blobId: string): boolean {
    for (const d of this.devices.values()) if (d.images.some((i) => i.thumbnailBlobId === blobId)) return true;
    return false;
  }

  counts(): FleetCounts {
    const c: FleetCounts = { connected: 0, replicas: {}, states: {} };
    for (const { view } of this.devices.values()) {
      if (!view.connected) continue;
      c.connected++;
      c.replicas[view.replica] = (c.replicas[view.replica] ?? 0) + 1;
      c.states[view.state] = (c.states[view.state] ?? 0) + 1;
    }
    return c;
  }

  private emit(m: LiveMessage): void {
    for (const fn of this.listeners) fn(m);
  }

  private changed(d: Tracked): void {
    this.emit({ type: "device", device: d.view });
    this.emit({ type: "counts", counts: this.counts() });
  }

  private track(deviceId: string): Tracked {
    let d = this.devices.get(deviceId);
    if (!d) {
      d = {
        view: {
          deviceId,
          connected: false,
          replica: "",
          sessionId: "",
          dialect: "",
          state: "",
          lastActivity: 0,
          since: 0,
          utterances: 0,
        },
        timeline: [],
        turns: [],
        images: [],
      };
      this.devices.set(deviceId, d);
      this.evict();
    }
    return d;
  }

  /** Beyond the bound, the devices gone longest are forgotten (connected ones are kept). */
  private evict(): void {
    if (this.devices.size <= this.opts.maxDevices) return;
    const gone = [...this.devices.values()].filter((d) => !d.view.connected);
    gone.sort((a, b) => a.view.lastActivity - b.view.lastActivity);
    for (const d of gone.slice(0, this.devices.size - this.opts.maxDevices)) this.devices.delete(d.view.deviceId);
  }

  private async watchOwners(kv: KV): Promise<void> {
    this.owners = kv;
    const watch = await kv.watch();
    this.watchers.push(watch);
    this.reconcileTimer = setInterval(() => void this.reconcile(), RECONCILE_MS);
    this.reconcileTimer.unref();
    for await (const e of watch) {
      // A key is not reversible (services/edge-ws/src/fleet/kv-bucket.ts): the value names the device.
      if (e.operation === "PUT") {
        const v = parseJson(e.string());
        if (!v || typeof v.deviceId !== "string" || typeof v.instance !== "string" || typeof v.sessionId !== "string") {
          continue;
        }
        this.ownerKeys.set(e.key, v.deviceId);
        this.owned(v.deviceId, v.instance, v.sessionId, typeof v.since === "number" ? v.since : Date.now());
      } else {
        const deviceId = this.ownerKeys.get(e.key);
        this.ownerKeys.delete(e.key);
        const d = deviceId === undefined ? undefined : this.devices.get(deviceId);
        if (d?.view.connected) {
          d.view.connected = false;
          this.changed(d);
        }
      }
    }
  }

  private owned(deviceId: string, replica: string, sessionId: string, since: number): void {
    const d = this.track(deviceId);
    const known = d.view.connected && d.view.sessionId === sessionId && d.view.dialect !== "";
    Object.assign(d.view, { connected: true, replica, sessionId, since });
    d.view.lastActivity = Math.max(d.view.lastActivity, since);
    this.changed(d);
    if (!known && this.opts.getState) {
      // Connected before the console was watching: ask its replica what it is.
      void this.opts
        .getState(deviceId)
        .then((s) => {
          if (!s || d.view.sessionId !== s.sessionId) return;
          Object.assign(d.view, s);
          this.changed(d);
        })
        .catch(() => undefined);
    }
  }

  /** Entries that expired (a replica died) leave no delete behind: compare with the keys now. */
  private async reconcile(): Promise<void> {
    const kv = this.owners;
    if (!kv) return;
    try {
      const live = new Set<string>();
      for await (const k of await kv.keys()) {
        const deviceId = this.ownerKeys.get(k);
        if (deviceId !== undefined) live.add(deviceId);
      }
      for (const d of this.devices.values()) {
        if (d.view.connected && !live.has(d.view.deviceId)) {
          d.view.connected = false;
          this.changed(d);
        }
      }
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, "ownership keys not read");
    }
  }

  private async watchImages(kv: KV): Promise<void> {
    const watch = await kv.watch({ include: "updates" });
    this.watchers.push(watch);
    for await (const e of watch) {
      if (e.operation !== "PUT") continue;
      const v = parseJson(e.string());
      if (
        !v ||
        typeof v.deviceId !== "string" ||
        typeof v.blobId !== "string" ||
        typeof v.thumbnailBlobId !== "string"
      ) {
        continue;
      }
      const d = this.track(v.deviceId);
      const image = {
        blobId: v.blobId,
        thumbnailBlobId: v.thumbnailBlobId,
        uploadedAt: typeof v.uploadedAt === "number" ? v.uploadedAt : Date.now(),
      };
      d.images.push(image);
      if (d.images.length > IMAGES_KEPT) d.images.shift();
      d.pendingThumbnail = image.thumbnailBlobId;
      // The image_received event may have come first: give its entry the thumbnail now.
      const entry = d.timeline.find((t) => t.event === "image_received" && t.fields.blob_id === image.blobId);
      if (entry && !entry.thumbnailBlobId) {
        entry.thumbnailBlobId = image.thumbnailBlobId;
        this.emit({ type: "timeline", deviceId: d.view.deviceId, entry });
      }
    }
  }

  private onEvent(e: events.Event): void {
    const p = e.payload;
    const shown = observerMessage(e);
    if (!p || !shown || !e.deviceId) return;
    const d = this.track(e.deviceId);
    const time = e.time ? e.time.getTime() : Date.now();
    const v = d.view;
    v.lastActivity = Math.max(v.lastActivity, time);
    // Where the device is comes from the ownership KV; an old session's late events do not move it back.
    const current = !v.sessionId || v.sessionId === e.sessionId || p.$case === "connected";
    if (e.edgeInstance && current) v.replica = e.edgeInstance;
    switch (p.$case) {
      case "connected":
        Object.assign(v, { connected: true, sessionId: e.sessionId, dialect: p.value.dialect, since: time });
        v.utterances = 0;
        v.state = v.state || "idle";
        break;
      case "disconnected":
        // A device that moved to another connection is still connected there.
        if (v.sessionId === e.sessionId) Object.assign(v, { connected: false, state: "disconnected" });
        break;
      case "stateChanged":
        if (current) v.state = p.value.to;
        break;
      case "recordingStarted":
        v.utterances = Math.max(v.utterances, p.value.utterance);
        break;
    }
    this.turnTiming(d, e, time);
    const { event, id: _id, session_id: _s, device_id: _d, edge_instance: _i, timestamp: _t, ...fields } = shown;
    const entry: TimelineEntry = {
      id: e.id,
      event: String(event),
      time,
      fields: { ...fields, session_id: e.sessionId },
    };
    if (p.$case === "imageReceived") {
      const known = d.images.find((i) => i.blobId === p.value.blobId);
      if (known) entry.thumbnailBlobId = known.thumbnailBlobId;
    }
    this.addEntry(d, entry, p.$case === "partial");
    this.changed(d);
  }

  /** A partial replaces the partial just before it, so a long utterance takes one entry, not hundreds. */
  private addEntry(d: Tracked, entry: TimelineEntry, partial: boolean): void {
    const last = d.timeline.at(-1);
    if (partial && last && last.event === "transcription" && last.fields.is_final === false) d.timeline.pop();
    d.timeline.push(entry);
    if (d.timeline.length > this.opts.timelineEvents) d.timeline.shift();
    this.emit({ type: "timeline", deviceId: d.view.deviceId, entry });
  }

  private turnTiming(d: Tracked, e: events.Event, time: number): void {
    const p = e.payload!;
    const utterance = "utterance" in p.value ? (p.value as { utterance: number }).utterance : undefined;
    if (utterance === undefined) {
      if (p.$case === "error") {
        const open = d.turns.findLast((t) => t.sessionId === e.sessionId && t.outcome === "pending");
        if (open) this.finishTurn(d, open, "error");
      }
      return;
    }
    let turn = d.turns.find((t) => t.sessionId === e.sessionId && t.utterance === utterance);
    if (p.$case === "recordingStopped") {
      turn = { utterance, sessionId: e.sessionId, at: time, hadImage: false, outcome: "pending" };
      d.turns.push(turn);
      if (d.turns.length > TURNS_KEPT) d.turns.shift();
      return;
    }
    if (turn?.outcome !== "pending") return;
    switch (p.$case) {
      case "transcript":
        turn.sttMs = time - turn.at;
        break;
      case "llmText":
        turn.llmMs = time - turn.at - (turn.sttMs ?? 0);
        turn.hadImage = p.value.hadImage;
        if (p.value.hadImage && d.pendingThumbnail) turn.thumbnailBlobId = d.pendingThumbnail;
        d.pendingThumbnail = undefined;
        break;
      case "ttsDone":
        turn.replyMs = time - turn.at;
        this.finishTurn(d, turn, "replied");
        return;
      case "rerecord":
        this.finishTurn(d, turn, "rerecord");
        return;
      default:
        return;
    }
    this.emit({ type: "turn", deviceId: d.view.deviceId, turn });
  }

  private finishTurn(d: Tracked, turn: TurnLatency, outcome: TurnLatency["outcome"]): void {
    turn.outcome = outcome;
    this.emit({ type: "turn", deviceId: d.view.deviceId, turn });
  }
}
