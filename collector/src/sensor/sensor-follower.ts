// Follows the directories named in `serve`'s sensorDirs: every second, reads
// what is new in each Zeek or Suricata log there (rotated, compressed and
// restarted files included: see sensor-file.ts), one file at a time.

import type { Logger } from "@oddwire/shared";
import type { Db } from "../store/open-db.js";
import { SensorStore } from "../store/sensor-evidence.js";
import { readSensorFile } from "./sensor-file.js";
import { listSensorFiles } from "./sensor-files.js";

export const SENSOR_POLL_MS = 1000;
const BATCH_LINES = 5000;

export class SensorFollower {
  private readonly store: SensorStore;
  /** path → what it was at its last read (dev, inode, size, mtime): unchanged files are not opened again. */
  private readonly lastSeen = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    db: Db,
    private readonly dirs: readonly string[],
    private readonly maxLineBytes: number,
    private readonly log: Logger,
    private readonly pollMs = SENSOR_POLL_MS,
  ) {
    this.store = new SensorStore(db);
  }

  start(): void {
    if (this.dirs.length === 0) return;
    const tick = () => {
      this.running = this.poll().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.pollMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over every directory. */
  async poll(): Promise<void> {
    for (const dir of this.dirs) {
      for (const { path, st } of await listSensorFiles(dir)) {
        if (this.stopped) return;
        const sig = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
        if (this.lastSeen.get(path) === sig) continue;
        try {
          const r = await readSensorFile(this.store, path, st, { maxLineBytes: this.maxLineBytes, batchLines: BATCH_LINES });
          this.lastSeen.set(path, sig);
          if (r.isNew) this.log.info("sensor.file_started", { path, format: r.format });
          if (r.errors > 0 || r.tooLong > 0)
            this.log.warn("sensor.lines_rejected", { path, errors: r.errors, tooLong: r.tooLong, maxLineBytes: this.maxLineBytes, first: r.errorSamples.slice(0, 3) });
        } catch (err) {
          this.log.warn("sensor.read_failed", { path, error: (err as Error).message });
        }
      }
    }
  }
}
