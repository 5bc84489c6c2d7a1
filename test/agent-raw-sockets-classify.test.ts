// Raw, ping and packet sockets on literal records: their protocol, direction
// and tags with reasons, against a small knowledge base written here; the
// knowledge base's rawSockets field; how the human view and replay show them.

import t from "tap";
import { buildKnowledgeBase, buildPortTable, knowledgeBase, portTable, TAG, type SnapshotRecord } from "@oddwire/shared";
import type { RawProcess, RawSocket } from "oddwire-agent/collect/backend.js";
import { classifySnapshot } from "oddwire-agent/classify/classify-snapshot.js";
import { classifyDirections } from "oddwire-agent/classify/direction.js";
import { renderSnapshot } from "oddwire-agent/render/human-snapshot.js";
import { parseLine } from "oddwire-agent/replay.js";

const ports = buildPortTable({ protocols: { dns: { description: "DNS", tcp: [53], udp: [53] } }, groups: {} });
const kb = buildKnowledgeBase(
  {
    kernelThreads: [],
    binaries: [
      { id: "tcpdump", names: ["tcpdump"], os: ["linux"], class: "tool", outbound: ["dns"], listens: [], rawSockets: ["packet"] },
      { id: "ping", names: ["ping"], os: ["linux"], class: "tool", outbound: ["dns"], listens: [], rawSockets: ["raw", "ping"] },
      { id: "keepalived", names: ["keepalived"], os: ["linux"], class: "server", outbound: ["*"], listens: [], rawSockets: ["raw"], paths: ["/usr/sbin/"] },
      { id: "python", names: ["python3"], os: ["linux"], class: "interpreter", outbound: ["*"], listens: ["*"] },
      { id: "cron", names: ["cron"], os: ["linux"], class: "silent", outbound: [], listens: [] },
    ],
  },
  ports,
);

function proc(pid: number, exe: string, extra: Partial<RawProcess> = {}): RawProcess {
  const name = exe.split("/").pop()!;
  return { pid, ppid: 1, name, exe, cmdline: exe, user: "root", uid: 0, startedAtMs: 1, exeDeleted: false, exeReadPath: "", ...extra };
}

const packetAll = (pid: number, extra: Partial<RawSocket> = {}): RawSocket => ({
  transport: "packet",
  family: 0,
  localAddress: "",
  localPort: 0,
  remoteAddress: "",
  remotePort: 0,
  state: "UNCONN",
  pid,
  uid: 0,
  inode: 1000 + pid,
  netns: 1,
  rawProtocol: 3,
  ifindex: 0,
  ...extra,
});
const rawIcmp = (pid: number, extra: Partial<RawSocket> = {}): RawSocket => ({
  transport: "raw",
  family: 4,
  localAddress: "0.0.0.0",
  localPort: 0,
  remoteAddress: "",
  remotePort: 0,
  state: "UNCONN",
  pid,
  uid: 0,
  inode: 2000 + pid,
  netns: 1,
  rawProtocol: 1,
  ...extra,
});
const ping = (pid: number, extra: Partial<RawSocket> = {}): RawSocket => ({
  transport: "icmp",
  family: 4,
  localAddress: "0.0.0.0",
  localPort: 3101,
  remoteAddress: "",
  remotePort: 0,
  state: "UNCONN",
  pid,
  uid: 1000,
  inode: 3000 + pid,
  netns: 1,
  ...extra,
});

function classify(processes: RawProcess[], sockets: RawSocket[]) {
  return classifySnapshot({ os: "linux", processes, sockets, identities: new Map(), ports, kb, selfPid: 99 });
}

t.test("a packet socket for every frame held by a script is tagged, with what it sees", async (t) => {
  const { sockets } = classify(
    [proc(1, "/usr/bin/python3")],
    [packetAll(1), packetAll(1, { inode: 5, ifindex: 2, rawProtocol: 0x0806 }), packetAll(1, { inode: 6, rawProtocol: 0 })],
  );
  t.same(
    sockets.map((s) => [s.protocol, s.direction, s.rawProtocol, s.family]),
    [
      ["eth-all", "listen", 3, 0],
      ["eth-arp", "listen", 0x0806, 0],
      ["eth-none", "listen", 0, 0],
    ],
  );
  t.same(
    sockets.map((s) => s.tags),
    [
      [
        {
          code: TAG.PACKET_SOCKET,
          reason:
            "the script interpreter python3 (check the script in its command line) holds a packet socket for every frame (ETH_P_ALL) on every interface of the host: only capture tools and network daemons normally do; a BPF-filter backdoor listens this way, and no port shows it",
        },
      ],
      [
        {
          code: TAG.PACKET_SOCKET,
          reason:
            "the script interpreter python3 (check the script in its command line) holds a packet socket for arp frames (EtherType 0x0806) on interface index 2: only capture tools and network daemons normally do; a BPF-filter backdoor listens this way, and no port shows it",
        },
      ],
      [
        {
          code: TAG.PACKET_SOCKET,
          reason:
            "the script interpreter python3 (check the script in its command line) holds a packet socket not yet bound to a protocol (it can be bound to any, or send frames of its own): only capture tools and network daemons normally do; a BPF-filter backdoor listens this way, and no port shows it",
        },
      ],
    ],
  );
});

t.test("the genuine, installed capture tool is not tagged; a copy elsewhere, a replaced one, or a name alone is", async (t) => {
  const { sockets } = classify(
    [
      proc(1, "/usr/bin/tcpdump"),
      proc(2, "/tmp/x/tcpdump"),
      proc(3, "/usr/bin/tcpdump", { exeDeleted: true }),
      // A script run through #! is named after itself, but the executable the kernel reports is the interpreter.
      proc(4, "/usr/bin/python3", { name: "tcpdump", cmdline: "/usr/bin/python3 /usr/local/bin/tcpdump" }),
      proc(5, "", { name: "tcpdump" }),
      proc(6, "/usr/local/sbin/keepalived"),
    ],
    [packetAll(1), packetAll(2), packetAll(3), packetAll(4), packetAll(5), rawIcmp(6, { rawProtocol: 112 })],
  );
  t.same(sockets[0]!.tags, [], "/usr/bin/tcpdump");
  const tail =
    "holds a packet socket for every frame (ETH_P_ALL) on every interface of the host: only capture tools and network daemons normally do; a BPF-filter backdoor listens this way, and no port shows it";
  t.equal(
    sockets[1]!.tags[0]!.reason,
    `tcpdump (runs from /tmp/x, not where tcpdump is installed (/usr/bin/, /usr/sbin/, /bin/, /sbin/, /usr/lib/, /usr/libexec/, /lib/, /usr/local/bin/, /usr/local/sbin/, /opt/, /snap/)) ${tail}`,
  );
  t.same(
    sockets[1]!.tags.map((x) => x.code),
    [TAG.PACKET_SOCKET, TAG.WRITABLE_DIR_EXE],
    "the process's own temp-directory tag follows",
  );
  t.equal(sockets[2]!.tags[0]!.reason, `tcpdump (its executable /usr/bin/tcpdump was deleted or replaced after it started) ${tail}`);
  t.equal(sockets[3]!.tags[0]!.reason, `the script interpreter python3 (check the script in its command line) ${tail}`);
  t.equal(sockets[4]!.tags[0]!.reason, `a process calling itself "tcpdump" (its executable could not be read, so what it runs is unknown) ${tail}`);
  t.equal(
    sockets[5]!.tags[0]!.reason,
    "keepalived (runs from /usr/local/sbin, not where keepalived is installed (/usr/sbin/)) holds a raw IP socket that receives every IPv4 VRRP packet (protocol 112) reaching the host, whatever the port, and can forge its own: only ping, traceroute and routing or DHCP daemons normally do; ICMP tunnels and port-knocking backdoors receive this way, and no port shows it",
    "a profile's own paths win over the default install directories",
  );
});

t.test("raw IP sockets: tagged unless the binary is listed for them; IPPROTO_RAW and connected ones in words", async (t) => {
  const { sockets } = classify(
    [proc(1, "/usr/bin/ping"), proc(2, "/usr/bin/tcpdump"), proc(3, "/usr/sbin/cron"), proc(4, "/opt/agent/agent")],
    [rawIcmp(1), rawIcmp(2), rawIcmp(3, { rawProtocol: 255 }), rawIcmp(4, { family: 6, localAddress: "::", rawProtocol: 200, state: "ESTABLISHED", remoteAddress: "2001:db8::1" })],
  );
  t.same(sockets[0]!.tags, [], "ping holds raw ICMP sockets");
  const tail = ": only ping, traceroute and routing or DHCP daemons normally do; ICMP tunnels and port-knocking backdoors receive this way, and no port shows it";
  t.same(
    sockets[1]!.tags,
    [
      {
        code: TAG.RAW_SOCKET,
        reason: `tcpdump holds a raw IP socket that receives every IPv4 ICMP packet (protocol 1) reaching the host, whatever the port, and can forge its own${tail}`,
      },
    ],
    "tcpdump is listed for packet sockets only",
  );
  t.same(sockets[2]!.tags, [
    { code: TAG.RAW_SOCKET, reason: `cron holds a raw IP socket (IPPROTO_RAW) that sends packets with headers it writes itself, any protocol and any source address${tail}` },
  ]);
  t.same(sockets[3]!.tags, [
    {
      code: TAG.RAW_SOCKET,
      reason: `agent holds a raw IP socket connected to 2001:db8::1 that receives every IPv6 packet (protocol 200) reaching the host, whatever the port, and can forge its own${tail}`,
    },
  ]);
  t.same(
    sockets.map((s) => [s.protocol, s.direction]),
    [
      ["icmp", "listen"],
      ["icmp", "listen"],
      ["raw", "listen"],
      ["ip proto 200", "outbound"],
    ],
  );
});

t.test("ping sockets: normal for ping, tagged for anything else", async (t) => {
  const { sockets } = classify(
    [proc(1, "/usr/bin/ping"), proc(2, "/usr/bin/node")],
    [ping(1), ping(2, { state: "ESTABLISHED", remoteAddress: "198.51.100.7" }), ping(1, { family: 6, localAddress: "::", inode: 9 })],
  );
  t.same(sockets[0]!.tags, []);
  t.same(sockets[1]!.tags, [
    {
      code: TAG.PING_SOCKET,
      reason: "node holds an ICMP echo (ping) socket to 198.51.100.7: only ping tools normally do; an ICMP tunnel carries its data in echo payloads this way",
    },
  ]);
  t.same(
    sockets.map((s) => [s.protocol, s.direction, s.rawProtocol]),
    [
      ["icmp", "listen", 0],
      ["icmp", "outbound", 0],
      ["icmpv6", "listen", 0],
    ],
  );
});

t.test("the agent's own raw sockets and TCP sockets are not touched", async (t) => {
  const { sockets } = classify(
    [proc(99, "/usr/bin/node")],
    [packetAll(99), { ...rawIcmp(99), transport: "tcp", localPort: 40000, remoteAddress: "127.0.0.1", remotePort: 53, state: "ESTABLISHED", rawProtocol: undefined }],
  );
  t.same(sockets[0]!.tags, []);
  t.equal(sockets[1]!.protocol, "dns");
  t.notOk("rawProtocol" in sockets[1]!, "tcp and udp records carry no rawProtocol");
});

t.test("a connected raw socket is outbound, never inbound, beside an unconnected one", async (t) => {
  t.same(classifyDirections([rawIcmp(1), rawIcmp(2, { localAddress: "10.0.0.5", remoteAddress: "10.0.0.9", state: "ESTABLISHED" })]), ["listen", "outbound"]);
});

t.test("knowledge base: rawSockets must be a list of packet, raw, ping", async (t) => {
  const base = { id: "x", names: ["x"], os: ["linux"], class: "tool", outbound: [], listens: [] };
  for (const bad of [["tcp"], [], "packet"]) {
    t.throws(() => buildKnowledgeBase({ kernelThreads: [], binaries: [{ ...base, rawSockets: bad }] }, ports), {
      code: "ODW_ERR_DATA",
      message: 'binaries.json: binary "x": "rawSockets" must be a non-empty list of packet, raw, ping',
    });
  }
  const shipped = knowledgeBase();
  for (const name of ["tcpdump", "dumpcap", "tshark", "dhclient", "networkmanager", "systemd-networkd", "arping", "lldpd", "keepalived", "wpa_supplicant", "hostapd"]) {
    t.ok(shipped.lookup(name)?.rawSockets?.includes("packet"), `${name} holds packet sockets`);
  }
  for (const name of ["ping", "fping", "traceroute", "mtr-packet"]) t.ok(shipped.lookup(name)?.rawSockets?.includes("raw"), `${name} holds raw sockets`);
  t.notOk(shipped.lookup("python3")?.rawSockets, "python3 holds none");
});

t.test("human view: packet, raw and ping sockets without ports", async (t) => {
  const { processes, sockets } = classify(
    [proc(1, "/usr/bin/python3"), proc(2, "/usr/bin/ping")],
    [packetAll(1), rawIcmp(2, { remoteAddress: "127.0.0.1", state: "ESTABLISHED" }), ping(2)],
  );
  const snap: SnapshotRecord = {
    hostId: "h",
    hostname: "box",
    os: "linux",
    osVersion: "12",
    arch: "x64",
    agentVersion: "0",
    takenAtMs: 0,
    processes,
    sockets,
    partial: false,
    warnings: [],
  };
  const text = renderSnapshot(snap);
  t.match(text, "\n  packet listen eth-all  *  UNCONN\n");
  t.match(text, "    [packet-socket] the script interpreter python3");
  t.match(text, /\n {2}packet +listen +eth-all +\* +- +UNCONN +python3\(1\) +packet-socket\n/);
  t.match(text, /\n {2}raw4 +outbound +icmp +0\.0\.0\.0 +127\.0\.0\.1 +ESTABLISHED +ping\(2\)\n/);
  t.match(text, /\n {2}icmp4 +listen +icmp +0\.0\.0\.0 id 3101 +- +UNCONN +ping\(2\)\n/);
});

t.test("replay accepts raw, ping and packet sockets and classifies them", async (t) => {
  const line = JSON.stringify({
    hostId: "replayed-1",
    os: "linux",
    processes: [{ pid: 7, name: "python3", exe: "/usr/bin/python3", cmdline: "python3 sniff.py" }],
    sockets: [
      { transport: "packet", pid: 7, state: "UNCONN", inode: 11, rawProtocol: 3 },
      { transport: "raw", family: 4, localAddress: "0.0.0.0", pid: 7, state: "UNCONN", inode: 12, rawProtocol: 1 },
      { transport: "icmp", family: 4, localAddress: "0.0.0.0", localPort: 5, pid: 7, state: "UNCONN", inode: 13 },
    ],
  });
  const snap = parseLine(line, portTable(), knowledgeBase());
  t.same(
    snap.sockets.map((s) => [s.transport, s.family, s.protocol, s.rawProtocol, s.tags.map((x) => x.code)]),
    [
      ["packet", 0, "eth-all", 3, [TAG.PACKET_SOCKET]],
      ["raw", 4, "icmp", 1, [TAG.RAW_SOCKET]],
      ["icmp", 4, "icmp", 0, [TAG.PING_SOCKET]],
    ],
  );
  t.throws(
    () => parseLine(JSON.stringify({ hostId: "h", os: "linux", sockets: [{ transport: "sctp" }] }), portTable(), knowledgeBase()),
    /sockets\[0\]\.transport "sctp" must be tcp, udp, raw, icmp or packet/,
  );
});
