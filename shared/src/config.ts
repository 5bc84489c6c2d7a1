// Configuration from a JSON file and command-line flags, validated up front
// against one declaration per program: unknown keys are rejected with the
// nearest known one, every value is type- and range-checked, and the result
// is frozen. Precedence: flag > file > default.

import { readFileSync } from "node:fs";
import { nearest } from "./cli-args.js";
import { OddwireError } from "./errors.js";
import { isObject } from "./ports.js";

export type FieldSpec =
  | { type: "string"; default?: string; description: string; pattern?: RegExp; patternHint?: string }
  | { type: "integer"; default?: number; description: string; min?: number; max?: number }
  | { type: "boolean"; default?: boolean; description: string }
  | { type: "object"; default?: unknown; description: string; check?: (value: unknown, key: string) => unknown };

export type ConfigSchema = Record<string, FieldSpec>;

export type ConfigValues = Readonly<Record<string, unknown>>;

/** camelCase key ↔ --kebab-case flag. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * Reads the file (if any), overlays flags (already parsed, keyed by flag
 * name), fills defaults and validates everything.
 */
export function loadConfig(schema: ConfigSchema, opts: { file?: string | undefined; flags?: Record<string, unknown> }): ConfigValues {
  const merged: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) if (spec.default !== undefined) merged[key] = spec.default;

  if (opts.file) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(opts.file, "utf8"));
    } catch (err) {
      throw new OddwireError("ODW_ERR_CONFIG", `cannot read the config file ${opts.file}: ${(err as Error).message}`, { cause: err });
    }
    if (!isObject(data)) throw new OddwireError("ODW_ERR_CONFIG", `${opts.file}: the config file must hold a JSON object`);
    for (const [key, value] of Object.entries(data)) {
      if (key.startsWith("$")) continue; // "$comment" and the like
      if (!(key in schema)) {
        const near = nearest(key, Object.keys(schema));
        throw new OddwireError("ODW_ERR_CONFIG", `${opts.file}: unknown setting "${key}"${near ? `; did you mean "${near}"?` : ""}`);
      }
      merged[key] = checkValue(schema[key]!, value, `${opts.file}: "${key}"`);
    }
  }
  for (const [flag, value] of Object.entries(opts.flags ?? {})) {
    if (value === undefined) continue;
    const key = Object.keys(schema).find((k) => flagName(k) === flag);
    if (!key) continue; // flags that are not settings (--config, --help)
    merged[key] = checkValue(schema[key]!, value, `--${flag}`);
  }
  return Object.freeze(merged);
}

function checkValue(spec: FieldSpec, value: unknown, where: string): unknown {
  const fail = (what: string): never => {
    throw new OddwireError("ODW_ERR_CONFIG", `${where} ${what}`);
  };
  switch (spec.type) {
    case "string":
      if (typeof value !== "string") fail(`must be a string, not ${JSON.stringify(value)}`);
      if (spec.pattern && !spec.pattern.test(value as string)) fail(`${spec.patternHint ?? `must match ${spec.pattern}`}, got ${JSON.stringify(value)}`);
      return value;
    case "integer": {
      const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
      if (typeof n !== "number" || !Number.isSafeInteger(n)) return fail(`must be a whole number, not ${JSON.stringify(value)}`);
      if (spec.min !== undefined && n < spec.min) fail(`must be at least ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) fail(`must be at most ${spec.max}, got ${n}`);
      return n;
    }
    case "boolean":
      if (typeof value !== "boolean") fail(`must be true or false, not ${JSON.stringify(value)}`);
      return value;
    case "object":
      return spec.check ? spec.check(value, where) : value;
  }
}

/** Sizes such as "100MB", "64KiB" or a plain number of bytes. */
export function parseByteSize(text: string | number, where: string): number {
  if (typeof text === "number" && Number.isSafeInteger(text) && text >= 0) return text;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$/i.exec(String(text));
  if (!m) throw new OddwireError("ODW_ERR_CONFIG", `${where} must be a size such as 100MB or 65536, got ${JSON.stringify(text)}`);
  const unit = (m[2] ?? "b").toLowerCase();
  const mult = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 }[unit]!;
  return Math.round(Number(m[1]) * mult);
}

/**
 * A secret from, in order: a file's first line (keeps it out of the process
 * list), the value given, the environment. undefined when none is set.
 */
export function resolveSecret(given: string | undefined, file: string | undefined, envValue: string | undefined, what: string): string | undefined {
  if (file) {
    try {
      return readFileSync(file, "utf8").split("\n", 1)[0]!.trim();
    } catch (err) {
      throw new OddwireError("ODW_ERR_CONFIG", `cannot read the ${what} file ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  return given ?? envValue;
}
