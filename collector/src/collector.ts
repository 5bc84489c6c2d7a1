// Wires the collector: configuration → database → ingest server, plus the
// periodic jobs (retention, cutting off revoked hosts). Returns a handle that
// stops everything cleanly.

import { createLogger, type Logger } from "@oddwire/shared";
import { ExportScheduler } from "./export/export-scheduler.js";
import { PersonaIntakeRoute } from "./persona/intake-route.js";
import { IngestServer } from "./ingest/server.js";
import { ReportRoutes } from "./report/report-routes.js";
import type { ServeConfig } from "./serve-config.js";
import { HostStore } from "./store/hosts.js";
import { Ingester } from "./store/ingest.js";
import { openDb } from "./store/open-db.js";
import { rejudgeStored } from "./store/rejudge-store.js";
import { pruneOld } from "./store/retention.js";
import { SensorFollower } from "./sensor/sensor-follower.js";
import { SensorRoute } from "./sensor/sensor-route.js";
import { pruneSensorEvents } from "./store/sensor-evidence.js";

export interface RunningCollector {
  port: number;
  server: IngestServer;
  stop(): Promise<void>;
}

const REVOCATION_CHECK_MS = 2000;
const RETENTION_MS = 3_600_000;

export async function startCollector(config: ServeConfig, log: Logger = createLogger({ name: "collector", level: config.logLevel })): Promise<RunningCollector> {
  const db = openDb(config.db, { sync: config.sync });
  // Before any batch arrives: stored tags judged by other knowledge are judged again with this collector's.
  const rejudged = rejudgeStored(db, config.kb);
  if (rejudged.hosts > 0) log.info("knowledge.rejudged", { version: config.kb.version, ...rejudged });
  const hosts = new HostStore(db);
  const server = new IngestServer(
    {
      host: config.host,
      port: config.port,
      tls: config.tls,
      enrollSecret: config.enrollSecret,
      maxFrameBytes: config.maxFrameBytes,
      maxConnections: config.maxConnections,
      connectPerSecond: config.connectRate,
      connectBurst: config.connectBurst,
      heartbeatMs: config.heartbeatMs,
      maxQueueBytes: config.maxQueueBytes,
      flushBatches: 512,
      flushDelayMs: 5,
      // One stream may hold a sixteenth of the queue (and always one frame) before it is paused.
      maxStreamQueueBytes: Math.max(config.maxFrameBytes, Math.floor(config.maxQueueBytes / 16)),
      flushBytes: 8 * 1024 * 1024,
      requestTimeoutMs: config.requestTimeoutSeconds * 1000,
    },
    hosts,
    new Ingester(db, { kb: config.kb }),
    log,
  );
  server.extraRoutes = (req, res) => sensorRoute.handle(req, res) || routes.handle(req, res) || intake.handle(req, res);
  const routes = new ReportRoutes(db, config.readerToken, log, !!config.tls, config.kb);
  const intake = new PersonaIntakeRoute(db, log);
  const sensorRoute = new SensorRoute(db, { maxBodyBytes: config.sensorMaxBodyBytes, maxLineBytes: config.sensorMaxLineBytes }, log);
  const follower = new SensorFollower(db, config.sensorDirs, config.sensorMaxLineBytes, log);
  const prune = () => {
    try {
      const pruned = pruneOld(db, Date.now(), config);
      // Sensor lines are kept as long as the batch log.
      const sensorLines = pruneSensorEvents(db, Date.now() - config.batchLogDays * 86_400_000);
      if (pruned.batches || pruned.observations || pruned.connections || pruned.flows || pruned.names || sensorLines) log.info("retention.pruned", { ...pruned, sensorLines });
    } catch (err) {
      log.error("retention.failed", { error: (err as Error).message });
    }
  };
  prune();
  const port = await server.listen();
  const exporter = new ExportScheduler(db, config.exports, server.metrics, log);
  exporter.start();
  follower.start();
  const timers = [setInterval(() => server.cutRevoked(), REVOCATION_CHECK_MS), setInterval(prune, RETENTION_MS)];
  for (const t of timers) t.unref();
  log.info("collector.listening", { host: config.host, port, tls: !!config.tls, db: config.db, knowledgeVersion: config.kb.version });
  return {
    port,
    server,
    async stop() {
      for (const t of timers) clearInterval(t);
      await exporter.stop();
      await follower.stop();
      await server.close();
      log.info("collector.stopped", { counters: server.metrics.counts });
      db.close();
    },
  };
}
