// The one way the store talks to its database, whichever it is: statements
// with `?` (or `@name` with an object) parameters, answered asynchronously,
// and transactions that nest (an inner one is a savepoint). SQLite
// (better-sqlite3) and PostgreSQL (node-postgres) each implement it; the
// store's modules are written once against it, in SQL both accept:
// ON CONFLICT upserts, integers for booleans and epoch-ms times, greatest()
// and least() for the two-argument max and min, string_agg(x, ',') for
// grouping text, `FOR UPDATE` where a row must be locked (SQLite, one
// writer at a time, drops it), and no rowid.

export type Params = readonly unknown[] | Readonly<Record<string, unknown>>;

export type Dialect = "sqlite" | "postgres";

export interface Sql {
  readonly dialect: Dialect;
  all<T = Record<string, unknown>>(sql: string, params?: Params): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, params?: Params): Promise<T | undefined>;
  /** Rows changed, for INSERT, UPDATE and DELETE. */
  run(sql: string, params?: Params): Promise<{ changes: number }>;
  /** Runs `fn` in a transaction (a savepoint inside another); commits when it resolves, rolls back when it throws. */
  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  /**
   * The rows of a read, `chunk` at a time, without holding them all: on a
   * connection (or cursor) of its own, so writes carry on meanwhile.
   */
  iterate<T = Record<string, unknown>>(sql: string, params?: Params, chunk?: number): AsyncIterable<T[]>;
  close(): Promise<void>;
}

/** The first column of the first row, or undefined. */
export async function pluck<T>(sql: Sql, text: string, params?: Params): Promise<T | undefined> {
  const row = await sql.get<Record<string, unknown>>(text, params);
  return row === undefined ? undefined : (Object.values(row)[0] as T);
}
