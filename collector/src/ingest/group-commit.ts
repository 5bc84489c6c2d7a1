// Group commit: batches from every stream wait a moment in one queue so that
// a single transaction (one fsync) serves many of them; each batch is
// acknowledged only after the transaction holding it commits.

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
          for (const q of chunk) this.streams.close(q.stream, CLOSE.SERVER_ERROR, "database error; resend", "stream.db_error");
          continue;
        }
        results.forEach((r, i) => {
          const q = chunk[i]!;
          if (r.status === "failed") {
            this.metrics.inc("db_errors");
            return this.streams.close(q.stream, CLOSE.SERVER_ERROR, "this batch could not be stored; resend", "stream.batch_failed", { seq: r.seq, error: r.error });
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
    } finally {
      this.flushing = false;
    }
  }
}

export function sendMessage(ws: Stream["ws"], body: oddwire.v1.ICollectorMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(CollectorMessage.encode(body).finish());
}
