// What the installers' one-file bundle costs or saves against running the
// agent from the workspace (compiled modules plus node_modules), same node,
// same machine, rounds interleaved: start-up (--version, module loading
// only) and one whole `snapshot --json --no-hash`.

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as BundleModule from "../../installers/dist/bundle.js";
import { fmt, measure, median } from "./measure.js";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
// The type comes from the source tree; the module is loaded from the repository root at run time (this file runs from test/build/bench).
const loadBundler = (): Promise<typeof BundleModule> => import(new URL("../../../installers/dist/bundle.js", import.meta.url).href) as Promise<typeof BundleModule>;

interface Row {
  what: string;
  workspaceMs: number;
  bundleMs: number;
  workspacePeakMb: number;
  bundlePeakMb: number;
}

export async function benchInstallers(opts: { rounds: number }): Promise<{ rows: Row[]; bundleBytes: number; packages: string[] }> {
  const stage = mkdtempSync(join(tmpdir(), "oddwire-bench-bundle-"));
  try {
    const { bundleProgram } = await loadBundler();
    const bundle = await bundleProgram("oddwire-agent", "0.0.0-bench", stage);
    const state = mkdtempSync(join(tmpdir(), "oddwire-bench-state-"));
    const workspace = [join(REPO, "agent", "bin", "oddwire-agent.js")];
    const bundled = [join(stage, bundle.main)];
    const rows: Row[] = [];
    for (const [what, args] of [
      ["start-up (--version)", ["--version"]],
      ["snapshot --json --no-hash", ["snapshot", "--json", "--no-hash", "--state-dir", state]],
    ] as const) {
      const w: number[] = [];
      const b: number[] = [];
      const wp: number[] = [];
      const bp: number[] = [];
      measure(process.execPath, [...bundled, ...args]); // warm the page cache for both
      measure(process.execPath, [...workspace, ...args]);
      for (let i = 0; i < opts.rounds; i++) {
        const rw = measure(process.execPath, [...workspace, ...args]);
        const rb = measure(process.execPath, [...bundled, ...args]);
        w.push(rw.wallMs);
        b.push(rb.wallMs);
        wp.push(rw.peakRssKb / 1024);
        bp.push(rb.peakRssKb / 1024);
      }
      rows.push({ what, workspaceMs: median(w), bundleMs: median(b), workspacePeakMb: median(wp), bundlePeakMb: median(bp) });
    }
    rmSync(state, { recursive: true, force: true });
    return { rows, bundleBytes: statSync(join(stage, bundle.main)).size, packages: bundle.packages };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

export function printInstallersBench(r: Awaited<ReturnType<typeof benchInstallers>>): void {
  console.log("\n## The installers' agent bundle vs the agent run from the workspace (medians, rounds interleaved)\n");
  console.log("| command | workspace ms | bundle ms | ratio (bundle / workspace) | workspace peak MB | bundle peak MB |");
  console.log("|---|---|---|---|---|---|");
  for (const row of r.rows) {
    console.log(
      `| ${row.what} | ${fmt(row.workspaceMs)} | ${fmt(row.bundleMs)} | ${fmt(row.bundleMs / row.workspaceMs, 2)} | ${fmt(row.workspacePeakMb)} | ${fmt(row.bundlePeakMb)} |`,
    );
  }
  console.log(`\nbundle: ${(r.bundleBytes / 1024).toFixed(0)} KiB, with ${r.packages.join(", ")}`);
}
