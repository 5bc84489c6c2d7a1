// The store's SQL over better-sqlite3. SQLite answers synchronously; the
// answers are wrapped in promises so the store is written once for every
// database. One connection writes: a transaction holds it (a queue, not a
// lock error) until it resolves, and a statement outside a transaction waits
// its turn, so nothing runs inside another caller's transaction. Long reads
// (exports) run on a read-only connection of their own, so the writer's
// acknowledgements carry on meanwhile.

import type Database from "better-sqlite3";
import type { Dialect, Params, Sql } from "./sql.js";

type Db = Database.Database;

/** The portable spellings (sql.ts) in SQLite's: greatest/least → max/min, no FOR UPDATE, a DISTINCT string_agg → group_concat. */
export function toSqlite(text: string): string {
  return text
    .replace(/\bgreatest\(/gi, "max(")
    .replace(/\bleast\(/gi, "min(")
    .replace(/\s+FOR UPDATE\b/gi, "")
    .replace(/\bstring_agg\(DISTINCT ([^,()]+), ','\)/gi, "group_concat(DISTINCT $1)");
}

export class SqliteSql implements Sql {
  readonly dialect: Dialect = "sqlite";
  private readonly cache = new Map<string, Database.Statement>();
  private queue: Promise<unknown> = Promise.resolve();
  private reader: Db | null = null;

  constructor(
    readonly db: Db,
    /** Opens a read-only connection to the same database for iterate(); null for an in-memory one. */
    private readonly openReader: (() => Db) | null,
  ) {}

  private stmt(text: string): Database.Statement {
    let s = this.cache.get(text);
    if (!s) {
      s = this.db.prepare(toSqlite(text));
      this.cache.set(text, s);
    }
    return s;
  }

  /** Runs `fn` once every earlier transaction and statement has finished. */
  private turn<T>(fn: () => T | Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  allNow<T>(text: string, params?: Params): T[] {
    const s = this.stmt(text);
    return (params === undefined ? s.all() : s.all(params)) as T[];
  }

  getNow<T>(text: string, params?: Params): T | undefined {
    return (params === undefined ? this.stmt(text).get() : this.stmt(text).get(params)) as T | undefined;
  }

  runNow(text: string, params?: Params): { changes: number } {
    return { changes: (params === undefined ? this.stmt(text).run() : this.stmt(text).run(params)).changes };
  }

  all<T = Record<string, unknown>>(text: string, params?: Params): Promise<T[]> {
    return this.turn(() => this.allNow<T>(text, params));
  }

  get<T = Record<string, unknown>>(text: string, params?: Params): Promise<T | undefined> {
    return this.turn(() => this.getNow<T>(text, params));
  }

  run(text: string, params?: Params): Promise<{ changes: number }> {
    return this.turn(() => this.runNow(text, params));
  }

  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.turn(async () => {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const out = await fn(new SqliteTx(this, 0));
        this.db.exec("COMMIT");
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw err;
      }
    });
  }

  async *iterate<T = Record<string, unknown>>(text: string, params?: Params, chunk = 1000): AsyncIterable<T[]> {
    if (!this.openReader) {
      // An in-memory database has no second connection: read it in one go.
      yield await this.all<T>(text, params);
      return;
    }
    this.reader ??= this.openReader();
    const s = this.reader.prepare(toSqlite(text));
    const it = (params === undefined ? s.iterate() : s.iterate(params)) as IterableIterator<T>;
    try {
      let rows: T[] = [];
      for (const row of it) {
        rows.push(row);
        if (rows.length >= chunk) {
          yield rows;
          rows = [];
          // The writer gets its turn between chunks.
          await new Promise((r) => setImmediate(r));
        }
      }
      if (rows.length) yield rows;
    } finally {
      it.return?.();
    }
  }

  async close(): Promise<void> {
    await this.queue;
    this.reader?.close();
    this.db.close();
  }
}

/** The same connection inside a transaction: statements run at once, a nested transaction is a savepoint. */
class SqliteTx implements Sql {
  readonly dialect: Dialect = "sqlite";
  constructor(
    private readonly outer: SqliteSql,
    private readonly depth: number,
  ) {}

  async all<T = Record<string, unknown>>(text: string, params?: Params): Promise<T[]> {
    return this.outer.allNow<T>(text, params);
  }

  async get<T = Record<string, unknown>>(text: string, params?: Params): Promise<T | undefined> {
    return this.outer.getNow<T>(text, params);
  }

  async run(text: string, params?: Params): Promise<{ changes: number }> {
    return this.outer.runNow(text, params);
  }

  async tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const name = `s${this.depth + 1}`;
    const db = this.outer.db;
    db.exec(`SAVEPOINT ${name}`);
    try {
      const out = await fn(new SqliteTx(this.outer, this.depth + 1));
      db.exec(`RELEASE ${name}`);
      return out;
    } catch (err) {
      db.exec(`ROLLBACK TO ${name}`);
      db.exec(`RELEASE ${name}`);
      throw err;
    }
  }

  iterate<T = Record<string, unknown>>(text: string, params?: Params, chunk?: number): AsyncIterable<T[]> {
    return this.outer.iterate<T>(text, params, chunk);
  }

  async close(): Promise<void> {
    throw new Error("a transaction's connection is closed by its owner");
  }
}
