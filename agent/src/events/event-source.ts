// Which program feeds connection events. Both print the same JSON lines
// (agent/bpf/oddwire-events.bt's format): a compiled sensor, when one is
// shipped at agent/bpf/oddwire-sensor, is preferred over bpftrace, whose
// LLVM costs about 100 MB resident and seconds of compilation at each start.

import { accessSync, constants, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BpftraceSource } from "../collect/linux/events/bpftrace-source.js";
import type { EventLineSource, SourceHandlers } from "../collect/linux/events/event-recorder.js";

/** Where a compiled sensor would be shipped, beside the compiled agent. */
export const SENSOR_PATH = fileURLToPath(new URL("../../bpf/oddwire-sensor", import.meta.url));

export interface SourceChoice {
  kind: "sensor" | "bpftrace";
  /** The executable run. */
  path: string;
  create(handlers: SourceHandlers): EventLineSource;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The sensor when it is there and executable, else bpftrace at `bpftracePath`.
 * @param sensorPath for tests; default SENSOR_PATH
 */
export function chooseEventSource(bpftracePath: string, sensorPath = SENSOR_PATH): SourceChoice {
  if (isExecutableFile(sensorPath)) {
    return { kind: "sensor", path: sensorPath, create: (h) => new BpftraceSource({ ...h, bpftracePath: sensorPath, args: [] }) };
  }
  return { kind: "bpftrace", path: bpftracePath, create: (h) => new BpftraceSource({ ...h, bpftracePath }) };
}
