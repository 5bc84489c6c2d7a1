// oddwire-collector's command line: serve, agents, revoke. Parses and
// validates everything before acting; errors are one line on stderr.

import { createRequire } from "node:module";
import {
  formatCommandHelp,
  formatProgramHelp,
  flagName,
  isOddwireError,
  OddwireError,
  parseCommand,
  terminalSafe,
  type CommandSpec,
  type OptionSpec,
} from "@oddwire/shared";
import { startCollector } from "./collector.js";
import { DEFAULT_DB, resolveServeConfig, SERVE_SCHEMA } from "./serve-config.js";
import { HostStore, type HostRow } from "./store/hosts.js";
import { openDb } from "./store/open-db.js";

const PROGRAM = "oddwire-collector";
const VERSION = (createRequire(import.meta.url)("../package.json") as { version: string }).version;
const SUMMARY = "oddwire collector: enrolls agents, stores the fleet in SQLite and ranks fleet-wide rarity.";

const CONFIG_OPTION: OptionSpec = { type: "string", valueName: "FILE", description: "JSON config file; its keys are the options' names in camelCase (flags override it)." };
const DB_OPTION: OptionSpec = { type: "string", valueName: "FILE", description: `SQLite database file (default ${DEFAULT_DB}).` };

const serveOptions: Record<string, OptionSpec> = { config: CONFIG_OPTION };
for (const [key, spec] of Object.entries(SERVE_SCHEMA)) {
  const dflt = spec.default !== undefined && spec.type !== "boolean" ? ` (default ${spec.default})` : "";
  serveOptions[flagName(key)] = spec.type === "boolean"
    ? { type: "boolean", description: spec.description }
    : { type: "string", valueName: spec.type === "integer" ? "N" : "VALUE", description: spec.description + dflt };
}

export const COMMANDS: CommandSpec[] = [
  {
    name: "serve",
    summary: "Run the collector: enrollment, agent streams, storage.",
    usage: "serve [--port P] [--db FILE] [--enroll-secret S] [--config FILE] [options]",
    options: serveOptions,
  },
  {
    name: "agents",
    summary: "List enrolled hosts: hostname, OS, agent version, first/last seen, last snapshot, dropped batches, silent or revoked.",
    usage: "agents [--db FILE] [--format table|json] [--silent-after-seconds N]",
    options: {
      db: DB_OPTION,
      format: { type: "string", valueName: "table|json", description: "Output format (default table)." },
      "silent-after-seconds": { type: "string", valueName: "N", description: "A host with no batch for this long is marked silent (default 300)." },
    },
  },
  {
    name: "revoke",
    summary: "Cut a host off: its key stops working at once (live streams are closed within seconds) and it cannot enroll again.",
    usage: "revoke HOSTID [--db FILE] [--reason TEXT]",
    options: { db: DB_OPTION, reason: { type: "string", valueName: "TEXT", description: "Why, kept with the host (default: none given)." } },
    maxPositionals: 1,
  },
];

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    const spec = COMMANDS.find((c) => c.name === rest[0]);
    process.stdout.write(spec ? formatCommandHelp(PROGRAM, spec) : formatProgramHelp(PROGRAM, SUMMARY, COMMANDS));
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const spec = COMMANDS.find((c) => c.name === command);
  if (!spec) throw new OddwireError("ODW_ERR_USAGE", `unknown command "${command}"; commands: ${COMMANDS.map((c) => c.name).join(", ")} (see --help)`);
  const { values, positionals } = parseCommand(spec, rest);
  if (values["help"]) {
    process.stdout.write(formatCommandHelp(PROGRAM, spec));
    return 0;
  }
  switch (spec.name) {
    case "serve":
      return serve(values);
    case "agents":
      return agents(values);
    default:
      return revoke(values, positionals);
  }
}

async function serve(values: Record<string, unknown>): Promise<number> {
  const config = resolveServeConfig(values);
  const running = await startCollector(config);
  process.stderr.write(`${PROGRAM}: listening on ${config.tls ? "wss" : "ws"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${running.port}/v1/stream, database ${config.db}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await running.stop();
  return 0;
}

function agents(values: Record<string, unknown>): number {
  const format = (values["format"] as string | undefined) ?? "table";
  if (format !== "table" && format !== "json") throw new OddwireError("ODW_ERR_USAGE", `--format must be table or json, not "${format}"`);
  const silentAfter = Number(values["silent-after-seconds"] ?? 300);
  if (!Number.isSafeInteger(silentAfter) || silentAfter < 1) throw new OddwireError("ODW_ERR_USAGE", "--silent-after-seconds must be a whole number of seconds, 1 or more");
  const db = openDb((values["db"] as string | undefined) ?? DEFAULT_DB, { readonly: true });
  try {
    const rows = new HostStore(db).list(Date.now(), silentAfter * 1000);
    process.stdout.write(format === "json" ? JSON.stringify({ generatedAt: new Date().toISOString(), hosts: rows }, null, 2) + "\n" : renderAgents(rows));
  } finally {
    db.close();
  }
  return 0;
}

function revoke(values: Record<string, unknown>, positionals: string[]): number {
  const hostId = positionals[0];
  if (!hostId) throw new OddwireError("ODW_ERR_USAGE", "revoke needs the HOSTID to cut off (see `oddwire-collector agents`)");
  const db = openDb((values["db"] as string | undefined) ?? DEFAULT_DB);
  try {
    const store = new HostStore(db);
    if (!store.list(Date.now(), 1).some((h) => h.hostId === hostId)) throw new OddwireError("ODW_ERR_USAGE", `no enrolled host has id ${JSON.stringify(hostId)}`);
    const changed = store.revoke(hostId, (values["reason"] as string | undefined) ?? "", Date.now());
    process.stdout.write(changed ? `revoked ${hostId}\n` : `${hostId} was already revoked\n`);
  } finally {
    db.close();
  }
  return 0;
}

const iso = (ms: number | null) => (ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, "Z") : "-");

function renderAgents(rows: HostRow[]): string {
  const header = ["HOST ID", "HOSTNAME", "OS", "AGENT", "FIRST SEEN", "LAST SEEN", "LAST SNAPSHOT", "SEQ", "DROPPED", "STATUS"];
  const body = rows.map((h) => [
    h.hostId,
    terminalSafe(h.hostname),
    terminalSafe(h.os),
    terminalSafe(h.agentVersion),
    iso(h.firstSeen),
    iso(h.lastSeen),
    iso(h.lastSnapshotAt),
    String(h.lastSeq),
    String(h.droppedBatches),
    h.revokedAt ? "revoked" : h.silent ? "silent" : "ok",
  ]);
  const widths = header.map((c, i) => Math.max(c.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), ...body.map(line), `${rows.length} hosts`].join("\n") + "\n";
}

export function reportError(err: unknown): number {
  if (isOddwireError(err)) {
    process.stderr.write(`${PROGRAM}: ${err.code}: ${err.message}\n`);
    return err.code === "ODW_ERR_USAGE" ? 2 : 1;
  }
  process.stderr.write(`${PROGRAM}: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
