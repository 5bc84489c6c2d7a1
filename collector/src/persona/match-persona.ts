// The link from a persona to the fleet: which hosts reached, or named, the
// domains the persona linked to. Pure: it takes observations (a destination
// name a host reached, a command line a host ran) and the persona's domains
// and URLs. A domain matches itself and its subdomains, case-insensitively,
// in ASCII (punycode) and Unicode form alike; a URL matches by its host.

import { domainToUnicode } from "node:url";
import { urlHost } from "./persona-input.js";

export type ObservationSource = "destination-name" | "command-line";

export interface FleetObservation {
  hostId: string;
  hostname: string;
  source: ObservationSource;
  /** The destination name (TLS SNI, HTTP Host, DNS question), or the command line. */
  value: string;
  pid: number;
  exe: string;
  cmdline: string;
  /** The process's user ("" when unknown or not a process). */
  user: string;
  seenAtMs: number;
}

export interface PersonaMatch {
  hostId: string;
  hostname: string;
  source: ObservationSource;
  /** The persona's domain that matched (ASCII form). */
  domain: string;
  /** The name as the host had it: the destination name, or the domain as the command line spelled it. */
  observed: string;
  pid: number;
  exe: string /** The command line (bounded). */;
  cmdline: string;
  user: string;
  seenAtMs: number;
}

/** Matches kept per persona at most; the earliest of each host and domain first. */
export const MAX_MATCHES = 50;
const CMDLINE_CHARS = 1024;

/** The domains a persona's matches are looked for under: its domains and its URLs' hosts, ASCII, deduplicated. */
export function matchDomains(p: { domains: readonly string[]; urls: readonly string[] }): string[] {
  const out = new Set(p.domains);
  for (const u of p.urls) {
    const h = urlHost(u);
    if (h) out.add(h);
  }
  return [...out].sort();
}

/** Whether a destination name is the domain or one of its subdomains. */
export function nameUnder(name: string, domain: string): boolean {
  const n = name.trim().toLowerCase().replace(/\.$/, "");
  return n === domain || n.endsWith(`.${domain}`);
}

// A name continues (so a match inside it is not a match): a letter, digit,
// "-" or "_", or a "." followed by one (a longer name: careers-example.test.evil.net).
const NAME_CHAR = /[\p{L}\p{N}_-]/u;

/**
 * Where a command line names the domain (or a subdomain of it) as a whole
 * name: the spelling found, or null. "curl http://jobs.careers-example.test/"
 * names careers-example.test; "xcareers-example.test" and
 * "careers-example.test.evil.net" do not.
 */
export function nameInText(text: string, domain: string): string | null {
  const lower = text.toLowerCase();
  const spellings = new Set([domain]);
  const unicode = domainToUnicode(domain);
  if (unicode && unicode !== domain) spellings.add(unicode.toLowerCase());
  for (const s of spellings) {
    for (let at = lower.indexOf(s); at >= 0; at = lower.indexOf(s, at + 1)) {
      const end = at + s.length;
      const after = lower.slice(end, end + 2);
      if (after.length > 0 && (NAME_CHAR.test(after[0]!) || (after[0] === "." && after.length > 1 && NAME_CHAR.test(after[1]!)))) continue;
      // Before: the start, a separator, or "." (a subdomain); then the whole name runs back to a separator.
      let start = at;
      if (at > 0) {
        const before = lower[at - 1]!;
        if (NAME_CHAR.test(before)) continue;
        if (before === ".") {
          start = at - 1;
          while (start > 0 && (NAME_CHAR.test(lower[start - 1]!) || lower[start - 1] === ".")) start--;
          if (start === at - 1) continue; // ".careers-example.test" with nothing before the dot
        }
      }
      return text.slice(start, end);
    }
  }
  return null;
}

// A run of name characters with at least one dot: every name a text can hold.
const DOTTED_NAME = /[\p{L}\p{N}_-]+(?:\.[\p{L}\p{N}_-]+)+/gu;

/**
 * A fast test of whether a text may name any of the domains (or a
 * subdomain): each dotted name in it, and each of its parent names, is
 * looked up in a set of the domains' spellings. One pass per text whatever
 * the number of domains; nameInText then says exactly.
 */
export function domainMentionTest(domains: readonly string[]): (text: string) => boolean {
  const set = new Set<string>();
  for (const d of domains) {
    set.add(d);
    const u = domainToUnicode(d);
    if (u) set.add(u.toLowerCase());
  }
  return (text) => {
    if (!text.includes(".")) return false;
    for (const m of text.matchAll(DOTTED_NAME)) {
      let name = m[0].toLowerCase();
      for (;;) {
        if (set.has(name)) return true;
        const dot = name.indexOf(".");
        if (dot < 0) break;
        name = name.slice(dot + 1);
      }
    }
    return false;
  };
}

/**
 * The persona's matches among the observations: one per host, domain and
 * source (the earliest), ordered by time, at most MAX_MATCHES.
 */
export function matchPersona(p: { domains: readonly string[]; urls: readonly string[] }, observations: readonly FleetObservation[]): PersonaMatch[] {
  const domains = matchDomains(p);
  if (domains.length === 0) return [];
  const best = new Map<string, PersonaMatch>();
  for (const o of observations) {
    for (const d of domains) {
      const observed = o.source === "destination-name" ? (nameUnder(o.value, d) ? o.value.trim() : null) : nameInText(o.value, d);
      if (observed === null) continue;
      const key = `${o.hostId}\0${d}\0${o.source}`;
      const seen = best.get(key);
      if (seen && seen.seenAtMs <= o.seenAtMs) continue;
      best.set(key, {
        hostId: o.hostId,
        hostname: o.hostname,
        source: o.source,
        domain: d,
        observed: observed.slice(0, 300),
        pid: o.pid,
        exe: o.exe,
        cmdline: o.cmdline.slice(0, CMDLINE_CHARS),
        user: o.user.slice(0, 256),
        seenAtMs: o.seenAtMs,
      });
    }
  }
  return [...best.values()]
    .sort((a, b) => a.seenAtMs - b.seenAtMs || a.hostname.localeCompare(b.hostname) || a.domain.localeCompare(b.domain) || a.source.localeCompare(b.source))
    .slice(0, MAX_MATCHES);
}
