// Group commit: batches from every stream wait a moment in one queue so that
// a single transaction (one fsync) serves many of them; each batch is
// acknowledged only after the transaction holding it commits.
//
// One host must not hold up the others: a stream with too many bytes waiting
// stops being read (TCP pushes back on its agent) until its batches are
// committed, so it cannot fill the shared queue; a transaction takes batches
// up to a byte budget, so a big batch commits on its own instead of delaying
// a neighbour's ack; and the event loop gets a turn between transactions.

import { oddwire } from "@oddwire/proto";
import type { Logger } from "@oddwire/shared";
import type { Ingester, IngestItem } from "../store/ingest.js";
import { CLOSE } from "./close-codes.js";
import type { Metrics } from "./metrics.js";
import type { Stream, StreamRegistry } from "./stream-registry.js";

const { CollectorMessage } = oddwire.v1;

export interface GroupCommitOptions {
  /** Bytes of received, uncommitted batches at most; past it, streams are closed with 1013. */
  maxQueueBytes: number;
  /** Batches per transaction at most. */
  flushBatches: number;
  /** How long the first queued batch waits for others before a commit. */
  flushDelayMs: number;
  /** Bytes of one stream's uncommitted batches past which that stream is paused. */
  maxStreamQueueBytes: number;
  /** Bytes of batches per transaction at most (a single larger batch still gets one of its own). */
  flushBytes: number;
}

interface Queued {
  item: IngestItem;
  stream: Stream;
}

export class GroupCommit {
  private queue: Queued[] = [];
  private queueBytes = 0;
  private flushing = false;

  constructor(
    private readonly opts: GroupCommitOptions,
    private readonly ingester: Ingester,
    private readonly streams: StreamRegistry,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  /** Queues a batch; false (and the stream closed) when the queue is full. */
  enqueue(stream: Stream, item: IngestItem): boolean {
    if (this.queueBytes + item.bytes > this.opts.maxQueueBytes) {
      this.metrics.inc("overload_closes");
      this.streams.close(stream, CLOSE.TRY_AGAIN_LATER, "collector busy", "stream.overloaded", { queueBytes: this.queueBytes });
      return false;
    }
    this.queue.push({ item, stream });
    this.queueBytes += item.bytes;
    stream.queuedBytes += item.bytes;
    if (stream.queuedBytes > this.opts.maxStreamQueueBytes && !stream.ws.isPaused) {
      stream.ws.pause();
      this.metrics.inc("streams_paused");
      this.log.debug("stream.paused", { hostId: stream.hostId, queuedBytes: stream.queuedBytes });
    }
    if (!this.flushing) {
      this.flushing = true;
      setTimeout(() => this.flush(), this.opts.flushDelayMs);
    }
    return true;
  }

  /** Resolves once nothing is being committed. */
  async idle(): Promise<void> {
    while (this.flushing) await new Promise((r) => setTimeout(r, 5));
  }

  /** Commits one transaction's worth of queued batches, acknowledges each, and comes back for the rest after a turn of the event loop. */
  private async flush(): Promise<void> {
    try {
      await this.commitSome();
    } catch (err) {
      this.log.error("ingest.db_error", { error: (err as Error).message });
    } finally {
      if (this.queue.length > 0) setImmediate(() => this.flush());
      else this.flushing = false;
    }
  }

  private async commitSome(): Promise<void> {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < this.opts.flushBatches && (n === 0 || bytes + this.queue[n]!.item.bytes <= this.opts.flushBytes)) bytes += this.queue[n++]!.item.bytes;
    const taken = this.queue.splice(0, n);
    for (const q of taken) this.release(q);
    const chunk = taken.filter((q) => !q.stream.dead);
    if (chunk.length === 0) return;
    let results;
    try {
      results = await this.ingester.apply(
        chunk.map((q) => q.item),
        Date.now(),
      );
    } catch (err) {
      this.metrics.inc("db_errors");
      this.log.error("ingest.db_error", { batches: chunk.length, error: (err as Error).message });
      // Nothing was committed: close the streams so their agents resend.
      for (const q of chunk) this.streams.close(q.stream, CLOSE.SERVER_ERROR, "database error; resend", "stream.db_error");
      return;
    }
    results.forEach((r, i) => {
      const q = chunk[i]!;
      if (r.status === "failed") {
        this.metrics.inc("db_errors");
        return this.streams.close(q.stream, CLOSE.SERVER_ERROR, "this batch could not be stored; resend", "stream.batch_failed", { seq: r.seq, error: r.error });
      }
      if (r.status === "jump") {
        this.metrics.inc("sequence_jumps");
        return this.streams.close(q.stream, CLOSE.PROTOCOL, `sequence jump: expected seq ${r.expected}, got ${r.seq}`, "stream.sequence_jump", {
          seq: r.seq,
          expected: r.expected,
          droppedBatches: num(q.item.batch.droppedBatches),
        });
      }
      if (r.status === "rejected") {
        this.metrics.inc("batches_rejected");
        return this.streams.close(q.stream, CLOSE.REVOKED, "host revoked", "stream.revoked");
      }
      if (r.status === "duplicate") this.metrics.inc("batches_duplicate");
      else {
        this.metrics.inc("batches_applied");
        this.metrics.inc("processes_ingested", q.item.batch.snapshot?.processes?.length ?? 0);
        this.metrics.inc("sockets_ingested", q.item.batch.snapshot?.sockets?.length ?? 0);
      }
      sendMessage(q.stream.ws, { ack: { seq: r.seq, resync: r.resync } });
    });
  }

  /** A batch left the queue: its stream may be read again once half its allowance is free. */
  private release(q: Queued): void {
    this.queueBytes -= q.item.bytes;
    q.stream.queuedBytes -= q.item.bytes;
    if (q.stream.ws.isPaused && !q.stream.dead && q.stream.queuedBytes <= this.opts.maxStreamQueueBytes / 2) q.stream.ws.resume();
  }
}

const num = (v: number | { toNumber(): number } | null | undefined): number => (v == null ? 0 : Number(v));

export function sendMessage(ws: Stream["ws"], body: oddwire.v1.ICollectorMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(CollectorMessage.encode(body).finish());
}
