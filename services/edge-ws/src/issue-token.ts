#!/usr/bin/env node
import { readConfig } from "@hotpin/runtime";
import { issueToken } from "./auth";
import { edgeSettings } from "./config";

/**
 * hotpin-edge-token <device-id> [--ttl SECONDS]: prints a signed token for one device, made
 * with HOTPIN_TOKEN_SECRET (the same secret every edge replica checks it with).
 */
function main(argv: string[]): number {
  const args = argv.slice(2);
  const ttlAt = args.indexOf("--ttl");
  const ttlArg = ttlAt >= 0 ? args.splice(ttlAt, 2)[1] : undefined;
  const [deviceId] = args;
  if (!deviceId || args.length !== 1) {
    process.stderr.write("usage: hotpin-edge-token <device-id> [--ttl SECONDS]\n");
    return 2;
  }
  const cfg = readConfig({ secret: edgeSettings.tokenSecret, ttl: edgeSettings.tokenTtlSec });
  const ttl = ttlArg === undefined ? cfg.ttl : Number(ttlArg);
  if (!Number.isInteger(ttl) || ttl < 1) {
    process.stderr.write("--ttl must be a whole number of seconds\n");
    return 2;
  }
  if (!cfg.secret) {
    process.stderr.write("HOTPIN_TOKEN_SECRET is not set: signed tokens need the edge's secret\n");
    return 1;
  }
  try {
    process.stdout.write(`${issueToken(cfg.secret, deviceId, ttl)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv);
