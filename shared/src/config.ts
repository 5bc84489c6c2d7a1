// Configuration from a JSON file and command-line flags, validated up front
// against one declaration per program: unknown keys are rejected with the
// nearest known one, every value is type- and range-checked, and the result
// is frozen. Precedence: flag > file > default.

import { readFileSync } from "node:fs";
import * as v from "valibot";
import { nearest } from "./cli-args.js";
import { OddwireError } from "./errors.js";
import { isObject } from "./ports.js";

export type FieldSpec =
  | { readonly type: "string"; readonly default?: string; readonly description: string; readonly pattern?: RegExp; readonly patternHint?: string }
  | { readonly type: "integer"; readonly default?: number; readonly description: string; readonly min?: number; readonly max?: number }
  | { readonly type: "boolean"; readonly default?: boolean; readonly description: string }
  | { readonly type: "object"; readonly default?: unknown; readonly description: string; readonly check?: (value: unknown, key: string) => unknown };

export type ConfigSchema = Readonly<Record<string, FieldSpec>>;

/** The value type one field declares: a field with a default is always present. */
type ValueOf<F extends FieldSpec> = F extends { type: "string" }
  ? string
  : F extends { type: "integer" }
    ? number
    : F extends { type: "boolean" }
      ? boolean
      : F extends { check: (value: unknown, key: string) => infer R }
        ? R
        : unknown;

/**
 * The configuration a schema declares, as a type: declare the schema with
 * `as const satisfies ConfigSchema` and loadConfig's result is typed field by
 * field (no casts at the call site).
 */
export type ConfigOf<S extends ConfigSchema> = {
  readonly [K in keyof S]: S[K] extends { default: unknown } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

/** Kept for callers that read settings by name. */
export type ConfigValues = Readonly<Record<string, unknown>>;

/** camelCase key ↔ --kebab-case flag. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * Reads the file (if any), overlays flags (already parsed, keyed by flag
 * name), fills defaults and validates everything.
 */
export function loadConfig<S extends ConfigSchema>(schema: S, opts: { file?: string | undefined; flags?: Record<string, unknown> }): ConfigOf<S> {
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
  return Object.freeze(merged) as ConfigOf<S>;
}

// One valibot schema per field kind; each message is written to follow the
// place the value came from ("--port must be at least 0, got -1").
const WHOLE_NUMBER = /^-?\d+$/;

function valueSchema(spec: FieldSpec): v.GenericSchema<unknown, unknown> {
  switch (spec.type) {
    case "string": {
      const base = v.string((i) => `must be a string, not ${JSON.stringify(i.input)}`);
      const pattern = spec.pattern;
      return pattern
        ? v.pipe(
            base,
            v.check(
              (s) => pattern.test(s),
              (i) => `${spec.patternHint ?? `must match ${pattern}`}, got ${JSON.stringify(i.input)}`,
            ),
          )
        : base;
    }
    case "integer": {
      const notWhole = (i: { input: unknown }) => `must be a whole number, not ${JSON.stringify(i.input)}`;
      const parsed = v.union(
        [
          v.number(notWhole),
          v.pipe(
            v.string(notWhole),
            v.check((s) => WHOLE_NUMBER.test(s.trim()), notWhole),
            v.transform((s) => Number(s)),
          ),
        ],
        notWhole,
      );
      const { min, max } = spec;
      return v.pipe(
        parsed,
        v.check((n) => Number.isSafeInteger(n), notWhole),
        v.check(
          (n) => min === undefined || n >= min,
          (i) => `must be at least ${min}, got ${i.input}`,
        ),
        v.check(
          (n) => max === undefined || n <= max,
          (i) => `must be at most ${max}, got ${i.input}`,
        ),
      );
    }
    case "boolean":
      return v.boolean((i) => `must be true or false, not ${JSON.stringify(i.input)}`);
    case "object":
      return v.unknown();
  }
}

function checkValue(spec: FieldSpec, value: unknown, where: string): unknown {
  const result = v.safeParse(valueSchema(spec), value, { abortEarly: true });
  if (!result.success) {
    // A union reports its own message first; the most specific is the deepest.
    const issue = result.issues[0];
    const message = issue.issues?.[issue.issues.length - 1]?.message ?? issue.message;
    throw new OddwireError("ODW_ERR_CONFIG", `${where} ${message}`);
  }
  return spec.type === "object" && spec.check ? spec.check(result.output, where) : result.output;
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
