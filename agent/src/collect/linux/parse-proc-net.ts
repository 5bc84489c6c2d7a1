// Parses the kernel's socket tables, /proc/<pid>/net/{tcp,tcp6,udp,udp6}.
// Pure: takes the file's text, returns rows; the I/O lives in socket-table.ts.
//
// Each row is `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`,
// addresses in hex as the kernel stores them: IPv4 as one 32-bit word and IPv6
// as four, each word in host byte order (little-endian on every platform
// Linux runs this agent on), ports in big-endian hex.

import type { Transport } from "@oddwire/shared";
import type { RawSocket } from "../backend.js";

/** A socket row; pid and netns are left 0 for the caller, who knows them. */
export type ProcNetRow = RawSocket;

const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
  "0C": "NEW_SYN_RECV",
};

/**
 * Parses one /proc/net/{tcp,tcp6,udp,udp6} file. Malformed rows are skipped.
 * Fields are found by scanning rather than split(): a table can hold tens of
 * thousands of rows, and the agent's memory is bounded by what it allocates.
 */
export function parseProcNet(text: string, transport: Transport, family: 4 | 6): ProcNetRow[] {
  const rows: ProcNetRow[] = [];
  const fields: string[] = [];
  let pos = text.indexOf("\n") + 1; // skip the header
  while (pos > 0 && pos < text.length) {
    let eol = text.indexOf("\n", pos);
    if (eol < 0) eol = text.length;
    fields.length = 0;
    let i = pos;
    while (i < eol && fields.length < 10) {
      while (i < eol && text.charCodeAt(i) === 32) i++;
      const start = i;
      while (i < eol && text.charCodeAt(i) !== 32) i++;
      if (i > start) fields.push(text.slice(start, i));
    }
    pos = eol + 1;
    if (fields.length < 10) continue;
    const local = parseHexEndpoint(fields[1]!, family);
    const remote = parseHexEndpoint(fields[2]!, family);
    if (!local || !remote) continue;
    const code = fields[3]!.toUpperCase();
    let state: string;
    if (transport === "udp") state = code === "01" ? "ESTABLISHED" : "UNCONN";
    else state = TCP_STATES[code] ?? `UNKNOWN(${code})`;
    const connected = !(remote.port === 0 && isUnspecified(remote.address));
    rows.push({
      transport,
      family,
      localAddress: local.address,
      localPort: local.port,
      remoteAddress: connected ? remote.address : "",
      remotePort: connected ? remote.port : 0,
      state,
      pid: 0,
      uid: Number(fields[7]),
      inode: Number(fields[9]),
      netns: 0,
    });
  }
  return rows;
}

function isUnspecified(address: string): boolean {
  return address === "0.0.0.0" || address === "::";
}

function parseHexEndpoint(field: string, family: 4 | 6): { address: string; port: number } | null {
  const colon = field.indexOf(":");
  if (colon < 0) return null;
  const hex = field.slice(0, colon);
  const port = parseInt(field.slice(colon + 1), 16);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  if (family === 4) {
    if (hex.length !== 8) return null;
    const address = hexWordToBytes(hex);
    return address ? { address: address.join("."), port } : null;
  }
  if (hex.length !== 32) return null;
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hexWordToBytes(hex.slice(w * 8, w * 8 + 8));
    if (!word) return null;
    bytes.push(...word);
  }
  return { address: formatIPv6(bytes), port };
}

/** A 32-bit little-endian hex word as its four bytes in network order. */
function hexWordToBytes(hex: string): number[] | null {
  const n = parseInt(hex, 16);
  if (!Number.isFinite(n) || !/^[0-9A-Fa-f]{8}$/.test(hex)) return null;
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** RFC 5952 text form of 16 address bytes; IPv4-mapped addresses as ::ffff:a.b.c.d. */
export function formatIPv6(bytes: readonly number[]): string {
  const isMapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (isMapped) return `::ffff:${bytes.slice(12).join(".")}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // Longest run of two or more zero groups, first one on a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}
