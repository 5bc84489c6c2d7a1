// The enrollment secret is checked the same way by `run`, `replay` and
// `configure` (8 to 4096 characters, one line): a secret the collector would
// refuse stops the command at once with a clear line.

import t from "tap";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { AGENT_BIN, freePort } from "./lib/fleet.js";

async function attempt(t: { testdir(): string }, command: string, secret: string) {
  const dir = t.testdir();
  const url = `ws://127.0.0.1:${await freePort()}`;
  const { ODDWIRE_ENROLL_SECRET: _drop, ...env } = process.env;
  const args =
    command === "run"
      ? ["run", "--collector", url, "--state-dir", join(dir, "state"), "--no-hash", "--schedule", "0 0 1 1 *"]
      : command === "replay"
        ? ["replay", "-", "--collector", url, "--quiet"]
        : ["configure", "--collector", url, "--out", join(dir, "agent.json")];
  // A run that accepted the secret would keep running: the timeout ends it.
  return spawnSync(process.execPath, [AGENT_BIN, ...args], { encoding: "utf8", env: { ...env, ODDWIRE_ENROLL_SECRET: secret }, input: "", timeout: 15_000, killSignal: "SIGKILL" });
}

for (const command of ["run", "replay", "configure"]) {
  t.test(`${command} refuses a secret the collector refuses`, async (t) => {
    const short = await attempt(t, command, "short");
    t.equal(short.status, 1, `exits 1 at once (stderr: ${short.stderr})`);
    t.match(short.stderr, /ODW_ERR_CONFIG: the enrollment secret must be at least 8 characters long/);
    const long = await attempt(t, command, "x".repeat(4097));
    t.equal(long.status, 1);
    t.match(long.stderr, /at most 4096 characters/);
    const twoLines = await attempt(t, command, "first-line\nsecond-line");
    t.equal(twoLines.status, 1);
    t.match(twoLines.stderr, /must be one line/);
  });
}
