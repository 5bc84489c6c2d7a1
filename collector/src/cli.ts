// oddwire-collector's command line: serve, agents, revoke. Parses and
// validates everything before acting; errors are one line on stderr.

import { createRequire } from "node:module";
import {
  type CommandSpec,
  type ConfigSchema,
  flagName,
  knowledgeWithSite,
  OddwireError,
  type OptionSpec,
  type ParsedCommand,
  reportCliError,
  runCli,
  terminalSafe,
} from "@oddwire/shared";
import { randomBytes } from "node:crypto";
import { buildReport } from "./report/build-report.js";
import { renderReportCsv } from "./report/report-csv.js";
import { parseDurationMs, reportFormat, reportOptionsFrom } from "./report/report-options.js";
import { countOf } from "./report/plural.js";
import { renderReportTable } from "./report/report-text.js";
import { parseExportSchedules } from "./export/export-config.js";
import { runExport } from "./export/export-run.js";
import { writeFileAtomically } from "./export/temp-file.js";
import { DEFAULT_DB, existingDbPath, resolveServeConfig, SERVE_SCHEMA } from "./serve-config.js";
import { startServing } from "./serve-start.js";
import { PERSONA_COMMAND, runPersona } from "./persona/persona-cli.js";
import type { ExportStatus } from "./store/export-store.js";
import { eventsCell, platformOf, type HostRow } from "./store/hosts.js";
import { SENSOR_TOKEN_NAME } from "./store/sensor-evidence.js";
import { openStore, printableLocation, type Store } from "./store/store.js";
import { rejudgeStored } from "./store/rejudge-store.js";

const PROGRAM = "oddwire-collector";
const VERSION = (createRequire(import.meta.url)("../package.json") as { version: string }).version;
const SUMMARY = "oddwire collector: enrolls agents, stores the fleet in SQLite or PostgreSQL and ranks fleet-wide rarity.";

const CONFIG_OPTION: OptionSpec = { type: "string", valueName: "FILE", description: "JSON config file; its keys are the options' names in camelCase (flags override it)." };
const DB_OPTION: OptionSpec = {
  type: "string",
  valueName: "FILE|URL",
  description: `SQLite database file (default ${DEFAULT_DB}), or a postgres:// URL.`,
};

/** Opens the store a command works on (it must exist), runs `fn`, and closes it. */
async function withStore<T>(values: Record<string, unknown>, opts: { readonly?: boolean }, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(existingDbPath(values["db"]), opts);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const serveOptions: Record<string, OptionSpec> = { config: CONFIG_OPTION };
for (const [key, spec] of Object.entries(SERVE_SCHEMA as ConfigSchema)) {
  if (spec.type === "object") continue; // config file only
  const dflt = spec.default !== undefined && spec.type !== "boolean" ? ` (default ${spec.default})` : "";
  serveOptions[flagName(key)] =
    spec.type === "boolean"
      ? { type: "boolean", description: spec.description }
      : { type: "string", valueName: spec.type === "integer" ? "N" : "VALUE", description: spec.description + dflt };
}

export const COMMANDS: CommandSpec[] = [
  {
    name: "quickstart",
    summary: "Start the collector on embedded defaults (./data) with an agent on this host enrolled against it, and print where the report is. What `npm start` runs.",
    usage: "quickstart [--port P] [--data-dir DIR]",
    options: {
      port: { type: "string", valueName: "P", description: "Port for the collector (default 8443; 0: any free port, printed at start)." },
      "data-dir": { type: "string", valueName: "DIR", description: "Where the database, the enrollment secret, the reader token and the agent's state live (default ./data)." },
    },
  },
  {
    name: "serve",
    summary: "Run the collector: enrollment, agent streams, storage.",
    usage: "serve [--port P] [--db FILE] [--enroll-secret S] [--config FILE] [options]",
    options: serveOptions,
  },
  {
    name: "agents",
    summary:
      "List enrolled hosts: hostname, OS, agent version, first/last seen, last snapshot, dropped batches, whether connection events are on (and why not), silent or revoked.",
    usage: "agents [--db FILE] [--format table|json] [--silent-after-seconds N]",
    options: {
      db: DB_OPTION,
      format: { type: "string", valueName: "table|json", description: "Output format (default table)." },
      "silent-after-seconds": { type: "string", valueName: "N", description: "A host with no batch for this long is marked silent (default 300)." },
    },
  },
  {
    name: "report",
    summary: "Print the fleet rarity report: which binaries on which hosts speak a protocol they do not normally speak, ranked.",
    usage:
      "report [--db FILE] [--format table|json|html|csv] [--top N] [--since 24h|ISO] [--host H] [--binary B] [--protocol P] [--tag T] [--dest NAME] [--mismatch] [--min-score N] [--show-suppressed] [--knowledge FILE] [--out FILE]",
    options: {
      db: DB_OPTION,
      format: { type: "string", valueName: "FORMAT", description: "table (default), json, html (a self-contained page) or csv (one row per finding and host)." },
      top: { type: "string", valueName: "N", description: "Findings to show (default 50)." },
      since: { type: "string", valueName: "WHEN", description: "Only what was seen since then: 30m, 24h, 7d, 2w or an ISO date." },
      host: { type: "string", valueName: "H", description: "Only findings on this host (host id or hostname)." },
      binary: { type: "string", valueName: "B", description: "Only this binary (its normalised path, its name, or part of its path)." },
      protocol: { type: "string", valueName: "P", description: "Only this protocol (https, dns, irc, unknown...)." },
      tag: { type: "string", valueName: "T", description: "Only findings carrying this agent tag (shell-outbound, writable-dir-exe...)." },
      dest: {
        type: "string",
        valueName: "NAME",
        description: 'Only findings whose traffic carried this destination name (TLS SNI, HTTP Host, DNS question, SSH software; ".example.com" for every name under it).',
      },
      mismatch: { type: "boolean", description: "Only findings where the wire contradicts the port (tag wire-mismatch)." },
      "min-score": { type: "string", valueName: "N", description: "Only findings scoring at least N (0-100)." },
      "show-suppressed": { type: "boolean", description: "Include suppressed findings, marked as such." },
      knowledge: {
        type: "string",
        valueName: "FILE",
        description:
          'A site knowledge file (README "Site knowledge"): stored data judged by other knowledge is judged again with it first (as serve does at start), and its "normal" entries damp scores.',
      },
      out: {
        type: "string",
        valueName: "FILE",
        description: "Write to FILE (atomically, mode 0600, through a new randomly named temporary file that never follows a link) instead of standard output.",
      },
    },
  },
  {
    name: "export",
    summary: "Write one CSV export by hand, as a schedule would: findings (one row per finding and host), inventory (every socket), agents or personas.",
    usage: "export --what findings|inventory|agents|personas --out DIR [--db FILE] [--min-score N] [--only-new] [--name NAME] [--keep N]",
    options: {
      db: DB_OPTION,
      what: { type: "string", valueName: "KIND", description: "findings, inventory, agents or personas." },
      out: { type: "string", valueName: "DIR", description: "Existing directory to write the file to." },
      "min-score": { type: "string", valueName: "N", description: "findings and personas: rows scoring at least N (default 0)." },
      "only-new": { type: "boolean", description: "Only rows new since the last successful run under the same --name." },
      name: { type: "string", valueName: "NAME", description: "The schedule name the file and its retention belong to (default manual)." },
      keep: { type: "string", valueName: "N", description: "Files of this name and kind to keep in DIR; older ones are deleted (default 30)." },
    },
  },
  {
    name: "suppress",
    summary: "Add an allow rule so a known-good finding stops ranking; recorded in the audit trail.",
    usage: "suppress --binary B --reason TEXT [--protocol P] [--hosts H1,H2] [--expires 30d|ISO] [--by NAME] [--db FILE]",
    options: {
      db: DB_OPTION,
      binary: { type: "string", valueName: "B", description: "The binary: its normalised path as the report shows it, or its name." },
      protocol: { type: "string", valueName: "P", description: "Only this protocol (default: any)." },
      hosts: { type: "string", valueName: "H1,H2", description: "Only these host ids, comma-separated (default: every host)." },
      reason: { type: "string", valueName: "TEXT", description: "Why this is known good (required)." },
      expires: { type: "string", valueName: "WHEN", description: "When the rule lapses: a duration from now (30d, 12h) or an ISO date (default: never)." },
      by: { type: "string", valueName: "NAME", description: "Who adds it (default: $SUDO_USER or $USER)." },
    },
  },
  {
    name: "unsuppress",
    summary: "Remove an allow rule by its id; recorded in the audit trail.",
    usage: "unsuppress ID [--reason TEXT] [--by NAME] [--db FILE]",
    options: {
      db: DB_OPTION,
      reason: { type: "string", valueName: "TEXT", description: "Why it is removed." },
      by: { type: "string", valueName: "NAME", description: "Who removes it (default: $SUDO_USER or $USER)." },
    },
    maxPositionals: 1,
  },
  {
    name: "suppressions",
    summary: "List allow rules (active, expired and removed) with the audit trail of who added or removed each, when and why.",
    usage: "suppressions [--db FILE] [--format table|json]",
    options: { db: DB_OPTION, format: { type: "string", valueName: "table|json", description: "Output format (default table)." } },
  },
  {
    name: "sensor-import",
    summary:
      "Read Zeek (TSV or JSON) and Suricata eve.json files once, detecting the format of each, from where an earlier import stopped; their anomalies, alerts and protocol mismatches join the report as evidence.",
    usage: "sensor-import --db FILE [--max-line-bytes SIZE] PATH...",
    options: {
      db: DB_OPTION,
      "max-line-bytes": { type: "string", valueName: "SIZE", description: "Longest line read; longer ones are skipped and counted (default 64KiB)." },
    },
    maxPositionals: 10_000,
  },
  {
    name: "sensor-token",
    summary: "Manage the tokens shippers send sensor logs to POST /v1/sensor with: add NAME (prints the token once), revoke NAME, list.",
    usage: "sensor-token add|revoke|list [NAME] [--db FILE] [--by NAME]",
    options: { db: DB_OPTION, by: { type: "string", valueName: "NAME", description: "Who adds it (default: $SUDO_USER or $USER)." } },
    maxPositionals: 2,
  },
  {
    name: "revoke",
    summary: "Cut a host off: its key stops working at once (live streams are closed within seconds) and it cannot enroll again.",
    usage: "revoke HOSTID [--db FILE] [--reason TEXT]",
    options: { db: DB_OPTION, reason: { type: "string", valueName: "TEXT", description: "Why, kept with the host (default: none given)." } },
    maxPositionals: 1,
  },
  {
    name: "allow-reenroll",
    summary: "Allow a known host id to enroll once more with the enrollment secret alone (a reinstalled machine without its agent key); recorded in the audit trail.",
    usage: "allow-reenroll HOSTID [--db FILE] [--within DURATION]",
    options: { db: DB_OPTION, within: { type: "string", valueName: "DURATION", description: "How long the allowance lasts: 30m, 24h, 7d (default 24h)." } },
    maxPositionals: 1,
  },
  PERSONA_COMMAND,
];

export function main(argv: readonly string[]): Promise<number> {
  return runCli({ name: PROGRAM, version: VERSION, summary: SUMMARY, commands: COMMANDS, run: dispatch }, argv);
}

async function dispatch(command: string, { values, positionals }: ParsedCommand): Promise<number> {
  switch (command) {
    case "serve":
      return serve(values);
    case "quickstart":
      return (await import("./quickstart.js")).quickstart(values);
    case "agents":
      return agents(values);
    case "report":
      return report(values);
    case "suppress":
      return suppress(values);
    case "export":
      return exportOnce(values);
    case "unsuppress":
      return unsuppress(values, positionals);
    case "suppressions":
      return suppressions(values);
    case "persona":
      return runPersona(values, positionals);
    case "sensor-import":
      return (await import("./sensor/sensor-import.js")).sensorImport(values, positionals);
    case "sensor-token":
      return sensorToken(values, positionals);
    case "allow-reenroll":
      return (await import("./hosts-admin.js")).allowReenroll(values, positionals);
    default:
      return revoke(values, positionals);
  }
}

async function serve(values: Record<string, unknown>): Promise<number> {
  const config = resolveServeConfig(values);
  const running = await startServing(config);
  const hostPart = config.host.includes(":") ? `[${config.host}]` : config.host;
  process.stderr.write(`${PROGRAM}: listening on ${config.tls ? "wss" : "ws"}://${hostPart}:${running.port}/v1/stream, database ${printableLocation(config.db)}\n`);
  process.stderr.write(
    `${PROGRAM}: report at ${config.tls ? "https" : "http"}://${hostPart}:${running.port}/report${config.readerTokenGenerated ? `?token=${config.readerToken} (a token made for this run; set --reader-token to keep one)` : " (open it with ?token=<your reader token>)"}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await running.stop();
  return 0;
}

async function agents(values: Record<string, unknown>): Promise<number> {
  const format = (values["format"] as string | undefined) ?? "table";
  if (format !== "table" && format !== "json") throw new OddwireError("ODW_ERR_USAGE", `--format must be table or json, not "${format}"`);
  const silentAfter = Number(values["silent-after-seconds"] ?? 300);
  if (!Number.isSafeInteger(silentAfter) || silentAfter < 1) throw new OddwireError("ODW_ERR_USAGE", "--silent-after-seconds must be a whole number of seconds, 1 or more");
  await withStore(values, { readonly: true }, async (store) => {
    const rows = await store.hosts.list(Date.now(), silentAfter * 1000);
    // A database older than export runs (read-only: not migrated) has none.
    const exports = await store.exports.lastExports().catch(() => []);
    process.stdout.write(
      format === "json" ? JSON.stringify({ generatedAt: new Date().toISOString(), hosts: rows, exports }, null, 2) + "\n" : renderAgents(rows) + renderExports(exports),
    );
  });
  return 0;
}

async function revoke(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const hostId = positionals[0];
  if (!hostId) throw new OddwireError("ODW_ERR_USAGE", "revoke needs the HOSTID to cut off (see `oddwire-collector agents`)");
  await withStore(values, {}, async (store) => {
    if (!(await store.hosts.find(hostId, Date.now(), 1))) throw new OddwireError("ODW_ERR_USAGE", `no enrolled host has id ${JSON.stringify(hostId)}`);
    const changed = await store.hosts.revoke(hostId, (values["reason"] as string | undefined) ?? "", Date.now());
    process.stdout.write(changed ? `revoked ${hostId}\n` : `${hostId} was already revoked\n`);
  });
  return 0;
}

async function report(values: Record<string, unknown>): Promise<number> {
  const format = reportFormat(values["format"]);
  const now = Date.now();
  const file = values["knowledge"] as string | undefined;
  const kb = file ? knowledgeWithSite(file) : undefined;
  const opts = { ...reportOptionsFrom(values, now), ...(kb && { kb }) };
  // Not read-only: opening brings an older database's schema up to date.
  const text = await withStore(values, {}, async (store) => {
    if (kb) await rejudgeStored(store.sql, kb);
    const r = await buildReport(store, opts);
    return format === "json"
      ? JSON.stringify(r, null, 2) + "\n"
      : format === "csv"
        ? renderReportCsv(r)
        : format === "html"
          ? (await import("./report/report-html.js")).renderReportHtml(r, { nonce: randomBytes(16).toString("base64") })
          : renderReportTable(r);
  });
  const out = values["out"] as string | undefined;
  if (out) {
    try {
      writeFileAtomically(out, text, 0o600);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new OddwireError(
        "ODW_ERR_USAGE",
        `--out ${JSON.stringify(out)}: cannot write the report there (${e.code ?? e.message}); give a file in an existing directory you can write to`,
        { cause: err },
      );
    }
    process.stderr.write(`${PROGRAM}: report written to ${out}\n`);
  } else process.stdout.write(text);
  return 0;
}

async function exportOnce(values: Record<string, unknown>): Promise<number> {
  const [schedule] = parseExportSchedules(
    [
      {
        name: (values["name"] as string | undefined) ?? "manual",
        cron: "* * * * *",
        what: values["what"],
        dir: values["out"],
        minScore: values["min-score"] === undefined ? 0 : Number(values["min-score"]),
        onlyNew: values["only-new"] === true,
        keep: values["keep"] === undefined ? 30 : Number(values["keep"]),
      },
    ],
    "export",
  );
  await withStore(values, {}, async (store) => {
    const out = await runExport(store, schedule!);
    if (out.status !== "ok") throw new OddwireError("ODW_ERR_EXPORT", `the export failed: ${out.error}`);
    process.stdout.write(`${out.file}\n`);
    process.stderr.write(`${PROGRAM}: ${countOf(out.rows, "row")}\n`);
  });
  return 0;
}

function who(values: Record<string, unknown>): string {
  return (values["by"] as string | undefined) || process.env["SUDO_USER"] || process.env["USER"] || "unknown";
}

async function suppress(values: Record<string, unknown>): Promise<number> {
  const now = Date.now();
  const expires = values["expires"] as string | undefined;
  let expiresAtMs: number | null = null;
  if (expires) {
    const duration = parseDurationMs(expires);
    expiresAtMs = duration !== null ? now + duration : Date.parse(expires);
    if (Number.isNaN(expiresAtMs) || expiresAtMs <= now)
      throw new OddwireError("ODW_ERR_USAGE", `--expires must be a duration (30d, 12h) or a future ISO date, not ${JSON.stringify(expires)}`);
  }
  await withStore(values, {}, async (store) => {
    const hosts = (values["hosts"] as string | undefined)
      ?.split(",")
      .map((h) => h.trim())
      .filter(Boolean);
    const id = await store.suppressions.add(
      {
        binary: (values["binary"] as string | undefined) ?? "",
        protocol: values["protocol"] as string | undefined,
        hosts,
        reason: (values["reason"] as string | undefined) ?? "",
        by: who(values),
        expiresAtMs,
      },
      now,
    );
    process.stdout.write(`suppression ${id} added\n`);
  });
  return 0;
}

async function unsuppress(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const id = Number(positionals[0]);
  if (!Number.isSafeInteger(id) || id < 1) throw new OddwireError("ODW_ERR_USAGE", "unsuppress needs the rule's ID (see `oddwire-collector suppressions`)");
  await withStore(values, {}, async (store) => {
    if (!(await store.suppressions.remove(id, who(values), (values["reason"] as string | undefined) ?? "", Date.now()))) {
      throw new OddwireError("ODW_ERR_USAGE", `no active suppression has id ${id}`);
    }
    process.stdout.write(`suppression ${id} removed\n`);
  });
  return 0;
}

async function suppressions(values: Record<string, unknown>): Promise<number> {
  const format = (values["format"] as string | undefined) ?? "table";
  if (format !== "table" && format !== "json") throw new OddwireError("ODW_ERR_USAGE", `--format must be table or json, not "${format}"`);
  await withStore(values, { readonly: true }, async (store) => {
    const { rules, audit } = await store.suppressions.list();
    if (format === "json") process.stdout.write(JSON.stringify({ rules, audit }, null, 2) + "\n");
    else {
      const now = Date.now();
      for (const r of rules) {
        const state = r["removed_at"]
          ? `removed ${iso(r["removed_at"] as number)} by ${terminalSafe(String(r["removed_by"]))}`
          : r["expires_at"] && (r["expires_at"] as number) <= now
            ? "expired"
            : "active";
        process.stdout.write(
          `#${r["id"]} ${state}: binary ${terminalSafe(String(r["binary"]))} protocol ${terminalSafe(String(r["protocol"]))} hosts ${terminalSafe(String(r["hosts"]))}; ${terminalSafe(String(r["reason"]))} (by ${terminalSafe(String(r["created_by"]))} at ${iso(r["created_at"] as number)}${r["expires_at"] ? `, expires ${iso(r["expires_at"] as number)}` : ""})\n`,
        );
      }
      process.stdout.write(`${countOf(rules.length, "rule")}; audit trail: ${countOf(audit.length, "entry")} (--format json shows them)\n`);
    }
  });
  return 0;
}

async function sensorToken(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const [action, name] = positionals;
  if (action !== "add" && action !== "revoke" && action !== "list") throw new OddwireError("ODW_ERR_USAGE", "sensor-token needs an action: add NAME, revoke NAME or list");
  if (action !== "list" && !SENSOR_TOKEN_NAME.test(name ?? ""))
    throw new OddwireError("ODW_ERR_USAGE", `sensor-token ${action} needs the token's NAME: 1 to 64 letters, digits, dots, dashes and underscores (e.g. zeek-dmz)`);
  await withStore(values, {}, async (store) => {
    if (action === "add") {
      const token = await store.sensors.addToken(name!, who(values), Date.now());
      if (!token) throw new OddwireError("ODW_ERR_USAGE", `a sensor token named ${name} exists already; revoke it or choose another name`);
      process.stdout.write(`${token}\n`);
      process.stderr.write(`${PROGRAM}: sensor token ${name} added; it is shown only now. Send it as Authorization: Bearer <token> to POST /v1/sensor\n`);
    } else if (action === "revoke") {
      if (!(await store.sensors.revokeToken(name!, Date.now()))) throw new OddwireError("ODW_ERR_USAGE", `no active sensor token is named ${JSON.stringify(name)}`);
      process.stdout.write(`sensor token ${name} revoked\n`);
    } else {
      const tokens = await store.sensors.listTokens();
      for (const t of tokens)
        process.stdout.write(
          `${terminalSafe(t.name)}  ${t.revokedAtMs ? `revoked ${iso(t.revokedAtMs)}` : "active"}  added ${iso(t.createdAtMs)} by ${terminalSafe(t.createdBy)}  last used ${iso(t.lastUsedAtMs)}\n`,
        );
      process.stdout.write(`${countOf(tokens.length, "sensor token")}\n`);
    }
  });
  return 0;
}

function renderExports(exports: ExportStatus[]): string {
  if (exports.length === 0) return "";
  return (
    "\nlast exports:\n" +
    exports
      .map(
        (e) =>
          `  ${e.schedule} (${e.what}): ${e.status} at ${iso(e.startedAt)}${e.status === "ok" ? `, ${countOf(e.rows, "row")}, ${terminalSafe(e.file)}` : e.error ? `: ${terminalSafe(e.error)}` : ""}`,
      )
      .join("\n") +
    "\n"
  );
}

const iso = (ms: number | null) => (ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, "Z") : "-");

function renderAgents(rows: HostRow[]): string {
  const header = ["HOST ID", "HOSTNAME", "OS", "PLATFORM", "AGENT", "FIRST SEEN", "LAST SEEN", "LAST SNAPSHOT", "SEQ", "DROPPED", "EVENTS", "EVENTS DROPPED", "STATUS"];
  const body = rows.map((h) => [
    h.hostId,
    terminalSafe(h.hostname),
    terminalSafe(h.os),
    terminalSafe(platformOf(h.facts)) || "-",
    terminalSafe(h.agentVersion),
    iso(h.firstSeen),
    iso(h.lastSeen),
    iso(h.lastSnapshotAt),
    String(h.lastSeq),
    String(h.droppedBatches),
    terminalSafe(eventsCell(h.visibility)),
    h.visibility ? String(h.visibility.droppedRate + h.visibility.droppedRecords + h.visibility.droppedKernel) : "-",
    h.revokedAt ? "revoked" : h.silent ? "silent" : "ok",
  ]);
  const widths = header.map((c, i) => Math.max(c.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), ...body.map(line), countOf(rows.length, "host")].join("\n") + "\n";
}

export function reportError(err: unknown): number {
  return reportCliError(PROGRAM, err);
}
