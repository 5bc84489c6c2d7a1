// One socket in words, for tag reasons and the human view:
// "outbound tcp to 127.0.0.1:4444 (unknown protocol)".

import type { Direction } from "./model.js";

/** What a socket's description needs: the agent's raw sockets and the collector's stored rows both have it. */
export interface SocketEndpoints {
  transport: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

export function endpoint(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

export function describeSocket(s: SocketEndpoints, direction: Direction, protocol: string): string {
  if (s.transport === "packet") return `packet socket for ${protocol} frames`;
  if (s.transport === "raw" || s.transport === "icmp") {
    const what = s.transport === "raw" ? `raw ${protocol} socket` : `${protocol} echo (ping) socket`;
    return s.remoteAddress ? `${what} connected to ${s.remoteAddress}` : `${what} on ${s.localAddress}`;
  }
  const proto = protocol === "unknown" ? "unknown protocol" : protocol;
  switch (direction) {
    case "listen":
      return `listening on ${s.transport} ${endpoint(s.localAddress, s.localPort)} (${proto})`;
    case "inbound":
      return `inbound ${s.transport} on port ${s.localPort} (${proto}) from ${endpoint(s.remoteAddress, s.remotePort)}`;
    case "outbound":
      return `outbound ${s.transport} to ${endpoint(s.remoteAddress, s.remotePort)} (${proto})`;
  }
}
