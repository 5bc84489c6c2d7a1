// Turns raw records into classified ones: protocol and direction for every
// socket, tags with reasons for processes and sockets. Pure: every fact that
// needs I/O (hashes, directory modes) arrives as an argument.

import type { BinaryProfile, KnowledgeBase, OsName, PortTable, ProcessRecord, SocketRecord } from "@oddwire/shared";
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
            ...profileOf(owner, binary, kb),
            direction,
            localPort: s.localPort,
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

/**
 * The knowledge-base profile of a process. A script run through its #! line
 * has the interpreter as its executable and the script's file name as its
 * process name (pip, dnf, unattended-upgrade): the script's profile, when
 * known, says more than the interpreter's.
 */
function profileOf(p: ProcessRecord, binary: string, kb: KnowledgeBase): { profile: BinaryProfile | undefined; binary: string } {
  const profile = kb.lookup(binary);
  if (profile?.class === "interpreter" && p.name) {
    const script = kb.lookup(p.name);
    if (script && script.class !== "interpreter") return { profile: script, binary: `${p.name} (run by ${binary})` };
  }
  return { profile, binary };
}
