// The collector's network side: one HTTP(S) server for enrollment, health,
// metrics and the agents' WebSocket streams. This file only wires the parts:
// enroll-route (POST /v1/enroll), upgrade-auth (streams authenticated in the
// HTTP upgrade handler, before any WebSocket exists), stream-session (one
// agent's messages), stream-registry (open streams, heartbeats) and
// group-commit (batches from every stream committed together, each
// acknowledged after its transaction commits).

import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { Logger } from "@oddwire/shared";
import type { HostStore } from "../store/hosts.js";
import type { Ingester } from "../store/ingest.js";
import { CLOSE } from "./close-codes.js";
import { EnrollRoute } from "./enroll-route.js";
import { GroupCommit } from "./group-commit.js";
import { isLoopback, reply } from "./http-reply.js";
import { LogThrottle } from "./log-throttle.js";
import { Metrics } from "./metrics.js";
import { RateLimiter } from "./rate-limit.js";
import { startSession } from "./stream-session.js";
import { StreamRegistry } from "./stream-registry.js";
import { authenticateUpgrade } from "./upgrade-auth.js";

export { isLoopback } from "./http-reply.js";

export interface ServerOptions {
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer } | undefined;
  enrollSecret: string;
  maxFrameBytes: number;
  maxConnections: number;
  connectPerSecond: number;
  connectBurst: number;
  heartbeatMs: number;
  /** Bytes of received, uncommitted batches at most; past it, streams are closed with 1013. */
  maxQueueBytes: number;
  /** Batches per transaction at most. */
  flushBatches: number;
  /** How long the first queued batch waits for others before a commit. */
  flushDelayMs: number;
  /** Bytes of one stream's uncommitted batches past which it stops being read. */
  maxStreamQueueBytes: number;
  /** Bytes of batches per transaction at most. */
  flushBytes: number;
  /** A client must send a complete request (headers, or an enrollment with its body) within this. */
  requestTimeoutMs: number;
}

export class IngestServer {
  readonly metrics = new Metrics();
  private http!: Server;
  private readonly wss: WebSocketServer;
  private readonly streams: StreamRegistry;
  private readonly commits: GroupCommit;
  private readonly limiter: RateLimiter;
  private readonly enrollRoute: EnrollRoute;
  private heartbeat?: NodeJS.Timeout;
  private readonly throttled: LogThrottle;
  /** Other routes (the report), tried before 404. */
  extraRoutes: ((req: IncomingMessage, res: ServerResponse) => boolean) | null = null;

  constructor(
    private readonly opts: ServerOptions,
    private readonly hosts: HostStore,
    ingester: Ingester,
    private readonly log: Logger,
  ) {
    this.limiter = new RateLimiter(opts.connectPerSecond, opts.connectBurst);
    this.streams = new StreamRegistry(this.metrics, log);
    this.commits = new GroupCommit(opts, ingester, this.streams, this.metrics, log);
    this.enrollRoute = new EnrollRoute(opts.enrollSecret, hosts, this.streams, this.limiter, this.metrics, log);
    this.throttled = new LogThrottle(log);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
  }

  async listen(): Promise<number> {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    // Slow or half-open clients hold a descriptor each: a request (an
    // upgrade's headers, an enrollment with its body) must be complete in
    // time, checked often enough for a short limit to mean something.
    const timeout = this.opts.requestTimeoutMs;
    const limits = { headersTimeout: timeout, requestTimeout: timeout, connectionsCheckingInterval: Math.max(250, Math.min(5000, Math.floor(timeout / 4))) };
    this.http = this.opts.tls ? createHttpsServer({ cert: this.opts.tls.cert, key: this.opts.tls.key, ...limits }, handler) : createHttpServer(limits, handler);
    this.http.on("upgrade", (req, socket, head) => this.onUpgrade(req, socket, head));
    this.http.on("clientError", (err: Error & { code?: string }, socket: Duplex) => this.onClientError(err, socket));
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.heartbeat = setInterval(() => this.streams.checkHeartbeats(), this.opts.heartbeatMs);
    this.heartbeat.unref();
    return (this.http.address() as { port: number }).port;
  }

  /** Stops accepting, closes every stream (agents will resend what was not acknowledged) and waits for the last commit. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    const open = [...this.streams.all()];
    for (const s of open) {
      s.dead = true;
      s.ws.close(1001, "collector shutting down");
    }
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    // A peer that ignores the closing handshake does not hold up shutdown.
    const cut = setTimeout(() => {
      for (const s of open) s.ws.terminate();
      this.http.closeAllConnections();
    }, 2000);
    await closed;
    clearTimeout(cut);
    await this.commits.idle();
  }

  /**
   * Closes the streams of hosts revoked at or after `since` (ms, the
   * revoking clock's): one query however many streams are open, and it sees
   * a revocation made through any collector sharing the database.
   */
  async cutRevoked(since: number): Promise<void> {
    for (const hostId of await this.hosts.revokedSince(since)) {
      const s = this.streams.get(hostId);
      if (s) this.streams.close(s, CLOSE.REVOKED, "host revoked", "stream.revoked");
    }
  }

  private onClientError(err: Error & { code?: string }, socket: Duplex): void {
    const address = (socket as Duplex & { remoteAddress?: string }).remoteAddress;
    if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      this.metrics.inc("http_timeouts");
      this.throttled.warn("http.request_timeout", { address, limitMs: this.opts.requestTimeoutMs });
      if (socket.writable) return void socket.end("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", () => socket.destroy());
    } else if (err.code !== "ECONNRESET") {
      this.metrics.inc("http_client_errors");
      this.throttled.warn("http.client_error", { address, code: err.code, error: err.message });
    }
    socket.destroy();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    try {
      this.route(req, res);
    } catch (err) {
      // Nothing a request carries may take the collector down.
      this.log.warn("http.bad_request", { address: req.socket.remoteAddress, url: (req.url ?? "").slice(0, 200), error: (err as Error).message });
      if (!res.headersSent) reply(res, 400, "text/plain", "bad request\n");
      else res.destroy();
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "POST" && path === "/v1/enroll") return void this.enrollRoute.handle(req, res);
    if (req.method === "GET" && path === "/healthz") return reply(res, 200, "text/plain", "ok\n");
    if (req.method === "GET" && path === "/metrics") {
      if (!isLoopback(req.socket.remoteAddress)) return reply(res, 403, "text/plain", "metrics are served to loopback clients only\n");
      this.metrics.openConnections = this.streams.size;
      this.metrics.queuedBatches = this.commits.length;
      return reply(res, 200, "text/plain; version=0.0.4", this.metrics.prometheus());
    }
    if (this.extraRoutes?.(req, res)) return;
    reply(res, 404, "text/plain", "not found\n");
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.upgrade(req, socket, head).catch((err: Error) => {
      // The database did not answer: the agent retries later.
      this.metrics.inc("db_errors");
      this.log.error("stream.db_error", { address: req.socket.remoteAddress, error: err.message });
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const address = req.socket.remoteAddress ?? "";
    const d = await authenticateUpgrade(req, {
      hosts: this.hosts,
      limiter: this.limiter,
      metrics: this.metrics,
      openStreams: this.streams.size,
      maxConnections: this.opts.maxConnections,
    });
    if (!d.ok) {
      this.metrics.inc("connections_refused");
      this.log.warn(d.event, { address, ...d.fields });
      socket.end(`HTTP/1.1 ${d.status} ${d.text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const deps = { streams: this.streams, commits: this.commits, metrics: this.metrics, log: this.log, maxFrameBytes: this.opts.maxFrameBytes };
    this.wss.handleUpgrade(req, socket, head, (ws) => startSession(deps, ws, d.hostId, address, d.lastSeq));
  }
}
