// Authenticates a stream in the HTTP upgrade handler, before any WebSocket
// exists: the path, the address's rate, the connection limit, then the host
// id and agent key. A refusal is an HTTP status written to the raw socket.

import type { IncomingMessage } from "node:http";
import type { HostStore } from "../store/hosts.js";
import type { Metrics } from "./metrics.js";
import type { RateLimiter } from "./rate-limit.js";

export type UpgradeDecision = { ok: true; hostId: string; lastSeq: number } | { ok: false; status: number; text: string; event: string; fields: Record<string, unknown> };

export async function authenticateUpgrade(
  req: IncomingMessage,
  deps: { hosts: HostStore; limiter: RateLimiter; metrics: Metrics; openStreams: number; maxConnections: number },
): Promise<UpgradeDecision> {
  const address = req.socket.remoteAddress ?? "";
  const refuse = (status: number, text: string, event: string, fields: Record<string, unknown> = {}): UpgradeDecision => ({ ok: false, status, text, event, fields });
  if ((req.url ?? "").split("?")[0] !== "/v1/stream") return refuse(404, "Not Found", "stream.bad_path", { url: (req.url ?? "").slice(0, 200) });
  if (!deps.limiter.take(address)) {
    deps.metrics.inc("rate_limited");
    return refuse(429, "Too Many Requests", "stream.rate_limited");
  }
  if (deps.openStreams >= deps.maxConnections) {
    deps.metrics.inc("capacity_refusals");
    return refuse(503, "Service Unavailable", "stream.at_capacity", { limit: deps.maxConnections });
  }
  const hostId = String(req.headers["x-oddwire-host"] ?? "");
  const key = /^Bearer (.+)$/.exec(String(req.headers["authorization"] ?? ""))?.[1] ?? "";
  const auth = hostId && key ? await deps.hosts.authenticate(hostId, key) : ({ ok: false, reason: "bad-key" } as const);
  if (!auth.ok) {
    if (auth.reason === "revoked") {
      deps.metrics.inc("revoked_refusals");
      return refuse(403, "Forbidden", "stream.revoked", { hostId });
    }
    deps.metrics.inc("auth_failures");
    return refuse(401, "Unauthorized", "stream.bad_key", { hostId: hostId.slice(0, 140), reason: auth.reason });
  }
  return { ok: true, hostId, lastSeq: auth.lastSeq };
}
