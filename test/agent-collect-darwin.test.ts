// The macOS collection parsers against recorded-style outputs of the exact
// commands the backend runs (ps twice, lsof twice), plus literal edge cases.

import { readFileSync } from "node:fs";
import t from "tap";
import { LSOF_SOCKET_ARGS, LSOF_TEXT_ARGS, parseLsofFields, parseLsofTextFiles } from "oddwire-agent/collect/darwin/parse-lsof.js";
import { PS_ARGS_ARGS, PS_FIXED_ARGS, parsePsArgs, parsePsDarwin } from "oddwire-agent/collect/darwin/parse-ps.js";
import { rawSocket } from "./lib/raw-records.js";

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/darwin/${name}`, import.meta.url), "utf8");

const socket = rawSocket;

t.test("the backend asks for exactly the fields the parsers read", async (t) => {
  t.strictSame(LSOF_SOCKET_ARGS, ["-n", "-P", "-w", "-iTCP", "-iUDP", "-FpuftPnT"]);
  t.strictSame(LSOF_TEXT_ARGS, ["-n", "-P", "-w", "-d", "txt", "-Fpfn"]);
  t.strictSame(PS_FIXED_ARGS, ["-axww", "-o", "pid=,ppid=,uid=,lstart=,user=,ucomm="]);
  t.strictSame(PS_ARGS_ARGS, ["-axww", "-o", "pid=,args="]);
});

t.test("ps: two runs joined by pid", async (t) => {
  const processes = parsePsDarwin(fixture("ps-fixed.txt"), fixture("ps-args.txt"));
  t.equal(processes.length, 12);
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  t.strictSame(
    byPid.get(1),
    {
      pid: 1,
      ppid: 0,
      name: "launchd",
      exe: "",
      cmdline: "/sbin/launchd",
      user: "root",
      uid: 0,
      startedAtMs: new Date(2026, 10, 1, 8, 2, 11).getTime(),
      exeDeleted: false,
      exeReadPath: "",
    },
    "space-padded day of month, local time",
  );
  t.strictSame(
    byPid.get(812),
    {
      pid: 812,
      ppid: 1,
      name: "Google Chrome",
      exe: "",
      cmdline: "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
      user: "alice",
      uid: 501,
      startedAtMs: new Date(2026, 10, 28, 2, 22, 34).getTime(),
      exeDeleted: false,
      exeReadPath: "",
    },
    "spaces in the name and the command line",
  );
  t.equal(byPid.get(850)?.name, "Google Chrome He", "ucomm is the kernel's 16-byte name");
  t.match(byPid.get(850)?.cmdline, /^\/Applications\/Google Chrome\.app\/.*\/Google Chrome Helper --type=utility .* --seatbelt-client=71$/);
  t.equal(byPid.get(95)?.user, "_mdnsresponder");
  t.equal(byPid.get(95)?.uid, 65);
  t.equal(byPid.get(412)?.uid, -2, "nobody, printed unsigned by ps");
  t.equal(byPid.get(4242)?.cmdline, "node /Users/alice/dev/api/server.js --port 8080");
  t.equal(byPid.get(4242)?.startedAtMs, new Date(2026, 10, 30, 17, 45, 3).getTime());
  t.equal(byPid.get(5150)?.cmdline, "sh -c printf 'first   second line'", "a newline inside an argument");
  t.equal(byPid.get(6666)?.cmdline, `/private/tmp/.x/updater --title "Grüße, <script>alert('x')</script>" --url=http://198.51.100.7:4444/a,b`);
  t.equal(byPid.get(9001)?.cmdline, "", "the first ps run has no line in the second");
  t.notOk(byPid.has(9002), "the second ps run is not in the fixed run");
});

t.test("ps: malformed lines skipped", async (t) => {
  const fixed = [
    "  PID  PPID   UID STARTED                      USER             UCOMM",
    "   10     1   501 Sat Nov 28 02:22:34 2026     bob              ok",
    "   11     1   abc Sat Nov 28 02:22:34 2026     bob              bad-uid",
    "   12     1   501 Sat Nov 28 02:22 2026        bob              bad-time",
    "   13     1   501 Sat Foo 28 02:22:34 2026     bob              bad-month",
    "garbage",
    "",
  ].join("\n");
  const processes = parsePsDarwin(fixed, "   10 /usr/bin/ok\n");
  t.strictSame(
    processes.map((p) => [p.pid, p.name, p.cmdline]),
    [
      [10, "ok", "/usr/bin/ok"],
      [13, "bad-month", ""],
    ],
  );
  t.equal(processes[1]?.startedAtMs, 0, "an unknown month gives no start time rather than a wrong one");
});

t.test("ps args: continuation lines", async (t) => {
  const text = "   10 sh -c 'a\nb' c\n   77 started after the fixed run\n  its own continuation\n   11 /bin/z\n   10 a second line for 10\n";
  t.strictSame(
    [...parsePsArgs(text, new Set([10, 11]))],
    [
      [10, "sh -c 'a b' c"],
      [11, "/bin/z"],
    ],
  );
  t.strictSame(
    [...parsePsArgs("   12\n   13 \n", new Set([12, 13]))],
    [
      [12, ""],
      [13, ""],
    ],
    "empty args",
  );
  t.strictSame([...parsePsArgs("  10 misaligned\n", new Set([10]))], [], "not a 5-wide pid column");
});

t.test("lsof sockets", async (t) => {
  const sockets = parseLsofFields(fixture("lsof-F.txt"));
  t.strictSame(sockets, [
    socket({ family: 6, localAddress: "::", localPort: 22, state: "LISTEN", pid: 1, uid: 0 }),
    socket({ localAddress: "0.0.0.0", localPort: 22, state: "LISTEN", pid: 1, uid: 0 }),
    socket({ transport: "udp", localAddress: "0.0.0.0", localPort: 5353, state: "UNCONN", pid: 95, uid: 65 }),
    socket({ transport: "udp", family: 6, localAddress: "::", localPort: 5353, state: "UNCONN", pid: 95, uid: 65 }),
    socket({ localAddress: "127.0.0.1", localPort: 53, state: "LISTEN", pid: 95, uid: 65 }),
    socket({
      family: 6,
      localAddress: "fe80:4::aede:48ff:fe00:1122",
      localPort: 49152,
      remoteAddress: "fe80:4::1c2d:3e4f:5a6b:7c8d",
      remotePort: 62078,
      state: "ESTABLISHED",
      pid: 228,
      uid: 501,
    }),
    socket({ localAddress: "192.168.1.23", localPort: 50122, remoteAddress: "142.250.74.110", remotePort: 443, state: "ESTABLISHED", pid: 812, uid: 501 }),
    socket({
      family: 6,
      localAddress: "2a02:8109:a2c0:2b00:1cf2:33ff:fe1a:9a3c",
      localPort: 50130,
      remoteAddress: "2a00:1450:4001:82f::200e",
      remotePort: 443,
      state: "ESTABLISHED",
      pid: 812,
      uid: 501,
    }),
    socket({ transport: "udp", localAddress: "192.168.1.23", localPort: 61234, remoteAddress: "142.250.74.110", remotePort: 443, state: "ESTABLISHED", pid: 812, uid: 501 }),
    socket({ transport: "udp", family: 6, localAddress: "::", localPort: 5353, state: "UNCONN", pid: 812, uid: 501 }),
    socket({ family: 6, localAddress: "::", localPort: 8080, state: "LISTEN", pid: 4242, uid: 501 }),
    socket({ family: 6, localAddress: "::1", localPort: 8080, remoteAddress: "::1", remotePort: 50322, state: "CLOSE_WAIT", pid: 4242, uid: 501 }),
    socket({ localAddress: "192.168.1.23", localPort: 50200, remoteAddress: "198.51.100.7", remotePort: 4444, state: "SYN_SENT", pid: 6666, uid: 501 }),
    socket({ localAddress: "192.168.1.23", localPort: 50201, remoteAddress: "198.51.100.7", remotePort: 4444, state: "FIN_WAIT2", pid: 6666, uid: 501 }),
  ]);
});

t.test("lsof sockets: literal edge cases", async (t) => {
  const text = [
    "f3",
    "tIPv4",
    "PTCP",
    "n1.1.1.1:1",
    "TST=LISTEN", // a file before any process
    "p70",
    "u0",
    "f4",
    "tIPv6",
    "PUDP",
    "n[fe80::1%en0]:5353->[fe80::2%en0]:5353",
    "f5",
    "tIPv4",
    "PUDP",
    "n*:*",
    "f6",
    "tIPv4",
    "PTCP",
    "n10.0.0.1:80->10.0.0.2:5000",
    "TQR=0",
    "TST=SYN_RCVD",
    "TQS=0",
    "f7",
    "tIPv4",
    "PTCP",
    "n10.0.0.1:81", // TCP without a state
    "f8",
    "tunix",
    "n/var/run/x.sock",
    "f9",
    "tIPv4",
    "PTCP",
    "nlocalhost:http",
    "TST=LISTEN",
    "f10",
    "tIPv4",
    "PICMP",
    "n*:*",
    "f11",
    "tIPv4",
    "PTCP",
    "n10.0.0.1:70000",
    "TST=LISTEN",
    "f12",
    "tIPv4",
    "PTCP",
    "n10.0.0.1:82",
    "TST=BOUND",
    "p71",
    "f3",
    "tIPv4",
    "PTCP",
    "n10.0.0.1:83",
    "TST=CLOSED",
  ].join("\n");
  t.strictSame(parseLsofFields(text), [
    socket({ transport: "udp", family: 6, localAddress: "fe80::1", localPort: 5353, remoteAddress: "fe80::2", remotePort: 5353, state: "ESTABLISHED", pid: 70, uid: 0 }),
    socket({ transport: "udp", localAddress: "0.0.0.0", localPort: 0, state: "UNCONN", pid: 70, uid: 0 }),
    socket({ localAddress: "10.0.0.1", localPort: 80, remoteAddress: "10.0.0.2", remotePort: 5000, state: "SYN_RECV", pid: 70, uid: 0 }),
    socket({ localAddress: "10.0.0.1", localPort: 82, state: "BOUND", pid: 70, uid: 0 }),
    socket({ localAddress: "10.0.0.1", localPort: 83, state: "CLOSE", pid: 71, uid: -1 }),
  ]);
  t.strictSame(parseLsofFields(""), []);
});

t.test("lsof txt: the first text file of each process is its executable", async (t) => {
  const exes = parseLsofTextFiles(fixture("lsof-F-txt.txt"));
  t.strictSame(
    [...exes],
    [
      [1, "/sbin/launchd"],
      [88, "/usr/libexec/logd"],
      [95, "/usr/sbin/mDNSResponder"],
      [812, "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"],
      [4242, "/opt/homebrew/Cellar/node/22.11.0/bin/node"],
      [6666, "/private/tmp/.x/updater"],
    ],
  );
  t.strictSame([...parseLsofTextFiles("p5\nfcwd\nn/\nftxt\nnrelative\nftxt\nn/bin/real\n")], [[5, "/bin/real"]]);
  t.strictSame([...parseLsofTextFiles("ftxt\nn/orphan\npx\nftxt\nn/bad-pid\n")], []);
});
