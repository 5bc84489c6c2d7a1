// The collector's one storage interface: everything it keeps and reads goes
// through a Store, whose parts are each a module of store/ written once
// against Sql (sql.ts). `--db` picks the database: a file path is SQLite
// (better-sqlite3, embedded, the default), a postgres:// URL is PostgreSQL
// (node-postgres), which several collectors may share. A new capability is
// one more module here, with its migration in schema.ts and
// postgres-schema.ts.

import { OddwireError } from "@oddwire/shared";
import { ExportStore } from "./export-store.js";
import { HostStore } from "./hosts.js";
import { Ingester, type IngesterOptions } from "./ingest.js";
import { openDb, openReadonly, type SyncMode } from "./open-db.js";
import { migratePostgres } from "./open-postgres.js";
import { PostgresSql } from "./postgres-sql.js";
import { PersonaStore } from "./personas.js";
import { ReportQueries } from "./report-queries.js";
import { SensorStore } from "./sensor-evidence.js";
import { pruneOld } from "./retention.js";
import type { Sql } from "./sql.js";
import { SqliteSql } from "./sqlite-sql.js";
import { SuppressionStore } from "./suppressions.js";

export type StoreKind = "sqlite" | "postgres";

export interface StoreOptions {
  /** SQLite's synchronous mode (PostgreSQL commits durably). */
  sync?: SyncMode;
  /** Open without writing or migrating (SQLite: a read-only connection). */
  readonly?: boolean;
  ingest?: IngesterOptions;
  /** PostgreSQL connections at most (default 8). */
  poolSize?: number;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//i;

export function isPostgresUrl(location: string): boolean {
  return POSTGRES_URL.test(location);
}

/** A database location fit for logs: a URL without its password. */
export function printableLocation(location: string): string {
  if (!isPostgresUrl(location)) return location;
  try {
    const u = new URL(location);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}

export class Store {
  readonly hosts: HostStore;
  readonly ingest: Ingester;
  readonly suppressions: SuppressionStore;
  readonly reports: ReportQueries;
  readonly exports: ExportStore;
  readonly personas: PersonaStore;
  readonly sensors: SensorStore;

  constructor(
    readonly kind: StoreKind,
    readonly location: string,
    /** Writes and short reads. */
    readonly sql: Sql,
    /** Reports and exports: a connection of their own where the database has one, so they never wait on (or hold up) ingest's transactions. */
    readonly read: Sql,
    opts: StoreOptions = {},
  ) {
    this.hosts = new HostStore(sql);
    this.ingest = new Ingester(sql, opts.ingest);
    this.suppressions = new SuppressionStore(sql);
    this.reports = new ReportQueries(read);
    this.exports = new ExportStore(sql, read);
    this.personas = new PersonaStore(sql);
    this.sensors = new SensorStore(sql);
  }

  prune(now: number, opts: { batchLogDays: number; observationDays: number }) {
    return pruneOld(this.sql, now, opts);
  }

  async close(): Promise<void> {
    if (this.read !== this.sql) await this.read.close();
    await this.sql.close();
  }
}

/** Opens (creating and migrating unless read-only) the database at `location`: a SQLite file path or a postgres:// URL. */
export async function openStore(location: string, opts: StoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(location)) {
    const sql = new PostgresSql(location, opts.poolSize === undefined ? {} : { max: opts.poolSize });
    try {
      if (!opts.readonly) await migratePostgres(sql);
      else await sql.get("SELECT 1");
    } catch (err) {
      await sql.close().catch(() => undefined);
      throw new OddwireError("ODW_ERR_DB", `cannot open the database ${printableLocation(location)}: ${(err as Error).message}`, { cause: err });
    }
    return new Store("postgres", location, sql, sql, opts);
  }
  const db = openDb(location, { ...(opts.sync ? { sync: opts.sync } : {}), readonly: opts.readonly ?? false });
  const memory = location === ":memory:";
  const reader = memory ? null : () => openReadonly(location);
  const sql = new SqliteSql(db, reader);
  const read = memory || opts.readonly ? sql : new SqliteSql(openReadonly(location), reader);
  return new Store("sqlite", location, sql, read, opts);
}
