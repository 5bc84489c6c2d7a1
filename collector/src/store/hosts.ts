// Hosts: enrollment, authentication, revocation and the agents list. Only a
// SHA-256 of each agent key is stored; keys are compared in constant time.
//
// A host id the collector knows is not handed to whoever holds the
// enrollment secret: enrolling it again needs the key it holds now (the agent
// proves continuity) or an administrator's approval (allow-reenroll), which
// allows one re-enrollment within a window. A host that has delivered no
// batch yet is the exception: its enrollment answer may have been lost, and it
// has nothing to protect yet.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { HOST_ID_PATTERN, OddwireError, type HostFactsRecord } from "@oddwire/shared";
import type { Sql } from "./sql.js";

export interface EnrollInput {
  hostId: string;
  hostname: string;
  os: string;
  agentVersion: string;
  /** The agent key the host holds now, if it has one (EnrollRequest.current_key). */
  currentKey?: string;
}

/** How a re-enrollment was allowed, or null for a host's first enrollment. */
export type EnrollProof = "current-key" | "approval" | "never-streamed" | null;

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
  /** Until when an administrator allowed one re-enrollment with the secret alone (null: not allowed). */
  reenrollAllowedUntil: number | null;
  reenrolledAt: number | null;
  /** No batch for longer than the silence threshold (or never). */
  silent: boolean;
  /** What the agent read of the machine at its start (empty strings until a full batch says). */
  facts: HostFactsRecord;
  /** What the agent can see (the latest batch that said), or null when its agent never said (an older agent). */
  visibility: HostVisibility | null;
}

export interface HostVisibility {
  /** "events+snapshots": connections are recorded as they are made; "snapshots": only what each snapshot catches. */
  mode: string;
  /** Why events are off, in the agent's words ("" when they are on). */
  reason: string;
  /** Connection events the collector received from this host, in total. */
  eventsAccepted: number;
  /** Events the agent dropped since it started, by cause: over its rate cap, over its records-per-batch cap, lost in the kernel's buffer. */
  droppedRate: number;
  droppedRecords: number;
  droppedKernel: number;
  /** When the collector received this (ms since the epoch). */
  updatedAt: number;
}

/** The EVENTS cell of `agents`: "on", "off: <reason>", or "-" when the agent never said. */
export function eventsCell(v: HostVisibility | null, maxReason = 80): string {
  if (!v) return "-";
  if (v.mode === "events+snapshots") return "on";
  const reason = v.reason || v.mode || "no reason given";
  return `off: ${reason.length > maxReason ? `${reason.slice(0, maxReason - 1)}…` : reason}`;
}

/** "Debian GNU/Linux 12 (KVM)": the facts in one phrase for tables; "" when none are known. */
export function platformOf(f: HostFactsRecord): string {
  const os = [f.distro, f.release].filter(Boolean).join(" ");
  const machine = f.virtualization ? f.virtualization : [f.hardwareVendor, f.hardwareModel].filter(Boolean).join(" ");
  return machine ? `${os || "?"} (${machine})` : os;
}

export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** The key hashes to `storedHash`, compared in constant time. */
function sameKey(key: string, storedHash: string): boolean {
  const presented = Buffer.from(hashKey(key), "hex");
  const stored = Buffer.from(storedHash, "hex");
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

export class HostStore {
  constructor(private readonly sql: Sql) {}

  /**
   * Issues a new agent key for the host. A host id already known must prove
   * continuity (its current key) or have an administrator's approval; the
   * old key stops working. A revoked host cannot enroll again.
   */
  async enroll(input: EnrollInput, now: number): Promise<{ agentKey: string; proof: EnrollProof }> {
    if (!HOST_ID_PATTERN.test(input.hostId)) {
      throw new OddwireError("ODW_ERR_PROTOCOL", `host id ${JSON.stringify(input.hostId.slice(0, 140))} must be 1-128 letters, digits, ".", "_", ":" or "-"`);
    }
    const agentKey = randomBytes(32).toString("base64url");
    const row = {
      hostId: input.hostId,
      hostname: input.hostname.slice(0, 255),
      os: input.os.slice(0, 32),
      agentVersion: input.agentVersion.slice(0, 64),
      keyHash: hashKey(agentKey),
      now,
    };
    const proof = await this.sql.tx(async (sql): Promise<EnrollProof> => {
      // Two collectors enrolling the same new host at once: one inserts, the other finds it.
      const inserted = await sql.run(
        `INSERT INTO hosts (host_id, hostname, os, agent_version, key_hash, enrolled_at) VALUES (@hostId, @hostname, @os, @agentVersion, @keyHash, @now)
         ON CONFLICT (host_id) DO NOTHING`,
        row,
      );
      if (inserted.changes > 0) return null;
      const existing = await sql.get<{ key_hash: string; revoked_at: number | null; first_seen: number | null; last_seq: number; reenroll_allowed_until: number | null }>(
        "SELECT key_hash, revoked_at, first_seen, last_seq, reenroll_allowed_until FROM hosts WHERE host_id = ? FOR UPDATE",
        [input.hostId],
      );
      if (!existing) throw new Error(`host ${input.hostId} vanished while enrolling`);
      if (existing.revoked_at != null) throw new OddwireError("ODW_ERR_REVOKED", `host ${input.hostId} is revoked and cannot enroll again`);
      let proof: EnrollProof;
      if (input.currentKey && sameKey(input.currentKey, existing.key_hash)) proof = "current-key";
      else if (existing.reenroll_allowed_until != null && now <= existing.reenroll_allowed_until) proof = "approval";
      else if (existing.first_seen == null && existing.last_seq === 0) proof = "never-streamed";
      else {
        throw new OddwireError(
          "ODW_ERR_REENROLL",
          `host ${input.hostId} is already enrolled and did not present its current agent key; if this is the same machine reinstalled or restored, an administrator can allow one re-enrollment with \`oddwire-collector allow-reenroll ${input.hostId}\` on the collector, then the agent enrolls again`,
        );
      }
      await sql.run("UPDATE hosts SET key_hash = @keyHash, hostname = @hostname, os = @os, agent_version = @agentVersion WHERE host_id = @hostId", row);
      await sql.run("UPDATE hosts SET reenroll_allowed_until = NULL, reenrolled_at = ?, reenrolled_with = ? WHERE host_id = ?", [now, proof, input.hostId]);
      await sql.run("INSERT INTO host_audit (host_id, action, at, by, details) VALUES (?, ?, ?, ?, ?)", [input.hostId, "reenrolled", now, "agent", JSON.stringify({ proof })]);
      return proof;
    });
    return { agentKey, proof };
  }

  /** Allows one re-enrollment of `hostId` with the enrollment secret alone until `until`; false when no such (unrevoked) host exists. */
  allowReenroll(hostId: string, until: number, by: string, now: number): Promise<boolean> {
    return this.sql.tx(async (sql) => {
      if ((await sql.run("UPDATE hosts SET reenroll_allowed_until = ?, reenroll_allowed_by = ? WHERE host_id = ? AND revoked_at IS NULL", [until, by, hostId])).changes === 0)
        return false;
      await sql.run("INSERT INTO host_audit (host_id, action, at, by, details) VALUES (?, ?, ?, ?, ?)", [hostId, "reenroll_allowed", now, by, JSON.stringify({ until })]);
      return true;
    });
  }

  async authenticate(hostId: string, agentKey: string): Promise<AuthResult> {
    const row = await this.sql.get<{ key_hash: string; last_seq: number; revoked_at: number | null }>("SELECT key_hash, last_seq, revoked_at FROM hosts WHERE host_id = ?", [
      hostId,
    ]);
    if (!row) return { ok: false, reason: "unknown-host" };
    if (!sameKey(agentKey, row.key_hash)) return { ok: false, reason: "bad-key" };
    if (row.revoked_at != null) return { ok: false, reason: "revoked" };
    return { ok: true, lastSeq: row.last_seq };
  }

  async revoke(hostId: string, reason: string, now: number): Promise<boolean> {
    return (await this.sql.run("UPDATE hosts SET revoked_at = ?, revoked_reason = ? WHERE host_id = ? AND revoked_at IS NULL", [now, reason, hostId])).changes > 0;
  }

  /** The hosts revoked at or after `since` (ms): one indexed query however many streams are open. */
  async revokedSince(since: number): Promise<string[]> {
    return (await this.sql.all<{ host_id: string }>("SELECT host_id FROM hosts WHERE revoked_at IS NOT NULL AND revoked_at >= ?", [since])).map((r) => r.host_id);
  }

  /** One host, as list() shows it, or undefined. */
  async find(hostId: string, now: number, silentAfterMs: number): Promise<HostRow | undefined> {
    const r = await this.sql.get("SELECT * FROM hosts WHERE host_id = ?", [hostId]);
    return r && hostRow(r, now, silentAfterMs);
  }

  async list(now: number, silentAfterMs: number): Promise<HostRow[]> {
    return (await this.sql.all("SELECT * FROM hosts ORDER BY hostname, host_id")).map((r) => hostRow(r, now, silentAfterMs));
  }

  /** Every host as list() shows it, a chunk at a time (an export of a million hosts). */
  async *each(now: number, silentAfterMs: number): AsyncIterable<HostRow[]> {
    for await (const rows of this.sql.iterate("SELECT * FROM hosts ORDER BY hostname, host_id")) yield rows.map((r) => hostRow(r, now, silentAfterMs));
  }
}

// biome-ignore lint/suspicious/noExplicitAny: a row of SELECT *, read column by column below
function hostRow(r: Record<string, any>, now: number, silentAfterMs: number): HostRow {
  return {
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
    reenrollAllowedUntil: r["reenroll_allowed_until"] ?? null,
    reenrolledAt: r["reenrolled_at"] ?? null,
    silent: r["revoked_at"] == null && (r["last_seen"] == null || now - r["last_seen"] > silentAfterMs),
    facts: {
      distro: r["distro"] ?? "",
      release: r["os_release"] ?? "",
      kernel: r["kernel"] ?? "",
      virtualization: r["virtualization"] ?? "",
      hardwareVendor: r["hardware_vendor"] ?? "",
      hardwareModel: r["hardware_model"] ?? "",
    },
    visibility:
      r["visibility_at"] == null
        ? null
        : {
            mode: r["visibility_mode"],
            reason: r["visibility_reason"],
            eventsAccepted: r["events_accepted"],
            droppedRate: r["dropped_rate"],
            droppedRecords: r["dropped_records"],
            droppedKernel: r["dropped_kernel"],
            updatedAt: r["visibility_at"],
          },
  };
}
