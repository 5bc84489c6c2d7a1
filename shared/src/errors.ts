// Every error code oddwire raises, in one place. A code is stable: scripts and
// the collector's logs key on it. The message says what was wrong and what to
// do; the original error, when there is one, travels as `cause`.

export const ERROR_CODES = {
  ODW_ERR_USAGE: "The command line is not valid (unknown command or option, missing or bad value).",
  ODW_ERR_CONFIG: "A configuration value or file is not valid.",
  ODW_ERR_UNSUPPORTED_OS: "This operating system has no collection backend.",
  ODW_ERR_COLLECT: "A collection source (process table, socket table) could not be read at all.",
  ODW_ERR_STATE_DIR: "The agent's state directory could not be created, read or written.",
  ODW_ERR_DATA: "A built-in data file (port table, knowledge base) is malformed.",
  ODW_ERR_DECODE: "A message could not be decoded.",
  ODW_ERR_SPOOL: "The agent's spool directory could not be read or written.",
  ODW_ERR_AUTH: "An agent presented a wrong enrollment secret or agent key.",
  ODW_ERR_REVOKED: "The host has been revoked; it must not send again.",
  ODW_ERR_FRAME_TOO_LARGE: "A message was larger than the size limit.",
  ODW_ERR_PROTOCOL: "A peer broke the stream's rules (wrong message, wrong order, bad sequence).",
  ODW_ERR_RATE_LIMIT: "Too many connections or failed attempts from one address.",
  ODW_ERR_DB: "The collector's database could not be opened, migrated or written.",
  ODW_ERR_TRANSPORT: "The agent could not reach or talk to the collector.",
  ODW_ERR_EXPORT: "A CSV export could not be written (directory missing, not writable, disk full).",
  ODW_ERR_REENROLL: "A host id the collector already knows tried to enroll without its current key or an administrator's approval.",
  ODW_ERR_UNSAFE_PATH: "A file or directory is unsafe to use (writable by others, a symbolic link where a file was expected).",
  ODW_ERR_EVENTS: "Connection events were asked for (--events on) but cannot be recorded on this host, or their source failed to start.",
  ODW_ERR_DPI:
    "Protocol identification was asked for (--dpi on) but cannot run on this host (tcpdump or ndpiReader missing, no capture permission), or its capture failed to start.",
  ODW_ERR_INPUT: "An input file (NDJSON to replay, certificate, key) is unreadable or malformed.",
  ODW_ERR_PERSONA: "A persona report is not valid (a missing platform or handle, a field over its bound, a bad date, domain or URL), or names no known persona or triage state.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class OddwireError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "OddwireError";
    this.code = code;
  }
}

export function isOddwireError(err: unknown, code?: ErrorCode): err is OddwireError {
  return err instanceof OddwireError && (code === undefined || err.code === code);
}
