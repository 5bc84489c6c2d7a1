// Which way a socket faces. A TCP socket in LISTEN and an unconnected UDP
// socket are listeners; a connected socket is inbound when a listener of the
// same namespace, transport and port accepts on its local address, and
// outbound otherwise (the kernel picked an ephemeral local port for it).
// Raw, ping and packet sockets have no listener to be accepted by: unconnected
// they receive what arrives (listen), connected they were aimed (outbound).

import type { Direction } from "@oddwire/shared";
import type { RawSocket } from "../collect/backend.js";

export function isListener(s: RawSocket): boolean {
  return s.transport === "tcp" ? s.state === "LISTEN" : s.state === "UNCONN";
}

/** Directions for every socket, in the same order. */
export function classifyDirections(sockets: readonly RawSocket[]): Direction[] {
  // key: netns/transport/port → local addresses listened on
  const listeners = new Map<string, string[]>();
  for (const s of sockets) {
    if (!isListener(s)) continue;
    const key = `${s.netns}/${s.transport}/${s.localPort}`;
    const addrs = listeners.get(key);
    if (addrs) addrs.push(s.localAddress);
    else listeners.set(key, [s.localAddress]);
  }
  return sockets.map((s): Direction => {
    if (isListener(s)) return "listen";
    if (s.transport !== "tcp" && s.transport !== "udp") return "outbound";
    const addrs = listeners.get(`${s.netns}/${s.transport}/${s.localPort}`);
    if (addrs?.some((a) => acceptsOn(a, s.localAddress))) return "inbound";
    return "outbound";
  });
}

function acceptsOn(listenAddress: string, localAddress: string): boolean {
  if (listenAddress === localAddress) return true;
  if (listenAddress === "::") return true; // dual-stack wildcard also accepts IPv4-mapped peers
  if (listenAddress === "0.0.0.0") return !localAddress.includes(":") || localAddress.startsWith("::ffff:");
  return localAddress === `::ffff:${listenAddress}`;
}
