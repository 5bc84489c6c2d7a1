// Retention: the batch log, connection records and stale observations are
// pruned; current state and hosts are kept. Runs at start and then hourly.
// Age is measured on the collector's clock (when a batch, connection record
// or observation was received), never on the agent's: a host whose clock is
// months behind must not lose its data. Connection records are per batch, as
// the batch log is, and are kept as long (batchLogDays), as are classified
// flows; destination names reached are kept as long as observations. The
// batch log keeps a row per batch for its first BATCH_DETAIL_MS; older
// batches are summed into one row per host and day (batch_days), kept
// batchLogDays.

import type { Sql } from "./sql.js";

const DAY = 86_400_000;
/** How long each batch keeps a row of its own in the batch log. */
export const BATCH_DETAIL_MS = 6 * 3_600_000;

export function pruneOld(
  sql: Sql,
  now: number,
  opts: { batchLogDays: number; observationDays: number },
): Promise<{ batches: number; observations: number; connections: number; flows: number; names: number }> {
  return sql.tx(async (tx) => {
    const connections = (await tx.run("DELETE FROM connections WHERE received_at < ?", [now - opts.batchLogDays * DAY])).changes;
    // Each host's row count bounds its recent connections (ingest.ts): recount what is left.
    if (connections > 0) await tx.run("UPDATE hosts SET connection_rows = (SELECT COUNT(*) FROM connections c WHERE c.host_id = hosts.host_id) WHERE connection_rows > 0");
    const detailUntil = now - Math.min(BATCH_DETAIL_MS, opts.batchLogDays * DAY);
    await tx.run(
      `INSERT INTO batch_days (host_id, day, batches, fulls, bytes, first_seq, last_seq, first_at, last_at)
         SELECT host_id, received_at - received_at % ${DAY}, COUNT(*), SUM(full), SUM(bytes), MIN(seq), MAX(seq), MIN(received_at), MAX(received_at)
           FROM batches WHERE received_at < ? GROUP BY host_id, received_at - received_at % ${DAY}
       ON CONFLICT (host_id, day) DO UPDATE SET batches = batch_days.batches + excluded.batches, fulls = batch_days.fulls + excluded.fulls,
         bytes = batch_days.bytes + excluded.bytes, first_seq = least(batch_days.first_seq, excluded.first_seq), last_seq = greatest(batch_days.last_seq, excluded.last_seq),
         first_at = least(batch_days.first_at, excluded.first_at), last_at = greatest(batch_days.last_at, excluded.last_at)`,
      [detailUntil],
    );
    await tx.run("DELETE FROM batch_days WHERE day < ?", [now - opts.batchLogDays * DAY]);
    return {
      batches: (await tx.run("DELETE FROM batches WHERE received_at < ?", [detailUntil])).changes,
      observations: (await tx.run("DELETE FROM observations WHERE received_at < ?", [now - opts.observationDays * DAY])).changes,
      connections,
      flows: (await tx.run("DELETE FROM flows WHERE received_at < ?", [now - opts.batchLogDays * DAY])).changes,
      names: (await tx.run("DELETE FROM destination_names WHERE received_at < ?", [now - opts.observationDays * DAY])).changes,
    };
  });
}
