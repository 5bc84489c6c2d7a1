// Brings a PostgreSQL database's schema up to date: PG_MIGRATIONS in order,
// each in its own transaction, under an advisory lock so that collectors
// starting together migrate once. The version lives in oddwire_schema.

import { MIGRATIONS } from "./schema.js";
import { PG_MIGRATIONS } from "./postgres-schema.js";
import type { Sql } from "./sql.js";

/** Any constant: the advisory lock every collector takes to migrate. */
const MIGRATION_LOCK = 0x6f647721;

export async function migratePostgres(sql: Sql): Promise<void> {
  if (PG_MIGRATIONS.length !== MIGRATIONS.length) throw new Error(`the PostgreSQL schema has ${PG_MIGRATIONS.length} migrations and SQLite's ${MIGRATIONS.length}`);
  await sql.tx(async (tx) => {
    await tx.get("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK]);
    await tx.run("CREATE TABLE IF NOT EXISTS oddwire_schema (version INTEGER NOT NULL)");
    let row = await tx.get<{ version: number }>("SELECT version FROM oddwire_schema");
    if (!row) {
      await tx.run("INSERT INTO oddwire_schema (version) VALUES (0)");
      row = { version: 0 };
    }
    if (row.version > PG_MIGRATIONS.length) {
      throw new Error(`its schema version ${row.version} is newer than this collector knows (${PG_MIGRATIONS.length}); upgrade the collector`);
    }
    for (let v = row.version; v < PG_MIGRATIONS.length; v++) {
      const step = PG_MIGRATIONS[v]!.trim();
      if (step) await tx.run(step);
      await tx.run("UPDATE oddwire_schema SET version = ?", [v + 1]);
    }
  });
}
