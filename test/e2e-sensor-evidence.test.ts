// Network sensor evidence end to end: a real agent streams to a real
// collector while a process of this test (its own copy of bash) holds a real
// loopback connection. The test then writes what Zeek and Suricata would log
// about that flow (its real 5-tuple; the Community ID from the shared
// function), as each format's published documentation describes it (neither
// sensor is packaged for this Debian): a Zeek weird.log in TSV without a
// Community ID into a directory `serve` follows, and Suricata eve events with
// one, posted to /v1/sensor with a sensor token. The report puts both on
// that process's finding, says which join made each match, and lists a
// sensor anomaly no agent stands behind in its blind spots.

import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { communityId } from "@oddwire/shared";
import { kill, track } from "./lib/child-processes.js";
import { COLLECTOR_BIN, query, startAgent, startCollector, waitFor } from "./lib/fleet.js";
import { http } from "./lib/http.js";

const cli = (args: string[]) => spawnSync(process.execPath, [COLLECTOR_BIN, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });

t.test("Zeek and Suricata lines about a real flow land on the process behind it", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const zeekDir = join(dir, "zeek");
  mkdirSync(zeekDir);
  writeFileSync(join(dir, "serve.json"), JSON.stringify({ sensorDirs: [zeekDir] }));
  const c = await startCollector(t, db, { args: ["--config", join(dir, "serve.json"), "--sensor-max-body-bytes", "64KiB", "--sensor-max-line-bytes", "4KiB"] });
  startAgent(t, dir, "sensor-e2e", c.url, ["--schedule", "*/2 * * * * *"]);

  const accepted: Socket[] = [];
  const server = createServer((s) => accepted.push(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    for (const s of accepted) s.destroy();
    server.close();
  });
  const serverPort = (server.address() as { port: number }).port;
  const bash = join(dir, "bin", `odw-sensor-client-${process.pid}`);
  mkdirSync(join(dir, "bin"));
  copyFileSync(realpathSync("/bin/bash"), bash);
  chmodSync(bash, 0o755);
  const client = track(spawn(bash, ["-c", `exec 3<>/dev/tcp/127.0.0.1/${serverPort}; read -t 600 -u 3 x`], { stdio: "ignore" }));
  t.teardown(() => kill(client));
  const clientPort = await waitFor("the connection", () => accepted[0]?.remotePort);

  await waitFor(
    "the agent to report the client's socket",
    () => query(db, "SELECT 1 FROM sockets WHERE pid = ? AND local_port = ? AND remote_port = ?", client.pid, clientPort, serverPort).length > 0,
    120_000,
  );

  const ts = Date.now() / 1000;
  // Zeek, TSV, no community_id: joined by 5-tuple and time.
  writeFileSync(
    join(zeekDir, "weird.log"),
    [
      "#separator \\x09",
      "#set_separator\t,",
      "#empty_field\t(empty)",
      "#unset_field\t-",
      "#path\tweird",
      "#open\t2026-12-01-18-00-00",
      "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tname\taddl\tnotice\tpeer\tsource",
      "#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tstring\tbool\tstring\tstring",
      `${ts.toFixed(6)}\tCz1\t127.0.0.1\t${clientPort}\t127.0.0.1\t${serverPort}\tbad_HTTP_request\t-\tF\tzeek\tHTTP`,
      "",
    ].join("\n"),
  );
  // Suricata, with community_id: joined by Community ID and time. The alert was raised by the server's reply (src = server).
  const cid = communityId({ proto: 6, srcAddress: "127.0.0.1", srcPort: clientPort, dstAddress: "127.0.0.1", dstPort: serverPort });
  const iso = new Date(ts * 1000).toISOString().replace("Z", "+0000");
  const eve = [
    {
      timestamp: iso,
      flow_id: 42,
      event_type: "anomaly",
      src_ip: "127.0.0.1",
      src_port: clientPort,
      dest_ip: "127.0.0.1",
      dest_port: serverPort,
      proto: "TCP",
      community_id: cid,
      anomaly: { type: "applayer", event: "APPLAYER_MISMATCH_PROTOCOL_BOTH_DIRECTIONS", layer: "proto_detect" },
    },
    {
      timestamp: iso,
      flow_id: 42,
      event_type: "alert",
      src_ip: "127.0.0.1",
      src_port: serverPort,
      dest_ip: "127.0.0.1",
      dest_port: clientPort,
      direction: "to_client",
      proto: "TCP",
      community_id: cid,
      alert: { signature: "ODW test: SSH banner from a web port", signature_id: 9000001, severity: 1 },
    },
    {
      timestamp: iso,
      flow_id: 42,
      event_type: "tls",
      src_ip: "127.0.0.1",
      src_port: clientPort,
      dest_ip: "127.0.0.1",
      dest_port: serverPort,
      proto: "TCP",
      community_id: cid,
      tls: { sni: "c2.example" },
    },
    // Nobody's: addresses no agent has.
    {
      timestamp: iso,
      flow_id: 43,
      event_type: "alert",
      src_ip: "192.0.2.10",
      src_port: 50000,
      dest_ip: "198.51.100.20",
      dest_port: 4444,
      proto: "TCP",
      alert: { signature: "ODW test: unmanaged host", signature_id: 9000002, severity: 2 },
    },
  ]
    .map((e) => JSON.stringify(e))
    .join("\n");
  const token = cli(["sensor-token", "add", "suricata-test", "--db", db]);
  t.equal(token.status, 0, token.stderr);
  const bearer = token.stdout.trim();
  const post = await http(`http://127.0.0.1:${c.port}/v1/sensor`, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}` },
    body: `${eve}\n{"timestamp":"bad","event_type":"alert"}\n`,
  });
  t.equal(post.status, 200);
  t.match(
    await post.json(),
    { format: "suricata-eve", lines: 5, kept: 4, rejected: 1, errors: [{ line: 5, error: /timestamp "bad" is not a time/ }] },
    "good lines kept, the bad one named",
  );
  const noToken = await http(`http://127.0.0.1:${c.port}/v1/sensor`, { method: "POST", headers: { authorization: "Bearer reader-or-agent-key" }, body: eve });
  t.equal(noToken.status, 401, "another credential is not a sensor token");

  let report: any;
  const finding = await waitFor(
    "the sensor evidence on the client's finding",
    () => {
      const out = cli(["report", "--db", db, "--format", "json", "--top", "1000"]);
      report = JSON.parse(out.stdout);
      const f = report.findings.find((x: any) => x.binary.name === `odw-sensor-client-${process.pid}`);
      return f?.evidence.some((e: any) => e.source === "zeek") && f.evidence.some((e: any) => e.source === "suricata") ? f : null;
    },
    60_000,
    500,
  ).catch((err) => {
    const f = report?.findings.find((x: any) => x.binary.name === `odw-sensor-client-${process.pid}`);
    t.comment(
      JSON.stringify(
        {
          sensors: report?.sensors,
          finding: f ?? null,
          files: query(db, "SELECT * FROM sensor_files"),
          events: query(db, "SELECT * FROM sensor_events"),
          sockets: query(db, "SELECT * FROM sockets WHERE pid = ?", client.pid),
        },
        null,
        1,
      ),
    );
    throw err;
  });
  const zeek = finding.evidence.find((e: any) => e.source === "zeek");
  t.match(zeek, {
    text: "Zeek weird: bad_HTTP_request",
    pid: client.pid,
    hostId: "sensor-e2e",
    side: "originator",
    join: "5-tuple",
    flow: { origPort: clientPort, respPort: serverPort },
  });
  const alert = finding.evidence.find((e: any) => e.source === "suricata" && e.kind === "alert");
  t.match(alert, { pid: client.pid, side: "originator", join: "community-id", names: ["c2.example"], flow: { origPort: clientPort, respPort: serverPort, communityId: cid } });
  t.ok(
    finding.evidence.some((e: any) => e.source === "suricata" && /APPLAYER_MISMATCH_PROTOCOL_BOTH_DIRECTIONS/.test(e.text)),
    "the anomaly too",
  );
  t.ok(finding.evidence.includes("sensor"), "sensor evidence weighs in the score");
  t.equal(alert.confidence, "medium", "matched to a socket open now (snapshots only: when it opened is not known)");
  t.ok(
    finding.reasons.some((r: string) => r.startsWith("Suricata: alert: ODW test")),
    finding.reasons.join(" | "),
  );
  // The server end of the same flow is this test's own process.
  const serverSide = report.findings.flatMap((f: any) => f.evidence).find((e: any) => typeof e === "object" && e.pid === process.pid && e.side === "responder");
  t.ok(serverSide, "the responder end is joined to the listening process");
  t.match(report.sensors, { matched: 3 });
  t.match(report.sensors.blindSpots, [{ source: "suricata", origAddress: "192.0.2.10", respAddress: "198.51.100.20", respPort: 4444, reason: "no-agent" }]);

  const table = cli(["report", "--db", db]);
  t.match(table.stdout, /sensor anomalies with no agent behind them/);
  t.match(table.stdout, /192\.0\.2\.10:50000 → 198\.51\.100\.20:4444\/tcp/);
  const csv = cli(["report", "--db", db, "--format", "csv", "--top", "1000"]);
  t.match(csv.stdout, /Zeek weird: bad_HTTP_request \(originator, 5-tuple, high\)|Zeek weird: bad_HTTP_request \(originator, 5-tuple, medium\)/);

  await t.test("the endpoint's bounds and other bodies", async (t) => {
    const post = (body: Buffer | string, headers: Record<string, string> = {}, query = "") =>
      http(`http://127.0.0.1:${c.port}/v1/sensor${query}`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, ...headers }, body });
    const big = await post("x".repeat(70 * 1024));
    t.equal(big.status, 413);
    t.match(await big.json(), { error: /larger than 65536 bytes/ });
    const bomb = await post(gzipSync(Buffer.alloc(1024 * 1024, 0x20)), { "content-encoding": "gzip" });
    t.equal(bomb.status, 413, "the bound holds after decompression too");
    const junk = await post("hello\n");
    t.equal(junk.status, 400);
    t.match(await junk.json(), { error: /not Zeek or Suricata lines/ });
    const long = `{"ts":1.5,"uid":"CL","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"name":"${"y".repeat(5000)}","addl":""}`;
    const zeekJson = await post(
      gzipSync(`{"ts":${ts},"uid":"CJ","id.orig_h":"10.9.9.9","id.orig_p":5,"id.resp_h":"10.9.9.8","id.resp_p":6,"name":"dns_unmatched_reply","addl":""}\n${long}\n`),
      { "content-encoding": "gzip" },
      "?log=weird",
    );
    t.match(await zeekJson.json(), { format: "zeek-json", lines: 2, kept: 1, tooLong: 1 }, "Zeek JSON without _path, named by ?log=; the over-long line counted");
  });

  t.equal(cli(["sensor-token", "revoke", "suricata-test", "--db", db]).status, 0);
  const revoked = await http(`http://127.0.0.1:${c.port}/v1/sensor`, { method: "POST", headers: { authorization: `Bearer ${bearer}` }, body: eve });
  t.equal(revoked.status, 403, "a revoked sensor token is refused");
});
