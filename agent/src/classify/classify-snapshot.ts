// Turns raw records into classified ones: protocol and direction for every
// socket, tags with reasons for processes and sockets. Pure: every fact that
// needs I/O (hashes, directory modes) arrives as an argument.

import type { KnowledgeBase, OsName, PortTable, ProcessRecord, SocketRecord } from "@oddwire/shared";
import type { RawProcess, RawSocket } from "../collect/backend.js";
import { binaryName } from "./binary-name.js";
import { describeSocket } from "./describe-socket.js";
import { classifyDirections } from "./direction.js";
import { type ExeFacts, tagProcess } from "./process-tags.js";
import { tagSocket } from "./socket-tags.js";

export interface ExeIdentity extends ExeFacts {
  sha256: string;
  hashError: string;
}

export interface ClassifyInput {
  os: OsName;
  processes: readonly RawProcess[];
  sockets: readonly RawSocket[];
  /** By pid; a process without an entry has no hash and no directory facts. */
  identities: ReadonlyMap<number, ExeIdentity>;
  ports: PortTable;
  kb: KnowledgeBase;
  selfPid: number;
}

const NO_IDENTITY: ExeIdentity = { sha256: "", hashError: "", dirWorldWritable: false };

export function classifySnapshot(input: ClassifyInput): { processes: ProcessRecord[]; sockets: SocketRecord[] } {
  const { os, ports, kb } = input;
  const byPid = new Map<number, ProcessRecord>();
  const processes = input.processes.map((p): ProcessRecord => {
    const id = input.identities.get(p.pid) ?? NO_IDENTITY;
    const record: ProcessRecord = {
      pid: p.pid,
      ppid: p.ppid,
      name: p.name,
      exe: p.exe,
      cmdline: p.cmdline,
      user: p.user,
      uid: p.uid,
      startedAtMs: p.startedAtMs,
      sha256: id.sha256,
      hashError: id.hashError,
      exeDeleted: p.exeDeleted,
      tags: tagProcess(p, id, kb, os),
    };
    byPid.set(p.pid, record);
    return record;
  });

  const directions = classifyDirections(input.sockets);
  const sockets = input.sockets.map((s, i): SocketRecord => {
    const direction = directions[i]!;
    const protocol = ports.protocolOf(s.transport, direction === "outbound" ? s.remotePort : s.localPort);
    const owner = s.pid ? byPid.get(s.pid) : undefined;
    const binary = owner ? binaryName(owner) : "";
    const tags = owner
      ? [
          ...tagSocket({
            binary,
            profile: kb.lookup(binary),
            direction,
            protocol,
            described: describeSocket(s, direction, protocol),
            isSelf: owner.pid === input.selfPid,
          }),
          ...owner.tags,
        ]
      : [];
    return { ...s, protocol, direction, tags };
  });
  return { processes, sockets };
}
