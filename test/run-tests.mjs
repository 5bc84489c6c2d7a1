// Runs the compiled test suite under tap and ends with one plain summary line,
// "tests: N passed, N failed, N skipped", that any CI can read. Arguments are
// passed on to tap (e.g. a single compiled test file).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const tapBin = join(dirname(require.resolve("tap/package.json")), "dist", "esm", "run.mjs");
const child = spawn(process.execPath, [tapBin, ...process.argv.slice(2)], { stdio: ["inherit", "pipe", "inherit"] });
let tail = "";
child.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
});
child.on("close", (code, signal) => {
  const summary = [...tail.matchAll(/# \{ total: (\d+)([^}]*)\}/g)].pop();
  const count = (name) => Number(new RegExp(`${name}: (\\d+)`).exec(summary?.[2] ?? "")?.[1] ?? 0);
  if (summary) {
    const failed = count("fail");
    const skipped = count("skip") + count("todo");
    console.log(`tests: ${count("pass")} passed, ${failed} failed, ${skipped} skipped`);
  }
  process.exitCode = code ?? (signal ? 1 : 0);
});
