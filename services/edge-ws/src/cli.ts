#!/usr/bin/env node
import { events } from "@hotpin/contracts";
import { EVENT_SUBJECTS, forTerminal, isValidDeviceId, readConfig, subjectToken } from "@hotpin/runtime";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { decodeJwt } from "jose";
import { type CommandBody, CommandTimeoutError, DeviceNotConnectedError, sendCommand } from "./commands/send-command";
import { edgeSettings } from "./config";
import { openRevocations, revokeToken } from "./fleet/revocations";
import { observerMessage } from "./observers/observer-format";
import {
  ActivationError,
  activateCode,
  openBindings,
  openCodes,
  putBinding,
  removeBinding,
} from "./xiaozhi-ota/bindings";

const USAGE = `hotpin — operator commands for HotPin devices, over NATS

usage:
  hotpin say <device> <text…>          speak the text on the device now
  hotpin rerecord <device>             ask the device to record again
  hotpin disconnect <device> [reason]  close the device's connection (it may reconnect)
  hotpin state <device>                where the device is connected and what it is doing
  hotpin reset <device>                start the device's conversation over
  hotpin events [--device <id>]…       print device events as JSON lines until interrupted
  hotpin revoke <token>                refuse this device token on every edge from now on
  hotpin activate <code>               bind the xiaozhi device reading out this activation code
  hotpin register <device>             pre-register a xiaozhi device id (its Wi-Fi MAC): no code needed
  hotpin unregister <device>           forget a xiaozhi device's binding (it gets a code again)

options:
  --nats <url>      NATS server(s), comma separated (default $HOTPIN_NATS_URL or nats://127.0.0.1:4222)
  --timeout <ms>    wait this long for the device's edge to answer (default 60000)
  --json            print the reply as JSON

The NATS token, if the server wants one, comes from $HOTPIN_NATS_TOKEN.
exit status: 0 done, 1 refused by the device's edge, 2 device not connected, 3 no answer in time, 64 usage`;

interface Args {
  verb: string;
  positional: string[];
  nats: string;
  timeoutMs: number;
  json: boolean;
  devices: string[];
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Args {
  const args: Args = {
    verb: "",
    positional: [],
    nats: env.HOTPIN_NATS_URL || "nats://127.0.0.1:4222",
    timeoutMs: 60_000,
    json: false,
    devices: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === "--nats") args.nats = value();
    else if (a === "--timeout") {
      args.timeoutMs = Number(value());
      if (!Number.isInteger(args.timeoutMs) || args.timeoutMs <= 0)
        throw new UsageError("--timeout takes milliseconds");
    } else if (a === "--json") args.json = true;
    else if (a === "--device") args.devices.push(value());
    else if (a === "-h" || a === "--help") args.verb = "help";
    else if (a.startsWith("--")) throw new UsageError(`unknown option ${a}`);
    else if (!args.verb) args.verb = a;
    else args.positional.push(a);
  }
  return args;
}

class UsageError extends Error {}

/** The command a verb stands for; throws UsageError for bad usage. */
export function commandFor(verb: string, rest: string[]): { deviceId: string; command: CommandBody } {
  const [deviceId, ...more] = rest;
  if (!deviceId) throw new UsageError(`${verb} needs a device id`);
  if (!isValidDeviceId(deviceId)) throw new UsageError("a device id is 1-128 printable ASCII characters");
  const text = more.join(" ");
  switch (verb) {
    case "say":
      if (!text.trim()) throw new UsageError("say needs a text");
      return { deviceId, command: { $case: "say", value: { text } } };
    case "rerecord":
      return { deviceId, command: { $case: "rerecord", value: { reason: text } } };
    case "disconnect":
      return { deviceId, command: { $case: "disconnect", value: { reason: text } } };
    case "state":
      return { deviceId, command: { $case: "getState", value: {} } };
    case "reset":
      return { deviceId, command: { $case: "resetConversation", value: {} } };
    default:
      throw new UsageError(`unknown command ${verb}`);
  }
}

async function tail(nc: NatsConnection, devices: string[]): Promise<void> {
  const subjects = devices.length > 0 ? devices.map((d) => `hotpin.events.${subjectToken(d)}.>`) : [EVENT_SUBJECTS];
  const subs = subjects.map((s) => nc.subscribe(s));
  await Promise.all(
    subs.map(async (sub) => {
      for await (const msg of sub) {
        try {
          const e = events.Event.decode(msg.data);
          if (devices.length > 0 && !devices.includes(e.deviceId)) continue;
          const m = observerMessage(e);
          if (m) process.stdout.write(`${forTerminal(JSON.stringify(m))}\n`);
        } catch {
          // not an event
        }
      }
    }),
  );
}

/** The xiaozhi verbs: activation codes and bindings in the KV buckets every edge reads. */
const XIAOZHI_VERBS = ["activate", "register", "unregister"];

async function xiaozhi(nc: NatsConnection, verb: string, arg: string): Promise<number> {
  const { ttl, replicas } = readConfig({
    ttl: edgeSettings.xiaozhiCodeTtlSec,
    replicas: edgeSettings.kvReplicas,
  });
  const bindings = await openBindings(nc, replicas);
  try {
    if (verb === "activate") {
      const b = await activateCode(await openCodes(nc, ttl, replicas), bindings, arg);
      process.stdout.write(`${forTerminal(`bound ${b.deviceId}`)}\n`);
    } else if (verb === "register") {
      await putBinding(bindings, { deviceId: arg, boundAt: Date.now(), by: "register" });
      process.stdout.write(`${forTerminal(`registered ${arg}`)}\n`);
    } else {
      const had = await removeBinding(bindings, arg);
      process.stdout.write(`${forTerminal(had ? `unregistered ${arg}` : `${arg} was not bound`)}\n`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof ActivationError)) throw err;
    process.stderr.write(`hotpin: ${err.message}\n`);
    return 1;
  }
}

/** Puts a device token's id on the deny list every edge watches, until the token's expiry. */
async function revoke(nc: NatsConnection, token: string): Promise<number> {
  let claims: { jti?: unknown; exp?: unknown; sub?: unknown };
  try {
    claims = decodeJwt(token);
  } catch {
    process.stderr.write("hotpin: not a device token (JWT)\n");
    return 64;
  }
  if (typeof claims.jti !== "string" || typeof claims.exp !== "number") {
    process.stderr.write("hotpin: the token has no jti/exp\n");
    return 64;
  }
  const { maxTtl } = readConfig({ maxTtl: edgeSettings.tokenMaxTtlSec });
  await revokeToken(await openRevocations(nc, maxTtl), claims.jti, claims.exp * 1000);
  process.stdout.write(`${forTerminal(`revoked token ${claims.jti} of ${String(claims.sub)}`)}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let args: Args;
  let cmd: ReturnType<typeof commandFor> | undefined;
  try {
    args = parseArgs(argv);
    if (args.verb === "help" || !args.verb) {
      process.stdout.write(`${USAGE}\n`);
      return args.verb ? 0 : 64;
    }
    const local = args.verb === "events" || args.verb === "revoke" || XIAOZHI_VERBS.includes(args.verb);
    if (!local) cmd = commandFor(args.verb, args.positional);
    if (args.verb === "revoke" && args.positional.length !== 1) throw new UsageError("revoke needs one token");
    if (XIAOZHI_VERBS.includes(args.verb)) {
      if (args.positional.length !== 1) throw new UsageError(`${args.verb} needs one argument`);
      const arg = args.positional[0] as string;
      if (args.verb !== "activate" && !isValidDeviceId(arg)) {
        throw new UsageError("a device id is 1-128 printable ASCII characters");
      }
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`hotpin: ${err.message}\n\n${USAGE}\n`);
    return 64;
  }
  const { HOTPIN_NATS_TOKEN: token, HOTPIN_NATS_USER: user, HOTPIN_NATS_PASSWORD: pass } = process.env;
  const nc = await connect({
    servers: args.nats.split(","),
    name: "hotpin-cli",
    ...(token ? { token } : {}),
    ...(user ? { user, pass: pass ?? "" } : {}),
  });
  try {
    if (args.verb === "revoke") return await revoke(nc, args.positional[0] as string);
    if (XIAOZHI_VERBS.includes(args.verb)) return await xiaozhi(nc, args.verb, args.positional[0] as string);
    if (!cmd) {
      process.once("SIGINT", () => void nc.close());
      await tail(nc, args.devices);
      return 0;
    }
    const reply = await sendCommand(nc, cmd.deviceId, cmd.command, args.timeoutMs);
    // Device ids, instance names and messages come from the network: escaped for the terminal.
    if (args.json) process.stdout.write(`${forTerminal(JSON.stringify(reply))}\n`);
    else {
      const s = reply.state;
      const where = s ? `${s.deviceId} on ${s.edgeInstance}: ${s.dialect}, ${s.state}, ${s.utterances} utterances` : "";
      const line = reply.ok ? `ok ${where}` : `refused (${reply.errorCode}): ${reply.message}`;
      process.stdout.write(`${forTerminal(line)}\n`);
    }
    return reply.ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`hotpin: ${(err as Error).message}\n`);
    if (err instanceof DeviceNotConnectedError) return 2;
    if (err instanceof CommandTimeoutError) return 3;
    return 1;
  } finally {
    await nc.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`hotpin: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
