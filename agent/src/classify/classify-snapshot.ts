// Turns raw records into classified ones: protocol and direction for every
// socket, tags with reasons for processes and sockets. Pure: every fact that
// needs I/O (hashes, directory modes) arrives as an argument.

import {
  type BinaryProfile,
  binaryName,
  communityId,
  describeSocket,
  type ExeFacts,
  ipProtoOf,
  type KnowledgeBase,
  type OsName,
  type PackageFacts,
  type PortTable,
  type ProcessRecord,
  profileOf,
  type SocketRecord,
  type Tag,
  tagProcess,
  tagSocket,
} from "@oddwire/shared";
import type { RawProcess, RawSocket } from "../collect/backend.js";
import { classifyDirections } from "./direction.js";
import { isRawTransport, rawSocketProtocol, tagRawSocket } from "./raw-socket-tags.js";

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
  /** When the snapshot was taken (how new an executable is). */
  nowMs?: number;
}

const NO_IDENTITY: ExeIdentity = { sha256: "", hashError: "", dirWorldWritable: false };

export function classifySnapshot(input: ClassifyInput): { processes: ProcessRecord[]; sockets: SocketRecord[] } {
  const { os, ports, kb } = input;
  const nowMs = input.nowMs ?? Date.now();
  const facts = new Map<number, PackageFacts>();
  const byPid = new Map<number, ProcessRecord>();
  // Process tags depend only on these fields; hosts run many copies of the
  // same binary (worker pools), so each combination is judged once.
  const tagMemo = new Map<string, Tag[]>();
  const processTags = (p: RawProcess, id: ExeIdentity): Tag[] => {
    const key = `${p.exe}\0${p.name}\0${p.exeDeleted}\0${id.dirWorldWritable}\0${id.packageSource}\0${id.package}\0${id.exeSinceMs}\0${p.cmdline}`;
    let tags = tagMemo.get(key);
    if (!tags) tagMemo.set(key, (tags = tagProcess(p, { ...id, nowMs }, kb, os)));
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
      ...(id.packageSource !== undefined && { package: id.package ?? "", packageSource: id.packageSource }),
      ...(id.exeSinceMs ? { exeSinceMs: id.exeSinceMs } : {}),
    };
    if (id.packageSource || id.exeSinceMs) facts.set(p.pid, { package: id.package, packageSource: id.packageSource, exeSinceMs: id.exeSinceMs, nowMs });
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
        remoteAddress: s.remoteAddress,
        cmdline: owner.cmdline,
        protocol,
        describe: () => describeSocket(s, direction, protocol),
        isSelf: owner.pid === input.selfPid,
        site: { knowledge: kb.site, exe: owner.exe, name: owner.name, transport: s.transport, remotePort: s.remotePort },
        ...(facts.has(owner.pid) && { packaged: facts.get(owner.pid)! }),
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
