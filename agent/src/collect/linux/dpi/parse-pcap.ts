// The pcap stream tcpdump writes (`-w -`), read incrementally: the global
// header, then one record per packet. Pure: bytes in, packets out. Each
// packet's IP header is located from the link type, and the 5-tuple read
// from it, so the capture can keep only the first packets of each flow.

/** Link types tcpdump writes on Linux: Ethernet, raw IP, Linux cooked v1 and v2 (`-i any`), loopback (BSD null). */
export const LINKTYPE = { NULL: 0, ETHERNET: 1, RAW: 101, LINUX_SLL: 113, LINUX_SLL2: 276 } as const;

export interface PcapPacket {
  tsMs: number;
  /** The IP packet (header onwards) as captured, up to the snap length: a view into the stream's chunk (copy what is kept). */
  ip: Buffer;
  /** Length on the wire, link header excluded. */
  wireLength: number;
}

export interface PacketTuple {
  transport: "tcp" | "udp";
  family: 4 | 6;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** TCP SYN without ACK: the sender opens the flow. */
  syn: boolean;
  /** TCP FIN or RST. */
  end: boolean;
}

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

/** Bytes before the IP header for a link type; -1 for one this reader does not know. */
export function linkHeaderLength(linktype: number, frame: Buffer): number {
  switch (linktype) {
    case LINKTYPE.RAW:
      return 0;
    case LINKTYPE.NULL:
      return 4;
    case LINKTYPE.LINUX_SLL:
      return 16;
    case LINKTYPE.LINUX_SLL2:
      return 20;
    case LINKTYPE.ETHERNET: {
      // One 802.1Q tag at most.
      if (frame.length >= 18 && frame.readUInt16BE(12) === 0x8100) return 18;
      return 14;
    }
    default:
      return -1;
  }
}

/** Reads a pcap byte stream in chunks of any size. */
export class PcapStreamParser {
  private buf: Buffer = Buffer.alloc(0);
  private little = true;
  private nanos = false;
  linktype = -1;
  snaplen = 0;

  /** Feeds bytes; returns the complete packets they finish. Throws on a stream that is not pcap. */
  push(chunk: Buffer): PcapPacket[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: PcapPacket[] = [];
    let pos = 0;
    if (this.linktype < 0) {
      if (this.buf.length < GLOBAL_HEADER) return out;
      const magic = this.buf.readUInt32LE(0);
      if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) this.little = true;
      else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) this.little = false;
      else throw new Error(`not a pcap stream (magic 0x${magic.toString(16)})`);
      this.nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
      this.snaplen = this.u32(16);
      this.linktype = this.u32(20) & 0x0fffffff;
      pos = GLOBAL_HEADER;
    }
    while (this.buf.length - pos >= RECORD_HEADER) {
      const sec = this.u32(pos);
      const frac = this.u32(pos + 4);
      const incl = this.u32(pos + 8);
      const orig = this.u32(pos + 12);
      if (incl > 262_144) throw new Error(`pcap record of ${incl} bytes: the stream is corrupt`);
      if (this.buf.length - pos - RECORD_HEADER < incl) break;
      const frame = this.buf.subarray(pos + RECORD_HEADER, pos + RECORD_HEADER + incl);
      pos += RECORD_HEADER + incl;
      const skip = linkHeaderLength(this.linktype, frame);
      if (skip < 0 || frame.length <= skip) continue;
      out.push({ tsMs: sec * 1000 + (this.nanos ? Math.floor(frac / 1e6) : Math.floor(frac / 1e3)), ip: frame.subarray(skip), wireLength: Math.max(0, orig - skip) });
    }
    this.buf = pos === 0 ? this.buf : this.buf.subarray(pos);
    return out;
  }

  private u32(at: number): number {
    return this.little ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }
}

/** The transport 5-tuple of an IP packet; null for anything but TCP and UDP, fragments past the first, or a cut header. */
export function packetTuple(ip: Buffer): PacketTuple | null {
  if (ip.length < 1) return null;
  const version = ip[0]! >> 4;
  let proto: number;
  let l4: number;
  let src: string;
  let dst: string;
  let family: 4 | 6;
  if (version === 4) {
    if (ip.length < 20) return null;
    const ihl = (ip[0]! & 0x0f) * 4;
    if (ip.readUInt16BE(6) & 0x1fff) return null; // a later fragment: no ports
    proto = ip[9]!;
    l4 = ihl;
    src = `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
    dst = `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`;
    family = 4;
  } else if (version === 6) {
    if (ip.length < 40) return null;
    proto = ip[6]!; // extension headers are not followed: such packets are not classified
    l4 = 40;
    src = ipv6Text(ip.subarray(8, 24));
    dst = ipv6Text(ip.subarray(24, 40));
    family = 6;
  } else return null;
  if (proto === 6) {
    if (ip.length < l4 + 14) return null;
    const flags = ip[l4 + 13]!;
    return { transport: "tcp", family, src, srcPort: ip.readUInt16BE(l4), dst, dstPort: ip.readUInt16BE(l4 + 2), syn: (flags & 0x12) === 0x02, end: (flags & 0x05) !== 0 };
  }
  if (proto === 17) {
    if (ip.length < l4 + 4) return null;
    return { transport: "udp", family, src, srcPort: ip.readUInt16BE(l4), dst, dstPort: ip.readUInt16BE(l4 + 2), syn: false, end: false };
  }
  return null;
}

/** RFC 5952 text of 16 address bytes (longest run of zero words as "::"). */
export function ipv6Text(b: Buffer): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** A pcap file of raw IP packets (link type RAW), as ndpiReader reads it. */
export function pcapFileHeader(snaplen: number): Buffer {
  const h = Buffer.alloc(GLOBAL_HEADER);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(snaplen, 16);
  h.writeUInt32LE(LINKTYPE.RAW, 20);
  return h;
}

export function pcapRecord(p: PcapPacket): Buffer {
  const h = Buffer.alloc(RECORD_HEADER);
  h.writeUInt32LE(Math.floor(p.tsMs / 1000), 0);
  h.writeUInt32LE((p.tsMs % 1000) * 1000, 4);
  h.writeUInt32LE(p.ip.length, 8);
  h.writeUInt32LE(Math.max(p.wireLength, p.ip.length), 12);
  return Buffer.concat([h, p.ip]);
}
