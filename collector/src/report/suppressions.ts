// Allow rules for known-good findings, with an audit trail: who added or
// removed each rule, when and why. A rule names a binary (its normalised path
// or its name), optionally a protocol and hosts, and may expire.

import { OddwireError } from "@oddwire/shared";
import type { Db } from "../store/open-db.js";
import type { Suppression } from "./report-types.js";

interface Row {
  id: number;
  binary: string;
  protocol: string;
  hosts: string;
  reason: string;
  created_by: string;
  created_at: number;
  expires_at: number | null;
}

export interface ActiveSuppression extends Suppression {
  binary: string;
  protocol: string;
  hosts: string[] | "*";
}

export interface SuppressionInput {
  binary: string;
  protocol?: string | undefined;
  hosts?: string[] | undefined;
  reason: string;
  by: string;
  expiresAtMs?: number | null | undefined;
}

export function addSuppression(db: Db, s: SuppressionInput, now: number): number {
  if (!s.binary.trim()) throw new OddwireError("ODW_ERR_USAGE", "a suppression needs --binary (a binary's path or name, as the report shows it)");
  if (!s.reason.trim()) throw new OddwireError("ODW_ERR_USAGE", "a suppression needs --reason: the audit trail says why");
  return db.transaction(() => {
    const id = Number(
      db
        .prepare("INSERT INTO suppressions (binary, protocol, hosts, reason, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .run(s.binary, s.protocol || "*", s.hosts?.length ? s.hosts.join(",") : "*", s.reason, s.by, now, s.expiresAtMs ?? null).lastInsertRowid,
    );
    db.prepare("INSERT INTO suppression_audit (suppression_id, action, at, by, reason, details) VALUES (?, 'add', ?, ?, ?, ?)").run(
      id,
      now,
      s.by,
      s.reason,
      JSON.stringify({ binary: s.binary, protocol: s.protocol || "*", hosts: s.hosts ?? "*", expiresAtMs: s.expiresAtMs ?? null }),
    );
    return id;
  })();
}

export function removeSuppression(db: Db, id: number, by: string, reason: string, now: number): boolean {
  return db.transaction(() => {
    const changed = db.prepare("UPDATE suppressions SET removed_at = ?, removed_by = ? WHERE id = ? AND removed_at IS NULL").run(now, by, id).changes > 0;
    if (changed) db.prepare("INSERT INTO suppression_audit (suppression_id, action, at, by, reason, details) VALUES (?, 'remove', ?, ?, ?, '{}')").run(id, now, by, reason);
    return changed;
  })();
}

export function activeSuppressions(db: Db, now: number): ActiveSuppression[] {
  const rows = db.prepare("SELECT * FROM suppressions WHERE removed_at IS NULL AND (expires_at IS NULL OR expires_at > ?)").all(now) as Row[];
  return rows.map((r) => ({
    id: r.id,
    binary: r.binary,
    protocol: r.protocol,
    hosts: r.hosts === "*" ? "*" : r.hosts.split(","),
    reason: r.reason,
    by: r.created_by,
    createdAtMs: r.created_at,
    expiresAtMs: r.expires_at,
  }));
}

export function listSuppressions(db: Db): { rules: Array<Record<string, unknown>>; audit: Array<Record<string, unknown>> } {
  return {
    rules: db.prepare("SELECT * FROM suppressions ORDER BY id").all() as Array<Record<string, unknown>>,
    audit: db.prepare("SELECT * FROM suppression_audit ORDER BY id").all() as Array<Record<string, unknown>>,
  };
}

/** The first rule that covers a finding (all its hosts, when the rule names hosts). */
export function matchSuppression(rules: ActiveSuppression[], binary: string, name: string, protocol: string, hostIds: string[]): Suppression | undefined {
  const rule = rules.find(
    (r) =>
      (r.binary === binary || r.binary.toLowerCase() === name.toLowerCase()) &&
      (r.protocol === "*" || r.protocol === protocol) &&
      (r.hosts === "*" || hostIds.every((h) => (r.hosts as string[]).includes(h))),
  );
  if (!rule) return undefined;
  const { id, reason, by, createdAtMs, expiresAtMs } = rule;
  return { id, reason, by, createdAtMs, expiresAtMs };
}
