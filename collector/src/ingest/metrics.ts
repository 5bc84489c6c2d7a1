// The collector's counters, exposed at /metrics (Prometheus text format) to
// loopback clients and logged on shutdown. Counting is all that happens here.

export const COUNTERS = {
  connections_accepted: "WebSocket streams accepted after authentication.",
  connections_refused: "Upgrade requests refused (bad key, revoked, rate, capacity).",
  auth_failures: "Enrollments or streams refused for a wrong secret or key.",
  revoked_refusals: "Enrollments or streams refused because the host is revoked.",
  enrollments: "Agent keys issued.",
  reenrollments: "Agent keys issued to a host id already known (with its current key, an administrator's approval, or before its first batch).",
  reenroll_refusals: "Enrollments refused with HTTP 409: a known host id without its current key or an approval.",
  sequence_jumps: "Streams closed (4406) because a batch's seq skipped ahead of the host's last one more than its dropped batches account for.",
  rate_limited: "Requests refused because one address sent too many.",
  capacity_refusals: "Streams refused because the collector was at its connection limit.",
  decode_errors: "Messages that did not decode as an AgentMessage.",
  frames_too_large: "Messages over the frame size limit.",
  protocol_errors: "Messages that broke the stream's rules.",
  frames_over_limit: "Messages (stream frames and enrollment bodies) refused before decoding: a string or repeated field over its bound (shared/src/wire-limits.ts).",
  streams_paused: "Times a stream stopped being read because too many of its bytes were waiting to be committed.",
  batches_applied: "Batches committed to the database.",
  batches_duplicate: "Batches already committed earlier (replays), acknowledged again.",
  batches_rejected: "Batches from revoked or unknown hosts, not applied.",
  processes_ingested: "Process records committed.",
  sockets_ingested: "Socket records committed.",
  db_errors: "Transactions that failed; their batches were not acknowledged.",
  superseded: "Streams closed because the same host connected again.",
  heartbeat_timeouts: "Streams closed (4408) because the agent stopped answering pings.",
  http_timeouts: "Connections closed because a request (headers, or an enrollment's body) was not complete within --request-timeout-seconds: slow or half-open clients.",
  http_client_errors: "Connections closed because what they sent was not valid HTTP.",
  overload_closes: "Streams closed because the ingest queue was full.",
  exports_ok: "Scheduled CSV exports written.",
  exports_failed: "Scheduled CSV exports that failed (retried at the next tick).",
  exports_skipped: "Scheduled CSV export ticks skipped because the previous run was still going.",
} as const;

export type CounterName = keyof typeof COUNTERS;

export class Metrics {
  readonly counts: Record<CounterName, number>;
  openConnections = 0;
  queuedBatches = 0;

  constructor() {
    this.counts = Object.fromEntries(Object.keys(COUNTERS).map((k) => [k, 0])) as Record<CounterName, number>;
  }

  inc(name: CounterName, by = 1): void {
    this.counts[name] += by;
  }

  prometheus(): string {
    const lines: string[] = [];
    for (const [name, help] of Object.entries(COUNTERS)) {
      lines.push(`# HELP oddwire_${name}_total ${help}`, `# TYPE oddwire_${name}_total counter`, `oddwire_${name}_total ${this.counts[name as CounterName]}`);
    }
    lines.push("# HELP oddwire_open_connections Streams open now.", "# TYPE oddwire_open_connections gauge", `oddwire_open_connections ${this.openConnections}`);
    lines.push("# HELP oddwire_queued_batches Batches received, not yet committed.", "# TYPE oddwire_queued_batches gauge", `oddwire_queued_batches ${this.queuedBatches}`);
    return lines.join("\n") + "\n";
  }
}
