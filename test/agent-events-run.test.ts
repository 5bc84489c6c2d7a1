// `oddwire-agent run --events on` against the real kernel: real processes make
// real loopback connections, and the agent's batches (captured by a stub
// collector) carry them as Connection records with the process behind them,
// its parents, tags and, for a loop, a Beacon. Needs root and bpftrace; skips
// with the reason otherwise (under CI=true a missing bpftrace fails).
// Loopback addresses only.

import t from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { oddwire } from "@oddwire/proto";
import { TAG } from "@oddwire/shared";
import { kill, loopbackServer, startUntilLine, track } from "./lib/child-processes.js";
import { AGENT_BIN, SECRET, waitFor } from "./lib/fleet.js";
import { keepBatches, logEvents, startStubCollector } from "./lib/stub-collector.js";
import { skipWithoutTools } from "./lib/system-tools.js";

function skipReason(): string | false {
  if (process.platform !== "linux") return "Linux only";
  if (process.getuid?.() !== 0) return "needs root to load tracing programs";
  return skipWithoutTools(["bpftrace"], "bpftrace");
}

const skip = skipReason();
const NODE = realpathSync(process.execPath);
const BASH = realpathSync("/bin/bash");
const SCHEDULE = "*/10 * * * * *";

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

interface RunningAgent {
  child: ChildProcess;
  log: string[];
  batches: oddwire.v1.Batch[];
  connections(): oddwire.v1.IConnection[];
}

async function startEventsAgent(t: Teardown, dir: string, name: string, args: string[]): Promise<RunningAgent> {
  const batches: oddwire.v1.Batch[] = [];
  const server = await startStubCollector(t, { stream: keepBatches(batches) });
  const stateDir = join(dir, name);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(stateDir, "host-id"), `${name}\n`);
  const child = track(
    spawn(process.execPath, [AGENT_BIN, "run", "--collector", server.url, "--enroll-secret", SECRET, "--state-dir", stateDir, "--no-hash", "--schedule", SCHEDULE, ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
  const log: string[] = [];
  child.stderr!.on("data", (d) => log.push(...String(d).split("\n").filter(Boolean)));
  t.teardown(() => kill(child));
  let exited: number | null | undefined;
  child.on("exit", (code) => (exited = code));
  // Compiling the program takes seconds on a loaded machine.
  await waitFor(
    "the agent's events.started line",
    () => {
      if (exited !== undefined) throw new Error(`the agent exited with ${exited}: ${log.join("\n")}`);
      return logEvents(log).some((e) => e["event"] === "events.started");
    },
    180_000,
    100,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; the agent said: ${log.join("\n")}`);
  });
  return { child, log, batches, connections: () => batches.flatMap((b) => b.snapshot?.connections ?? []) };
}

function run(t: Teardown, cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = track(spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] }));
  t.teardown(() => kill(child));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

t.test("connection events in the agent's batches", { skip }, async (t) => {
  const dir = t.testdir({});
  // The beacon runs for a minute: started first, checked last.
  const beaconTarget = await loopbackServer(t);
  const loop = `for i in $(seq 31); do exec 3<>/dev/tcp/127.0.0.1/${beaconTarget.port} && exec 3>&-; sleep 2; done`;
  const agent = await startEventsAgent(t, dir, "events-run-host", ["--events", "on"]);
  const beacon = track(spawn(BASH, ["-c", loop], { stdio: "ignore" }));
  t.teardown(() => kill(beacon));

  t.test("a process that connects for 50 ms and exits: exe, cmdline and parent chain", async (t) => {
    const server = await loopbackServer(t);
    const marker = `odw-conn-${process.pid}-${Date.now()}`;
    const code = `const s=require("net").connect(${server.port},"127.0.0.1",()=>setTimeout(()=>s.destroy(),50));s.on("error",(e)=>{console.error(e.message);process.exit(1)});`;
    // bash -c "...; true" keeps bash as the parent (no exec of the last command).
    const r = await run(t, BASH, ["-c", `"$0" -e "$1" ${marker}; true`, NODE, code]);
    t.equal(r.code, 0, r.stderr);
    // Found by its port (this test's listener), so that a missing command line fails the assertion below, not the wait.
    const c = await waitFor("the connection in a batch", () => agent.connections().find((c) => c.direction === "outbound" && c.remotePort === server.port), 60_000, 200);
    t.match(c.process?.cmdline, marker, "the command line, read at exec time (the agent reads /proc when it handles the exec event: a loaded agent can be too late)");
    t.match(c, { transport: "tcp", family: 4, remoteAddress: "127.0.0.1", count: 1, failed: 0, protocol: "unknown" });
    t.equal(c.process?.exe, NODE, "the executable, read at exec time though the process has exited");
    t.equal(c.process?.user, "root");
    t.ok(Number(c.process?.startedAtMs) > 0, "its start time");
    t.same(c.ancestry?.slice(0, 2), [BASH, NODE], "parents nearest first: bash, then this test's node");
    t.ok(
      c.tags?.some((tag) => tag.code === TAG.INTERPRETER_OUTBOUND),
      "node connecting out is tagged as an interpreter would be for a socket",
    );
  });

  t.test("an accepted connection belongs to the listening process", async (t) => {
    const listener = await startUntilLine(t, "python3", [
      "-c",
      "import socket\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\nprint(s.getsockname()[1],flush=True)\nwhile True:\n  c,_=s.accept()\n  c.close()\n",
    ]);
    const port = Number(listener.line);
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve();
      });
      s.on("error", reject);
    });
    const c = await waitFor("the inbound connection in a batch", () => agent.connections().find((c) => c.direction === "inbound" && c.localPort === port), 60_000, 200);
    t.match(c, { transport: "tcp", remoteAddress: "127.0.0.1", remotePort: 0 });
    t.equal(c.process?.pid, listener.pid, "the listener's pid");
    t.match(c.process?.exe, /python3/);
  });

  t.test("a UDP flow: the sender's record and the receiver's", async (t) => {
    const sock = createSocket("udp4");
    t.teardown(() => new Promise<void>((r) => sock.close(() => r())));
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    const port = sock.address().port;
    const got = new Promise<void>((resolve) => sock.once("message", () => resolve()));
    const marker = `odw-udp-${process.pid}`;
    const r = await run(t, "python3", [
      "-c",
      `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor _ in range(3): s.sendto(b"odw",("127.0.0.1",${port}))\n`,
      marker,
    ]);
    t.equal(r.code, 0, r.stderr);
    await got;
    const out = await waitFor(
      "the UDP send in a batch",
      () => agent.connections().find((c) => c.transport === "udp" && c.direction === "outbound" && c.remotePort === port),
      60_000,
      200,
    );
    t.match(out.process?.cmdline, marker);
    t.equal(out.count, 1, "three datagrams of one flow: one connection");
    const inbound = await waitFor(
      "the UDP receive in a batch",
      () => agent.connections().find((c) => c.transport === "udp" && c.direction === "inbound" && c.localPort === port),
      60_000,
      200,
    );
    t.equal(inbound.process?.pid, process.pid, "the receiver is this test");
  });

  t.test("every batch says what the agent could see", async (t) => {
    const v = agent.batches.at(-1)?.snapshot?.visibility;
    t.match(v, { mode: "events+snapshots", reason: "" });
    t.ok(
      agent.batches.some((b) => !b.full && (b.snapshot?.connections?.length ?? 0) > 0),
      "delta batches carry connections too",
    );
  });

  t.test("a loop connecting every 2 s for a minute is a beacon", async (t) => {
    const c = await waitFor(
      "a Beacon on the loop's connections",
      () => agent.connections().find((c) => c.remotePort === beaconTarget.port && c.beacon && Number(c.beacon.count) >= 25),
      150_000,
      500,
    );
    t.equal(c.process?.exe, BASH);
    const b = c.beacon!;
    t.ok(Math.abs(Number(b.intervalMs) - 2000) < 500, `interval ${b.intervalMs} ms, about the loop's 2 s`);
    t.ok(Number(b.spanMs) >= 40_000, `span ${b.spanMs} ms`);
    const tag = c.tags?.find((tag) => tag.code === TAG.BEACONING);
    t.comment(`reason: ${tag?.reason}`);
    t.match(tag?.reason, new RegExp(`every \\d+(\\.\\d)? s ± \\d+(\\.\\d)? (ms|s) for \\d+(\\.\\d)? (s|min) to 127\\.0\\.0\\.1:${beaconTarget.port} \\(\\d+ connections`));
    t.ok(
      c.tags?.some((tag) => tag.code === TAG.SHELL_OUTBOUND),
      "bash connecting itself is a shell's outbound connection",
    );
  });
});

t.test("events over a tiny rate cap are counted as dropped", { skip }, async (t) => {
  const dir = t.testdir({});
  const agent = await startEventsAgent(t, dir, "events-cap-host", ["--events", "on", "--events-rate-cap", "1"]);
  const server = await loopbackServer(t);
  const code = `let n=0;const go=()=>{const s=require("net").connect(${server.port},"127.0.0.1",()=>{s.destroy();if(++n<40)go();});s.on("error",()=>process.exit(1))};go();`;
  const r = await run(t, NODE, ["-e", code]);
  t.equal(r.code, 0, r.stderr);
  const v = await waitFor("visibility.droppedRate > 0", () => agent.batches.map((b) => b.snapshot?.visibility).find((v) => v && Number(v.droppedRate) > 0), 60_000, 200);
  t.equal(v.mode, "events+snapshots");
  t.ok(Number(v.droppedRate) > 0, `${v.droppedRate} events dropped over the cap`);
});
