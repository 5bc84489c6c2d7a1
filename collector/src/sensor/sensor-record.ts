// What oddwire keeps of one line of a network sensor's log (Zeek or
// Suricata): the flow it is about (addresses, ports, Community ID, the
// sensor's own flow key) and, when the line says something worth weighing,
// what it says. Parsers return these; the store keeps only the lines that
// are evidence (anomalies, alerts, protocol mismatches) or context for them
// (names from TLS, HTTP and DNS).

import { portTable } from "@oddwire/shared";

export type SensorSource = "zeek" | "suricata";

/** anomaly: the sensor's protocol analysers objected; alert: a signature matched; protocol: the protocol does not fit the port, or differs by direction; name: a TLS/HTTP/DNS name (context only). */
export type SensorKind = "anomaly" | "alert" | "protocol" | "name";

export interface SensorRecord {
  source: SensorSource;
  /** The sensor's log or event type: conn, weird, dpd, analyzer, notice, ssl, http, dns; flow, anomaly, alert, tls. */
  log: string;
  kind: SensorKind;
  /** Milliseconds since the epoch (the sensor's clock). */
  tsMs: number;
  /** How long the flow lasted, when the line says (Zeek conn duration). */
  durationMs: number;
  /** Zeek uid or Suricata flow_id: ties a sensor's lines about one flow together. */
  flowKey: string;
  /** "1:..." when the sensor logged it, else "". */
  communityId: string;
  /** tcp, udp, icmp, or "" when the line names none. */
  transport: string;
  /** Originator (client) and responder (server), as the sensor saw them; "" and 0 when the line has none. */
  origAddress: string;
  origPort: number;
  respAddress: string;
  respPort: number;
  /** One line for people: "weird: bad_HTTP_request", "app-layer protocol ssh on port 443". */
  text: string;
  /** 0..1: how much this weighs in a finding's score (names: 0). */
  weight: number;
  /** A name the flow was for (SNI, HTTP host, DNS query); "" when none. */
  name: string;
}

/** A line was read but is not kept (a plain flow, a log oddwire does not use). */
export const SKIP = null;

/** What a parser makes of one line: a record, SKIP, or an error for this line only. */
export type ParsedLine = SensorRecord | typeof SKIP | { error: string };

/** Bounds on what one record may carry (log fields are attacker-controlled: a crafted HTTP host or weird addl). */
export const MAX_TEXT_CHARS = 300;
export const MAX_NAME_CHARS = 255;
export const MAX_KEY_CHARS = 64;

export function clip(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

export function isParseError(p: ParsedLine): p is { error: string } {
  return p !== null && "error" in p;
}

/** Sensors' names for application protocols → the names of oddwire's port table that mean the same. */
const SAME_PROTOCOL: Record<string, readonly string[]> = {
  ssl: [
    "https",
    "https-alt",
    "tls",
    "smtps",
    "imaps",
    "pop3s",
    "ldaps",
    "ftps",
    "ircs",
    "nntps",
    "sips",
    "amqps",
    "mqtts",
    "syslog-tls",
    "stuns",
    "dot",
    "submission",
    "xmpp-client",
    "xmpp-server",
    "kubernetes-api",
    "kubelet",
    "docker",
    "vault",
    "etcd",
    "winrm",
    "rdp",
    "ldap",
    "smtp",
    "imap",
    "pop3",
    "ftp",
  ],
  http: [
    "http",
    "http-alt",
    "http-proxy",
    "msrpc-http",
    "winrm",
    "elasticsearch",
    "kibana",
    "couchdb",
    "prometheus",
    "solr",
    "docker",
    "kubernetes-api",
    "ipp",
    "cups-browsing",
    "consul",
    "vault",
  ],
  dns: ["dns", "mdns", "llmnr"],
  ssh: ["ssh"],
  smtp: ["smtp", "submission", "lmtp"],
  ftp: ["ftp"],
  "ftp-data": ["ftp-data"],
  irc: ["irc", "ircs"],
  dhcp: ["dhcp", "dhcpv6"],
  ntp: ["ntp"],
  krb: ["kerberos", "kpasswd"],
  krb_tcp: ["kerberos", "kpasswd"],
  smb: ["smb", "netbios-ssn"],
  dce_rpc: ["msrpc", "smb", "netbios-ssn"],
  dcerpc: ["msrpc", "smb", "netbios-ssn"],
  rdp: ["rdp"],
  rdpeudp: ["rdp"],
  ldap: ["ldap", "ldap-gc"],
  ldap_tcp: ["ldap", "ldap-gc"],
  mysql: ["mysql"],
  postgresql: ["postgresql"],
  snmp: ["snmp", "snmp-trap"],
  sip: ["sip"],
  socks: ["socks"],
  imap: ["imap"],
  pop3: ["pop3"],
  modbus: ["modbus"],
  dnp3: ["dnp3"],
  mqtt: ["mqtt"],
  vnc: ["vnc"],
  quic: ["https", "https-alt"],
  syslog: ["syslog"],
  tftp: ["tftp"],
  nfs: ["nfs", "rpcbind"],
  telnet: ["telnet"],
  bittorrent: ["bittorrent"],
};
SAME_PROTOCOL["tls"] = SAME_PROTOCOL["ssl"]!;
SAME_PROTOCOL["http2"] = SAME_PROTOCOL["http"]!.concat(SAME_PROTOCOL["ssl"]!);
SAME_PROTOCOL["http1"] = SAME_PROTOCOL["http"]!;

/**
 * Does a sensor's protocol name (Zeek service, Suricata app_proto) fit the
 * port it was seen on? True when the port has no registered protocol, when
 * the sensor's name is unknown to oddwire (no basis to object), or when they
 * agree.
 */
export function protocolFitsPort(sensorProtocol: string, transport: string, port: number): boolean {
  if (transport !== "tcp" && transport !== "udp") return true;
  const expected = portTable().protocolOf(transport, port);
  if (expected === "unknown") return true;
  const same = SAME_PROTOCOL[sensorProtocol.toLowerCase()];
  if (!same) return sensorProtocol.toLowerCase() === expected || !portTable().protocols.has(sensorProtocol.toLowerCase());
  return same.includes(expected) || sensorProtocol.toLowerCase() === expected;
}

/** A Zeek/Suricata transport name as oddwire spells it ("TCP" → "tcp", "IPv6-ICMP" → "icmp"). */
export function transportOf(proto: unknown): string {
  const p = String(proto ?? "").toLowerCase();
  if (p === "tcp" || p === "udp") return p;
  if (p === "icmp" || p === "ipv6-icmp" || p === "icmp6" || p === "icmpv6") return "icmp";
  if (p === "sctp") return "sctp";
  return "";
}

/** A port number from a log field, or 0. */
export function portOf(v: unknown): number {
  const n = typeof v === "number" ? v : Number(v);
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : 0;
}
