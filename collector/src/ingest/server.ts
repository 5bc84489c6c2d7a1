// The collector's network side: one HTTP(S) server for enrollment, health,
// metrics and the agents' WebSocket streams. Streams are authenticated in the
// HTTP upgrade handler, before any WebSocket exists. Batches from every
// stream are queued and committed together, and each is acknowledged only
// after its transaction commits.

import { createHash, timingSafeEqual } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { oddwire } from "@oddwire/proto";
import { isOddwireError, type Logger } from "@oddwire/shared";
import type { HostStore } from "../store/hosts.js";
import type { Ingester, IngestItem } from "../store/ingest.js";
import { batchProblem } from "./batch-limits.js";
import { CLOSE } from "./close-codes.js";
import { Metrics } from "./metrics.js";
import { RateLimiter } from "./rate-limit.js";

const { AgentMessage, CollectorMessage, EnrollRequest, EnrollResponse } = oddwire.v1;

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
}

const ENROLL_MAX_BYTES = 64 * 1024;

interface Stream {
  ws: WebSocket;
  hostId: string;
  address: string;
  alive: boolean;
  /** Closed by the collector: nothing more from it is queued or committed. */
  dead: boolean;
}

interface Queued {
  item: IngestItem;
  stream: Stream;
}

export class IngestServer {
  readonly metrics = new Metrics();
  private http!: Server;
  private readonly wss: WebSocketServer;
  private readonly streams = new Map<string, Stream>();
  private readonly limiter: RateLimiter;
  private readonly secretHash: Buffer;
  private queue: Queued[] = [];
  private queueBytes = 0;
  private flushing = false;
  private heartbeat?: NodeJS.Timeout;
  /** Other routes (the report), tried before 404. */
  extraRoutes: ((req: IncomingMessage, res: ServerResponse) => boolean) | null = null;

  constructor(
    private readonly opts: ServerOptions,
    private readonly hosts: HostStore,
    private readonly ingester: Ingester,
    private readonly log: Logger,
  ) {
    this.limiter = new RateLimiter(opts.connectPerSecond, opts.connectBurst);
    this.secretHash = createHash("sha256").update(opts.enrollSecret).digest();
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
  }

  async listen(): Promise<number> {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    this.http = this.opts.tls ? createHttpsServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, handler) : createHttpServer(handler);
    this.http.on("upgrade", (req, socket, head) => this.onUpgrade(req, socket, head));
    this.http.on("clientError", (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.heartbeat = setInterval(() => this.checkHeartbeats(), this.opts.heartbeatMs);
    this.heartbeat.unref();
    return (this.http.address() as { port: number }).port;
  }

  /** Stops accepting, closes every stream (agents will resend what was not acknowledged) and waits for the last commit. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const s of this.streams.values()) {
      s.dead = true;
      s.ws.close(1001, "collector shutting down");
    }
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    // A peer that ignores the closing handshake does not hold up shutdown.
    const cut = setTimeout(() => {
      for (const s of this.streams.values()) s.ws.terminate();
      this.http.closeAllConnections();
    }, 2000);
    await closed;
    clearTimeout(cut);
    while (this.flushing) await new Promise((r) => setTimeout(r, 5));
  }

  /** Closes the streams of hosts revoked since the last call. */
  cutRevoked(): void {
    for (const s of this.streams.values()) {
      if (this.hosts.isRevoked(s.hostId)) this.closeStream(s, CLOSE.REVOKED, "host revoked", "stream.revoked");
    }
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
    if (req.method === "POST" && path === "/v1/enroll") return void this.onEnroll(req, res);
    if (req.method === "GET" && path === "/healthz") return reply(res, 200, "text/plain", "ok\n");
    if (req.method === "GET" && path === "/metrics") {
      if (!isLoopback(req.socket.remoteAddress)) return reply(res, 403, "text/plain", "metrics are served to loopback clients only\n");
      this.metrics.openConnections = this.streams.size;
      this.metrics.queuedBatches = this.queue.length;
      return reply(res, 200, "text/plain; version=0.0.4", this.metrics.prometheus());
    }
    if (this.extraRoutes?.(req, res)) return;
    reply(res, 404, "text/plain", "not found\n");
  }

  private async onEnroll(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const address = req.socket.remoteAddress ?? "";
    if (!this.limiter.take(address)) {
      this.metrics.inc("rate_limited");
      return reply(res, 429, "text/plain", "too many requests\n");
    }
    let body: Buffer;
    try {
      body = await readBody(req, ENROLL_MAX_BYTES);
    } catch {
      this.metrics.inc("frames_too_large");
      return reply(res, 413, "text/plain", `an enrollment request is at most ${ENROLL_MAX_BYTES} bytes\n`);
    }
    let msg: oddwire.v1.EnrollRequest;
    try {
      msg = EnrollRequest.decode(body);
    } catch (err) {
      this.metrics.inc("decode_errors");
      this.log.warn("enroll.decode_error", { address, error: (err as Error).message });
      return reply(res, 400, "text/plain", "the body is not an EnrollRequest\n");
    }
    const presented = createHash("sha256").update(msg.enrollSecret).digest();
    if (!timingSafeEqual(presented, this.secretHash)) {
      this.metrics.inc("auth_failures");
      this.log.warn("enroll.bad_secret", { address, hostId: msg.hostId });
      return reply(res, 401, "text/plain", "wrong enrollment secret\n");
    }
    try {
      const agentKey = this.hosts.enroll({ hostId: msg.hostId, hostname: msg.hostname, os: msg.os, agentVersion: msg.agentVersion }, Date.now());
      this.metrics.inc("enrollments");
      this.log.info("enroll.ok", { address, hostId: msg.hostId, hostname: msg.hostname });
      // The old key stops working now, not at the next connect.
      const live = this.streams.get(msg.hostId);
      if (live) this.closeStream(live, CLOSE.SUPERSEDED, "the host enrolled again", "stream.reenrolled");
      reply(res, 200, "application/x-protobuf", Buffer.from(EnrollResponse.encode({ hostId: msg.hostId, agentKey }).finish()));
    } catch (err) {
      if (isOddwireError(err, "ODW_ERR_REVOKED")) {
        this.metrics.inc("revoked_refusals");
        this.log.warn("enroll.revoked", { address, hostId: msg.hostId });
        return reply(res, 403, "text/plain", `${err.message}\n`);
      }
      if (isOddwireError(err, "ODW_ERR_PROTOCOL")) return reply(res, 400, "text/plain", `${err.message}\n`);
      this.metrics.inc("db_errors");
      this.log.error("enroll.db_error", { hostId: msg.hostId, error: (err as Error).message });
      reply(res, 503, "text/plain", "the collector could not record the enrollment; try again\n");
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const address = req.socket.remoteAddress ?? "";
    const refuse = (status: number, text: string, event: string, fields: Record<string, unknown> = {}) => {
      this.metrics.inc("connections_refused");
      this.log.warn(event, { address, ...fields });
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if ((req.url ?? "").split("?")[0] !== "/v1/stream") return refuse(404, "Not Found", "stream.bad_path", { url: (req.url ?? "").slice(0, 200) });
    if (!this.limiter.take(address)) {
      this.metrics.inc("rate_limited");
      return refuse(429, "Too Many Requests", "stream.rate_limited");
    }
    if (this.streams.size >= this.opts.maxConnections) {
      this.metrics.inc("capacity_refusals");
      return refuse(503, "Service Unavailable", "stream.at_capacity", { limit: this.opts.maxConnections });
    }
    const hostId = String(req.headers["x-oddwire-host"] ?? "");
    const key = /^Bearer (.+)$/.exec(String(req.headers["authorization"] ?? ""))?.[1] ?? "";
    const auth = hostId && key ? this.hosts.authenticate(hostId, key) : ({ ok: false, reason: "bad-key" } as const);
    if (!auth.ok) {
      if (auth.reason === "revoked") {
        this.metrics.inc("revoked_refusals");
        return refuse(403, "Forbidden", "stream.revoked", { hostId });
      }
      this.metrics.inc("auth_failures");
      return refuse(401, "Unauthorized", "stream.bad_key", { hostId: hostId.slice(0, 140), reason: auth.reason });
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onStream(ws, hostId, address, auth.lastSeq));
  }

  private onStream(ws: WebSocket, hostId: string, address: string, lastSeq: number): void {
    const previous = this.streams.get(hostId);
    if (previous) {
      this.metrics.inc("superseded");
      this.closeStream(previous, CLOSE.SUPERSEDED, "the same host connected again", "stream.superseded");
    }
    const stream: Stream = { ws, hostId, address, alive: true, dead: false };
    this.streams.set(hostId, stream);
    this.metrics.inc("connections_accepted");
    this.log.info("stream.open", { hostId, address, lastSeq });
    ws.on("pong", () => (stream.alive = true));
    ws.on("message", (data, isBinary) => this.onMessage(stream, data as Buffer, isBinary));
    ws.on("error", (err: Error & { code?: string }) => {
      if (err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
        this.metrics.inc("frames_too_large");
        this.log.warn("stream.frame_too_large", { hostId, address, limit: this.opts.maxFrameBytes });
      } else {
        this.metrics.inc("protocol_errors");
        this.log.warn("stream.error", { hostId, address, error: err.message });
      }
    });
    ws.on("close", (code) => {
      if (this.streams.get(hostId) === stream) this.streams.delete(hostId);
      this.log.info("stream.close", { hostId, address, code });
    });
    send(ws, { welcome: { lastSeq, maxFrameBytes: this.opts.maxFrameBytes } });
  }

  private onMessage(stream: Stream, data: Buffer, isBinary: boolean): void {
    // ws still delivers frames that arrive while a stream closes; a batch after
    // one that was dropped must not be committed ahead of it.
    if (stream.dead || this.streams.get(stream.hostId) !== stream) return;
    if (!isBinary) {
      this.metrics.inc("protocol_errors");
      return this.closeStream(stream, CLOSE.PROTOCOL, "messages must be binary protobuf", "stream.text_frame");
    }
    let msg: oddwire.v1.AgentMessage;
    try {
      msg = AgentMessage.decode(data);
    } catch (err) {
      this.metrics.inc("decode_errors");
      return this.closeStream(stream, CLOSE.DECODE, "undecodable AgentMessage", "stream.decode_error", { error: (err as Error).message });
    }
    if (msg.heartbeat) return send(stream.ws, { heartbeat: { sentAtMs: Date.now() } });
    if (!msg.batch) {
      this.metrics.inc("protocol_errors");
      return this.closeStream(stream, CLOSE.PROTOCOL, "expected a batch or heartbeat", "stream.unexpected_message", { body: msg.body ?? "none" });
    }
    const problem = batchProblem(msg.batch);
    if (problem) {
      this.metrics.inc("protocol_errors");
      return this.closeStream(stream, CLOSE.PROTOCOL, problem, "stream.bad_batch");
    }
    if (this.queueBytes + data.length > this.opts.maxQueueBytes) {
      this.metrics.inc("overload_closes");
      return this.closeStream(stream, CLOSE.TRY_AGAIN_LATER, "collector busy", "stream.overloaded", { queueBytes: this.queueBytes });
    }
    this.queue.push({ item: { hostId: stream.hostId, batch: msg.batch, bytes: data.length }, stream });
    this.queueBytes += data.length;
    if (!this.flushing) {
      this.flushing = true;
      // Group commit: wait a moment for other streams' batches, so that one
      // synchronous commit serves many of them.
      setTimeout(() => this.flush(), this.opts.flushDelayMs);
    }
  }

  /** Commits queued batches, several per transaction, then acknowledges each. */
  private flush(): void {
    try {
      while (this.queue.length > 0) {
        const taken = this.queue.splice(0, this.opts.flushBatches);
        for (const q of taken) this.queueBytes -= q.item.bytes;
        const chunk = taken.filter((q) => !q.stream.dead);
        if (chunk.length === 0) continue;
        let results;
        try {
          results = this.ingester.apply(chunk.map((q) => q.item), Date.now());
        } catch (err) {
          this.metrics.inc("db_errors");
          this.log.error("ingest.db_error", { batches: chunk.length, error: (err as Error).message });
          // Nothing was committed: close the streams so their agents resend.
          for (const q of chunk) this.closeStream(q.stream, CLOSE.SERVER_ERROR, "database error; resend", "stream.db_error");
          continue;
        }
        results.forEach((r, i) => {
          const q = chunk[i]!;
          if (r.status === "failed") {
            this.metrics.inc("db_errors");
            return this.closeStream(q.stream, CLOSE.SERVER_ERROR, "this batch could not be stored; resend", "stream.batch_failed", { seq: r.seq, error: r.error });
          }
          if (r.status === "rejected") {
            this.metrics.inc("batches_rejected");
            return this.closeStream(q.stream, CLOSE.REVOKED, "host revoked", "stream.revoked");
          }
          if (r.status === "duplicate") this.metrics.inc("batches_duplicate");
          else {
            this.metrics.inc("batches_applied");
            this.metrics.inc("processes_ingested", q.item.batch.snapshot?.processes?.length ?? 0);
            this.metrics.inc("sockets_ingested", q.item.batch.snapshot?.sockets?.length ?? 0);
          }
          send(q.stream.ws, { ack: { seq: r.seq, resync: r.resync } });
        });
      }
    } finally {
      this.flushing = false;
    }
  }

  private checkHeartbeats(): void {
    for (const s of this.streams.values()) {
      if (!s.alive) {
        this.metrics.inc("heartbeat_timeouts");
        this.log.warn("stream.heartbeat_timeout", { hostId: s.hostId, address: s.address });
        s.ws.terminate();
        this.streams.delete(s.hostId);
        continue;
      }
      s.alive = false;
      s.ws.ping();
    }
  }

  private closeStream(s: Stream, code: number, reason: string, event: string, fields: Record<string, unknown> = {}): void {
    if (s.dead) return;
    s.dead = true;
    this.log.warn(event, { hostId: s.hostId, address: s.address, code, reason, ...fields });
    if (this.streams.get(s.hostId) === s) this.streams.delete(s.hostId);
    s.ws.close(code, reason);
    // A peer that does not finish the closing handshake is cut off.
    setTimeout(() => s.ws.terminate(), 2000).unref();
  }
}

function send(ws: WebSocket, body: oddwire.v1.ICollectorMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(CollectorMessage.encode(body).finish());
}

function reply(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        // Stop keeping data but let the request finish, so the 413 can be read.
        req.removeAllListeners("data");
        req.resume();
        reject(new Error("too large"));
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}
