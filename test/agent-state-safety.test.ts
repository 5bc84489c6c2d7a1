// The agent's state directory and secret files are trusted only when nobody
// else can write them: temp files are created exclusively and links planted
// where a file is expected are never followed; a state directory writable by
// group or others, and a world-writable config or secret file, are refused
// with ODW_ERR_UNSAFE_PATH naming the path and the fix.

import t from "tap";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, lstatSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadOrCreateHostId } from "oddwire-agent/identity/host-id.js";
import { HashCache } from "oddwire-agent/identity/hash-cache.js";
import { ensureStateDir } from "oddwire-agent/identity/state-dir.js";
import { resolveRunConfig } from "oddwire-agent/run-config.js";
import { Spool } from "oddwire-agent/spool/spool.js";

const BIN = fileURLToPath(new URL("../../node_modules/.bin/oddwire-agent", import.meta.url));
const TARGET_TEXT = "precious, must not change\n";

/** A file outside the state directory that a planted link points at. */
function target(dir: string): string {
  const path = join(dir, "elsewhere", "precious");
  mkdirSync(join(dir, "elsewhere"), { recursive: true });
  writeFileSync(path, TARGET_TEXT);
  return path;
}

t.test("a link planted at the host id's temp name is not followed", async (t) => {
  const dir = t.testdir({ state: {} });
  const state = join(dir, "state");
  const victim = target(dir);
  for (const name of ["host-id.tmp", `host-id.${process.pid}.tmp`]) symlinkSync(victim, join(state, name));
  const id = loadOrCreateHostId(state);
  t.equal(readFileSync(victim, "utf8"), TARGET_TEXT, "the link's target is untouched");
  t.ok(lstatSync(join(state, "host-id")).isFile(), "host-id is a plain file");
  t.equal(readFileSync(join(state, "host-id"), "utf8").trim(), id);
});

t.test("a host-id that is a link is refused, not read", async (t) => {
  const dir = t.testdir({ state: {} });
  const state = join(dir, "state");
  symlinkSync(target(dir), join(state, "host-id"));
  t.throws(() => loadOrCreateHostId(state), { code: "ODW_ERR_UNSAFE_PATH", message: /host-id is a symbolic link/ });
});

t.test("a link planted at the hash cache's temp name is not followed", async (t) => {
  const dir = t.testdir({ state: {} });
  const state = join(dir, "state");
  const victim = target(dir);
  symlinkSync(victim, join(state, `exe-hashes.json.${process.pid}.tmp`));
  const cache = new HashCache();
  cache.set("/bin/x", "a".repeat(64));
  cache.save(state);
  t.equal(readFileSync(victim, "utf8"), TARGET_TEXT);
  t.ok(lstatSync(join(state, "exe-hashes.json")).isFile());
  t.equal(HashCache.load(state).get("/bin/x"), "a".repeat(64));
});

t.test("a link planted at a spool temp name is not followed", async (t) => {
  const dir = t.testdir({ spool: {} });
  const victim = target(dir);
  const spool = Spool.open({ dir: join(dir, "spool"), fsync: false });
  // Planted after open (which clears temp files), before the write.
  symlinkSync(victim, join(dir, "spool", "000000000001.batch.tmp"));
  const { seq } = spool.enqueue(Buffer.from("payload"));
  t.equal(seq, 1);
  t.equal(readFileSync(victim, "utf8"), TARGET_TEXT, "the link's target is untouched");
  t.same(Buffer.from(spool.lease(1)[0]!.bytes).toString(), "payload");
});

t.test("a state directory writable by others is refused", async (t) => {
  const dir = t.testdir({ state: {} });
  const state = join(dir, "state");
  chmodSync(state, 0o777);
  t.throws(() => ensureStateDir(state), { code: "ODW_ERR_UNSAFE_PATH", message: new RegExp(`${state}.*chmod 700 ${state}`) });
  chmodSync(state, 0o770);
  t.throws(() => ensureStateDir(state), { code: "ODW_ERR_UNSAFE_PATH" }, "group-writable too");
  chmodSync(state, 0o755);
  t.equal(ensureStateDir(state), state, "0755 owned by this user is fine");

  const r = spawnSync(BIN, ["snapshot", "--no-hash", "--state-dir", state], { encoding: "utf8" });
  t.equal(r.status, 0, r.stderr);
  chmodSync(state, 0o757);
  const refused = spawnSync(BIN, ["snapshot", "--no-hash", "--state-dir", state], { encoding: "utf8" });
  t.not(refused.status, 0);
  t.match(refused.stderr, /ODW_ERR_UNSAFE_PATH/);
  t.match(refused.stderr, `chmod 700 ${state}`);
});

t.test("a state directory owned by another user is refused", { skip: process.getuid?.() !== 0 && "needs root to chown" }, async (t) => {
  const dir = t.testdir({ state: {} });
  const state = join(dir, "state");
  const { chownSync } = await import("node:fs");
  chownSync(state, 65534, 65534);
  t.throws(() => ensureStateDir(state), { code: "ODW_ERR_UNSAFE_PATH", message: /owned by uid 65534/ });
});

t.test("world-writable secret and config files are refused", async (t) => {
  const dir = t.testdir({ secret: "fleet-secret-0001\n", "agent.json": JSON.stringify({ collector: "ws://127.0.0.1:1" }) });
  const secret = join(dir, "secret");
  const config = join(dir, "agent.json");
  chmodSync(secret, 0o666);
  t.throws(() => resolveRunConfig({ collector: "ws://127.0.0.1:1", "enroll-secret-file": secret, "state-dir": dir }, {}), {
    code: "ODW_ERR_UNSAFE_PATH",
    message: new RegExp(`${secret}.*chmod 600`),
  });
  chmodSync(secret, 0o600);
  t.equal(resolveRunConfig({ collector: "ws://127.0.0.1:1", "enroll-secret-file": secret, "state-dir": dir }, {}).enrollSecret, "fleet-secret-0001");
  chmodSync(config, 0o646);
  t.throws(() => resolveRunConfig({ config, "enroll-secret-file": secret }, {}), { code: "ODW_ERR_UNSAFE_PATH", message: new RegExp(config) });
});

t.test("configure refuses a state directory run would refuse", async (t) => {
  const dir = t.testdir({ state: {} });
  const state = join(dir, "state");
  chmodSync(state, 0o777);
  const { ODDWIRE_ENROLL_SECRET: _drop, ...env } = process.env;
  const r = spawnSync(BIN, ["configure", "--collector", "wss://c.example:8443", "--enroll-secret", "fleet-secret-0001", "--out", join(dir, "agent.json"), "--state-dir", state], {
    encoding: "utf8",
    env,
  });
  t.equal(r.status, 1);
  t.match(r.stderr, `ODW_ERR_UNSAFE_PATH: the state directory ${state} is writable by every user (mode 0777)`);
  t.match(r.stderr, `chmod 700 ${state}`);
});

t.test("configure accepts a private state directory owned by the service's user", { skip: process.getuid?.() !== 0 && "needs root to chown" }, async (t) => {
  const dir = t.testdir({ state: {} });
  const state = join(dir, "state");
  chmodSync(state, 0o700);
  const { chownSync } = await import("node:fs");
  chownSync(state, 65534, 65534);
  const { ODDWIRE_ENROLL_SECRET: _drop, ...env } = process.env;
  const r = spawnSync(BIN, ["configure", "--collector", "wss://c.example:8443", "--enroll-secret", "fleet-secret-0001", "--out", join(dir, "agent.json"), "--state-dir", state], {
    encoding: "utf8",
    env,
  });
  t.equal(r.status, 0, r.stderr);
});
