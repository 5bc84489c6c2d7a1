// Tags for one classified flow, from what its port implies and what the wire
// showed (nDPI's name for the protocol, its confidence, its risks). Each
// reason says both, and the destination's name where the traffic carried one.

import { TAG, type Tag } from "@oddwire/shared";

/**
 * What nDPI may call the traffic on a port whose protocol the port table
 * names, by that name (its master protocol: "TLS" of "TLS.Google"). A port
 * protocol not listed here is not judged (its risks still are).
 */
export const WIRE_CONFORMS: Readonly<Record<string, readonly string[]>> = {
  https: ["TLS", "QUIC", "HTTP2"],
  "https-alt": ["TLS", "QUIC", "HTTP2"],
  http: ["HTTP", "HTTP_Proxy", "HTTP_Connect", "WebSocket"],
  "http-alt": ["HTTP", "HTTP_Proxy", "HTTP_Connect", "WebSocket"],
  dns: ["DNS"],
  ssh: ["SSH"],
  smtp: ["SMTP", "SMTPS", "TLS"],
  submission: ["SMTP", "SMTPS", "TLS"],
  smtps: ["SMTPS", "TLS"],
  imap: ["IMAP", "IMAPS", "TLS"],
  imaps: ["IMAPS", "TLS"],
  pop3: ["POP3", "POP3S", "TLS"],
  pop3s: ["POP3S", "TLS"],
  ftp: ["FTP_CONTROL"],
  telnet: ["Telnet"],
  ntp: ["NTP"],
  rdp: ["RDP", "TLS"],
  mysql: ["MySQL"],
  postgresql: ["PostgreSQL"],
  redis: ["Redis"],
  mqtt: ["MQTT"],
  ldap: ["LDAP"],
  ldaps: ["TLS", "LDAP"],
  smb: ["SMBv23", "SMBv1"],
};

/** "In words" names for the reasons. */
const SPOKEN: Readonly<Record<string, string>> = { TLS: "TLS", HTTP: "plain HTTP", DNS: "DNS", SSH: "SSH" };

export interface WireContext {
  transport: "tcp" | "udp";
  serverPort: number;
  portProtocol: string;
  /** nDPI's name ("HTTP", "TLS.Google"); "" when it could not identify the traffic. */
  wireProtocol: string;
  confidence: string;
  risks: readonly string[];
  names: readonly string[];
  packets: number;
}

/** The protocol nDPI names first ("TLS" of "TLS.Google"). */
export function masterProtocol(wire: string): string {
  const dot = wire.indexOf(".");
  return dot < 0 ? wire : wire.slice(0, dot);
}

/** What kind of destination name a protocol carries: "tls-sni", "http-host", "dns-query", "ssh-software", or "name". */
export function nameKind(wireProtocol: string): string {
  switch (masterProtocol(wireProtocol)) {
    case "TLS":
    case "QUIC":
      return "tls-sni";
    case "HTTP":
    case "HTTP_Proxy":
    case "HTTP_Connect":
      return "http-host";
    case "DNS":
    case "MDNS":
    case "LLMNR":
      return "dns-query";
    case "SSH":
      return "ssh-software";
    default:
      return "name";
  }
}

/** Identified by content (nDPI: "DPI", "DPI (partial)", "DPI (cache)"), not guessed from the port. */
export function byContent(confidence: string): boolean {
  return confidence.startsWith("DPI");
}

export function wireTags(c: WireContext): Tag[] {
  const tags: Tag[] = [];
  const port = `${c.transport.toUpperCase()} port ${c.serverPort}`;
  const expected = WIRE_CONFORMS[c.portProtocol];
  const master = masterProtocol(c.wireProtocol);
  const name = c.names[0];
  if (expected && c.wireProtocol && byContent(c.confidence) && !expected.includes(master)) {
    const what = SPOKEN[master] ?? master;
    const carried = name ? ` (${nameKind(c.wireProtocol) === "ssh-software" ? "software" : "name"} ${JSON.stringify(name)})` : "";
    const not = c.portProtocol === "dns" ? "the flow is not DNS: it is" : "the traffic is";
    tags.push({ code: TAG.WIRE_MISMATCH, reason: `${port} implies ${c.portProtocol}, but ${not} ${what}${carried}, by its content` });
  } else if (expected && !c.wireProtocol && (c.transport === "udp" || c.packets > 3)) {
    tags.push({
      code: TAG.WIRE_UNIDENTIFIED,
      reason: `${port} implies ${c.portProtocol}, but its first packets are no protocol the identification engine knows (${expected.join(" or ")} expected)`,
    });
  }
  const longLabel = master === "DNS" ? longestLabel(c.names) : "";
  if (c.risks.length > 0 || longLabel) {
    const about = name ? ` (${JSON.stringify(name)})` : "";
    const engine = c.risks.length > 0 ? `the identification engine flags this ${c.wireProtocol || "unidentified"} flow on ${port}${about}: ${c.risks.join("; ")}` : "";
    const shape = longLabel
      ? `a DNS question carries a ${longLabel.length}-character label (${JSON.stringify(longLabel.slice(0, 64))}): data encoded in names, the way DNS tunnels send it`
      : "";
    tags.push({ code: TAG.WIRE_RISK, reason: [engine, shape].filter(Boolean).join("; and ") });
  }
  return tags;
}

/**
 * A DNS label this long is rarely a name people chose (RFC 1035 allows 63);
 * tunnels fill labels with encoded data. nDPI's own check for random-looking
 * names ("Suspicious DGA Domain name") depends on the letters drawn; this one
 * on the length alone.
 */
export const DNS_TUNNEL_LABEL = 40;

/** The longest label of the names at or over DNS_TUNNEL_LABEL characters, else "". */
export function longestLabel(names: readonly string[]): string {
  let best = "";
  for (const n of names) for (const label of n.split(".")) if (label.length >= DNS_TUNNEL_LABEL && label.length > best.length) best = label;
  return best;
}
