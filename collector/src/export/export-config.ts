// Export schedules, from the collector's config file ("exports": [...]),
// validated before the collector starts: unique names, valid cron
// expressions and time zones, known export kinds.

import cron from "node-cron";
import { nearest, OddwireError } from "@oddwire/shared";

export const EXPORT_KINDS = ["findings", "inventory", "agents", "personas"] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

export interface ExportSchedule {
  name: string;
  cron: string;
  what: ExportKind;
  dir: string;
  /** findings and personas: rows scoring at least this. */
  minScore: number;
  /** Only rows new since this schedule's last successful run. */
  onlyNew: boolean;
  timezone: string;
  /** Files of this schedule kept in dir; older ones are deleted. */
  keep: number;
}

const KEYS = ["name", "cron", "what", "dir", "minScore", "onlyNew", "timezone", "keep"];

export function parseExportSchedules(value: unknown, where: string): ExportSchedule[] {
  const fail = (msg: string): never => {
    throw new OddwireError("ODW_ERR_CONFIG", `${where}: ${msg}`);
  };
  if (!Array.isArray(value)) return fail("must be a list of schedules");
  const names = new Set<string>();
  return value.map((raw, i) => {
    const at = `exports[${i}]`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return fail(`${at} must be an object`);
    const o = raw as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!KEYS.includes(k)) {
        const near = nearest(k, KEYS);
        fail(`${at} has unknown setting "${k}"${near ? `; did you mean "${near}"?` : ""}`);
      }
    }
    const name = o["name"];
    if (typeof name !== "string" || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) fail(`${at}.name must be 1-63 lower-case letters, digits and dashes`);
    if (names.has(name as string)) fail(`${at}.name "${name}" is used twice`);
    names.add(name as string);
    if (typeof o["cron"] !== "string" || !cron.validate(o["cron"])) fail(`${at}.cron must be a node-cron expression such as "0 * * * *", got ${JSON.stringify(o["cron"])}`);
    if (!EXPORT_KINDS.includes(o["what"] as ExportKind)) fail(`${at}.what must be one of ${EXPORT_KINDS.join(", ")}, got ${JSON.stringify(o["what"])}`);
    if (typeof o["dir"] !== "string" || !o["dir"]) fail(`${at}.dir must name the directory to write to`);
    const minScore = o["minScore"] ?? 0;
    if (typeof minScore !== "number" || minScore < 0 || minScore > 100) fail(`${at}.minScore must be a number from 0 to 100`);
    const onlyNew = o["onlyNew"] ?? false;
    if (typeof onlyNew !== "boolean") fail(`${at}.onlyNew must be true or false`);
    const timezone = o["timezone"] ?? "UTC";
    try {
      new Intl.DateTimeFormat("en", { timeZone: timezone as string });
    } catch {
      fail(`${at}.timezone ${JSON.stringify(timezone)} is not a time zone (e.g. "UTC", "Europe/Paris")`);
    }
    const keep = o["keep"] ?? 30;
    if (!Number.isSafeInteger(keep) || (keep as number) < 1) fail(`${at}.keep must be a whole number, 1 or more`);
    return {
      name: name as string,
      cron: o["cron"] as string,
      what: o["what"] as ExportKind,
      dir: o["dir"] as string,
      minScore: minScore as number,
      onlyNew: onlyNew as boolean,
      timezone: timezone as string,
      keep: keep as number,
    };
  });
}
