// POST /v1/personas: persona reports from a staff reporting form or a
// monitoring service. Its own credential: `Authorization: Bearer T` with an
// intake token made by `persona token-add` (stored hashed, one per sender,
// revoked at once by `persona token-revoke`: the table is read on every
// request). Not the agents' keys, not the reader token. The body is JSON,
// one persona object or {"personas": [...]}, bounded in bytes and entries,
// validated exactly as `persona add` validates (all or nothing). Answers
// are JSON: {"accepted": [{id, merged}]} or {"error": {code, message, field, index}}.

import type { IncomingMessage, ServerResponse } from "node:http";
import { isOddwireError, type Logger } from "@oddwire/shared";
import { readBody } from "../ingest/http-reply.js";
import type { Db } from "../store/open-db.js";
import { PersonaStore, tokenHash } from "../store/personas.js";
import { parsePersonaInput, PersonaInputError, type PersonaInput } from "./persona-input.js";

export const INTAKE_PATH = "/v1/personas";
/** Bytes of one request body at most. */
export const MAX_INTAKE_BYTES = 256 * 1024;
/** Personas in one request at most. */
export const MAX_INTAKE_PERSONAS = 100;

export class PersonaIntakeRoute {
  private readonly store: PersonaStore;

  constructor(
    db: Db,
    private readonly log: Logger,
  ) {
    this.store = new PersonaStore(db);
  }

  /** Handles the request if it is for the intake path; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== INTAKE_PATH) return false;
    void this.serve(req, res).catch((err: unknown) => {
      this.log.error("persona.intake_failed", { error: (err as Error).message });
      if (!res.headersSent) answer(res, 500, { error: { code: "ODW_ERR_DB", message: "the report could not be stored; see the collector's log" } });
    });
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const address = req.socket.remoteAddress;
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return answer(res, 405, { error: { code: "ODW_ERR_USAGE", message: `${INTAKE_PATH} takes POST with a JSON body` } });
    }
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    const sender = token ? this.store.tokenName(tokenHash(token)) : null;
    if (!sender) {
      req.resume();
      this.log.warn("persona.intake_denied", { address, reason: token ? "unknown or revoked token" : "no token" });
      res.setHeader("www-authenticate", 'Bearer realm="oddwire persona intake"');
      return answer(res, 401, {
        error: { code: "ODW_ERR_AUTH", message: "an intake token is needed: Authorization: Bearer <token> (make one with oddwire-collector persona token-add)" },
      });
    }
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") {
      req.resume();
      return answer(res, 415, { error: { code: "ODW_ERR_PERSONA", message: `send the report as application/json, not ${JSON.stringify(type.slice(0, 80) || "(none)")}` } });
    }
    let body: Buffer;
    try {
      body = await readBody(req, MAX_INTAKE_BYTES);
    } catch {
      return this.reject(res, 413, sender, address, { code: "ODW_ERR_PERSONA", message: `the body is over ${MAX_INTAKE_BYTES} bytes; send fewer personas per request` });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch (err) {
      return this.reject(res, 400, sender, address, { code: "ODW_ERR_PERSONA", message: `the body is not JSON: ${(err as Error).message.slice(0, 200)}` });
    }
    const batch = isBatch(parsed) ? parsed.personas : [parsed];
    if (!Array.isArray(batch) || batch.length === 0 || batch.length > MAX_INTAKE_PERSONAS)
      return this.reject(res, 400, sender, address, { code: "ODW_ERR_PERSONA", message: `"personas" must be a list of 1 to ${MAX_INTAKE_PERSONAS} persona objects` });
    const now = Date.now();
    const inputs: PersonaInput[] = [];
    for (const [index, raw] of batch.entries()) {
      try {
        inputs.push(parsePersonaInput(raw, now, batch.length > 1 ? `personas[${index}]` : "persona"));
      } catch (err) {
        if (!isOddwireError(err)) throw err;
        return this.reject(res, 400, sender, address, {
          code: err.code,
          message: err.message,
          ...(err instanceof PersonaInputError && err.field && { field: err.field }),
          ...(batch.length > 1 && { index }),
        });
      }
    }
    const accepted = inputs.map((input) => this.store.add({ ...input, reportedBy: input.reportedBy || sender }, { source: `http:${sender}`, nowMs: now }));
    this.log.info("persona.intake", { sender, address, personas: accepted.length, merged: accepted.filter((a) => a.merged).length });
    answer(res, 200, { accepted });
  }

  private reject(res: ServerResponse, status: number, sender: string, address: string | undefined, error: Record<string, unknown>): void {
    this.log.warn("persona.intake_rejected", { sender, address, status, error: String(error["message"]).slice(0, 300) });
    answer(res, status, { error });
  }
}

function isBatch(v: unknown): v is { personas: unknown } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && "personas" in v;
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(text);
}
