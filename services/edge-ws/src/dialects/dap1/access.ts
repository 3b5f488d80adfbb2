import { BlockList, isIP } from "node:net";
import { ConfigError, DEVICE_ID_RULE, isValidDeviceId } from "@hotpin/runtime";

/** "::ffff:10.0.0.5" (an IPv4 client on a dual-stack socket) is 10.0.0.5. */
export function clientAddress(remote: string | undefined): string {
  const a = remote ?? "";
  return a.startsWith("::ffff:") && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

/**
 * Who may speak DAP1 and under which device id. DAP1 carries no credential, so the listener
 * admits only configured client networks; a client is known by its address (docs/protocols/dap1.md) unless
 * the device map names it.
 */
export class Dap1Access {
  private constructor(
    private readonly allowed: BlockList,
    private readonly names: ReadonlyMap<string, string>,
  ) {}

  /** Reads HOTPIN_EDGE_DAP1_ALLOWED_NETWORKS and HOTPIN_EDGE_DAP1_DEVICES; one error lists every bad entry. */
  static fromConfig(cfg: { dap1Port: number; dap1AllowedNetworks: string[]; dap1Devices: string[] }): Dap1Access {
    const problems: string[] = [];
    const allowed = new BlockList();
    if (cfg.dap1Port > 0 && cfg.dap1AllowedNetworks.length === 0) {
      problems.push("HOTPIN_EDGE_DAP1_PORT needs HOTPIN_EDGE_DAP1_ALLOWED_NETWORKS: DAP1 carries no credential");
    }
    for (const entry of cfg.dap1AllowedNetworks) {
      const [net = "", bits] = entry.split("/");
      const family = isIP(net);
      const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
      if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
        problems.push(`HOTPIN_EDGE_DAP1_ALLOWED_NETWORKS: "${entry}" is no address or CIDR network`);
        continue;
      }
      allowed.addSubnet(net, prefix, family === 6 ? "ipv6" : "ipv4");
    }
    const names = new Map<string, string>();
    for (const entry of cfg.dap1Devices) {
      const [address = "", id = ""] = entry.split("=").map((s) => s.trim());
      if (!isIP(address) || !isValidDeviceId(id)) {
        problems.push(`HOTPIN_EDGE_DAP1_DEVICES: "${entry}" must be address=device-id, the id ${DEVICE_ID_RULE}`);
        continue;
      }
      names.set(address, id);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return new Dap1Access(allowed, names);
  }

  allows(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.allowed.check(address, family === 6 ? "ipv6" : "ipv4");
  }

  deviceId(address: string): string {
    return this.names.get(address) ?? address;
  }
}
