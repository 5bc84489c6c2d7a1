// Turns one line of `bpftrace -f json agent/bpf/oddwire-events.bt` into a typed
// event. Pure: takes the line's text, returns an event, a line to ignore, or
// an error in words; the child process lives in bpftrace-source.ts.
//
// The program prints positional tuples, `{"type": "value", "data": [kind, ...]}`,
// whose first element names the layout (see LAYOUTS). bpftrace 0.17 escapes a
// byte >= 0x80 as a sign-extended `\uffffffXX`, which is not JSON (and
// `\uffff` + "ffXX" if read naively), so those escapes are turned back into
// bytes and the strings decoded as UTF-8 before anything else looks at them.
//
// The oddwire sensor (agent/bpf/oddwire-sensor.c) prints the same layout with
// strings as JSON text: valid UTF-8 passed through, and each byte that is not
// valid UTF-8 as a lone surrogate \udcXX. Parse its lines with
// `{ strings: "sensor" }`; both routes give the same string for the same bytes.

/** Bounds on what a line may hold; a longer one is refused, never truncated silently. */
export const MAX_LINE_CHARS = 16384;
const MAX_PATH_CHARS = 4096;
const MAX_COMM_CHARS = 64; // 15 bytes in the kernel; room for escapes and replacement chars

interface EventBase {
  /** CLOCK_MONOTONIC nanoseconds (bpftrace's nsecs), as a bigint: it exceeds 2^53. */
  monoNs: bigint;
  pid: number;
  tid: number;
  uid: number;
  comm: string;
}

export interface Endpoints {
  family: 4 | 6;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

export interface ExecEvent extends EventBase {
  kind: "exec";
  ppid: number;
  filename: string;
  /** The first bytes of argv joined by spaces, read by the sensor at exec (bpftrace's program does not send it). */
  args?: string;
}
/** An outbound TCP connection; `failed` when the handshake did not complete (refused, timed out). */
export interface ConnectEvent extends EventBase, Endpoints {
  kind: "connect";
  outcome: "established" | "failed";
}
/** An inbound TCP connection, as accepted by the listening process. */
export interface AcceptEvent extends EventBase, Endpoints {
  kind: "accept";
}
/** The first UDP datagram of a flow in either direction (once a minute at most per flow). */
export interface UdpEvent extends EventBase, Endpoints {
  kind: "udp";
  direction: "send" | "recv";
}
export type ConnectionEvent = ConnectEvent | AcceptEvent | UdpEvent;
export type BpftraceEvent = ExecEvent | ConnectionEvent;

export type ParsedLine =
  | { type: "event"; event: BpftraceEvent }
  /** The program's BEGIN probe ran: it is attached and printing. */
  | { type: "ready" }
  /** The kernel's perf buffer overflowed; `count` events never reached us. */
  | { type: "lost"; count: number }
  /** Blank lines, attach counts, map dumps at exit: nothing to act on. */
  | { type: "ignore" }
  | { type: "error"; reason: string };

type Cell = string | number;

const LAYOUTS: Record<string, number> = { exec: 8, connect: 12, accept: 11, udp: 12 };

/** How the producer wrote bytes that are not plain ASCII (see the file's head). */
export type StringEncoding = "bpftrace" | "sensor";

export interface ParseOptions {
  strings?: StringEncoding;
}

export function parseBpftraceLine(line: string, options: ParseOptions = {}): ParsedLine {
  const sensor = options.strings === "sensor";
  if (line.length > MAX_LINE_CHARS) return error(`line of ${line.length} characters is longer than ${MAX_LINE_CHARS}`);
  const text = line.trim();
  if (text === "") return { type: "ignore" };
  let outer: unknown;
  try {
    outer = JSON.parse(sensor ? text : repairByteEscapes(text));
  } catch (err) {
    return error(`not JSON (${(err as Error).message}): ${preview(text)}`);
  }
  if (!isRecord(outer) || typeof outer.type !== "string") return error(`not a bpftrace JSON record: ${preview(text)}`);
  if (outer.type === "lost_events") {
    const count = isRecord(outer.data) ? outer.data.events : undefined;
    return typeof count === "number" && Number.isSafeInteger(count) && count >= 0 ? { type: "lost", count } : error(`lost_events without a count: ${preview(text)}`);
  }
  if (outer.type !== "value") return { type: "ignore" };
  const data = outer.data;
  if (!Array.isArray(data) || data.length === 0) return { type: "ignore" };
  if (!data.every((c): c is Cell => typeof c === "string" || (typeof c === "number" && Number.isFinite(c))))
    return error(`tuple holds something other than strings and numbers: ${preview(text)}`);
  const cells = data.map((c) => (typeof c !== "string" ? c : sensor ? decodeEscapedBytes(c) : decodeBytes(c)));
  const kind = cells[0];
  if (kind === "hello") return { type: "ready" };
  if (typeof kind !== "string" || !(kind in LAYOUTS)) return error(`unknown event kind ${JSON.stringify(kind)}`);
  // The sensor's exec carries argv as one more field.
  const expected = LAYOUTS[kind]!;
  if (cells.length !== expected && !(kind === "exec" && cells.length === expected + 1)) return error(`${kind} tuple has ${cells.length} fields, expected ${expected}`);
  try {
    return { type: "event", event: toEvent(kind, cells) };
  } catch (err) {
    return error(`${kind}: ${(err as Error).message}`);
  }
}

function toEvent(kind: string, c: Cell[]): BpftraceEvent {
  const base: EventBase = {
    monoNs: monoNs(c[1]),
    pid: id(c[2], "pid"),
    tid: id(c[3], "tid"),
    uid: uint32(c[4], "uid"),
    comm: text(c[5], "comm", MAX_COMM_CHARS),
  };
  if (kind === "exec") {
    const exec: ExecEvent = { kind, ...base, ppid: uint32(c[6], "ppid"), filename: text(c[7], "filename", MAX_PATH_CHARS) };
    if (c.length > 8) exec.args = text(c[8], "args", MAX_PATH_CHARS);
    return exec;
  }
  const ends = endpoints(c.slice(6, 11));
  if (kind === "accept") return { kind, ...base, ...ends };
  if (kind === "connect") {
    const outcome = c[11];
    if (outcome !== "established" && outcome !== "failed") throw new Error(`outcome ${JSON.stringify(outcome)} is neither established nor failed`);
    return { kind, ...base, ...ends, outcome };
  }
  const direction = c[11];
  if (direction !== "send" && direction !== "recv") throw new Error(`direction ${JSON.stringify(direction)} is neither send nor recv`);
  return { kind: "udp", ...base, ...ends, direction };
}

function endpoints(c: Cell[]): Endpoints {
  const family = c[0];
  if (family !== 4 && family !== 6) throw new Error(`family ${String(family)} is neither 4 nor 6`);
  return {
    family,
    localAddress: address(c[1], family, "local address"),
    localPort: port(c[2], "local port"),
    remoteAddress: address(c[3], family, "remote address"),
    remotePort: port(c[4], "remote port"),
  };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:.]{2,45}$/;

function address(v: Cell | undefined, family: 4 | 6, what: string): string {
  if (typeof v !== "string") throw new Error(`${what} is not a string`);
  const ok = family === 4 ? IPV4.test(v) : IPV6.test(v) && v.includes(":");
  if (!ok) throw new Error(`${what} ${JSON.stringify(v.slice(0, 60))} is not an IPv${family} address`);
  return v;
}

function port(v: Cell | undefined, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) throw new Error(`${what} ${String(v)} is not a port`);
  return v;
}

function id(v: Cell | undefined, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0 || v > 0x3fffffff) throw new Error(`${what} ${String(v)} is not a process id`);
  return v;
}

function uint32(v: Cell | undefined, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`${what} ${String(v)} is not an unsigned 32-bit number`);
  return v;
}

function monoNs(v: Cell | undefined): bigint {
  // A number past 2^53 has already lost its last digits in JSON.parse; the
  // error is under a microsecond a day of uptime, well below what we record.
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new Error(`time ${String(v)} is not a nanosecond count`);
  return BigInt(v);
}

function text(v: Cell | undefined, what: string, max: number): string {
  if (typeof v !== "string") throw new Error(`${what} is not a string`);
  if (v.length > max) throw new Error(`${what} is longer than ${max} characters`);
  return v;
}

/**
 * `\uffffffXX` → `\u00XX`, leaving escaped backslashes alone: the regex
 * consumes `\\` pairs first, so a `\u` it sees is always a real escape.
 */
export function repairByteEscapes(text: string): string {
  if (!text.includes("\\uffffff")) return text;
  return text.replace(/\\(\\|uffffff([0-9a-fA-F]{2}))/g, (whole, _body: string, byte: string | undefined) => (byte === undefined ? whole : `\\u00${byte}`));
}

/**
 * After the repair every character of a bpftrace string is one byte (bpftrace
 * never writes a literal non-ASCII character), so a string holding U+0080..U+00FF
 * is a byte string: decode it as UTF-8, invalid sequences as U+FFFD.
 */
function decodeBytes(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\u0080-\u00ff]/.test(s)) return s;
  return Buffer.from(s, "latin1").toString("utf8");
}

/** A lone low surrogate U+DC80..U+DCFF: the sensor's escape for the byte 0x80..0xFF that is not valid UTF-8. */
const ESCAPED_BYTE = /(?<![\ud800-\udbff])[\udc80-\udcff]/;

/**
 * Sensor strings: escaped bytes back to bytes, the whole decoded as UTF-8
 * (invalid → U+FFFD), which is what the bpftrace route gives for the same bytes.
 */
export function decodeEscapedBytes(s: string): string {
  if (!ESCAPED_BYTE.test(s)) return s;
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const lone = c >= 0xdc80 && c <= 0xdcff && !(i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff);
    if (!lone) continue;
    parts.push(Buffer.from(s.slice(from, i), "utf8"), Buffer.of(c - 0xdc00));
    from = i + 1;
  }
  parts.push(Buffer.from(s.slice(from), "utf8"));
  return Buffer.concat(parts).toString("utf8");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function preview(s: string): string {
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s);
}

function error(reason: string): ParsedLine {
  return { type: "error", reason };
}
