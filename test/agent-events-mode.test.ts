// --events auto|on|off at start-up: `on` where events cannot be recorded (here
// the agent runs as nobody, without the capabilities tracing needs) stops with
// ODW_ERR_EVENTS naming what is missing; `auto` logs events.unavailable with
// the reason and keeps snapshotting, each batch's Visibility saying why;
// `off` never starts a tracer.

import t from "tap";
import { spawn } from "node:child_process";
import { chownSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { oddwire } from "@oddwire/proto";
import { kill, track } from "./lib/child-processes.js";
import { AGENT_BIN, SECRET, waitFor } from "./lib/fleet.js";
import { keepBatches, logEvents, startStubCollector } from "./lib/stub-collector.js";

const NOBODY = 65534;
const asRoot = process.platform === "linux" && process.getuid?.() === 0;

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

async function runAgent(t: Teardown, state: string, args: string[], uid?: number) {
  const batches: oddwire.v1.Batch[] = [];
  const server = await startStubCollector(t, { stream: keepBatches(batches) });
  writeFileSync(join(state, "host-id"), "events-mode-host\n");
  if (uid !== undefined) {
    chownSync(state, uid, uid);
    chownSync(join(state, "host-id"), uid, uid);
  }
  const child = track(
    spawn(process.execPath, [AGENT_BIN, "run", "--collector", server.url, "--enroll-secret", SECRET, "--state-dir", state, "--no-hash", "--schedule", "*/5 * * * * *", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
      ...(uid !== undefined && { uid, gid: uid }),
    }),
  );
  t.teardown(() => kill(child));
  const log: string[] = [];
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
    log.push(...String(d).split("\n").filter(Boolean));
  });
  let exitCode: number | null | undefined;
  child.on("exit", (code) => (exitCode = code));
  return { server, batches, log, stderr: () => stderr, exitCode: () => exitCode };
}

t.test("--events on where tracing is not allowed: a clear error, nothing sent", { skip: !asRoot && "needs root to run the agent as another user" }, async (t) => {
  const a = await runAgent(t, t.testdir({}), ["--events", "on"], NOBODY);
  await waitFor("the agent to exit", () => a.exitCode() !== undefined, 60_000);
  t.equal(a.exitCode(), 1);
  t.match(a.stderr(), /ODW_ERR_EVENTS.*--events on, but connection events cannot be recorded on this host: .*CAP_SYS_ADMIN.*--events auto/);
  t.equal(a.server.enrolls.length, 0, "it stopped before enrolling or streaming");
});

t.test("--events auto where tracing is not allowed: the reason logged and sent, snapshots go on", { skip: !asRoot && "needs root to run the agent as another user" }, async (t) => {
  const a = await runAgent(t, t.testdir({}), ["--events", "auto"], NOBODY);
  const unavailable = await waitFor("events.unavailable", () => logEvents(a.log).find((e) => e["event"] === "events.unavailable"), 60_000);
  t.match(unavailable, { level: "warn", reason: /CAP_SYS_ADMIN/ });
  t.ok(Array.isArray(unavailable["missing"]) && (unavailable["missing"] as string[]).length > 0, "each missing item in words");
  await waitFor("two batches", () => a.batches.length >= 2, 60_000);
  for (const b of a.batches) {
    t.match(b.snapshot?.visibility, { mode: "snapshots", reason: /CAP_SYS_ADMIN/ }, `batch ${b.seq}`);
    t.same(b.snapshot?.connections ?? [], []);
  }
  t.ok((a.batches[0]!.snapshot?.processes?.length ?? 0) > 0, "snapshots carry on");
  t.equal(a.exitCode(), undefined, "still running");
});

t.test("--events off: snapshots only, no tracer started", { skip: process.platform !== "linux" && "Linux only" }, async (t) => {
  const a = await runAgent(t, t.testdir({}), ["--events", "off"]);
  await waitFor("a batch", () => a.batches.length >= 1, 60_000);
  t.match(a.batches[0]!.snapshot?.visibility, { mode: "snapshots", reason: "connection events are turned off (--events off)" });
  t.notOk(
    logEvents(a.log).some((e) => String(e["event"]).startsWith("events.")),
    "no events.* lines",
  );
});

t.test("a bad --events value is refused before anything starts", async (t) => {
  const a = await runAgent(t, t.testdir({}), ["--events", "maybe"]);
  await waitFor("the agent to exit", () => a.exitCode() !== undefined, 60_000);
  t.not(a.exitCode(), 0);
  t.match(a.stderr(), /ODW_ERR_CONFIG.*must be auto, on or off/);
  const cap = await runAgent(t, t.testdir({}), ["--events-rate-cap", "0"]);
  await waitFor("the agent to exit", () => cap.exitCode() !== undefined, 60_000);
  t.match(cap.stderr(), /ODW_ERR_CONFIG.*events-rate-cap|ODW_ERR_CONFIG.*eventsRateCap/);
});
