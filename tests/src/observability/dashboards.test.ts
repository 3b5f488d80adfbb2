import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { test } from "node:test";
import { canonicalDifference, DATASOURCE, dashboardProblems, normaliseDashboard } from "./dashboard-format";
import { dashboardFiles } from "./paths";

const FIX = "run `npm run dashboards:fix -w @hotpin/tests`";

test("dashboards - the four dashboards are there, each with its fixed uid", () => {
  assert.deepEqual(
    dashboardFiles().map((f) => basename(f)),
    ["events.json", "fleet.json", "runtime.json", "speech.json"],
  );
});

for (const file of dashboardFiles()) {
  const name = basename(file);
  test(`dashboards - ${name} is in canonical form and on the datasource variable`, () => {
    const dashboard = JSON.parse(readFileSync(file, "utf8"));
    assert.deepEqual(dashboardProblems(dashboard, `hotpin-${basename(file, ".json")}`), [], name);
    const difference = canonicalDifference(dashboard);
    assert.equal(difference, undefined, `${name} is not canonical (${difference}); ${FIX}`);
  });
}

test("dashboards - the lint catches an exported dashboard: import inputs, instance ids, unsorted keys, a wrong uid", () => {
  const file = dashboardFiles()[0] ?? "";
  const good = JSON.parse(readFileSync(file, "utf8"));
  const exported = { id: 42, version: 7, ...structuredClone(good) };
  exported.panels[1].datasource = { type: "prometheus", uid: `$${"{"}DS_PROMETHEUS}` };
  assert.notEqual(canonicalDifference(exported), undefined);
  assert.match(dashboardProblems(exported, good.uid).join("\n"), /import input/);
  const normalised = normaliseDashboard(exported);
  assert.equal(normalised.id, undefined);
  assert.deepEqual(normalised.panels[1].datasource, DATASOURCE);
  assert.equal(canonicalDifference(normalised), undefined, "normalising is idempotent");
  assert.match(dashboardProblems(good, "hotpin-other").join("\n"), /uid is "hotpin-/);
  const noQuery = structuredClone(good);
  noQuery.panels[1].targets = [];
  assert.match(dashboardProblems(noQuery, good.uid).join("\n"), /has no query/);
});
