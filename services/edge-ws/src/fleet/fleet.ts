import { events } from "@hotpin/contracts";
import type { Logger } from "@hotpin/runtime";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { CommandServer } from "../commands/command-server";
import type { EdgeConfig } from "../config";
import { PendingImages } from "../images/pending-images";
import type { EdgeMetrics } from "../metrics";
import type { DeviceRegistry } from "../session/devices";
import type { Session } from "../session/session";
import { DeviceOwnership } from "./ownership";

/** Image events from every replica; the replica holding the device tells its socket. */
const IMAGE_EVENTS = "hotpin.events.*.imageReceived";

/**
 * What makes one edge replica part of a fleet, all over NATS: device ownership (KV lease),
 * device commands (request/reply), pending images (KV) and image notices from other replicas.
 * Devices are served before NATS is reachable; these start when `attach` is called.
 */
export class Fleet {
  readonly images: PendingImages;
  readonly ownership: DeviceOwnership;
  readonly commands: CommandServer;
  private notices: Subscription | undefined;

  constructor(
    private readonly cfg: EdgeConfig,
    private readonly devices: DeviceRegistry<Session>,
    private readonly log: Logger,
    metrics: EdgeMetrics,
  ) {
    this.images = new PendingImages(cfg.imageTtlSec * 1000, cfg.kvReplicas);
    this.ownership = new DeviceOwnership(
      cfg.instance,
      cfg.ownershipLeaseMs,
      log,
      metrics,
      (deviceId, sessionId) => {
        const session = devices.get(deviceId);
        if (session?.id === sessionId) {
          log.info({ device: deviceId }, "device taken over by another replica");
          session.replace();
        }
      },
      cfg.kvReplicas,
    );
    devices.listen({
      claimed: (deviceId, session) => void this.ownership.claim(deviceId, session.id),
      released: (deviceId, session) => void this.ownership.release(deviceId, session.id),
    });
    this.commands = new CommandServer(devices, cfg, log, metrics);
  }

  async attach(nc: NatsConnection): Promise<void> {
    await this.images.attach(nc);
    await this.ownership.attach(nc);
    this.commands.attach(nc);
    this.notices = nc.subscribe(IMAGE_EVENTS, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const e = events.Event.decode(msg.data);
          if (e.edgeInstance !== this.cfg.instance) this.devices.get(e.deviceId)?.imageReceived();
        } catch {
          // not an event: ignore
        }
      },
    });
    this.log.info("fleet features attached to NATS");
  }

  /** Whether a device id is one this mesh knows now: connected here or on another replica. */
  async connectedAnywhere(deviceId: string): Promise<boolean> {
    if (this.devices.get(deviceId)) return true;
    return (await this.ownership.owner(deviceId)) !== undefined;
  }

  /** Drain, after the devices are closed: no more commands, ownership released. */
  async drain(): Promise<void> {
    this.commands.stop();
    this.notices?.unsubscribe();
    await this.ownership.releaseAll();
    this.ownership.stop();
  }
}
