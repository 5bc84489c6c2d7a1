// Hosts: enrollment, authentication, revocation and the agents list. Only a
// SHA-256 of each agent key is stored; keys are compared in constant time.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { HOST_ID_PATTERN, OddwireError } from "@oddwire/shared";
import type { Db } from "./open-db.js";

export interface EnrollInput {
  hostId: string;
  hostname: string;
  os: string;
  agentVersion: string;
}

export type AuthResult = { ok: true; lastSeq: number } | { ok: false; reason: "unknown-host" | "bad-key" | "revoked" };

export interface HostRow {
  hostId: string;
  hostname: string;
  os: string;
  osVersion: string;
  agentVersion: string;
  enrolledAt: number;
  firstSeen: number | null;
  lastSeen: number | null;
  lastSnapshotAt: number | null;
  lastSeq: number;
  droppedBatches: number;
  revokedAt: number | null;
  revokedReason: string | null;
  /** No batch for longer than the silence threshold (or never). */
  silent: boolean;
}


export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export class HostStore {
  private readonly select;
  private readonly insert;
  private readonly rekey;
  private readonly revokeStmt;
  private readonly listStmt;

  constructor(private readonly db: Db) {
    this.select = db.prepare<[string], { key_hash: string; last_seq: number; revoked_at: number | null }>(
      "SELECT key_hash, last_seq, revoked_at FROM hosts WHERE host_id = ?",
    );
    this.insert = db.prepare(
      "INSERT INTO hosts (host_id, hostname, os, agent_version, key_hash, enrolled_at) VALUES (@hostId, @hostname, @os, @agentVersion, @keyHash, @now)",
    );
    this.rekey = db.prepare("UPDATE hosts SET key_hash = @keyHash, hostname = @hostname, os = @os, agent_version = @agentVersion WHERE host_id = @hostId");
    this.revokeStmt = db.prepare("UPDATE hosts SET revoked_at = ?, revoked_reason = ? WHERE host_id = ? AND revoked_at IS NULL");
    this.listStmt = db.prepare("SELECT * FROM hosts ORDER BY hostname, host_id");
  }

  /**
   * Issues a new agent key for the host (a re-enrolling host gets a new key;
   * the old one stops working). A revoked host cannot enroll again.
   */
  enroll(input: EnrollInput, now: number): string {
    if (!HOST_ID_PATTERN.test(input.hostId)) {
      throw new OddwireError("ODW_ERR_PROTOCOL", `host id ${JSON.stringify(input.hostId.slice(0, 140))} must be 1-128 letters, digits, ".", "_", ":" or "-"`);
    }
    const agentKey = randomBytes(32).toString("base64url");
    const row = { ...input, hostname: input.hostname.slice(0, 255), os: input.os.slice(0, 32), agentVersion: input.agentVersion.slice(0, 64), keyHash: hashKey(agentKey), now };
    this.db.transaction(() => {
      const existing = this.select.get(input.hostId);
      if (existing?.revoked_at != null) throw new OddwireError("ODW_ERR_REVOKED", `host ${input.hostId} is revoked and cannot enroll again`);
      if (existing) this.rekey.run(row);
      else this.insert.run(row);
    })();
    return agentKey;
  }

  authenticate(hostId: string, agentKey: string): AuthResult {
    const row = this.select.get(hostId);
    if (!row) return { ok: false, reason: "unknown-host" };
    const presented = Buffer.from(hashKey(agentKey), "hex");
    const stored = Buffer.from(row.key_hash, "hex");
    if (presented.length !== stored.length || !timingSafeEqual(presented, stored)) return { ok: false, reason: "bad-key" };
    if (row.revoked_at != null) return { ok: false, reason: "revoked" };
    return { ok: true, lastSeq: row.last_seq };
  }

  revoke(hostId: string, reason: string, now: number): boolean {
    return this.revokeStmt.run(now, reason, hostId).changes > 0;
  }

  isRevoked(hostId: string): boolean {
    return this.select.get(hostId)?.revoked_at != null;
  }

  list(now: number, silentAfterMs: number): HostRow[] {
    return (this.listStmt.all() as Array<Record<string, any>>).map((r) => ({
      hostId: r["host_id"],
      hostname: r["hostname"],
      os: r["os"],
      osVersion: r["os_version"],
      agentVersion: r["agent_version"],
      enrolledAt: r["enrolled_at"],
      firstSeen: r["first_seen"],
      lastSeen: r["last_seen"],
      lastSnapshotAt: r["last_snapshot_at"],
      lastSeq: r["last_seq"],
      droppedBatches: r["dropped_batches"],
      revokedAt: r["revoked_at"],
      revokedReason: r["revoked_reason"],
      silent: r["revoked_at"] == null && (r["last_seen"] == null || now - r["last_seen"] > silentAfterMs),
    }));
  }
}
