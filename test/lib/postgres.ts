// A throwaway PostgreSQL for tests: initdb into a temporary directory, the
// server (Debian's postgresql-15) started as the postgres user on a free
// loopback port, a child of the test process (killed with it, and at
// teardown), its directory removed afterwards. Never a mock.

import { spawn, spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { kill, track } from "./child-processes.js";
import { freePort, waitFor } from "./fleet.js";
import { skipWithoutTools } from "./system-tools.js";

export const PG_BIN = "/usr/lib/postgresql/15/bin";

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface Postgres {
  port: number;
  /** A URL of the cluster's default database. */
  url: string;
  /** Creates a new empty database and gives its URL. */
  database(name: string): Promise<string>;
}

/** A skip reason when PostgreSQL 15 is not installed or the test cannot become its user (false when it can run); under CI, a failure. */
export function skipWithoutPostgres(): string | false {
  const missing = skipWithoutTools([`${PG_BIN}/postgres`, `${PG_BIN}/initdb`], "postgresql-15");
  if (missing) return missing;
  if (process.getuid?.() !== 0) {
    const reason = "needs root to run PostgreSQL as the postgres user";
    if (process.env["CI"] === "true") throw new Error(`CI: ${reason}`);
    return reason;
  }
  return false;
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  const uid = id("-u");
  const gid = id("-g");
  if (!Number.isInteger(uid) || uid <= 0) throw new Error("there is no postgres user (apt-get install postgresql-15)");
  return { uid, gid };
}

/** Starts a throwaway cluster; it is stopped and removed at teardown. `fsync` off unless asked: tests need no durability across power loss. */
export async function startPostgres(t: Teardown, opts: { fsync?: boolean } = {}): Promise<Postgres> {
  const user = postgresUser();
  const dir = mkdtempSync(join(tmpdir(), "oddwire-pg-"));
  chownSync(dir, user.uid, user.gid);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, "data");
  const init = spawnSync(`${PG_BIN}/initdb`, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"], { ...user, cwd: dir, encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const args = ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", `fsync=${opts.fsync ? "on" : "off"}`, "-c", "max_connections=200"];
  const child = track(spawn(`${PG_BIN}/postgres`, args, { ...user, cwd: dir, stdio: ["ignore", "ignore", "pipe"] }));
  let log = "";
  child.stderr!.on("data", (d) => (log = (log + d).slice(-4000)));
  // SIGINT is PostgreSQL's fast shutdown: sessions are cut, the server exits at once.
  t.teardown(async () => {
    if (child.exitCode === null) child.kill("SIGINT");
    await kill(child);
  });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitFor(
    `PostgreSQL on port ${port} (log: ${log})`,
    async () => {
      if (child.exitCode !== null) throw new Error(`postgres exited: ${log}`);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.end();
      return true;
    },
    60_000,
    100,
  );
  return {
    port,
    url,
    async database(name: string) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name.replace(/"/g, "")}"`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
  };
}
