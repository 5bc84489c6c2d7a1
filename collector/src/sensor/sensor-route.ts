// POST /v1/sensor: Zeek (TSV with its header, or JSON lines) and Suricata
// eve lines from shippers (Filebeat-style: Vector, Fluent Bit, Logstash's
// http output), behind a sensor token: a credential of its own, neither an
// agent key nor the reader token, revocable with `sensor-token revoke`.
// Bounded like every other input: the body (also after gzip), each line.
// Good lines are kept even when others are rejected; the reply says which.

import type { IncomingMessage, ServerResponse } from "node:http";
import { gunzipSync } from "node:zlib";
import type { Logger } from "@oddwire/shared";
import { readBody, reply } from "../ingest/http-reply.js";
import { RateLimiter } from "../ingest/rate-limit.js";
import type { Db } from "../store/open-db.js";
import { checkSensorToken, SensorStore } from "../store/sensor-evidence.js";
import { detectFormat, lineParser } from "./sensor-format.js";
import { MAX_ERRORS_SHOWN } from "./sensor-file.js";
import { isParseError, type SensorRecord } from "./sensor-record.js";

export const SENSOR_PATH = "/v1/sensor";

export class SensorRoute {
  private readonly store: SensorStore;
  private readonly limiter = new RateLimiter(50, 200);

  constructor(
    private readonly db: Db,
    private readonly limits: { maxBodyBytes: number; maxLineBytes: number },
    private readonly log: Logger,
  ) {
    this.store = new SensorStore(db);
  }

  /** True when the request was this route's (answered asynchronously). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname !== SENSOR_PATH) return false;
    void this.serve(req, res, url).catch((err) => {
      this.log.warn("sensor.http_failed", { error: (err as Error).message });
      if (!res.headersSent) reply(res, 500, "text/plain", "the sensor lines could not be stored\n");
    });
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const address = req.socket.remoteAddress ?? "";
    const json = (status: number, body: unknown) => reply(res, status, "application/json", `${JSON.stringify(body)}\n`);
    if (req.method !== "POST") return json(405, { error: "POST sensor log lines here" });
    if (!this.limiter.take(address)) return json(429, { error: "too many requests from this address; slow down" });
    const token = /^Bearer (.+)$/.exec(String(req.headers["authorization"] ?? ""))?.[1] ?? "";
    const who = token ? checkSensorToken(this.db, token, Date.now()) : ({ ok: false, reason: "unknown" } as const);
    if (!who.ok) {
      this.log.warn("sensor.bad_token", { address, reason: who.reason });
      req.resume();
      return who.reason === "revoked"
        ? json(403, { error: "this sensor token has been revoked; ask for a new one (oddwire-collector sensor-token add NAME)" })
        : json(401, { error: "a sensor token is needed: Authorization: Bearer <token from oddwire-collector sensor-token add NAME>" });
    }
    let body: Buffer;
    try {
      body = await readBody(req, this.limits.maxBodyBytes);
      if (/gzip/i.test(String(req.headers["content-encoding"] ?? ""))) body = gunzipSync(body, { maxOutputLength: this.limits.maxBodyBytes });
    } catch (err) {
      const tooLarge = (err as Error).message === "too large" || err instanceof RangeError || (err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";
      return tooLarge
        ? json(413, { error: `the body is larger than ${this.limits.maxBodyBytes} bytes (sensorMaxBodyBytes, after decompression); send smaller batches` })
        : json(400, { error: `the body could not be read: ${(err as Error).message}` });
    }
    const lines = body.toString("utf8").split("\n");
    const first = lines.find((l) => l.trim() !== "")?.replace(/\r$/, "");
    const format = first === undefined ? null : detectFormat(first);
    if (!format)
      return json(400, {
        error:
          "not Zeek or Suricata lines: a body starts with a Zeek TSV header (#separator / #fields), a Zeek JSON record (ts, uid, id.orig_h) or a Suricata eve event (event_type)",
      });
    const parser = lineParser(format, "", url.searchParams.get("log") ?? "");
    const records: SensorRecord[] = [];
    const errors: Array<{ line: number; error: string }> = [];
    let rejected = 0;
    let tooLong = 0;
    let count = 0;
    lines.forEach((raw, i) => {
      if (i === lines.length - 1 && raw === "") return;
      count++;
      if (Buffer.byteLength(raw) > this.limits.maxLineBytes) {
        tooLong++;
        return;
      }
      const p = parser.parse(raw.replace(/\r$/, ""));
      if (p === null) return;
      if (isParseError(p)) {
        rejected++;
        if (errors.length < MAX_ERRORS_SHOWN) errors.push({ line: i + 1, error: p.error });
      } else records.push(p);
    });
    this.store.commit(records, `http:${who.name}`, Date.now());
    if (rejected + tooLong > 0)
      this.log.warn("sensor.lines_rejected", { sensor: who.name, errors: rejected, tooLong, maxLineBytes: this.limits.maxLineBytes, first: errors.slice(0, 3) });
    json(200, { format, lines: count, kept: records.length, rejected, tooLong, errors });
  }
}
