// Names for what a raw or packet socket is bound to: the IP protocol number
// of a raw socket, the EtherType of a packet socket. Used by the /proc
// parsers and, for replayed snapshots from any OS, by classification.

const IP_PROTOCOLS: Record<number, string> = {
  0: "ip",
  1: "icmp",
  2: "igmp",
  4: "ipip",
  6: "tcp",
  17: "udp",
  41: "ipv6",
  47: "gre",
  50: "esp",
  51: "ah",
  58: "icmpv6",
  89: "ospf",
  103: "pim",
  112: "vrrp",
  132: "sctp",
  255: "raw",
};

const ETHER_TYPES: Record<number, string> = {
  0x0000: "none",
  0x0003: "all",
  0x0800: "ipv4",
  0x0806: "arp",
  0x8035: "rarp",
  0x8100: "vlan",
  0x86dd: "ipv6",
  0x8863: "pppoe-discovery",
  0x8864: "pppoe-session",
  0x888e: "eapol",
  0x88cc: "lldp",
};

/** ETH_P_ALL in host order, as /proc/net/packet shows it: every frame of every protocol. */
export const ETH_P_ALL = 0x0003;

/** 255 (IPPROTO_RAW): send-only, the caller writes the whole IP header. */
export const IPPROTO_RAW = 255;

/** "icmp", "gre", ...; "ip proto 200" for one without a name here. */
export function ipProtocolName(n: number): string {
  return IP_PROTOCOLS[n] ?? `ip proto ${n}`;
}

/** "all", "arp", "ipv4", ...; "0x88b5" for one without a name here. */
export function etherTypeName(n: number): string {
  return ETHER_TYPES[n] ?? `0x${n.toString(16).padStart(4, "0")}`;
}
