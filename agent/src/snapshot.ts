// One snapshot of this host: collect, identify executables, classify. Each
// phase is timed; a snapshot with unreadable parts is still returned, marked
// partial, with warnings that say what is missing and why.

import { knowledgeBase, portTable, type KnowledgeBase, type OsName, type PortTable, type SnapshotRecord } from "@oddwire/shared";
import type { Backend } from "./collect/backend.js";
import { backendFor, osName } from "./collect/backend-for-os.js";
import { classifySnapshot } from "./classify/classify-snapshot.js";
import { hostFacts } from "./host-facts.js";
import { readHostInfo } from "./host-info.js";
import { identifyExecutables } from "./identity/exe-identity.js";
import { HashCache } from "./identity/hash-cache.js";
import { PackageOwners } from "./identity/package-owner.js";
import { loadOrCreateHostId } from "./identity/host-id.js";
import { ensureStateDir } from "./identity/state-dir.js";
import { Phases } from "./phase-timer.js";
import { AGENT_VERSION } from "./version.js";

export interface SnapshotOptions {
  stateDir: string;
  /** Hash executables (default true). */
  hash?: boolean;
  os?: OsName;
  backend?: Backend;
  ports?: PortTable;
  kb?: KnowledgeBase;
  /** Reuse across snapshots in a long-running agent; loaded from the state dir when absent. */
  hashCache?: HashCache;
  /** Known already (a long-running agent); read from the state dir when absent. */
  hostId?: string;
  /** Reuse across snapshots (its cache is the point); a new one per call when absent. */
  packages?: PackageOwners;
}

export interface TimedSnapshot {
  snapshot: SnapshotRecord;
  phases: Record<string, number>;
  totalMs: number;
  /** Executables hashed by this snapshot (not found in the cache). */
  hashedFiles: number;
}

export async function takeSnapshot(opts: SnapshotOptions): Promise<TimedSnapshot> {
  const timer = new Phases();
  const os = opts.os ?? osName();
  const { hostId, cache, ports, kb } = timer.time("setup", () => {
    const stateDir = ensureStateDir(opts.stateDir);
    return {
      hostId: opts.hostId ?? loadOrCreateHostId(stateDir),
      cache: opts.hashCache ?? HashCache.load(stateDir),
      ports: opts.ports ?? portTable(),
      kb: opts.kb ?? knowledgeBase(),
    };
  });
  const backend = opts.backend ?? (await backendFor(os));
  const takenAtMs = Date.now();
  const raw = await backend.collect(timer);
  const { byPid: identities, hashedFiles } = timer.time("hashing", () =>
    identifyExecutables(raw.processes, {
      hash: opts.hash ?? true,
      cache,
      viaProcRoot: os === "linux" ? "/proc" : null,
      packages: os === "linux" ? (opts.packages ?? new PackageOwners()) : undefined,
    }),
  );
  const { processes, sockets } = timer.time("classification", () =>
    classifySnapshot({ os, processes: raw.processes, sockets: raw.sockets, identities, ports, kb, selfPid: process.pid, nowMs: takenAtMs }),
  );
  timer.time("saveCache", () => {
    try {
      cache.save(opts.stateDir);
    } catch (err) {
      raw.warnings.push(`the executable hash cache could not be saved in ${opts.stateDir}: ${(err as Error).message}`);
    }
  });
  const info = readHostInfo(os);
  const { facts, warning } = await hostFacts();
  if (warning) raw.warnings.push(warning);
  const snapshot: SnapshotRecord = {
    hostId,
    hostname: info.hostname,
    os,
    osVersion: info.osVersion,
    arch: info.arch,
    agentVersion: AGENT_VERSION,
    takenAtMs,
    processes,
    sockets,
    partial: raw.warnings.length > 0,
    warnings: raw.warnings,
    facts,
    knowledgeVersion: kb.version,
  };
  return { snapshot, phases: timer.ms, totalMs: timer.totalMs(), hashedFiles };
}
