// Runs the compiled test suite under tap and ends with one plain summary line,
// "tests: N passed, N failed, N skipped", that any CI can read. Arguments are
// passed on to tap (e.g. a single compiled test file).
//
// A whole-suite run (no arguments) also holds line coverage from falling: it
// fails when the total is more than half a point below the floor recorded in
// test/coverage-floor.json. Raise the floor when coverage rises; lowering it
// needs a reason in the commit.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const tapBin = join(dirname(require.resolve("tap/package.json")), "dist", "esm", "run.mjs");
const args = process.argv.slice(2);
const child = spawn(process.execPath, [tapBin, ...args], { stdio: ["inherit", "pipe", "inherit"] });
let tail = "";
let lines = null;
child.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-8192);
  const m = /^Lines\s*:\s*([\d.]+)%/m.exec(tail);
  if (m) lines = Number(m[1]);
});
child.on("close", (code, signal) => {
  const summary = [...tail.matchAll(/# \{ total: (\d+)([^}]*)\}/g)].pop();
  const count = (name) => Number(new RegExp(`${name}: (\\d+)`).exec(summary?.[2] ?? "")?.[1] ?? 0);
  let failed = count("fail");
  let exit = code ?? (signal ? 1 : 0);
  if (args.length === 0 && summary) {
    const floor = JSON.parse(readFileSync(fileURLToPath(new URL("coverage-floor.json", import.meta.url)), "utf8")).lines;
    if (lines === null) {
      console.log("# coverage: no summary was printed; check .taprc's coverage-report");
      failed++;
      exit = exit || 1;
    } else if (lines < floor - 0.5) {
      console.log(`# coverage: lines ${lines}% fell below the floor of ${floor}% (test/coverage-floor.json)`);
      failed++;
      exit = exit || 1;
    } else console.log(`# coverage: lines ${lines}% (floor ${floor}%)`);
  }
  if (summary) {
    const skipped = count("skip") + count("todo");
    console.log(`tests: ${count("pass")} passed, ${failed} failed, ${skipped} skipped`);
  }
  process.exitCode = exit;
});
