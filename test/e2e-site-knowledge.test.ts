// Site knowledge with a real collector and a real agent: data stored with the
// built-in knowledge is judged again when the collector restarts with a site
// knowledge file that says "never" (the report shows the new tag with the
// site's reason), a batch judged by other knowledge is judged again at
// ingest, and an agent given the same file judges it itself and says so in
// its knowledge version.

import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import t from "tap";
import { AGENT_BIN, COLLECTOR_BIN, freePort, query, startAgent, startCollector, stopGracefully, waitFor } from "./lib/fleet.js";
import { kill } from "./lib/child-processes.js";

const EVERY_SECOND = ["--schedule", "* * * * * *"];

interface Finding {
  score: number;
  tags: string[];
  reasons: string[];
  hosts: Array<{ hostId: string; ports: number[] }>;
}

function report(db: string, ...args: string[]): { findings: Finding[] } {
  const r = spawnSync(process.execPath, [COLLECTOR_BIN, "report", "--db", db, "--format", "json", "--top", "500", ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`report failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function socketTags(db: string, hostId: string, port: number): string {
  return query<{ tags: string }>(db, "SELECT tags FROM sockets WHERE host_id = ? AND local_port = ? AND direction = 'listen'", hostId, port)[0]?.tags ?? "";
}

t.test("a restarted collector with a site 'never' judges stored data again; the report names the site's reason", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "collector.db");
  // A listener of this test's own, on a port no other test uses: what the site says must never listen.
  const port = await freePort();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));

  let collector = await startCollector(t, db);
  let agent = startAgent(t, dir, "site-host", collector.url, EVERY_SECOND);
  await waitFor("the listener stored with the built-in knowledge", () => socketTags(db, "site-host", port) === "[]");
  const [host] = query<{ knowledge_version: string; judged_version: string }>(db, "SELECT knowledge_version, judged_version FROM hosts WHERE host_id = 'site-host'");
  t.match(host!.knowledge_version, /^\d+\.\d+\.\d+\.[0-9a-f]{8}$/, "the agent says which knowledge judged its snapshot");
  t.equal(host!.judged_version, host!.knowledge_version, "same knowledge on both sides: stored as the agent judged it");
  t.notOk(
    report(db).findings.some((f) => f.tags.includes("site-never")),
    "nothing says never before the site does",
  );
  await stopGracefully(agent.child);
  kill(collector.child);
  await new Promise((r) => collector.child.once("exit", r));

  const site = join(dir, "site.json");
  writeFileSync(site, JSON.stringify({ name: "e2e-site", never: [{ port, direction: "listen", reason: `nothing listens on port ${port} here` }] }));
  collector = await startCollector(t, db, { args: ["--knowledge", site] });
  await waitFor("the rejudge logged", () => collector.log.some((l) => l.includes('"knowledge.rejudged"')), 30000);
  const tags = socketTags(db, "site-host", port);
  t.match(tags, /site-never/, "the stored socket carries the site's tag");
  t.match(tags, /site knowledge \\"e2e-site\\"/, "its reason names the site's knowledge");

  const found = report(db).findings.find((f) => f.tags.includes("site-never") && f.hosts.some((h) => h.hostId === "site-host" && h.ports.includes(port)));
  t.ok(found, "the report shows the finding with the site's tag");
  t.match(found!.reasons.join("\n"), new RegExp(`site knowledge "e2e-site".*nothing listens on port ${port} here`), "and the site's reason");
  t.ok(found!.score >= 80, `it scores ${found!.score}`);
  const judged = query<{ judged_version: string }>(db, "SELECT judged_version FROM hosts WHERE host_id = 'site-host'")[0]!.judged_version;
  t.match(judged, /\+[0-9a-f]{12}$/, "the host's stored tags now reflect the collector's knowledge");

  // An agent without the file keeps sending its own judgement: each batch is judged again at ingest.
  const before = query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM batches WHERE host_id = 'site-host'")[0]!.n;
  agent = startAgent(t, dir, "site-host", collector.url, [...EVERY_SECOND, "--full-every", "1"]);
  await waitFor("two more batches", () => query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM batches WHERE host_id = 'site-host'")[0]!.n >= before + 2);
  t.match(socketTags(db, "site-host", port), /site-never/, "a full batch judged without the site's knowledge is judged again at ingest");
  await stopGracefully(agent.child);

  // An agent with the same file judges it itself, and its knowledge version says so.
  agent = startAgent(t, dir, "site-host-2", collector.url, [...EVERY_SECOND, "--knowledge", site]);
  await waitFor("the second host's listener", () => /site-never/.test(socketTags(db, "site-host-2", port)));
  const [h2] = query<{ knowledge_version: string; judged_version: string }>(db, "SELECT knowledge_version, judged_version FROM hosts WHERE host_id = 'site-host-2'");
  t.equal(h2!.knowledge_version, judged, "the agent with the file has the collector's knowledge version");
  t.equal(h2!.judged_version, judged);
  await stopGracefully(agent.child);
  kill(collector.child);
  await new Promise((r) => collector.child.once("exit", r));

  // report --knowledge with another file judges the stored data again first: the old entry's tag goes, the new one's comes.
  const other = join(dir, "other.json");
  writeFileSync(other, JSON.stringify({ name: "other-site", never: [{ port, reason: "port taken back by the other site" }] }));
  const again = report(db, "--knowledge", other).findings.find((f) => f.hosts.some((h) => h.hostId === "site-host" && h.ports.includes(port)) && f.tags.includes("site-never"));
  t.match(again?.reasons.join("\n"), /site knowledge "other-site".*port taken back by the other site/);
  t.notMatch(socketTags(db, "site-host", port), /e2e-site/, "the first site's tag is gone");
});

t.test("a bad site knowledge file stops serve and report at start with where and what", async (t) => {
  const dir = t.testdir({ "bad.json": JSON.stringify({ name: "x", never: [{ port: 70000, reason: "r" }] }) });
  const db = join(dir, "c.db");
  const serve = spawnSync(process.execPath, [COLLECTOR_BIN, "serve", "--port", "0", "--db", db, "--enroll-secret", "test-enroll-secret", "--knowledge", join(dir, "bad.json")], {
    encoding: "utf8",
    timeout: 60000,
  });
  t.not(serve.status, 0);
  t.match(serve.stderr, /ODW_ERR_CONFIG/);
  t.match(serve.stderr, /bad\.json: never\[0\]\.port must be a whole number from 1 to 65535/);
});

t.test("snapshot --knowledge judges with the file and says so; a bad file stops it", async (t) => {
  const port = await freePort();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const dir = t.testdir({
    "site.json": JSON.stringify({ name: "snap-site", never: [{ port, direction: "listen", reason: "not here" }] }),
    "bad.json": '{"name": "x", "nevr": []}',
  });
  const run = (file: string) =>
    spawnSync(process.execPath, [AGENT_BIN, "snapshot", "--json", "--no-hash", "--state-dir", join(dir, "state"), "--knowledge", join(dir, file)], {
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
      timeout: 120000,
    });
  const good = run("site.json");
  t.equal(good.status, 0, good.stderr);
  const snap = JSON.parse(good.stdout) as { knowledgeVersion: string; sockets: Array<{ localPort: number; direction: string; tags?: Array<{ code: string; reason: string }> }> };
  t.match(snap.knowledgeVersion, /^\d+\.\d+\.\d+\.[0-9a-f]{8}\+[0-9a-f]{12}$/);
  const mine = snap.sockets.find((s) => s.localPort === port && s.direction === "listen");
  t.match(mine?.tags?.find((x) => x.code === "site-never")?.reason, /site knowledge "snap-site" \(port \d+, listen\): not here/);
  const bad = run("bad.json");
  t.equal(bad.status, 1);
  t.match(bad.stderr, /ODW_ERR_CONFIG: .*bad\.json: nevr is not a known key; allowed: name, normal, never, writableDirs/);
});
