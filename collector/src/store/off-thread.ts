// Reports and exports off the ingest path: each runs in a worker thread with
// a connection of its own to the same database, so the collector's thread
// keeps acknowledging batches while a report scores the fleet or an export
// writes a million rows (and a 2-core machine uses its second core). At most
// OFF_THREAD_JOBS run at once; more wait their turn. An in-memory database
// cannot be opened twice: its jobs run on the collector's thread.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type ErrorCode, knowledgeWithSite, OddwireError } from "@oddwire/shared";
import type { ExportSchedule } from "../export/export-config.js";
import { type ExportOutcome, runExport } from "../export/export-run.js";
import { buildReport, type ReportOptions } from "../report/build-report.js";
import type { Report } from "../report/report-types.js";
import type { OffThreadData } from "./off-thread-worker.js";
import "./off-thread-worker.js";
import type { Store } from "./store.js";

export const OFF_THREAD_JOBS = 2;

// The worker's script: off-thread-worker.js beside this file, or, in the installers' one-file bundle (which holds it), the bundle itself.
const BESIDE = new URL("./off-thread-worker.js", import.meta.url);
const WORKER_SCRIPT = existsSync(fileURLToPath(BESIDE)) ? BESIDE : new URL(import.meta.url);

export type OffThreadJob = { kind: "report"; options: ReportOptions } | { kind: "export"; schedule: ExportSchedule; now: number };

type Answer<J extends OffThreadJob> = J extends { kind: "report" } ? Report : ExportOutcome;

export class OffThread {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly location: string,
    /** The site knowledge file the collector judges with (the worker reads it: a knowledge base does not cross threads), or null. */
    private readonly knowledgeFile: string | null,
  ) {}

  /** Where jobs run: off the thread unless the database is in memory (it cannot be opened twice). */
  static for(store: Store, knowledgeFile: string | null = null): Pick<OffThread, "run"> {
    if (store.location !== ":memory:") return new OffThread(store.location, knowledgeFile);
    const kb = knowledgeWithSite(knowledgeFile ?? undefined);
    return {
      run: (async (job: OffThreadJob) => (job.kind === "report" ? buildReport(store, { ...job.options, kb }) : runExport(store, job.schedule, job.now))) as OffThread["run"],
    };
  }

  async run<J extends OffThreadJob>(job: J): Promise<Answer<J>> {
    if (this.running >= OFF_THREAD_JOBS) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await this.inWorker<Answer<J>>(job);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private inWorker<T>(job: OffThreadJob): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const data: OffThreadData = { oddwireOffThread: true, location: this.location, knowledgeFile: this.knowledgeFile, job };
      const worker = new Worker(WORKER_SCRIPT, { workerData: data });
      let settled = false;
      worker.once("message", (m: { ok: true; value: T } | { ok: false; error: string; code?: string }) => {
        settled = true;
        if (m.ok) resolve(m.value);
        else reject(m.code?.startsWith("ODW_ERR_") ? new OddwireError(m.code as ErrorCode, m.error) : new Error(m.error));
      });
      worker.once("error", (err) => {
        settled = true;
        reject(err);
      });
      worker.once("exit", (code) => {
        if (!settled) reject(new Error(`the worker exited with ${code} before answering`));
      });
    });
  }
}
