// Remembers, across batches, when each executable connected to each
// destination, so that a rhythm longer than one batch (a call home every
// 30 s, batches every minute) can be judged by classify/beaconing.ts.
// Bounded both ways: keys (least recently updated dropped first) and start
// times per key (oldest dropped first).

import { detectBeaconing, type BeaconingOptions, type BeaconingVerdict } from "../classify/beaconing.js";

export interface BeaconTrackerOptions {
  maxKeys?: number;
  maxTimesPerKey?: number;
  /** Times older than this before the newest are forgotten. */
  maxAgeMs?: number;
  beaconing?: BeaconingOptions;
}

export class BeaconTracker {
  /** Insertion order is update order: the first key is the least recently updated. */
  private readonly series = new Map<string, number[]>();
  private readonly maxKeys: number;
  private readonly maxTimes: number;
  private readonly maxAgeMs: number;
  /** Keys pushed out by the bound. */
  evictedKeys = 0;

  constructor(private readonly o: BeaconTrackerOptions = {}) {
    this.maxKeys = o.maxKeys ?? 4096;
    this.maxTimes = o.maxTimesPerKey ?? 512;
    this.maxAgeMs = o.maxAgeMs ?? 6 * 3_600_000;
    if (!(this.maxKeys > 0 && this.maxTimes > 1 && this.maxAgeMs > 0)) throw new RangeError("BeaconTracker: maxKeys, maxTimesPerKey (> 1) and maxAgeMs must be positive");
  }

  get size(): number {
    return this.series.size;
  }

  /** Adds start times for `key` (any order; duplicates are one connection). */
  add(key: string, startsMs: readonly number[]): void {
    const old = this.series.get(key);
    this.series.delete(key);
    const merged = [...new Set([...(old ?? []), ...startsMs])].sort((a, b) => a - b);
    const newest = merged[merged.length - 1] ?? 0;
    let from = Math.max(0, merged.length - this.maxTimes);
    while (from < merged.length && merged[from]! < newest - this.maxAgeMs) from++;
    this.series.set(key, merged.slice(from));
    while (this.series.size > this.maxKeys) {
      this.series.delete(this.series.keys().next().value as string);
      this.evictedKeys++;
    }
  }

  times(key: string): readonly number[] {
    return this.series.get(key) ?? [];
  }

  judge(key: string, destination: string): BeaconingVerdict {
    return detectBeaconing(this.times(key), { ...this.o.beaconing, destination });
  }
}
