// Judges stored records again with the collector's knowledge (built-in plus
// the site's), using the same functions the agent tags with. Pure.
//
// What the collector cannot see stays as the agent said it: whether the
// executable's directory is writable by every user (a writable-dir-exe the
// collector's own judgement lacks is kept), a beacon's rhythm (beaconing),
// and the tags of raw, ping and packet sockets (interface and protocol
// details the store does not keep). Everything else is judged afresh, so a
// tag the new knowledge no longer supports goes away.

import {
  binaryName,
  describeSocket,
  type KnowledgeBase,
  type OsName,
  type PackageFacts,
  type ProcessFacts,
  profileOf,
  TAG,
  type Tag,
  tagProcess,
  tagSocket,
} from "@oddwire/shared";

const RAW_TRANSPORTS = new Set(["raw", "icmp", "packet"]);
const RAW_CODES = new Set<string>([TAG.PACKET_SOCKET, TAG.RAW_SOCKET, TAG.PING_SOCKET]);

export interface StoredProcess extends ProcessFacts {
  tags: readonly Tag[];
  /** Package and age of the executable, as the agent sent them, with when they were observed. */
  packaged?: PackageFacts | undefined;
}

export interface StoredSocket {
  transport: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  protocol: string;
  direction: string;
  tags: readonly Tag[];
}

/** A process's tags judged again; the agent's writable-dir-exe stays when the collector finds none (only the agent can stat the directory). */
export function rejudgeProcess(p: StoredProcess, kb: KnowledgeBase, os: OsName): Tag[] {
  const mine = tagProcess(p, { dirWorldWritable: false, ...p.packaged }, kb, os);
  const kept = p.tags.filter((t) => t.code === TAG.WRITABLE_DIR_EXE && !mine.some((m) => m.code === t.code));
  return kept.length ? [...mine, ...kept] : mine;
}

/**
 * A socket's (or connection record's) tags judged again: its own tags, then
 * its owner's (already judged again), each code and reason once. `owner`
 * undefined: no process is known, so no tags, as the agent does.
 */
export function rejudgeSocket(s: StoredSocket, owner: StoredProcess | undefined, kb: KnowledgeBase, agentSelf = false): Tag[] {
  if (!owner) return s.tags.filter((t) => t.code === TAG.BEACONING);
  let own: Tag[];
  if (RAW_TRANSPORTS.has(s.transport)) own = s.tags.filter((t) => RAW_CODES.has(t.code));
  else {
    const { profile, binary } = profileOf(owner, binaryName(owner), kb);
    const direction = s.direction === "listen" || s.direction === "inbound" ? s.direction : "outbound";
    own = tagSocket({
      binary,
      profile,
      direction,
      protocol: s.protocol,
      localPort: s.localPort,
      remoteAddress: s.remoteAddress,
      cmdline: owner.cmdline,
      describe: () => describeSocket(s, direction, s.protocol),
      isSelf: agentSelf,
      site: { knowledge: kb.site, exe: owner.exe, name: owner.name, transport: s.transport, remotePort: s.remotePort },
      ...(owner.packaged && { packaged: owner.packaged }),
    });
    own.push(...s.tags.filter((t) => t.code === TAG.BEACONING));
  }
  const out: Tag[] = [];
  for (const t of [...own, ...owner.tags]) if (!out.some((x) => x.code === t.code && x.reason === t.reason)) out.push(t);
  return out;
}
