// The Linux snapshot against real processes and sockets on this machine: what
// it says of a TCP listener, a UDP socket, an IPv6 socket, bash holding a
// /dev/tcp connection, a binary run from a temp directory, a deleted
// executable, a kworker imitation, another user's socket, a socket in another
// network namespace, and the parent chain.

import t from "tap";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, readlinkSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ancestry, TAG, type SnapshotRecord, type SocketRecord } from "@oddwire/shared";
import { takeSnapshot } from "oddwire-agent/snapshot.js";
import { loopbackServer, nodeListener, startQuiet, startUntilLine } from "./lib/child-processes.js";
import { waitFor } from "./lib/fleet.js";

const isRoot = process.getuid?.() === 0;
if (process.platform !== "linux") t.plan(0, "Linux only");

const bash = "/bin/bash";
const tags = (s: { tags: { code: string }[] }) => s.tags.map((x) => x.code);

t.test("a snapshot sees the processes and sockets this test starts", async (t) => {
  const stateDir = t.testdir();
  const server = await loopbackServer(t);

  // A TCP listener, a UDP socket, an IPv6 listener.
  const tcp = await startUntilLine(t, process.execPath, nodeListener("tcp", "127.0.0.1"));
  const udp = await startUntilLine(t, process.execPath, nodeListener("udp", "127.0.0.1"));
  const tcp6 = await startUntilLine(t, process.execPath, nodeListener("tcp", "::1"));

  // bash holding an outbound /dev/tcp connection, two shells below this test.
  const revShell = await startQuiet(t, bash, ["-c", `${bash} -c 'exec 3<>/dev/tcp/127.0.0.1/${server.port}; read -u 3 line'; true`]);
  await server.nextConnection();

  // A copy of bash run from a temp directory, also connecting out; and one whose file is then deleted.
  const temp = mkdtempSync(join(tmpdir(), "oddwire-test-"));
  t.teardown(() => rmSync(temp, { recursive: true, force: true }));
  const tempBash = join(temp, "bash");
  copyFileSync(bash, tempBash);
  const fromTemp = await startQuiet(t, tempBash, ["-c", `exec 3<>/dev/tcp/127.0.0.1/${server.port}; read -u 3 line`]);
  await server.nextConnection();
  const deletedPath = join(temp, "gone");
  copyFileSync("/bin/sleep", deletedPath);
  const deleted = await startQuiet(t, deletedPath, ["600"]);
  await waitFor("the deleted executable to show in /proc", () => readlinkSync(`/proc/${deleted.pid!}/exe`) === deletedPath, 60000, 20);
  unlinkSync(deletedPath);

  // A user process dressed as a kernel thread.
  const fakeKworker = await startQuiet(t, "/bin/sleep", ["600"], "[kworker/0:2]");

  // A hostile, long command line.
  const hostileArg = `<script>alert(1)</script> "quoted" 'single' é ${"A".repeat(20000)}`;
  const hostile = await startUntilLine(t, process.execPath, [...nodeListener("tcp", "127.0.0.1"), hostileArg]);

  const { snapshot: s, phases, totalMs } = await takeSnapshot({ stateDir });
  const byPid = new Map(s.processes.map((p) => [p.pid, p]));
  const socketsOf = (pid: number) => s.sockets.filter((k) => k.pid === pid);

  t.test("header", async (t) => {
    t.equal(s.os, "linux");
    t.match(s.hostId, /^[0-9a-f-]{36}$/);
    t.ok(s.hostname.length > 0);
    t.ok(Math.abs(s.takenAtMs - Date.now()) < 60_000);
    t.ok(totalMs > 0);
    for (const phase of ["processes", "socketOwners", "sockets", "hashing", "classification"]) t.type(phases[phase], "number", phase);
  });

  t.test("TCP listener", async (t) => {
    const port = Number(tcp.line.split(" ")[1]);
    const k = socketsOf(tcp.pid).find((x) => x.localPort === port);
    t.ok(k, "listener found with its owner");
    t.match(k, { transport: "tcp", family: 4, localAddress: "127.0.0.1", state: "LISTEN", direction: "listen", remoteAddress: "", remotePort: 0 });
    t.equal(byPid.get(tcp.pid)?.exe, readlinkSync("/proc/self/exe"));
  });

  t.test("UDP socket", async (t) => {
    const port = Number(udp.line.split(" ")[1]);
    t.match(
      socketsOf(udp.pid).find((x) => x.localPort === port),
      { transport: "udp", family: 4, state: "UNCONN", direction: "listen" },
    );
  });

  t.test("IPv6 socket", async (t) => {
    const port = Number(tcp6.line.split(" ")[1]);
    t.match(
      socketsOf(tcp6.pid).find((x) => x.localPort === port),
      { transport: "tcp", family: 6, localAddress: "::1", direction: "listen" },
    );
  });

  t.test("bash with an outbound /dev/tcp connection is tagged, with its parent chain", async (t) => {
    const inner = s.processes.find((p) => p.ppid === revShell.pid && p.cmdline.includes("/dev/tcp"));
    t.ok(inner, "inner bash found under the outer one");
    const k = socketsOf(inner!.pid).find((x) => x.remotePort === server.port);
    t.ok(k, "its socket is credited to it");
    t.match(k, { direction: "outbound", state: "ESTABLISHED", remoteAddress: "127.0.0.1" });
    t.ok(tags(k!).includes(TAG.SHELL_OUTBOUND), "tagged shell-outbound");
    t.match(k!.tags.find((x) => x.code === TAG.SHELL_OUTBOUND)!.reason, /bash.*reverse shell/);
    const chain = ancestry(inner!.pid, byPid).map((p) => p.pid);
    t.same(chain.slice(-3), [process.pid, revShell.pid, inner!.pid], "this test > bash > bash");
    // The test's own accepted end of the connection is inbound.
    const accepted = s.sockets.find((x) => x.pid === process.pid && x.localPort === server.port && x.remotePort === k!.localPort);
    t.equal(accepted?.direction, "inbound");
  });

  t.test("a binary run from a temp directory is tagged", async (t) => {
    const p = byPid.get(fromTemp.pid!)!;
    t.equal(p.exe, tempBash);
    t.ok(tags(p).includes(TAG.WRITABLE_DIR_EXE));
    const k = socketsOf(fromTemp.pid!)[0]!;
    t.ok(k, "its socket is there");
    t.ok(tags(k).includes(TAG.WRITABLE_DIR_EXE), "the socket carries the process's tag");
    t.ok(tags(k).includes(TAG.SHELL_OUTBOUND), "the copy is still known as bash");
    t.equal(p.sha256, sha256(bash), "hash is that of the bash it was copied from");
  });

  t.test("a deleted executable is reported and still hashed", async (t) => {
    const p = byPid.get(deleted.pid!)!;
    t.equal(p.exe, deletedPath);
    t.equal(p.exeDeleted, true);
    t.ok(tags(p).includes(TAG.DELETED_EXE));
    t.equal(p.sha256, sha256("/bin/sleep"));
  });

  t.test("a process dressed as a kernel thread is tagged", async (t) => {
    const p = byPid.get(fakeKworker.pid!)!;
    t.match(p.cmdline, /^\[kworker\/0:2\] 600$/);
    t.ok(tags(p).includes(TAG.NAME_IMITATION), JSON.stringify(p.tags));
    const real = s.processes.filter((x) => x.name.startsWith("kworker") && x.exe === "");
    t.ok(real.length > 0, "this machine has kernel threads to compare with");
    t.same(
      real.filter((k) => tags(k).includes(TAG.NAME_IMITATION)),
      [],
      "real kernel threads are not tagged",
    );
  });

  t.test("the full command line arrives untruncated", async (t) => {
    t.ok(byPid.get(hostile.pid!)!.cmdline.endsWith(hostileArg));
  });

  t.test("TIME_WAIT and other ownerless sockets have pid 0", async (t) => {
    t.same(
      s.sockets.filter((x) => x.state === "TIME_WAIT" && x.pid !== 0),
      [],
    );
  });

  t.test("every socket has a protocol and direction", async (t) => {
    const bad = s.sockets.filter((k: SocketRecord) => !k.protocol || !["listen", "inbound", "outbound"].includes(k.direction));
    t.same(bad, []);
  });
});

t.test("another user's socket is seen with its owner when run as root", { skip: !isRoot && "needs root" }, async (t) => {
  const other = await startUntilLine(t, "setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, ...nodeListener("tcp", "127.0.0.1")]);
  const { snapshot: s } = await takeSnapshot({ stateDir: t.testdir(), hash: false });
  const port = Number(other.line.split(" ")[1]);
  const k = s.sockets.find((x) => x.localPort === port && x.state === "LISTEN");
  t.ok(k, "socket found");
  t.equal(k!.pid, other.pid, "owned by the other user's process");
  const p = s.processes.find((x) => x.pid === other.pid)!;
  t.equal(p.uid, 65534);
  t.equal(p.user, userName(65534));
  t.equal(p.exe, readlinkSync("/proc/self/exe"));
});

t.test("sockets in another network namespace are seen", { skip: !isRoot && "needs root" }, async (t) => {
  const inNs = await startUntilLine(t, "unshare", ["--net", process.execPath, ...nodeListener("tcp", "127.0.0.1")]);
  const { snapshot: s } = await takeSnapshot({ stateDir: t.testdir(), hash: false });
  const port = Number(inNs.line.split(" ")[1]);
  const ours = s.sockets.find((x) => x.pid === process.pid)?.netns;
  const k = s.sockets.find((x) => x.localPort === port && x.state === "LISTEN" && x.netns !== ours);
  t.ok(k, "listener found in the other namespace");
  t.equal(k!.pid, inNs.pid);
  t.not(k!.netns, 0);
});

t.test("the host id is stable across snapshots and the hash cache is reused", async (t) => {
  const stateDir = t.testdir();
  const a = await takeSnapshot({ stateDir });
  const b = await takeSnapshot({ stateDir });
  t.equal(a.snapshot.hostId, b.snapshot.hostId);
  const cache = JSON.parse(readFileSync(join(stateDir, "exe-hashes.json"), "utf8")) as { entries: unknown[] };
  t.ok(cache.entries.length > 0, "cache written");
  t.ok(a.hashedFiles > 0, "first snapshot hashed executables");
  t.ok(b.hashedFiles < a.hashedFiles / 2, `second snapshot took hashes from the cache (${a.hashedFiles} then ${b.hashedFiles})`);
  const same = (x: SnapshotRecord) => new Map(x.processes.map((p) => [p.pid, p.sha256]));
  const sa = same(a.snapshot);
  for (const [pid, sha] of same(b.snapshot)) if (sa.has(pid) && sha && sa.get(pid)) t.equal(sha, sa.get(pid), `pid ${pid}`);
});

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function userName(uid: number): string {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.split(":")[2] === String(uid));
  return line ? line.split(":")[0]! : String(uid);
}
