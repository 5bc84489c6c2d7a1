// `npm run soak`: the long soak. Options: --agents N (default 300),
// --minutes M (default 10), --batch-every S (seconds, default 10),
// --kill-every S (seconds, default 60; 0 never). Exits 1 when a batch is
// lost or duplicated, or memory or descriptors grow by more than a quarter.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSoak } from "./soak.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) {
    console.error(`soak: --${name} needs a number, got ${JSON.stringify(process.argv[i + 1])}`);
    process.exit(2);
  }
  return v;
}

const dir = mkdtempSync(join(tmpdir(), "oddwire-soak-"));
const r = await runSoak({
  dir,
  agents: arg("agents", 300),
  seconds: arg("minutes", 10) * 60,
  batchEverySeconds: arg("batch-every", 10),
  killEverySeconds: arg("kill-every", 60),
  progress: (line) => console.log(line),
});
const pct = (x: number) => `${((x - 1) * 100).toFixed(1)}%`;
console.log(`\n| what | figure |\n|---|---|`);
console.log(`| batches made / stored / missing / duplicated | ${r.made} / ${r.stored} / ${r.missing} / ${r.duplicates} |`);
console.log(`| collector kills | ${r.kills} |`);
console.log(`| collector RSS, last third vs first | ${pct(r.collectorRssGrowth)} |`);
console.log(`| collector descriptors, last third vs first | ${pct(r.collectorFdGrowth)} |`);
console.log(`| agents' RSS, last third vs first | ${pct(r.driverRssGrowth)} |`);
console.log(`| agents' descriptors, last third vs first | ${pct(r.driverFdGrowth)} |`);
const flat = [r.collectorRssGrowth, r.collectorFdGrowth, r.driverRssGrowth, r.driverFdGrowth].every((g) => g < 1.25);
rmSync(dir, { recursive: true, force: true });
if (r.missing > 0 || r.duplicates > 0 || !flat) {
  console.log("soak: FAILED");
  process.exit(1);
}
console.log("soak: passed");
