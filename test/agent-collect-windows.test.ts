// The Windows collection parsers against recorded-style outputs of the exact
// commands the backend runs, plus literal edge cases. There is no Windows
// here, so the fixtures stand in for the tools.

import { readFileSync } from "node:fs";
import t from "tap";
import { parseNetstatWindows } from "oddwire-agent/collect/windows/parse-netstat.js";
import { parseCsvLine, parseTasklistCsv } from "oddwire-agent/collect/windows/parse-tasklist.js";
import { parseWin32ProcessJson } from "oddwire-agent/collect/windows/parse-win32-process.js";
import { decodeConsoleOutput, POWERSHELL_ARGS, WIN32_PROCESS_SCRIPT } from "oddwire-agent/collect/windows/windows-backend.js";
import { rawSocket } from "./lib/raw-records.js";

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/windows/${name}`, import.meta.url));

const socket = rawSocket;

t.test("netstat -nao (English): every row, states mapped, headers skipped", async (t) => {
  const sockets = parseNetstatWindows(decodeConsoleOutput(fixture("netstat-nao.txt")));
  t.equal(sockets.length, 30);
  t.same(
    sockets.map((s) => s.state),
    [
      ...Array(6).fill("LISTEN"),
      "ESTABLISHED",
      "ESTABLISHED",
      "TIME_WAIT",
      "CLOSE_WAIT",
      "SYN_SENT",
      "FIN_WAIT2",
      "FIN_WAIT1",
      "LAST_ACK",
      "LISTEN",
      "ESTABLISHED",
      "ESTABLISHED",
      "LISTEN",
      "LISTEN",
      "LISTEN",
      "ESTABLISHED",
      "ESTABLISHED",
      ...Array(8).fill("UNCONN"),
    ],
  );
  t.strictSame(sockets[0], socket({ localAddress: "0.0.0.0", localPort: 135, state: "LISTEN", pid: 1088 }));
  t.strictSame(
    sockets[8],
    socket({ localAddress: "10.0.2.15", localPort: 49811, remoteAddress: "23.215.0.136", remotePort: 80, state: "TIME_WAIT", pid: 0 }),
    "TIME_WAIT owned by nobody keeps pid 0",
  );
  t.strictSame(sockets[10], socket({ localAddress: "10.0.2.15", localPort: 49820, remoteAddress: "198.51.100.7", remotePort: 4444, state: "SYN_SENT", pid: 8812 }));
  t.strictSame(sockets[17], socket({ family: 6, localAddress: "::", localPort: 135, state: "LISTEN", pid: 1088 }));
  t.strictSame(
    sockets[20],
    socket({ family: 6, localAddress: "2001:db8:0:15::a", localPort: 49830, remoteAddress: "2606:4700::6810:84e5", remotePort: 443, state: "ESTABLISHED", pid: 7344 }),
  );
  t.strictSame(
    sockets[21],
    socket({ family: 6, localAddress: "fe80::5d2c:8a1e:3f40:9b7c", localPort: 49670, remoteAddress: "fe80::1", remotePort: 445, state: "ESTABLISHED", pid: 4 }),
    "zone ids are stripped from both ends",
  );
  t.strictSame(sockets[22], socket({ transport: "udp", localAddress: "0.0.0.0", localPort: 123, state: "UNCONN", pid: 1440 }));
  t.strictSame(sockets[29], socket({ transport: "udp", family: 6, localAddress: "fe80::5d2c:8a1e:3f40:9b7c", localPort: 546, state: "UNCONN", pid: 1320 }));
});

t.test("netstat -nao (German, OEM code page 850): localized headers and states", async (t) => {
  const bytes = fixture("netstat-nao-de.txt");
  t.ok(bytes.includes(0x99), "the fixture holds CP850's Ö byte, as a redirected capture would");
  const sockets = parseNetstatWindows(decodeConsoleOutput(bytes));
  t.same(
    sockets.map((s) => [s.transport, s.localPort, s.state, s.pid]),
    [
      ["tcp", 135, "LISTEN", 1072],
      ["tcp", 445, "LISTEN", 4],
      ["tcp", 50122, "ESTABLISHED", 9216],
      ["tcp", 50130, "TIME_WAIT", 0],
      ["tcp", 50141, "CLOSE_WAIT", 9216],
      ["tcp", 50150, "SYN_SENT", 6004],
      ["tcp", 135, "LISTEN", 1072],
      ["udp", 5353, "UNCONN", 2104],
      ["udp", 5353, "UNCONN", 2104],
    ],
  );
});

t.test("netstat: localized states however they were decoded", async (t) => {
  const row = (state: string, remote = "0.0.0.0:0") => parseNetstatWindows(`  TCP    10.0.0.1:80    ${remote}    ${state}    7`)[0]?.state;
  t.equal(row("ABHÖREN"), "LISTEN", "decoded right");
  t.equal(row("ABH\uFFFDREN"), "LISTEN", "decoded as UTF-8 with a replacement character");
  t.equal(row("ABH\u0099REN"), "LISTEN", "decoded as Latin-1");
  t.equal(row("ÉTABLI", "1.2.3.4:443"), "ESTABLISHED");
  t.equal(row("IN ASCOLTO"), "LISTEN", "a two-word state");
  t.equal(row("ПРОСЛУШИВАНИЕ"), "LISTEN", "unknown state, listener shape");
  t.equal(row("ПРОСЛУШИВАНИЕ", "[::]:0"), "LISTEN");
  t.equal(row("УСТАНОВЛЕНО", "1.2.3.4:443"), "УСТАНОВЛЕНО", "unknown state, connected: kept, upper-cased");
  t.equal(row("listening"), "LISTEN", "case does not matter");
  t.equal(row("CLOSED", "1.2.3.4:443"), "CLOSE");
  t.equal(row("SYN_RECEIVED", "1.2.3.4:443"), "SYN_RECV");
});

t.test("netstat: malformed and foreign lines are skipped", async (t) => {
  const text = [
    "",
    "Active Connections",
    "  Proto  Local Address          Foreign Address        State           PID",
    "  TCP    0.0.0.0:135",
    "  TCP    0.0.0.0:99999          0.0.0.0:0              LISTENING       1",
    "  TCP    [::1:80                [::]:0                 LISTENING       2",
    "  TCP    1.2.3.4:80             5.6.7.8:1              ESTABLISHED     abc",
    "  TCP    1.2.3.4:80             5.6.7.8:1                              3",
    "  ICMP   1.2.3.4:80             5.6.7.8:1              ESTABLISHED     4",
    "  TCP    host.example:80        5.6.7.8:1              ESTABLISHED     5",
    "  [svchost.exe]",
    "\tUDP\t0.0.0.0:53\t*:*\t77\r",
  ].join("\r\n");
  t.strictSame(parseNetstatWindows(text), [socket({ transport: "udp", localAddress: "0.0.0.0", localPort: 53, state: "UNCONN", pid: 77 })]);
  t.strictSame(parseNetstatWindows(""), []);
});

t.test("netstat: ports and addresses at their limits", async (t) => {
  const [s] = parseNetstatWindows("  TCP    [FE80::ABCD%3]:65535    [::ffff:10.1.2.3]:1    ESTABLISHED    4294967295");
  t.strictSame(s, socket({ family: 6, localAddress: "fe80::abcd", localPort: 65535, remoteAddress: "::ffff:10.1.2.3", remotePort: 1, state: "ESTABLISHED", pid: 4294967295 }));
});

t.test("tasklist /v /fo csv /nh: pid to user", async (t) => {
  const users = parseTasklistCsv(decodeConsoleOutput(fixture("tasklist-v.csv")));
  t.equal(users.size, 11);
  t.equal(users.get(0), "NT AUTHORITY\\SYSTEM");
  t.equal(users.get(4), "", "N/A becomes empty");
  t.equal(users.get(1088), "NT AUTHORITY\\NETWORK SERVICE");
  t.equal(users.get(5120), "CONTOSO\\jürgen", "UTF-8 output decodes intact");
  t.equal(users.get(9044), "CONTOSO\\jürgen", "a window title with quotes and a comma does not shift columns");
  t.equal(users.get(7344), "CONTOSO\\jürgen");
});

t.test("tasklist: damaged and short lines are skipped", async (t) => {
  const text = [
    '"Image Name","PID","Session Name","Session#","Mem Usage","Status","User Name","CPU Time","Window Title"',
    '"a.exe","10","Console","1","1,000 K","Running","HOST\\bob","0:00:00","unterminated',
    '"b.exe","11","Console"',
    '"c.exe","12","Console","1","1,000 K","Running","HOST\\carol","0:00:00","N/A"',
  ].join("\r\n");
  t.strictSame([...parseTasklistCsv(text)], [[12, "HOST\\carol"]]);
});

t.test("CSV line parser", async (t) => {
  t.strictSame(parseCsvLine('"a,b","c""d",e,'), ["a,b", 'c"d', "e", ""]);
  t.strictSame(parseCsvLine('"","x"'), ["", "x"]);
  t.strictSame(parseCsvLine('""""'), ['"']);
  t.strictSame(parseCsvLine(""), [""]);
  t.equal(parseCsvLine('"abc'), undefined, "unterminated quote");
  t.equal(parseCsvLine('"a"x,b'), undefined, "text after a closing quote");
  t.equal(parseCsvLine('a"b,c'), undefined, "a quote inside an unquoted field");
});

t.test("Win32_Process JSON", async (t) => {
  const processes = parseWin32ProcessJson(fixture("win32-process.json").toString("utf8"));
  t.equal(processes.length, 12);
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  t.strictSame(
    byPid.get(0),
    {
      pid: 0,
      ppid: 0,
      name: "System Idle Process",
      exe: "",
      cmdline: "",
      user: "",
      uid: -1,
      startedAtMs: 0,
      exeDeleted: false,
      exeReadPath: "",
    },
    "System Idle Process: null paths, year-1 creation date becomes 0",
  );
  t.strictSame(byPid.get(4), {
    pid: 4,
    ppid: 0,
    name: "System",
    exe: "",
    cmdline: "",
    user: "",
    uid: -1,
    startedAtMs: 1764296410500,
    exeDeleted: false,
    exeReadPath: "",
  });
  t.equal(byPid.get(532)?.exe, "");
  t.equal(byPid.get(532)?.cmdline, "\\SystemRoot\\System32\\smss.exe");
  t.equal(
    byPid.get(8812)?.cmdline,
    `"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -nop -w hidden -c "IEX ('<script>alert(1)</script>'); $u='http://198.51.100.7:4444/a,b'; Write-Host 'Grüße & ""quoted""'"`,
    "PowerShell 5.1's \\u003c-style escapes decode to the original text",
  );
  t.equal(byPid.get(7344)?.exe, "C:\\Users\\jürgen\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe");
  t.equal(byPid.get(9044)?.cmdline, '"C:\\WINDOWS\\system32\\notepad.exe"', "trailing space trimmed");
  t.equal(byPid.get(9310)?.startedAtMs, 0, "null CreationDate");
  t.equal(byPid.get(1088)?.ppid, 912);
});

t.test("Win32_Process JSON: shapes ConvertTo-Json produces", async (t) => {
  const one = parseWin32ProcessJson('\uFEFF{"ProcessId":4,"ParentProcessId":0,"Name":"System","ExecutablePath":null,"CommandLine":null,"CreationDate":1764296410500}\r\n');
  t.strictSame(
    one.map((p) => [p.pid, p.name, p.startedAtMs]),
    [[4, "System", 1764296410500]],
    "a single object, with a BOM",
  );
  t.strictSame(parseWin32ProcessJson(""), [], "no processes: no output");
  t.strictSame(parseWin32ProcessJson("  \r\n"), []);
  const odd = parseWin32ProcessJson('[1,null,"x",{"ProcessId":-1},{"ProcessId":1.5},{"ProcessId":7,"Name":"x.exe","ParentProcessId":null,"CreationDate":"soon"}]');
  t.strictSame(
    odd.map((p) => [p.pid, p.ppid, p.name, p.startedAtMs]),
    [[7, 0, "x.exe", 0]],
  );
  t.throws(() => parseWin32ProcessJson("Get-CimInstance : Access denied"), SyntaxError);
});

t.test("console output decoding", async (t) => {
  t.equal(decodeConsoleOutput(Buffer.from("jürgen", "utf8")), "jürgen");
  t.equal(decodeConsoleOutput(Buffer.from([0x41, 0x99, 0x42])), "A\u0099B", "not UTF-8: one character per byte");
});

t.test("the PowerShell script survives Windows argument quoting", async (t) => {
  t.notMatch(WIN32_PROCESS_SCRIPT, /"/);
  t.strictSame(POWERSHELL_ARGS.slice(0, 3), ["-NoProfile", "-NonInteractive", "-Command"]);
  t.match(WIN32_PROCESS_SCRIPT, /ConvertTo-Json -Compress$/);
});
