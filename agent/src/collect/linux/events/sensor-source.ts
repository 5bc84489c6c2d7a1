// Runs the oddwire sensor (agent/bpf/oddwire-sensor.c: a compiled CO-RE eBPF
// program and its libbpf loader) as a child process and hands each event to
// the caller as it arrives. The lighter route beside bpftrace-source.ts: a few
// MB resident instead of bpftrace's ~111 MB, no tracefs, and it runs with
// CAP_BPF + CAP_PERFMON alone. Same life-cycle: restarts with a doubling delay
// (reported through onStatus), stop() = SIGINT, SIGKILL after a grace period,
// resolves once the child is reaped. Its lines are bpftrace's JSON layout, read
// by the same parser with the sensor's string encoding.

import { accessSync, constants } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BpftraceSource, type SourceStatus, type TimedEvent } from "./bpftrace-source.js";

export type { SourceStatus, TimedEvent };

export const SENSOR_NAME = "oddwire-sensor";

/**
 * Where the sensor may be, in order: beside the Node.js runtime (the .deb puts
 * both in /usr/lib/oddwire-agent/bin), then the build output of agent/bpf
 * in a source tree (`npm run build:sensor`).
 */
export function sensorCandidates(execPath = process.execPath): string[] {
  return [join(dirname(execPath), SENSOR_NAME), fileURLToPath(new URL(`../../../../bpf/build/${SENSOR_NAME}`, import.meta.url))];
}

/** The first executable sensor among the candidates, or null when it was not built or shipped. */
export function findSensor(candidates = sensorCandidates()): string | null {
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

export interface SensorSourceOptions {
  onEvent(event: TimedEvent): void;
  /** Kernel-side losses (ring buffer full): events that never reached us. */
  onLost?(count: number): void;
  /** A line that did not parse; the source carries on. */
  onError?(reason: string): void;
  onStatus?: ((status: SourceStatus) => void) | undefined;
  /** The sensor binary; findSensor() when not given. */
  sensorPath?: string;
  /** Bytes of the kernel's ring buffer (a power of two, 4096 or more); the sensor's default is 1 MiB. */
  ringBytes?: number;
  /** Restart delays: the first, doubled on each death up to the maximum. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** Give up after this many deaths in a row without a ready line in between. */
  maxRestarts?: number;
  /** How long stop() waits after SIGINT before SIGKILL. */
  stopGraceMs?: number;
}

/** The sensor's child, with bpftrace-source's life-cycle and parser (in the sensor's string encoding). */
export class SensorSource extends BpftraceSource {
  constructor(options: SensorSourceOptions) {
    const { sensorPath, ringBytes, ...common } = options;
    super({
      ...common,
      // A missing sensor is spawned by name and fails with ENOENT, reported through onStatus like any death.
      bpftracePath: sensorPath ?? findSensor() ?? SENSOR_NAME,
      args: ringBytes === undefined ? [] : ["--ring-bytes", String(ringBytes)],
      strings: "sensor",
    });
  }
}
