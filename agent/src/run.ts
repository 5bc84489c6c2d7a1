// `oddwire-agent run`: snapshots on a schedule, turns them into full or delta
// batches, spools them durably and streams them to the collector. The
// scheduler never waits for the network: batches wait in the spool.

import cron from "node-cron";
import { hostname } from "node:os";
import { join } from "node:path";
import { oddwire } from "@oddwire/proto";
import { createLogger, OddwireError, type Logger } from "@oddwire/shared";
import { backendFor, osName } from "./collect/backend-for-os.js";
import { planBatch, type DeltaBase } from "./delta/snapshot-delta.js";
import { boundSnapshot } from "./bound-snapshot.js";
import { startConnectionEvents, type ConnectionEvents } from "./events/connection-events.js";
import { startWireProtocols, type WireProtocols } from "./events/wire-protocols.js";
import { boundFlows, boundJoinedConnection, boundJoinedSocket } from "./bound-flows.js";
import { carryWire, joinFlows, type ObservedFlow, type SocketWire } from "./classify/join-flows.js";
import { portTable } from "@oddwire/shared";
import { readAgentKey, writeAgentKey } from "./identity/agent-key.js";
import { HashCache } from "./identity/hash-cache.js";
import { PackageOwners } from "./identity/package-owner.js";
import { loadOrCreateHostId } from "./identity/host-id.js";
import { ensureStateDir } from "./identity/state-dir.js";
import type { RunConfig } from "./run-config.js";
import { takeSnapshot } from "./snapshot.js";
import { Spool } from "./spool/spool.js";
import { enroll } from "./transport/enroll.js";
import { StreamClient } from "./transport/stream-client.js";
import { AGENT_VERSION } from "./version.js";

export interface RunningAgent {
  /** Takes one snapshot now and spools it (the schedule calls this). */
  tick(): Promise<void>;
  stop(): Promise<void>;
  readonly spool: Spool;
  readonly client: StreamClient;
  /** Resolves when the agent stops for good (revoked). */
  readonly fatal: Promise<OddwireError>;
  readonly events: ConnectionEvents;
  readonly wire: WireProtocols;
}

export async function startAgent(config: RunConfig, log: Logger = createLogger({ name: "agent", level: config.logLevel })): Promise<RunningAgent> {
  if (!cron.validate(config.schedule)) {
    throw new OddwireError("ODW_ERR_CONFIG", `--schedule ${JSON.stringify(config.schedule)} is not a valid cron expression (e.g. "* * * * *" for every minute)`);
  }
  const stateDir = ensureStateDir(config.stateDir);
  const os = osName();
  const hostId = loadOrCreateHostId(stateDir);
  const spool = Spool.open({ dir: join(stateDir, "spool"), maxBytes: config.spoolMaxBytes });
  const backend = await backendFor(os);
  const hashCache = HashCache.load(stateDir);
  const packages = new PackageOwners();
  let base: DeltaBase | null = null;
  let sinceFull = 0;
  let wantFull = true;

  // Read now so that an unreadable key stops the agent at start, with the reason.
  readAgentKey(stateDir);
  const getKey = async (refresh: boolean): Promise<string> => {
    // Only a missing file means "not enrolled"; any other failure throws.
    const current = readAgentKey(stateDir);
    if (current && !refresh) return current;
    if (!config.enrollSecret) throw new OddwireError("ODW_ERR_CONFIG", "this host has no agent key yet and no enrollment secret was given (--enroll-secret)");
    // The key held now is the proof that this agent is the host the collector knows.
    const key = await enroll({
      collector: config.collector,
      secret: config.enrollSecret,
      hostId,
      hostname: hostname(),
      os,
      agentVersion: AGENT_VERSION,
      ca: config.ca,
      currentKey: current ?? undefined,
    });
    writeAgentKey(stateDir, key);
    log.info("enroll.ok", { hostId, reenrolled: current !== null });
    return key;
  };

  let resolveFatal!: (e: OddwireError) => void;
  const fatal = new Promise<OddwireError>((r) => (resolveFatal = r));
  const client = new StreamClient({
    collector: config.collector,
    hostId,
    queue: spool,
    getKey,
    log,
    ca: config.ca,
    heartbeatMs: config.heartbeatMs,
    onResync: () => (wantFull = true),
    onFatal: (e) => resolveFatal(e),
  });

  let running = false;
  let waiting: ObservedFlow[] = [];
  let socketWire = new Map<string, SocketWire>();
  const tick = async (): Promise<void> => {
    if (running) {
      log.warn("snapshot.skipped", { reason: "the previous snapshot is still running" });
      return;
    }
    running = true;
    try {
      const { snapshot: taken, totalMs } = await takeSnapshot({ stateDir, backend, hashCache, hash: config.hash, os, hostId, kb: config.kb, packages });
      // Connections are per batch, not state: every batch, full or delta, carries those since the last.
      const now = Date.now();
      const { connections: recorded, visibility } = await events.collect(now);
      const observed = await wire.collect(now);
      const bounded = boundSnapshot(taken);
      // Each classified flow joins its socket or connection record, and so its process (by 5-tuple, then destination and time).
      // A flow that began after this snapshot was taken finds its socket in the next one: it waits one tick.
      const candidates = [...waiting, ...observed.flows];
      const joined = joinFlows({ flows: candidates, sockets: bounded.sockets, processes: bounded.processes, connections: recorded, ports, selfPid: process.pid, kb: config.kb });
      const retry = new Set(joined.flows.flatMap((f, i) => (f.process.pid === 0 && i >= waiting.length && f.firstSeenMs >= taken.takenAtMs - 1000 ? [i] : [])));
      waiting = candidates.filter((_, i) => retry.has(i));
      const { flows, cut } = boundFlows(joined.flows.filter((_, i) => !retry.has(i)));
      const dpi = { ...observed.dpi, unclassifiedWindow: observed.dpi.unclassifiedWindow + cut };
      const connections = joined.connections.map(boundJoinedConnection);
      const carried = carryWire(joined.sockets, socketWire);
      socketWire = carried.memory;
      const snapshot = { ...bounded, sockets: carried.sockets.map(boundJoinedSocket), connections, visibility, flows, dpi };
      if (spool.takeDropNotice()) wantFull = true;
      const full = wantFull || base === null || sinceFull + 1 >= config.fullEvery;
      const plan = planBatch(snapshot, spool.nextSeq, base, full);
      const bytes = oddwire.v1.Batch.encode(plan.batch).finish();
      const { seq, dropped } = spool.enqueue(bytes);
      base = { ...plan.base, seq };
      sinceFull = plan.batch.full ? 0 : sinceFull + 1;
      wantFull = false;
      if (dropped) log.warn("spool.dropped", { dropped, droppedTotal: spool.droppedTotal, maxBytes: config.spoolMaxBytes });
      log.debug("snapshot.spooled", {
        seq,
        full: plan.batch.full,
        bytes: bytes.length,
        ms: totalMs,
        processes: snapshot.processes.length,
        sockets: snapshot.sockets.length,
        connections: connections.length,
        flows: flows.length,
      });
      client.notify();
    } catch (err) {
      const lost = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (lost === "ENOSPC" || lost === "EDQUOT")
        log.error("spool.disk_full", { code: (err as OddwireError).code, error: (err as Error).message, droppedTotal: spool.droppedTotal });
      else log.error("snapshot.failed", { code: (err as OddwireError).code, error: (err as Error).message });
    } finally {
      running = false;
    }
  };

  // Last of the start-up checks and before anything streams: `--events on` fails start-up
  // when events cannot be recorded; started earlier, a tracer child would outlive a failed start.
  const events = await startConnectionEvents({ mode: config.events, rateCap: config.eventsRateCap, os, stateDir, log, kb: config.kb });
  let wire: WireProtocols;
  try {
    wire = await startWireProtocols({ mode: config.dpi, interfaces: config.dpiInterfaces, sendNames: config.dpiSendNames, os, stateDir, log });
  } catch (err) {
    await events.stop();
    throw err;
  }
  const ports = portTable();
  client.start();
  const task = cron.schedule(config.schedule, () => void tick(), { noOverlap: true });
  void tick();
  log.info("agent.started", {
    hostId,
    collector: config.collector,
    schedule: config.schedule,
    stateDir,
    pending: spool.pending,
    events: events.mode,
    dpi: wire.mode,
    knowledgeVersion: config.kb.version,
  });
  return {
    tick,
    spool,
    client,
    fatal,
    events,
    wire,
    async stop() {
      await task.stop();
      while (running) await new Promise((r) => setTimeout(r, 10));
      await events.stop();
      await wire.stop();
      await client.stop();
      log.info("agent.stopped", { pending: spool.pending, droppedTotal: spool.droppedTotal });
    },
  };
}
