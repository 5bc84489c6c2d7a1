// Settings of `oddwire-collector serve`, from flags and/or a JSON config file
// (--config), validated before anything starts.

import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { checkEnrollSecret, type ConfigSchema, type KnowledgeBase, knowledgeWithSite, loadConfig, OddwireError, parseByteSize, resolveSecret } from "@oddwire/shared";
import type { SyncMode } from "./store/open-db.js";
import { parseExportSchedules, type ExportSchedule } from "./export/export-config.js";

export const DEFAULT_PORT = 8443;
export const DEFAULT_DB = "./data/oddwire.db";

export const SERVE_SCHEMA = {
  port: { type: "integer", default: DEFAULT_PORT, min: 0, max: 65535, description: "TCP port for HTTP(S) and the agents' WebSocket streams (0: any free port)." },
  host: { type: "string", default: "127.0.0.1", description: "Address to listen on. Anything but loopback needs TLS (--tls-cert, --tls-key) or --insecure." },
  db: { type: "string", default: DEFAULT_DB, description: "SQLite database file (created if missing)." },
  enrollSecret: { type: "string", description: "The fleet's enrollment secret (at least 8 characters). Also: $ODDWIRE_ENROLL_SECRET, or --enroll-secret-file." },
  enrollSecretFile: { type: "string", description: "A file whose first line is the enrollment secret (keeps it out of the process list)." },
  readerToken: {
    type: "string",
    description: "Token that opens the served report (/report?token=T once, or Authorization: Bearer T). Also $ODDWIRE_READER_TOKEN. Default: a random one, printed at start.",
  },
  tlsCert: { type: "string", description: "PEM certificate (chain) for wss://." },
  tlsKey: { type: "string", description: "PEM private key for --tls-cert." },
  insecure: { type: "boolean", default: false, description: "Allow plain ws:// on a non-loopback address (development only)." },
  maxFrameBytes: { type: "string", default: "16MiB", description: "Largest message accepted from an agent; larger ones close the stream with 1009." },
  maxQueueBytes: {
    type: "string",
    description:
      "Bytes of received batches waiting to be committed, all streams together (at least twice --max-frame-bytes); past it a stream is closed with 1013. One stream may have a sixteenth of it (at least one frame) waiting before it stops being read. Default: 256MiB or four frames, whichever is more.",
  },
  maxConnections: { type: "integer", default: 20000, min: 1, max: 1_000_000, description: "Streams open at once at most; more are refused with HTTP 503." },
  connectRate: { type: "integer", default: 200, min: 1, description: "Enrollments and stream upgrades per second per client address (token bucket)." },
  connectBurst: { type: "integer", default: 2000, min: 1, description: "Burst allowance for --connect-rate." },
  heartbeatSeconds: { type: "integer", default: 30, min: 1, max: 3600, description: "Ping interval; a stream that misses a ping is closed." },
  requestTimeoutSeconds: {
    type: "integer",
    default: 20,
    min: 1,
    max: 600,
    description: "Seconds a client has to send a complete HTTP request (a stream's upgrade headers, an enrollment with its body); slower or half-open connections are closed.",
  },
  silentAfterSeconds: { type: "integer", default: 300, min: 1, description: "A host with no batch for this long is listed as silent by `agents`." },
  batchLogDays: { type: "integer", default: 30, min: 1, description: "Days the log of received batches, and the connection records that came with them, are kept." },
  observationDays: {
    type: "integer",
    default: 180,
    min: 1,
    description: "Days an observation (binary, protocol, port per host) is kept after the collector last received it (the collector's clock, not the agent's).",
  },
  sync: {
    type: "string",
    default: "full",
    pattern: /^(full|normal)$/,
    patternHint: 'must be "full" or "normal"',
    description: 'SQLite synchronous mode: "full" (an ack survives power loss) or "normal" (faster; survives crashes, not power loss).',
  },
  knowledge: {
    type: "string",
    description:
      'A site knowledge file (JSON): what is normal and what must never happen in this organisation (README "Site knowledge"). Read at start; stored data judged by other knowledge is judged again with it.',
  },
  exports: {
    type: "object",
    default: [],
    description: "Scheduled CSV exports (config file only): a list of {name, cron, what: findings|inventory|agents|personas, dir, minScore, onlyNew, timezone, keep}.",
    check: (v, where) => parseExportSchedules(v, where),
  },
  sensorDirs: {
    type: "object",
    default: [],
    description: "Directories of Zeek and Suricata logs to follow (config file only): a list of paths; rotated and compressed files are read on from where they were.",
    check: (v, where) => parseSensorDirs(v, where),
  },
  sensorMaxLineBytes: { type: "string", default: "64KiB", description: "Longest sensor log line read (followed files and POST /v1/sensor); longer lines are skipped and counted." },
  sensorMaxBodyBytes: { type: "string", default: "16MiB", description: "Largest body POST /v1/sensor accepts (after gzip decompression); larger ones get HTTP 413." },
  logLevel: {
    type: "string",
    default: "info",
    pattern: /^(debug|info|warn|error)$/,
    patternHint: "must be debug, info, warn or error",
    description: "Least severe log level printed (JSON lines on stderr).",
  },
} as const satisfies ConfigSchema;

export interface ServeConfig {
  port: number;
  host: string;
  db: string;
  enrollSecret: string;
  readerToken: string;
  /** The reader token was generated at start (print it). */
  readerTokenGenerated: boolean;
  tls?: { cert: Buffer; key: Buffer };
  maxFrameBytes: number;
  maxQueueBytes: number;
  maxConnections: number;
  connectRate: number;
  connectBurst: number;
  heartbeatMs: number;
  requestTimeoutSeconds: number;
  silentAfterMs: number;
  batchLogDays: number;
  observationDays: number;
  sync: SyncMode;
  logLevel: "debug" | "info" | "warn" | "error";
  exports: ExportSchedule[];
  sensorDirs: string[];
  sensorMaxLineBytes: number;
  sensorMaxBodyBytes: number;
  /** The collector's knowledge: built-in, with the site's over it when --knowledge is given. */
  kb: KnowledgeBase;
}

/** sensorDirs: a list of existing directories (absolute once resolved). */
export function parseSensorDirs(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.some((d) => typeof d !== "string" || d === ""))
    throw new OddwireError("ODW_ERR_CONFIG", `${where} must be a list of directory paths, e.g. ["/opt/zeek/logs/current", "/var/log/suricata"]`);
  return (value as string[]).map((d) => {
    let isDir = false;
    try {
      isDir = statSync(d).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) throw new OddwireError("ODW_ERR_CONFIG", `${where}: ${JSON.stringify(d)} is not a directory; give the directory the sensor writes its logs to`);
    return resolve(d);
  });
}

// "postgres://...", "sqlite:///x", "file://x": a scheme, then "//".
const URL_LIKE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * Refuses a --db value that is an address rather than a file path: today it
 * would silently become a directory named "postgres:".
 */
export function checkDbPath(db: string, where = "--db"): string {
  if (URL_LIKE.test(db)) {
    const scheme = db.slice(0, db.indexOf(":")).toLowerCase();
    const what = scheme.startsWith("postgres") ? "PostgreSQL is not supported by this build" : `a database address (${scheme}://) is not supported`;
    throw new OddwireError("ODW_ERR_CONFIG", `${where} ${JSON.stringify(db)}: ${what}; give a file path for the SQLite database (default ${DEFAULT_DB})`);
  }
  return db;
}

/**
 * The database of a command that reads (or amends) a fleet the collector
 * already stores: it must exist. Opening a mistyped path would create an
 * empty database and report an empty fleet as if all were well.
 */
export function existingDbPath(value: unknown): string {
  const db = checkDbPath(typeof value === "string" && value !== "" ? value : DEFAULT_DB);
  let isFile: boolean;
  try {
    isFile = statSync(db).isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new OddwireError(
        "ODW_ERR_DB",
        `there is no database at ${db}; check --db (the collector creates its database when \`oddwire-collector serve\` first starts; default ${DEFAULT_DB})`,
        { cause: err },
      );
    }
    throw new OddwireError("ODW_ERR_DB", `cannot read the database ${db}: ${(err as Error).message}`, { cause: err });
  }
  if (!isFile) throw new OddwireError("ODW_ERR_DB", `${db} is not a database file; give the path of the SQLite file with --db`);
  return db;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function resolveServeConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const c = loadConfig(SERVE_SCHEMA, { file: flags["config"] as string | undefined, flags });
  const fail = (msg: string): never => {
    throw new OddwireError("ODW_ERR_CONFIG", msg);
  };
  const secret = resolveSecret(c.enrollSecret, c.enrollSecretFile, env["ODDWIRE_ENROLL_SECRET"], "enrollment secret");
  if (!secret) fail("serve needs the fleet's enrollment secret: --enroll-secret S, --enroll-secret-file F, $ODDWIRE_ENROLL_SECRET or enrollSecret in the config file");
  const enrollSecret = checkEnrollSecret(secret!);
  const certPath = c.tlsCert;
  const keyPath = c.tlsKey;
  if (!!certPath !== !!keyPath) fail("TLS needs both --tls-cert and --tls-key");
  let tls: ServeConfig["tls"];
  if (certPath && keyPath) {
    try {
      tls = { cert: readFileSync(certPath), key: readFileSync(keyPath) };
    } catch (err) {
      fail(`cannot read the TLS certificate or key: ${(err as Error).message}`);
    }
  }
  const host = c.host;
  if (!tls && !LOOPBACK.test(host) && !c.insecure) {
    fail(`listening on ${host} without TLS would expose agent keys and snapshots on the network; give --tls-cert and --tls-key, listen on 127.0.0.1, or pass --insecure for a lab`);
  }
  const db = checkDbPath(c.db, flags["db"] !== undefined ? "--db" : "db");
  const maxFrameBytes = parseByteSize(c.maxFrameBytes, "--max-frame-bytes");
  const givenQueue = c.maxQueueBytes;
  const maxQueueBytes = givenQueue === undefined ? Math.max(256 * 1024 * 1024, maxFrameBytes * 4) : parseByteSize(givenQueue, "--max-queue-bytes");
  if (maxQueueBytes < 2 * maxFrameBytes)
    fail(`--max-queue-bytes (${maxQueueBytes}) must be at least twice --max-frame-bytes (${maxFrameBytes}), so that one stream's frame cannot fill the queue`);
  const givenToken = c.readerToken ?? env["ODDWIRE_READER_TOKEN"];
  if (givenToken !== undefined && givenToken.length < 16) fail("the reader token must be at least 16 characters long");
  return Object.freeze({
    port: c.port,
    host,
    db: db === ":memory:" || isAbsolute(db) ? db : resolve(db),
    enrollSecret,
    readerToken: givenToken ?? randomBytes(24).toString("base64url"),
    readerTokenGenerated: givenToken === undefined,
    ...(tls && { tls }),
    maxFrameBytes,
    maxQueueBytes,
    maxConnections: c.maxConnections,
    connectRate: c.connectRate,
    connectBurst: c.connectBurst,
    heartbeatMs: c.heartbeatSeconds * 1000,
    requestTimeoutSeconds: c.requestTimeoutSeconds,
    silentAfterMs: c.silentAfterSeconds * 1000,
    batchLogDays: c.batchLogDays,
    observationDays: c.observationDays,
    sync: c.sync as SyncMode,
    logLevel: c.logLevel as ServeConfig["logLevel"],
    exports: c.exports,
    sensorDirs: c.sensorDirs,
    sensorMaxLineBytes: parseByteSize(c.sensorMaxLineBytes, "--sensor-max-line-bytes"),
    sensorMaxBodyBytes: parseByteSize(c.sensorMaxBodyBytes, "--sensor-max-body-bytes"),
    kb: knowledgeWithSite(c.knowledge),
  });
}
