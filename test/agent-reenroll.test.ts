// Re-enrollment continuity, against a scripted collector on 127.0.0.1: an
// agent whose key is refused (401) enrolls again presenting its current key;
// a 409 (known host, no proof) is ODW_ERR_REENROLL with the administrator's
// command, logged and retried, not fatal; a Welcome ahead of every seq the
// agent ever made is logged as stream.welcome_ahead.

import t from "tap";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AGENT_BIN, SECRET, waitFor } from "./lib/fleet.js";
import { kill } from "./lib/child-processes.js";
import { ackEverything, logEvents, startStubCollector, welcomeFrame } from "./lib/stub-collector.js";

t.test("401, then re-enroll with current_key; 409 is retried; Welcome ahead is flagged", async (t) => {
  const server = await startStubCollector(t, {
    upgrade: (auth) => (auth === "Bearer old-key" ? 401 : 101),
    enroll: (_req, n) => (n === 0 ? { status: 409, text: "host reenroll-host is already enrolled" } : { status: 200, key: "new-key" }),
    stream(ws) {
      ws.send(welcomeFrame(1000));
      ackEverything(ws);
    },
  });
  const state = t.testdir({});
  writeFileSync(join(state, "host-id"), "reenroll-host\n");
  writeFileSync(join(state, "agent-key"), "old-key\n", { mode: 0o600 });
  const child = spawn(process.execPath, [AGENT_BIN, "run", "--collector", server.url, "--enroll-secret", SECRET, "--state-dir", state, "--no-hash", "--schedule", "0 0 1 1 *"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  t.teardown(() => kill(child));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const events = () => logEvents(stderr.split("\n"));

  await waitFor("stream.welcome_ahead", () => events().some((e) => e["event"] === "stream.welcome_ahead"));
  t.equal(child.exitCode, null, "the agent is still running");
  t.ok(server.enrolls.length >= 2, "enrolled again after the 409");
  t.same(
    server.enrolls.map((e) => e.currentKey),
    server.enrolls.map(() => "old-key"),
    "every enrollment presented the key the agent held",
  );
  t.equal(server.enrolls[0]!.hostId, "reenroll-host");
  const refused = events().find((e) => e["code"] === "ODW_ERR_REENROLL");
  t.ok(refused, "the 409 was logged as ODW_ERR_REENROLL");
  t.match(String(refused?.["error"]), /already knows host reenroll-host.*oddwire-collector allow-reenroll reenroll-host/);
  t.equal(refused?.["level"], "error");
  t.match(
    events().find((e) => e["event"] === "stream.welcome_ahead"),
    { level: "error", lastSeq: 1000 },
  );
  t.equal(server.upgrades.at(-1), "Bearer new-key");
});
