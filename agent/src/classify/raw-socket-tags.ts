// Tags for sockets below TCP and UDP: packet sockets (every frame on an
// interface), raw IP sockets (every packet of an IP protocol, and forged
// ones) and ping sockets (ICMP echo). None of them opens a port, so a
// BPF-filtered backdoor or an ICMP tunnel shows nowhere else. A holder is
// normal only when the knowledge base lists its binary for that kind of socket
// and the binary is the genuine one: judged by the executable the kernel
// reports (not the name a process gives itself, nor a script's name) and by
// where that executable lives.

import { TAG, type KnowledgeBase, type OsName, type RawSocketKind, type Tag } from "@oddwire/shared";
import type { RawProcess, RawSocket } from "../collect/backend.js";
import { ETH_P_ALL, etherTypeName, IPPROTO_RAW, ipProtocolName } from "../collect/raw-protocol-names.js";
import { basename, dirname } from "@oddwire/shared";

/** Where packages install executables; a known binary elsewhere is a copy or an impostor. */
const INSTALL_DIRS: Record<OsName, readonly string[]> = {
  linux: ["/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/lib/", "/usr/libexec/", "/lib/", "/usr/local/bin/", "/usr/local/sbin/", "/opt/", "/snap/"],
  darwin: ["/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/libexec/", "/usr/local/bin/", "/usr/local/sbin/", "/opt/homebrew/", "/applications/", "/system/"],
  windows: ["c:\\windows\\", "c:\\program files\\", "c:\\program files (x86)\\"],
};

export function isRawTransport(transport: string): boolean {
  return transport === "raw" || transport === "icmp" || transport === "packet";
}

/** The protocol field of a raw, ping or packet socket: "icmp", "gre", "eth-all", "eth-arp"... */
export function rawSocketProtocol(s: Pick<RawSocket, "transport" | "family" | "rawProtocol">): string {
  if (s.transport === "icmp") return s.family === 6 ? "icmpv6" : "icmp";
  if (s.transport === "packet") return `eth-${etherTypeName(s.rawProtocol ?? 0)}`;
  return ipProtocolName(s.rawProtocol ?? 0);
}

export function tagRawSocket(s: RawSocket, owner: Pick<RawProcess, "exe" | "name" | "exeDeleted">, kb: KnowledgeBase, os: OsName): Tag[] {
  const kind: RawSocketKind = s.transport === "packet" ? "packet" : s.transport === "icmp" ? "ping" : "raw";
  const exeBase = owner.exe ? basename(owner.exe) : "";
  const profile = exeBase ? kb.lookup(exeBase) : undefined;
  let who: string;
  if (!exeBase) {
    who = `a process calling itself "${owner.name}" (its executable could not be read, so what it runs is unknown)`;
  } else if (profile?.rawSockets?.includes(kind) && profile.os.includes(os)) {
    const doubt = doubtAbout(owner, exeBase, profile.paths ?? INSTALL_DIRS[os], os);
    if (!doubt) return [];
    who = `${exeBase} (${doubt})`;
  } else if (profile?.class === "interpreter") {
    who = `the script interpreter ${exeBase} (check the script in its command line)`;
  } else {
    who = exeBase;
  }
  switch (kind) {
    case "packet":
      return [
        {
          code: TAG.PACKET_SOCKET,
          reason: `${who} ${packetSees(s)}: only capture tools and network daemons normally do; a BPF-filter backdoor listens this way, and no port shows it`,
        },
      ];
    case "raw":
      return [
        {
          code: TAG.RAW_SOCKET,
          reason: `${who} ${rawSees(s)}: only ping, traceroute and routing or DHCP daemons normally do; ICMP tunnels and port-knocking backdoors receive this way, and no port shows it`,
        },
      ];
    case "ping":
      return [
        {
          code: TAG.PING_SOCKET,
          reason: `${who} holds an ICMP echo (ping) socket${s.remoteAddress ? ` to ${s.remoteAddress}` : ""}: only ping tools normally do; an ICMP tunnel carries its data in echo payloads this way`,
        },
      ];
  }
}

/** Why a known binary's copy may not be the genuine one; undefined when nothing is wrong. */
function doubtAbout(owner: Pick<RawProcess, "exe" | "exeDeleted">, exeBase: string, homes: readonly string[], os: OsName): string | undefined {
  if (owner.exeDeleted) return `its executable ${owner.exe} was deleted or replaced after it started`;
  const path = os === "windows" || os === "darwin" ? owner.exe.toLowerCase() : owner.exe;
  if (homes.some((dir) => path.startsWith(dir))) return undefined;
  return `runs from ${dirname(owner.exe)}, not where ${exeBase} is installed (${homes.join(", ")})`;
}

function packetSees(s: RawSocket): string {
  const where = s.ifindex ? `on interface index ${s.ifindex}` : "on every interface of the host";
  const type = s.rawProtocol ?? 0;
  if (type === ETH_P_ALL) return `holds a packet socket for every frame (ETH_P_ALL) ${where}`;
  if (type === 0) return "holds a packet socket not yet bound to a protocol (it can be bound to any, or send frames of its own)";
  return `holds a packet socket for ${etherTypeName(type)} frames (EtherType 0x${type.toString(16).padStart(4, "0")}) ${where}`;
}

function rawSees(s: RawSocket): string {
  const n = s.rawProtocol ?? 0;
  const to = s.remoteAddress ? ` connected to ${s.remoteAddress}` : "";
  if (n === IPPROTO_RAW) return `holds a raw IP socket (IPPROTO_RAW)${to} that sends packets with headers it writes itself, any protocol and any source address`;
  const v = s.family === 6 ? "IPv6" : "IPv4";
  const name = ipProtocolName(n);
  const what = name.startsWith("ip proto") ? "" : `${name.toUpperCase()} `;
  return `holds a raw IP socket${to} that receives every ${v} ${what}packet (protocol ${n}) reaching the host, whatever the port, and can forge its own`;
}
