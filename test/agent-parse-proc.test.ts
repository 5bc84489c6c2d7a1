// The /proc parsers on literal strings, as the kernel writes them.

import t from "tap";
import { formatIPv6, parseProcNet } from "oddwire-agent/collect/linux/parse-proc-net.js";
import { parseBootTime, parseCmdline, parseExeLink, parseInodeLink, parsePasswd, parseProcStat } from "oddwire-agent/collect/linux/parse-proc-pid.js";

const TCP4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A2C4 0100007F:115C 01 00000000:00000000 02:000A7D2B 00000000  1000        0 42424 2 0000000000000000 20 4 30 10 -1
   2: 0100007F:A2C6 0100007F:01BB 06 00000000:00000000 03:00001624 00000000     0        0 0 3 0000000000000000
   garbage line
`;

t.test("parseProcNet: IPv4 TCP rows", async (t) => {
  const rows = parseProcNet(TCP4, "tcp", 4);
  t.equal(rows.length, 3, "garbage skipped");
  t.same(rows[0], {
    transport: "tcp",
    family: 4,
    localAddress: "127.0.0.1",
    localPort: 8080,
    remoteAddress: "",
    remotePort: 0,
    state: "LISTEN",
    pid: 0,
    uid: 0,
    inode: 31337,
    netns: 0,
  });
  t.same(rows[1], {
    transport: "tcp",
    family: 4,
    localAddress: "127.0.0.1",
    localPort: 41668,
    remoteAddress: "127.0.0.1",
    remotePort: 4444,
    state: "ESTABLISHED",
    pid: 0,
    uid: 1000,
    inode: 42424,
    netns: 0,
  });
  t.match(rows[2], { state: "TIME_WAIT", remotePort: 443, inode: 0 });
});

t.test("parseProcNet: IPv6 and UDP", async (t) => {
  const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 556 1 0000000000000000 100 0 0 10 0
   2: B80D01200000000000000000010000FE:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 557 1 0000000000000000 100 0 0 10 0
`;
  const rows = parseProcNet(tcp6, "tcp", 6);
  t.match(rows[0], { family: 6, localAddress: "::1", localPort: 22, remoteAddress: "", state: "LISTEN", inode: 555 });
  t.match(rows[1], { localAddress: "::ffff:127.0.0.1", localPort: 8080, remoteAddress: "::ffff:127.0.0.1", remotePort: 50000 });
  t.equal(rows[2]!.localAddress, "2001:db8::fe00:1");
  t.equal(rows[2]!.localPort, 53);

  const udp = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 777 2 0000000000000000 0
  101: 0100007F:D431 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 778 2 0000000000000000 0
`;
  const u = parseProcNet(udp, "udp", 4);
  t.same(
    u.map((r) => [r.localAddress, r.localPort, r.state, r.remoteAddress, r.remotePort]),
    [
      ["127.0.0.53", 53, "UNCONN", "", 0],
      ["127.0.0.1", 54321, "ESTABLISHED", "127.0.0.1", 53],
    ],
  );
});

t.test("formatIPv6 follows RFC 5952", async (t) => {
  const bytes = (hex: string) => hex.match(/../g)!.map((h) => parseInt(h, 16));
  t.equal(formatIPv6(bytes("00000000000000000000000000000000")), "::");
  t.equal(formatIPv6(bytes("00000000000000000000000000000001")), "::1");
  t.equal(formatIPv6(bytes("20010db8000000000001000000000001")), "2001:db8::1:0:0:1", "first of two equal zero runs");
  t.equal(formatIPv6(bytes("20010db8000100000001000100010001")), "2001:db8:1:0:1:1:1:1", "a single zero group is not compressed");
  t.equal(formatIPv6(bytes("fe800000000000000000000000000001")), "fe80::1");
  t.equal(formatIPv6(bytes("00000000000000000000ffffc0a80001")), "::ffff:192.168.0.1");
});

t.test("parseProcStat survives names with spaces and parentheses", async (t) => {
  const line = "4242 (evil) (name here) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  t.same(parseProcStat(line), { comm: "evil) (name here", state: "S", ppid: 1, startTicks: 98765 });
  t.equal(parseProcStat("1 (init"), null);
  t.equal(parseProcStat("1 (x) S 0"), null, "too few fields");
});

t.test("small /proc files", async (t) => {
  t.equal(parseCmdline(Buffer.from("bash\0-c\0echo hi\0")), "bash -c echo hi");
  t.equal(parseCmdline(Buffer.from("")), "");
  t.equal(parseBootTime("cpu  1 2 3\nbtime 1764300000\nprocesses 9\n"), 1764300000);
  t.equal(parseBootTime("nothing"), null);
  t.same(parseExeLink("/tmp/x (deleted)"), { exe: "/tmp/x", deleted: true });
  t.same(parseExeLink("/usr/bin/bash"), { exe: "/usr/bin/bash", deleted: false });
  t.equal(parseInodeLink("socket:[12345]", "socket"), 12345);
  t.equal(parseInodeLink("net:[4026531840]", "net"), 4026531840);
  t.equal(parseInodeLink("pipe:[1]", "socket"), null);
  t.equal(parseInodeLink("/dev/null", "socket"), null);
  const users = parsePasswd("root:x:0:0:root:/root:/bin/bash\n# comment\nnobody:x:65534:65534::/:/usr/sbin/nologin\nroot2:x:0:0::/:/bin/sh\nbad\n");
  t.same(
    [...users],
    [
      [0, "root"],
      [65534, "nobody"],
    ],
  );
});
