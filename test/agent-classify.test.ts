// Classification on literal records: direction, protocol, and each tag with
// its reason, against a small knowledge base written here (the shipped one is
// tested in shared-data.test.ts).

import t from "tap";
import { buildKnowledgeBase, buildPortTable, TAG, type Tag } from "@oddwire/shared";
import type { RawProcess, RawSocket } from "oddwire-agent/collect/backend.js";
import { classifySnapshot, type ExeIdentity } from "oddwire-agent/classify/classify-snapshot.js";
import { classifyDirections } from "oddwire-agent/classify/direction.js";
import { isOneEditAway } from "@oddwire/shared";

const ports = buildPortTable({
  protocols: {
    http: { description: "HTTP", tcp: [80] },
    https: { description: "HTTPS", tcp: [443], udp: [443] },
    dns: { description: "DNS", tcp: [53], udp: [53] },
    ssh: { description: "SSH", tcp: [22] },
    smtp: { description: "SMTP", tcp: [25] },
    irc: { description: "IRC", tcp: [[6665, 6669]] },
  },
  groups: { web: ["http", "https"] },
});
const kb = buildKnowledgeBase(
  {
    kernelThreads: ["kworker", "ksoftirqd", "rcu_"],
    binaries: [
      { id: "nginx", names: ["nginx"], os: ["linux"], class: "server", outbound: ["@web"], listens: ["@web"] },
      { id: "cron", names: ["cron"], os: ["linux"], class: "silent", outbound: [], listens: [], paths: ["/usr/sbin/"] },
      { id: "bash", names: ["bash"], os: ["linux"], class: "shell", outbound: [], listens: [] },
      { id: "python", names: ["python", "python3"], os: ["linux"], class: "interpreter", outbound: ["*"], listens: ["*"] },
      { id: "certutil", names: ["certutil.exe"], os: ["windows"], class: "lolbin", outbound: ["@web"], listens: [], lolbin: "LOLBAS lists it for downloading files." },
      { id: "notepad", names: ["notepad.exe"], os: ["windows"], class: "silent", outbound: [], listens: [] },
      { id: "svchost", names: ["svchost.exe"], os: ["windows"], class: "system", outbound: ["*"], listens: ["*"], paths: ["c:\\windows\\system32\\"] },
      { id: "sshd", names: ["sshd"], os: ["linux"], class: "server", outbound: [], listens: ["ssh"], paths: ["/usr/sbin/"] },
    ],
  },
  ports,
);

function proc(pid: number, exe: string, extra: Partial<RawProcess> = {}): RawProcess {
  const name = exe.split(/[\\/]/).pop()!;
  return { pid, ppid: 1, name, exe, cmdline: exe, user: "root", uid: 0, startedAtMs: 1, exeDeleted: false, exeReadPath: "", ...extra };
}

function sock(pid: number, extra: Partial<RawSocket>): RawSocket {
  return {
    transport: "tcp",
    family: 4,
    localAddress: "10.0.0.5",
    localPort: 40000,
    remoteAddress: "203.0.113.9",
    remotePort: 443,
    state: "ESTABLISHED",
    pid,
    uid: 0,
    inode: pid,
    netns: 1,
    ...extra,
  };
}

function classify(os: "linux" | "windows", processes: RawProcess[], sockets: RawSocket[] = [], identities = new Map<number, ExeIdentity>()) {
  return classifySnapshot({ os, processes, sockets, identities, ports, kb, selfPid: -1 });
}

const codes = (tags: Tag[]) => tags.map((x) => x.code);

t.test("directions: listener, inbound on a listened port, outbound otherwise", async (t) => {
  const s = [
    sock(1, { localAddress: "0.0.0.0", localPort: 22, remoteAddress: "", remotePort: 0, state: "LISTEN" }),
    sock(1, { localAddress: "10.0.0.5", localPort: 22, remotePort: 51000 }),
    sock(2, { localPort: 51000, remotePort: 22 }),
    sock(3, { transport: "udp", localAddress: "127.0.0.53", localPort: 53, remoteAddress: "", remotePort: 0, state: "UNCONN" }),
    sock(4, { transport: "udp", localAddress: "127.0.0.1", localPort: 40001, remoteAddress: "127.0.0.53", remotePort: 53 }),
    sock(5, { family: 6, localAddress: "::", localPort: 80, remoteAddress: "", remotePort: 0, state: "LISTEN" }),
    sock(5, { family: 6, localAddress: "::ffff:10.0.0.5", localPort: 80, remoteAddress: "::ffff:10.0.0.9", remotePort: 50000 }),
    sock(6, { localPort: 22, remotePort: 443, netns: 2 }),
  ];
  t.same(classifyDirections(s), ["listen", "inbound", "outbound", "listen", "outbound", "listen", "inbound", "outbound"]);
});

t.test("protocol comes from the remote port outbound and the local port otherwise", async (t) => {
  const r = classify(
    "linux",
    [proc(10, "/usr/sbin/nginx")],
    [
      sock(10, { localAddress: "0.0.0.0", localPort: 80, remoteAddress: "", remotePort: 0, state: "LISTEN" }),
      sock(10, { localPort: 80, localAddress: "10.0.0.5", remotePort: 50123 }),
      sock(10, { remotePort: 443 }),
      sock(10, { remotePort: 6667 }),
      sock(10, { remotePort: 31337 }),
    ],
  );
  t.same(
    r.sockets.map((k) => [k.direction, k.protocol]),
    [
      ["listen", "http"],
      ["inbound", "http"],
      ["outbound", "https"],
      ["outbound", "irc"],
      ["outbound", "unknown"],
    ],
  );
  t.same(
    r.sockets.map((k) => codes(k.tags)),
    [[], [], [], [TAG.UNEXPECTED_PROTOCOL], [TAG.UNEXPECTED_PROTOCOL]],
  );
  t.equal(r.sockets[3]!.tags[0]!.reason, "nginx normally connects out with http, https; this socket is outbound tcp to 203.0.113.9:6667 (irc)");
});

t.test("cron on 6667, notepad on 443: binaries that normally speak nothing", async (t) => {
  const r = classify("linux", [proc(20, "/usr/sbin/cron")], [sock(20, { remotePort: 6667 })]);
  t.same(codes(r.sockets[0]!.tags), [TAG.SILENT_BINARY_SOCKET]);
  t.equal(r.sockets[0]!.tags[0]!.reason, "cron normally opens no network sockets; this one is outbound tcp to 203.0.113.9:6667 (irc)");
  const w = classify("windows", [proc(21, "C:\\Windows\\System32\\notepad.exe")], [sock(21, {})]);
  t.same(codes(w.sockets[0]!.tags), [TAG.SILENT_BINARY_SOCKET]);
  t.match(w.sockets[0]!.tags[0]!.reason, /^notepad\.exe normally opens no network sockets; this one is outbound tcp to 203\.0\.113\.9:443 \(https\)$/);
});

t.test("shells and interpreters with outbound sockets; a bind shell", async (t) => {
  const r = classify(
    "linux",
    [proc(30, "/usr/bin/bash"), proc(31, "/usr/bin/python3.11")],
    [
      sock(30, { remoteAddress: "127.0.0.1", remotePort: 4444 }),
      sock(30, { localAddress: "0.0.0.0", localPort: 4444, remoteAddress: "", remotePort: 0, state: "LISTEN" }),
      sock(31, { remotePort: 443 }),
      sock(31, { localAddress: "0.0.0.0", localPort: 8000, remoteAddress: "", remotePort: 0, state: "LISTEN" }),
    ],
  );
  t.same(
    r.sockets.map((k) => codes(k.tags)),
    [[TAG.SHELL_OUTBOUND], [TAG.BIND_SHELL], [TAG.INTERPRETER_OUTBOUND], []],
  );
  t.match(r.sockets[0]!.tags[0]!.reason, /bash.*127\.0\.0\.1:4444.*reverse shell/);
  t.match(r.sockets[1]!.tags[0]!.reason, /bind shell/);
  t.match(r.sockets[2]!.tags[0]!.reason, /python3\.11/, "versioned interpreter name still matched");
});

t.test("a LOLBin with an outbound socket, even on a protocol it may speak", async (t) => {
  const r = classify("windows", [proc(40, "C:\\Windows\\System32\\certutil.exe")], [sock(40, { remotePort: 443 }), sock(40, { remotePort: 25 })]);
  t.same(codes(r.sockets[0]!.tags), [TAG.LOLBIN_OUTBOUND]);
  t.match(r.sockets[0]!.tags[0]!.reason, /LOLBAS lists it for downloading files/);
  t.same(codes(r.sockets[1]!.tags), [TAG.UNEXPECTED_PROTOCOL, TAG.LOLBIN_OUTBOUND]);
});

t.test("a server that makes no outbound connections", async (t) => {
  const r = classify("linux", [proc(50, "/usr/sbin/sshd")], [sock(50, { remotePort: 80 })]);
  t.equal(r.sockets[0]!.tags[0]!.reason, "sshd normally makes no outbound connections; this socket is outbound tcp to 203.0.113.9:80 (http)");
});

t.test("unknown binaries get a tag only when they reach a public address; ownerless sockets and the agent's own get none", async (t) => {
  const r = classifySnapshot({
    os: "linux",
    processes: [proc(60, "/opt/vendor/agentd"), proc(61, "/usr/bin/python3")],
    sockets: [sock(60, { remotePort: 6667 }), sock(0, { state: "TIME_WAIT" }), sock(61, {}), sock(60, { remoteAddress: "10.1.2.3", remotePort: 7000 })],
    identities: new Map(),
    ports,
    kb,
    selfPid: 61,
  });
  t.same(
    r.sockets.map((k) => codes(k.tags)),
    [[TAG.UNKNOWN_BINARY_PUBLIC], [], [], []],
  );
  t.match(r.sockets[0]!.tags[0]!.reason, /agentd is not in oddwire's knowledge base and connects to a public address \(outbound tcp to 203\.0\.113\.9:6667/);
});

t.test("process tags: temp and world-writable directories, deleted executables", async (t) => {
  const ids = new Map<number, ExeIdentity>([[72, { sha256: "", hashError: "", dirWorldWritable: true }]]);
  const r = classify(
    "linux",
    [proc(70, "/tmp/.x/updater"), proc(71, "/usr/bin/bash", { exeDeleted: true }), proc(72, "/srv/drop/run"), proc(73, "/usr/bin/ls")],
    [sock(70, {})],
    ids,
  );
  t.same(
    r.processes.map((p) => codes(p.tags)),
    [[TAG.WRITABLE_DIR_EXE], [TAG.DELETED_EXE], [TAG.WRITABLE_DIR_EXE], []],
  );
  t.match(r.processes[0]!.tags[0]!.reason, /\/tmp\/\.x\/updater.*under \/tmp\/, a temp directory/);
  t.match(r.processes[2]!.tags[0]!.reason, /\/srv\/drop, a directory every user can write to/);
  t.same(codes(r.sockets[0]!.tags), [TAG.UNKNOWN_BINARY_PUBLIC, TAG.WRITABLE_DIR_EXE], "the socket carries its process's tags");
  const w = classify("windows", [proc(74, "C:\\Users\\bob\\AppData\\Local\\Temp\\a.exe")], []);
  t.same(codes(w.processes[0]!.tags), [TAG.WRITABLE_DIR_EXE]);
});

t.test("name imitation", async (t) => {
  const r = classify("linux", [
    proc(80, "/tmp/k", { name: "kworker/0:1" }),
    proc(81, "", { name: "kworker/0:1", ppid: 2 }),
    proc(82, "/usr/bin/sleep", { name: "sleep", cmdline: "[kworker/u8:2] 600" }),
    proc(83, "/home/bob/cron"),
    proc(84, "/usr/sbin/cron"),
    proc(85, "/tmp/x", { name: "sshd" }),
    proc(86, "/usr/bin/sleep", { name: "rcu_gp" }),
  ]);
  const imitation = r.processes.map((p) => p.tags.find((x) => x.code === TAG.NAME_IMITATION)?.reason ?? "");
  t.match(imitation[0], /calls itself "kworker\/0:1" like a kernel thread.*\/tmp\/k/);
  t.equal(imitation[1], "", "a real kernel thread");
  t.match(imitation[2], /\[kworker\/u8:2\]|kworker\/u8:2/);
  t.equal(imitation[3], "cron normally runs from /usr/sbin/; this one runs from /home/bob");
  t.equal(imitation[4], "");
  t.equal(imitation[5], 'calls itself "sshd" but runs /tmp/x');
  t.match(imitation[6], /rcu_gp/, "prefix entries (rcu_) match");

  const w = classify("windows", [
    proc(90, "C:\\Users\\Public\\svchost.exe"),
    proc(91, "C:\\Windows\\System32\\svchost.exe"),
    proc(92, "C:\\Windows\\svch0st.exe"),
    proc(93, "C:\\Windows\\scvhost.exe"),
  ]);
  const wi = w.processes.map((p) => p.tags.find((x) => x.code === TAG.NAME_IMITATION)?.reason ?? "");
  t.equal(wi[0], "svchost.exe normally runs from c:\\windows\\system32\\; this one runs from C:\\Users\\Public");
  t.equal(wi[1], "", "case-insensitive path match on Windows");
  t.equal(wi[2], "svch0st.exe is one letter away from svchost.exe, a name malware imitates");
  t.equal(wi[3], "scvhost.exe is one letter away from svchost.exe, a name malware imitates");
});

t.test("isOneEditAway", async (t) => {
  t.ok(isOneEditAway("svch0st.exe", "svchost.exe"));
  t.ok(isOneEditAway("scvhost.exe", "svchost.exe"), "adjacent swap");
  t.ok(isOneEditAway("svchosts.exe", "svchost.exe"), "insertion");
  t.ok(isOneEditAway("svchst.exe", "svchost.exe"), "deletion");
  t.notOk(isOneEditAway("svchost.exe", "svchost.exe"));
  t.notOk(isOneEditAway("xvch0st.exe", "svchost.exe"));
});

t.test("listening on an unregistered dynamic port claims no protocol", async (t) => {
  const r = classify(
    "linux",
    [proc(100, "/usr/sbin/nginx")],
    [
      sock(100, { localAddress: "0.0.0.0", localPort: 49700, remoteAddress: "", remotePort: 0, state: "LISTEN" }),
      sock(100, { localAddress: "0.0.0.0", localPort: 2222, remoteAddress: "", remotePort: 0, state: "LISTEN" }),
      sock(100, { remotePort: 49700 }),
    ],
  );
  t.same(
    r.sockets.map((k) => codes(k.tags)),
    [[], [TAG.UNEXPECTED_PROTOCOL], [TAG.UNEXPECTED_PROTOCOL]],
  );
});

t.test("a script run by an interpreter is judged by the script's profile when known", async (t) => {
  const r = classify(
    "linux",
    [proc(110, "/usr/bin/python3.11", { name: "nginx" }), proc(111, "/usr/bin/python3.11", { name: "myscript" })],
    [sock(110, { remotePort: 6667 }), sock(111, { remotePort: 6667 })],
  );
  t.same(
    r.sockets.map((k) => codes(k.tags)),
    [[TAG.UNEXPECTED_PROTOCOL], [TAG.INTERPRETER_OUTBOUND]],
  );
  t.match(r.sockets[0]!.tags[0]!.reason, /^nginx \(run by python3\.11\) normally connects out with/);
});

t.test("fileless execution from a memfd is called so", async (t) => {
  const r = classify("linux", [proc(120, "/memfd:payload", { exeDeleted: true })]);
  t.match(r.processes[0]!.tags[0]!.reason, /anonymous in-memory file \(\/memfd:payload\).*fileless/);
});
