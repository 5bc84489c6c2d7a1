// `oddwire-collector allow-reenroll HOSTID`: an administrator allows a known
// host id to enroll once more with the enrollment secret alone (a machine
// reinstalled or restored without its agent key), within a window. Recorded
// in the hosts table and in its audit trail.

import { OddwireError } from "@oddwire/shared";
import { parseDurationMs } from "./report/report-options.js";
import { existingDbPath } from "./serve-config.js";
import { openStore } from "./store/store.js";

export const DEFAULT_REENROLL_WINDOW = "24h";

export async function allowReenroll(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const hostId = positionals[0];
  if (!hostId) throw new OddwireError("ODW_ERR_USAGE", "allow-reenroll needs the HOSTID that may enroll again (see `oddwire-collector agents`)");
  const within = (values["within"] as string | undefined) ?? DEFAULT_REENROLL_WINDOW;
  const windowMs = parseDurationMs(within);
  if (windowMs === null || windowMs <= 0) throw new OddwireError("ODW_ERR_USAGE", `--within takes a duration such as 30m, 24h or 7d, not ${JSON.stringify(within)}`);
  const by = process.env["SUDO_USER"] || process.env["USER"] || "unknown";
  const now = Date.now();
  const store = await openStore(existingDbPath(values["db"]));
  try {
    const host = await store.hosts.find(hostId, now, 1);
    if (!host) throw new OddwireError("ODW_ERR_USAGE", `no enrolled host has id ${JSON.stringify(hostId)}; a new host enrolls with the secret alone`);
    if (host.revokedAt !== null) throw new OddwireError("ODW_ERR_REVOKED", `host ${hostId} is revoked; a revoked host cannot enroll again`);
    await store.hosts.allowReenroll(hostId, now + windowMs, by, now);
    process.stdout.write(`${hostId} may enroll again once until ${new Date(now + windowMs).toISOString().replace(/\.\d+Z$/, "Z")}\n`);
  } finally {
    await store.close();
  }
  return 0;
}
