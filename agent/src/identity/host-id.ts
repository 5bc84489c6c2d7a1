// The host's stable identity. Derived once from the OS's machine id where
// there is one (hashed with an oddwire-specific label, so the raw machine id
// never leaves the host), else random; then kept in the state directory so it
// survives restarts and upgrades.

import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HOST_ID_PATTERN, isOddwireError, OddwireError } from "@oddwire/shared";
import { readPlainFile, replaceFile } from "./safe-files.js";

const FILE = "host-id";

export function loadOrCreateHostId(stateDir: string): string {
  const path = join(stateDir, FILE);
  try {
    const existing = readPlainFile(path).toString("utf8").trim();
    if (HOST_ID_PATTERN.test(existing)) return existing;
  } catch (err) {
    if (isOddwireError(err)) throw err;
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new OddwireError("ODW_ERR_STATE_DIR", `cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  const id = deriveHostId();
  try {
    replaceFile(path, `${id}\n`);
  } catch (err) {
    throw new OddwireError("ODW_ERR_STATE_DIR", `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
  return id;
}

function deriveHostId(): string {
  for (const source of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
    try {
      const machineId = readFileSync(source, "utf8").trim();
      if (/^[0-9a-f]{32}$/.test(machineId)) {
        const h = createHash("sha256").update(`oddwire-host-id:${machineId}`).digest("hex");
        return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
      }
    } catch {
      // try the next source
    }
  }
  return randomUUID();
}
