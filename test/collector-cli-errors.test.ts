// The collector's command line when the operator gets something wrong: a
// port already in use, a mistyped database path, a database URL this build
// cannot use. Each is one clear ODW_ERR_* line with a non-zero exit, no stack
// trace, and nothing created on disk. The real CLI, as a child process.

import t from "tap";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "oddwire-collector/store/store.js";
import { kill, loopbackServer } from "./lib/child-processes.js";
import { COLLECTOR_BIN, freePort, SECRET } from "./lib/fleet.js";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** Runs the CLI without blocking this process (a server of the test's may have to answer meanwhile). */
function collector(t: Teardown, args: string[], cwd?: string): Promise<Run> {
  // The timeout is a backstop for a run that wrongly keeps serving, should the test be cut off before its teardown.
  const child = spawn(process.execPath, [COLLECTOR_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000, killSignal: "SIGKILL", ...(cwd && { cwd }) });
  t.teardown(() => kill(child));
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

const NO_STACK = /^\s+at /m;

t.test("serve on a port in use: one clear line, exit 1, no database left behind", async (t) => {
  const dir = t.testdir();
  const busy = await loopbackServer(t);
  const r = await collector(t, ["serve", "--port", String(busy.port), "--db", join(dir, "new", "fleet.db"), "--enroll-secret", SECRET]);
  t.equal(r.status, 1);
  t.equal(r.stderr, `oddwire-collector: ODW_ERR_CONFIG: port ${busy.port} on 127.0.0.1 is in use; choose another with --port\n`);
  t.notMatch(r.stderr, NO_STACK, "no stack trace");
  t.same(readdirSync(dir), [], "neither the database nor its directory was left");

  await t.test("an existing database is kept", async (t) => {
    const db = join(dir, "kept.db");
    const first = await collector(t, ["serve", "--port", String(busy.port), "--db", db, "--enroll-secret", SECRET]);
    t.equal(first.status, 1);
    writeFileSync(db, "");
    const again = await collector(t, ["serve", "--port", String(busy.port), "--db", db, "--enroll-secret", SECRET]);
    t.equal(again.status, 1);
    t.ok(existsSync(db), "the file that was there before is still there");
  });
});

t.test("commands that read the fleet refuse a database that does not exist", async (t) => {
  const dir = t.testdir({ exports: {} });
  const db = join(dir, "fleeet.db");
  const commands: string[][] = [
    ["report"],
    ["report", "--format", "csv"],
    ["agents"],
    ["suppressions"],
    ["export", "--what", "findings", "--out", join(dir, "exports")],
    ["revoke", "some-host"],
    ["suppress", "--binary", "curl", "--reason", "known"],
    ["unsuppress", "1"],
  ];
  for (const args of commands) {
    const r = await collector(t, [...args, "--db", db]);
    t.equal(r.status, 1, `${args.join(" ")}: exit 1`);
    t.equal(r.stdout, "", `${args.join(" ")}: prints no report`);
    t.match(r.stderr, /^oddwire-collector: ODW_ERR_DB: there is no database at .*fleeet\.db; check --db/, `${args.join(" ")}: says so`);
    t.notMatch(r.stderr, NO_STACK);
    t.notOk(existsSync(db), `${args.join(" ")}: creates no database`);
  }
  t.same(readdirSync(dir), ["exports"]);
});

t.test("a database address other than postgres:// is refused; a PostgreSQL nobody answers at is one clear line", async (t) => {
  const dir = t.testdir({ "serve.json": JSON.stringify({ db: "mysql://oddwire@127.0.0.1:3306/fleet", enrollSecret: SECRET }) });
  const other = "mysql://oddwire@127.0.0.1/fleet";
  for (const [name, args] of [
    ["serve --db", ["serve", "--port", "0", "--db", other, "--enroll-secret", SECRET]],
    ["serve --config", ["serve", "--port", "0", "--config", join(dir, "serve.json")]],
    ["report --db", ["report", "--db", other]],
    ["export --db", ["export", "--what", "agents", "--out", dir, "--db", other]],
  ] as Array<[string, string[]]>) {
    const r = await collector(t, args, dir);
    t.equal(r.status, 1, `${name}: exit 1`);
    t.match(r.stderr, /^oddwire-collector: ODW_ERR_CONFIG: .*a database address \(mysql:\/\/\) is not supported; give a file path .* or a postgres:\/\/ URL/, `${name}: says so`);
    t.notMatch(r.stderr, NO_STACK);
  }
  // Nothing listens on this port: the password never shows in the message.
  const url = `postgres://oddwire:hunter2@127.0.0.1:${await freePort()}/fleet`;
  for (const args of [
    ["agents", "--db", url],
    ["report", "--db", url],
    ["serve", "--port", "0", "--db", url, "--enroll-secret", SECRET],
  ]) {
    const r = await collector(t, args, dir);
    t.equal(r.status, 1, `${args[0]}: exit 1`);
    t.match(r.stderr, /^oddwire-collector: ODW_ERR_DB: cannot open the database postgres:\/\/oddwire:\*\*\*@127\.0\.0\.1:\d+\/fleet: .*ECONNREFUSED/, `${args[0]}: says so`);
    t.notMatch(r.stderr, /hunter2/);
    t.notMatch(r.stderr, NO_STACK);
  }
  t.same(readdirSync(dir), ["serve.json"], "no directory named postgres: or anything else");
});

t.test("report --out into a directory that does not exist: one clear line, no stack", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  await (await openStore(db)).close();
  const r = await collector(t, ["report", "--db", db, "--out", join(dir, "no-such-dir", "report.txt")]);
  t.equal(r.status, 2);
  t.match(
    r.stderr,
    /^oddwire-collector: ODW_ERR_USAGE: --out ".*no-such-dir\/report\.txt": cannot write the report there \(ENOENT\); give a file in an existing directory you can write to\n$/,
  );
  t.notMatch(r.stderr, NO_STACK);
});

t.test("serve checks the enrollment secret as the agent does: one line, 8 to 4096 characters", async (t) => {
  const dir = t.testdir();
  for (const [secret, message] of [
    ["short", /ODW_ERR_CONFIG: the enrollment secret must be at least 8 characters long/],
    ["x".repeat(4097), /ODW_ERR_CONFIG: the enrollment secret must be at most 4096 characters long/],
  ] as const) {
    const r = await collector(t, ["serve", "--port", "0", "--db", join(dir, "x.db"), "--enroll-secret", secret]);
    t.equal(r.status, 1, `${secret.length} characters refused`);
    t.match(r.stderr, message);
    t.notMatch(r.stderr, NO_STACK);
  }
  const file = join(dir, "secret");
  writeFileSync(file, "first-line-secret\nsecond line\n");
  const ok = await collector(t, ["serve", "--port", "0", "--db", join(dir, "x.db"), "--enroll-secret", "line one\nline two"]);
  t.equal(ok.status, 1, "a secret with a line break refused");
  t.match(ok.stderr, /the enrollment secret must be one line/);
  t.notOk(existsSync(join(dir, "x.db")), "nothing created");
});
