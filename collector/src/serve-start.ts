// Starting the collector for `serve` and `quickstart`, with the errors an
// operator can act on: a port in use, a port they may not bind, an address
// that is not this machine's. When start fails, nothing it created is left
// behind: a database file (and its WAL, its directory) that did not exist
// before is removed, so a retry on another port starts clean and a typo
// leaves no litter.

import { existsSync, rmdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { OddwireError, type Logger } from "@oddwire/shared";
import { startCollector, type RunningCollector } from "./collector.js";
import type { ServeConfig } from "./serve-config.js";
import { isPostgresUrl } from "./store/store.js";

export async function startServing(config: ServeConfig, log?: Logger): Promise<RunningCollector> {
  const undo = config.db === ":memory:" || isPostgresUrl(config.db) ? () => undefined : creationUndo(config.db);
  try {
    return await startCollector(config, log);
  } catch (err) {
    undo();
    throw explainStartError(err, config);
  }
}

function explainStartError(err: unknown, config: ServeConfig): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  const where = `port ${config.port} on ${config.host}`;
  if (code === "EADDRINUSE") return new OddwireError("ODW_ERR_CONFIG", `${where} is in use; choose another with --port`, { cause: err });
  if (code === "EACCES")
    return new OddwireError("ODW_ERR_CONFIG", `no permission to listen on ${where} (ports below 1024 need privileges); choose another with --port`, { cause: err });
  if (code === "EADDRNOTAVAIL") return new OddwireError("ODW_ERR_CONFIG", `${config.host} is not an address of this machine; choose another with --host`, { cause: err });
  return err;
}

/** What to remove if start fails: the database files and directories that do not exist yet. */
function creationUndo(db: string): () => void {
  const files = [db, `${db}-wal`, `${db}-shm`, `${db}-journal`].filter((f) => !existsSync(f));
  const dirs: string[] = [];
  for (let d = dirname(db); !existsSync(d) && dirname(d) !== d; d = dirname(d)) dirs.push(d);
  return () => {
    for (const f of files) rmSync(f, { force: true });
    // Deepest first; a directory that something else has filled meanwhile stays.
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        break;
      }
    }
  };
}
