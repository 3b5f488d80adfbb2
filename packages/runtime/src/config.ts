import { z } from "zod";
import { ConfigError } from "./errors";

/** One setting read from the environment, with its default and what it is for. */
export interface Setting<T> {
  env: string;
  doc: string;
  secret: boolean;
  read(raw: string | undefined): T;
}

type Values<S> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/**
 * Reads every setting and throws one ConfigError naming all the bad ones, so a start-up
 * failure shows the whole list at once rather than one variable per restart.
 */
export function readConfig<S extends Record<string, Setting<unknown>>>(
  settings: S,
  env: NodeJS.ProcessEnv = process.env,
): Values<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, setting] of Object.entries(settings)) {
    const raw = env[setting.env];
    try {
      out[key] = setting.read(raw === "" ? undefined : raw);
    } catch (err) {
      const shown = setting.secret || raw === undefined ? "" : ` (got ${JSON.stringify(raw)})`;
      problems.push(`${setting.env}: ${(err as Error).message}${shown} — ${setting.doc}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as Values<S>;
}

function setting<T>(
  env: string,
  doc: string,
  schema: z.ZodType<T>,
  fallback: T | undefined,
  secret = false,
): Setting<T> {
  return {
    env,
    doc,
    secret,
    read(raw) {
      if (raw === undefined) {
        if (fallback === undefined) throw new Error("required");
        return fallback;
      }
      const parsed = schema.safeParse(raw);
      if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join("; "));
      return parsed.data;
    },
  };
}

export interface Range {
  min?: number;
  max?: number;
}

export function int(env: string, fallback: number | undefined, doc: string, range: Range = {}) {
  let schema = z.coerce.number().int("must be a whole number");
  if (range.min !== undefined) schema = schema.min(range.min, `must be at least ${range.min}`);
  if (range.max !== undefined) schema = schema.max(range.max, `must be at most ${range.max}`);
  return setting(env, doc, schema, fallback);
}

export function num(env: string, fallback: number | undefined, doc: string, range: Range = {}) {
  let schema = z.coerce.number();
  if (range.min !== undefined) schema = schema.min(range.min, `must be at least ${range.min}`);
  if (range.max !== undefined) schema = schema.max(range.max, `must be at most ${range.max}`);
  return setting(env, doc, schema, fallback);
}

export function port(env: string, fallback: number, doc: string) {
  return int(env, fallback, doc, { min: 0, max: 65535 });
}

export function str(env: string, fallback: string | undefined, doc: string) {
  return setting(env, doc, z.string(), fallback);
}

/** A value that never appears in logs or error messages. Empty when unset. */
export function secret(env: string, doc: string) {
  return setting(env, doc, z.string(), "", true);
}

export function bool(env: string, fallback: boolean, doc: string) {
  const schema = z
    .enum(["true", "false", "1", "0", "yes", "no", "on", "off"], "must be true or false")
    .transform((v) => ["true", "1", "yes", "on"].includes(v));
  return setting(env, doc, schema, fallback);
}

export function oneOf<const T extends string>(env: string, values: readonly T[], fallback: T, doc: string) {
  return setting(env, doc, z.enum(values as unknown as [T, ...T[]], `must be one of ${values.join(", ")}`), fallback);
}

/** A comma-separated list; empty when unset. */
export function list(env: string, doc: string, fallback: string[] = []) {
  const schema = z.string().transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return setting(env, doc, schema, fallback);
}
