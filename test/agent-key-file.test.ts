// The agent's key file: only "no such file" means "not enrolled yet". A key
// file that cannot be read (here a directory) is a clear ODW_ERR_STATE_DIR
// error that stops `run`, and the agent does not enroll again (which would
// rotate its key).

import t from "tap";
import { spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AGENT_BIN, SECRET, waitFor } from "./lib/fleet.js";
import { kill } from "./lib/child-processes.js";
import { startStubCollector } from "./lib/stub-collector.js";
import { readAgentKey, writeAgentKey } from "oddwire-agent/identity/agent-key.js";

const NOBODY = 65534;

/** Starts `run` (as `uid` when given) and resolves once it exits or enrolls, whichever comes first. */
async function runUntilExitOrEnroll(t: { teardown(fn: () => void | Promise<void>): void }, state: string, uid?: number) {
  const server = await startStubCollector(t);
  const child = spawn(process.execPath, [AGENT_BIN, "run", "--collector", server.url, "--enroll-secret", SECRET, "--state-dir", state, "--no-hash", "--schedule", "0 0 1 1 *"], {
    stdio: ["ignore", "ignore", "pipe"],
    ...(uid !== undefined && { uid, gid: uid }),
  });
  t.teardown(() => kill(child));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  let exitCode: number | null | undefined;
  child.on("exit", (code) => (exitCode = code));
  await waitFor("the agent to exit or to enroll", () => exitCode !== undefined || server.enrolls.length > 0).catch((err: Error) => {
    throw new Error(`${err.message}; the agent said: ${stderr}`);
  });
  return { enrolls: server.enrolls.length, exitCode, stderr };
}

t.test("a key file that is a directory stops the agent without enrolling", async (t) => {
  const state = t.testdir({});
  writeFileSync(join(state, "host-id"), "key-dir-host\n");
  mkdirSync(join(state, "agent-key"));
  const r = await runUntilExitOrEnroll(t, state);
  t.equal(r.enrolls, 0, "no enrollment: the key was not rotated");
  t.not(r.exitCode, 0, "run fails");
  t.match(r.stderr, /ODW_ERR_STATE_DIR/);
  t.match(r.stderr, join(state, "agent-key"));
});

t.test("a key file the agent's user cannot read stops it without enrolling", { skip: process.getuid?.() !== 0 && "needs root to run the agent as another user" }, async (t) => {
  const state = t.testdir({ "host-id": "key-eacces-host\n", "agent-key": "held-key\n" });
  // The directory and host id belong to the agent's user; the key stays root's, 0600.
  chownSync(state, NOBODY, NOBODY);
  chownSync(join(state, "host-id"), NOBODY, NOBODY);
  chmodSync(join(state, "agent-key"), 0o600);
  const r = await runUntilExitOrEnroll(t, state, NOBODY);
  t.equal(r.enrolls, 0, "no enrollment: the key was not rotated");
  t.not(r.exitCode, 0, "run fails");
  t.match(r.stderr, /ODW_ERR_STATE_DIR: cannot read the agent key .*EACCES/);
});

t.test("a missing key is 'not enrolled'; a linked or world-writable one is refused", async (t) => {
  const dir = t.testdir({ state: {}, elsewhere: "attacker-key\n" });
  const state = join(dir, "state");
  t.equal(readAgentKey(state), null);
  writeAgentKey(state, "k1");
  t.equal(readAgentKey(state), "k1");
  chmodSync(join(state, "agent-key"), 0o666);
  t.throws(() => readAgentKey(state), { code: "ODW_ERR_UNSAFE_PATH", message: /chmod 600/ });
  rmSync(join(state, "agent-key"));
  symlinkSync(join(dir, "elsewhere"), join(state, "agent-key"));
  t.throws(() => readAgentKey(state), { code: "ODW_ERR_UNSAFE_PATH", message: /symbolic link/ });
});
