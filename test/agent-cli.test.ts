// The oddwire-agent command as a user runs it: the workspace bin, a real
// snapshot in JSON and in the human view, --timing, and usage errors.

import t from "tap";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { oddwire } from "@oddwire/proto";

const BIN = fileURLToPath(new URL("../../node_modules/.bin/oddwire-agent", import.meta.url));

function agent(args: string[]) {
  return spawnSync(BIN, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
}

t.test("snapshot --json prints the protobuf JSON mapping of a Snapshot", async (t) => {
  const r = agent(["snapshot", "--json", "--timing", "--state-dir", t.testdir()]);
  t.equal(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  for (const key of ["hostId", "hostname", "os", "osVersion", "agentVersion", "takenAtMs", "processes", "sockets"]) t.ok(key in json, key);
  t.type(json.takenAtMs, "string", "int64 as a string, per the JSON mapping");
  const p = json.processes.find((x: { pid: number }) => x.pid === r.pid);
  t.ok(p, "the agent sees itself");
  for (const key of ["pid", "ppid", "name", "exe", "cmdline", "user", "startedAtMs", "sha256", "exeDeleted", "tags"]) t.ok(key in p, `process.${key}`);
  t.match(p.sha256, /^[0-9a-f]{64}$/);
  const k = json.sockets[0];
  if (k)
    for (const key of ["transport", "family", "localAddress", "localPort", "remoteAddress", "remotePort", "state", "pid", "protocol", "direction", "tags"])
      t.ok(key in k, `socket.${key}`);
  // It decodes as the wire message and survives a binary round trip.
  const msg = oddwire.v1.Snapshot.fromObject(json);
  const back = oddwire.v1.Snapshot.decode(oddwire.v1.Snapshot.encode(msg).finish());
  t.equal(back.processes.length, json.processes.length);
  t.equal(back.takenAtMs, Number(json.takenAtMs));
  const timing = JSON.parse(r.stderr.trim().split("\n").pop()!);
  t.type(timing.totalMs, "number");
  t.type(timing.phases.processes, "number");
});

t.test("the human view lists flagged sockets first, then all sockets", async (t) => {
  const r = agent(["snapshot", "--no-hash", "--state-dir", t.testdir()]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^oddwire snapshot of .+\nhost id [0-9a-f-]+, agent \d+\.\d+\.\d+\n\d+ processes, \d+ sockets, \d+ flagged sockets/);
  const flagged = r.stdout.indexOf("FLAGGED SOCKETS");
  const all = r.stdout.indexOf("\nSOCKETS (");
  t.ok(flagged > 0 && all > flagged);
  t.match(r.stdout, /PROTO\s+DIRECTION\s+PROTOCOL\s+LOCAL\s+REMOTE\s+STATE\s+PROCESS\s+TAGS/);
});

t.test("usage errors exit 2 with a clear message", async (t) => {
  const r = agent(["snapshot", "--jsn"]);
  t.equal(r.status, 2);
  t.equal(r.stderr, 'oddwire-agent: ODW_ERR_USAGE: unknown option --jsn for "snapshot"; did you mean --json? (see --help)\n');
  const u = agent(["snapsh0t"]);
  t.equal(u.status, 2);
  t.match(u.stderr, /unknown command "snapsh0t"/);
  const h = agent(["snapshot", "--help"]);
  t.equal(h.status, 0);
  t.match(h.stdout, /--state-dir DIR/);
  t.match(agent(["--version"]).stdout, /^\d+\.\d+\.\d+\n$/);
});

t.test("an unusable state directory is a clear error", async (t) => {
  const r = agent(["snapshot", "--state-dir", "/proc/oddwire-cannot-exist"]);
  t.equal(r.status, 1);
  t.match(r.stderr, /ODW_ERR_STATE_DIR: cannot create the state directory \/proc\/oddwire-cannot-exist/);
});
