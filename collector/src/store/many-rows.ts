// Many rows in few statements: a networked database pays a round trip per
// statement, so ingest writes a batch's processes, sockets and connections
// as multi-row INSERTs and looks keys up with IN lists. Pieces come in a few
// fixed sizes so that each database prepares (and caches) a handful of
// statement texts, not one per row count.

import type { Sql } from "./sql.js";

const SIZES = [256, 32, 4, 1];

/** `items` cut into pieces of the fixed sizes, largest first, each piece at most `maxParams / width` long. */
export function* pieces<T>(items: readonly T[], width: number, maxParams = 16_000): Generator<T[]> {
  const sizes = SIZES.filter((n) => n * width <= maxParams);
  if (sizes.length === 0) sizes.push(1);
  let i = 0;
  while (i < items.length) {
    const left = items.length - i;
    const n = sizes.find((s) => s <= left) ?? 1;
    yield items.slice(i, i + n) as T[];
    i += n;
  }
}

/** INSERT `head` VALUES (...), (...) `tail` for every row (each row `width` values). */
export async function insertMany(sql: Sql, head: string, width: number, rows: readonly unknown[][], tail = ""): Promise<void> {
  const tuple = `(${new Array(width).fill("?").join(", ")})`;
  if (sql.dialect === "sqlite") {
    // In process, a row per statement costs no round trip, and SQLite runs one prepared statement faster than a long one.
    const one = `${head} VALUES ${tuple} ${tail}`;
    for (const row of rows) await sql.run(one, row);
    return;
  }
  for (const piece of pieces(rows, width)) {
    await sql.run(`${head} VALUES ${piece.map(() => tuple).join(", ")} ${tail}`, piece.flat());
  }
}

/** The rows of `select ... IN (...)` over every key, `prefix` params first. */
export async function selectIn<T>(sql: Sql, before: string, after: string, prefix: readonly unknown[], keys: readonly unknown[]): Promise<T[]> {
  const out: T[] = [];
  for (const piece of pieces(keys, 1)) {
    out.push(...(await sql.all<T>(`${before} IN (${piece.map(() => "?").join(", ")})${after}`, [...prefix, ...piece])));
  }
  return out;
}
