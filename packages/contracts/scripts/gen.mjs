// Regenerates src/gen from ../../proto with buf (from npm, works offline) and ts-proto.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const buf = join(pkg, "../../node_modules/.bin/buf");
rmSync(join(pkg, "src/gen"), { recursive: true, force: true });
execFileSync(buf, ["lint", "../../proto"], { cwd: pkg, stdio: "inherit" });
execFileSync(buf, ["generate", "../../proto", "--template", "buf.gen.yaml"], { cwd: pkg, stdio: "inherit" });
