#!/usr/bin/env node
import { DEVICE_ID_RULE, isValidDeviceId, readConfig } from "@hotpin/runtime";
import { issueToken } from "./auth";
import { edgeSettings } from "./config";

const USAGE = "usage: hotpin-edge-token <device-id> [--ttl SECONDS]\n";

/**
 * hotpin-edge-token <device-id> [--ttl SECONDS]: prints a device token (a JWT) for one device,
 * signed with HOTPIN_TOKEN_SECRET (the same secret every edge replica checks it with).
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = argv.slice(2);
  const ttlAt = args.findIndex((a) => a === "--ttl" || a.startsWith("--ttl="));
  let ttlArg: string | undefined;
  if (ttlAt >= 0) {
    const flag = args[ttlAt] as string;
    ttlArg = flag.startsWith("--ttl=") ? flag.slice("--ttl=".length) : args[ttlAt + 1];
    args.splice(ttlAt, flag.startsWith("--ttl=") ? 1 : 2);
  }
  const [deviceId] = args;
  if (!deviceId || args.length !== 1) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (!isValidDeviceId(deviceId)) {
    process.stderr.write(`a device id must be ${DEVICE_ID_RULE}\n`);
    return 2;
  }
  const cfg = readConfig(
    { secret: edgeSettings.tokenSecret, ttl: edgeSettings.tokenTtlSec, maxTtl: edgeSettings.tokenMaxTtlSec },
    env,
  );
  const ttl = ttlArg === undefined ? cfg.ttl : Number(ttlArg);
  if (!Number.isInteger(ttl) || ttl < 1) {
    process.stderr.write("--ttl must be a whole number of seconds\n");
    return 2;
  }
  if (ttl > cfg.maxTtl) {
    process.stderr.write(
      `--ttl may be at most HOTPIN_EDGE_TOKEN_MAX_TTL_SEC (${cfg.maxTtl}); edges refuse longer tokens\n`,
    );
    return 2;
  }
  if (!cfg.secret) {
    process.stderr.write("HOTPIN_TOKEN_SECRET is not set: device tokens need the edge's secret\n");
    return 1;
  }
  try {
    process.stdout.write(`${await issueToken(cfg.secret, deviceId, ttl)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
