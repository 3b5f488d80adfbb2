import { readFile, stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
};

/**
 * The built front end: files under `dir` (hashed names under assets/ cached for a year), and
 * index.html for every other path so the single-page app's routes load on refresh.
 */
export class StaticFiles {
  constructor(private readonly dir: string) {}

  async serve(path: string, res: ServerResponse): Promise<void> {
    let decoded = "/";
    try {
      decoded = decodeURIComponent(path);
    } catch {
      // A malformed path is no file of ours: the app answers it.
    }
    const rel = normalize(decoded).replace(/^([/\\])+/, "");
    let file = join(this.dir, rel);
    if (!file.startsWith(this.dir + sep) || !(await isFile(file))) file = join(this.dir, "index.html");
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8" });
      res.end("the console's front end is not built (npm run build -w @hotpin/console)\n");
      return;
    }
    const immutable = rel.startsWith("assets/");
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
      "content-length": body.length,
    });
    res.end(body);
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
