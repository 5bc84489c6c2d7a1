// Enrollment: the agent presents the fleet's enrollment secret once, over
// HTTP(S) POST /v1/enroll, and receives its own agent key. An agent that holds
// a key already (its stream was refused with 401) presents it as current_key,
// the proof that it is the host the collector knows; without that proof the
// collector answers 409 until an administrator allows the re-enrollment.

import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { oddwire } from "@oddwire/proto";
import { OddwireError, STRING_LIMITS, truncateUtf8 } from "@oddwire/shared";
import { httpBase } from "./collector-url.js";

export interface EnrollParams {
  /** The collector's base URL: ws://, wss://, http:// or https://. */
  collector: string;
  secret: string;
  hostId: string;
  hostname: string;
  os: string;
  agentVersion: string;
  ca?: Buffer | undefined;
  timeoutMs?: number;
  /** The key this agent holds now, if any. */
  currentKey?: string | undefined;
}

export function enroll(p: EnrollParams): Promise<string> {
  const url = new URL("/v1/enroll", httpBase(p.collector));
  // Within the wire limits, as batches are (the host id and secret are checked where they come from).
  const body = oddwire.v1.EnrollRequest.encode({
    hostId: p.hostId,
    hostname: truncateUtf8(p.hostname, STRING_LIMITS.hostname),
    os: truncateUtf8(p.os, STRING_LIMITS.os),
    agentVersion: truncateUtf8(p.agentVersion, STRING_LIMITS.agent_version),
    enrollSecret: p.secret,
    currentKey: p.currentKey ?? "",
  }).finish();
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/x-protobuf", "content-length": body.length },
        timeout: p.timeoutMs ?? 15_000,
        ...(p.ca && { ca: p.ca }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size <= 64 * 1024) chunks.push(c);
        });
        res.on("end", () => {
          const data = Buffer.concat(chunks);
          if (res.statusCode === 200) {
            try {
              const key = oddwire.v1.EnrollResponse.decode(data).agentKey;
              if (!key) throw new Error("empty agent key");
              return resolve(key);
            } catch (err) {
              return reject(new OddwireError("ODW_ERR_DECODE", `the collector's enrollment answer did not decode: ${(err as Error).message}`, { cause: err }));
            }
          }
          const text = data.toString("utf8", 0, Math.min(data.length, 300)).trim();
          if (res.statusCode === 409) {
            return reject(
              new OddwireError(
                "ODW_ERR_REENROLL",
                `the collector at ${url.origin} already knows host ${p.hostId} and this agent could not prove it is that host (${p.currentKey ? "its current key was not accepted" : "it holds no key"}); an administrator must run \`oddwire-collector allow-reenroll ${p.hostId}\` on the collector. The agent keeps retrying.`,
              ),
            );
          }
          const code =
            res.statusCode === 401
              ? "ODW_ERR_AUTH"
              : res.statusCode === 403
                ? "ODW_ERR_REVOKED"
                : res.statusCode === 429
                  ? "ODW_ERR_RATE_LIMIT"
                  : res.statusCode === 413
                    ? "ODW_ERR_FRAME_TOO_LARGE"
                    : "ODW_ERR_TRANSPORT";
          reject(new OddwireError(code, `enrollment at ${url.origin} refused (HTTP ${res.statusCode}): ${text}`));
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (err) => reject(new OddwireError("ODW_ERR_TRANSPORT", `cannot reach the collector at ${url.origin} to enroll: ${err.message}`, { cause: err })));
    req.end(body);
  });
}
