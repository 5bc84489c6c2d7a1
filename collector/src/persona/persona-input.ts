// One persona report, validated the same way whichever door it came in by
// (`persona add`, the intake endpoint, a CSV import). Every field comes from
// a stranger: each has a bound, dates must be dates, domains must be domains
// (stored in their ASCII form, so "bücher.example" and
// "xn--bcher-kva.example" are one), URLs must be http(s). Unknown keys are
// refused with the nearest known one, as config keys are.

import { domainToASCII } from "node:url";
import { nearest, OddwireError, terminalSafe } from "@oddwire/shared";

export const PERSONA_LIMITS = {
  platform: 64,
  handle: 256,
  text: 256,
  url: 2048,
  notes: 4096,
  domain: 253,
  domains: 50,
  urls: 50,
  requestedStaff: 500,
  requests: 1_000_000,
} as const;

export interface PersonaInput {
  platform: string;
  handle: string;
  profileUrl: string;
  displayName: string;
  claimedEmployer: string;
  claimedTitle: string;
  previousName: string;
  previousEmployer: string;
  /** When the account was created (ms), if known. */
  createdMs: number | null;
  /** When its name or employer last changed (ms), if known. */
  changedMs: number | null;
  /** When it last messaged or sent a connection request to staff (ms), if known. */
  contactedMs: number | null;
  /** Connection requests to staff, if known. */
  requests: number | null;
  /** To whom (names or handles of staff). */
  requestedStaff: string[];
  /** ASCII (punycode) form, lower case. */
  domains: string[];
  urls: string[];
  reportedBy: string;
  notes: string;
}

/** The keys of a persona report in JSON (the intake endpoint) and, in snake_case, in CSV. */
export const PERSONA_KEYS = [
  "platform",
  "handle",
  "profileUrl",
  "displayName",
  "claimedEmployer",
  "claimedTitle",
  "previousName",
  "previousEmployer",
  "created",
  "changed",
  "contacted",
  "requests",
  "requestedStaff",
  "domains",
  "urls",
  "reportedBy",
  "notes",
] as const;

/** A field of a persona report was wrong: `field` names it (the JSON key). */
export class PersonaInputError extends OddwireError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super("ODW_ERR_PERSONA", message);
  }
}

/** The platform and handle as a persona is known by: "LinkedIn", "@Jane.Doe" and "linkedin", "jane.doe" are one persona. */
export function personaKey(platform: string, handle: string): { platformKey: string; handleKey: string } {
  return { platformKey: platform.trim().toLowerCase(), handleKey: handle.trim().replace(/^@+/, "").toLowerCase() };
}

/**
 * Validates a raw report (JSON object; CSV rows and CLI flags are turned
 * into one first). `nowMs` bounds dates: none may lie in the future.
 */
export function parsePersonaInput(raw: unknown, nowMs: number, where = "persona"): PersonaInput {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new PersonaInputError("", `${where} must be an object of fields (platform, handle, ...)`);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(PERSONA_KEYS as readonly string[]).includes(k)) {
      const near = nearest(k, PERSONA_KEYS);
      throw new PersonaInputError(k, `${where} has unknown field ${quote(k)}${near ? `; did you mean "${near}"?` : ""}`);
    }
  }
  const str = (key: string, max: number, required = false): string => {
    const v = o[key];
    if (v === undefined || v === null) {
      if (required) throw new PersonaInputError(key, `${where} needs ${key}`);
      return "";
    }
    if (typeof v !== "string") throw new PersonaInputError(key, `${where}.${key} must be text`);
    const s = v.trim();
    if (required && s === "") throw new PersonaInputError(key, `${where} needs ${key} (it is empty)`);
    if (s.length > max) throw new PersonaInputError(key, `${where}.${key} is ${s.length} characters long; at most ${max}`);
    return s;
  };
  const list = (key: string, maxItems: number, maxLen: number): string[] => {
    const v = o[key];
    if (v === undefined || v === null) return [];
    const items = typeof v === "string" ? splitList(v) : Array.isArray(v) ? v : null;
    if (items === null || items.some((x) => typeof x !== "string")) throw new PersonaInputError(key, `${where}.${key} must be a list of text`);
    const out = [...new Set((items as string[]).map((x) => x.trim()).filter((x) => x !== ""))];
    if (out.length > maxItems) throw new PersonaInputError(key, `${where}.${key} has ${out.length} entries; at most ${maxItems}`);
    for (const x of out) if (x.length > maxLen) throw new PersonaInputError(key, `${where}.${key} has an entry ${x.length} characters long; at most ${maxLen}`);
    return out;
  };
  const date = (key: string): number | null => {
    const s = str(key, 64);
    if (s === "") return null;
    const ms = parseDate(s);
    if (ms === null) throw new PersonaInputError(key, `${where}.${key} must be a date (2025-03-01 or an ISO time), not ${quote(s)}`);
    if (ms > nowMs + 86_400_000) throw new PersonaInputError(key, `${where}.${key} ${s} is in the future`);
    return ms;
  };
  const platform = str("platform", PERSONA_LIMITS.platform, true);
  const handle = str("handle", PERSONA_LIMITS.handle, true);
  if (personaKey(platform, handle).handleKey === "") throw new PersonaInputError("handle", `${where}.handle must name the account, not only "@"`);
  const profileUrl = str("profileUrl", PERSONA_LIMITS.url);
  if (profileUrl !== "") checkUrl(profileUrl, "profileUrl", where);
  let requests: number | null = null;
  const rq = o["requests"];
  if (rq !== undefined && rq !== null && rq !== "") {
    const n = typeof rq === "string" && /^\d+$/.test(rq.trim()) ? Number(rq.trim()) : rq;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0 || n > PERSONA_LIMITS.requests)
      throw new PersonaInputError("requests", `${where}.requests must be a whole number from 0 to ${PERSONA_LIMITS.requests}`);
    requests = n;
  }
  const urls = list("urls", PERSONA_LIMITS.urls, PERSONA_LIMITS.url);
  for (const u of urls) checkUrl(u, "urls", where);
  const domains = list("domains", PERSONA_LIMITS.domains, PERSONA_LIMITS.domain).map((d) => {
    const ascii = normaliseDomain(d);
    if (ascii === null) throw new PersonaInputError("domains", `${where}.domains: ${quote(d)} is not a domain name (such as careers-example.com)`);
    return ascii;
  });
  return {
    platform,
    handle,
    profileUrl,
    displayName: str("displayName", PERSONA_LIMITS.text),
    claimedEmployer: str("claimedEmployer", PERSONA_LIMITS.text),
    claimedTitle: str("claimedTitle", PERSONA_LIMITS.text),
    previousName: str("previousName", PERSONA_LIMITS.text),
    previousEmployer: str("previousEmployer", PERSONA_LIMITS.text),
    createdMs: date("created"),
    changedMs: date("changed"),
    contactedMs: date("contacted"),
    requests,
    requestedStaff: list("requestedStaff", PERSONA_LIMITS.requestedStaff, PERSONA_LIMITS.text),
    domains: [...new Set(domains)],
    urls,
    reportedBy: str("reportedBy", PERSONA_LIMITS.text),
    notes: str("notes", PERSONA_LIMITS.notes),
  };
}

/** A list given as one string (a CSV cell, a form field): split on ";", "|" or new lines. */
export function splitList(s: string): string[] {
  return s.split(/[;|\n]/);
}

/** "2025-03-01", "2025-03-01T10:00:00Z" → ms; anything else → null. */
export function parseDate(s: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) return null;
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s.replace(" ", "T"));
  return Number.isFinite(ms) ? ms : null;
}

/**
 * A domain in its ASCII form, lower case, without a leading "*." or a
 * trailing dot; a URL given where a domain was expected gives its host.
 * null when it is not a name with at least two labels.
 */
export function normaliseDomain(input: string): string | null {
  let s = input.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    try {
      s = new URL(s).hostname;
    } catch {
      return null;
    }
  }
  s = s.replace(/^\*\./, "").replace(/\.$/, "");
  if (s === "" || s.length > PERSONA_LIMITS.domain || /[\s/\\@:]/.test(s)) return null;
  const ascii = domainToASCII(s).toLowerCase();
  if (ascii === "" || ascii.length > PERSONA_LIMITS.domain) return null;
  const labels = ascii.split(".");
  if (labels.length < 2 || !labels.every((l) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l))) return null;
  if (labels.every((l) => /^\d+$/.test(l))) return null; // an IPv4 address is not a domain
  return ascii;
}

/** The host a URL points at, normalised as a domain; null when it has none. */
export function urlHost(url: string): string | null {
  try {
    return normaliseDomain(new URL(url).hostname);
  } catch {
    return null;
  }
}

function checkUrl(u: string, key: string, where: string): void {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new PersonaInputError(key, `${where}.${key}: ${quote(u)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new PersonaInputError(key, `${where}.${key}: only http and https URLs are taken, not ${quote(url.protocol)}`);
}

/** A stranger's string inside a message: bounded, quoted, safe on a terminal. */
function quote(s: string): string {
  return terminalSafe(JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s));
}
