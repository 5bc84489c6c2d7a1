// The events pipeline against the real kernel: bpftrace attached, real
// processes making real loopback connections. Needs root and bpftrace; skips
// with the reason otherwise. Loopback addresses only.

import t from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { chmodSync, copyFileSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventRecorder } from "oddwire-agent/collect/linux/events/event-recorder.js";
import { mountTracefs, preflight } from "oddwire-agent/collect/linux/events/preflight.js";
import type { TimedEvent } from "oddwire-agent/collect/linux/events/bpftrace-source.js";
import { kill, loopbackServer } from "./lib/child-processes.js";
import { waitFor } from "./lib/fleet.js";

function skipReason(): string | false {
  if (process.platform !== "linux") return "Linux only";
  if (process.getuid?.() !== 0) return "needs root to load tracing programs";
  const p = preflight();
  if (p.facts.bpftracePath === null) return "bpftrace is not installed";
  if (p.mountTracefs) mountTracefs();
  const again = preflight();
  return again.ok ? false : `events cannot be recorded here: ${again.missing.join("; ")}`;
}

const skip = skipReason();
const NODE = realpathSync(process.execPath);

/** Runs a child to completion (it is killed at teardown if the test ends first). */
function run(t: { teardown(fn: () => unknown): void }, cmd: string, args: string[]): Promise<{ child: ChildProcess; code: number | null; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  t.teardown(() => kill(child));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ child, code, stderr }));
  });
}

t.test("events from real processes", { skip }, async (t) => {
  const events: TimedEvent[] = [];
  const statuses: string[] = [];
  const recorder = new EventRecorder({ onEvent: (e) => events.push(e), onStatus: (s) => statuses.push(JSON.stringify(s)) });
  t.teardown(() => recorder.stop());
  recorder.start();
  // Compiling the program takes seconds on a loaded machine; a child that dies before it is ready fails the test at once.
  let ready = false;
  const died = waitFor("bpftrace to be ready or exit", () => (ready ? "ready" : statuses.find((s) => s.includes('"exited"'))), 180000, 100).then((s) => {
    if (s !== "ready") throw new Error(`bpftrace exited before it was ready: ${s}`);
  });
  await Promise.race([recorder.ready(), died]);
  ready = true;
  await died;

  t.test("a 50 ms TCP connection by a process that then exits: its pid, exe and cmdline; the accept by the listener", async (t) => {
    const server = await loopbackServer(t);
    const marker = `odw-live-${process.pid}-${Date.now()}`;
    const code = `const s=require("net").connect(${server.port},"127.0.0.1",()=>setTimeout(()=>s.destroy(),50));s.on("error",(e)=>{console.error(e.message);process.exit(1)});`;
    const { child, code: exit, stderr } = await run(t, NODE, ["-e", code, marker]);
    t.equal(exit, 0, stderr);
    const pid = child.pid!;
    await waitFor("the connect event", () => events.find((e) => e.kind === "connect" && e.pid === pid && e.remotePort === server.port), 30000, 50);
    await waitFor("the accept event", () => events.find((e) => e.kind === "accept" && e.pid === process.pid && e.localPort === server.port), 30000, 50);
    t.ok(
      events.some((e) => e.kind === "exec" && e.pid === pid),
      "its exec was seen",
    );

    const batch = recorder.flush();
    const out = batch.records.find((r) => r.kind === "tcp-out" && r.pid === pid && r.remotePort === server.port);
    t.match(out, { remoteAddress: "127.0.0.1", count: 1, failed: 0, exe: NODE, uid: 0 });
    t.match(out?.cmdline, marker, "cmdline read at exec time, though the process has exited since");
    t.equal(out?.ancestry[0]?.pid, process.pid, "its parent is this test");
    const inbound = batch.records.find((r) => r.kind === "tcp-in" && r.localPort === server.port);
    t.match(inbound, { pid: process.pid, remoteAddress: "127.0.0.1", remotePort: 0, exe: NODE }, "the accepted connection belongs to the listener");
  });

  t.test("a refused IPv6 loopback connection is recorded as failed", async (t) => {
    // Port 1 on ::1: nothing listens there on a test machine; the kernel answers RST.
    const code = `const s=require("net").connect(1,"::1");s.on("error",()=>process.exit(0));s.on("connect",()=>process.exit(2));`;
    const { child, code: exit } = await run(t, NODE, ["-e", code]);
    t.equal(exit, 0, "refused");
    const e = await waitFor("the failed connect", () => events.find((e) => e.kind === "connect" && e.pid === child.pid), 30000, 50);
    t.match(e, { family: 6, remoteAddress: "::1", remotePort: 1, outcome: "failed" });
  });

  t.test("a UDP datagram to a loopback port: the sender's first datagram and the receiver's", async (t) => {
    const sock = createSocket("udp4");
    t.teardown(() => new Promise<void>((r) => sock.close(() => r())));
    const got = new Promise<void>((resolve) => sock.once("message", () => resolve()));
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    const port = sock.address().port;
    const script = `import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor _ in range(3): s.sendto(b"odw",("127.0.0.1",${port}))\n`;
    const { child, code: exit, stderr } = await run(t, "python3", ["-c", script]);
    t.equal(exit, 0, stderr);
    await got;
    const sent = await waitFor("the send event", () => events.filter((e) => e.kind === "udp" && e.pid === child.pid && e.remotePort === port), 30000, 50).then((l) =>
      l.length ? l : null,
    );
    t.equal(sent!.length, 1, "three datagrams, one event: only the first of a flow is printed");
    t.match(sent![0], { direction: "send", remoteAddress: "127.0.0.1" });
    await waitFor("the receive event", () => events.find((e) => e.kind === "udp" && e.direction === "recv" && e.pid === process.pid && e.localPort === port), 30000, 50);
    const batch = recorder.flush();
    const rec = batch.records.find((r) => r.kind === "udp-out" && r.pid === child.pid);
    t.match(rec, { remotePort: port, count: 1 });
    t.match(rec?.exe, /python3/);
    t.match(rec?.cmdline, /SOCK_DGRAM/);
  });

  t.test("an executable with quotes, a backslash, a newline and UTF-8 in its name comes through as its name", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "odw-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'a"b\\c\nd caf\u00e9');
    copyFileSync("/bin/true", path);
    chmodSync(path, 0o755);
    const { child, code } = await run(t, path, []);
    t.equal(code, 0);
    const e = await waitFor("the exec event", () => events.find((e) => e.kind === "exec" && e.pid === child.pid), 30000, 50);
    t.equal((e as { filename: string }).filename, path, "bytes >= 0x80 decoded as UTF-8, escapes undone");
    t.equal(e.comm.slice(0, 9), 'a"b\\c\nd c', "comm is the first 15 bytes of the name");
  });

  t.test("stop reaps bpftrace", async (t) => {
    const pid = recorder.source.pid!;
    t.ok(pid > 0);
    await recorder.stop();
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    t.notOk(alive, "the bpftrace pid is gone");
  });
});
