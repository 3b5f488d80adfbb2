// Rewrites every dashboard file in canonical form (after editing one by hand or exporting it
// from Grafana), then lets Biome format it: `npm run dashboards:fix -w @hotpin/tests`.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { dashboardProblems, normaliseDashboard } from "./dashboard-format";
import { dashboardFiles, ROOT } from "./paths";

let failed = false;
const files = dashboardFiles();
for (const file of files) {
  const dashboard = JSON.parse(readFileSync(file, "utf8"));
  writeFileSync(file, `${JSON.stringify(normaliseDashboard(dashboard), null, 2)}\n`);
  for (const problem of dashboardProblems(dashboard, `hotpin-${basename(file, ".json")}`)) {
    console.error(`${basename(file)}: ${problem}`);
    failed = true;
  }
}
execFileSync("npx", ["biome", "format", "--write", ...files], { cwd: ROOT, stdio: "inherit" });
process.exitCode = failed ? 1 : 0;
