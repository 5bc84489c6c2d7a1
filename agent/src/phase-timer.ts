// Times the phases of a snapshot in-process, for `snapshot --timing` and the
// benchmarks: wall-clock milliseconds per named phase.

import type { PhaseTimer } from "./collect/backend.js";

export class Phases implements PhaseTimer {
  readonly ms: Record<string, number> = {};
  private readonly started = performance.now();

  time<T>(phase: string, work: () => T): T {
    const t0 = performance.now();
    try {
      return work();
    } finally {
      this.add(phase, performance.now() - t0);
    }
  }

  async timeAsync<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      this.add(phase, performance.now() - t0);
    }
  }

  totalMs(): number {
    return round(performance.now() - this.started);
  }

  private add(phase: string, ms: number): void {
    this.ms[phase] = round((this.ms[phase] ?? 0) + ms);
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
