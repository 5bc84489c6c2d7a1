// The agent's side of the wire limits (shared/src/wire-limits.ts): every
// string cut to its bound on a character boundary, every list capped, lone
// UTF-16 surrogates (which have no UTF-8 form) replaced with U+FFFD, and one
// warning in the snapshot saying what was cut. Applied to every snapshot
// before it is encoded, by `run` and by `replay`, so that an honest agent
// never sends a frame the collector refuses.

import { COUNT_LIMITS, STRING_LIMITS, truncateUtf8, type ProcessRecord, type SnapshotRecord, type SocketRecord, type Tag } from "@oddwire/shared";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

type Field = keyof typeof STRING_LIMITS;

/** Counts of what was cut, for the warning. */
class Cuts {
  readonly strings = new Map<Field, number>();
  surrogates = 0;
  processTags = 0;
  processesWithTagsCut = 0;
  socketTags = 0;
  socketsWithTagsCut = 0;
  processes = 0;
  sockets = 0;
  warnings = 0;

  text(s: string, field: Field): string {
    let out = s;
    if (LONE_SURROGATE.test(out)) {
      LONE_SURROGATE.lastIndex = 0;
      out = out.replace(LONE_SURROGATE, "\uFFFD");
      this.surrogates++;
    }
    LONE_SURROGATE.lastIndex = 0;
    const cut = truncateUtf8(out, STRING_LIMITS[field]);
    if (cut !== out) this.strings.set(field, (this.strings.get(field) ?? 0) + 1);
    return cut;
  }

  tags(tags: Tag[], limit: number, kind: "process" | "socket"): Tag[] {
    if (tags.length > limit) {
      if (kind === "process") {
        this.processTags += tags.length - limit;
        this.processesWithTagsCut++;
      } else {
        this.socketTags += tags.length - limit;
        this.socketsWithTagsCut++;
      }
    }
    return tags.slice(0, limit).map((t) => ({ code: this.text(t.code, "code"), reason: this.text(t.reason, "reason") }));
  }

  any(): boolean {
    return this.strings.size > 0 || this.surrogates > 0 || this.processTags > 0 || this.socketTags > 0 || this.processes > 0 || this.sockets > 0 || this.warnings > 0;
  }

  describe(): string {
    const parts: string[] = [];
    const owner: Partial<Record<Field, string>> = {
      name: "process",
      exe: "process",
      cmdline: "process",
      user: "process",
      sha256: "process",
      hash_error: "process",
      package: "process",
      package_source: "process",
      code: "tag",
      reason: "tag",
      warning: "warning",
    };
    for (const [field, n] of this.strings) parts.push(`${field} of ${plural(n, owner[field] ?? "field")} cut to ${STRING_LIMITS[field]} bytes`);
    if (this.processTags) parts.push(`tags: ${this.processTags} left out of ${plural(this.processesWithTagsCut, "process")} (at most ${COUNT_LIMITS.process_tags} each)`);
    if (this.socketTags) parts.push(`tags: ${this.socketTags} left out of ${plural(this.socketsWithTagsCut, "socket")} (at most ${COUNT_LIMITS.socket_tags} each)`);
    if (this.processes) parts.push(`${plural(this.processes, "process")} left out (at most ${COUNT_LIMITS.processes})`);
    if (this.sockets) parts.push(`${plural(this.sockets, "socket")} left out (at most ${COUNT_LIMITS.sockets})`);
    if (this.warnings) parts.push(`${plural(this.warnings, "warning")} left out (at most ${COUNT_LIMITS.warnings})`);
    if (this.surrogates) parts.push(`${plural(this.surrogates, "string")} with lone UTF-16 surrogates, each replaced with U+FFFD`);
    return truncateUtf8(`the agent cut this snapshot to the wire limits: ${parts.join("; ")}`, STRING_LIMITS.warning);
  }
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : noun.endsWith("s") ? "es" : "s"}`;
}

export function boundSnapshot(snap: SnapshotRecord): SnapshotRecord {
  const cuts = new Cuts();
  const processes: ProcessRecord[] = snap.processes.slice(0, COUNT_LIMITS.processes).map((p) => ({
    ...p,
    name: cuts.text(p.name, "name"),
    exe: cuts.text(p.exe, "exe"),
    cmdline: cuts.text(p.cmdline, "cmdline"),
    user: cuts.text(p.user, "user"),
    sha256: cuts.text(p.sha256, "sha256"),
    hashError: cuts.text(p.hashError, "hash_error"),
    ...(p.package !== undefined && { package: cuts.text(p.package, "package") }),
    ...(p.packageSource !== undefined && { packageSource: cuts.text(p.packageSource, "package_source") }),
    tags: cuts.tags(p.tags, COUNT_LIMITS.process_tags, "process"),
  }));
  cuts.processes = snap.processes.length - processes.length;
  const sockets: SocketRecord[] = snap.sockets.slice(0, COUNT_LIMITS.sockets).map((s) => ({
    ...s,
    transport: cuts.text(s.transport, "transport") as SocketRecord["transport"],
    localAddress: cuts.text(s.localAddress, "local_address"),
    remoteAddress: cuts.text(s.remoteAddress, "remote_address"),
    state: cuts.text(s.state, "state"),
    protocol: cuts.text(s.protocol, "protocol"),
    direction: cuts.text(s.direction, "direction") as SocketRecord["direction"],
    tags: cuts.tags(s.tags, COUNT_LIMITS.socket_tags, "socket"),
  }));
  cuts.sockets = snap.sockets.length - sockets.length;
  const header = {
    hostname: cuts.text(snap.hostname, "hostname"),
    osVersion: cuts.text(snap.osVersion, "os_version"),
    arch: cuts.text(snap.arch, "arch"),
    agentVersion: cuts.text(snap.agentVersion, "agent_version"),
    ...(snap.knowledgeVersion !== undefined && { knowledgeVersion: cuts.text(snap.knowledgeVersion, "knowledge_version") }),
  };
  const allWarnings = snap.warnings.map((w) => cuts.text(w, "warning"));
  if (!cuts.any() && allWarnings.length <= COUNT_LIMITS.warnings) return snap;
  // One slot is kept for the warning about the cuts themselves.
  const room = COUNT_LIMITS.warnings - 1;
  const warnings = allWarnings.slice(0, room);
  cuts.warnings = allWarnings.length - warnings.length;
  return { ...snap, ...header, processes, sockets, warnings: [...warnings, cuts.describe()], partial: true };
}
