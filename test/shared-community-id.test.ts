// Community ID v1 against the specification's published baseline vectors
// (test/fixtures/community-id/baseline.json, copied as data from the spec's
// repository), and on the shapes oddwire's own records take.

import { readFileSync } from "node:fs";
import t from "tap";
import { addressBytes, communityId, ipProtoOf } from "@oddwire/shared";

interface Vector {
  proto: number;
  saddr: string;
  daddr: string;
  sport: number | null;
  dport: number | null;
  communityid: string;
}
const baseline = JSON.parse(readFileSync(new URL("../fixtures/community-id/baseline.json", import.meta.url), "utf8")) as { seed0: Vector[]; seed1: Vector[] };

for (const [seed, vectors] of [
  [0, baseline.seed0],
  [1, baseline.seed1],
] as const) {
  t.test(`every published vector with seed ${seed}`, async (t) => {
    t.ok(vectors.length >= 20);
    for (const v of vectors) {
      const flow = {
        proto: v.proto,
        srcAddress: v.saddr,
        dstAddress: v.daddr,
        ...(v.sport === null ? {} : { srcPort: v.sport }),
        ...(v.dport === null ? {} : { dstPort: v.dport }),
      };
      t.equal(communityId(flow, seed), v.communityid, `${v.proto} ${v.saddr}:${v.sport} → ${v.daddr}:${v.dport}`);
    }
  });
}

t.test("both directions of a flow hash alike; ports decide between equal addresses", async (t) => {
  const a = communityId({ proto: 6, srcAddress: "127.0.0.1", srcPort: 40000, dstAddress: "127.0.0.1", dstPort: 443 });
  const b = communityId({ proto: 6, srcAddress: "127.0.0.1", srcPort: 443, dstAddress: "127.0.0.1", dstPort: 40000 });
  t.equal(a, b);
  t.match(a, /^1:[A-Za-z0-9+/]{27}=$/);
  t.not(a, communityId({ proto: 17, srcAddress: "127.0.0.1", srcPort: 40000, dstAddress: "127.0.0.1", dstPort: 443 }), "the protocol is part of the hash");
});

t.test("an IPv4-mapped IPv6 address hashes as the IPv4 packet on the wire", async (t) => {
  const v4 = communityId({ proto: 6, srcAddress: "192.168.1.52", srcPort: 1, dstAddress: "10.0.0.1", dstPort: 2 });
  t.equal(communityId({ proto: 6, srcAddress: "::ffff:192.168.1.52", srcPort: 1, dstAddress: "::FFFF:10.0.0.1", dstPort: 2 }), v4);
});

t.test("address forms: compressed, zone ids, brackets, embedded IPv4; nonsense is refused", async (t) => {
  t.same([...(addressBytes("::1") ?? [])], [...Buffer.alloc(15), 1]);
  t.same(addressBytes("fe80::1%eth0"), addressBytes("fe80:0:0:0:0:0:0:1"));
  t.same(addressBytes("[2001:db8::5]"), addressBytes("2001:db8:0:0:0:0:0:5"));
  t.same(addressBytes("64:ff9b::192.0.2.33"), addressBytes("64:ff9b::c000:221"));
  for (const bad of ["", "*", "1.2.3", "1.2.3.256", "::g", "1::2::3", "localhost"]) t.equal(addressBytes(bad), undefined, bad);
  t.equal(communityId({ proto: 6, srcAddress: "*", srcPort: 1, dstAddress: "127.0.0.1", dstPort: 2 }), "", "no ID for an address it cannot read");
  t.equal(communityId({ proto: 6, srcAddress: "::1", srcPort: 1, dstAddress: "127.0.0.1", dstPort: 2 }), "", "no ID across families");
});

t.test("transport names map to IP protocol numbers", async (t) => {
  t.equal(ipProtoOf("tcp", 4), 6);
  t.equal(ipProtoOf("udp", 6), 17);
  t.equal(ipProtoOf("icmp", 4), 1);
  t.equal(ipProtoOf("icmp", 6), 58);
  t.equal(ipProtoOf("raw", 4), undefined);
  t.equal(ipProtoOf("packet", 4), undefined);
});
