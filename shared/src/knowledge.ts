// The built-in knowledge base (data/binaries.json): what binaries normally
// speak on the network, which normally speak nothing, which are shells,
// interpreters or living-off-the-land binaries, and where genuine system
// binaries live. Data, not code: adding a binary is a one-line change there.

import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { OddwireError } from "./errors.js";
import type { OsName } from "./model.js";
import { isObject, type PortTable, portTable, UNKNOWN_PROTOCOL } from "./ports.js";
import type { SiteKnowledge } from "./site-knowledge.js";

export const BINARY_CLASSES = ["browser", "client", "server", "system", "silent", "shell", "interpreter", "lolbin", "tool"] as const;
export type BinaryClass = (typeof BINARY_CLASSES)[number];

/**
 * Sockets below TCP and UDP a binary normally holds: "packet" (AF_PACKET,
 * link-layer frames: capture tools, DHCP clients, LLDP), "raw" (raw IP:
 * traceroute, VRRP, OSPF), "ping" (ICMP echo sockets).
 */
export const RAW_SOCKET_KINDS = ["packet", "raw", "ping"] as const;
export type RawSocketKind = (typeof RAW_SOCKET_KINDS)[number];

/** "*" means any protocol; otherwise the set of protocols ("unknown": any port no protocol is registered for). */
export type ProtocolSet = "*" | ReadonlySet<string>;

export interface BinaryProfile {
  id: string;
  names: readonly string[];
  os: readonly OsName[];
  class: BinaryClass;
  outbound: ProtocolSet;
  listens: ProtocolSet;
  /** Why an outbound socket from it is noteworthy (LOLBAS / GTFOBins). */
  lolbin?: string;
  /** Lower-case directory prefixes where the genuine binary lives. */
  paths?: readonly string[];
  /** The raw, packet or ping sockets it normally holds; absent: none. */
  rawSockets?: readonly RawSocketKind[];
  note?: string;
}

export interface KnowledgeBase {
  /** The profile for an executable's basename (any case; a trailing version such as python3.11 is ignored). */
  lookup(basename: string): BinaryProfile | undefined;
  /** Names kernel threads use (kworker, ksoftirqd...), which user processes imitate. */
  readonly kernelThreads: readonly string[];
  /** Profiles that name the directories their genuine binary lives in. */
  readonly protectedProfiles: readonly BinaryProfile[];
  readonly profiles: readonly BinaryProfile[];
  /**
   * Which knowledge judged a snapshot: oddwire's version and the first 8 hex
   * digits of the SHA-256 of the built-in data (binaries, ports,
   * destinations), then "+" and 12 of the site knowledge file's when there is
   * one: "0.1.0.3f2a9c1d+b41e0a77c2d9".
   */
  readonly version: string;
  /** The site's own knowledge over the built-in (site-knowledge.ts), if any. */
  readonly site?: SiteKnowledge;
}

const KEYS = new Set(["id", "names", "os", "class", "outbound", "listens", "lolbin", "paths", "rawSockets", "note"]);
const OSES = new Set(["linux", "windows", "darwin"]);

export function buildKnowledgeBase(data: unknown, ports: PortTable, source = "binaries.json", version = `custom.${shortHash(JSON.stringify(data))}`): KnowledgeBase {
  const fail = (what: string): never => {
    throw new OddwireError("ODW_ERR_DATA", `${source}: ${what}`);
  };
  if (!isObject(data) || !Array.isArray(data["binaries"]) || !Array.isArray(data["kernelThreads"])) {
    fail('expected an object with "binaries" and "kernelThreads" lists');
  }
  const file = data as { binaries: unknown[]; kernelThreads: unknown[] };
  const byName = new Map<string, BinaryProfile>();
  const ids = new Set<string>();
  const profiles: BinaryProfile[] = [];

  const protocolSet = (id: string, field: string, list: unknown): ProtocolSet => {
    if (!Array.isArray(list)) return fail(`binary "${id}": "${field}" must be a list`);
    if (list.length === 1 && list[0] === "*") return "*";
    const set = new Set<string>();
    for (const item of list) {
      if (typeof item !== "string") fail(`binary "${id}": "${field}" holds a non-string`);
      const s = item as string;
      if (s.startsWith("@")) {
        const members = ports.group(s.slice(1)) ?? fail(`binary "${id}": "${field}" names unknown group "${s}"`);
        for (const m of members) set.add(m);
      } else if (ports.describe(s) || s === UNKNOWN_PROTOCOL) set.add(s);
      else fail(`binary "${id}": "${field}" names unknown protocol "${s}"`);
    }
    return set;
  };

  for (const raw of file.binaries) {
    if (!isObject(raw) || typeof raw["id"] !== "string") {
      fail("every binary needs a string id");
      continue;
    }
    const id = raw["id"] as string;
    if (ids.has(id)) fail(`binary id "${id}" appears twice`);
    ids.add(id);
    for (const key of Object.keys(raw)) if (!KEYS.has(key)) fail(`binary "${id}" has unknown key "${key}"`);
    const names = raw["names"];
    if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== "string" || n !== n.toLowerCase())) {
      fail(`binary "${id}": "names" must be a non-empty list of lower-case strings`);
    }
    const os = raw["os"];
    if (!Array.isArray(os) || os.some((o) => !OSES.has(o))) fail(`binary "${id}": "os" must list linux, windows or darwin`);
    if (!BINARY_CLASSES.includes(raw["class"])) fail(`binary "${id}": "class" must be one of ${BINARY_CLASSES.join(", ")}`);
    for (const key of ["lolbin", "note"]) {
      if (raw[key] !== undefined && typeof raw[key] !== "string") fail(`binary "${id}": "${key}" must be a string`);
    }
    const paths = raw["paths"];
    if (paths !== undefined && (!Array.isArray(paths) || paths.some((p) => typeof p !== "string" || p !== p.toLowerCase()))) {
      fail(`binary "${id}": "paths" must be a list of lower-case directory prefixes`);
    }
    const rawSockets = raw["rawSockets"];
    if (rawSockets !== undefined && (!Array.isArray(rawSockets) || rawSockets.length === 0 || rawSockets.some((k) => !RAW_SOCKET_KINDS.includes(k)))) {
      fail(`binary "${id}": "rawSockets" must be a non-empty list of ${RAW_SOCKET_KINDS.join(", ")}`);
    }
    const profile: BinaryProfile = Object.freeze({
      id,
      names: Object.freeze([...(names as string[])]),
      os: Object.freeze([...(os as OsName[])]),
      class: raw["class"] as BinaryClass,
      outbound: protocolSet(id, "outbound", raw["outbound"]),
      listens: protocolSet(id, "listens", raw["listens"]),
      ...(raw["lolbin"] !== undefined && { lolbin: raw["lolbin"] as string }),
      ...(paths !== undefined && { paths: Object.freeze([...(paths as string[])]) }),
      ...(rawSockets !== undefined && { rawSockets: Object.freeze([...(rawSockets as RawSocketKind[])]) }),
      ...(raw["note"] !== undefined && { note: raw["note"] as string }),
    });
    for (const name of profile.names) {
      const other = byName.get(name);
      if (other) fail(`name "${name}" is in both "${other.id}" and "${id}"`);
      byName.set(name, profile);
    }
    profiles.push(profile);
  }
  if (file.kernelThreads.some((k) => typeof k !== "string")) fail('"kernelThreads" must be a list of strings');

  return Object.freeze({
    lookup(basename: string): BinaryProfile | undefined {
      const name = basename.toLowerCase();
      const exact = byName.get(name);
      if (exact) return exact;
      // python3.11 → python, perl5.36.0 → perl, python3.11.exe → python.exe
      const m = /^(.*?[a-z_-])[\d.]+(\.exe)?$/.exec(name);
      return m ? byName.get(m[1]! + (m[2] ?? "")) : undefined;
    },
    kernelThreads: Object.freeze([...(file.kernelThreads as string[])]),
    protectedProfiles: Object.freeze(profiles.filter((p) => p.paths)),
    profiles: Object.freeze(profiles),
    version,
  });
}

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

let builtIn: KnowledgeBase | undefined;

/** The knowledge base shipped with oddwire, loaded once. */
export function knowledgeBase(): KnowledgeBase {
  if (!builtIn) {
    const require = createRequire(import.meta.url);
    const data = ["./data/binaries.json", "./data/ports.json", "./data/destinations.json"].map((f) => JSON.stringify(require(f)));
    const { version } = require("../package.json") as { version: string };
    builtIn = buildKnowledgeBase(JSON.parse(data[0]!), portTable(), "binaries.json", `${version}.${shortHash(data.join("\n"))}`);
  }
  return builtIn;
}
