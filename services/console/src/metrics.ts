import { Counter, Gauge, type Registry } from "prom-client";

export type ConsoleMetrics = ReturnType<typeof createConsoleMetrics>;

export function createConsoleMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: "hotpin_console_api_requests_total",
      help: "API requests by route and HTTP status",
      labelNames: ["route", "code"],
      registers: [registry],
    }),
    signIns: new Counter({
      name: "hotpin_console_signins_total",
      help: "operator sign-in attempts by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    commands: new Counter({
      name: "hotpin_console_commands_total",
      help: "device commands sent from the console by command and outcome",
      labelNames: ["command", "outcome"],
      registers: [registry],
    }),
    liveClients: new Gauge({
      name: "hotpin_console_live_clients",
      help: "browser live streams open",
      registers: [registry],
    }),
    devices: new Gauge({
      name: "hotpin_console_connected_devices",
      help: "devices connected to the fleet as the console sees it",
      registers: [registry],
    }),
  };
}
