// Runs the configured export schedules with node-cron. A run that would
// overlap the previous one of the same schedule is skipped (and counted); a
// failed run is logged with its reason and counted, and the next tick tries
// again; nothing here can stop the collector or the other schedules.
// Collectors sharing a database each tick, and the first to claim the tick's
// slot (export_slots) runs it: a schedule fires once per fleet.

import cron, { type ScheduledTask } from "node-cron";
import type { Logger } from "@oddwire/shared";
import type { Metrics } from "../ingest/metrics.js";
import { hostname } from "node:os";
import type { ExportSchedule } from "./export-config.js";
import type { ExportOutcome } from "./export-run.js";
import type { ExportSource } from "./export-rows.js";

/** Who claims a slot: this collector. */
const COLLECTOR_ID = `${hostname()}:${process.pid}`;

/** The tick a time belongs to: its minute, or its second for a six-field (seconds) expression. */
export function slotOf(cronExpr: string, now: number): number {
  const unit = cronExpr.trim().split(/\s+/).length === 6 ? 1000 : 60_000;
  return Math.floor(now / unit) * unit;
}

export class ExportScheduler {
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Set<string>();

  constructor(
    private readonly store: Pick<ExportSource, "exports">,
    /** Runs one export (off the collector's thread: store/off-thread.ts). */
    private readonly runExport: (s: ExportSchedule, now: number) => Promise<ExportOutcome>,
    private readonly schedules: readonly ExportSchedule[],
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  start(): void {
    for (const s of this.schedules) {
      this.tasks.push(cron.schedule(s.cron, () => this.tick(s), { timezone: s.timezone, name: `export-${s.name}` }));
      this.log.info("export.scheduled", { schedule: s.name, what: s.what, cron: s.cron, timezone: s.timezone, dir: s.dir });
    }
  }

  /** One run of a schedule, unless its previous run is still going. */
  async tick(s: ExportSchedule, now = Date.now()): Promise<void> {
    if (this.running.has(s.name)) {
      this.metrics.inc("exports_skipped");
      this.log.warn("export.skipped", { schedule: s.name, reason: "the previous run is still going" });
      return;
    }
    this.running.add(s.name);
    try {
      if (!(await this.store.exports.claimSlot(s.name, slotOf(s.cron, now), COLLECTOR_ID, now))) {
        this.log.debug("export.claimed_elsewhere", { schedule: s.name });
        return;
      }
      const t0 = Date.now();
      const out = await this.runExport(s, now);
      if (out.status === "ok") {
        this.metrics.inc("exports_ok");
        this.log.info("export.ok", { schedule: s.name, what: s.what, rows: out.rows, file: out.file, ms: Date.now() - t0 });
      } else {
        this.metrics.inc("exports_failed");
        this.log.error("export.failed", { schedule: s.name, what: s.what, dir: s.dir, error: out.error, retry: "at the next tick" });
      }
    } catch (err) {
      this.metrics.inc("exports_failed");
      this.log.error("export.failed", { schedule: s.name, what: s.what, error: (err as Error).message, retry: "at the next tick" });
    } finally {
      this.running.delete(s.name);
    }
  }

  async stop(): Promise<void> {
    for (const t of this.tasks) await t.stop();
  }
}
