// The bound on every field an agent sends. The agent truncates its own
// strings and caps its own lists to these before encoding, so an honest agent
// never trips them; the collector refuses a frame that breaks one before it
// decodes it (a frame of a million empty tags costs gigabytes once decoded).
// Changing a number here changes what both sides accept: the README's table
// of limits is checked against this file.

/** Longest string, in UTF-8 bytes, of each field by its proto name. */
export const STRING_LIMITS = {
  host_id: 128,
  hostname: 255,
  os: 32,
  os_version: 256,
  agent_version: 64,
  arch: 32,
  enroll_secret: 4096,
  current_key: 256,
  name: 256,
  exe: 4096,
  cmdline: 32 * 1024,
  user: 256,
  sha256: 64,
  hash_error: 512,
  package: 256,
  package_source: 16,
  knowledge_version: 64,
  code: 64,
  reason: 1024,
  transport: 8,
  local_address: 64,
  remote_address: 64,
  state: 32,
  protocol: 64,
  direction: 16,
  warning: 1024,
  community_id: 64,
  port_protocol: 64,
  wire_protocol: 64,
  confidence: 64,
  risk: 128,
  destination_name: 256,
  client_address: 64,
  server_address: 64,
  interface: 64,
} as const;

/** Most elements of each repeated field, by message and proto name. */
export const COUNT_LIMITS = {
  processes: 100_000,
  sockets: 200_000,
  process_tags: 32,
  socket_tags: 32,
  warnings: 64,
  processes_removed: 100_000,
  sockets_removed: 200_000,
  /** Connection records per batch (connection events); what is cut is counted in Visibility.dropped_records. */
  connections: 20_000,
  connection_tags: 32,
  /** Parent executables on one connection record. */
  ancestry: 16,
  /** Classified flows per batch (--dpi); what is cut is counted in DpiVisibility.unclassified_window. */
  flows: 20_000,
  flow_tags: 32,
  risks: 32,
  /** Destination names on one socket, connection record or flow. */
  destination_names: 16,
  interfaces: 64,
} as const;

/** Marks a string the agent cut to its bound; the cut is made on a character boundary. */
export const TRUNCATION_MARK = "…[truncated]";

/** Cuts `s` to at most `maxBytes` UTF-8 bytes, ending with TRUNCATION_MARK when it was cut. */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (s.length * 3 <= maxBytes || Buffer.byteLength(s, "utf8") <= maxBytes) return s;
  const room = maxBytes - Buffer.byteLength(TRUNCATION_MARK, "utf8");
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch, "utf8");
    if (bytes + n > room) break;
    bytes += n;
    end += ch.length;
  }
  return s.slice(0, end) + TRUNCATION_MARK;
}
