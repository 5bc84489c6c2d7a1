// What the stream client sends from: the agent's durable spool, or replay's
// in-memory queue. Same lease / commit / rollback contract.

export interface QueuedBatch {
  seq: number;
  bytes: Uint8Array;
}

export interface BatchQueue {
  lease(max: number): QueuedBatch[];
  commit(uptoSeq: number): number;
  rollback(): void;
  bumpSeq(atLeast: number): void;
  readonly droppedTotal: number;
  readonly pending: number;
  /** The seq the next batch will get: every seq this queue ever handed out is below it. */
  readonly nextSeq: number;
}

/** Replay's queue: bounded by what the caller puts in, never persisted. */
export class MemoryQueue implements BatchQueue {
  private items: QueuedBatch[] = [];
  private leased = 0;
  private next = 1;

  get nextSeq(): number {
    return this.next;
  }

  enqueue(bytes: Uint8Array): number {
    const seq = this.next++;
    this.items.push({ seq, bytes });
    return seq;
  }

  lease(max: number): QueuedBatch[] {
    const out = this.items.slice(this.leased, this.leased + max);
    this.leased += out.length;
    return out;
  }

  commit(uptoSeq: number): number {
    const before = this.items.length;
    this.items = this.items.filter((b) => b.seq > uptoSeq);
    const removed = before - this.items.length;
    this.leased = Math.max(0, this.leased - removed);
    return removed;
  }

  rollback(): void {
    this.leased = 0;
  }

  bumpSeq(atLeast: number): void {
    if (this.next < atLeast) this.next = atLeast;
  }

  get droppedTotal(): number {
    return 0;
  }

  get pending(): number {
    return this.items.length;
  }
}
