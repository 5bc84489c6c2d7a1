// The worker side of off-thread.ts: opens the store at the location given,
// runs one report or export, answers, closes. A worker runs this file; the
// one-file bundle of the installers runs itself (this module is in it), and
// the job starts here because the worker's data says it is one.

import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { knowledgeWithSite } from "@oddwire/shared";
import { runExport } from "../export/export-run.js";
import { buildReport } from "../report/build-report.js";
import type { OffThreadJob } from "./off-thread.js";
import { openStore } from "./store.js";

export interface OffThreadData {
  oddwireOffThread: true;
  location: string;
  knowledgeFile: string | null;
  job: OffThreadJob;
}

async function serve({ location, knowledgeFile, job }: OffThreadData): Promise<void> {
  try {
    // A small pool: the worker reads on one connection at a time.
    const store = await openStore(location, { poolSize: 2 });
    try {
      const kb = knowledgeWithSite(knowledgeFile ?? undefined);
      const value = job.kind === "report" ? await buildReport(store, { ...job.options, kb }) : await runExport(store, job.schedule, job.now);
      parentPort!.postMessage({ ok: true, value });
    } finally {
      await store.close();
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    parentPort!.postMessage({ ok: false, error: e.message, ...(typeof e.code === "string" && { code: e.code }) });
  }
}

if (!isMainThread && (workerData as Partial<OffThreadData> | null)?.oddwireOffThread === true) await serve(workerData as OffThreadData);
