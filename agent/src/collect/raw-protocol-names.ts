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
  0: "none",
  3: "all",
  2048: "ipv4",
  2054: "arp",
  32821: "rarp",
  33024: "vlan",
  34525: "ipv6",
  34915: "pppoe-discovery",
  34916: "pppoe-session",
  34958: "eapol",
  35020: "lldp",
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
