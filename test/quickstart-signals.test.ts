// `npm start` (quickstart: the collector plus an agent child) stops entirely
// when told to: every process of its group exits, the agent included. Each
// run is started as its own process group with a fresh data directory and
// any free port.

import t from "tap";
import { dirname } from "node:path";
import type { ChildProcess } from "node:child_process";
import { COLLECTOR_BIN, waitFor } from "./lib/fleet.js";
import { groupMembers, startGroup } from "./lib/process-group.js";

const REPO = dirname(dirname(dirname(COLLECTOR_BIN)));

/** Resolves once quickstart has printed its banner (the agent is started before it). */
function running(child: ChildProcess): Promise<string> {
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("Ctrl-C stops both.")) resolve(out);
    });
    child.on("exit", (code, signal) => reject(new Error(`exited (${signal ?? code}) before it was running: ${err}`)));
  });
}

/** The group's members once it has emptied, or what is left of it after a minute. */
async function leftInGroup(pgid: number): Promise<unknown[]> {
  await waitFor("every process of the group to exit", () => groupMembers(pgid).length === 0, 60_000).catch(() => undefined);
  return groupMembers(pgid);
}

t.test("quickstart stops its agent and the collector, and exits, on SIGINT", async (t) => {
  const data = t.testdir();
  const child = startGroup(t, process.execPath, [COLLECTOR_BIN, "quickstart", "--port", "0", "--data-dir", data]);
  const banner = await running(child);
  const agentPid = Number(/agent\s+pid (\d+)/.exec(banner)?.[1]);
  t.ok(
    groupMembers(child.pid!).some((p) => p.pid === agentPid),
    "the agent runs in the group",
  );
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  process.kill(child.pid!, "SIGINT");
  t.equal(await exited, 0, "quickstart exits cleanly");
  t.same(await leftInGroup(child.pid!), [], "no process of the group is left");
});

t.test("npm start stops entirely when npm is sent SIGTERM", async (t) => {
  const data = t.testdir();
  const npm = startGroup(t, "npm", ["start", "--silent", "--", "--port", "0", "--data-dir", data], { cwd: REPO });
  await running(npm);
  t.ok(groupMembers(npm.pid!).length >= 3, "npm, quickstart and the agent run");
  process.kill(npm.pid!, "SIGTERM");
  t.same(await leftInGroup(npm.pid!), [], "no process of the group is left");
});

t.test("npm start stops entirely when npm alone is sent SIGINT (kill -INT <npm pid>)", async (t) => {
  const data = t.testdir();
  const npm = startGroup(t, "npm", ["start", "--silent", "--", "--port", "0", "--data-dir", data], { cwd: REPO });
  await running(npm);
  process.kill(npm.pid!, "SIGINT");
  t.same(await leftInGroup(npm.pid!), [], "no process of the group is left");
});
