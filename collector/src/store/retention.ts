// Retention: the batch log, connection records and stale observations are
// pruned; current state and hosts are kept. Runs at start and then hourly.
// Age is measured on the collector's clock (when a batch, connection record
// or observation was received), never on the agent's: a host whose clock is
// months behind must not lose its data. Connection records are per batch, as
// the batch log is, and are kept as long (batchLogDays), as are classified
// flows; destination names reached are kept as long as observations.

import type { Db } from "./open-db.js";

const DAY = 86_400_000;

export function pruneOld(
  db: Db,
  now: number,
  opts: { batchLogDays: number; observationDays: number },
): { batches: number; observations: number; connections: number; flows: number; names: number } {
  return db.transaction(() => {
    const connections = db.prepare("DELETE FROM connections WHERE received_at < ?").run(now - opts.batchLogDays * DAY).changes;
    // Each host's row count bounds its recent connections (ingest.ts): recount what is left.
    if (connections > 0) db.prepare("UPDATE hosts SET connection_rows = (SELECT COUNT(*) FROM connections c WHERE c.host_id = hosts.host_id) WHERE connection_rows > 0").run();
    return {
      batches: db.prepare("DELETE FROM batches WHERE received_at < ?").run(now - opts.batchLogDays * DAY).changes,
      observations: db.prepare("DELETE FROM observations WHERE received_at < ?").run(now - opts.observationDays * DAY).changes,
      connections,
      flows: db.prepare("DELETE FROM flows WHERE received_at < ?").run(now - opts.batchLogDays * DAY).changes,
      names: db.prepare("DELETE FROM destination_names WHERE received_at < ?").run(now - opts.observationDays * DAY).changes,
    };
  })();
}
