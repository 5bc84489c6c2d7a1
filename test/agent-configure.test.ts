// `oddwire-agent configure`, as the installers run it: values checked before
// anything is written, owner-only files, settings an administrator added
// kept, and one clear line for each bad value.

import t from "tap";
import { spawnSync } from "node:child_process";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../node_modules/.bin/oddwire-agent", import.meta.url));
const SECRET = "fleet-secret-0001";

function configure(args: string[], input?: string, env: Record<string, string> = {}) {
  const { ODDWIRE_ENROLL_SECRET: _drop, ...base } = process.env;
  return spawnSync(BIN, ["configure", ...args], { encoding: "utf8", input, env: { ...base, ...env } });
}

t.test("writes the config and the secret, owner-only, from standard input", async (t) => {
  const dir = t.testdir();
  const out = join(dir, "etc", "agent.json");
  const r = configure(
    ["--collector", "wss://collector.example:8443", "--enroll-secret-file", "-", "--out", out, "--state-dir", join(dir, "state")],
    `${SECRET}\nignored second line\n`,
  );
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^configured: .*agent\.json \(secret in .*enroll-secret\)\n$/);
  t.same(JSON.parse(readFileSync(out, "utf8")), { collector: "wss://collector.example:8443", enrollSecretFile: join(dir, "etc", "enroll-secret"), stateDir: join(dir, "state") });
  t.equal(readFileSync(join(dir, "etc", "enroll-secret"), "utf8"), `${SECRET}\n`, "only the first line is the secret");
  t.equal(statSync(out).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, "etc", "enroll-secret")).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, "state")).mode & 0o777, 0o700);
});

t.test("keeps settings it does not set, and drops an inline secret", async (t) => {
  const dir = t.testdir({ "agent.json": JSON.stringify({ collector: "ws://127.0.0.1:1", schedule: "*/5 * * * *", spoolMaxBytes: "1GB", enrollSecret: "old-inline-secret" }) });
  const out = join(dir, "agent.json");
  const r = configure(["--collector", "https://c2.example", "--out", out, "--secret-out", join(dir, "s")], undefined, { ODDWIRE_ENROLL_SECRET: SECRET });
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(readFileSync(out, "utf8")), { collector: "https://c2.example", schedule: "*/5 * * * *", spoolMaxBytes: "1GB", enrollSecretFile: join(dir, "s") });
  t.equal(readFileSync(join(dir, "s"), "utf8"), `${SECRET}\n`, "the secret came from the environment");
});

t.test("the written config is what run reads", async (t) => {
  const dir = t.testdir();
  const out = join(dir, "agent.json");
  t.equal(configure(["--collector", "ws://127.0.0.1:9", "--enroll-secret", SECRET, "--out", out]).status, 0);
  const { resolveRunConfig } = await import("oddwire-agent/run-config.js");
  const config = resolveRunConfig({ config: out }, {});
  t.equal(config.collector, "ws://127.0.0.1:9");
  t.equal(config.enrollSecret, SECRET);
});

t.test("a CA certificate is checked and its path written", async (t) => {
  const dir = t.testdir({ "not-a-cert.pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" });
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(dir, "ca.key"),
      "-out",
      join(dir, "ca.pem"),
      "-subj",
      "/CN=oddwire test CA",
      "-days",
      "2",
    ],
    { stdio: "ignore" },
  );
  const good = configure(["--collector", "wss://c.example", "--enroll-secret", SECRET, "--ca-cert", join(dir, "ca.pem"), "--out", join(dir, "good.json")]);
  t.equal(good.status, 0, good.stderr);
  t.equal(JSON.parse(readFileSync(join(dir, "good.json"), "utf8")).caCert, join(dir, "ca.pem"));
  const bad = configure(["--collector", "wss://c.example", "--enroll-secret", SECRET, "--ca-cert", join(dir, "not-a-cert.pem"), "--out", join(dir, "bad.json")]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /^oddwire-agent: ODW_ERR_INPUT: .*not-a-cert\.pem is not a PEM certificate/);
  t.notOk(existsSync(join(dir, "bad.json")), "nothing is written");
  const missing = configure(["--collector", "wss://c.example", "--enroll-secret", SECRET, "--ca-cert", join(dir, "nope.pem"), "--out", join(dir, "bad.json")]);
  t.match(missing.stderr, /ODW_ERR_INPUT: cannot read the CA certificate .*nope\.pem/);
  const kept = configure(["--collector", "wss://c2.example", "--enroll-secret", SECRET, "--out", join(dir, "good.json")]);
  t.equal(kept.status, 0, kept.stderr);
  t.equal(JSON.parse(readFileSync(join(dir, "good.json"), "utf8")).caCert, join(dir, "ca.pem"), "without --ca-cert, the pin stays");
  const removed = configure(["--collector", "wss://c2.example", "--enroll-secret", SECRET, "--ca-cert", "", "--out", join(dir, "good.json")]);
  t.equal(removed.status, 0, removed.stderr);
  t.notOk("caCert" in JSON.parse(readFileSync(join(dir, "good.json"), "utf8")), '--ca-cert "" removes it');
});

t.test("bad values are refused, one line each, and the config in place is untouched", async (t) => {
  const dir = t.testdir({ "agent.json": '{"collector":"wss://keep.example"}\n' });
  const out = join(dir, "agent.json");
  const cases: [string[], string | undefined, RegExp][] = [
    [["--collector", "ftp://c.example", "--enroll-secret", SECRET], undefined, /ODW_ERR_CONFIG: the collector URL "ftp:\/\/c\.example" must be a ws:\/\/, wss:\/\//],
    [["--collector", "wss://user:pw@c.example", "--enroll-secret", SECRET], undefined, /must not carry a user name or password/],
    [["--collector", "wss://c.example", "--enroll-secret", "short"], undefined, /at least 8 characters/],
    [["--collector", "wss://c.example", "--enroll-secret", "a".repeat(5000)], undefined, /at most 4096 characters/],
    [["--collector", "wss://c.example", "--enroll-secret-file", "-"], "\n", /at least 8 characters/],
    [["--collector", "wss://c.example"], undefined, /configure needs the enrollment secret/],
    [["--collector", "wss://c.example", "--enroll-secret", SECRET, "--secret-out", out], undefined, /ODW_ERR_USAGE: the config file and the secret file must be different/],
  ];
  for (const [args, input, message] of cases) {
    const r = configure([...args, "--out", out], input);
    t.equal(r.status, args.includes("--secret-out") ? 2 : 1, args.join(" "));
    t.match(r.stderr, message);
    t.equal(r.stderr.trim().split("\n").length, 1, "one line");
  }
  t.equal(readFileSync(out, "utf8"), '{"collector":"wss://keep.example"}\n', "the config in place is untouched");
  t.match(configure(["--enroll-secret", SECRET, "--out", out]).stderr, /ODW_ERR_USAGE: configure needs --collector URL/);
  t.match(configure(["--collector", "wss://c.example", "--enroll-secret", SECRET]).stderr, /ODW_ERR_USAGE: configure needs --out FILE/);
  writeFileSync(out, "[1,2]");
  writeFileSync(join(dir, "enroll-secret"), "the-secret-in-place\n");
  t.match(configure(["--collector", "wss://c.example", "--enroll-secret", SECRET, "--out", out]).stderr, /exists but is not a JSON object/);
  t.equal(readFileSync(join(dir, "enroll-secret"), "utf8"), "the-secret-in-place\n", "a config file that cannot be kept fails the command before the secret is touched");
});
