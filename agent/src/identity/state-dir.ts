// The agent's state directory: its host id, its hash cache and, later, its
// spool. Chosen in this order: --state-dir, $ODDWIRE_STATE_DIR, then the
// platform's place for a service's state (root) or the user's own.

import { mkdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { OddwireError } from "@oddwire/shared";
import { checkPrivateDirectory } from "./safe-files.js";

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env["ODDWIRE_STATE_DIR"]) return env["ODDWIRE_STATE_DIR"];
  if (process.platform === "win32") return join(env["ProgramData"] ?? "C:\\ProgramData", "oddwire-agent");
  if (process.getuid?.() === 0) return process.platform === "darwin" ? "/Library/Application Support/oddwire-agent" : "/var/lib/oddwire-agent";
  return join(env["XDG_STATE_HOME"] ?? join(homedir(), ".local", "state"), "oddwire-agent");
}

/**
 * Creates the directory (owner-only) if needed and returns it; refuses one
 * that another user could write into (ODW_ERR_UNSAFE_PATH).
 */
export function ensureStateDir(dir: string, what = "the state directory"): string {
  try {
    makeDirectory(dir);
  } catch (err) {
    throw new OddwireError("ODW_ERR_STATE_DIR", `cannot create ${what} ${dir}: ${(err as Error).message}; choose another with --state-dir or ODDWIRE_STATE_DIR`, { cause: err });
  }
  checkPrivateDirectory(dir, what);
  return dir;
}

/**
 * mkdir -p without Node's recursive mode, which loops forever where mkdir
 * answers ENOENT under a parent that exists (as it does under /proc).
 */
function makeDirectory(dir: string, depth = 0): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && statSync(dir).isDirectory()) return;
    const parent = dirname(dir);
    if (code !== "ENOENT" || parent === dir || depth > 64) throw err;
    makeDirectory(parent, depth + 1);
    mkdirSync(dir, { mode: 0o700 });
  }
}
