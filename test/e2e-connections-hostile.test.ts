// Hostile strings in connection records (the process's command line, exe,
// name and user, the ancestry, tag reasons, the beacon's destination) and in
// the visibility reason stay harmless everywhere the collector shows them:
// escaped in the HTML page, made visible and formula-guarded in the CSV,
// made visible in the terminal tables (report and agents).

import t from "tap";
import { join } from "node:path";
import { SECRET, startCollector } from "./lib/fleet.js";
import { HOSTILE_TEXT } from "./lib/hostile-host.js";
import { collectorCli, connectionRecord, enrollRaw, openRawStream, smallBatch } from "./lib/raw-stream.js";

const ALL = Object.values(HOSTILE_TEXT).join("");
const MARKUP = `<script>alert(1)</script><img src=x onerror=alert(2)>`;
// Every raw control, line separator and bidi control terminalSafe escapes.
const UNSAFE = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

t.test("hostile connection fields are harmless in the page, the CSV and the tables", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db);
  const k = await enrollRaw(c.port, { hostId: "evil", enrollSecret: SECRET });
  const s = await openRawStream(c.port, "evil", k.key);
  t.teardown(() => s.ws.terminate());
  const b = smallBatch("evil", 1);
  b.snapshot!.connections = [
    connectionRecord({
      remoteAddress: `${MARKUP}${HOSTILE_TEXT.title}`,
      process: {
        pid: 7,
        name: `x${HOSTILE_TEXT.rlo}`,
        exe: `/tmp/${MARKUP}${HOSTILE_TEXT.rlo}`,
        cmdline: `=HYPERLINK("http://evil.test")${ALL}${MARKUP}`,
        user: `@${HOSTILE_TEXT.clear}`,
        startedAtMs: 1,
      },
      ancestry: [`/tmp/${MARKUP}`, `/bin/${HOSTILE_TEXT.title}sh`],
      tags: [{ code: "shell-outbound", reason: `reason ${MARKUP}${ALL}` }],
      beacon: { intervalMs: 30_000, jitterMs: 1000, count: 40, spanMs: 1_200_000 },
    }),
  ];
  b.snapshot!.visibility = { mode: "snapshots", reason: `${MARKUP}${ALL}` };
  s.sendBatch(b);
  await s.acked(1);

  await t.test("HTML: every string escaped, invisible characters shown", async (t) => {
    const r = await collectorCli(["report", "--db", db, "--format", "html"]);
    t.equal(r.status, 0, r.stderr);
    const html = r.stdout;
    t.notMatch(html, /<script>alert|<img src=x/, "no agent markup survives as markup");
    t.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, "it is shown as text");
    t.match(html, /blind to short connections/, "the visibility line is there");
    // Outside the JSON island (whose strings are \u-escaped), no raw control or bidi character.
    const outsideJson = html.replace(/<script[^>]*type="application\/json"[^>]*>[\s\S]*?<\/script>/g, "");
    t.notMatch(outsideJson, UNSAFE, "no raw control or bidi character in the page's markup");
  });

  await t.test("CSV: controls made visible, formulas guarded", async (t) => {
    const r = await collectorCli(["report", "--db", db, "--format", "csv"]);
    t.equal(r.status, 0, r.stderr);
    const body = r.stdout.replaceAll("\r\n", "");
    t.notMatch(body, UNSAFE, "no raw control inside any field");
    t.match(r.stdout, /,"'=HYPERLINK\(""http:\/\/evil\.test""\)/, "the command line is guarded against formula evaluation");
    t.match(r.stdout, /,'@\\x1b\[2J/, "so is the user, its ESC shown as \\x1b");
    t.match(r.stdout, /\\u202e/, "a bidi override is shown as \\u202e");
  });

  await t.test("terminal tables: nothing raw reaches the terminal", async (t) => {
    for (const args of [
      ["report", "--db", db],
      ["agents", "--db", db],
    ]) {
      const r = await collectorCli(args);
      t.equal(r.status, 0, r.stderr);
      t.notMatch(r.stdout.replaceAll("\n", ""), UNSAFE, `${args[0]}: no raw control or bidi character`);
    }
    const agents = await collectorCli(["agents", "--db", db]);
    t.match(agents.stdout, /off: <script>alert\(1\)/, "the agent's reason is shown, made safe");
  });
});
