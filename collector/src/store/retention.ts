// Retention: the batch log and stale observations are pruned; current state
// and hosts are kept. Runs at start and then hourly. Age is measured on the
// collector's clock (when a batch or observation was received), never on the
// agent's: a host whose clock is months behind must not lose its data.

import type { Db } from "./open-db.js";

const DAY = 86_400_000;

export function pruneOld(db: Db, now: number, opts: { batchLogDays: number; observationDays: number }): { batches: number; observations: number } {
  return db.transaction(() => ({
    batches: db.prepare("DELETE FROM batches WHERE received_at < ?").run(now - opts.batchLogDays * DAY).changes,
    observations: db.prepare("DELETE FROM observations WHERE received_at < ?").run(now - opts.observationDays * DAY).changes,
  }))();
}
