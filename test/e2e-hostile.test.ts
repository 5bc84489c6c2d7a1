// Hostile input against a real collector process: wrong secrets and keys,
// undecodable and oversized frames, text frames, a revoked host, a flood of
// connection attempts. Each is refused with its own status or close code and
// counter, and a good agent streaming meanwhile keeps being served.

import t from "tap";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { WebSocket } from "ws";
import { oddwire } from "@oddwire/proto";
import { enroll } from "oddwire-agent/transport/enroll.js";
import { COLLECTOR_BIN, query, SECRET, seqsOf, startAgent, startCollector, waitFor } from "./lib/fleet.js";
import { enrollRaw } from "./lib/raw-stream.js";

// Above a full snapshot of this machine, however many sockets the other tests leave in TIME_WAIT.
const LIMIT = 8 * 1024 * 1024;

function open(url: string, headers: Record<string, string>): Promise<{ ws: WebSocket | null; status: number; closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url}/v1/stream`, { headers, perMessageDeflate: false });
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on("close", (code, reason) => r({ code, reason: reason.toString() })));
    ws.on("unexpected-response", (_req, res) => {
      res.resume();
      ws.terminate();
      resolve({ ws: null, status: res.statusCode ?? 0, closed });
    });
    ws.on("error", () => undefined);
    // Open means authenticated; wait for the welcome before using it.
    ws.once("message", () => resolve({ ws, status: 101, closed }));
  });
}

async function metrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^oddwire_(\w+?)(?:_total)? (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

t.test("hostile peers are refused one by one while a good agent keeps streaming", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db, { args: ["--max-frame-bytes", String(LIMIT), "--connect-rate", "20", "--connect-burst", "40"] });
  const good = startAgent(t, dir, "good-host", c.url, ["--schedule", "* * * * * *"]);
  await waitFor("the good agent's first batch", () => seqsOf(db, "good-host").length >= 1);
  const base = { collector: c.url, hostname: "h", os: "linux", agentVersion: "t" };

  await t.test("a wrong enrollment secret is refused with 401", async (t) => {
    await t.rejects(enroll({ ...base, hostId: "intruder", secret: "not-the-secret" }), { code: "ODW_ERR_AUTH", message: /HTTP 401/ });
    t.equal(query(db, "SELECT 1 FROM hosts WHERE host_id = 'intruder'").length, 0, "no host recorded");
  });

  await t.test("an enrollment body over 64 KiB is refused with 413, garbage with 400", async (t) => {
    const big = await fetch(`http://127.0.0.1:${c.port}/v1/enroll`, { method: "POST", body: Buffer.alloc(70 * 1024, 1) });
    t.equal(big.status, 413);
    const junk = await fetch(`http://127.0.0.1:${c.port}/v1/enroll`, { method: "POST", body: Buffer.from([0xff, 0xff, 0xff, 0xff]) });
    t.equal(junk.status, 400);
  });

  const key = await enroll({ ...base, hostId: "mallory", secret: SECRET });
  let mallorysKey = key;

  await t.test("a stream with a wrong key, or none, is refused at the upgrade", async (t) => {
    t.equal((await open(c.url, { authorization: "Bearer wrong", "x-oddwire-host": "mallory" })).status, 401);
    t.equal((await open(c.url, { "x-oddwire-host": "mallory" })).status, 401);
    t.equal((await open(c.url, { authorization: `Bearer ${key}`, "x-oddwire-host": "good-host" })).status, 401, "a key works only for its own host");
  });

  await t.test("an undecodable frame closes the stream with 4400", async (t) => {
    const s = await open(c.url, { authorization: `Bearer ${key}`, "x-oddwire-host": "mallory" });
    s.ws!.send(Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    t.equal((await s.closed).code, 4400);
  });

  await t.test("a text frame closes the stream with 4406", async (t) => {
    const s = await open(c.url, { authorization: `Bearer ${key}`, "x-oddwire-host": "mallory" });
    s.ws!.send("hello");
    t.equal((await s.closed).code, 4406);
  });

  await t.test("a frame over the size limit closes the stream with 1009 and nothing of it is stored", async (t) => {
    const s = await open(c.url, { authorization: `Bearer ${key}`, "x-oddwire-host": "mallory" });
    const cmdline = "A".repeat(LIMIT + 1);
    s.ws!.send(oddwire.v1.AgentMessage.encode({ batch: { seq: 1, full: true, snapshot: { hostId: "mallory", os: "linux", processes: [{ pid: 1, cmdline }] } } }).finish());
    t.equal((await s.closed).code, 1009);
    t.same(seqsOf(db, "mallory"), []);
  });

  await t.test("numbers out of range close only that stream, with 4406", async (t) => {
    const s = await open(c.url, { authorization: `Bearer ${key}`, "x-oddwire-host": "mallory" });
    // 2^63 as an inode: fine on the wire, beyond what the database (and a double) holds exactly.
    const frame = oddwire.v1.AgentMessage.encode({
      batch: { seq: 1, full: true, snapshot: { hostId: "mallory", os: "linux", sockets: [{ transport: "tcp", inode: 2 ** 63 }] } },
    }).finish();
    s.ws!.send(frame);
    const closed = await s.closed;
    t.equal(closed.code, 4406);
    t.match(closed.reason, /inode or netns is out of range/);
  });

  await t.test("enrolling again with the current key replaces the key and closes the live stream", async (t) => {
    const s = await open(c.url, { authorization: `Bearer ${key}`, "x-oddwire-host": "mallory" });
    const answer = await enrollRaw(c.port, { hostId: "mallory", enrollSecret: SECRET, currentKey: key });
    t.equal(answer.status, 200, answer.text);
    const newKey = answer.key;
    t.equal((await s.closed).code, 4409);
    t.equal((await open(c.url, { authorization: `Bearer ${key}`, "x-oddwire-host": "mallory" })).status, 401, "the old key is dead");
    const again = await open(c.url, { authorization: `Bearer ${newKey}`, "x-oddwire-host": "mallory" });
    t.equal(again.status, 101);
    again.ws!.close();
    await again.closed;
    mallorysKey = newKey;
  });

  await t.test("a revoked host is cut off at once and refused afterwards", async (t) => {
    const s = await open(c.url, { authorization: `Bearer ${mallorysKey}`, "x-oddwire-host": "mallory" });
    const r = spawnSync(process.execPath, [COLLECTOR_BIN, "revoke", "mallory", "--db", db, "--reason", "test"], { encoding: "utf8" });
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout, "revoked mallory\n");
    t.equal((await s.closed).code, 4403, "the live stream is closed");
    t.equal((await open(c.url, { authorization: `Bearer ${mallorysKey}`, "x-oddwire-host": "mallory" })).status, 403);
    await t.rejects(enroll({ ...base, hostId: "mallory", secret: SECRET }), { code: "ODW_ERR_REVOKED" }, "cannot enroll again");
    const unknown = spawnSync(process.execPath, [COLLECTOR_BIN, "revoke", "nobody-here", "--db", db], { encoding: "utf8" });
    t.equal(unknown.status, 2);
    t.match(unknown.stderr, /no enrolled host has id "nobody-here"/);
  });

  await t.test("a flood of connection attempts is rate limited", async (t) => {
    const statuses = await Promise.all(Array.from({ length: 120 }, () => open(c.url, { authorization: "Bearer x", "x-oddwire-host": "flood" }).then((s) => s.status)));
    t.ok(statuses.includes(429), "some refused with 429");
    t.ok(
      statuses.every((s) => s === 429 || s === 401),
      "the rest with 401",
    );
  });

  await t.test("the good agent was served throughout, and every refusal was counted", async (t) => {
    const before = seqsOf(db, "good-host").length;
    await waitFor("two more batches from the good agent", () => seqsOf(db, "good-host").length >= before + 2);
    const seqs = seqsOf(db, "good-host");
    t.same(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 1),
    );
    const m = await metrics(c.port);
    t.ok(m["auth_failures"]! >= 4, `auth_failures ${m["auth_failures"]}`);
    t.equal(m["decode_errors"], 2, "one bad enrollment body, one bad frame");
    t.equal(m["frames_too_large"], 2, "one enrollment body, one frame");
    t.equal(m["protocol_errors"], 2, "the text frame and the out-of-range batch");
    t.ok(m["revoked_refusals"]! >= 2);
    t.ok(m["rate_limited"]! >= 1);
    t.equal(m["open_connections"], 1, "only the good agent is connected");
    t.ok(m["batches_applied"]! >= 3);
    const lines = c.log.join("\n");
    for (const event of ["enroll.bad_secret", "stream.bad_key", "stream.decode_error", "stream.text_frame", "stream.frame_too_large", "stream.revoked", "stream.rate_limited"]) {
      t.match(lines, new RegExp(`"event":"${event.replace(".", "\\.")}"`), `logged ${event}`);
    }
    const health = await fetch(`http://127.0.0.1:${c.port}/healthz`);
    t.equal(await health.text(), "ok\n");
  });
  good.child.kill("SIGTERM");
});
