// Allow rules for known-good findings and their audit trail, as stored. The
// rules' meaning (which finding a rule covers) is report/suppressions.ts's.

import { OddwireError } from "@oddwire/shared";
import type { Sql } from "./sql.js";

export interface SuppressionRow {
  id: number;
  binary: string;
  protocol: string;
  hosts: string;
  reason: string;
  created_by: string;
  created_at: number;
  expires_at: number | null;
}

export interface SuppressionInput {
  binary: string;
  protocol?: string | undefined;
  hosts?: string[] | undefined;
  reason: string;
  by: string;
  expiresAtMs?: number | null | undefined;
}

export class SuppressionStore {
  constructor(private readonly sql: Sql) {}

  add(s: SuppressionInput, now: number): Promise<number> {
    if (!s.binary.trim()) throw new OddwireError("ODW_ERR_USAGE", "a suppression needs --binary (a binary's path or name, as the report shows it)");
    if (!s.reason.trim()) throw new OddwireError("ODW_ERR_USAGE", "a suppression needs --reason: the audit trail says why");
    return this.sql.tx(async (sql) => {
      const row = await sql.get<{ id: number }>(
        "INSERT INTO suppressions (binary, protocol, hosts, reason, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [s.binary, s.protocol || "*", s.hosts?.length ? s.hosts.join(",") : "*", s.reason, s.by, now, s.expiresAtMs ?? null],
      );
      const id = Number(row!.id);
      await sql.run("INSERT INTO suppression_audit (suppression_id, action, at, by, reason, details) VALUES (?, 'add', ?, ?, ?, ?)", [
        id,
        now,
        s.by,
        s.reason,
        JSON.stringify({ binary: s.binary, protocol: s.protocol || "*", hosts: s.hosts ?? "*", expiresAtMs: s.expiresAtMs ?? null }),
      ]);
      return id;
    });
  }

  remove(id: number, by: string, reason: string, now: number): Promise<boolean> {
    return this.sql.tx(async (sql) => {
      const changed = (await sql.run("UPDATE suppressions SET removed_at = ?, removed_by = ? WHERE id = ? AND removed_at IS NULL", [now, by, id])).changes > 0;
      if (changed) await sql.run("INSERT INTO suppression_audit (suppression_id, action, at, by, reason, details) VALUES (?, 'remove', ?, ?, ?, '{}')", [id, now, by, reason]);
      return changed;
    });
  }

  active(now: number): Promise<SuppressionRow[]> {
    return this.sql.all<SuppressionRow>("SELECT * FROM suppressions WHERE removed_at IS NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY id", [now]);
  }

  async list(): Promise<{ rules: Array<Record<string, unknown>>; audit: Array<Record<string, unknown>> }> {
    return { rules: await this.sql.all("SELECT * FROM suppressions ORDER BY id"), audit: await this.sql.all("SELECT * FROM suppression_audit ORDER BY id") };
  }
}
