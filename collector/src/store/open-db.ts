// Opens (creating if needed) the collector's SQLite database and brings its
// schema up to date. WAL lets reports and exports read (on connections of
// their own) while ingest writes.
// synchronous=FULL by default because an ack promises the batch is durable:
// with NORMAL a committed batch may roll back on power loss (not on a crash).

import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { OddwireError } from "@oddwire/shared";
import { MIGRATIONS } from "./schema.js";

export type Db = Database.Database;
export type SyncMode = "full" | "normal";

export function openDb(path: string, opts: { sync?: SyncMode; readonly?: boolean } = {}): Db {
  let db: Db;
  try {
    if (!opts.readonly && path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (err) {
    throw new OddwireError("ODW_ERR_DB", `cannot open the database ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma("busy_timeout = 5000");
    if (!opts.readonly) {
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${opts.sync === "normal" ? "NORMAL" : "FULL"}`);
      db.pragma("foreign_keys = ON");
      // After each checkpoint the WAL file is cut back to this size: a burst (or a long read that held checkpoints back) does not leave it large.
      db.pragma("journal_size_limit = 67108864");
      migrate(db);
    }
  } catch (err) {
    db.close();
    throw new OddwireError("ODW_ERR_DB", `cannot prepare the database ${path}: ${(err as Error).message}`, { cause: err });
  }
  return db;
}

/** A read-only connection to an existing database (reports and exports read beside the writer). */
export function openReadonly(path: string): Db {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma("busy_timeout = 5000");
  return db;
}

function migrate(db: Db): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`its schema version ${version} is newer than this collector knows (${MIGRATIONS.length}); upgrade the collector`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
