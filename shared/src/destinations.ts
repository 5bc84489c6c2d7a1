// Destination names that public rule sets single out (data/destinations.json):
// paste sites, file sharing, tunnels, dynamic DNS, messaging APIs used for
// exfiltration, what-is-my-IP services. judgeDestinations turns the names a
// process reached (from DPI: TLS SNI, HTTP Host, DNS questions; or from URLs
// in its command line) into tags with reasons. Pure.

import { createRequire } from "node:module";
import { OddwireError } from "./errors.js";
import type { KnowledgeBase } from "./knowledge.js";
import type { Tag } from "./model.js";
import { isObject } from "./ports.js";
import { TAG } from "./tags.js";

export interface DestinationCategory {
  name: string;
  /** What the category is, in words, for reasons. */
  what: string;
  /** Knowledge-base profile ids for which reaching it is ordinary. */
  allowedFor: ReadonlySet<string>;
  suffixes: readonly string[];
}

export interface DestinationTable {
  /** The category a destination name belongs to and the suffix that matched, if any. */
  categorise(name: string): { category: DestinationCategory; suffix: string } | undefined;
  readonly categories: readonly DestinationCategory[];
}

const SUFFIX = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

export function buildDestinationTable(data: unknown, source = "destinations.json"): DestinationTable {
  const fail = (what: string): never => {
    throw new OddwireError("ODW_ERR_DATA", `${source}: ${what}`);
  };
  if (!isObject(data) || !isObject(data["categories"])) fail('expected an object with "categories"');
  const bySuffix = new Map<string, DestinationCategory>();
  const categories: DestinationCategory[] = [];
  for (const [name, raw] of Object.entries((data as { categories: Record<string, unknown> }).categories)) {
    if (!isObject(raw) || typeof raw["what"] !== "string") fail(`category "${name}" needs "what"`);
    const c = raw as { what: string; allowedFor?: unknown; suffixes?: unknown };
    for (const key of Object.keys(c)) if (!["what", "allowedFor", "suffixes"].includes(key)) fail(`category "${name}" has unknown key "${key}"`);
    if (!Array.isArray(c.allowedFor) || c.allowedFor.some((x) => typeof x !== "string")) fail(`category "${name}": "allowedFor" must be a list of profile ids`);
    if (!Array.isArray(c.suffixes) || c.suffixes.some((x) => typeof x !== "string" || !SUFFIX.test(x))) fail(`category "${name}": "suffixes" must be lower-case domain names`);
    const category: DestinationCategory = Object.freeze({
      name,
      what: c.what,
      allowedFor: new Set(c.allowedFor as string[]),
      suffixes: Object.freeze([...(c.suffixes as string[])]),
    });
    for (const s of category.suffixes) {
      const other = bySuffix.get(s);
      if (other) fail(`"${s}" is in both "${other.name}" and "${name}"`);
      bySuffix.set(s, category);
    }
    categories.push(category);
  }
  return Object.freeze({
    categorise(host: string) {
      const n = host.toLowerCase().replace(/\.$/, "");
      // The longest matching suffix: walk up the labels.
      for (let rest = n; rest.includes("."); rest = rest.slice(rest.indexOf(".") + 1)) {
        const category = bySuffix.get(rest);
        if (category) return { category, suffix: rest };
      }
      return undefined;
    },
    categories: Object.freeze(categories),
  });
}

let builtIn: DestinationTable | undefined;

/** The table shipped with oddwire, loaded once. */
export function destinationTable(): DestinationTable {
  builtIn ??= buildDestinationTable(createRequire(import.meta.url)("./data/destinations.json"));
  return builtIn;
}

export interface DestinationProcess {
  /** The executable's basename (or the process name when there is no executable). */
  binary: string;
  cmdline?: string;
}

/** Names checked per call at most: a hostile list costs no more than this. */
const MAX_NAMES = 64;

/**
 * Tags for the destination names a process reached (or named in its command
 * line): one SUSPICIOUS_DESTINATION tag per category, unless knowledge says
 * the binary reaches that category normally (a browser on a paste site).
 * Call it with the names DPI found for a socket or connection (TLS SNI,
 * HTTP Host, DNS question) and the owning process.
 */
export function judgeDestinations(names: readonly string[], p: DestinationProcess, kb: KnowledgeBase, table: DestinationTable = destinationTable()): Tag[] {
  const profile = kb.lookup(p.binary);
  const seen = new Map<string, string[]>();
  for (const name of names.slice(0, MAX_NAMES)) {
    const hit = table.categorise(name);
    if (!hit || (profile && hit.category.allowedFor.has(profile.id))) continue;
    const list = seen.get(hit.category.name) ?? [];
    if (!list.includes(name.toLowerCase())) list.push(name.toLowerCase());
    seen.set(hit.category.name, list);
  }
  const tags: Tag[] = [];
  for (const [category, hosts] of seen) {
    const c = table.categories.find((x) => x.name === category)!;
    const shown = hosts.slice(0, 3).join(", ") + (hosts.length > 3 ? ` and ${hosts.length - 3} more` : "");
    tags.push({ code: TAG.SUSPICIOUS_DESTINATION, reason: `${p.binary} reaches ${shown}, ${c.what}` });
  }
  return tags.length > 1 ? [{ code: TAG.SUSPICIOUS_DESTINATION, reason: tags.map((t) => t.reason).join("; ") }] : tags;
}
