// WebSocket close codes on an agent's stream: one list for both sides, each
// with what it means and what the agent does about it. 1009, 1011 and 1013
// are the standard ones; the 44xx codes are oddwire's own.

export const CLOSE = {
  /** A message was over the collector's frame limit. */
  TOO_BIG: 1009,
  /** The collector could not store a batch (database error): resend. */
  SERVER_ERROR: 1011,
  /** The collector is overloaded: resend later. */
  TRY_AGAIN_LATER: 1013,
  /** A message did not decode. */
  DECODE: 4400,
  /** The host has been revoked: the agent stops and exits with code 3. */
  REVOKED: 4403,
  /** A message broke the stream's rules (text frame, unexpected message, field over its bound, sequence jump). */
  PROTOCOL: 4406,
  /** The agent stopped answering pings. */
  HEARTBEAT: 4408,
  /** The same host connected or enrolled again; this stream is replaced. */
  SUPERSEDED: 4409,
} as const;

export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** One line per code, for the docs and for logs. */
export const CLOSE_MEANINGS: Record<CloseCode, string> = {
  1009: "message over the collector's --max-frame-bytes",
  1011: "database error (the agent resends)",
  1013: "collector overloaded (the agent resends later)",
  4400: "undecodable message",
  4403: "host revoked (the agent exits with code 3)",
  4406: "the stream's rules were broken: text frame, unexpected message, a field over its bound, a sequence jump",
  4408: "missed heartbeat",
  4409: "the same host connected or enrolled again",
};
