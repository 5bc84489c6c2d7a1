// A site's own knowledge, layered over the built-in knowledge base: what is
// normal here (a binary, or a binary speaking a protocol, that the fleet
// runs on purpose), what must never happen here (a binary, a destination
// name, an address range, a port, or a binary speaking a protocol), and
// extra locations that count as writable. One JSON file, read by the agent
// and the collector at start, validated up front with errors that say where
// and what; its SHA-256 goes into the knowledge version every snapshot
// carries. parseSiteKnowledge is pure; loadSiteKnowledge reads the file.

import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import * as v from "valibot";
import { OddwireError } from "./errors.js";
import { type KnowledgeBase, knowledgeBase } from "./knowledge.js";
import type { Direction } from "./model.js";
import { type PortTable, portTable, UNKNOWN_PROTOCOL } from "./ports.js";

/** Larger files are refused: a site's list of exceptions is small. */
export const MAX_SITE_KNOWLEDGE_BYTES = 1024 * 1024;
/** Entries per list at most. */
export const MAX_SITE_ENTRIES = 10_000;
const MAX_REASON = 512;
const MAX_PATH = 4096;

export interface SiteBinaryMatch {
  /** As written in the file, for reasons. */
  text: string;
  /** A file name (any case), a full path, or a directory prefix (ends with / or \). */
  kind: "name" | "path" | "dir";
  /** Lower case for names and Windows-looking paths. */
  value: string;
}

export interface SiteNormal {
  binary: SiteBinaryMatch;
  /** Absent: any protocol. */
  protocol?: string;
  direction?: Direction;
  reason: string;
}

export interface SiteNever {
  binary?: SiteBinaryMatch;
  protocol?: string;
  transport?: "tcp" | "udp";
  direction?: Direction;
  port?: number;
  /** IP address or CIDR, as written. */
  address?: string;
  /** A host-name suffix: mega.nz matches mega.nz and x.mega.nz. */
  destination?: string;
  reason: string;
  /** The entry in words ("binary anydesk", "port 6667/tcp outbound"), for reasons. */
  what: string;
  /** Judged per socket (it names a protocol, port, address, transport or direction) rather than per process. */
  perSocket: boolean;
  /** Whether an address falls in `address`. */
  inRange?: (address: string) => boolean;
}

export interface SiteKnowledge {
  /** The site's label, shown in every reason the overlay produces. */
  name: string;
  /** Where it was read from. */
  file: string;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
  normal: readonly SiteNormal[];
  never: readonly SiteNever[];
  /** Extra directory prefixes that count as writable (Windows-looking ones in lower case). */
  writableDirs: readonly string[];
}

/** An unknown or missing key's issue has the key as its last path item; the message follows it. */
function strictMessage(allowed: string) {
  return (i: { expected: string | null; received: string }) =>
    i.expected === "never" ? `is not a known key; allowed: ${allowed}` : i.received === "undefined" ? "is missing" : "must be an object";
}

const DIRECTIONS = ["outbound", "inbound", "listen"] as const;
const reason = v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(MAX_REASON, `must be at most ${MAX_REASON} characters`));
const binary = v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(MAX_PATH, `must be at most ${MAX_PATH} characters`));
const protocol = v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(64, "must be at most 64 characters"));
const direction = v.picklist(DIRECTIONS, `must be one of ${DIRECTIONS.join(", ")}`);
const port = v.pipe(
  v.number("must be a whole number from 1 to 65535"),
  v.integer("must be a whole number from 1 to 65535"),
  v.minValue(1, "must be a whole number from 1 to 65535"),
  v.maxValue(65535, "must be a whole number from 1 to 65535"),
);
const HOST_SUFFIX = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

const NormalEntry = v.strictObject(
  { binary, protocol: v.optional(protocol), direction: v.optional(direction), reason: v.optional(reason) },
  strictMessage("binary, protocol, direction, reason"),
);
const NeverEntry = v.strictObject(
  {
    binary: v.optional(binary),
    protocol: v.optional(protocol),
    transport: v.optional(v.picklist(["tcp", "udp"], "must be tcp or udp")),
    direction: v.optional(direction),
    port: v.optional(port),
    address: v.optional(v.pipe(v.string("must be a string"), v.maxLength(64, "must be at most 64 characters"))),
    destination: v.optional(v.pipe(v.string("must be a string"), v.toLowerCase(), v.regex(HOST_SUFFIX, "must be a host name or domain such as mega.nz"))),
    reason,
  },
  strictMessage("binary, protocol, transport, direction, port, address, destination, reason"),
);
const SiteFile = v.strictObject(
  {
    $comment: v.optional(v.unknown()),
    name: v.pipe(
      v.string("must be a string"),
      v.regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/, "must be 1 to 64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit"),
    ),
    normal: v.optional(v.pipe(v.array(NormalEntry, "must be a list"), v.maxLength(MAX_SITE_ENTRIES, `must hold at most ${MAX_SITE_ENTRIES} entries`))),
    never: v.optional(v.pipe(v.array(NeverEntry, "must be a list"), v.maxLength(MAX_SITE_ENTRIES, `must hold at most ${MAX_SITE_ENTRIES} entries`))),
    writableDirs: v.optional(
      v.pipe(
        v.array(v.pipe(binary, v.regex(/[/\\]$/, "must be a directory ending with / or \\")), "must be a list"),
        v.maxLength(MAX_SITE_ENTRIES, `must hold at most ${MAX_SITE_ENTRIES} entries`),
      ),
    ),
  },
  strictMessage("name, normal, never, writableDirs"),
);

/** Validates a site knowledge file's text; every error names the file and the place in it. */
export function parseSiteKnowledge(text: string, ports: PortTable, file = "site knowledge"): SiteKnowledge {
  const fail = (what: string): never => {
    throw new OddwireError("ODW_ERR_CONFIG", `${file}: ${what}`);
  };
  if (Buffer.byteLength(text) > MAX_SITE_KNOWLEDGE_BYTES) fail(`larger than ${MAX_SITE_KNOWLEDGE_BYTES} bytes; a site's knowledge is a short list of exceptions`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    fail(`not valid JSON: ${(err as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) fail('must hold a JSON object such as {"name": "acme", "never": [...]}');
  const parsed = v.safeParse(SiteFile, data, { abortEarly: true });
  if (!parsed.success) {
    const issue = parsed.issues[0];
    fail(`${pathOf(issue.path)} ${issue.message}`);
  }
  const out = (parsed as v.SafeParseResult<typeof SiteFile> & { success: true }).output;
  const checkProtocol = (where: string, p: string | undefined) => {
    if (p !== undefined && p !== "*" && p !== UNKNOWN_PROTOCOL && !ports.describe(p)) fail(`${where}.protocol names unknown protocol "${p}" (see shared/src/data/ports.json)`);
  };
  const normal = (out.normal ?? []).map((e, i): SiteNormal => {
    checkProtocol(`normal[${i}]`, e.protocol);
    return Object.freeze({
      binary: binaryMatch(e.binary),
      ...(e.protocol !== undefined && e.protocol !== "*" && { protocol: e.protocol }),
      ...(e.direction !== undefined && { direction: e.direction }),
      reason: e.reason ?? "",
    });
  });
  const never = (out.never ?? []).map((e, i): SiteNever => {
    const where = `never[${i}]`;
    checkProtocol(where, e.protocol);
    if (e.binary === undefined && e.protocol === undefined && e.port === undefined && e.address === undefined && e.destination === undefined) {
      fail(`${where} must name at least one of binary, protocol, port, address or destination (transport or direction alone would match everything)`);
    }
    const perSocket = e.protocol !== undefined || e.port !== undefined || e.address !== undefined || e.transport !== undefined || e.direction !== undefined;
    if (e.destination !== undefined && perSocket)
      fail(`${where}: destination is judged from a process's command line; give it alone or with binary, not with protocol, port, address, transport or direction`);
    let inRange: ((address: string) => boolean) | undefined;
    if (e.address !== undefined)
      inRange = addressRange(e.address, () => fail(`${where}.address must be an IP address or a CIDR range such as 203.0.113.0/24, got ${JSON.stringify(e.address)}`));
    const parts = [
      e.binary !== undefined && `binary ${e.binary}`,
      e.protocol !== undefined && `protocol ${e.protocol}`,
      e.port !== undefined && `port ${e.port}${e.transport ? `/${e.transport}` : ""}`,
      e.port === undefined && e.transport !== undefined && `transport ${e.transport}`,
      e.direction !== undefined && e.direction,
      e.address !== undefined && `address ${e.address}`,
      e.destination !== undefined && `destination ${e.destination}`,
    ].filter((x): x is string => typeof x === "string");
    return Object.freeze({
      ...(e.binary !== undefined && { binary: binaryMatch(e.binary) }),
      ...(e.protocol !== undefined && { protocol: e.protocol }),
      ...(e.transport !== undefined && { transport: e.transport }),
      ...(e.direction !== undefined && { direction: e.direction }),
      ...(e.port !== undefined && { port: e.port }),
      ...(e.address !== undefined && { address: e.address }),
      ...(e.destination !== undefined && { destination: e.destination }),
      ...(inRange && { inRange }),
      reason: e.reason,
      what: parts.join(", "),
      perSocket,
    });
  });
  const writableDirs = (out.writableDirs ?? []).map((d) => (looksWindows(d) ? d.toLowerCase() : d));
  return Object.freeze({
    name: out.name,
    file,
    sha256: createHash("sha256").update(text).digest("hex"),
    normal: Object.freeze(normal),
    never: Object.freeze(never),
    writableDirs: Object.freeze(writableDirs),
  });
}

/** Reads and validates a site knowledge file (see parseSiteKnowledge). */
export function loadSiteKnowledge(path: string, ports: PortTable): SiteKnowledge {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_SITE_KNOWLEDGE_BYTES) throw new Error(`${size} bytes is over the ${MAX_SITE_KNOWLEDGE_BYTES}-byte limit`);
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new OddwireError("ODW_ERR_CONFIG", `cannot read the site knowledge file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseSiteKnowledge(text, ports, path);
}

/** The built-in knowledge base with a site's knowledge over it; its version gains "+" and the first 12 hex digits of the file's SHA-256. */
export function withSiteKnowledge(kb: KnowledgeBase, site: SiteKnowledge | undefined): KnowledgeBase {
  if (!site) return kb;
  return Object.freeze({ ...kb, site, version: `${kb.version}+${site.sha256.slice(0, 12)}` });
}

/** The knowledge to judge with: the built-in knowledge base, with a site knowledge file over it (read and validated now) when one is given. */
export function knowledgeWithSite(file: string | undefined): KnowledgeBase {
  return file ? withSiteKnowledge(knowledgeBase(), loadSiteKnowledge(file, portTable())) : knowledgeBase();
}

function pathOf(path: v.IssuePathItem[] | undefined): string {
  if (!path || path.length === 0) return "the file";
  return path.map((p, i) => (typeof p.key === "number" ? `[${p.key}]` : `${i === 0 ? "" : "."}${String(p.key)}`)).join("");
}

function looksWindows(path: string): boolean {
  return /^[a-z]:\\/i.test(path) || path.startsWith("\\\\") || (path.includes("\\") && !path.includes("/"));
}

function binaryMatch(text: string): SiteBinaryMatch {
  const isPath = text.includes("/") || text.includes("\\");
  const value = !isPath || looksWindows(text) ? text.toLowerCase() : text;
  return { text, kind: !isPath ? "name" : /[/\\]$/.test(text) ? "dir" : "path", value };
}

function addressRange(text: string, bad: () => never): (address: string) => boolean {
  const [ip, bits, extra] = text.split("/");
  const family = isIP(ip ?? "");
  if (!family || extra !== undefined) return bad();
  const type = family === 4 ? "ipv4" : "ipv6";
  const list = new BlockList();
  if (bits === undefined) list.addAddress(ip!, type);
  else {
    const n = /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (n < 0 || n > (family === 4 ? 32 : 128)) return bad();
    list.addSubnet(ip!, n, type);
  }
  return (address: string) => {
    const a = address.replace(/^::ffff:(?=\d+\.)/i, "");
    const f = isIP(a);
    return f !== 0 && list.check(a, f === 4 ? "ipv4" : "ipv6");
  };
}

/** Whether an executable (or, without one, a process name) is the binary an entry names. */
export function siteBinaryMatches(m: SiteBinaryMatch, exe: string, name: string): boolean {
  if (m.kind === "name") {
    const base = exe ? exe.slice(Math.max(exe.lastIndexOf("/"), exe.lastIndexOf("\\")) + 1) : name;
    return base.toLowerCase() === m.value || (exe === "" && name.toLowerCase() === m.value);
  }
  if (!exe) return false;
  const path = looksWindows(m.value) || looksWindows(exe) ? exe.toLowerCase() : exe;
  return m.kind === "dir" ? path.startsWith(m.value) : path === m.value;
}

/** The first "normal" entry for this binary speaking this protocol this way, if the site has one. */
export function siteNormalFor(site: SiteKnowledge | undefined, exe: string, name: string, protocol: string, dir: string): SiteNormal | undefined {
  return site?.normal.find(
    (n) => (n.protocol === undefined || n.protocol === protocol) && (n.direction === undefined || n.direction === dir) && siteBinaryMatches(n.binary, exe, name),
  );
}

/** The site's label for reasons: site knowledge "acme". */
export function siteLabel(site: SiteKnowledge): string {
  return `site knowledge "${site.name}"`;
}
