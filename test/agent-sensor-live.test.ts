// The oddwire sensor (agent/bpf) against the real kernel: built here with
// clang, libbpf and bpftool, attached, and real processes making real loopback
// connections; then run as an unprivileged user holding only CAP_BPF and
// CAP_PERFMON, the agent service's set. Needs root (to load, and to drop to
// that user); skips with the reason otherwise. Under CI a missing build tool
// fails. Loopback addresses only.

import t from "tap";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBpftraceLine, type BpftraceEvent } from "oddwire-agent/collect/linux/events/parse-bpftrace-line.js";
import { SensorSource, type SourceStatus, type TimedEvent } from "oddwire-agent/collect/linux/events/sensor-source.js";
import { kill, loopbackServer, track } from "./lib/child-processes.js";
import { skipWithoutTools } from "./lib/system-tools.js";

const BPF_DIR = fileURLToPath(new URL("../../agent/bpf/", import.meta.url));
const SENSOR = join(BPF_DIR, "build", "oddwire-sensor");
const NODE = realpathSync(process.execPath);
const CAP_BPF = 39n;
const CAP_PERFMON = 38n;

function skipReason(): string | false {
  if (process.platform !== "linux") return "Linux only";
  const tools = skipWithoutTools(
    ["make", "clang", "llvm-strip", "bpftool", "cc", "pkg-config", "setpriv", "unshare"],
    "make clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config util-linux",
  );
  if (tools) return tools;
  if (spawnSync("pkg-config", ["--exists", "libbpf"]).status !== 0) {
    if (process.env["CI"] === "true") throw new Error("CI is missing libbpf-dev (pkg-config cannot find libbpf)");
    return "needs libbpf-dev (pkg-config cannot find libbpf)";
  }
  if (!existsSync("/sys/kernel/btf/vmlinux")) return "the kernel has no BTF (/sys/kernel/btf/vmlinux); CO-RE programs cannot load";
  if (process.getuid?.() !== 0) return "needs root: to load the programs, and to drop to an unprivileged user with only CAP_BPF and CAP_PERFMON";
  return false;
}

const skip = skipReason();

/** Events as they arrive, and a promise for the first that matches. */
class EventLog {
  readonly all: TimedEvent[] = [];
  private waiters: Array<{ match: (e: TimedEvent) => boolean; resolve: (e: TimedEvent) => void }> = [];

  push(e: TimedEvent): void {
    this.all.push(e);
    const matched = this.waiters.filter((w) => w.match(e));
    this.waiters = this.waiters.filter((w) => !matched.includes(w));
    for (const w of matched) w.resolve(e);
  }

  /** The first event (already seen or still to come) that matches; rejects after a generous bound so a miss fails rather than hangs. */
  next<K extends TimedEvent>(what: string, match: (e: TimedEvent) => e is K, boundMs?: number): Promise<K>;
  next(what: string, match: (e: TimedEvent) => boolean, boundMs?: number): Promise<TimedEvent>;
  next(what: string, match: (e: TimedEvent) => boolean, boundMs = 60000): Promise<TimedEvent> {
    const seen = this.all.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} event within ${boundMs} ms`)), boundMs);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }
}

/** Runs a child to completion (killed at teardown if the test ends first). */
function run(t: { teardown(fn: () => unknown): void }, cmd: string, args: string[], cwd?: string): Promise<{ child: ChildProcess; code: number | null; stderr: string }> {
  const child = track(spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], cwd }));
  t.teardown(() => kill(child));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ child, code, stderr }));
  });
}

/** The sensor started directly (optionally through setpriv), its parsed lines, and its exit. */
function startSensor(t: { teardown(fn: () => unknown): void }, cmd: string, args: string[]) {
  const child = track(spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }));
  t.teardown(() => kill(child));
  const log = new EventLog();
  let stderr = "";
  let pending = "";
  let onReady: () => void = () => {};
  let onLost: (n: number) => void = () => {};
  const lost = new Promise<number>((resolve) => (onLost = resolve));
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stderr!.on("data", (d) => (stderr += d));
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => {
    pending += d;
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const p = parseBpftraceLine(pending.slice(0, nl), { strings: "sensor" });
      pending = pending.slice(nl + 1);
      if (p.type === "ready") onReady();
      if (p.type === "lost") onLost(p.count);
      if (p.type === "event") log.push({ ...p.event, timeMs: 0 });
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stderr })),
  );
  const readyOrExit = Promise.race([ready.then(() => null), exit]);
  return { child, log, readyOrExit, exit, lost };
}

function isConnect(e: TimedEvent): e is Extract<BpftraceEvent, { kind: "connect" }> & TimedEvent {
  return e.kind === "connect";
}

/** A loopback connection from this process; resolves once it is open, having closed it. */
function connectOnce(port: number, host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host, () => {
      const local = s.localPort!;
      s.destroy();
      resolve(local);
    });
    s.on("error", reject);
  });
}

function capEff(pid: number): bigint {
  return BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]}`);
}

/** A copy of the sensor that an unprivileged user may run (the work tree may not be readable to it). */
function sensorCopy(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "odw-sensor-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const path = join(dir, "oddwire-sensor");
  copyFileSync(SENSOR, path);
  chmodSync(path, 0o755);
  return path;
}

const NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"];

t.test("the sensor", { skip }, async (t) => {
  const built = spawnSync("sh", [join(BPF_DIR, "build-sensor.sh")], { encoding: "utf8" });
  t.equal(built.status, 0, `npm run build:sensor builds it: ${built.stderr}`);
  t.ok(existsSync(SENSOR), "agent/bpf/build/oddwire-sensor exists");
  if (built.status !== 0) return;

  t.test("events from real processes, through SensorSource", async (t) => {
    const log = new EventLog();
    let exited: (s: SourceStatus) => void = () => {};
    const died = new Promise<SourceStatus>((resolve) => (exited = resolve));
    const source = new SensorSource({ sensorPath: SENSOR, onEvent: (e) => log.push(e), onStatus: (s) => s.state === "exited" && exited(s), maxRestarts: 0 });
    t.teardown(() => source.stop());
    source.start();
    const first = await Promise.race([source.ready().then(() => null), died]);
    if (first) throw new Error(`the sensor exited before it was ready: ${JSON.stringify(first)}`);

    t.test("a 50 ms TCP connection by a process that then exits: its pid and exec; the accept by the listener", async (t) => {
      const server = await loopbackServer(t);
      const code = `const s=require("net").connect(${server.port},"127.0.0.1",()=>setTimeout(()=>s.destroy(),50));s.on("error",(e)=>{console.error(e.message);process.exit(1)});`;
      const { child, code: exit, stderr } = await run(t, NODE, ["-e", code]);
      t.equal(exit, 0, stderr);
      const pid = child.pid!;
      const out = await log.next("connect", (e): e is TimedEvent => isConnect(e) && e.pid === pid && e.remotePort === server.port);
      t.match(out, { family: 4, localAddress: "127.0.0.1", remoteAddress: "127.0.0.1", outcome: "established", uid: 0, comm: "node" });
      const exec = await log.next("exec", (e) => e.kind === "exec" && e.pid === pid);
      t.match(exec, { filename: NODE, ppid: process.pid, uid: 0 }, "exec details: the file run and the parent");
      const inbound = await log.next(
        "accept",
        (e) => e.kind === "accept" && e.localPort === server.port && "remotePort" in e && e.remotePort === (out as { localPort: number }).localPort,
      );
      t.equal(inbound.pid, process.pid, "the accepted connection belongs to the listener");
      t.match(inbound, { remoteAddress: "127.0.0.1" });
    });

    t.test("a refused IPv6 loopback connection is recorded as failed", async (t) => {
      // Port 1 on ::1: nothing listens there on a test machine; the kernel answers RST.
      const code = `const s=require("net").connect(1,"::1");s.on("error",()=>process.exit(0));s.on("connect",()=>process.exit(2));`;
      const { child, code: exit } = await run(t, NODE, ["-e", code]);
      t.equal(exit, 0, "refused");
      const e = await log.next("failed connect", (e) => isConnect(e) && e.pid === child.pid);
      t.match(e, { family: 6, remoteAddress: "::1", remotePort: 1, outcome: "failed" });
    });

    t.test("a UDP datagram to a loopback port: the sender's first datagram only, and the receiver's", async (t) => {
      const sock = createSocket("udp4");
      t.teardown(() => new Promise<void>((r) => sock.close(() => r())));
      const got = new Promise<void>((resolve) => sock.once("message", () => resolve()));
      await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
      const port = sock.address().port;
      const script = `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor _ in range(3): s.sendto(b"odw",("127.0.0.1",${port}))\n`;
      const { child, code: exit, stderr } = await run(t, "python3", ["-c", script]);
      t.equal(exit, 0, stderr);
      await got;
      const recv = await log.next("udp recv", (e) => e.kind === "udp" && e.direction === "recv" && e.pid === process.pid && e.localPort === port);
      t.match(recv, { remoteAddress: "127.0.0.1", localAddress: "127.0.0.1" });
      // The ring buffer is one queue in reservation order: once a later exec is read, every event of the sender is too.
      const marker = await run(t, "/bin/true", []);
      await log.next("marker exec", (e) => e.kind === "exec" && e.pid === marker.child.pid);
      const sent = log.all.filter((e) => e.kind === "udp" && e.pid === child.pid && e.remotePort === port);
      t.equal(sent.length, 1, "three datagrams, one event: only the first of a flow");
      t.match(sent[0], { direction: "send", remoteAddress: "127.0.0.1", comm: "python3" });
    });

    t.test("executables with hostile names arrive intact", async (t) => {
      const dir = mkdtempSync(join(tmpdir(), "odw-"));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, 'a"b\\c\nd\u0001 caf\u00e9 \u2603');
      copyFileSync("/bin/true", path);
      chmodSync(path, 0o755);
      const { child, code } = await run(t, path, []);
      t.equal(code, 0);
      const e = await log.next("exec of the quoted name", (e) => e.kind === "exec" && e.pid === child.pid);
      t.equal((e as { filename: string }).filename, path, "quotes, backslash, control characters and UTF-8 as they were");
      t.equal(e.comm, Buffer.from('a"b\\c\nd\u0001 caf\u00e9 \u2603').subarray(0, 15).toString("utf8"), "comm is the first 15 bytes of the name");

      // Bytes that are not UTF-8: the name can only be reached through the shell's glob.
      const raw = mkdtempSync(join(tmpdir(), "odw-"));
      t.teardown(() => rmSync(raw, { recursive: true, force: true }));
      const name = Buffer.concat([Buffer.from("bad"), Buffer.of(0xff, 0xc3), Buffer.from("\\x")]);
      const rawPath = Buffer.concat([Buffer.from(`${raw}/`), name]);
      copyFileSync("/bin/true", rawPath);
      chmodSync(rawPath, 0o755);
      const viaGlob = await run(t, "/bin/sh", ["-c", "exec ./bad*"], raw);
      t.equal(viaGlob.code, 0, viaGlob.stderr);
      const bad = await log.next("exec of the non-UTF-8 name", (e) => e.kind === "exec" && e.pid === viaGlob.child.pid && e.comm !== "sh");
      t.equal((bad as { filename: string }).filename, `./${name.toString("utf8")}`, "invalid bytes become U+FFFD, as on the bpftrace route");
      t.equal(bad.comm, name.toString("utf8"));
    });

    t.test("stop reaps the sensor", async (t) => {
      const pid = source.pid!;
      t.ok(pid > 0);
      await source.stop();
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
      t.notOk(alive, "the sensor pid is gone");
    });
  });

  t.test("as nobody with only CAP_BPF and CAP_PERFMON, the agent service's capabilities, and no tracefs", async (t) => {
    const sensor = sensorCopy(t);
    // A mount namespace of its own without tracefs (the host's stays mounted); unshare and sh exec, so the pid is the sensor's.
    const script = [
      "umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug 2>/dev/null",
      'if [ -e /sys/kernel/tracing/events ]; then echo "tracefs is still mounted" >&2; exit 9; fi',
      `exec setpriv ${NOBODY.join(" ")} --inh-caps=+bpf,+perfmon --ambient-caps=+bpf,+perfmon "$0"`,
    ].join("\n");
    const s = startSensor(t, "unshare", ["-m", "--propagation", "private", "sh", "-c", script, sensor]);
    const early = await s.readyOrExit;
    t.equal(early, null, `attached: ${JSON.stringify(early)}`);
    if (early) return;
    const pid = s.child.pid!;
    t.equal(capEff(pid), (1n << CAP_BPF) | (1n << CAP_PERFMON), "effective set: CAP_BPF and CAP_PERFMON, nothing else");
    t.match(readFileSync(`/proc/${pid}/status`, "utf8"), /^Uid:\t65534\t65534\t65534\t65534$/m);
    const server = await loopbackServer(t);
    const local = await connectOnce(server.port);
    const e = await s.log.next("connect seen by the unprivileged sensor", (e) => isConnect(e) && e.localPort === local);
    t.match(e, { pid: process.pid, remotePort: server.port, outcome: "established" });
    s.child.kill("SIGTERM");
    const end = await s.exit;
    t.same({ code: end.code, signal: end.signal }, { code: 0, signal: null }, "SIGTERM: detaches and exits 0");
  });

  t.test("with one of the two missing, or none, a clear error and exit status 1", async (t) => {
    const sensor = sensorCopy(t);
    for (const caps of ["+bpf", "+perfmon", ""]) {
      const args = caps ? [...NOBODY, `--inh-caps=${caps}`, `--ambient-caps=${caps}`, sensor] : [...NOBODY, sensor];
      const s = startSensor(t, "setpriv", args);
      const end = await s.exit;
      t.equal(end.code, 1, `caps "${caps}": exit 1`);
      t.match(end.stderr, /oddwire-sensor: cannot load the BPF programs: Operation not permitted \(the sensor needs CAP_BPF and CAP_PERFMON/, `caps "${caps}": says what it needs`);
    }
  });

  t.test("no kernel BTF (hidden under a tmpfs in a mount namespace of its own): says so, exit status 2", async (t) => {
    const s = startSensor(t, "unshare", ["-m", "--propagation", "private", "sh", "-c", 'mount -t tmpfs none /sys/kernel/btf && exec "$0"', SENSOR]);
    const end = await s.exit;
    t.equal(end.code, 2);
    t.match(end.stderr, /the kernel has no readable BTF at \/sys\/kernel\/btf\/vmlinux .*CONFIG_DEBUG_INFO_BTF=y/);
  });

  t.test("a full ring buffer: the events that did not fit are counted and reported", async (t) => {
    const s = startSensor(t, SENSOR, ["--ring-bytes", "4096"]);
    t.equal(await s.readyOrExit, null);
    const server = await loopbackServer(t);
    // Stopped, the loader reads nothing while 200 connections (400 events of ~90 bytes) meet a 4 KiB ring.
    s.child.kill("SIGSTOP");
    try {
      for (let i = 0; i < 200; i++) await connectOnce(server.port);
    } finally {
      s.child.kill("SIGCONT");
    }
    const count = await s.lost;
    t.ok(count > 0, `a lost_events line: ${count}`);
    const seen = s.log.all.filter((e) => isConnect(e) && e.remotePort === server.port).length;
    t.ok(seen < 200, `fewer connects than made were read (${seen})`);
  });

  t.test("SIGINT as root: exits 0; an argument: usage and exit 1", async (t) => {
    const s = startSensor(t, SENSOR, []);
    t.equal(await s.readyOrExit, null);
    s.child.kill("SIGINT");
    t.match(await s.exit, { code: 0, signal: null });
    const usage = spawnSync(SENSOR, ["--bogus"], { encoding: "utf8" });
    t.equal(usage.status, 1);
    t.match(usage.stderr, /^usage: /);
    const odd = spawnSync(SENSOR, ["--ring-bytes", "5000"], { encoding: "utf8" });
    t.equal(odd.status, 1);
    t.match(odd.stderr, /--ring-bytes 5000 is not a power of two/);
  });
});
