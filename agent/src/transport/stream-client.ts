// The agent's connection to the collector: one WebSocket carrying batches
// from a queue (lease → send → ack → commit), reconnecting with jittered
// backoff, pinging to notice a dead collector, and re-enrolling when its key
// is refused. Nothing leaves the queue before the collector acknowledges it;
// on any disconnect the leased batches are rolled back and sent again.
// The backoff follows outcomes, not connects: a Welcome alone proves nothing
// (a collector whose database fails says Welcome and closes with 1011 at
// once), so the delay starts again only after an ack or a stream that stayed
// up for healthyAfterMs.

import { WebSocket } from "ws";
import { oddwire } from "@oddwire/proto";
import { CLOSE, OddwireError, type Logger } from "@oddwire/shared";
import { Backoff } from "./backoff.js";
import { streamUrl } from "./collector-url.js";
import type { BatchQueue } from "./batch-queue.js";

const { AgentMessage, Batch, CollectorMessage } = oddwire.v1;

export interface StreamClientOptions {
  collector: string;
  hostId: string;
  queue: BatchQueue;
  /** The agent key, enrolling first if there is none (or `refresh` is set after a refusal). */
  getKey(refresh: boolean): Promise<string>;
  log: Logger;
  ca?: Buffer | undefined;
  /** Batches sent but not yet acknowledged, at most. */
  maxInFlight?: number;
  heartbeatMs?: number;
  backoff?: Backoff;
  /** The collector asked for a full snapshot next. */
  onResync?(): void;
  onAck?(seq: number): void;
  /** The stream is open; the collector holds every batch up to lastSeq. Called before sending starts. */
  onWelcome?(lastSeq: number): void;
  /** Enrollment or the stream was refused for good (revoked): the client stops. */
  onFatal?(err: OddwireError): void;
  /** A stream open this long counts as progress even without an ack (default 60 s). */
  healthyAfterMs?: number;
  /** The clock for healthyAfterMs (tests inject one). */
  now?(): number;
  /**
   * Log a Welcome whose lastSeq is past every seq this agent made as
   * stream.welcome_ahead (default true). Replay turns it off: its queue is
   * in memory and starts from 1 in every run.
   */
  flagWelcomeAhead?: boolean;
}

const WELCOME_TIMEOUT_MS = 15_000;
export const DEFAULT_HEALTHY_AFTER_MS = 60_000;

export class StreamClient {
  private ws: WebSocket | null = null;
  private stopped = false;
  private welcomed = false;
  private inFlight = 0;
  private alive = true;
  private retry: NodeJS.Timeout | null = null;
  private ping: NodeJS.Timeout | null = null;
  private refreshKey = false;
  private readonly backoff: Backoff;
  private connectedOnce = false;
  private maxFrameBytes = Infinity;
  /** Batches skipped because they exceed the collector's frame limit (not persisted). */
  private oversized = 0;
  /** A leased batch too large to send, dropped once nothing before it is in flight. */
  private oversizedSeq: number | null = null;
  /** When the current stream said Welcome (by o.now), or null. */
  private welcomedAt: number | null = null;

  constructor(private readonly o: StreamClientOptions) {
    this.backoff = o.backoff ?? new Backoff();
  }

  get connected(): boolean {
    return this.welcomed;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  /** New batches are in the queue. */
  notify(): void {
    if (this.welcomed) this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.ping) clearInterval(this.ping);
    const ws = this.ws;
    if (ws && ws.readyState !== ws.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once("close", () => resolve());
        ws.close(1000, "agent stopping");
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2000).unref();
      });
    }
    this.o.queue.rollback();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let key: string;
    try {
      key = await this.o.getKey(this.refreshKey);
      this.refreshKey = false;
    } catch (err) {
      const e = err as OddwireError;
      if (e.code === "ODW_ERR_REENROLL") {
        this.o.log.error("enroll.reenroll_refused", { code: e.code, error: e.message });
      } else if (e.code === "ODW_ERR_REVOKED" || e.code === "ODW_ERR_AUTH") {
        this.o.log.error("enroll.refused", { code: e.code, error: e.message });
        if (e.code === "ODW_ERR_REVOKED") return this.fatal(e);
      } else this.o.log.warn("enroll.failed", { code: e.code, error: e.message });
      return this.scheduleRetry();
    }
    const ws = new WebSocket(streamUrl(this.o.collector), {
      headers: { authorization: `Bearer ${key}`, "x-oddwire-host": this.o.hostId },
      perMessageDeflate: false,
      maxPayload: 1024 * 1024,
      handshakeTimeout: 15_000,
      ...(this.o.ca && { ca: this.o.ca }),
    });
    this.ws = ws;
    this.welcomed = false;
    this.inFlight = 0;
    ws.on("unexpected-response", (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      if (status === 401) {
        this.o.log.warn("stream.key_refused", { status });
        this.refreshKey = true; // enroll again with the secret
      } else if (status === 403) {
        return this.fatal(new OddwireError("ODW_ERR_REVOKED", "the collector refused this host: it has been revoked"));
      } else this.o.log.warn("stream.refused", { status });
      ws.terminate();
    });
    ws.on("message", (data, isBinary) => isBinary && this.onMessage(data as Buffer));
    ws.on("open", () => {
      // The collector says Welcome at once; a stream that stays silent is dead.
      const timer = setTimeout(() => {
        if (!this.welcomed && this.ws === ws) {
          this.o.log.warn("stream.no_welcome", { waitedMs: WELCOME_TIMEOUT_MS });
          ws.terminate();
        }
      }, WELCOME_TIMEOUT_MS);
      timer.unref();
    });
    ws.on("pong", () => (this.alive = true));
    ws.on("error", (err) => this.o.log.warn("stream.error", { error: err.message }));
    ws.on("close", (code, reason) => {
      if (this.ping) clearInterval(this.ping);
      this.welcomed = false;
      this.oversizedSeq = null;
      if (this.welcomedAt !== null && this.clock() - this.welcomedAt >= (this.o.healthyAfterMs ?? DEFAULT_HEALTHY_AFTER_MS)) this.backoff.reset();
      this.welcomedAt = null;
      this.o.queue.rollback();
      if (this.ws === ws) this.ws = null;
      if (code === CLOSE.REVOKED) return this.fatal(new OddwireError("ODW_ERR_REVOKED", "the collector closed the stream: this host has been revoked"));
      if (code === CLOSE.TOO_BIG) {
        // The agent checks each frame against the Welcome's limit, so this is a
        // collector whose limit changed under a stream: say so, and resend.
        this.o.log.warn("stream.closed", {
          code,
          errorCode: "ODW_ERR_FRAME_TOO_LARGE",
          reason: reason.toString().slice(0, 200),
          hint: "the collector's --max-frame-bytes is smaller than a batch",
        });
      } else if (this.connectedOnce) this.o.log.info("stream.closed", { code, reason: reason.toString().slice(0, 200) });
      this.scheduleRetry();
    });
  }

  private onMessage(data: Buffer): void {
    let msg: oddwire.v1.CollectorMessage;
    try {
      msg = CollectorMessage.decode(data);
    } catch (err) {
      this.o.log.warn("stream.decode_error", { error: (err as Error).message });
      this.ws?.close(CLOSE.DECODE, "undecodable CollectorMessage");
      return;
    }
    if (msg.welcome) {
      const lastSeq = Number(msg.welcome.lastSeq);
      if (!Number.isSafeInteger(lastSeq) || lastSeq < 0) {
        this.o.log.error("stream.bad_welcome", { lastSeq: String(msg.welcome.lastSeq) });
        this.ws?.close(CLOSE.PROTOCOL, "welcome lastSeq out of range");
        return;
      }
      const newest = this.o.queue.nextSeq - 1;
      if (lastSeq > newest && (this.o.flagWelcomeAhead ?? true)) {
        // The collector holds batches this agent never made: its state
        // directory was wiped or restored from an old copy, or another
        // machine is enrolled under this host id. Carry on after lastSeq.
        this.o.log.error("stream.welcome_ahead", {
          lastSeq,
          newestSeq: newest,
          hint: "the collector already holds batches up to lastSeq that this agent never sent: either this host's state directory was wiped or restored, or another machine is sending as this host id; check `oddwire-collector agents`",
        });
      }
      this.maxFrameBytes = msg.welcome.maxFrameBytes || Infinity;
      // The collector already holds everything up to lastSeq.
      this.o.queue.commit(lastSeq);
      this.o.queue.bumpSeq(lastSeq + 1);
      this.welcomed = true;
      this.welcomedAt = this.clock();
      this.connectedOnce = true;
      this.o.onWelcome?.(lastSeq);
      this.o.log.info("stream.open", { lastSeq, pending: this.o.queue.pending });
      this.startHeartbeat();
      this.pump();
    } else if (msg.ack) {
      const seq = Number(msg.ack.seq);
      // The collector stored something: this stream works.
      this.backoff.reset();
      this.inFlight = Math.max(0, this.inFlight - this.o.queue.commit(seq));
      if (msg.ack.resync) this.o.onResync?.();
      this.o.onAck?.(seq);
      this.pump();
    } else if (msg.error) {
      this.o.log.warn("stream.collector_error", { code: msg.error.code, message: msg.error.message });
    }
  }

  private pump(): void {
    const ws = this.ws;
    if (!ws || !this.welcomed || ws.readyState !== ws.OPEN) return;
    const room = (this.o.maxInFlight ?? 16) - this.inFlight;
    if (room <= 0) return;
    if (this.oversizedSeq !== null) {
      // Waiting for everything before the oversized batch to be acknowledged.
      if (this.inFlight > 0) return;
      this.o.queue.commit(this.oversizedSeq);
      this.oversizedSeq = null;
      this.oversized++;
      this.o.onResync?.();
    }
    for (let sent = 0; sent < room; sent++) {
      // One at a time, so that an oversized batch is the last one leased.
      const [b] = this.o.queue.lease(1);
      if (!b) return;
      const batch = Batch.decode(b.bytes);
      batch.seq = b.seq;
      batch.droppedBatches = this.o.queue.droppedTotal + this.oversized;
      const frame = AgentMessage.encode({ batch }).finish();
      if (frame.length > this.maxFrameBytes) {
        // The collector would close the stream (1009) on every retry: a batch
        // it can never take is skipped once those before it are acknowledged.
        this.o.log.error("stream.batch_too_large", { seq: b.seq, bytes: frame.length, maxFrameBytes: this.maxFrameBytes, hint: "raise the collector's --max-frame-bytes" });
        this.oversizedSeq = b.seq;
        return this.pump();
      }
      ws.send(frame);
      this.inFlight++;
    }
  }

  private startHeartbeat(): void {
    if (this.ping) clearInterval(this.ping);
    this.alive = true;
    this.ping = setInterval(() => {
      if (!this.alive) {
        this.o.log.warn("stream.heartbeat_timeout", {});
        this.ws?.terminate();
        return;
      }
      this.alive = false;
      this.ws?.ping();
    }, this.o.heartbeatMs ?? 30_000);
    this.ping.unref();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retry) return;
    const delay = this.backoff.next();
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.connect();
    }, delay);
  }

  private clock(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  private fatal(err: OddwireError): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.ws?.terminate();
    this.o.log.error("stream.fatal", { code: err.code, error: err.message });
    this.o.onFatal?.(err);
  }
}
