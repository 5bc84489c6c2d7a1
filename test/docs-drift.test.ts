// Docs and code must not drift apart: every error code, close code, metric
// and log event the README documents is really produced somewhere in the
// code, and every one the code produces is documented. Read from the sources
// (string literals), so a code that only the README names fails here.

import t from "tap";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CLOSE, ERROR_CODES } from "@oddwire/shared";
import { COUNTERS } from "oddwire-collector/ingest/metrics.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(join(REPO, "README.md"), "utf8");

function sources(dir: string): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith(".ts")) out.push({ file: path.slice(REPO.length), text: readFileSync(path, "utf8") });
  }
  return out;
}
const code = [...sources(join(REPO, "agent", "src")), ...sources(join(REPO, "collector", "src")), ...sources(join(REPO, "shared", "src"))];
const codeOutside = (skipFile: string) =>
  code
    .filter((s) => !s.file.endsWith(skipFile))
    .map((s) => s.text)
    .join("\n");

t.test("every error code is raised somewhere, not only declared", async (t) => {
  const text = codeOutside("shared/src/errors.ts");
  for (const c of Object.keys(ERROR_CODES)) t.ok(text.includes(`"${c}"`), `${c} is used outside errors.ts`);
});

t.test("every close code is sent or acted on, and documented", async (t) => {
  const text = codeOutside("shared/src/close-codes.ts");
  for (const [name, value] of Object.entries(CLOSE)) {
    t.ok(text.includes(`CLOSE.${name}`), `CLOSE.${name} (${value}) is used`);
    t.match(readme, new RegExp(`\\b${value}\\b`), `${value} is in the README`);
  }
});

t.test("every metric is counted somewhere and documented", async (t) => {
  const text = codeOutside("collector/src/ingest/metrics.ts");
  for (const name of Object.keys(COUNTERS)) {
    t.ok(text.includes(`"${name}"`), `${name} is incremented`);
    t.ok(readme.includes(`\`${name}\``), `${name} is in the README's metrics table`);
  }
});

// The README's log table: rows of the form | `event.name` | level | meaning |.
const documented = new Set([...readme.matchAll(/^\| `([a-z]+\.[a-z_]+)` \|/gm)].map((m) => m[1]!));
const prefixes = new Set([...documented].map((e) => e.split(".")[0]!));

t.test("the README has a table of log events", async (t) => {
  t.ok(documented.size >= 20, `${documented.size} log events documented`);
});

t.test("every log event the code writes is documented, and every documented one is written", async (t) => {
  const all = code.map((s) => s.text).join("\n");
  const written = new Set<string>();
  for (const m of all.matchAll(/"([a-z]+)\.([a-z_]+)"/g)) {
    if (prefixes.has(m[1]!) || /\.(debug|info|warn|error)\($/.test(all.slice(Math.max(0, m.index! - 10), m.index))) written.add(`${m[1]}.${m[2]}`);
  }
  for (const m of all.matchAll(/\b(?:log|logger|throttled)\.(?:debug|info|warn|error)\(\s*"([^"]+)"/g)) written.add(m[1]!);
  const notEvents = new Set(["agent.json", "collector.json"]);
  for (const e of written) if (!notEvents.has(e)) t.ok(documented.has(e), `${e} is documented in the README's log events table`);
  for (const e of documented) t.ok(written.has(e), `${e} is written by the code`);
});

t.test("the README's table of field limits is wire-limits.ts", async (t) => {
  const { STRING_LIMITS, COUNT_LIMITS } = await import("@oddwire/shared");
  const rows = new Map([...readme.matchAll(/^\| `([a-z0-9_]+)` \| ([\d,]+) (bytes|elements) \|$/gm)].map((m) => [m[1]!, { n: Number(m[2]!.replace(/,/g, "")), unit: m[3] }]));
  for (const [field, limit] of Object.entries(STRING_LIMITS)) t.same(rows.get(field), { n: limit, unit: "bytes" }, `${field}: ${limit} bytes`);
  for (const [field, limit] of Object.entries(COUNT_LIMITS)) t.same(rows.get(field), { n: limit, unit: "elements" }, `${field}: ${limit} elements`);
  t.equal(rows.size, Object.keys(STRING_LIMITS).length + Object.keys(COUNT_LIMITS).length, "no row for a field that has no bound");
});
