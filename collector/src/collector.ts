// Wires the collector: configuration → database → ingest server, plus the
// periodic jobs (retention, cutting off revoked hosts). Returns a handle that
// stops everything cleanly.

import { createLogger, type Logger } from "@oddwire/shared";
import { ExportScheduler } from "./export/export-scheduler.js";
import { PersonaIntakeRoute } from "./persona/intake-route.js";
import { IngestServer } from "./ingest/server.js";
import { ReportRoutes } from "./report/report-routes.js";
import type { ServeConfig } from "./serve-config.js";
import { OffThread } from "./store/off-thread.js";
import { openStore, printableLocation } from "./store/store.js";
import { rejudgeStored } from "./store/rejudge-store.js";
import { SensorFollower } from "./sensor/sensor-follower.js";
import { SensorRoute } from "./sensor/sensor-route.js";

export interface RunningCollector {
  port: number;
  server: IngestServer;
  stop(): Promise<void>;
}

const REVOCATION_CHECK_MS = 2000;
/** How far back each revocation check looks: wide enough for a revoking machine's clock to be this far behind. */
const REVOCATION_WINDOW_MS = 600_000;
const RETENTION_MS = 3_600_000;

export async function startCollector(config: ServeConfig, log: Logger = createLogger({ name: "collector", level: config.logLevel })): Promise<RunningCollector> {
  const store = await openStore(config.db, { sync: config.sync, ingest: { kb: config.kb } });
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
    store.hosts,
    store.ingest,
    log,
  );
  server.extraRoutes = (req, res) => sensorRoute.handle(req, res) || routes.handle(req, res) || intake.handle(req, res);
  const offThread = OffThread.for(store, config.knowledgeFile);
  const routes = new ReportRoutes((options) => offThread.run({ kind: "report", options }), config.readerToken, log, !!config.tls);
  const intake = new PersonaIntakeRoute(store, log);
  const sensorRoute = new SensorRoute(store, { maxBodyBytes: config.sensorMaxBodyBytes, maxLineBytes: config.sensorMaxLineBytes }, log);
  const follower = new SensorFollower(store, config.sensorDirs, config.sensorMaxLineBytes, log);
  const prune = async () => {
    try {
      const pruned = await store.prune(Date.now(), config);
      // Sensor lines are kept as long as the batch log.
      const sensorLines = await store.sensors.prune(Date.now() - config.batchLogDays * 86_400_000);
      if (pruned.batches || pruned.observations || pruned.connections || pruned.flows || pruned.names || sensorLines) log.info("retention.pruned", { ...pruned, sensorLines });
    } catch (err) {
      log.error("retention.failed", { error: (err as Error).message });
    }
  };
  await prune();
  const port = await server.listen();
  const exporter = new ExportScheduler(store, (schedule, now) => offThread.run({ kind: "export", schedule, now }), config.exports, server.metrics, log);
  exporter.start();
  follower.start();
  const cutRevoked = () => server.cutRevoked(Date.now() - REVOCATION_WINDOW_MS).catch((err: Error) => log.error("revocation.check_failed", { error: err.message }));
  const timers = [setInterval(cutRevoked, REVOCATION_CHECK_MS), setInterval(prune, RETENTION_MS)];
  for (const t of timers) t.unref();
  log.info("collector.listening", { host: config.host, port, tls: !!config.tls, db: printableLocation(config.db), store: store.kind, knowledgeVersion: config.kb.version });
  // Stored tags judged by other knowledge are judged again with this collector's, in the background once it
  // listens (a fleet's worth takes minutes): a batch that arrives meanwhile is judged at ingest if it needs it.
  let stopping = false;
  const rejudging = rejudgeStored(store.sql, config.kb, () => stopping).then(
    (r) => {
      if (r.hosts > 0) log.info("knowledge.rejudged", { version: config.kb.version, ...r });
    },
    (err: Error) => log.error("knowledge.rejudge_failed", { error: err.message }),
  );
  return {
    port,
    server,
    async stop() {
      stopping = true;
      for (const t of timers) clearInterval(t);
      await exporter.stop();
      await follower.stop();
      await server.close();
      await rejudging;
      log.info("collector.stopped", { counters: server.metrics.counts });
      await store.close();
    },
  };
}
