// The agent's key file: only "no such file" means "not enrolled yet". A key
// file that cannot be read (here a directory) is a clear ODW_ERR_STATE_DIR
// error that stops `run`, and the agent does not enroll again (which would
// rotate its key).

import t from "tap";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AGENT_BIN, SECRET, waitFor } from "./lib/fleet.js";
import { kill } from "./lib/child-processes.js";
import { startStubCollector } from "./lib/stub-collector.js";

t.test("a key file that is a directory stops the agent without enrolling", async (t) => {
  const server = await startStubCollector(t);
  const state = t.testdir({});
  writeFileSync(join(state, "host-id"), "key-dir-host\n");
  mkdirSync(join(state, "agent-key"));
  const child = spawn(process.execPath, [AGENT_BIN, "run", "--collector", server.url, "--enroll-secret", SECRET, "--state-dir", state, "--no-hash", "--schedule", "0 0 1 1 *"], { stdio: ["ignore", "ignore", "pipe"] });
  t.teardown(() => kill(child));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  let exitCode: number | null | undefined;
  child.on("exit", (code) => (exitCode = code));
  await waitFor("the agent to exit or to enroll", () => exitCode !== undefined || server.enrolls.length > 0);
  t.equal(server.enrolls.length, 0, "no enrollment: the key was not rotated");
  t.not(exitCode, 0, "run fails");
  t.match(stderr, /ODW_ERR_STATE_DIR/);
  t.match(stderr, join(state, "agent-key"));
});
