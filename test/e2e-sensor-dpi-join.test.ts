// The sensor join through the Community ID an agent stored: a real agent
// with --dpi on classifies a real loopback flow (a copy of curl under a name
// of its own, to a server this test holds open) and stores the flow's
// Community ID; a Suricata alert carrying that ID (read back from the
// database, not computed here) is posted to a real collector; the report puts
// it on the curl copy's finding, joined by Community ID at high confidence,
// as the originator. Loopback only.

import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { kill, track } from "./lib/child-processes.js";
import { COLLECTOR_BIN, query, startCollector, waitFor } from "./lib/fleet.js";
import { http } from "./lib/http.js";
import { curlCopy, holdingHttpServer, ownLoopbackAddress, startDpiAgent } from "./lib/dpi.js";
import { skipWithoutTools } from "./lib/system-tools.js";

const skip =
  process.platform !== "linux"
    ? "Linux only"
    : process.getuid?.() !== 0
      ? "needs root to capture packets"
      : skipWithoutTools(["tcpdump", "ndpiReader", "curl"], "tcpdump libndpi-bin curl");
const cli = (args: string[]) => spawnSync(process.execPath, [COLLECTOR_BIN, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });

t.test("a Suricata alert with the Community ID an agent stored joins the flow's process at high confidence", { skip }, async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const tag = randomBytes(4).toString("hex");
  const c = await startCollector(t, db);
  await startDpiAgent(t, dir, `sensor-dpi-${tag}`, c.url);
  const addr = ownLoopbackAddress();
  const { port, held } = await holdingHttpServer(t, addr);
  const binary = curlCopy(dir, `curl-sensor-${tag}`);
  const client = track(spawn(binary, ["--silent", "--max-time", "300", `http://${addr}:${port}/x`], { stdio: "ignore" }));
  t.teardown(() => kill(client));
  await waitFor("the request to reach the server", () => held.length > 0, 30_000);

  const flow = await waitFor(
    "the agent's classified flow with its Community ID",
    () =>
      query(db, "SELECT community_id, client_port FROM flows WHERE pid = ? AND server_address = ? AND direction = 'outbound' AND community_id <> ''", client.pid, addr)[0] as
        | { community_id: string; client_port: number }
        | undefined,
    120_000,
    500,
  );

  const token = cli(["sensor-token", "add", `suricata-${tag}`, "--db", db]);
  t.equal(token.status, 0, token.stderr);
  const alert = {
    timestamp: new Date().toISOString().replace("Z", "+0000"),
    flow_id: 7,
    event_type: "alert",
    src_ip: addr,
    src_port: port,
    dest_ip: "127.0.0.1",
    dest_port: flow.client_port,
    direction: "to_client",
    proto: "TCP",
    community_id: flow.community_id,
    alert: { signature: `ODW test ${tag}: a web reply`, signature_id: 9000003, severity: 1 },
  };
  const post = await http(`http://127.0.0.1:${c.port}/v1/sensor`, {
    method: "POST",
    headers: { authorization: `Bearer ${token.stdout.trim()}` },
    body: `${JSON.stringify(alert)}\n`,
  });
  t.equal(post.status, 200);

  const evidence = await waitFor(
    "the alert on the curl copy's finding",
    () => {
      const report = JSON.parse(cli(["report", "--db", db, "--format", "json", "--binary", binary]).stdout);
      const f = (report.findings as any[]).find((x) => x.hosts.some((h: any) => h.pid === client.pid));
      return f?.evidence.find((e: any) => typeof e === "object" && e.source === "suricata");
    },
    60_000,
    500,
  );
  t.match(evidence, { source: "suricata", pid: client.pid, side: "originator", join: "community-id", confidence: "high", flow: { communityId: flow.community_id } });
});
