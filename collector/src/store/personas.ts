// Suspected fake personas: every report kept, one row per persona
// (platform + handle, case-insensitive, without a leading "@"), the triage
// state with its audit trail, the optional staff roster, and the intake
// endpoint's tokens (stored as SHA-256, each named, each revocable). Also
// the store side of the persona-to-fleet link: command lines the hosts ran
// that name a persona's domains, and destination names they reached under them.

import { createHash } from "node:crypto";
import { domainToUnicode } from "node:url";
import { domainMentionTest, type FleetObservation } from "../persona/match-persona.js";
import { personaKey, PERSONA_LIMITS, type PersonaInput } from "../persona/persona-input.js";
import type { PersonaAuditEntry, PersonaRecord, PersonaReportEntry, PersonaState } from "../persona/persona-types.js";
import { jsonStringList } from "./json-list.js";
import type { Sql } from "./sql.js";

/** The persona tables' migration (one entry of schema.ts's list). */
export const PERSONA_MIGRATION = `
  CREATE TABLE personas (
    id                INTEGER PRIMARY KEY,
    platform_key      TEXT NOT NULL,
    handle_key        TEXT NOT NULL,
    platform          TEXT NOT NULL,
    handle            TEXT NOT NULL,
    profile_url       TEXT NOT NULL DEFAULT '',
    display_name      TEXT NOT NULL DEFAULT '',
    claimed_employer  TEXT NOT NULL DEFAULT '',
    claimed_title     TEXT NOT NULL DEFAULT '',
    previous_name     TEXT NOT NULL DEFAULT '',
    previous_employer TEXT NOT NULL DEFAULT '',
    created_at        INTEGER,    changed_at        INTEGER,
    contacted_at      INTEGER,
    requests          INTEGER,
    requested_staff   TEXT NOT NULL DEFAULT '[]',
    domains           TEXT NOT NULL DEFAULT '[]',
    urls              TEXT NOT NULL DEFAULT '[]',
    state             TEXT NOT NULL DEFAULT 'new',
    state_changed_at  INTEGER NOT NULL,
    first_reported_at INTEGER NOT NULL,
    last_reported_at  INTEGER NOT NULL,
    UNIQUE (platform_key, handle_key)
  ) STRICT;

  -- Every report as it came, kept when reports of one persona merge.
  CREATE TABLE persona_reports (
    id          INTEGER PRIMARY KEY,
    persona_id  INTEGER NOT NULL REFERENCES personas (id),
    reported_at INTEGER NOT NULL,
    reported_by TEXT NOT NULL,
    source      TEXT NOT NULL,
    notes       TEXT NOT NULL,
    fields      TEXT NOT NULL
  ) STRICT;
  CREATE INDEX persona_reports_by_persona ON persona_reports (persona_id, id);

  -- Who moved a persona's triage state, when and why; never pruned.
  CREATE TABLE persona_audit (
    id         INTEGER PRIMARY KEY,
    persona_id INTEGER NOT NULL REFERENCES personas (id),
    at         INTEGER NOT NULL,
    by         TEXT NOT NULL,
    action     TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL
  ) STRICT;
  CREATE INDEX persona_audit_by_persona ON persona_audit (persona_id, id);  -- Staff names (and, when the roster gives it, each one's login on the fleet's machines).
  CREATE TABLE persona_roster (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL,
    folded TEXT NOT NULL,
    login  TEXT NOT NULL DEFAULT ''
  ) STRICT;

  CREATE TABLE persona_intake_tokens (
    name       TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at INTEGER,
    revoked_by TEXT
  ) STRICT;
`;

/** Personas read for a report or a listing at most (the most recently reported). */
export const MAX_PERSONAS_READ = 1000;
/** Reports and audit entries shown per persona at most (the latest). */
const MAX_ENTRIES = 50;
/** Staff roster names kept at most. */
export const MAX_ROSTER = 100_000;
/** Command lines read per report to match personas against, at most. */
const MAX_OBSERVATION_ROWS = 20_000;

interface PersonaRow {
  id: number;
  platform: string;
  handle: string;
  profile_url: string;
  display_name: string;
  claimed_employer: string;
  claimed_title: string;
  previous_name: string;
  previous_employer: string;
  created_at: number | null;
  changed_at: number | null;
  contacted_at: number | null;
  requests: number | null;
  requested_staff: string;
  domains: string;
  urls: string;
  state: string;
  state_changed_at: number;
  first_reported_at: number;
  last_reported_at: number;
}

export interface RosterEntry {
  name: string;
  /** foldName(name). */
  folded: string;
  /** The staff member's login on the fleet's machines; "" when the roster does not say. */
  login: string;
}

export interface IntakeToken {
  name: string;
  createdAtMs: number;
  createdBy: string;
  revokedAtMs: number | null;
  revokedBy: string | null;
}

export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export class PersonaStore {
  constructor(private readonly sql: Sql) {}

  /**
   * Records a report: a new persona, or merged into the one with the same
   * platform and handle. Merging keeps every report; a later non-empty
   * field replaces an earlier one, lists are joined, the request count is
   * the highest reported, the creation date the earliest. A display name or
   * employer that differs from the stored one counts as a change (the old
   * value becomes the previous one, changed now unless the report says when).
   * Inside `within` (a transaction of the caller's) when given.
   */
  add(input: PersonaInput, meta: { source: string; nowMs: number }, within?: Sql): Promise<{ id: number; merged: boolean }> {
    const { platformKey, handleKey } = personaKey(input.platform, input.handle);
    const by = input.reportedBy || meta.source;
    const body = async (sql: Sql) => {
      // The row that decides "new or merge" is created first if missing, then locked: two writers (serve and a CLI import) cannot both insert it.
      await sql.run(
        `INSERT INTO personas (platform_key, handle_key, platform, handle, state, state_changed_at, first_reported_at, last_reported_at)
         VALUES (?, ?, ?, ?, 'new', ?, ?, ?) ON CONFLICT (platform_key, handle_key) DO NOTHING`,
        [platformKey, handleKey, input.platform, input.handle, meta.nowMs, meta.nowMs, meta.nowMs],
      );
      const row = (await sql.get<PersonaRow>("SELECT * FROM personas WHERE platform_key = ? AND handle_key = ? FOR UPDATE", [platformKey, handleKey]))!;
      // A row with no report yet is the one just created: the report is its first.
      const hasReports = (await sql.get("SELECT 1 AS x FROM persona_reports WHERE persona_id = ? LIMIT 1", [row.id])) !== undefined;
      const old = hasReports ? row : undefined;
      const id = Number(row.id);
      if (!old) {
        await sql.run(
          `UPDATE personas SET profile_url = ?, display_name = ?, claimed_employer = ?, claimed_title = ?, previous_name = ?, previous_employer = ?,
             created_at = ?, changed_at = ?, contacted_at = ?, requests = ?, requested_staff = ?, domains = ?, urls = ? WHERE id = ?`,
          [
            input.profileUrl,
            input.displayName,
            input.claimedEmployer,
            input.claimedTitle,
            input.previousName,
            input.previousEmployer,
            input.createdMs,
            input.changedMs,
            input.contactedMs,
            input.requests,
            JSON.stringify(input.requestedStaff),
            JSON.stringify(input.domains),
            JSON.stringify(input.urls),
            id,
          ],
        );
      } else {
        const pick = (now: string, was: string) => now || was;
        const renamed = input.displayName !== "" && old.display_name !== "" && input.displayName !== old.display_name;
        const moved = input.claimedEmployer !== "" && old.claimed_employer !== "" && input.claimedEmployer !== old.claimed_employer;
        const changedAt = input.changedMs ?? (renamed || moved ? meta.nowMs : null);
        await sql.run(
          `UPDATE personas SET platform = ?, handle = ?, profile_url = ?, display_name = ?, claimed_employer = ?, claimed_title = ?, previous_name = ?, previous_employer = ?,
           created_at = ?, changed_at = ?, contacted_at = ?, requests = ?, requested_staff = ?, domains = ?, urls = ?, last_reported_at = ? WHERE id = ?`,
          [
            input.platform,
            input.handle,
            pick(input.profileUrl, old.profile_url),
            pick(input.displayName, old.display_name),
            pick(input.claimedEmployer, old.claimed_employer),
            pick(input.claimedTitle, old.claimed_title),
            input.previousName || (renamed ? old.display_name : old.previous_name),
            input.previousEmployer || (moved ? old.claimed_employer : old.previous_employer),
            minKnown(old.created_at, input.createdMs),
            maxKnown(old.changed_at, changedAt),
            maxKnown(old.contacted_at, input.contactedMs),
            maxKnown(old.requests, input.requests),
            JSON.stringify(union(jsonStringList(old.requested_staff), input.requestedStaff, PERSONA_LIMITS.requestedStaff)),
            JSON.stringify(union(jsonStringList(old.domains), input.domains, PERSONA_LIMITS.domains)),
            JSON.stringify(union(jsonStringList(old.urls), input.urls, PERSONA_LIMITS.urls)),
            Math.max(old.last_reported_at, meta.nowMs),
            id,
          ],
        );
      }
      await sql.run("INSERT INTO persona_reports (persona_id, reported_at, reported_by, source, notes, fields) VALUES (?, ?, ?, ?, ?, ?)", [
        id,
        meta.nowMs,
        by,
        meta.source,
        input.notes,
        JSON.stringify(input),
      ]);
      const state = old?.state ?? "new";
      await sql.run("INSERT INTO persona_audit (persona_id, at, by, action, from_state, to_state, reason) VALUES (?, ?, ?, 'reported', ?, ?, ?)", [
        id,
        meta.nowMs,
        by,
        state,
        state,
        old ? `reported again (${meta.source})` : `first reported (${meta.source})`,
      ]);
      return { id, merged: old !== undefined };
    };
    return (within ?? this.sql).tx(body);
  }

  /** Runs `fn` in one transaction (an import of many reports: all or nothing). */
  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.sql.tx(fn);
  }

  /** Moves a persona's triage state; recorded in its audit trail. null when there is no such persona. */
  setState(id: number, to: PersonaState, reason: string, by: string, nowMs: number): Promise<{ from: PersonaState; to: PersonaState } | null> {
    return this.sql.tx(async (sql) => {
      const row = await sql.get<{ state: PersonaState }>("SELECT state FROM personas WHERE id = ? FOR UPDATE", [id]);
      if (!row) return null;
      await sql.run("UPDATE personas SET state = ?, state_changed_at = ? WHERE id = ?", [to, nowMs, id]);
      await sql.run("INSERT INTO persona_audit (persona_id, at, by, action, from_state, to_state, reason) VALUES (?, ?, ?, 'state', ?, ?, ?)", [
        id,
        nowMs,
        by,
        row.state,
        to,
        reason,
      ]);
      return { from: row.state, to };
    });
  }

  /** Personas, most recently reported first (at most MAX_PERSONAS_READ), each with its latest reports and audit entries. */
  async list(): Promise<PersonaRecord[]> {
    const rows = await this.sql.all<PersonaRow>("SELECT * FROM personas ORDER BY last_reported_at DESC, id DESC LIMIT ?", [MAX_PERSONAS_READ]);
    const out: PersonaRecord[] = [];
    for (const r of rows) {
      const reports = await this.sql.all<PersonaReportEntry>(
        `SELECT reported_at AS "reportedAtMs", reported_by AS "reportedBy", source, notes FROM persona_reports WHERE persona_id = ? ORDER BY id DESC LIMIT ?`,
        [r.id, MAX_ENTRIES],
      );
      const audit = await this.sql.all<PersonaAuditEntry>(
        `SELECT at AS "atMs", by, action, from_state AS "fromState", to_state AS "toState", reason FROM persona_audit WHERE persona_id = ? ORDER BY id DESC LIMIT ?`,
        [r.id, MAX_ENTRIES],
      );
      out.push({
        id: Number(r.id),
        platform: r.platform,
        handle: r.handle,
        profileUrl: r.profile_url,
        displayName: r.display_name,
        claimedEmployer: r.claimed_employer,
        claimedTitle: r.claimed_title,
        previousName: r.previous_name,
        previousEmployer: r.previous_employer,
        createdMs: r.created_at,
        changedMs: r.changed_at,
        contactedMs: r.contacted_at,
        requests: r.requests,
        requestedStaff: jsonStringList(r.requested_staff),
        domains: jsonStringList(r.domains),
        urls: jsonStringList(r.urls),
        state: r.state as PersonaState,
        stateChangedAtMs: r.state_changed_at,
        firstReportedMs: r.first_reported_at,
        lastReportedMs: r.last_reported_at,
        reports: reports.reverse(),
        audit: audit.reverse(),
      });
    }
    return out;
  }

  /** Replaces the staff roster (names with their folded form for comparison). */
  replaceRoster(names: readonly RosterEntry[]): Promise<void> {
    return this.sql.tx(async (sql) => {
      await sql.run("DELETE FROM persona_roster");
      for (const n of names) await sql.run("INSERT INTO persona_roster (name, folded, login) VALUES (?, ?, ?)", [n.name, n.folded, n.login]);
    });
  }

  roster(): Promise<RosterEntry[]> {
    return this.sql.all<RosterEntry>("SELECT name, folded, login FROM persona_roster ORDER BY id LIMIT ?", [MAX_ROSTER]);
  }

  /** Stores a new intake token's hash under a name; false when the name is taken. */
  async addToken(name: string, token: string, by: string, nowMs: number): Promise<boolean> {
    const r = await this.sql.run("INSERT INTO persona_intake_tokens (name, token_hash, created_at, created_by) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING", [
      name,
      tokenHash(token),
      nowMs,
      by,
    ]);
    return r.changes === 1;
  }

  /** Revokes a token by name at once (the endpoint reads this table on every request); false when no live token has that name. */
  async revokeToken(name: string, by: string, nowMs: number): Promise<boolean> {
    return (await this.sql.run("UPDATE persona_intake_tokens SET revoked_at = ?, revoked_by = ? WHERE name = ? AND revoked_at IS NULL", [nowMs, by, name])).changes === 1;
  }

  /** The name of the live token with this hash, or null. */
  async tokenName(hash: string): Promise<string | null> {
    const r = await this.sql.get<{ name: string }>("SELECT name FROM persona_intake_tokens WHERE token_hash = ? AND revoked_at IS NULL", [hash]);
    return r?.name ?? null;
  }

  tokens(): Promise<IntakeToken[]> {
    return this.sql.all<IntakeToken>(
      `SELECT name, created_at AS "createdAtMs", created_by AS "createdBy", revoked_at AS "revokedAtMs", revoked_by AS "revokedBy" FROM persona_intake_tokens ORDER BY created_at, name`,
    );
  }

  /**
   * Command lines that may name any of the domains (domainMentionTest, in one
   * pass whatever the number of domains; the exact, whole-name test is
   * match-persona's), from the processes the hosts run now and the connection
   * records of processes that came and went. Revoked hosts are left out.
   * The database narrows the rows (a command line holding one of the names,
   * in any case); the test then judges each. Bounded: at most
   * MAX_OBSERVATION_ROWS rows.
   */
  /** Destination names the hosts reached under the domains (readDestinationNameObservations); none when the database predates them. */
  destinationNameObservations(domains: readonly string[]): Promise<FleetObservation[]> {
    return readDestinationNameObservations(this.sql, domains).catch(() => []);
  }

  async commandLineObservations(domains: readonly string[]): Promise<FleetObservation[]> {
    if (domains.length === 0) return [];
    const mentions = domainMentionTest(domains);
    const names = [...new Set(domains.flatMap((d) => [d.toLowerCase(), domainToUnicode(d).toLowerCase()]).filter(Boolean))];
    const like = names.map(() => "lower(cmdline) LIKE ? ESCAPE '\\'").join(" OR ");
    const patterns = names.map((n) => `%${n.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    const rows = await this.sql.all<Omit<FleetObservation, "source" | "value">>(
      `SELECT x.host_id AS "hostId", h.hostname, x.pid, x.exe, x.cmdline, x.user, x.seen AS "seenAtMs" FROM (
         SELECT host_id, pid, exe, cmdline, user, CASE WHEN started_at > 0 THEN started_at ELSE 0 END AS seen FROM processes WHERE ${like}
         UNION ALL
         SELECT host_id, pid, exe, cmdline, user, first_seen AS seen FROM connections WHERE ${like}
       ) x JOIN hosts h ON h.host_id = x.host_id WHERE h.revoked_at IS NULL LIMIT ?`,
      [...patterns, ...patterns, MAX_OBSERVATION_ROWS * 4],
    );
    return rows
      .filter((r) => mentions(r.cmdline))
      .slice(0, MAX_OBSERVATION_ROWS)
      .map((r) => ({ ...r, source: "command-line", value: r.cmdline }));
  }
}

/** Persona domains per destination-name query (two parameters each). */
const DOMAINS_PER_QUERY = 200;

/**
 * Destination names (TLS SNI, HTTP Host, DNS question) the hosts reached
 * that are one of the domains or under one, with the process that reached
 * each (one with an outbound classified flow: a server that was sent the
 * name did not reach it) and its user when the agent still has the process or a connection
 * record of it. seenAtMs is the first sight (the "N minutes after the
 * persona's message" of the match's sentence). Plain SQL: the name equals
 * a domain or ends with "." and it, case-insensitively; match-persona says
 * exactly. Revoked hosts are left out; at most MAX_OBSERVATION_ROWS rows.
 */
export async function readDestinationNameObservations(sql: Sql, domains: readonly string[]): Promise<FleetObservation[]> {
  const out: FleetObservation[] = [];
  for (let i = 0; i < domains.length && out.length < MAX_OBSERVATION_ROWS; i += DOMAINS_PER_QUERY) {
    const chunk = domains.slice(i, i + DOMAINS_PER_QUERY).map((d) => d.toLowerCase());
    const params: unknown[] = [];
    for (const d of chunk) params.push(d, `%.${d.replace(/[\\%_]/g, (c) => `\\${c}`)}`);
    const rows = await sql.all<Omit<FleetObservation, "source">>(
      `SELECT d.host_id AS "hostId", h.hostname, d.name AS value, d.pid, d.exe, d.cmdline, d.first_seen AS "seenAtMs",
                coalesce((SELECT p.user FROM processes p WHERE p.host_id = d.host_id AND p.pid = d.pid AND p.exe = d.exe ORDER BY p.started_at DESC LIMIT 1),
                         (SELECT c.user FROM connections c WHERE c.host_id = d.host_id AND c.pid = d.pid AND c.exe = d.exe ORDER BY c.last_seen DESC LIMIT 1), '') AS user
           FROM destination_names d JOIN hosts h ON h.host_id = d.host_id
          WHERE (${chunk.map(() => "lower(d.name) = ? OR lower(d.name) LIKE ? ESCAPE '\\'").join(" OR ")}) AND h.revoked_at IS NULL
            AND EXISTS (SELECT 1 FROM flows f WHERE f.binary = d.binary AND f.host_id = d.host_id AND f.pid = d.pid AND f.direction = 'outbound')
          LIMIT ?`,
      [...params, MAX_OBSERVATION_ROWS - out.length],
    );
    for (const r of rows) out.push({ ...r, source: "destination-name" });
  }
  return out;
}

function union(a: string[], b: string[], max: number): string[] {
  return [...new Set([...a, ...b])].slice(0, max);
}

function minKnown(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

function maxKnown(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
