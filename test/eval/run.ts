// `npm run eval`: detection quality against public rule sets. Replays a
// labelled fleet into a real collector twice (cases new; cases a week old)
// and prints, per source, the share of planted cases tagged with a reason,
// the share ranked above every benign case, the median rank and the misses
// by class. Exits 1 when a source is below the 90% targets.
// Options: --linux N, --windows N (fleet size; default 60 and 30).

import { meetsTargets, printEval, runEval, TARGET } from "./run-eval.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const linux = arg("--linux", 60);
const windows = arg("--windows", 30);
let ok = true;
for (const age of ["new", "week"] as const) {
  const r = await runEval({ linux, windows, age });
  printEval(r);
  ok &&= meetsTargets(r);
}
console.log(`\nTargets (${Math.round(TARGET * 100)}% tagged and ${Math.round(TARGET * 100)}% above every benign case, per source, in both fleets): ${ok ? "met" : "NOT met"}`);
process.exitCode = ok ? 0 : 1;
