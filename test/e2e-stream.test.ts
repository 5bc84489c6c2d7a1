// End to end over loopback: real collector processes, real agents (run and
// replay), real SQLite files. Snapshots arrive and are queryable; killing the
// collector with SIGKILL loses and duplicates nothing; an agent offline for a
// while delivers everything; a full spool drops the oldest and says how many.

import t from "tap";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AGENT_BIN, COLLECTOR_BIN, freePort, query, range, SECRET, seqsOf, startAgent, startCollector, stopGracefully, waitFor } from "./lib/fleet.js";
import { kill, track } from "./lib/child-processes.js";
import { takeSnapshot } from "oddwire-agent/snapshot.js";
import { encodeSnapshot } from "oddwire-agent/render/snapshot-json.js";

const EVERY_SECOND = ["--schedule", "* * * * * *"];

/**
 * The spool's state. The state file's nextSeq is not rewritten on every
 * enqueue (the newest batch file records it), so the batches made are the
 * larger of the two, as the spool itself computes when it opens.
 */
function spoolState(stateDir: string): { nextSeq: number; droppedTotal: number } {
  const state = JSON.parse(readFileSync(join(stateDir, "spool", "spool-state.json"), "utf8")) as { nextSeq: number; droppedTotal: number };
  const newest = Math.max(0, ...spoolFiles(stateDir).map((f) => Number(f.split(".")[0])));
  return { nextSeq: Math.max(state.nextSeq, newest + 1), droppedTotal: state.droppedTotal };
}

function spoolFiles(stateDir: string): string[] {
  return readdirSync(join(stateDir, "spool")).filter((f) => f.endsWith(".batch"));
}

t.test("an agent's snapshots arrive and are queryable", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const collector = await startCollector(t, db);
  const agent = startAgent(t, dir, "host-a", collector.url, EVERY_SECOND);
  await waitFor("three batches from host-a", () => seqsOf(db, "host-a").length >= 3);
  t.equal(await stopGracefully(agent.child), 0, "agent stops cleanly on SIGTERM");

  const [host] = query<Record<string, any>>(db, "SELECT * FROM hosts WHERE host_id = 'host-a'");
  t.match(host, { os: "linux", agent_version: "0.1.0" });
  t.ok(host!["last_snapshot_at"] > 0);
  const batches = query<{ seq: number; full: number }>(db, "SELECT seq, full FROM batches WHERE host_id = 'host-a' ORDER BY seq");
  t.equal(batches[0]!.full, 1, "the first batch is full");
  t.ok(
    batches.slice(1).every((b) => b.full === 0),
    "the next ones are deltas",
  );
  t.same(
    batches.map((b) => b.seq),
    range(1, batches.length),
  );
  const procs = query<{ pid: number; cmdline: string }>(db, "SELECT pid, cmdline FROM processes WHERE host_id = 'host-a'");
  t.ok(
    procs.some((p) => p.pid === agent.child.pid && p.cmdline.includes("oddwire-agent.js run")),
    "the agent's own process is in the current state",
  );
  const own = query<{ direction: string; remote_port: number }>(db, "SELECT direction, remote_port FROM sockets WHERE host_id = 'host-a' AND pid = ?", agent.child.pid);
  t.ok(
    own.some((s) => s.direction === "outbound" && s.remote_port === collector.port),
    "its connection to the collector is a socket of the host",
  );
  const obs = query<{ binary: string; direction: string; port: number; count: number }>(db, "SELECT binary, direction, port, count FROM observations WHERE host_id = 'host-a'");
  t.ok(
    obs.some((o) => o.binary === process.execPath && o.direction === "outbound" && o.port === collector.port && o.count >= 1),
    "observation of node speaking to the collector's port",
  );
  t.ok(query(db, "SELECT 1 FROM host_binaries WHERE host_id = 'host-a' AND binary = ?", process.execPath).length === 1, "binaries the host runs are recorded");

  const list = spawnSync(process.execPath, [COLLECTOR_BIN, "agents", "--db", db, "--format", "json"], { encoding: "utf8" });
  t.equal(list.status, 0, list.stderr);
  const json = JSON.parse(list.stdout);
  t.match(json.hosts[0], { hostId: "host-a", hostname: String, os: "linux", agentVersion: "0.1.0", droppedBatches: 0, silent: false, revokedAt: null });
  t.equal(json.hosts[0].lastSeq, batches.length);
  const table = spawnSync(process.execPath, [COLLECTOR_BIN, "agents", "--db", db], { encoding: "utf8" });
  t.match(table.stdout, /^HOST ID\s+HOSTNAME\s+OS\s+PLATFORM\s+AGENT\s+FIRST SEEN\s+LAST SEEN\s+LAST SNAPSHOT\s+SEQ\s+DROPPED\s+EVENTS\s+EVENTS DROPPED\s+STATUS\nhost-a\s/);
  t.match(table.stdout, /\n1 host\n$/);
});

t.test("SIGKILLing the collector repeatedly loses and duplicates nothing", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  let collector = await startCollector(t, db);
  const port = collector.port;
  const agents = ["kill-1", "kill-2", "kill-3"].map((id) => startAgent(t, dir, id, collector.url, EVERY_SECOND));

  // A replay streaming 60 snapshots of 3 more hosts at the same time.
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) {
    lines.push(
      JSON.stringify({
        hostId: `replayed-${i % 3}`,
        hostname: `r${i % 3}`,
        os: "linux",
        takenAtMs: String(1764300000000 + i * 1000),
        processes: [{ pid: 10, ppid: 1, name: "cron", exe: "/usr/sbin/cron", cmdline: `cron -f #${i}` }],
        sockets: [{ transport: "tcp", family: 4, localAddress: "10.0.0.1", localPort: 40000 + i, remoteAddress: "10.9.9.9", remotePort: 6667, state: "ESTABLISHED", pid: 10 }],
      }),
    );
  }
  writeFileSync(join(dir, "fleet.ndjson"), lines.join("\n") + "\n");
  const { spawn } = await import("node:child_process");
  const replayer = track(
    spawn(process.execPath, [AGENT_BIN, "replay", join(dir, "fleet.ndjson"), "--collector", collector.url, "--enroll-secret", SECRET, "--concurrency", "2", "--quiet"], {
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
  let replayErr = "";
  replayer.stderr!.on("data", (d) => (replayErr += d));
  const replayDone = new Promise<number | null>((resolve) => replayer.on("exit", (c) => resolve(c)));
  t.teardown(() => kill(replayer));

  // Each round kills the collector once it has committed something new, so
  // every kill lands mid-ingest however slow the machine is.
  const committed = () => query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM batches")[0]!.n;
  for (let round = 0; round < 4; round++) {
    const before = committed();
    await waitFor(`round ${round}: a new commit`, () => committed() > before);
    collector.child.kill("SIGKILL");
    await new Promise((r) => collector.child.once("exit", r));
    collector = await startCollector(t, db, { port });
  }
  await waitFor("the agents to catch up", () => agents.every((a) => spoolFiles(a.stateDir).length <= 1 && seqsOf(db, a.hostId).length >= 5), 150_000);
  for (const a of agents) t.equal(await stopGracefully(a.child), 0, `${a.hostId} stops cleanly`);
  t.equal(await replayDone, 0, `replay finished: ${replayErr}`);

  // Every batch an agent made is in the database exactly once or still in its
  // spool (made just before it stopped); none is missing.
  for (const a of agents) {
    const made = spoolState(a.stateDir).nextSeq - 1;
    const spooled = spoolFiles(a.stateDir).map((f) => Number(f.split(".")[0]));
    const seqs = seqsOf(db, a.hostId);
    t.same(seqs, range(1, seqs.length), `${a.hostId}: seqs 1..${seqs.length}, each once`);
    t.same(
      [...new Set([...seqs, ...spooled])].sort((x, y) => x - y),
      range(1, made),
      `${a.hostId}: all ${made} batches accounted for`,
    );
  }
  for (let h = 0; h < 3; h++) t.same(seqsOf(db, `replayed-${h}`), range(1, 20), `replayed-${h}: 20 batches, each once`);
  const cmdlines = query<{ n: number }>(db, "SELECT count(DISTINCT taken_at) AS n FROM batches WHERE host_id LIKE 'replayed-%'");
  t.equal(cmdlines[0]!.n, 60, "60 distinct snapshots");
});

t.test("an agent offline for a while delivers everything once the collector is back", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const port = await freePort();

  const agent = startAgent(t, dir, "offline", `ws://127.0.0.1:${port}`, EVERY_SECOND);
  await waitFor("four spooled batches", () => spoolFiles(agent.stateDir).length >= 4);
  await startCollector(t, db, { port });
  // The reconnect delay grew while the collector was away: allow two full delays.
  await waitFor("the spool to drain", () => spoolFiles(agent.stateDir).length === 0 && seqsOf(db, "offline").length >= 4, 150_000);
  t.equal(await stopGracefully(agent.child), 0);
  // A batch made just before the stop may be committed with its ack lost, so
  // still spooled too; none may be missing, none stored twice.
  const made = spoolState(agent.stateDir).nextSeq - 1;
  const seqs = seqsOf(db, "offline");
  const spooled = spoolFiles(agent.stateDir).map((f) => Number(f.split(".")[0]));
  t.same(seqs, range(1, seqs.length), "every batch once, in order");
  t.same(
    [...new Set([...seqs, ...spooled])].sort((x, y) => x - y),
    range(1, made),
    "none missing",
  );
});

t.test("a full spool drops the oldest and reports exactly how many", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const port = await freePort();

  // Room for about four full snapshots of this machine as it is now.
  const { snapshot } = await takeSnapshot({ stateDir: join(dir, "probe-state"), hash: false });
  const room = Math.round(4.5 * encodeSnapshot(snapshot).length);
  const agent = startAgent(t, dir, "tiny-spool", `ws://127.0.0.1:${port}`, [...EVERY_SECOND, "--spool-max-bytes", String(room), "--full-every", "1"]);
  await waitFor("drops", () => spoolState(agent.stateDir).droppedTotal >= 2);
  t.equal(await stopGracefully(agent.child), 0);
  const { nextSeq, droppedTotal } = spoolState(agent.stateDir);
  const kept = spoolFiles(agent.stateDir)
    .map((f) => Number(f.split(".")[0]))
    .sort((a, b) => a - b);
  t.same(kept, range(nextSeq - kept.length, nextSeq - 1), "the newest are kept");
  t.equal(kept.length + droppedTotal, nextSeq - 1, "every batch is either kept or counted as dropped");

  // Back online (same state dir, so the same spool): the collector learns the count.
  await startCollector(t, db, { port });
  const again = startAgent(t, dir, "tiny-spool", `ws://127.0.0.1:${port}`, ["--schedule", "0 0 1 1 *", "--spool-max-bytes", "10MB"]);
  await waitFor("the kept batches to arrive", () => seqsOf(db, "tiny-spool").length >= kept.length + 1);
  t.equal(await stopGracefully(again.child), 0);
  const [host] = query<{ dropped_batches: number }>(db, "SELECT dropped_batches FROM hosts WHERE host_id = 'tiny-spool'");
  t.equal(host!.dropped_batches, spoolState(again.stateDir).droppedTotal, "the collector holds the agent's drop count");
  t.ok(host!.dropped_batches >= droppedTotal);
  const seqs = seqsOf(db, "tiny-spool");
  t.same(seqs.slice(0, kept.length), kept, "what was kept arrived, oldest first");
});

t.test("a batch larger than the collector's frame limit is skipped, said, and does not block the spool", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const collector = await startCollector(t, db, { args: ["--max-frame-bytes", "2KiB"] });
  const agent = startAgent(t, dir, "big-host", collector.url, EVERY_SECOND);
  await waitFor("the agent to skip oversized batches", () => agent.log.filter((l) => l.includes('"event":"stream.batch_too_large"')).length >= 3);
  t.equal(await stopGracefully(agent.child), 0);
  t.ok(spoolFiles(agent.stateDir).length <= 1, "the spool does not fill up with batches that can never be sent");
  t.match(
    agent.log.find((l) => l.includes("stream.batch_too_large")),
    /"maxFrameBytes":2048,"hint":"raise the collector's --max-frame-bytes"/,
  );
  // A delta made before the skip can be small enough to be sent (and the
  // collector then asks for a full resync); what was skipped must never arrive.
  const skipped = agent.log.filter((l) => l.includes('"event":"stream.batch_too_large"')).map((l) => (JSON.parse(l) as { seq: number }).seq);
  t.ok(skipped.length >= 3);
  t.same(
    seqsOf(db, "big-host").filter((seq) => skipped.includes(seq)),
    [],
    "no skipped batch reached the collector",
  );
});

t.test("replay with fewer slots than hosts does not stall when lines trickle in", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const collector = await startCollector(t, db);
  const { spawn } = await import("node:child_process");
  const replayer = track(
    spawn(process.execPath, [AGENT_BIN, "replay", "-", "--collector", collector.url, "--enroll-secret", SECRET, "--concurrency", "1", "--idle-timeout-seconds", "20", "--quiet"], {
      stdio: ["pipe", "ignore", "pipe"],
    }),
  );
  t.teardown(() => kill(replayer));
  let err = "";
  replayer.stderr!.on("data", (d) => (err += d));
  const line = (host: string) => JSON.stringify({ hostId: host, hostname: host, os: "linux", processes: [{ pid: 1, name: "systemd", exe: "/usr/lib/systemd/systemd" }] }) + "\n";
  replayer.stdin!.write(line("slot-a"));
  await waitFor("host a's batch", () => seqsOf(db, "slot-a").length === 1);
  // Host a is idle now; host b must get its slot without waiting for an ack that will not come.
  replayer.stdin!.write(line("slot-b"));
  await waitFor("host b's batch", () => seqsOf(db, "slot-b").length === 1);
  replayer.stdin!.end();
  t.equal(await new Promise((r) => replayer.on("exit", r)), 0, err);
});

t.test("a revoked agent exits with code 3, which its service is told not to restart", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const collector = await startCollector(t, db);
  const agent = startAgent(t, dir, "host-r", collector.url, EVERY_SECOND);
  await waitFor("a batch from host-r", () => seqsOf(db, "host-r").length >= 1);
  const exited = new Promise<number | null>((resolve) => agent.child.once("exit", (code) => resolve(code)));
  const r = spawnSync(process.execPath, [COLLECTOR_BIN, "revoke", "host-r", "--db", db, "--reason", "decommissioned"], { encoding: "utf8" });
  t.equal(r.status, 0, r.stderr);
  t.equal(await exited, 3, "exit code 3: revoked");
  const unit = readFileSync(new URL("../../installers/deb/oddwire-agent/oddwire-agent.service", import.meta.url), "utf8");
  t.match(unit, /^RestartPreventExitStatus=3$/m, "the .deb's unit does not restart it");
});
