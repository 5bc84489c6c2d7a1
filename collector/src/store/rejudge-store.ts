// Knowledge applied again on the collector. Two moments:
// - at ingest, a batch whose snapshot says it was judged by other knowledge
//   than the collector's (knowledge_version differs) is judged again before
//   it is stored (rejudgeBatch), so its observations carry the new tags;
// - at `serve` start (and `report --knowledge`), every host whose stored tags
//   reflect other knowledge (judged_version) has its current processes,
//   sockets and connection records judged again, and the observations they
//   feed take the new tags (rejudgeStored).
// A snapshot that carries no knowledge version (agents before it existed,
// hand-written replays) is stored as it was judged.

import type { oddwire } from "@oddwire/proto";
import type { KnowledgeBase, OsName, PackageFacts, Tag } from "@oddwire/shared";
import { rejudgeProcess, rejudgeSocket } from "../score/rejudge-tags.js";
import type { Sql } from "./sql.js";

type Snapshot = oddwire.v1.ISnapshot;
type Process = oddwire.v1.IProcess;

const num = (v: number | { toNumber(): number } | null | undefined): number => (v == null ? 0 : Number(v));

/** The stored process a delta's socket belongs to, when the delta does not carry it. */
export type OwnerLookup = (pid: number) => StoredOwner | undefined;

export interface StoredOwner {
  name: string;
  exe: string;
  cmdline: string;
  exeDeleted: boolean;
  tags: Tag[];
  packaged?: PackageFacts | undefined;
}

/** Whether a snapshot judged by `version` is judged again by the collector's knowledge. */
export function needsRejudging(version: string | null | undefined, kb: KnowledgeBase | undefined): kb is KnowledgeBase {
  return !!kb && !!version && version !== kb.version;
}

/** The agent does not tag its own connection to the collector; the collector knows it by its command line. */
function isAgentItself(cmdline: string, tags: readonly unknown[] | null | undefined): boolean {
  return (tags?.length ?? 0) === 0 && /\boddwire-agent\b/.test(cmdline);
}

/** A copy of the snapshot with every tag judged again by `kb`. */
export function rejudgeBatch(snap: Snapshot, kb: KnowledgeBase, storedOwner: OwnerLookup): Snapshot {
  const os = (snap.os ?? "linux") as OsName;
  const nowMs = num(snap.takenAtMs) || Date.now();
  const facts = (p: Process) => ({
    name: p.name ?? "",
    exe: p.exe ?? "",
    cmdline: p.cmdline ?? "",
    exeDeleted: p.exeDeleted === true,
    packaged: { package: p.package ?? "", packageSource: p.packageSource ?? "", exeSinceMs: num(p.exeSinceMs), nowMs },
  });
  const tagsOf = (tags: oddwire.v1.ITag[] | null | undefined): Tag[] => (tags ?? []).map((t) => ({ code: t.code ?? "", reason: t.reason ?? "" }));
  const owners = new Map<number, StoredOwner>();
  const processes = (snap.processes ?? []).map((p) => {
    const tags = rejudgeProcess({ ...facts(p), tags: tagsOf(p.tags) }, kb, os);
    owners.set(num(p.pid), { ...facts(p), tags });
    return { ...p, tags };
  });
  const sockets = (snap.sockets ?? []).map((s) => {
    const pid = num(s.pid);
    let owner = pid ? owners.get(pid) : undefined;
    if (pid && !owner) {
      owner = storedOwner(pid);
      if (owner) owners.set(pid, owner);
    }
    const stored = {
      transport: s.transport ?? "",
      localAddress: s.localAddress ?? "",
      localPort: num(s.localPort),
      remoteAddress: s.remoteAddress ?? "",
      remotePort: num(s.remotePort),
      protocol: s.protocol ?? "",
      direction: s.direction ?? "",
      tags: tagsOf(s.tags),
    };
    return { ...s, tags: rejudgeSocket(stored, owner, kb, !!owner && isAgentItself(owner.cmdline, s.tags)) };
  });
  const connections = (snap.connections ?? []).map((c) => {
    const p = c.process ?? {};
    const ptags = rejudgeProcess({ ...facts(p), tags: tagsOf(p.tags) }, kb, os);
    const stored = {
      transport: c.transport ?? "",
      localAddress: c.localAddress ?? "",
      localPort: num(c.localPort),
      remoteAddress: c.remoteAddress ?? "",
      remotePort: num(c.remotePort),
      protocol: c.protocol ?? "",
      direction: c.direction ?? "",
      tags: tagsOf(c.tags),
    };
    const owner = p.exe || p.name ? { ...facts(p), tags: ptags } : undefined;
    const own = rejudgeSocket(stored, owner ? { ...owner, tags: [] } : undefined, kb, !!owner && isAgentItself(owner.cmdline, c.tags));
    return { ...c, process: { ...p, tags: ptags }, tags: own };
  });
  return { ...snap, processes, sockets, connections };
}

interface ProcessRow {
  package: string;
  package_source: string;
  exe_since: number;
  pid: number;
  started_at: number;
  name: string;
  exe: string;
  binary: string;
  cmdline: string;
  exe_deleted: number;
  tags: string;
}

interface SocketRow {
  skey: string;
  transport: string;
  local_address: string;
  local_port: number;
  remote_address: string;
  remote_port: number;
  protocol: string;
  direction: string;
  pid: number;
  tags: string;
}

interface ConnectionRow {
  id: number;
  binary: string;
  name: string;
  exe: string;
  cmdline: string;
  transport: string;
  direction: string;
  local_address: string;
  local_port: number;
  remote_address: string;
  remote_port: number;
  protocol: string;
  port: number;
  tags: string;
}

function parseTags(json: string): Tag[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((t): t is Tag => typeof t?.code === "string" && typeof t?.reason === "string") : [];
  } catch {
    return [];
  }
}

const HOSTS_PER_TRANSACTION = 50;

/** Hosts judged again, and the rows whose tags changed. */
export interface RejudgeResult {
  hosts: number;
  processes: number;
  sockets: number;
  connections: number;
  observations: number;
}

/**
 * Judges again, with `kb`, the stored rows of every host whose tags reflect
 * other knowledge, 50 hosts per transaction; each host's judged_version
 * becomes kb.version. Observations fed by a current socket or connection
 * record take its new tags (the tagged ones when any is); observations
 * whose sockets are gone keep the tags they were stored with.
 */
export async function rejudgeStored(sql: Sql, kb: KnowledgeBase, stopping: () => boolean = () => false): Promise<RejudgeResult> {
  const result: RejudgeResult = { hosts: 0, processes: 0, sockets: 0, connections: 0, observations: 0 };
  const hosts = await sql.all<{ host_id: string; os: string; last_snapshot_at: number | null }>(
    "SELECT host_id, os, last_snapshot_at FROM hosts WHERE judged_version <> '' AND judged_version <> ? AND revoked_at IS NULL",
    [kb.version],
  );
  const q = (tx: Sql) => ({
    processes: (hostId: string) =>
      tx.all<ProcessRow>("SELECT pid, started_at, name, exe, binary, cmdline, exe_deleted, tags, package, package_source, exe_since FROM processes WHERE host_id = ?", [hostId]),
    sockets: (hostId: string) =>
      tx.all<SocketRow>("SELECT skey, transport, local_address, local_port, remote_address, remote_port, protocol, direction, pid, tags FROM sockets WHERE host_id = ?", [hostId]),
    connections: (hostId: string) =>
      tx.all<ConnectionRow>(
        `SELECT id, binary, name, exe, cmdline, transport, direction, local_address, local_port, remote_address, remote_port, protocol, port, tags
           FROM connections WHERE host_id = ?`,
        [hostId],
      ),
    setProcess: (...p: unknown[]) => tx.run("UPDATE processes SET tags = ? WHERE host_id = ? AND pid = ? AND started_at = ?", p),
    setSocket: (...p: unknown[]) => tx.run("UPDATE sockets SET tags = ? WHERE host_id = ? AND skey = ?", p),
    setConnection: (...p: unknown[]) => tx.run("UPDATE connections SET tags = ? WHERE host_id = ? AND id = ?", p),
    setObservation: (...p: unknown[]) =>
      tx.run("UPDATE observations SET tags = ? WHERE host_id = ? AND binary = ? AND protocol = ? AND transport = ? AND direction = ? AND port = ? AND tags <> ?", p),
    judged: (...p: unknown[]) => tx.run("UPDATE hosts SET judged_version = ? WHERE host_id = ?", p),
  });
  // Fleets run the same commands on many hosts: each distinct process is judged once (bounded).
  const memo = new Map<string, Tag[]>();
  const judgeProcess = (p: StoredOwner, os: OsName): Tag[] => {
    const f = p.packaged;
    const fresh = f?.packageSource && !f.package ? Math.floor(((f.nowMs ?? 0) - (f.exeSinceMs ?? 0)) / 60_000) : "";
    const kept = p.tags.some((t) => t.code === "writable-dir-exe");
    const key = `${os}\0${p.exe}\0${p.name}\0${p.exeDeleted}\0${kept}\0${f?.packageSource ?? ""}\0${f?.package ?? ""}\0${fresh}\0${p.cmdline}`;
    let tags = memo.get(key);
    if (!tags) {
      if (memo.size >= 100_000) memo.clear();
      memo.set(key, (tags = rejudgeProcess(p, kb, os)));
    }
    return tags;
  };
  const judgeHost = async (tx: Sql, h: { host_id: string; os: string; last_snapshot_at: number | null }) => {
    const s = q(tx);
    const os = (h.os || "linux") as OsName;
    {
      const owners = new Map<number, StoredOwner & { binary: string; startedAt: number }>();
      const nowMs = h.last_snapshot_at ?? Date.now();
      for (const p of await s.processes(h.host_id)) {
        const packaged = { package: p.package, packageSource: p.package_source, exeSinceMs: p.exe_since, nowMs };
        const facts = { name: p.name, exe: p.exe, cmdline: p.cmdline, exeDeleted: p.exe_deleted === 1, packaged };
        const tags = judgeProcess({ ...facts, tags: parseTags(p.tags) }, os);
        const json = JSON.stringify(tags);
        // Most rows come out as they went in: only changed ones are written.
        if (json !== p.tags) {
          await s.setProcess(json, h.host_id, p.pid, p.started_at);
          result.processes++;
        }
        // The newest process of a pid owns its sockets, as ingest reads it.
        const seen = owners.get(p.pid);
        if (!seen || p.started_at > seen.startedAt) owners.set(p.pid, { ...facts, tags, binary: p.binary, startedAt: p.started_at });
      }
      // observation key → new tags (tagged ones win)
      const obs = new Map<string, { key: unknown[]; tags: string }>();
      const observe = (key: unknown[], tags: Tag[]) => {
        const k = key.join("\0");
        const json = JSON.stringify(tags);
        const seen = obs.get(k);
        if (!seen || (seen.tags === "[]" && json !== "[]")) obs.set(k, { key, tags: json });
      };
      for (const so of await s.sockets(h.host_id)) {
        const sk = so;
        const owner = sk.pid ? owners.get(sk.pid) : undefined;
        const stored = {
          transport: sk.transport,
          localAddress: sk.local_address,
          localPort: sk.local_port,
          remoteAddress: sk.remote_address,
          remotePort: sk.remote_port,
          protocol: sk.protocol,
          direction: sk.direction,
          tags: parseTags(sk.tags),
        };
        const tags = rejudgeSocket(stored, owner, kb, !!owner && isAgentItself(owner.cmdline, stored.tags));
        const json = JSON.stringify(tags);
        if (json !== sk.tags) {
          await s.setSocket(json, h.host_id, sk.skey);
          result.sockets++;
        }
        if (owner) observe([owner.binary, sk.protocol, sk.transport, sk.direction, sk.direction === "outbound" ? sk.remote_port : sk.local_port], tags);
      }
      for (const c of await s.connections(h.host_id)) {
        const facts = { name: c.name, exe: c.exe, cmdline: c.cmdline, exeDeleted: false };
        const old = parseTags(c.tags);
        const ptags = judgeProcess({ ...facts, tags: old }, os);
        const stored = {
          transport: c.transport,
          localAddress: c.local_address,
          localPort: c.local_port,
          remoteAddress: c.remote_address,
          remotePort: c.remote_port,
          protocol: c.protocol,
          direction: c.direction,
          tags: old,
        };
        const owner = c.exe || c.name ? { ...facts, tags: ptags } : undefined;
        const tags = rejudgeSocket(stored, owner, kb, !!owner && isAgentItself(c.cmdline, old));
        const json = JSON.stringify(tags);
        if (json !== c.tags) {
          await s.setConnection(json, h.host_id, c.id);
          result.connections++;
        }
        if (c.binary) observe([c.binary, c.protocol, c.transport, c.direction, c.port], tags);
      }
      for (const { key, tags } of obs.values()) result.observations += (await s.setObservation(tags, h.host_id, ...key, tags)).changes;
      await s.judged(kb.version, h.host_id);
    }
    result.hosts++;
  };
  // A commit per host would cost more than the judging: hosts go in groups, each group one transaction.
  // A collector asked to stop leaves the rest for its next start (their judged_version still differs).
  for (let i = 0; i < hosts.length && !stopping(); i += HOSTS_PER_TRANSACTION) {
    await sql.tx(async (tx) => {
      for (const h of hosts.slice(i, i + HOSTS_PER_TRANSACTION)) await judgeHost(tx, h);
    });
  }
  return result;
}
