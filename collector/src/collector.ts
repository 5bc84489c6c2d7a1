// Wires the collector: configuration → database → ingest server, plus the
// periodic jobs (retention, cutting off revoked hosts). Returns a handle that
// stops everything cleanly.

import { createLogger, type Logger } from "@oddwire/shared";
import { ExportScheduler } from "./export/export-scheduler.js";
import { IngestServer } from "./ingest/server.js";
import { ReportRoutes } from "./report/report-routes.js";
import type { ServeConfig } from "./serve-config.js";
import { HostStore } from "./store/hosts.js";
import { Ingester } from "./store/ingest.js";
import { openDb } from "./store/open-db.js";
import { pruneOld } from "./store/retention.js";

export interface RunningCollector {
  port: number;
  server: IngestServer;
  stop(): Promise<void>;
}

const REVOCATION_CHECK_MS = 2000;
const RETENTION_MS = 3_600_000;

export async function startCollector(config: ServeConfig, log: Logger = createLogger({ name: "collector", level: config.logLevel })): Promise<RunningCollector> {
  const db = openDb(config.db, { sync: config.sync });
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
    new Ingester(db),
    log,
  );
  server.extraRoutes = (req, res) => routes.handle(req, res);
  const routes = new ReportRoutes(db, config.readerToken, log, !!config.tls);
  const prune = () => {
    try {
      const pruned = pruneOld(db, Date.now(), config);
      if (pruned.batches || pruned.observations || pruned.connections || pruned.flows || pruned.names) log.info("retention.pruned", pruned);
    } catch (err) {
      log.error("retention.failed", { error: (err as Error).message });
    }
  };
  prune();
  const port = await server.listen();
  const exporter = new ExportScheduler(db, config.exports, server.metrics, log);
  exporter.start();
  const timers = [setInterval(() => server.cutRevoked(), REVOCATION_CHECK_MS), setInterval(prune, RETENTION_MS)];
  for (const t of timers) t.unref();
  log.info("collector.listening", { host: config.host, port, tls: !!config.tls, db: config.db });
  return {
    port,
    server,
    async stop() {
      for (const t of timers) clearInterval(t);
      await exporter.stop();
      await server.close();
      log.info("collector.stopped", { counters: server.metrics.counts });
      db.close();
    },
  };
}
