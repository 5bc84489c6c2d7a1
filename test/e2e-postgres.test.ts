// End to end on PostgreSQL: real agents, real collectors started with
// `--db postgres://...` on a throwaway postgresql-15 cluster, the CLI
// against the same URL. Then several collectors on one database behind a TCP
// load balancer: an agent moves to another collector and its sequence stays
// exactly-once, a collector killed mid-ingest loses and duplicates nothing,
// a revocation reaches the streams of every collector, and an export
// schedule fires once per fleet, not once per collector.

import t from "tap";
import { spawnSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { kill, track } from "./lib/child-processes.js";
import { AGENT_BIN, COLLECTOR_BIN, range, SECRET, startAgent, startCollector, stopGracefully, waitFor } from "./lib/fleet.js";
import { skipWithoutPostgres, startPostgres } from "./lib/postgres.js";
import { startBalancer } from "./lib/tcp-balancer.js";

const EVERY_SECOND = ["--schedule", "* * * * * *"];
const skip = skipWithoutPostgres();

async function pgQuery<T = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows as T[];
  } finally {
    await c.end();
  }
}

const seqsOf = async (url: string, hostId: string) =>
  (await pgQuery<{ seq: string }>(url, "SELECT seq FROM batches WHERE host_id = $1 ORDER BY seq", [hostId])).map((r) => Number(r.seq));

function cli(args: string[]) {
  return spawnSync(process.execPath, [COLLECTOR_BIN, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

t.test("--db postgres:// end to end: agent → collector → report, agents, export, revoke", { skip }, async (t) => {
  const cluster = await startPostgres(t);
  const url = await cluster.database("fleet_e2e");
  const dir = t.testdir();
  const collector = await startCollector(t, url);
  t.notMatch(collector.log.join("\n"), /password/);
  const agent = startAgent(t, dir, "pg-host-a", collector.url, EVERY_SECOND);
  await waitFor("three batches from pg-host-a", async () => (await seqsOf(url, "pg-host-a")).length >= 3);
  const seqs = await seqsOf(url, "pg-host-a");
  t.same(seqs, range(1, seqs.length), "seqs 1..n, each once");
  const procs = await pgQuery<{ pid: string; cmdline: string }>(url, "SELECT pid, cmdline FROM processes WHERE host_id = 'pg-host-a'");
  t.ok(
    procs.some((p) => Number(p.pid) === agent.child.pid && p.cmdline.includes("oddwire-agent.js run")),
    "the agent's own process is in the current state",
  );

  const agents = cli(["agents", "--db", url, "--format", "json"]);
  t.equal(agents.status, 0, agents.stderr);
  t.match(JSON.parse(agents.stdout).hosts, [{ hostId: "pg-host-a", os: "linux", revokedAt: null }]);
  const report = cli(["report", "--db", url, "--format", "json", "--top", "500"]);
  t.equal(report.status, 0, report.stderr);
  const json = JSON.parse(report.stdout);
  t.equal(json.fleet.hosts, 1);
  t.ok(
    json.findings.some((f: { binary: { path: string }; port: number }) => f.binary.path === process.execPath && f.port === collector.port),
    "the agent's connection to the collector is in the report",
  );
  const out = join(dir, "exports");
  spawnSync("mkdir", [out]);
  const exported = cli(["export", "--db", url, "--what", "inventory", "--out", out]);
  t.equal(exported.status, 0, exported.stderr);
  t.match(exported.stderr, /\d+ rows?\n$/);
  t.equal(readdirSync(out).length, 1);

  const revoked = cli(["revoke", "pg-host-a", "--db", url, "--reason", "test"]);
  t.equal(revoked.status, 0, revoked.stderr);
  await waitFor("the collector to cut the revoked stream", () => collector.log.some((l) => l.includes('"stream.revoked"') && l.includes("pg-host-a")));
  await stopGracefully(agent.child);
});

t.test("two collectors on one PostgreSQL behind a load balancer", { skip }, async (t) => {
  const cluster = await startPostgres(t);
  const url = await cluster.database("fleet_two");
  const dir = t.testdir();
  const exportsDir = join(dir, "exports");
  spawnSync("mkdir", [exportsDir]);
  writeFileSync(join(dir, "serve.json"), JSON.stringify({ exports: [{ name: "every-second", cron: "* * * * * *", what: "agents", dir: exportsDir, keep: 1000 }] }));
  const withConfig = { args: ["--config", join(dir, "serve.json")] };
  const a = await startCollector(t, url, withConfig);
  let b = await startCollector(t, url, withConfig);
  const lb = await startBalancer(t, [a.port, b.port]);
  const lbUrl = `ws://127.0.0.1:${lb.port}`;
  const agents = ["lb-1", "lb-2", "lb-3", "lb-4"].map((id) => startAgent(t, dir, id, lbUrl, EVERY_SECOND));

  // A replay streaming 90 snapshots of 3 more hosts through the balancer meanwhile.
  const lines: string[] = [];
  for (let i = 0; i < 90; i++) {
    lines.push(
      JSON.stringify({
        hostId: `lb-replayed-${i % 3}`,
        hostname: `r${i % 3}`,
        os: "linux",
        takenAtMs: String(1764300000000 + i * 1000),
        processes: [{ pid: 10, ppid: 1, name: "cron", exe: "/usr/sbin/cron", cmdline: `cron -f #${i}` }],
        sockets: [{ transport: "tcp", family: 4, localAddress: "10.0.0.1", localPort: 40000 + i, remoteAddress: "10.9.9.9", remotePort: 6667, state: "ESTABLISHED", pid: 10 }],
      }),
    );
  }
  writeFileSync(join(dir, "fleet.ndjson"), `${lines.join("\n")}\n`);
  const { spawn } = await import("node:child_process");
  const replayer = track(
    spawn(process.execPath, [AGENT_BIN, "replay", join(dir, "fleet.ndjson"), "--collector", lbUrl, "--enroll-secret", SECRET, "--concurrency", "3", "--quiet"], {
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
  let replayErr = "";
  replayer.stderr!.on("data", (d) => (replayErr += d));
  const replayDone = new Promise<number | null>((resolve) => replayer.on("exit", (c) => resolve(c)));
  t.teardown(() => kill(replayer));

  await waitFor("both collectors to hold streams", () => a.log.some((l) => l.includes('"stream.open"')) && b.log.some((l) => l.includes('"stream.open"')));
  // Kill one collector once it has committed something new, twice: its agents move to the other through the balancer.
  const committed = async () => Number((await pgQuery<{ n: string }>(url, "SELECT COUNT(*) AS n FROM batches"))[0]!.n);
  for (let round = 0; round < 2; round++) {
    const before = await committed();
    await waitFor(`round ${round}: a new commit`, async () => (await committed()) > before);
    b.child.kill("SIGKILL");
    await new Promise((r) => b.child.once("exit", r));
    await waitFor(`round ${round}: commits continue on the other collector`, async () => (await committed()) > before + 3);
    b = await startCollector(t, url, { ...withConfig, port: b.port });
  }
  t.equal(await replayDone, 0, `replay finished: ${replayErr}`);
  for (let h = 0; h < 3; h++) t.same(await seqsOf(url, `lb-replayed-${h}`), range(1, 30), `lb-replayed-${h}: 30 batches, each once`);
  await waitFor("every agent to deliver 5 batches", async () => {
    for (const ag of agents) if ((await seqsOf(url, ag.hostId)).length < 5) return false;
    return true;
  });

  // A revocation through the CLI reaches whichever collector holds the stream.
  const victim = agents[0]!;
  const r = cli(["revoke", victim.hostId, "--db", url]);
  t.equal(r.status, 0, r.stderr);
  const cut = () => [...a.log, ...b.log].some((l) => l.includes('"stream.revoked"') && l.includes(victim.hostId));
  await waitFor("a collector to cut the revoked host's stream", cut, 30_000);

  for (const ag of agents) await stopGracefully(ag.child);
  for (const ag of agents) {
    const seqs = await seqsOf(url, ag.hostId);
    t.same(seqs, range(1, seqs.length), `${ag.hostId}: seqs 1..${seqs.length}, each once, across collectors`);
  }

  // Once per fleet: every tick claimed by one collector, one run per claim.
  await waitFor("a few scheduled exports", async () => Number((await pgQuery<{ n: string }>(url, "SELECT COUNT(*) AS n FROM export_runs"))[0]!.n) >= 3);
  const runs = await pgQuery<{ started_at: string }>(url, "SELECT started_at FROM export_runs WHERE schedule = 'every-second'");
  const seconds = runs.map((x) => Math.floor(Number(x.started_at) / 1000));
  t.equal(new Set(seconds).size, seconds.length, `no second ran twice (${seconds.length} runs)`);
  const claimers = await pgQuery<{ claimed_by: string }>(url, "SELECT DISTINCT claimed_by FROM export_slots");
  t.ok(claimers.length >= 1, `claims by ${claimers.map((c) => c.claimed_by).join(", ")}`);
});
