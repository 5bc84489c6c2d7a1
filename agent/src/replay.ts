// `oddwire-agent replay FILE`: sends snapshots recorded as NDJSON (one
// Snapshot per line, protobuf JSON mapping) to a collector, each as the host
// it names, and exits once every one is acknowledged. Classification fields
// a line leaves out are filled in as the agent would. Many hosts stream at
// once (--concurrency); reading pauses while too much is in flight, so memory
// stays bounded whatever the file's size.

import { createReadStream } from "node:fs";
import { oddwire } from "@oddwire/proto";
import { HOST_ID_PATTERN, knowledgeBase, OddwireError, portTable, type Logger, type OsName, type ProcessRecord, type SnapshotRecord, type SocketRecord } from "@oddwire/shared";
import type { RawProcess, RawSocket } from "./collect/backend.js";
import { boundSnapshot } from "./bound-snapshot.js";
import { classifySnapshot, type ExeIdentity } from "./classify/classify-snapshot.js";
import { planBatch, type DeltaBase } from "./delta/snapshot-delta.js";
import { boundedLines } from "./bounded-lines.js";
import { MemoryQueue } from "./transport/batch-queue.js";
import { enroll } from "./transport/enroll.js";
import { StreamClient } from "./transport/stream-client.js";
import { Backoff } from "./transport/backoff.js";
import type { ConnectConfig } from "./run-config.js";

export interface ReplayOptions extends ConnectConfig {
  file: string;
  concurrency: number;
  /** After a host's first snapshot in a session, send only what changed (as the agent does). */
  deltas: boolean;
  /** Give up when nothing is acknowledged for this long while work is pending. */
  idleTimeoutMs: number;
  log: Logger;
  progress?: (p: ReplayProgress) => void;
}

export interface ReplayProgress {
  lines: number;
  sent: number;
  acked: number;
  bad: number;
  hosts: number;
}

export interface ReplayResult extends ReplayProgress {
  errors: string[];
}

const MAX_BUFFERED = 2000;
/** One snapshot line at most (a 100,000-process host is about 30 MB of JSON). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;
const MAX_ERRORS_KEPT = 100;

interface Session {
  hostId: string;
  queue: MemoryQueue;
  client: StreamClient | null;
  waiting: SnapshotRecord[];
  welcomed: boolean;
  base: DeltaBase | null;
}

export async function replay(o: ReplayOptions): Promise<ReplayResult> {
  const ports = portTable();
  const kb = knowledgeBase();
  const keys = new Map<string, string>();
  const sessions = new Map<string, Session>();
  const seenHosts = new Set<string>();
  const slotQueue: Session[] = [];
  const progress: ReplayProgress = { lines: 0, sent: 0, acked: 0, bad: 0, hosts: 0 };
  const errors: string[] = [];
  let active = 0;
  let buffered = 0;
  let lastAck = Date.now();
  let settle: (() => void) | null = null;
  let fatal: OddwireError | null = null;

  const encode = (s: Session, snap: SnapshotRecord) => {
    const plan = planBatch(snap, s.queue.nextSeq, o.deltas ? s.base : null, !o.deltas || s.base === null);
    s.base = plan.base;
    s.queue.enqueue(oddwire.v1.Batch.encode(plan.batch).finish());
    progress.sent++;
  };

  const open = (s: Session) => {
    active++;
    s.client = new StreamClient({
      collector: o.collector,
      hostId: s.hostId,
      queue: s.queue,
      log: o.log,
      ca: o.ca,
      maxInFlight: 32,
      backoff: new Backoff(200, 5000),
      flagWelcomeAhead: false,
      getKey: async (refresh) => {
        const known = keys.get(s.hostId);
        if (known && !refresh) return known;
        const first = s.waiting[0];
        const key = await enroll({
          collector: o.collector,
          secret: o.enrollSecret,
          hostId: s.hostId,
          hostname: first?.hostname ?? "",
          os: first?.os ?? "",
          agentVersion: first?.agentVersion ?? "",
          ca: o.ca,
          ...(known && { currentKey: known }),
        });
        keys.set(s.hostId, key);
        return key;
      },
      onResync: () => (s.base = null),
      onWelcome: () => {
        s.welcomed = true;
        s.base = null; // a new stream starts with a full snapshot
        for (const snap of s.waiting.splice(0)) encode(s, snap);
      },
      onAck: () => {
        const before = progress.acked;
        progress.acked = progress.sent - pendingTotal();
        buffered -= progress.acked - before;
        lastAck = Date.now();
        if (s.queue.pending === 0 && s.waiting.length === 0) release(s);
        settle?.();
      },
      onFatal: (e) => {
        fatal = e;
        settle?.();
      },
    });
    s.client.start();
  };

  const pendingTotal = () => {
    let n = 0;
    for (const s of sessions.values()) n += s.queue.pending + (s.welcomed ? 0 : s.waiting.length);
    return n;
  };

  /** An idle session gives its connection slot to a host that waits for one. */
  const release = (s: Session) => {
    if (slotQueue.length === 0 || !s.client) return;
    const client = s.client;
    s.client = null;
    s.welcomed = false;
    active--;
    void client.stop();
    sessions.delete(s.hostId);
    const next = slotQueue.shift()!;
    open(next);
  };

  const accept = (snap: SnapshotRecord) => {
    seenHosts.add(snap.hostId);
    progress.hosts = seenHosts.size;
    let s = sessions.get(snap.hostId);
    if (!s) {
      s = { hostId: snap.hostId, queue: new MemoryQueue(), client: null, waiting: [], welcomed: false, base: null };
      sessions.set(snap.hostId, s);
      if (active < o.concurrency) open(s);
      else {
        slotQueue.push(s);
        // A session with nothing left to send gives its slot away now;
        // otherwise it would only do so on an ack that may never come.
        for (const idle of sessions.values()) {
          if (idle.client && idle.welcomed && idle.queue.pending === 0 && idle.waiting.length === 0) {
            release(idle);
            break;
          }
        }
      }
    }
    buffered++;
    if (s.welcomed) {
      encode(s, snap);
      s.client?.notify();
    } else s.waiting.push(snap);
  };

  const waitUntil = async (done: () => boolean) => {
    while (!done()) {
      if (fatal) throw fatal;
      if (Date.now() - lastAck > o.idleTimeoutMs) {
        throw new OddwireError(
          "ODW_ERR_TRANSPORT",
          `nothing was acknowledged for ${Math.round(o.idleTimeoutMs / 1000)} s with ${pendingTotal()} snapshots pending; is the collector at ${o.collector} up?`,
        );
      }
      await new Promise<void>((r) => {
        settle = r;
        setTimeout(r, 250);
      });
      settle = null;
      o.progress?.(progress);
    }
  };

  const input = o.file === "-" ? process.stdin : createReadStream(o.file);
  const opened = new Promise<void>((resolve, reject) => {
    input.once("error", (err: Error) => reject(new OddwireError("ODW_ERR_INPUT", `cannot read ${o.file}: ${err.message}`, { cause: err })));
    input.once("readable", () => resolve());
    input.once("end", () => resolve());
  });
  await opened;
  try {
    for await (const read of boundedLines(input, MAX_LINE_BYTES)) {
      progress.lines++;
      try {
        if ("tooLong" in read) throw new OddwireError("ODW_ERR_INPUT", `the line is ${read.tooLong} bytes, over the ${MAX_LINE_BYTES}-byte limit of one snapshot line; skipped`);
        if (!read.line.trim()) continue;
        accept(parseLine(read.line, ports, kb));
      } catch (err) {
        progress.bad++;
        const msg = `line ${progress.lines}: ${(err as Error).message}`;
        if (errors.length < MAX_ERRORS_KEPT) errors.push(msg);
        o.log.warn("replay.bad_line", { line: progress.lines, error: (err as Error).message });
      }
      if (buffered >= MAX_BUFFERED) {
        lastAck = Math.max(lastAck, Date.now() - o.idleTimeoutMs / 2);
        await waitUntil(() => buffered < MAX_BUFFERED / 2);
      }
    }
    lastAck = Date.now();
    await waitUntil(() => pendingTotal() === 0 && slotQueue.length === 0);
  } finally {
    await Promise.all([...sessions.values()].map((s) => s.client?.stop()));
  }
  o.progress?.(progress);
  return { ...progress, errors };
}

type Json = Record<string, unknown>;

const DIRECTIONS = new Set(["listen", "outbound", "inbound"]);
const TRANSPORTS = new Set(["tcp", "udp", "raw", "icmp", "packet"]);

/**
 * One NDJSON line → a classified snapshot record within the wire limits;
 * throws with what is wrong. Vocabulary fields (os, transport, direction) must
 * be the collector's words. A lone UTF-16 surrogate (JSON allows "\udc80";
 * UTF-8 has no form for it) is replaced with U+FFFD rather than losing the line.
 */
export function parseLine(line: string, ports: ReturnType<typeof portTable>, kb: ReturnType<typeof knowledgeBase>): SnapshotRecord {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new Error("expected a JSON object (one Snapshot)");
  let msg: SnapshotRecord;
  try {
    // Every field present, 64-bit values as numbers.
    msg = oddwire.v1.Snapshot.toObject(oddwire.v1.Snapshot.fromObject(data), { defaults: true, arrays: true, longs: Number }) as unknown as SnapshotRecord;
  } catch (err) {
    throw new Error(`not a Snapshot: ${(err as Error).message}`);
  }
  const d = data as Json;
  if (!HOST_ID_PATTERN.test(msg.hostId)) throw new Error(`hostId ${JSON.stringify(d["hostId"] ?? null)} must be 1-128 letters, digits, ".", "_", ":" or "-"`);
  const os = msg.os as OsName;
  if (!["linux", "windows", "darwin"].includes(os)) throw new Error(`os ${JSON.stringify(d["os"] ?? null)} must be linux, windows or darwin`);
  const rawProcesses: RawProcess[] = msg.processes.map((p) => ({
    pid: p.pid,
    ppid: p.ppid,
    name: p.name,
    exe: p.exe,
    cmdline: p.cmdline,
    user: p.user,
    uid: p.uid,
    startedAtMs: Number(p.startedAtMs),
    exeDeleted: p.exeDeleted,
    exeReadPath: "",
  }));
  const rawSockets: RawSocket[] = msg.sockets.map((s, i) => {
    if (!TRANSPORTS.has(s.transport)) throw new Error(`sockets[${i}].transport ${JSON.stringify(s.transport)} must be tcp, udp, raw, icmp or packet`);
    if (s.direction && !DIRECTIONS.has(s.direction)) throw new Error(`sockets[${i}].direction ${JSON.stringify(s.direction)} must be listen, outbound or inbound (or left out)`);
    const family = s.transport === "packet" ? 0 : s.family === 6 || s.localAddress.includes(":") ? 6 : 4;
    return {
      transport: s.transport,
      family,
      localAddress: s.localAddress,
      localPort: s.localPort,
      remoteAddress: s.remoteAddress,
      remotePort: s.remotePort,
      state: s.state || (s.remoteAddress ? "ESTABLISHED" : s.transport === "tcp" ? "LISTEN" : "UNCONN"),
      pid: s.pid,
      uid: s.uid,
      inode: Number(s.inode),
      netns: Number(s.netns),
      ...(s.transport !== "tcp" && s.transport !== "udp" && { rawProtocol: s.rawProtocol }),
    };
  });
  const identities = new Map<number, ExeIdentity>(
    msg.processes.map((p) => [
      p.pid,
      {
        sha256: p.sha256,
        hashError: p.hashError,
        dirWorldWritable: false,
        ...(p.packageSource && { package: p.package ?? "", packageSource: p.packageSource }),
        ...(Number(p.exeSinceMs) > 0 && { exeSinceMs: Number(p.exeSinceMs) }),
      },
    ]),
  );
  const takenAtMs = Number(msg.takenAtMs) || Date.now();
  const classified = classifySnapshot({ os, processes: rawProcesses, sockets: rawSockets, identities, ports, kb, selfPid: -1, nowMs: takenAtMs });
  // What the line says wins over what the agent would have said.
  const processes: ProcessRecord[] = classified.processes.map((p, i) => (msg.processes[i]!.tags.length ? { ...p, tags: msg.processes[i]!.tags.map(tagOf) } : p));
  const sockets: SocketRecord[] = classified.sockets.map((s, i) => {
    const given = msg.sockets[i]!;
    return {
      ...s,
      protocol: given.protocol || s.protocol,
      direction: (given.direction as SocketRecord["direction"]) || s.direction,
      tags: given.tags.length ? given.tags.map(tagOf) : s.tags,
    };
  });
  // Cut to the wire limits, lone surrogates replaced with U+FFFD, as the agent does.
  return boundSnapshot({
    hostId: msg.hostId,
    hostname: msg.hostname,
    os,
    osVersion: msg.osVersion,
    arch: msg.arch,
    agentVersion: msg.agentVersion,
    takenAtMs,
    processes,
    sockets,
    partial: msg.partial,
    warnings: msg.warnings,
    // A line judged by other knowledge says so; otherwise the tags are this replay's.
    knowledgeVersion: msg.knowledgeVersion || kb.version,
  });
}

function tagOf(t: oddwire.v1.ITag): { code: string; reason: string } {
  return { code: t.code ?? "", reason: t.reason ?? "" };
}
