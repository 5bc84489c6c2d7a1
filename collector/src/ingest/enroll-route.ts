// POST /v1/enroll: an agent presents the fleet's enrollment secret once and
// receives its own agent key. A host id already known must present its
// current key or have an administrator's approval (409 otherwise); then it
// gets a new key and its live stream (holding the old one) is closed.

import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { oddwire } from "@oddwire/proto";
import { isOddwireError, type Logger } from "@oddwire/shared";
import type { HostStore } from "../store/hosts.js";
import { CLOSE } from "./close-codes.js";
import { checkEnrollRequest, describeViolation } from "./frame-check.js";
import { readBody, reply } from "./http-reply.js";
import type { Metrics } from "./metrics.js";
import type { RateLimiter } from "./rate-limit.js";
import type { StreamRegistry } from "./stream-registry.js";

const { EnrollRequest, EnrollResponse } = oddwire.v1;

export const ENROLL_MAX_BYTES = 64 * 1024;

export class EnrollRoute {
  private readonly secretHash: Buffer;

  constructor(
    enrollSecret: string,
    private readonly hosts: HostStore,
    private readonly streams: StreamRegistry,
    private readonly limiter: RateLimiter,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.secretHash = createHash("sha256").update(enrollSecret).digest();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const address = req.socket.remoteAddress ?? "";
    if (!this.limiter.take(address)) {
      this.metrics.inc("rate_limited");
      return reply(res, 429, "text/plain", "too many requests\n");
    }
    let body: Buffer;
    try {
      body = await readBody(req, ENROLL_MAX_BYTES);
    } catch {
      this.metrics.inc("frames_too_large");
      return reply(res, 413, "text/plain", `an enrollment request is at most ${ENROLL_MAX_BYTES} bytes\n`);
    }
    const violation = checkEnrollRequest(body);
    if (violation?.kind === "malformed") {
      this.metrics.inc("decode_errors");
      this.log.warn("enroll.decode_error", { address, error: violation.where });
      return reply(res, 400, "text/plain", "the body is not an EnrollRequest\n");
    }
    if (violation) {
      this.metrics.inc("frames_over_limit");
      this.log.warn("enroll.over_limit", { address, problem: describeViolation(violation) });
      return reply(res, 400, "text/plain", `the EnrollRequest is refused: ${describeViolation(violation)}\n`);
    }
    let msg: oddwire.v1.EnrollRequest;
    try {
      msg = EnrollRequest.decode(body);
    } catch (err) {
      this.metrics.inc("decode_errors");
      this.log.warn("enroll.decode_error", { address, error: (err as Error).message });
      return reply(res, 400, "text/plain", "the body is not an EnrollRequest\n");
    }
    const presented = createHash("sha256").update(msg.enrollSecret).digest();
    if (!timingSafeEqual(presented, this.secretHash)) {
      this.metrics.inc("auth_failures");
      this.log.warn("enroll.bad_secret", { address, hostId: msg.hostId });
      return reply(res, 401, "text/plain", "wrong enrollment secret\n");
    }
    try {
      const { agentKey, proof } = await this.hosts.enroll(
        { hostId: msg.hostId, hostname: msg.hostname, os: msg.os, agentVersion: msg.agentVersion, currentKey: msg.currentKey },
        Date.now(),
      );
      this.metrics.inc("enrollments");
      if (proof) this.metrics.inc("reenrollments");
      this.log.info(proof ? "enroll.reenrolled" : "enroll.ok", { address, hostId: msg.hostId, hostname: msg.hostname, ...(proof && { proof }) });
      // The old key stops working now, not at the next connect.
      const live = this.streams.get(msg.hostId);
      if (live) this.streams.close(live, CLOSE.SUPERSEDED, "the host enrolled again", "stream.reenrolled");
      reply(res, 200, "application/x-protobuf", Buffer.from(EnrollResponse.encode({ hostId: msg.hostId, agentKey }).finish()));
    } catch (err) {
      if (isOddwireError(err, "ODW_ERR_REVOKED")) {
        this.metrics.inc("revoked_refusals");
        this.log.warn("enroll.revoked", { address, hostId: msg.hostId });
        return reply(res, 403, "text/plain", `${err.message}\n`);
      }
      if (isOddwireError(err, "ODW_ERR_REENROLL")) {
        this.metrics.inc("reenroll_refusals");
        this.log.warn("enroll.reenroll_refused", { address, hostId: msg.hostId, presentedKey: msg.currentKey !== "" });
        return reply(res, 409, "text/plain", `${err.message}\n`);
      }
      if (isOddwireError(err, "ODW_ERR_PROTOCOL")) return reply(res, 400, "text/plain", `${err.message}\n`);
      this.metrics.inc("db_errors");
      this.log.error("enroll.db_error", { hostId: msg.hostId, error: (err as Error).message });
      reply(res, 503, "text/plain", "the collector could not record the enrollment; try again\n");
    }
  }
}
