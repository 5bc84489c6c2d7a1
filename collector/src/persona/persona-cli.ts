// `oddwire-collector persona SUBCOMMAND`: intake (add, import), triage
// (list, set-state), the staff roster, and the intake endpoint's tokens.
// One command with subcommands; each subcommand accepts only its own
// options (checked here, before anything is opened).

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { nearest, OddwireError, terminalSafe, type CommandSpec } from "@oddwire/shared";
import { csvLine } from "../report/csv.js";
import { countOf } from "../report/plural.js";
import { checkDbPath, DEFAULT_DB, existingDbPath } from "../serve-config.js";
import { openDb } from "../store/open-db.js";
import { MAX_ROSTER, PersonaStore } from "../store/personas.js";
import { foldName } from "./name-similarity.js";
import { MAX_CSV_BYTES, personasFromCsv, rosterFromCsv } from "./persona-csv-import.js";
import { parsePersonaInput, PERSONA_LIMITS, type PersonaInput } from "./persona-input.js";
import { buildPersonaSection } from "./persona-section.js";
import { PERSONA_COLUMNS, personaRows, renderPersonaTable } from "./persona-table.js";
import { PERSONA_STATES, type PersonaState } from "./persona-types.js";

const DB = { type: "string", valueName: "FILE", description: `SQLite database file (default ${DEFAULT_DB}).` } as const;

export const PERSONA_SUBCOMMANDS: Record<string, { usage: string; options: string[]; positionals: number }> = {
  add: {
    usage:
      "persona add --platform P --handle H [--profile-url U] [--display-name N] [--claimed-employer E] [--claimed-title T] [--previous-name N] [--previous-employer E] [--created DATE] [--changed DATE] [--contacted DATE] [--requests N] [--requested NAME]... [--domain D]... [--url U]... [--reported-by NAME] [--notes TEXT] [--db FILE]",
    options: [
      "db",
      "platform",
      "handle",
      "profile-url",
      "display-name",
      "claimed-employer",
      "claimed-title",
      "previous-name",
      "previous-employer",
      "created",
      "changed",
      "contacted",
      "requests",
      "requested",
      "domain",
      "url",
      "reported-by",
      "notes",
    ],
    positionals: 0,
  },
  import: { usage: "persona import CSV [--reported-by NAME] [--db FILE]", options: ["db", "reported-by"], positionals: 1 },
  list: { usage: "persona list [--format table|json|csv] [--db FILE]", options: ["db", "format"], positionals: 0 },
  "set-state": { usage: `persona set-state ID ${PERSONA_STATES.join("|")} --reason R [--by NAME] [--db FILE]`, options: ["db", "reason", "by"], positionals: 2 },
  roster: { usage: "persona roster CSV [--db FILE]", options: ["db"], positionals: 1 },
  "token-add": { usage: "persona token-add NAME [--by NAME] [--db FILE]", options: ["db", "by"], positionals: 1 },
  "token-revoke": { usage: "persona token-revoke NAME [--by NAME] [--db FILE]", options: ["db", "by"], positionals: 1 },
  tokens: { usage: "persona tokens [--db FILE]", options: ["db"], positionals: 0 },
};

export const PERSONA_COMMAND: CommandSpec = {
  name: "persona",
  summary:
    "Suspected fake personas claiming to work here: add or import reports (the same persona reported twice merges), list them scored and matched against the fleet, walk their triage states, load the staff roster, manage intake tokens.",
  usage: Object.values(PERSONA_SUBCOMMANDS)
    .map((s) => s.usage)
    .join("\n       oddwire-collector "),
  options: {
    db: DB,
    platform: { type: "string", valueName: "P", description: "add: the platform (linkedin, x, github...)." },
    handle: { type: "string", valueName: "H", description: "add: the account's handle; with the platform it names the persona (case-insensitive, leading @ ignored)." },
    "profile-url": { type: "string", valueName: "U", description: "add: the profile's http(s) URL." },
    "display-name": { type: "string", valueName: "N", description: "add: the name the account shows." },
    "claimed-employer": { type: "string", valueName: "E", description: "add: the employer it claims." },
    "claimed-title": { type: "string", valueName: "T", description: "add: the job title it claims." },
    "previous-name": { type: "string", valueName: "N", description: "add: the display name it had before its last change." },
    "previous-employer": { type: "string", valueName: "E", description: "add: the employer it claimed before its last change." },
    created: { type: "string", valueName: "DATE", description: "add: when the account was created (2025-03-01 or an ISO time)." },
    changed: { type: "string", valueName: "DATE", description: "add: when its name or employer last changed." },
    contacted: { type: "string", valueName: "DATE", description: "add: when it last messaged or sent a connection request to staff." },
    requests: { type: "string", valueName: "N", description: "add: connection requests it sent to staff." },
    requested: { type: "string", valueName: "NAME", multiple: true, description: "add: a staff member it sent a request to (repeat for each)." },
    domain: { type: "string", valueName: "D", multiple: true, description: "add: a domain it links to (repeat for each; its subdomains match too)." },
    url: { type: "string", valueName: "U", multiple: true, description: "add: a URL it links to (repeat for each; matched by its host)." },
    "reported-by": { type: "string", valueName: "NAME", description: "add, import: who reported it (default: $SUDO_USER or $USER)." },
    notes: { type: "string", valueName: "TEXT", description: "add: free text kept with the report." },
    format: { type: "string", valueName: "table|json|csv", description: "list: output format (default table)." },
    reason: { type: "string", valueName: "R", description: "set-state: why (required; kept in the audit trail)." },
    by: { type: "string", valueName: "NAME", description: "set-state, token-add, token-revoke: who does it (default: $SUDO_USER or $USER)." },
  },
  maxPositionals: 3,
};

export function runPersona(values: Record<string, unknown>, positionals: string[]): number {
  const [sub, ...args] = positionals;
  const names = Object.keys(PERSONA_SUBCOMMANDS);
  if (!sub) throw new OddwireError("ODW_ERR_USAGE", `persona needs a subcommand: ${names.join(", ")} (see oddwire-collector persona --help)`);
  const spec = PERSONA_SUBCOMMANDS[sub];
  if (!spec) {
    const near = nearest(sub, names);
    throw new OddwireError(
      "ODW_ERR_USAGE",
      `unknown persona subcommand ${terminalSafe(JSON.stringify(sub.slice(0, 64)))}${near ? `; did you mean "${near}"?` : ""}; subcommands: ${names.join(", ")}`,
    );
  }
  for (const [k, v] of Object.entries(values)) {
    if (v !== undefined && k !== "help" && !spec.options.includes(k)) throw new OddwireError("ODW_ERR_USAGE", `persona ${sub} does not take --${k} (usage: ${spec.usage})`);
  }
  if (args.length > spec.positionals)
    throw new OddwireError("ODW_ERR_USAGE", `persona ${sub} takes ${spec.positionals || "no"} argument(s), got "${args.join(" ")}" (usage: ${spec.usage})`);
  switch (sub) {
    case "add":
      return add(values);
    case "import":
      return importCsv(values, args[0]);
    case "list":
      return list(values);
    case "set-state":
      return setState(values, args[0], args[1]);
    case "roster":
      return roster(values, args[0]);
    case "token-add":
      return tokenAdd(values, args[0]);
    case "token-revoke":
      return tokenRevoke(values, args[0]);
    default:
      return tokens(values);
  }
}

function who(values: Record<string, unknown>, key = "by"): string {
  return (values[key] as string | undefined) || process.env["SUDO_USER"] || process.env["USER"] || "unknown";
}

/** Intake may come before the collector first runs: these subcommands create the database when it is missing (and say so). */
function intakeDb(value: unknown) {
  const path = checkDbPath(typeof value === "string" && value !== "" ? value : DEFAULT_DB);
  if (path !== ":memory:" && !existsSync(path)) process.stderr.write(`oddwire-collector: created the database ${path}\n`);
  return openDb(path);
}

function add(values: Record<string, unknown>): number {
  const raw: Record<string, unknown> = {
    platform: values["platform"],
    handle: values["handle"],
    profileUrl: values["profile-url"],
    displayName: values["display-name"],
    claimedEmployer: values["claimed-employer"],
    claimedTitle: values["claimed-title"],
    previousName: values["previous-name"],
    previousEmployer: values["previous-employer"],
    created: values["created"],
    changed: values["changed"],
    contacted: values["contacted"],
    requests: values["requests"],
    requestedStaff: values["requested"],
    domains: values["domain"],
    urls: values["url"],
    reportedBy: who(values, "reported-by"),
    notes: values["notes"],
  };
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
  if (raw["platform"] === undefined || raw["handle"] === undefined) throw new OddwireError("ODW_ERR_USAGE", "persona add needs --platform and --handle");
  const input = parsePersonaInput(raw, Date.now(), "the persona");
  const db = intakeDb(values["db"]);
  try {
    const r = new PersonaStore(db).add(input, { source: "cli", nowMs: Date.now() });
    process.stdout.write(`${r.merged ? "merged into" : "added"} persona ${r.id}\n`);
  } finally {
    db.close();
  }
  return 0;
}

function importCsv(values: Record<string, unknown>, file: string | undefined): number {
  if (!file) throw new OddwireError("ODW_ERR_USAGE", "persona import needs the CSV file to read");
  const text = readSmallFile(file);
  const { rows, ignored } = personasFromCsv(text);
  if (ignored.length > 0)
    process.stderr.write(`oddwire-collector: ignored columns naming no persona field: ${ignored.map((h) => terminalSafe(JSON.stringify(h.slice(0, 60)))).join(", ")}\n`);
  const now = Date.now();
  const inputs: PersonaInput[] = rows.map(({ line, raw }) => {
    try {
      return parsePersonaInput(raw, now, `row ${line}`);
    } catch (err) {
      throw new OddwireError("ODW_ERR_PERSONA", `${file}: ${(err as Error).message}; nothing was imported`, { cause: err });
    }
  });
  const db = intakeDb(values["db"]);
  let merged = 0;
  try {
    const store = new PersonaStore(db);
    const source = `csv:${basename(file).slice(0, 100)}`;
    db.transaction(() => {
      for (const input of inputs) if (store.add({ ...input, reportedBy: input.reportedBy || who(values, "reported-by") }, { source, nowMs: now }).merged) merged++;
    })();
  } finally {
    db.close();
  }
  process.stdout.write(`imported ${countOf(inputs.length, "persona report")} (${merged} merged into personas already known)\n`);
  return 0;
}

function list(values: Record<string, unknown>): number {
  const format = (values["format"] as string | undefined) ?? "table";
  if (format !== "table" && format !== "json" && format !== "csv") throw new OddwireError("ODW_ERR_USAGE", `--format must be table, json or csv, not "${format}"`);
  // Not read-only: opening brings an older database's schema up to date.
  const db = openDb(existingDbPath(values["db"]));
  try {
    const personas = buildPersonaSection(db, Date.now());
    if (format === "json") process.stdout.write(JSON.stringify({ generatedAt: new Date().toISOString(), personas }, null, 2) + "\n");
    else if (format === "csv") process.stdout.write(csvLine([...PERSONA_COLUMNS]) + personaRows(personas).map(csvLine).join(""));
    else process.stdout.write(renderPersonaTable(personas));
  } finally {
    db.close();
  }
  return 0;
}

function setState(values: Record<string, unknown>, idText: string | undefined, state: string | undefined): number {
  const id = Number(idText);
  if (!idText || !/^\d+$/.test(idText) || !Number.isSafeInteger(id))
    throw new OddwireError("ODW_ERR_USAGE", "persona set-state needs the persona's ID (see persona list) and a state");
  if (!PERSONA_STATES.includes(state as PersonaState)) {
    const near = state ? nearest(state, PERSONA_STATES) : undefined;
    throw new OddwireError("ODW_ERR_PERSONA", `the state must be one of ${PERSONA_STATES.join(", ")}${near ? `; did you mean "${near}"?` : ""}`);
  }
  const reason = ((values["reason"] as string | undefined) ?? "").trim();
  if (!reason) throw new OddwireError("ODW_ERR_USAGE", "persona set-state needs --reason: why, for the audit trail");
  if (reason.length > PERSONA_LIMITS.notes) throw new OddwireError("ODW_ERR_PERSONA", `--reason is ${reason.length} characters long; at most ${PERSONA_LIMITS.notes}`);
  const db = openDb(existingDbPath(values["db"]));
  try {
    const moved = new PersonaStore(db).setState(id, state as PersonaState, reason, who(values), Date.now());
    if (!moved) throw new OddwireError("ODW_ERR_PERSONA", `no persona has id ${id} (see oddwire-collector persona list)`);
    process.stdout.write(`persona ${id}: ${moved.from} → ${moved.to}\n`);
  } finally {
    db.close();
  }
  return 0;
}

function roster(values: Record<string, unknown>, file: string | undefined): number {
  if (!file) throw new OddwireError("ODW_ERR_USAGE", "persona roster needs the CSV file of staff names");
  const names = rosterFromCsv(readSmallFile(file));
  if (names.length > MAX_ROSTER) throw new OddwireError("ODW_ERR_PERSONA", `${file} has ${names.length} names; at most ${MAX_ROSTER}`);
  const db = intakeDb(values["db"]);
  try {
    new PersonaStore(db).replaceRoster(names.map((n) => ({ ...n, folded: foldName(n.name) })));
  } finally {
    db.close();
  }
  process.stdout.write(`staff roster: ${countOf(names.length, "name")}\n`);
  return 0;
}

const TOKEN_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function tokenAdd(values: Record<string, unknown>, name: string | undefined): number {
  if (!name || !TOKEN_NAME.test(name)) throw new OddwireError("ODW_ERR_USAGE", "persona token-add needs a NAME for the sender: 1-63 lower-case letters, digits, dots, dashes");
  const token = `odwp_${randomBytes(24).toString("base64url")}`;
  const db = intakeDb(values["db"]);
  try {
    if (!new PersonaStore(db).addToken(name, token, who(values), Date.now()))
      throw new OddwireError("ODW_ERR_USAGE", `an intake token named ${name} exists already (revoked or not); choose another name`);
  } finally {
    db.close();
  }
  process.stderr.write(`oddwire-collector: intake token ${name}; it is shown once, keep it secret (POST /v1/personas with Authorization: Bearer <token>)\n`);
  process.stdout.write(`${token}\n`);
  return 0;
}

function tokenRevoke(values: Record<string, unknown>, name: string | undefined): number {
  if (!name) throw new OddwireError("ODW_ERR_USAGE", "persona token-revoke needs the token's NAME (see persona tokens)");
  const db = openDb(existingDbPath(values["db"]));
  try {
    if (!new PersonaStore(db).revokeToken(name, who(values), Date.now()))
      throw new OddwireError("ODW_ERR_USAGE", `no live intake token is named ${terminalSafe(JSON.stringify(name.slice(0, 64)))} (see persona tokens)`);
  } finally {
    db.close();
  }
  process.stdout.write(`revoked intake token ${name}\n`);
  return 0;
}

function tokens(values: Record<string, unknown>): number {
  const db = openDb(existingDbPath(values["db"]));
  try {
    const list = new PersonaStore(db).tokens();
    const iso = (ms: number | null) => (ms ? new Date(ms).toISOString() : "-");
    const rows = list.map((t) => [
      t.name,
      iso(t.createdAtMs),
      terminalSafe(t.createdBy),
      t.revokedAtMs ? `revoked ${iso(t.revokedAtMs)} by ${terminalSafe(t.revokedBy ?? "")}` : "live",
    ]);
    const header = ["NAME", "CREATED", "BY", "STATUS"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd();
    process.stdout.write([line(header), ...rows.map(line), countOf(list.length, "intake token")].join("\n") + "\n");
  } finally {
    db.close();
  }
  return 0;
}

function readSmallFile(file: string): string {
  try {
    const size = statSync(file).size;
    if (size > MAX_CSV_BYTES) throw new OddwireError("ODW_ERR_PERSONA", `${file} is ${size} bytes; at most ${MAX_CSV_BYTES}: split it`);
    return readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof OddwireError) throw err;
    throw new OddwireError("ODW_ERR_INPUT", `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}
