// Raw, ping and packet socket tables: literal rows as the kernel writes them,
// then a real raw ICMP socket found in /proc/net/raw and traced to its pid,
// then a whole snapshot of real holders: python3 with a raw ICMP socket and
// with a packet socket for every frame (tagged), tcpdump capturing on lo (not
// tagged) and a copy of tcpdump run from a temp directory (tagged); ping on
// loopback (not tagged); a raw socket in another network namespace.

import t from "tap";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TAG } from "@oddwire/shared";
import { parseProcNetIcmp, parseProcNetPacket, parseProcNetRaw } from "oddwire-agent/collect/linux/parse-proc-net-raw.js";
import { readProcessTable } from "oddwire-agent/collect/linux/process-table.js";
import { readSocketOwners } from "oddwire-agent/collect/linux/socket-owners.js";
import { takeSnapshot } from "oddwire-agent/snapshot.js";
import { kill, startQuiet, startUntilLine } from "./lib/child-processes.js";
import { waitFor } from "./lib/fleet.js";

const RAW = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 215: 0100007F:0001 0100007F:0000 01 00000000:00000000 00:00000000 00000000     0        0 106723 2 0000000046ab6a19 0
 243: 0100007F:0011 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 106724 2 00000000d117ed76 0
 255: 00000000:00FF 00000000:0000 07 00000000:00000000 00:00000000 00000000   998        0 106730 2 0000000000000000 12
  47: 00000000:002F 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 106731 2 0000000000000000 0
 not a row
`;

const RAW6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   96: 00000000000000000000000000000000:003A 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 106725 2 0000000035252df2 0
   58: 00000000000000000000000001000000:003A 00000000000000000000000001000000:0000 01 00000000:00000000 00:00000000 00000000  1000        0 106726 2 0000000035252df2 0
`;

// Ping sockets (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)), allowed by net.ipv4.ping_group_range.
const ICMP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops             
   12: 00000000:0C1D 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 2001 2 0000000000000000 0
   40: 0100007F:0028 0100007F:0000 01 00000000:00000000 00:00000000 00000000  1000        0 2002 2 0000000000000000 0
`;
const ICMP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  18: 00000000000000000000000001000000:0012 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 2003 2 0000000000000000 0
`;

const PACKET = `sk               RefCnt Type Proto  Iface R Rmem   User   Inode
000000009802bf91 3      3    0003   0     1 3328   0      106726
000000007b3755a1 3      2    0800   1     1 0      0      106727
0000000011111111 3      3    88cc   2     0 0      101    106728
0000000022222222 3      10   0000   0     1 0      0      106729
zzzz 3 3 0003 0 1 0 0 1
0000000033333333 3      3    0003   0     1 0      0
`;

t.test("/proc/net/raw: the protocol sits where a port would", async (t) => {
  t.same(parseProcNetRaw(RAW, 4), [
    { kind: "raw", family: 4, protocol: 1, protocolName: "icmp", localAddress: "127.0.0.1", remoteAddress: "127.0.0.1", state: "ESTABLISHED", uid: 0, inode: 106723 },
    { kind: "raw", family: 4, protocol: 17, protocolName: "udp", localAddress: "127.0.0.1", remoteAddress: "", state: "UNCONN", uid: 0, inode: 106724 },
    { kind: "raw", family: 4, protocol: 255, protocolName: "raw", localAddress: "0.0.0.0", remoteAddress: "", state: "UNCONN", uid: 998, inode: 106730 },
    { kind: "raw", family: 4, protocol: 47, protocolName: "gre", localAddress: "0.0.0.0", remoteAddress: "", state: "UNCONN", uid: 0, inode: 106731 },
  ]);
  t.same(parseProcNetRaw(RAW.split("\n")[0]!, 4), [], "header only");
  t.same(parseProcNetRaw("", 4), []);
});

t.test("/proc/net/raw6", async (t) => {
  t.same(
    parseProcNetRaw(RAW6, 6).map((r) => [r.protocolName, r.localAddress, r.remoteAddress, r.state, r.uid, r.inode]),
    [
      ["icmpv6", "::", "", "UNCONN", 0, 106725],
      ["icmpv6", "::1", "::1", "ESTABLISHED", 1000, 106726],
    ],
  );
});

t.test("/proc/net/icmp and icmp6: ping sockets and their echo identifiers", async (t) => {
  t.same(parseProcNetIcmp(ICMP, 4), [
    { kind: "icmp", family: 4, ident: 3101, localAddress: "0.0.0.0", remoteAddress: "", state: "UNCONN", uid: 1000, inode: 2001 },
    { kind: "icmp", family: 4, ident: 40, localAddress: "127.0.0.1", remoteAddress: "127.0.0.1", state: "ESTABLISHED", uid: 1000, inode: 2002 },
  ]);
  t.match(parseProcNetIcmp(ICMP6, 6), [{ family: 6, ident: 18, localAddress: "::1", inode: 2003 }]);
});

t.test("/proc/net/packet: frames for all protocols, by protocol, unknown types kept", async (t) => {
  t.same(
    parseProcNetPacket(PACKET),
    [
      { kind: "packet", type: "raw", etherType: 3, etherTypeName: "all", ifindex: 0, running: true, uid: 0, inode: 106726 },
      { kind: "packet", type: "dgram", etherType: 0x800, etherTypeName: "ipv4", ifindex: 1, running: true, uid: 0, inode: 106727 },
      { kind: "packet", type: "raw", etherType: 0x88cc, etherTypeName: "lldp", ifindex: 2, running: false, uid: 101, inode: 106728 },
      { kind: "packet", type: "type 10", etherType: 0, etherTypeName: "none", ifindex: 0, running: true, uid: 0, inode: 106729 },
    ],
    "the header, a non-hex sk and a short row are skipped",
  );
});

t.test(
  "a real raw ICMP socket appears in /proc/net/raw and is traced to its pid",
  { skip: process.platform !== "linux" ? "Linux only" : process.getuid?.() !== 0 ? "raw sockets need root (CAP_NET_RAW)" : false },
  async (t) => {
    // The script prints its socket's inode (fstat of the fd) and waits for stdin to close.
    const script = "import os,socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP)\nprint(os.fstat(s.fileno()).st_ino,flush=True)\nsys.stdin.read()\n";
    const child = spawn("python3", ["-c", script], { stdio: ["pipe", "pipe", "pipe"] });
    t.teardown(() => kill(child));
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d) => {
        out += d;
        if (out.includes("\n")) resolve(out.trim());
      });
      child.on("exit", (code) => reject(new Error(`python3 exited with ${code}: ${err}`)));
      child.on("error", reject);
    });
    const inode = Number(line);
    t.ok(inode > 0, "the script gave its socket's inode");

    const row = parseProcNetRaw(readFileSync("/proc/net/raw", "utf8"), 4).find((r) => r.inode === inode);
    t.match(row, { kind: "raw", protocol: 1, protocolName: "icmp", localAddress: "0.0.0.0", state: "UNCONN", uid: 0 });

    const { owners } = readSocketOwners("/proc", readProcessTable("/proc").processes);
    t.equal(owners.get(inode), child.pid, "the inode's owner, found through /proc/<pid>/fd, is the script");
    child.stdin!.end();
  },
);

const TCPDUMP = "/usr/bin/tcpdump";

/** Inodes of the sockets a process holds, from its /proc/<pid>/fd links. */
function socketInodesOf(pid: number): number[] {
  const inodes: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.push(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

function holdsPacketSocket(pid: number): boolean {
  const packet = new Set(parseProcNetPacket(readFileSync("/proc/net/packet", "utf8")).map((r) => r.inode));
  return socketInodesOf(pid).some((i) => packet.has(i));
}

const notRoot = process.platform !== "linux" ? "Linux only" : process.getuid?.() !== 0 ? "raw and packet sockets need root (CAP_NET_RAW)" : false;
const noTcpdump = existsSync(TCPDUMP) ? false : `${TCPDUMP} is not installed`;

t.test("a snapshot holds real raw and packet sockets with their owners, tagging all but the genuine tcpdump", { skip: notRoot || noTcpdump }, async (t) => {
  // Each script prints its socket's inode, then waits to be killed.
  const hold = (open: string) => `import os,signal,socket\ns=${open}\nprint(os.fstat(s.fileno()).st_ino,flush=True)\nsignal.pause()\n`;
  const raw = await startUntilLine(t, "python3", ["-c", hold("socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP)")]);
  const packet = await startUntilLine(t, "python3", ["-c", hold("socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(3))")]);

  // The genuine tcpdump, and a copy of it run from a temp directory; both capture on lo only.
  const temp = mkdtempSync(join(tmpdir(), "oddwire-raw-"));
  t.teardown(() => rmSync(temp, { recursive: true, force: true }));
  const copy = join(temp, "tcpdump");
  copyFileSync(TCPDUMP, copy);
  const capture = ["-i", "lo", "-c", "1000000", "-w", "/dev/null"];
  const genuine = await startQuiet(t, TCPDUMP, capture);
  const impostor = await startQuiet(t, copy, capture);
  for (const [what, child] of [
    ["tcpdump", genuine],
    ["its copy", impostor],
  ] as const) {
    await waitFor(
      `${what} to open its packet socket`,
      () => {
        if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
        return holdsPacketSocket(child.pid!);
      },
      30000,
      20,
    ).catch((err) => {
      throw child.exitCode !== null ? new Error(`${what} exited with ${child.exitCode} before opening a packet socket`) : err;
    });
  }

  const { snapshot: s } = await takeSnapshot({ stateDir: t.testdir() });
  const socketsOf = (pid: number, transport: string) => s.sockets.filter((k) => k.pid === pid && k.transport === transport);
  const codes = (k: { tags: { code: string }[] }) => k.tags.map((x) => x.code);

  const [rawSock] = socketsOf(raw.pid, "raw");
  t.match(
    rawSock,
    { transport: "raw", family: 4, rawProtocol: 1, protocol: "icmp", direction: "listen", state: "UNCONN", inode: Number(raw.line), uid: 0, localAddress: "0.0.0.0", localPort: 0 },
    "python3's raw ICMP socket, by its inode",
  );
  t.ok(rawSock && codes(rawSock).includes(TAG.RAW_SOCKET), "tagged raw-socket");
  t.match(
    rawSock?.tags.find((x) => x.code === TAG.RAW_SOCKET)?.reason,
    /^the script interpreter python3[\d.]* \(check the script in its command line\) holds a raw IP socket that receives every IPv4 ICMP packet \(protocol 1\)/,
  );

  const [packetSock] = socketsOf(packet.pid, "packet");
  t.match(
    packetSock,
    { transport: "packet", family: 0, rawProtocol: 3, protocol: "eth-all", direction: "listen", inode: Number(packet.line), uid: 0 },
    "python3's packet socket, by its inode",
  );
  t.match(
    packetSock?.tags.find((x) => x.code === TAG.PACKET_SOCKET)?.reason,
    /holds a packet socket for every frame \(ETH_P_ALL\) on every interface of the host: only capture tools and network daemons normally do; a BPF-filter backdoor listens this way/,
  );

  const genuineSockets = socketsOf(genuine.pid!, "packet");
  t.ok(genuineSockets.length >= 1, "tcpdump's packet socket is in the snapshot");
  t.same(genuineSockets.flatMap(codes), [], "and is not tagged");
  t.ok(
    genuineSockets.every((k) => k.rawProtocol === 3 && k.protocol === "eth-all"),
    "bound to every frame (on lo: tcpdump binds to the interface)",
  );

  const impostorSockets = socketsOf(impostor.pid!, "packet");
  t.ok(impostorSockets.length >= 1, "the copy's packet socket is in the snapshot");
  for (const k of impostorSockets) {
    t.match(k.tags.find((x) => x.code === TAG.PACKET_SOCKET)?.reason, `tcpdump (runs from ${temp}, not where tcpdump is installed`);
    t.ok(codes(k).includes(TAG.WRITABLE_DIR_EXE), "and carries its process's temp-directory tag");
  }
});

t.test(
  "ping on loopback holds its ICMP socket untagged",
  { skip: notRoot || (existsSync("/usr/bin/ping") ? false : "/usr/bin/ping is not installed (iputils-ping)") },
  async (t) => {
    // ping prints its "PING 127.0.0.1 ..." banner once its socket is open.
    const ping = await startUntilLine(t, "/usr/bin/ping", ["-n", "-i", "0.5", "127.0.0.1"]);
    const { snapshot: s } = await takeSnapshot({ stateDir: t.testdir(), hash: false });
    const pings = s.sockets.filter((k) => k.pid === ping.pid && (k.transport === "icmp" || k.transport === "raw"));
    t.ok(pings.length >= 1, `ping's ICMP socket is in the snapshot (${pings.map((k) => `${k.transport}${k.family}`).join(", ")})`);
    t.same(
      pings.flatMap((k) => k.tags),
      [],
      "and is not tagged",
    );
    t.ok(
      pings.every((k) => k.protocol === (k.family === 6 ? "icmpv6" : "icmp")),
      "its protocol is icmp",
    );
  },
);

t.test("a raw socket in another network namespace is seen, with its owner", { skip: notRoot }, async (t) => {
  const hold = "import os,signal,socket\ns=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP)\nprint(os.fstat(s.fileno()).st_ino,flush=True)\nsignal.pause()\n";
  const inNs = await startUntilLine(t, "unshare", ["--net", "python3", "-c", hold]);
  const { snapshot: s } = await takeSnapshot({ stateDir: t.testdir(), hash: false });
  const ours = s.sockets.find((k) => k.pid === process.pid)?.netns;
  const k = s.sockets.find((x) => x.inode === Number(inNs.line) && x.transport === "raw");
  t.ok(k, "the raw socket in the other namespace is found by its inode");
  t.equal(k?.pid, inNs.pid);
  t.not(k?.netns, ours, "in its own network namespace");
  t.ok(
    k?.tags.some((x) => x.code === TAG.RAW_SOCKET),
    "and tagged",
  );
});
