// The open agent streams, one per host: who is connected, closing a stream
// with a code and a logged reason, and the heartbeat that finds dead peers.

import type { WebSocket } from "ws";
import type { Logger } from "@oddwire/shared";
import { CLOSE } from "./close-codes.js";
import type { Metrics } from "./metrics.js";

export interface Stream {
  ws: WebSocket;
  hostId: string;
  address: string;
  alive: boolean;
  /** Closed by the collector: nothing more from it is queued or committed. */
  dead: boolean;
  /** Bytes of this stream's batches waiting to be committed. */
  queuedBytes: number;
}

/** How long a peer has to finish the closing handshake before it is cut off. */
export const CLOSE_GRACE_MS = 2000;

export class StreamRegistry {
  private readonly byHost = new Map<string, Stream>();

  constructor(
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.byHost.size;
  }

  get(hostId: string): Stream | undefined {
    return this.byHost.get(hostId);
  }

  all(): IterableIterator<Stream> {
    return this.byHost.values();
  }

  /** Makes `s` the host's stream; the one it replaces is closed. */
  add(s: Stream): void {
    const previous = this.byHost.get(s.hostId);
    if (previous) {
      this.metrics.inc("superseded");
      this.close(previous, CLOSE.SUPERSEDED, "the same host connected again", "stream.superseded");
    }
    this.byHost.set(s.hostId, s);
  }

  /** Forgets `s` if it is still the host's stream. */
  remove(s: Stream): void {
    if (this.byHost.get(s.hostId) === s) this.byHost.delete(s.hostId);
  }

  /** The stream is current: neither closed by the collector nor replaced. */
  isCurrent(s: Stream): boolean {
    return !s.dead && this.byHost.get(s.hostId) === s;
  }

  close(s: Stream, code: number, reason: string, event: string, fields: Record<string, unknown> = {}): void {
    if (s.dead) return;
    s.dead = true;
    this.log.warn(event, { hostId: s.hostId, address: s.address, code, reason, ...fields });
    this.remove(s);
    s.ws.close(code, reason);
    // A peer that does not finish the closing handshake is cut off.
    setTimeout(() => s.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** Pings every stream; one that did not answer the previous ping is closed with 4408. */
  checkHeartbeats(): void {
    for (const s of this.byHost.values()) {
      // A stream the collector paused (too much of it waiting to be committed) cannot read its pongs.
      if (s.ws.isPaused) continue;
      if (!s.alive) {
        // Told why (4408) in case only its pongs are lost; cut off after the grace period if it does not answer the close either.
        this.metrics.inc("heartbeat_timeouts");
        this.close(s, CLOSE.HEARTBEAT, "no answer to the last ping", "stream.heartbeat_timeout");
        continue;
      }
      s.alive = false;
      s.ws.ping();
    }
  }
}
