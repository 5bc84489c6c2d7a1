// Which program feeds connection events. Both print the same JSON lines
// (agent/bpf/oddwire-events.bt's format): the compiled CO-RE sensor
// (agent/bpf, found by findSensor: beside the packaged runtime, or built in
// agent/bpf/build) is preferred over bpftrace, whose LLVM costs about 100 MB
// resident and seconds of compilation at each start.

import { accessSync, constants, statSync } from "node:fs";
import { BpftraceSource } from "../collect/linux/events/bpftrace-source.js";
import type { EventLineSource, SourceHandlers } from "../collect/linux/events/event-recorder.js";
import { SensorSource } from "../collect/linux/events/sensor-source.js";

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

/** The sensor at `sensorPath` when it is there and executable, else bpftrace at `bpftracePath`. */
export function chooseEventSource(bpftracePath: string, sensorPath: string | null): SourceChoice {
  if (sensorPath && isExecutableFile(sensorPath)) {
    return { kind: "sensor", path: sensorPath, create: (h) => new SensorSource({ ...h, sensorPath }) };
  }
  return { kind: "bpftrace", path: bpftracePath, create: (h) => new BpftraceSource({ ...h, bpftracePath }) };
}
