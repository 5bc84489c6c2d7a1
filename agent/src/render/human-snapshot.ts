// The human view of a snapshot: flagged sockets first, each with its process's
// ancestry, command line and the reasons it was flagged; then processes
// flagged without a socket; then the socket table. Every string from the host
// passes through terminalSafe: a command line must not drive the terminal.

import { ancestry, formatAncestry, terminalSafe, type ProcessRecord, type SnapshotRecord, type SocketRecord } from "@oddwire/shared";
import { endpoint } from "@oddwire/shared";

export function renderSnapshot(s: SnapshotRecord): string {
  const byPid = new Map(s.processes.map((p) => [p.pid, p]));
  const flagged = s.sockets.filter((k) => k.tags.length > 0);
  const flaggedPids = new Set(flagged.map((k) => k.pid));
  const quietFlagged = s.processes.filter((p) => p.tags.length > 0 && !flaggedPids.has(p.pid));
  const out: string[] = [];
  const safe = terminalSafe;

  out.push(`oddwire snapshot of ${safe(s.hostname)} (${s.os}, ${safe(s.osVersion)}) at ${new Date(s.takenAtMs).toISOString()}`);
  out.push(`host id ${s.hostId}, agent ${s.agentVersion}`);
  out.push(`${s.processes.length} processes, ${s.sockets.length} sockets, ${flagged.length} flagged sockets, ${quietFlagged.length} flagged processes without sockets`);
  for (const w of s.warnings) out.push(`warning: ${safe(w)}`);

  out.push("", `FLAGGED SOCKETS (${flagged.length})`);
  if (flagged.length === 0) out.push("  none");
  for (const k of flagged) {
    out.push("", `  ${socketLine(k)}`);
    pushProcess(out, byPid.get(k.pid), byPid, "    ");
    for (const t of k.tags) out.push(`    [${t.code}] ${safe(t.reason)}`);
  }

  out.push("", `FLAGGED PROCESSES WITHOUT SOCKETS (${quietFlagged.length})`);
  if (quietFlagged.length === 0) out.push("  none");
  for (const p of quietFlagged) {
    out.push("");
    pushProcess(out, p, byPid, "  ");
    for (const t of p.tags) out.push(`    [${t.code}] ${safe(t.reason)}`);
  }

  out.push("", `SOCKETS (${s.sockets.length})`);
  const rows = s.sockets.map((k) => {
    const owner = byPid.get(k.pid);
    return [
      transportOf(k),
      k.direction,
      k.protocol,
      localOf(k),
      remoteOf(k) || "-",
      k.state,
      owner ? `${safe(owner.name)}(${owner.pid})` : k.pid ? String(k.pid) : "-",
      k.tags.length ? k.tags.map((t) => t.code).join(",") : "",
    ];
  });
  out.push(...table(["PROTO", "DIRECTION", "PROTOCOL", "LOCAL", "REMOTE", "STATE", "PROCESS", "TAGS"], rows));
  return out.join("\n") + "\n";
}

function socketLine(k: SocketRecord): string {
  const remote = remoteOf(k);
  return `${transportOf(k)} ${k.direction} ${k.protocol}  ${localOf(k)}${remote ? ` -> ${remote}` : ""}  ${k.state}`;
}

/** tcp4, udp6, raw4, icmp6; packet sockets are below IP and have no family. */
function transportOf(k: SocketRecord): string {
  return k.transport === "packet" ? "packet" : `${k.transport}${k.family}`;
}

// Raw sockets have no ports, ping sockets an echo identifier, packet sockets no address.
function localOf(k: SocketRecord): string {
  if (k.transport === "packet") return "*";
  if (k.transport === "raw") return k.localAddress;
  if (k.transport === "icmp") return `${k.localAddress} id ${k.localPort}`;
  return endpoint(k.localAddress, k.localPort);
}

function remoteOf(k: SocketRecord): string {
  if (!k.remoteAddress) return "";
  return k.transport === "tcp" || k.transport === "udp" ? endpoint(k.remoteAddress, k.remotePort) : k.remoteAddress;
}

function pushProcess(out: string[], p: ProcessRecord | undefined, byPid: ReadonlyMap<number, ProcessRecord>, indent: string): void {
  if (!p) {
    out.push(`${indent}process: not visible`);
    return;
  }
  const safe = terminalSafe;
  out.push(`${indent}process: ${safe(formatAncestry(ancestry(p.pid, byPid)))}`);
  out.push(`${indent}user ${safe(p.user)}, started ${p.startedAtMs ? new Date(p.startedAtMs).toISOString() : "unknown"}`);
  out.push(`${indent}exe ${safe(p.exe || "(none)")}${p.exeDeleted ? " (deleted)" : ""}${p.sha256 ? ` sha256 ${p.sha256}` : p.hashError ? ` (${safe(p.hashError)})` : ""}`);
  out.push(`${indent}cmdline ${safe(p.cmdline || "(empty)")}`);
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    "  " +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
