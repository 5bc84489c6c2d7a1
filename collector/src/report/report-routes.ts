// Serves the report over HTTP behind a reader token: GET /report (HTML page),
// /report.json and /report.csv, with the report's filters as query
// parameters. The token comes as `Authorization: Bearer T`, or once as
// ?token=T, which sets an HttpOnly, SameSite=Strict cookie and redirects to
// the same URL without it (so the token does not linger in history or logs).

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isOddwireError, type KnowledgeBase, type Logger } from "@oddwire/shared";
import type { Db } from "../store/open-db.js";
import { buildReport } from "./build-report.js";
import { renderReportCsv } from "./report-csv.js";
import { renderReportHtml } from "./report-html.js";
import { reportOptionsFrom } from "./report-options.js";

const COOKIE = "oddwire_reader";

export class ReportRoutes {
  private readonly tokenHash: Buffer;

  constructor(
    private readonly db: Db,
    readerToken: string,
    private readonly log: Logger,
    private readonly secure: boolean,
    private readonly kb?: KnowledgeBase,
  ) {
    this.tokenHash = digest(readerToken);
  }

  /** Handles the request if it is one of the report's; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? "/", "http://collector");
    const kind = { "/report": "html", "/report.json": "json", "/report.csv": "csv" }[url.pathname];
    if (!kind || req.method !== "GET") return false;
    const fromQuery = url.searchParams.get("token");
    if (fromQuery !== null) {
      if (!this.valid(fromQuery)) {
        this.deny(req, res);
        return true;
      }
      url.searchParams.delete("token");
      res.writeHead(303, {
        location: url.pathname + (url.search || ""),
        "set-cookie": `${COOKIE}=${encodeURIComponent(fromQuery)}; HttpOnly; SameSite=Strict; Path=/${this.secure ? "; Secure" : ""}`,
        "cache-control": "no-store",
      });
      res.end();
      return true;
    }
    const presented = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? cookie(req.headers.cookie ?? "", COOKIE);
    if (!presented || !this.valid(presented)) {
      this.deny(req, res);
      return true;
    }

    try {
      const params = Object.fromEntries(url.searchParams);
      const report = buildReport(this.db, { ...reportOptionsFrom(params, Date.now()), ...(this.kb && { kb: this.kb }) });
      const common = { "cache-control": "no-store", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" };
      if (kind === "json") {
        res.writeHead(200, { ...common, "content-type": "application/json; charset=utf-8" });
        res.end(JSON.stringify(report));
      } else if (kind === "csv") {
        res.writeHead(200, { ...common, "content-type": "text/csv; charset=utf-8", "content-disposition": 'attachment; filename="oddwire-report.csv"' });
        res.end(renderReportCsv(report));
      } else {
        const nonce = randomBytes(16).toString("base64");
        res.writeHead(200, {
          ...common,
          "content-type": "text/html; charset=utf-8",
          "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
          "x-frame-options": "DENY",
        });
        res.end(renderReportHtml(report, { nonce }));
      }
    } catch (err) {
      const status = isOddwireError(err, "ODW_ERR_USAGE") ? 400 : 500;
      if (status === 500) this.log.error("report.failed", { error: (err as Error).message });
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
      res.end(status === 400 ? `${(err as Error).message}\n` : "the report could not be built; see the collector's log\n");
    }
    return true;
  }

  private valid(token: string): boolean {
    return timingSafeEqual(digest(token), this.tokenHash);
  }

  private deny(req: IncomingMessage, res: ServerResponse): void {
    this.log.warn("report.denied", { address: req.socket.remoteAddress });
    res.writeHead(401, { "content-type": "text/plain; charset=utf-8", "www-authenticate": 'Bearer realm="oddwire report"', "cache-control": "no-store" });
    res.end("a reader token is needed: open /report?token=... or send Authorization: Bearer ...\n");
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

function cookie(header: string, name: string): string | undefined {
  for (const part of header.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k !== name) continue;
    try {
      return decodeURIComponent(v.join("="));
    } catch {
      return undefined; // malformed: treated as no token
    }
  }
  return undefined;
}
