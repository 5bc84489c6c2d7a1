// The agent key the collector issued at enrollment, kept in the state
// directory (owner-only). Only a missing file means "not enrolled yet": any
// other failure to read it is an error to fix, never a reason to enroll again,
// which would rotate the key and, with a collector that checks continuity,
// lock the host out until an administrator steps in.

import { join } from "node:path";
import { isOddwireError, OddwireError } from "@oddwire/shared";
import { readPlainFile, replaceFile } from "./safe-files.js";

export const KEY_FILE = "agent-key";

/** The key, or null when this host has never enrolled (no key file). */
export function readAgentKey(stateDir: string): string | null {
  const path = join(stateDir, KEY_FILE);
  let text: string;
  try {
    text = readPlainFile(path, { secret: true }).toString("utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    if (isOddwireError(err)) throw err;
    throw new OddwireError(
      "ODW_ERR_STATE_DIR",
      `cannot read the agent key ${path}: ${(err as Error).message}; fix it (a file, mode 0600, readable by the agent's user). Deleting it makes the agent enroll again as a new key, which the collector may refuse until an administrator allows it`,
      { cause: err },
    );
  }
  const key = text.trim();
  // An empty file is what a crash mid-write could leave before this file was written atomically.
  return key || null;
}

export function writeAgentKey(stateDir: string, key: string): void {
  const path = join(stateDir, KEY_FILE);
  try {
    replaceFile(path, `${key}\n`);
  } catch (err) {
    throw new OddwireError("ODW_ERR_STATE_DIR", `cannot write the agent key ${path}: ${(err as Error).message}`, { cause: err });
  }
}
