// `npm run package`: builds the installers into installers/out/: the agent's
// and the collector's .deb (checked by lintian) and the agent's .msi.

import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildDeb, DEB_COMPRESSIONS, type DebCompression } from "./deb.js";
import { PackagingError } from "./errors.js";
import { buildMsi } from "./msi.js";
import { DEFAULT_CACHE_DIR, DEFAULT_OUT_DIR, REPO_DIR } from "./paths.js";

export const TARGETS = ["agent-deb", "collector-deb", "agent-msi"] as const;
type Target = (typeof TARGETS)[number];

export const HELP = `Usage: npm run package -- [options]

Builds the installers into installers/out/ (run npm run build first; npm run package does).

Options:
  --only LIST          Comma-separated targets to build: ${TARGETS.join(", ")} (default: all).
  --version V          Package version (default: the version in package.json).
  --out DIR            Where the packages go (default: installers/out).
  --cache DIR          Where the pinned Node.js runtimes and WinSW are kept once fetched (default: installers/.cache).
  --compression C      .deb compression: ${DEB_COMPRESSIONS.join(", ")} (default: xz).
  --no-lintian         Do not run lintian on the .debs.
  --help               Print this help.
`;

export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: "string" },
      version: { type: "string" },
      out: { type: "string" },
      cache: { type: "string" },
      compression: { type: "string" },
      "no-lintian": { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const targets = (values.only ?? TARGETS.join(",")).split(",").map((t) => t.trim()) as Target[];
  for (const t of targets) if (!TARGETS.includes(t)) throw new PackagingError(`--only: unknown target "${t}" (targets: ${TARGETS.join(", ")})`);
  const compression = (values.compression ?? "xz") as DebCompression;
  if (!DEB_COMPRESSIONS.includes(compression)) throw new PackagingError(`--compression must be one of ${DEB_COMPRESSIONS.join(", ")}`);
  const version = values.version ?? (JSON.parse(readFileSync(resolve(REPO_DIR, "package.json"), "utf8")) as { version: string }).version;
  const outDir = resolve(values.out ?? DEFAULT_OUT_DIR);
  const cacheDir = resolve(values.cache ?? DEFAULT_CACHE_DIR);
  const log = (line: string): void => void process.stderr.write(`package: ${line}\n`);

  const built: string[] = [];
  for (const target of targets) {
    const t0 = Date.now();
    if (target === "agent-msi") {
      built.push(await buildMsi({ version, outDir, cacheDir, log }));
    } else {
      const program = target === "agent-deb" ? "oddwire-agent" : "oddwire-collector";
      const r = await buildDeb({ program, version, outDir, cacheDir, compression, lintian: !values["no-lintian"], log });
      for (const line of r.lintian) log(`  ${line}`);
      if (r.lintian.length === 0 && !values["no-lintian"]) log(`  lintian: no tags`);
      built.push(r.deb);
    }
    log(`${target}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  for (const file of built) {
    const sha = createHash("sha256").update(readFileSync(file)).digest("hex");
    process.stdout.write(`${file}  ${(statSync(file).size / 1048576).toFixed(1)} MiB  sha256 ${sha}\n`);
  }
  return 0;
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      const usage = err instanceof TypeError && (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
      process.stderr.write(`package: ${err instanceof PackagingError || usage ? (err as Error).message : (err as Error).stack}\n`);
      process.exitCode = usage ? 2 : 1;
    },
  );
}
