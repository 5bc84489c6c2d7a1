// Turns raw records into classified ones: protocol and direction for every
// socket, tags with reasons for processes and sockets. Pure: every fact that
// needs I/O (hashes, directory modes) arrives as an argument.

import { communityId, ipProtoOf, type BinaryProfile, type KnowledgeBase, type OsName, type PortTable, type ProcessRecord, type SocketRecord, type Tag } from "@oddwire/shared";
import type { RawProcess, RawSocket } from "../collect/backend.js";
import { binaryName } from "./binary-name.js";
import { describeSocket } from "./describe-socket.js";
import { classifyDirections } from "./direction.js";
import { isRawTransport, rawSocketProtocol, tagRawSocket } from "./raw-socket-tags.js";
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
  // Process tags depend only on these fields; hosts run many copies of the
  // same binary (worker pools), so each combination is judged once.
  const tagMemo = new Map<string, Tag[]>();
  const processTags = (p: RawProcess, id: ExeIdentity): Tag[] => {
    const key = `${p.exe}\0${p.name}\0${p.exeDeleted}\0${id.dirWorldWritable}\0${p.cmdline.split(" ", 1)[0]}`;
    let tags = tagMemo.get(key);
    if (!tags) tagMemo.set(key, (tags = tagProcess(p, id, kb, os)));
    return tags;
  };
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
      tags: processTags(p, id),
    };
    byPid.set(p.pid, record);
    return record;
  });

  const directions = classifyDirections(input.sockets);
  // Per owner, once: which profile judges it and the name reasons use.
  const judged = new Map<number, { profile: BinaryProfile | undefined; binary: string }>();
  const sockets = input.sockets.map((s, i): SocketRecord => {
    const direction = directions[i]!;
    const raw = isRawTransport(s.transport);
    const protocol = s.transport === "tcp" || s.transport === "udp" ? ports.protocolOf(s.transport, direction === "outbound" ? s.remotePort : s.localPort) : rawSocketProtocol(s);
    const owner = s.pid ? byPid.get(s.pid) : undefined;
    let tags: Tag[] = [];
    if (owner && raw) {
      const own = owner.pid === input.selfPid ? [] : tagRawSocket(s, owner, kb, os);
      tags = [...own, ...owner.tags];
    } else if (owner) {
      let j = judged.get(owner.pid);
      if (!j) judged.set(owner.pid, (j = profileOf(owner, binaryName(owner), kb)));
      const own = tagSocket({
        binary: j.binary,
        profile: j.profile,
        direction,
        localPort: s.localPort,
        protocol,
        describe: () => describeSocket(s, direction, protocol),
        isSelf: owner.pid === input.selfPid,
      });
      tags = own.length === 0 ? owner.tags : owner.tags.length === 0 ? own : [...own, ...owner.tags];
    }
    return {
      transport: s.transport,
      family: s.family,
      localAddress: s.localAddress,
      localPort: s.localPort,
      remoteAddress: s.remoteAddress,
      remotePort: s.remotePort,
      state: s.state,
      pid: s.pid,
      uid: s.uid,
      inode: s.inode,
      netns: s.netns,
      protocol,
      direction,
      tags,
      ...(raw && { rawProtocol: s.rawProtocol ?? 0 }),
      communityId: socketCommunityId(s),
    };
  });
  return { processes, sockets };
}

/**
 * The knowledge-base profile of a process. A script run through its #! line
 * has the interpreter as its executable and the script's file name as its
 * process name (pip, dnf, unattended-upgrade): the script's profile, when
 * known, says more than the interpreter's.
 */
export function profileOf(p: ProcessRecord, binary: string, kb: KnowledgeBase): { profile: BinaryProfile | undefined; binary: string } {
  const profile = kb.lookup(binary);
  if (profile?.class === "interpreter" && p.name) {
    const script = kb.lookup(p.name);
    if (script && script.class !== "interpreter") return { profile: script, binary: `${p.name} (run by ${binary})` };
  }
  return { profile, binary };
}

/**
 * The Community ID of a socket's flow, from its two ends as they stand
 * (a listening or unconnected socket hashes its unspecified remote end, which
 * is still the ID a sensor computes for nothing: it is stable, not joinable).
 * "" for packet sockets and raw sockets of protocols that are not hashed by port.
 */
export function socketCommunityId(s: RawSocket): string {
  const proto = ipProtoOf(s.transport, s.family) ?? (s.transport === "raw" ? s.rawProtocol : undefined);
  if (proto === undefined || s.family === 0) return "";
  const any = s.family === 6 ? "::" : "0.0.0.0";
  return communityId({ proto, srcAddress: s.localAddress || any, srcPort: s.localPort, dstAddress: s.remoteAddress || any, dstPort: s.remotePort });
}
