// Bundles a program (the agent or the collector) and its npm dependencies into
// one ES module with esbuild, and lays out what it needs beside it:
//
//   <stage>/lib/<program>.mjs   the bundle
//   <stage>/lib/data/*.json     the port table, knowledge base and destination names (loaded relative to the bundle)
//   <stage>/package.json        the version (read as ../package.json from lib/)
//   <stage>/node_modules/...    only what cannot be bundled (better-sqlite3's native addon)
//   <stage>/THIRD-PARTY-NOTICES.txt  the licences of everything bundled or shipped

import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";
import { PackagingError } from "./errors.js";
import { REPO_DIR } from "./paths.js";

export type Program = "oddwire-agent" | "oddwire-collector";

/**
 * Packages that stay outside the bundle, copied into <stage>/node_modules with
 * only these files (their licences go into THIRD-PARTY-NOTICES.txt).
 */
const NATIVE: Record<Program, Record<string, readonly string[]>> = {
  "oddwire-agent": {},
  "oddwire-collector": {
    "better-sqlite3": ["package.json", "lib", "build/Release/better_sqlite3.node"],
    bindings: ["package.json", "bindings.js"],
    "file-uri-to-path": ["package.json", "index.js"],
  },
};

const ENTRY: Record<Program, string> = {
  "oddwire-agent": "agent/bin/oddwire-agent.js",
  "oddwire-collector": "collector/bin/oddwire-collector.js",
};

// CommonJS dependencies call require(); an ES module bundle has none, so the
// bundle makes one for them.
const BANNER = 'import { createRequire as __oddwireCreateRequire } from "node:module";\nconst require = __oddwireCreateRequire(import.meta.url);';

export interface BundleResult {
  /** The bundle, relative to the stage. */
  main: string;
  bytes: number;
  packages: string[];
}

export async function bundleProgram(program: Program, version: string, stage: string): Promise<BundleResult> {
  const entry = join(REPO_DIR, ENTRY[program]);
  const built = join(REPO_DIR, program === "oddwire-agent" ? "agent" : "collector", "dist", "cli.js");
  if (!existsSync(built)) throw new PackagingError(`${relative(REPO_DIR, built)} is missing: run npm run build first`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, "lib", "data"), { recursive: true });
  const main = join("lib", `${program}.mjs`);
  const native = Object.keys(NATIVE[program]);
  const result = await build({
    entryPoints: [entry],
    outfile: join(stage, main),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // ws uses these optional accelerators when present; the runtime has none.
    external: ["bufferutil", "utf-8-validate", ...native],
    banner: { js: BANNER },
    metafile: true,
    legalComments: "none",
    logLevel: "silent",
  });
  // The bundle is loaded by the runtime the package names; the entry's "#!/usr/bin/env node" would name the host's.
  const bundlePath = join(stage, main);
  writeFileSync(bundlePath, readFileSync(bundlePath, "utf8").replace(/^#![^\n]*\n/, ""));
  chmodSync(bundlePath, 0o644);
  for (const f of ["ports.json", "binaries.json", "destinations.json"]) copyFileSync(join(REPO_DIR, "shared", "dist", "data", f), join(stage, "lib", "data", f));
  writeFileSync(join(stage, "package.json"), `${JSON.stringify({ name: program, version, private: true, type: "module", main }, null, 2)}\n`);
  for (const [pkg, files] of Object.entries(NATIVE[program])) {
    const from = join(REPO_DIR, "node_modules", pkg);
    for (const f of files) {
      if (!existsSync(join(from, f))) throw new PackagingError(`${pkg}/${f} is missing from node_modules: run npm ci`);
      cpSync(join(from, f), join(stage, "node_modules", pkg, f), { recursive: true });
    }
  }
  const packages = [...new Set([...bundledPackages(Object.keys(result.metafile.inputs)), ...native])].sort();
  writeFileSync(join(stage, "THIRD-PARTY-NOTICES.txt"), notices(program, packages));
  return { main, bytes: readFileSync(join(stage, main)).length, packages };
}

/** npm package directories ("ws", "@scope/name") that contributed inputs to the bundle. */
export function bundledPackages(inputs: readonly string[]): string[] {
  const found = new Set<string>();
  for (const input of inputs) {
    const parts = input.split(/[\\/]/);
    const i = parts.lastIndexOf("node_modules");
    if (i < 0) continue;
    const name = parts[i + 1]!.startsWith("@") ? `${parts[i + 1]}/${parts[i + 2]}` : parts[i + 1]!;
    // Workspace links (node_modules/@oddwire/shared, oddwire-agent) are this project.
    if (name.startsWith("@oddwire/") || name.startsWith("oddwire-")) continue;
    found.add(name);
  }
  return [...found].sort();
}

/**
 * A package's licence text: its LICENSE (COPYING) file, or where the package
 * ships none (pg-types), the licence section of its README; "" when neither.
 */
export function licenceText(dir: string): string {
  const files = readdirSync(dir);
  const licenceFile = files.find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  if (licenceFile) return readFileSync(join(dir, licenceFile), "utf8").trim();
  const readme = files.find((f) => /^readme(\.md)?$/i.test(f));
  if (!readme) return "";
  const m = /^(#{1,6})\s*licen[cs]e\b[^\n]*\n([\s\S]*?)(?=^#{1,6}\s|(?![\s\S]))/im.exec(readFileSync(join(dir, readme), "utf8"));
  return m?.[2]?.trim() ?? "";
}

function notices(program: Program, packages: readonly string[]): string {
  const parts = [`${program} bundles or ships the following third-party packages, under their own licences.\n`];
  for (const name of packages) {
    const dir = join(REPO_DIR, "node_modules", ...name.split("/"));
    const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string; license?: string };
    const text = licenceText(dir);
    if (!text) throw new PackagingError(`${name} has no LICENSE file, nor a licence section in its README, to ship with it`);
    parts.push(`${"=".repeat(72)}\n${name} ${meta.version} (${meta.license ?? "see below"})\n${"=".repeat(72)}\n${text}\n`);
  }
  return parts.join("\n");
}
