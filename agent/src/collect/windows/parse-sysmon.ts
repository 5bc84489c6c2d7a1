// Turns Sysmon events, as printed by
//   wevtutil qe Microsoft-Windows-Sysmon/Operational /f:xml
// into process-creation (event 1) and network-connection (event 3) records,
// the Windows counterpart of the Linux bpftrace events: Sysmon sees a
// two-second connection that a once-a-minute netstat misses.
//
// wevtutil prints one <Event> element after another with no root element.
// The grammar used is tiny and fixed (System children, EventData/Data with a
// Name attribute, the five predefined entities and character references), so
// a strict scanner bounded in every dimension replaces an XML library: no
// DTDs, no external entities, no nesting beyond what Sysmon writes. Field
// names and meanings follow Sysmon's published event schema.

export const MAX_EVENT_CHARS = 512 * 1024;
/** Windows caps a command line at 32,767 UTF-16 units; longer values are cut and the field named in `truncated`. */
export const MAX_VALUE_CHARS = 32767;
const MAX_DATA_FIELDS = 64;

const SYSMON_PROVIDER = "Microsoft-Windows-Sysmon";

interface SysmonBase {
  recordId: number;
  computer: string;
  /** UtcTime of the event data, ms since the epoch (the moment Sysmon saw it, not when it was logged). */
  utcTimeMs: number;
  processGuid: string;
  processId: number;
  image: string;
  user: string;
  /** Fields cut at MAX_VALUE_CHARS. */
  truncated: string[];
}

export interface SysmonProcessCreate extends SysmonBase {
  eventId: 1;
  commandLine: string;
  currentDirectory: string;
  integrityLevel: string;
  /** "SHA256=AB..,MD5=.." split into algorithm → hex, algorithm names upper-cased. */
  hashes: Record<string, string>;
  parentProcessGuid: string;
  parentProcessId: number;
  parentImage: string;
  parentCommandLine: string;
}

export interface SysmonNetworkConnect extends SysmonBase {
  eventId: 3;
  protocol: "tcp" | "udp";
  /** true when this host opened the connection. */
  initiated: boolean;
  family: 4 | 6;
  sourceIp: string;
  sourcePort: number;
  sourceHostname: string;
  destinationIp: string;
  destinationPort: number;
  destinationHostname: string;
}

export type SysmonEvent = SysmonProcessCreate | SysmonNetworkConnect;

export interface SysmonParse {
  events: SysmonEvent[];
  /** Events that were not well-formed or lacked a required field, each said in words. */
  errors: string[];
  /** Well-formed Sysmon events of other IDs (file, registry, DNS...), counted and passed over. */
  otherEvents: number;
  /** The highest EventRecordID read, events in error included: the bookmark to continue after. 0 when none. */
  lastRecordId: number;
}

export function parseSysmonXml(text: string): SysmonParse {
  const out: SysmonParse = { events: [], errors: [], otherEvents: 0, lastRecordId: 0 };
  let pos = 0;
  for (;;) {
    const start = findEventStart(text, pos);
    if (start < 0) break;
    const end = text.indexOf("</Event>", start);
    if (end < 0) {
      out.errors.push(`event at offset ${start} has no </Event> (output cut short?)`);
      break;
    }
    pos = end + "</Event>".length;
    const xml = text.slice(start, pos);
    const recordId = recordIdOf(xml);
    if (recordId !== null) out.lastRecordId = Math.max(out.lastRecordId, recordId);
    if (xml.length > MAX_EVENT_CHARS) {
      out.errors.push(`event ${recordId ?? "?"} is ${xml.length} characters, over ${MAX_EVENT_CHARS}`);
      continue;
    }
    try {
      const e = parseEvent(xml);
      if (e === null) out.otherEvents++;
      else out.events.push(e);
    } catch (err) {
      out.errors.push(`event ${recordId ?? "?"}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** `<Event>` or `<Event xmlns=...>`, not `<EventData>` or `<EventID>`. */
function findEventStart(text: string, from: number): number {
  for (let i = text.indexOf("<Event", from); i >= 0; i = text.indexOf("<Event", i + 6)) {
    const c = text.charCodeAt(i + 6);
    if (c === 62 /* > */ || c === 32 || c === 9 || c === 10 || c === 13) return i;
  }
  return -1;
}

function recordIdOf(xml: string): number | null {
  const m = /<EventRecordID>(\d{1,15})<\/EventRecordID>/.exec(xml);
  return m ? Number(m[1]) : null;
}

function parseEvent(xml: string): SysmonEvent | null {
  const sysEnd = xml.indexOf("</System>");
  if (sysEnd < 0) throw new Error("no <System> element");
  const system = xml.slice(0, sysEnd);
  const provider = /<Provider\s+Name=(['"])([^'"<>]*)\1/.exec(system)?.[2];
  if (provider !== SYSMON_PROVIDER) throw new Error(`provider is ${JSON.stringify(provider ?? null)}, not ${SYSMON_PROVIDER}`);
  const eventId = Number(/<EventID(?:\s[^>]*)?>(\d{1,5})<\/EventID>/.exec(system)?.[1]);
  const recordId = recordIdOf(system);
  if (!Number.isInteger(eventId)) throw new Error("no EventID");
  if (recordId === null) throw new Error("no EventRecordID");
  if (eventId !== 1 && eventId !== 3) return null;
  const computer = decodeText(/<Computer>([^<]*)<\/Computer>/.exec(system)?.[1] ?? "", "Computer");

  const data = readData(xml.slice(sysEnd));
  const truncated: string[] = [];
  const get = (name: string, required = true): string => {
    const v = data.get(name);
    if (v === undefined) {
      if (required) throw new Error(`no ${name}`);
      return "";
    }
    if (v.length > MAX_VALUE_CHARS) {
      truncated.push(name);
      return v.slice(0, MAX_VALUE_CHARS);
    }
    return v;
  };
  const base = {
    recordId,
    computer,
    utcTimeMs: utcTime(get("UtcTime")),
    processGuid: get("ProcessGuid"),
    processId: uint(get("ProcessId"), "ProcessId", 0xffffffff),
    image: get("Image"),
    user: get("User", false),
  };
  if (eventId === 1) {
    return {
      eventId: 1,
      ...base,
      commandLine: get("CommandLine"),
      currentDirectory: get("CurrentDirectory", false),
      integrityLevel: get("IntegrityLevel", false),
      hashes: parseHashes(get("Hashes", false)),
      parentProcessGuid: get("ParentProcessGuid", false),
      parentProcessId: uint(get("ParentProcessId"), "ParentProcessId", 0xffffffff),
      parentImage: get("ParentImage", false),
      parentCommandLine: get("ParentCommandLine", false),
      truncated,
    };
  }
  const protocol = get("Protocol").toLowerCase();
  if (protocol !== "tcp" && protocol !== "udp") throw new Error(`Protocol ${JSON.stringify(protocol)} is neither tcp nor udp`);
  const initiated = get("Initiated").toLowerCase();
  if (initiated !== "true" && initiated !== "false") throw new Error(`Initiated ${JSON.stringify(initiated)} is neither true nor false`);
  const sourceIp = get("SourceIp");
  const destinationIp = get("DestinationIp");
  const family = ipFamily(destinationIp, "DestinationIp");
  ipFamily(sourceIp, "SourceIp");
  return {
    eventId: 3,
    ...base,
    protocol,
    initiated: initiated === "true",
    family,
    sourceIp,
    sourcePort: uint(get("SourcePort"), "SourcePort", 65535),
    sourceHostname: get("SourceHostname", false),
    destinationIp,
    destinationPort: uint(get("DestinationPort"), "DestinationPort", 65535),
    destinationHostname: get("DestinationHostname", false),
    truncated,
  };
}

/** The <Data Name='X'>value</Data> (or <Data Name='X'/>) children of EventData, values decoded. */
function readData(xml: string): Map<string, string> {
  const fields = new Map<string, string>();
  const open = xml.indexOf("<EventData>");
  if (open < 0) throw new Error("no <EventData>");
  const close = xml.indexOf("</EventData>", open);
  if (close < 0) throw new Error("<EventData> is not closed");
  const body = xml.slice(open + "<EventData>".length, close);
  const re = /<Data\s+Name=(['"])([A-Za-z0-9_]{1,64})\1\s*(?:\/>|>([^<]*)<\/Data>)|<[^>]*>?/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(body)) !== null) {
    if (body.slice(consumed, m.index).trim() !== "") throw new Error("text outside <Data> elements in EventData");
    consumed = re.lastIndex;
    if (m[2] === undefined) throw new Error(`unexpected markup in EventData: ${JSON.stringify(m[0].slice(0, 60))}`);
    if (fields.has(m[2])) throw new Error(`Data ${m[2]} appears twice`);
    if (fields.size >= MAX_DATA_FIELDS) throw new Error(`more than ${MAX_DATA_FIELDS} Data fields`);
    fields.set(m[2], decodeText(m[3] ?? "", m[2]));
  }
  if (body.slice(consumed).trim() !== "") throw new Error("text outside <Data> elements in EventData");
  return fields;
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Decodes the five predefined entities and character references; anything else after & is an error. */
export function decodeText(raw: string, field: string): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(/&([^;&\s]{0,10});?/g, (whole, name: string) => {
    if (!whole.endsWith(";")) throw new Error(`${field}: bare & in text`);
    if (name in ENTITIES) return ENTITIES[name]!;
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(name);
    if (!m) throw new Error(`${field}: unknown entity &${name};`);
    const cp = m[1] !== undefined ? parseInt(m[1], 16) : Number(m[2]);
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new Error(`${field}: character reference &${name}; is not a character`);
    return String.fromCodePoint(cp);
  });
}

/** "2024-05-01 10:00:00.123" (UTC) → ms since the epoch. */
function utcTime(v: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(v);
  if (!m) throw new Error(`UtcTime ${JSON.stringify(v.slice(0, 40))} is not "YYYY-MM-DD hh:mm:ss.fff"`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number((m[7] ?? "0").padEnd(3, "0").slice(0, 3)));
  const check = new Date(ms);
  if (check.getUTCDate() !== Number(m[3]) || check.getUTCHours() !== Number(m[4])) throw new Error(`UtcTime ${v} is not a real date`);
  return ms;
}

function uint(v: string, what: string, max: number): number {
  if (!/^\d{1,10}$/.test(v) || Number(v) > max) throw new Error(`${what} ${JSON.stringify(v.slice(0, 40))} is not a number up to ${max}`);
  return Number(v);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function ipFamily(v: string, what: string): 4 | 6 {
  if (IPV4.test(v)) return 4;
  // Sysmon writes IPv6 in the usual text form, sometimes with a zone (fe80::1%12).
  if (/^[0-9a-fA-F:.]{2,45}(%[0-9A-Za-z]{1,16})?$/.test(v) && v.includes(":")) return 6;
  throw new Error(`${what} ${JSON.stringify(v.slice(0, 60))} is not an IP address`);
}

/** "SHA1=AA..,MD5=BB..,SHA256=CC..,IMPHASH=DD.." → { SHA1: "AA..", ... }; malformed parts are skipped. */
export function parseHashes(v: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of v.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const algo = part.slice(0, eq).trim().toUpperCase();
    const hex = part.slice(eq + 1).trim();
    if (/^[A-Z0-9]{2,16}$/.test(algo) && /^[0-9A-Fa-f]{8,128}$/.test(hex)) out[algo] = hex.toUpperCase();
  }
  return out;
}

// --- Bookmark: where the next query continues ----------------------------

export const SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational";

/**
 * Arguments for `wevtutil` to read the events 1 and 3 after `afterRecordId`,
 * oldest first, at most `max` of them. Record IDs rise by one per event in a
 * channel, so "greater than the last one read" continues exactly.
 */
export function sysmonQueryArgs(afterRecordId: number, max: number): string[] {
  if (!Number.isSafeInteger(afterRecordId) || afterRecordId < 0) throw new RangeError(`bookmark ${afterRecordId} is not a record id`);
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`max ${max} is not a positive count`);
  return ["qe", SYSMON_CHANNEL, `/q:*[System[(EventID=1 or EventID=3) and EventRecordID>${afterRecordId}]]`, "/f:xml", `/c:${max}`];
}

/** Arguments for `wevtutil` to print the newest event of the channel (any ID): its record ID tells whether the log was cleared. */
export function sysmonNewestArgs(): string[] {
  return ["qe", SYSMON_CHANNEL, "/f:xml", "/rd:true", "/c:1"];
}

export interface BookmarkDecision {
  afterRecordId: number;
  /** Set when the bookmark was reset; say it in the agent's log. */
  reason: string | null;
}

/**
 * Where to continue from, given the saved bookmark and the newest record ID in
 * the channel now (null when the channel is empty). A newest ID below the
 * bookmark means the log was cleared or recreated: the numbering restarted,
 * so continue from the beginning rather than wait for it to pass the old mark.
 */
export function continueFrom(bookmark: number, newestRecordId: number | null): BookmarkDecision {
  if (newestRecordId === null) {
    return bookmark > 0 ? { afterRecordId: 0, reason: `the Sysmon log is empty though events up to ${bookmark} were read: it was cleared` } : { afterRecordId: 0, reason: null };
  }
  if (newestRecordId < bookmark)
    return { afterRecordId: 0, reason: `the newest Sysmon record is ${newestRecordId}, below the bookmark ${bookmark}: the log was cleared or recreated, reading from its start` };
  return { afterRecordId: bookmark, reason: null };
}
