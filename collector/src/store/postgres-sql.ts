// The store's SQL over PostgreSQL (node-postgres). The store writes `?` and
// `@name` parameters and a few SQLite-isms both databases understand once
// spelled right; toPostgres() turns them into PostgreSQL's: `$n`
// parameters, column names PostgreSQL reserves ("binary", "user", "full")
// quoted (and "offset" where it is a column), SQLite's INDEXED BY hints dropped. Translations are cached by text.
//
// 64-bit integers (epoch-ms times, counts) come back as numbers, not
// strings: every value the store keeps fits in 2^53.

import pg from "pg";
import type { Dialect, Params, Sql } from "./sql.js";

const RESERVED = /(?<![".\w@])\b(binary|user|full)\b(?!")/gi;

interface Translated {
  text: string;
  /** For @name parameters: the names in $n order. */
  names: string[] | null;
}

const cache = new Map<string, Translated>();

/** SQLite-flavoured store SQL in PostgreSQL's spelling. */
export function toPostgres(text: string): Translated {
  const hit = cache.get(text);
  if (hit) return hit;
  let n = 0;
  const names: string[] = [];
  const index = new Map<string, number>();
  const out = text
    .replace(/\s+INDEXED BY \w+/gi, "")
    .replace(RESERVED, (_m, w: string) => `"${w.toLowerCase()}"`)
    // sensor_files.offset: a column in a list or an assignment, not the keyword after LIMIT.
    .replace(/(?<=[(,]\s*)offset(?=\s*[,)=])/gi, '"offset"')
    .replace(/\?|@(\w+)/g, (_m, name: string | undefined) => {
      if (name === undefined) return `$${++n}`;
      let i = index.get(name);
      if (i === undefined) {
        names.push(name);
        index.set(name, (i = names.length));
      }
      return `$${i}`;
    });
  const t = { text: out, names: names.length ? names : null };
  cache.set(text, t);
  return t;
}

function values(t: Translated, params: Params | undefined): unknown[] {
  if (params === undefined) return [];
  if (Array.isArray(params)) return params as unknown[];
  const named = params as Record<string, unknown>;
  return (t.names ?? []).map((k) => {
    if (!(k in named)) throw new Error(`missing the named parameter @${k}`);
    return named[k];
  });
}

const toNumber = (v: string) => (v === null ? null : Number(v));
const TYPES = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    // int8 (COUNT, SUM of integers, BIGINT columns) and numeric: numbers.
    if (oid === 20 || oid === 1700) return toNumber;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

type Queryable = pg.Pool | pg.PoolClient;

async function query<T>(on: Queryable, text: string, params: Params | undefined): Promise<pg.QueryResult & { rows: T[] }> {
  const t = toPostgres(text);
  const v = values(t, params);
  // Without parameters, the simple protocol: a migration is several statements in one text.
  return (await (v.length === 0 ? on.query(t.text) : on.query({ text: t.text, values: v }))) as pg.QueryResult & { rows: T[] };
}

export class PostgresSql implements Sql {
  readonly dialect: Dialect = "postgres";
  readonly pool: pg.Pool;

  constructor(url: string, opts: { max?: number } = {}) {
    this.pool = new pg.Pool({ connectionString: url, max: opts.max ?? 8, types: TYPES, application_name: "oddwire-collector" });
    // An idle client that loses its server (a restart) must not take the collector down; the next query reconnects.
    this.pool.on("error", () => undefined);
  }

  async all<T = Record<string, unknown>>(text: string, params?: Params): Promise<T[]> {
    return (await query<T>(this.pool, text, params)).rows;
  }

  async get<T = Record<string, unknown>>(text: string, params?: Params): Promise<T | undefined> {
    return (await query<T>(this.pool, text, params)).rows[0];
  }

  async run(text: string, params?: Params): Promise<{ changes: number }> {
    return { changes: (await query(this.pool, text, params)).rowCount ?? 0 };
  }

  async tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query("BEGIN");
      try {
        const out = await fn(new PostgresTx(client, 0, this));
        await client.query("COMMIT");
        return out;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => (broken = true));
        throw err;
      }
    } finally {
      client.release(broken);
    }
  }

  async *iterate<T = Record<string, unknown>>(text: string, params?: Params, chunk = 1000): AsyncIterable<T[]> {
    const client = await this.pool.connect();
    const t = toPostgres(text);
    let broken = false;
    let done = false;
    try {
      await client.query("BEGIN READ ONLY");
      await client.query({ text: `DECLARE oddwire_rows NO SCROLL CURSOR FOR ${t.text}`, values: values(t, params) });
      for (;;) {
        const { rows } = await client.query(`FETCH FORWARD ${Math.max(1, Math.floor(chunk))} FROM oddwire_rows`);
        if (rows.length === 0) break;
        yield rows as T[];
      }
      await client.query("COMMIT");
      done = true;
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      // Abandoned part-way (the consumer stopped early): end the transaction before the client goes back.
      if (!broken && !done) await client.query("ROLLBACK").catch(() => (broken = true));
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

class PostgresTx implements Sql {
  readonly dialect: Dialect = "postgres";
  constructor(
    private readonly client: pg.PoolClient,
    private readonly depth: number,
    private readonly outer: PostgresSql,
  ) {}

  async all<T = Record<string, unknown>>(text: string, params?: Params): Promise<T[]> {
    return (await query<T>(this.client, text, params)).rows;
  }

  async get<T = Record<string, unknown>>(text: string, params?: Params): Promise<T | undefined> {
    return (await query<T>(this.client, text, params)).rows[0];
  }

  async run(text: string, params?: Params): Promise<{ changes: number }> {
    return { changes: (await query(this.client, text, params)).rowCount ?? 0 };
  }

  async tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const name = `s${this.depth + 1}`;
    await this.client.query(`SAVEPOINT ${name}`);
    try {
      const out = await fn(new PostgresTx(this.client, this.depth + 1, this.outer));
      await this.client.query(`RELEASE SAVEPOINT ${name}`);
      return out;
    } catch (err) {
      await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`);
      await this.client.query(`RELEASE SAVEPOINT ${name}`);
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
