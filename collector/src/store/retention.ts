// Retention: the batch log, connection records and stale observations are
// pruned; current state and hosts are kept. Runs at start and then hourly.
// Age is measured on the collector's clock (when a batch, connection record
// or observation was received), never on the agent's: a host whose clock is
// months behind must not lose its data. Connection records are per batch, as
// the batch log is, and are kept as long (batchLogDays).

import type { Sql } from "./sql.js";

const DAY = 86_400_000;

export function pruneOld(sql: Sql, now: number, opts: { batchLogDays: number; observationDays: number }): Promise<{ batches: number; observations: number; connections: number }> {
  return sql.tx(async (tx) => {
    const connections = (await tx.run("DELETE FROM connections WHERE received_at < ?", [now - opts.batchLogDays * DAY])).changes;
    // Each host's row count bounds its recent connections (ingest.ts): recount what is left.
    if (connections > 0) await tx.run("UPDATE hosts SET connection_rows = (SELECT COUNT(*) FROM connections c WHERE c.host_id = hosts.host_id) WHERE connection_rows > 0");
    return {
      batches: (await tx.run("DELETE FROM batches WHERE received_at < ?", [now - opts.batchLogDays * DAY])).changes,
      observations: (await tx.run("DELETE FROM observations WHERE received_at < ?", [now - opts.observationDays * DAY])).changes,
      connections,
    };
  });
}
