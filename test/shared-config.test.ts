// Configuration: one schema gives both the checks and the type. Values from
// a file and from flags are checked the same way, with messages that name
// where the value came from.

import t from "tap";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, type ConfigSchema } from "@oddwire/shared";

const SCHEMA = {
  port: { type: "integer", default: 8443, min: 0, max: 65535, description: "port" },
  name: { type: "string", description: "name", pattern: /^[a-z]+$/, patternHint: "must be lower-case letters" },
  verbose: { type: "boolean", default: false, description: "verbose" },
  list: {
    type: "object",
    default: [],
    description: "a list",
    check: (v: unknown, where: string): string[] => {
      if (!Array.isArray(v)) throw new Error(`${where} must be a list`);
      return v.map(String);
    },
  },
} as const satisfies ConfigSchema;

t.test("defaults, file and flags, typed without casts", async (t) => {
  const dir = t.testdir();
  const file = join(dir, "c.json");
  writeFileSync(file, JSON.stringify({ port: 9000, name: "abc", list: [1, 2], $comment: "ignored" }));
  const c = loadConfig(SCHEMA, { file, flags: { port: "9001" } });
  // These assignments are the type test: each field has the declared type.
  const port: number = c.port;
  const name: string | undefined = c.name;
  const verbose: boolean = c.verbose;
  const list: string[] = c.list;
  t.same({ port, name, verbose, list }, { port: 9001, name: "abc", verbose: false, list: ["1", "2"] });
  t.ok(Object.isFrozen(c));
});

t.test("bad values are refused with where they came from", async (t) => {
  const dir = t.testdir();
  const bad = (flags: Record<string, unknown>) => () => loadConfig(SCHEMA, { flags });
  t.throws(bad({ port: "-1" }), { code: "ODW_ERR_CONFIG", message: "--port must be at least 0, got -1" });
  t.throws(bad({ port: "70000" }), { message: "--port must be at most 65535, got 70000" });
  t.throws(bad({ port: "8x" }), { message: '--port must be a whole number, not "8x"' });
  t.throws(bad({ port: 1.5 }), { message: "--port must be a whole number, not 1.5" });
  t.throws(bad({ name: "ABC" }), { message: '--name must be lower-case letters, got "ABC"' });
  t.throws(bad({ verbose: "yes" }), { message: '--verbose must be true or false, not "yes"' });
  const file = join(dir, "c.json");
  writeFileSync(file, JSON.stringify({ prot: 1 }));
  t.throws(() => loadConfig(SCHEMA, { file }), { message: `${file}: unknown setting "prot"; did you mean "port"?` });
  writeFileSync(file, JSON.stringify({ name: 5 }));
  t.throws(() => loadConfig(SCHEMA, { file }), { message: `${file}: "name" must be a string, not 5` });
  writeFileSync(file, "[1]");
  t.throws(() => loadConfig(SCHEMA, { file }), { message: `${file}: the config file must hold a JSON object` });
});
