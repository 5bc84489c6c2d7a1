// Keeps what protocol identification needs and nothing more: the first few
// packets of each flow, for a bounded number of new flows per second and per
// window, while counting every packet and byte of the flows it watches. What
// the caps leave out is counted, flow by flow. Pure: packets in, windows out.

import { packetTuple, type PacketTuple, type PcapPacket } from "./parse-pcap.js";

export const DPI_DEFAULTS = {
  /** Packets kept per flow, both directions: enough for a TLS ClientHello, an HTTP request line, a DNS question, an SSH banner. */
  packetsPerFlow: 10,
  /** New flows per second taken into classification; the rest are counted (unclassified, rate cap). */
  newFlowsPerSecond: 1000,
  /** New flows per window; the rest are counted (unclassified, window cap). */
  flowsPerWindow: 10_000,
  /** Flows not seen for this long are forgotten (a later packet starts a new one). */
  idleMs: 60_000,
  /**
   * A flow is handed to classification once it has its packets, has ended, or
   * has been quiet this long (a request waiting for its answer); never from a
   * lone SYN caught at a window's edge.
   */
  settleMs: 1_000,
  /** ... or, whatever it does, once it is this old. */
  maxWaitMs: 10_000,
} as const;

/** Flows tracked at once, as a multiple of flowsPerWindow: the table's memory bound. */
const TRACKED_PER_WINDOW = 20;

export interface WindowOptions {
  packetsPerFlow?: number;
  newFlowsPerSecond?: number;
  flowsPerWindow?: number;
  idleMs?: number;
  settleMs?: number;
  maxWaitMs?: number;
}

export interface WatchedFlow {
  key: string;
  transport: "tcp" | "udp";
  family: 4 | 6;
  client: string;
  clientPort: number;
  server: string;
  serverPort: number;
  firstSeenMs: number;
  lastSeenMs: number;
  packets: number;
  bytes: number;
  kept: number;
  /** Left out by a cap: counted once, never classified. */
  skipped: boolean;
  /** Handed to classification already (it is reported once, in the window its first packets fell in). */
  reported: boolean;
  ended: boolean;
  /** Its kept packets until classification. */
  held: PcapPacket[];
}

export interface Window {
  /** The kept packets, in arrival order (copies: the capture's buffers are not held). */
  packets: PcapPacket[];
  /** The flows those packets belong to. */
  flows: WatchedFlow[];
}

export interface CapCounts {
  unclassifiedRate: number;
  unclassifiedWindow: number;
}

/** The same key for both directions of a flow. */
export function flowKey(t: Pick<PacketTuple, "transport" | "src" | "srcPort" | "dst" | "dstPort">): string {
  const a = `${t.src}|${t.srcPort}`;
  const b = `${t.dst}|${t.dstPort}`;
  return a < b ? `${t.transport}|${a}|${b}` : `${t.transport}|${b}|${a}`;
}

export class FlowWindow {
  private readonly o: Required<WindowOptions>;
  private readonly flows = new Map<string, WatchedFlow>();
  private pending: WatchedFlow[] = [];
  private second = -1;
  private thisSecond = 0;
  readonly counts: CapCounts = { unclassifiedRate: 0, unclassifiedWindow: 0 };
  packetsSeen = 0;

  constructor(o: WindowOptions = {}) {
    this.o = { ...DPI_DEFAULTS, ...o };
  }

  get size(): number {
    return this.flows.size;
  }

  add(p: PcapPacket): void {
    this.packetsSeen++;
    const t = packetTuple(p.ip);
    if (!t) return;
    const key = flowKey(t);
    let f = this.flows.get(key);
    if (!f) {
      if (this.flows.size >= this.o.flowsPerWindow * TRACKED_PER_WINDOW) {
        // A flood past what the table holds: counted, not tracked (so each of its packets counts).
        this.counts.unclassifiedWindow++;
        return;
      }
      f = this.open(key, t, p.tsMs);
      this.flows.set(key, f);
    }
    f.packets++;
    f.bytes += p.wireLength;
    f.lastSeenMs = Math.max(f.lastSeenMs, p.tsMs);
    if (t.end) f.ended = true;
    if (f.skipped || f.kept >= this.o.packetsPerFlow) return;
    if (f.kept === 0) this.pending.push(f);
    f.kept++;
    f.held.push({ tsMs: p.tsMs, ip: Buffer.from(p.ip), wireLength: p.wireLength });
  }

  /**
   * Hands over the flows ready for classification (see settleMs) with their
   * packets in time order; the others wait for the next window. Forgets
   * flows idle past idleMs before `nowMs`.
   */
  take(nowMs: number): Window {
    const ready: WatchedFlow[] = [];
    const waiting: WatchedFlow[] = [];
    for (const f of this.pending) {
      const settled = f.kept >= this.o.packetsPerFlow || f.ended || nowMs - f.lastSeenMs >= this.o.settleMs || nowMs - f.firstSeenMs >= this.o.maxWaitMs;
      (settled ? ready : waiting).push(f);
    }
    this.pending = waiting;
    const packets: PcapPacket[] = [];
    for (const f of ready) {
      f.reported = true;
      for (const p of f.held) packets.push(p);
      f.held = [];
    }
    packets.sort((a, b) => a.tsMs - b.tsMs);
    for (const [key, f] of this.flows) {
      if (!f.reported && !f.skipped) continue;
      if (nowMs - f.lastSeenMs > this.o.idleMs || (f.ended && nowMs - f.lastSeenMs > 2_000)) this.flows.delete(key);
    }
    return { packets, flows: ready };
  }

  private open(key: string, t: PacketTuple, tsMs: number): WatchedFlow {
    // The first packet's sender opened the flow, unless it answers from a well-known port to a higher one without a SYN (the capture began mid-flow).
    const swap = !t.syn && t.srcPort < 1024 && t.dstPort >= 1024;
    const f: WatchedFlow = {
      key,
      transport: t.transport,
      family: t.family,
      client: swap ? t.dst : t.src,
      clientPort: swap ? t.dstPort : t.srcPort,
      server: swap ? t.src : t.dst,
      serverPort: swap ? t.srcPort : t.dstPort,
      firstSeenMs: tsMs,
      lastSeenMs: tsMs,
      packets: 0,
      bytes: 0,
      kept: 0,
      skipped: false,
      reported: false,
      ended: false,
      held: [],
    };
    const sec = Math.floor(tsMs / 1000);
    if (sec !== this.second) [this.second, this.thisSecond] = [sec, 0];
    if (this.thisSecond >= this.o.newFlowsPerSecond) {
      f.skipped = true;
      this.counts.unclassifiedRate++;
    } else if (this.pending.length >= this.o.flowsPerWindow) {
      f.skipped = true;
      this.counts.unclassifiedWindow++;
    } else this.thisSecond++;
    return f;
  }
}
