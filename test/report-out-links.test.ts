// Files written for people (report --out, CSV exports) go through a
// temporary file beside the target. A link planted at the old, predictable
// temporary name must neither be followed (overwriting whatever it points
// to) nor block the write.

import t from "tap";
import { spawnSync } from "node:child_process";
import { lstatSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileStamp, runExport } from "oddwire-collector/export/export-run.js";
import { openStore } from "oddwire-collector/store/store.js";
import { COLLECTOR_BIN } from "./lib/fleet.js";

const PRECIOUS = "precious content that must survive\n";

t.test("report --out does not follow a link planted at FILE.tmp", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  await (await openStore(db)).close();
  const victim = join(dir, "victim.txt");
  writeFileSync(victim, PRECIOUS);
  const out = join(dir, "report.txt");
  symlinkSync(victim, `${out}.tmp`);
  const r = spawnSync(process.execPath, [COLLECTOR_BIN, "report", "--db", db, "--out", out], { encoding: "utf8" });
  t.equal(r.status, 0, r.stderr);
  t.equal(readFileSync(victim, "utf8"), PRECIOUS, "the link's target is untouched");
  t.equal(readlinkSync(`${out}.tmp`), victim, "the planted link is left as it was");
  const st = lstatSync(out);
  t.ok(st.isFile(), "the report is a regular file, not a link");
  t.equal(st.mode & 0o777, 0o600, "readable by its owner only");
  t.match(readFileSync(out, "utf8"), /^oddwire fleet rarity report/);
  t.same(
    readdirSync(dir).filter((f) => f.endsWith(".tmp")),
    ["report.txt.tmp"],
    "no temporary file of its own left behind",
  );
});

t.test("an export does not follow, and is not blocked by, a link at its old temporary name", async (t) => {
  const dir = t.testdir();
  const db = await openStore(join(dir, "fleet.db"));
  t.teardown(() => db.close());
  const victim = join(dir, "victim.txt");
  writeFileSync(victim, PRECIOUS);
  const now = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
  const planted = join(dir, `.manual-agents-${fileStamp(now)}.csv.tmp`);
  symlinkSync(victim, planted);
  const out = await runExport(db, { name: "manual", cron: "* * * * *", what: "agents", dir, minScore: 0, onlyNew: false, timezone: "UTC", keep: 30 }, now);
  t.equal(out.status, "ok", out.error);
  t.equal(readFileSync(victim, "utf8"), PRECIOUS, "the link's target is untouched");
  t.equal(readlinkSync(planted), victim, "the planted link is left as it was");
  t.ok(lstatSync(out.file).isFile(), "the export is a regular file");
  t.match(readFileSync(out.file, "utf8"), /^host_id,hostname,os,/);
});
