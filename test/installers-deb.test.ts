// The .debs on a real Debian system: `npm run package` builds them (lintian
// must pass), debootstrap makes a fresh bookworm root, and the packages go
// through install, a refused reconfigure, a boot under systemd (in a
// container of the test's own, with a private network), an upgrade that keeps
// the configuration, identity and unsent spool, remove and purge.

import t from "tap";
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./lib/fleet.js";
import { skipWithoutTools } from "./lib/system-tools.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const PACKAGE_CLI = join(REPO, "installers", "dist", "package.js");
const MIRROR = process.env["ODDWIRE_DEBIAN_MIRROR"] ?? machineMirror() ?? "http://deb.debian.org/debian";

/** The Debian mirror this machine's apt uses for bookworm (deb822 .sources or a one-line sources.list). */
function machineMirror(): string | undefined {
  const texts: string[] = [];
  for (const file of [
    "/etc/apt/sources.list",
    ...(existsSync("/etc/apt/sources.list.d") ? readdirSync("/etc/apt/sources.list.d").map((f) => `/etc/apt/sources.list.d/${f}`) : []),
  ]) {
    try {
      texts.push(readFileSync(file, "utf8"));
    } catch {
      // unreadable or not a file: not a source
    }
  }
  for (const text of texts) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      if (uri && /^Suites:.*\bbookworm\b(?![-\w])/m.test(stanza) && !/security/.test(uri)) return uri;
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (line) return line[1];
  }
  return undefined;
}
// Without root it cannot run at all; without the tools `npm test` skips it
// with the reason (CI, which installs them, fails instead).
const skip =
  process.getuid?.() !== 0
    ? "needs root (debootstrap, chroot, systemd-nspawn)"
    : skipWithoutTools(["debootstrap", "systemd-nspawn", "nsenter", "dpkg-deb", "lintian", "runuser", "strip"], "lintian debootstrap systemd-container util-linux binutils");

const SECRET = "fleet-secret-0001";
const CLEAN_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", DEBIAN_FRONTEND: "noninteractive", HOME: "/root" };
// debootstrap reaches the mirror the way apt does: through the proxy, if the machine has one.
const PROXY_ENV = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => /^(https?|no)_proxy$/i.test(k) && v)) as Record<string, string>;

function sh(cmd: string, args: readonly string[], env: Record<string, string> = {}, timeoutMs = 300_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: "utf8", env: { ...CLEAN_ENV, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// Building, debootstrap and a boot take two to four minutes; the suite's default is two.
t.setTimeout(20 * 60_000);

t.test("the .debs through install, boot, upgrade, remove and purge on a fresh Debian root", { skip, timeout: 20 * 60_000 }, async (t) => {
  const work = mkdtempSync("/var/tmp/oddwire-deb-test-");
  const root = join(work, "root");
  let container: ChildProcess | undefined;
  t.teardown(async () => {
    if (container && container.exitCode === null) {
      container.kill("SIGTERM");
      await new Promise((r) => container!.once("exit", r));
    }
    rmSync(work, { recursive: true, force: true });
  });

  // --- Build: 0.1.0 with lintian, 0.1.1 of the agent for the upgrade.
  const build = sh(process.execPath, [PACKAGE_CLI, "--only", "agent-deb,collector-deb", "--version", "0.1.0", "--compression", "gzip", "--out", join(work, "v1")], {}, 600_000);
  // The build fails on any lintian error, so its success is lintian's verdict.
  t.equal(build.status, 0, `npm run package builds both .debs and lintian passes them:\n${build.stderr}`);
  t.match(build.stdout, /oddwire-agent_0\.1\.0_amd64\.deb .* sha256 [0-9a-f]{64}/, "the agent .deb is listed with its digest");
  t.match(build.stdout, /oddwire-collector_0\.1\.0_amd64\.deb/);
  const again = sh(
    process.execPath,
    [PACKAGE_CLI, "--only", "agent-deb", "--version", "0.1.0", "--compression", "gzip", "--no-lintian", "--out", join(work, "again")],
    {},
    600_000,
  );
  const digest = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");
  t.equal(
    digest(join(work, "again", "oddwire-agent_0.1.0_amd64.deb")),
    digest(join(work, "v1", "oddwire-agent_0.1.0_amd64.deb")),
    `the build is reproducible: a second build of the same commit is the same bytes ${again.stderr}`,
  );
  ok(
    sh(process.execPath, [PACKAGE_CLI, "--only", "agent-deb", "--version", "0.1.1", "--compression", "gzip", "--no-lintian", "--out", join(work, "v2")], {}, 600_000),
    "building 0.1.1",
  );

  const info = ok(sh("dpkg-deb", ["--info", join(work, "v1", "oddwire-agent_0.1.0_amd64.deb")]), "dpkg-deb --info");
  t.match(info, /Depends: adduser, debconf/, "the agent depends on adduser and debconf");
  const contents = ok(sh("dpkg-deb", ["--contents", join(work, "v1", "oddwire-agent_0.1.0_amd64.deb")]), "dpkg-deb --contents");
  t.notMatch(contents, /\.\/etc\//, "no file under /etc is shipped: the configuration is written at install, so upgrades never prompt about it");
  t.match(contents, /-rwxr-xr-x root\/root .* \.\/usr\/lib\/oddwire-agent\/bin\/node\n/, "the runtime is in the package, owned by root");
  t.match(contents, /-rwxr-xr-x root\/root .* \.\/usr\/lib\/oddwire-agent\/bin\/oddwire-sensor\n/, "the eBPF sensor beside it");
  t.match(info, /Depends: .*\blibbpf1\b/, "and the library the sensor links");

  // --- A fresh Debian root.
  ok(sh("debootstrap", ["--variant=minbase", "--include=adduser,systemd,debconf", "bookworm", root, MIRROR], PROXY_ENV, 900_000), "debootstrap");
  mkdirSync(join(root, "srv", "debs"), { recursive: true });
  for (const [dir, file] of [
    ["v1", "oddwire-agent_0.1.0_amd64.deb"],
    ["v1", "oddwire-collector_0.1.0_amd64.deb"],
    ["v2", "oddwire-agent_0.1.1_amd64.deb"],
  ] as const) {
    copyFileSync(join(work, dir, file), join(root, "srv", "debs", file));
  }
  // env -i: nothing of the test runner's environment (tap's NODE_OPTIONS) reaches the Debian root.
  const envArgs = (env: Record<string, string>): string[] => ["env", "-i", ...Object.entries({ ...CLEAN_ENV, ...env }).map(([k, v]) => `${k}=${v}`)];
  const chroot = (cmd: string, env: Record<string, string> = {}): SpawnSyncReturns<string> => sh("chroot", [root, ...envArgs(env), "sh", "-c", cmd], env);
  const at = (path: string): string => join(root, path);
  const idOf = (name: string): { uid: number; gid: number; shell: string } => {
    const line = ok(chroot(`getent passwd ${name}`), `getent passwd ${name}`)
      .trim()
      .split(":");
    return { uid: Number(line[2]), gid: Number(line[3]), shell: line[6]! };
  };
  const modeOf = (path: string): string => (statSync(at(path)).mode & 0o7777).toString(8).padStart(4, "0");
  const ownerOf = (path: string): [number, number] => [statSync(at(path)).uid, statSync(at(path)).gid];

  // --- The collector: a secret from the environment, a default configuration.
  const collectorInstall = chroot("dpkg -i /srv/debs/oddwire-collector_0.1.0_amd64.deb", { ODDWIRE_ENROLL_SECRET: SECRET });
  t.equal(collectorInstall.status, 0, `the collector installs: ${collectorInstall.stderr}`);
  const collectorUser = idOf("oddwire-collector");
  t.ok(collectorUser.uid > 0 && collectorUser.uid < 1000, "the collector has a system account");
  t.match(collectorUser.shell, /nologin|false/, "that cannot log in");
  t.equal(readFileSync(at("etc/oddwire-collector/enroll-secret"), "utf8"), `${SECRET}\n`, "the enrollment secret is the one given");
  t.equal(modeOf("etc/oddwire-collector/enroll-secret"), "0640");
  t.same(ownerOf("etc/oddwire-collector/enroll-secret"), [0, collectorUser.gid], "root owns it; only the service's group may read it");
  t.equal(modeOf("etc/oddwire-collector"), "0750");
  const collectorConfig = JSON.parse(readFileSync(at("etc/oddwire-collector/collector.json"), "utf8")) as Record<string, unknown>;
  t.equal(collectorConfig["db"], "/var/lib/oddwire-collector/oddwire.db", "the database lives under /var/lib");
  t.equal(collectorConfig["host"], "127.0.0.1", "it listens on loopback until told otherwise");
  t.match(collectorConfig["readerToken"], /^[0-9a-f]{48}$/, "a random reader token protects the report");
  t.same(ownerOf("var/lib/oddwire-collector"), [collectorUser.uid, collectorUser.gid]);
  t.equal(
    readlinkSync(at("etc/systemd/system/multi-user.target.wants/oddwire-collector.service")),
    "/lib/systemd/system/oddwire-collector.service",
    "the collector is enabled at boot",
  );

  // --- The agent, unattended: the answers come from the environment.
  const agentEnv = { ODDWIRE_COLLECTOR_URL: "ws://127.0.0.1:8443", ODDWIRE_ENROLL_SECRET: SECRET };
  // As installers/README.md tells IT to: apt-get, the answers in the environment.
  const agentInstall = chroot("apt-get install -y /srv/debs/oddwire-agent_0.1.0_amd64.deb", agentEnv);
  t.equal(agentInstall.status, 0, `the agent installs unattended: ${agentInstall.stderr}`);
  const agentUser = idOf("oddwire-agent");
  t.ok(agentUser.uid > 0 && agentUser.uid < 1000, "the agent has its own system account");
  t.not(agentUser.uid, collectorUser.uid);
  const agentConfig = JSON.parse(readFileSync(at("etc/oddwire-agent/agent.json"), "utf8")) as Record<string, unknown>;
  t.same(
    agentConfig,
    { collector: "ws://127.0.0.1:8443", enrollSecretFile: "/etc/oddwire-agent/enroll-secret", stateDir: "/var/lib/oddwire-agent" },
    "the configuration written from the answers",
  );
  t.equal(readFileSync(at("etc/oddwire-agent/enroll-secret"), "utf8"), `${SECRET}\n`);
  for (const f of ["etc/oddwire-agent/agent.json", "etc/oddwire-agent/enroll-secret"]) {
    t.equal(modeOf(f), "0640", `${f} is not world-readable`);
    t.same(ownerOf(f), [0, agentUser.gid], `${f} belongs to root and the agent's group`);
  }
  t.equal(modeOf("var/lib/oddwire-agent"), "0700", "the state directory is the agent's alone");
  t.same(ownerOf("var/lib/oddwire-agent"), [agentUser.uid, agentUser.gid]);
  const debconfFiles = readdirSync(at("var/cache/debconf")).map((f) => readFileSync(at(`var/cache/debconf/${f}`), "latin1"));
  t.notOk(
    debconfFiles.some((text) => text.includes(SECRET)),
    "the secret is not left in debconf's database",
  );
  const unit = readFileSync(at("lib/systemd/system/oddwire-agent.service"), "utf8");
  t.match(
    unit,
    /^ExecStart=\/usr\/lib\/oddwire-agent\/bin\/node --lite-mode --max-semi-space-size=1 --no-expose-wasm /m,
    "the service runs the bundled runtime with the service flags",
  );
  t.match(unit, /^CapabilityBoundingSet=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_BPF CAP_PERFMON CAP_NET_RAW$/m);
  t.match(unit, /^SystemCallFilter=bpf$/m, "bpf() allowed back after ~@privileged, for the sensor");
  t.notMatch(unit, /^MemoryDenyWriteExecute=/m, "no MemoryDenyWriteExecute: it crashes V8");
  const verify = chroot("systemd-analyze verify --man=no /lib/systemd/system/oddwire-agent.service /lib/systemd/system/oddwire-collector.service");
  t.equal(verify.status, 0, `systemd-analyze verify finds nothing wrong with either unit: ${verify.stderr}`);
  t.equal(verify.stderr, "", "not even a warning");

  // --- A bad value is refused with a clear line, and the good configuration stays.
  const before = readFileSync(at("etc/oddwire-agent/agent.json"));
  const bad = chroot("dpkg-reconfigure oddwire-agent", { ODDWIRE_COLLECTOR_URL: "ftp://collector.example", ODDWIRE_ENROLL_SECRET: SECRET });
  t.not(bad.status, 0, "reconfiguring with an ftp:// URL fails");
  t.match(bad.stderr, /must be a ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL/, "and says why");
  t.same(readFileSync(at("etc/oddwire-agent/agent.json")), before, "the configuration in place is untouched");
  const secretBefore = readFileSync(at("etc/oddwire-agent/enroll-secret"));
  const moved = chroot("dpkg-reconfigure oddwire-agent", { ODDWIRE_COLLECTOR_URL: "http://127.0.0.1:8443" });
  t.equal(moved.status, 0, `reconfiguring the URL alone, the secret left blank, works: ${moved.stderr}`);
  t.equal(JSON.parse(readFileSync(at("etc/oddwire-agent/agent.json"), "utf8")).collector, "http://127.0.0.1:8443", "the new URL is written");
  t.same(readFileSync(at("etc/oddwire-agent/enroll-secret")), secretBefore, "and the secret in place is kept");
  t.equal(modeOf("etc/oddwire-agent/enroll-secret"), "0640");

  // --- The installed agent's snapshot, with the bundled runtime, in a container of its own.
  const nspawnBase = ["-D", root, "--register=no", "--keep-unit", "--private-network", "-q"];
  // A machine that cannot run containers at all (no mount or PID namespaces
  // for the test) still gets the checks above; the rest needs systemd-nspawn.
  const probe = sh("systemd-nspawn", [...nspawnBase, "true"]);
  if (probe.status !== 0) {
    t.skip(`the boot, upgrade, remove and purge checks need containers, and systemd-nspawn cannot start one here: ${probe.stderr.trim()}`, async () => {});
    return;
  }
  const snap = sh("systemd-nspawn", [...nspawnBase, "--setenv=HOME=/root", "oddwire-agent", "snapshot", "--json"]);
  t.equal(snap.status, 0, `oddwire-agent snapshot runs: ${snap.stderr}`);
  const snapshot = JSON.parse(snap.stdout) as { agentVersion: string; processes: { exe: string; cmdline: string }[] };
  t.equal(snapshot.agentVersion, "0.1.0", "the installed version takes the snapshot");
  t.ok(
    snapshot.processes.some((p) => p.exe === "/usr/lib/oddwire-agent/bin/node" && p.cmdline.includes("snapshot --json")),
    "it sees itself, run by the bundled runtime",
  );

  t.same(readdirSync(at("var/lib/oddwire-agent")), [], "run by hand as root, the command leaves the service's state directory alone");
  t.ok(existsSync(at("root/.local/state/oddwire-agent/host-id")), "and keeps its own under root's home");

  // The administrator asks for a snapshot every 2 s; configure keeps such settings.
  writeFileSync(
    at("etc/oddwire-agent/agent.json"),
    JSON.stringify({ ...(JSON.parse(readFileSync(at("etc/oddwire-agent/agent.json"), "utf8")) as object), schedule: "*/2 * * * * *" }, null, 2),
  );

  // --- Boot the root under systemd: both services start by themselves.
  // nspawn's default bounding set lacks CAP_BPF and CAP_PERFMON, which a host's init has; without them systemd cannot
  // give the agent its ambient set (it silently drops what the bounding set lacks).
  container = spawn("systemd-nspawn", [...nspawnBase, "--capability=CAP_BPF,CAP_PERFMON", "-b", "--console=pipe"], { env: CLEAN_ENV, stdio: ["ignore", "ignore", "ignore"] });
  const leader = await waitFor(
    "the container's init",
    () => {
      const children = readFileSync(`/proc/${container!.pid}/task/${container!.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
      return children.find((pid) => readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "systemd");
    },
    60_000,
    500,
  );
  const inside = (cmd: string, env: Record<string, string> = {}): SpawnSyncReturns<string> => sh("nsenter", ["-t", leader, "-a", ...envArgs(env), "sh", "-c", cmd]);
  const agents = (): { hostId: string; agentVersion: string; lastSeq: number; droppedBatches: number }[] => {
    const r = inside("runuser -u oddwire-collector -- oddwire-collector agents --db /var/lib/oddwire-collector/oddwire.db --format json");
    return r.status === 0 ? (JSON.parse(r.stdout) as { hosts: ReturnType<typeof agents> }).hosts : [];
  };
  await waitFor("both services active", () => inside("systemctl is-active oddwire-agent oddwire-collector").status === 0, 90_000, 500);
  const first = await waitFor("the agent's batches at the collector", () => agents().find((h) => h.lastSeq >= 2), 90_000, 500);
  const hostId = readFileSync(at("var/lib/oddwire-agent/host-id"), "utf8").trim();
  t.equal(first.hostId, hostId, "the booted agent enrolled and streams to the collector");

  const mainPid = ok(inside("systemctl show -p MainPID --value oddwire-agent"), "MainPID").trim();
  const status = ok(inside(`cat /proc/${mainPid}/status`), "the agent's /proc status");
  t.match(status, new RegExp(`^Uid:\\t${agentUser.uid}\\t${agentUser.uid}\\t`, "m"), "the service runs as oddwire-agent");
  // Bits 2 (CAP_DAC_READ_SEARCH), 13 (CAP_NET_RAW), 19 (CAP_SYS_PTRACE), 38 (CAP_PERFMON), 39 (CAP_BPF).
  t.match(status, /^CapEff:\t000000c000082004$/m, "with exactly CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_BPF, CAP_PERFMON and CAP_NET_RAW");
  t.match(status, /^NoNewPrivs:\t1$/m);
  for (const name of ["oddwire-agent", "oddwire-collector"]) {
    const security = ok(inside(`systemd-analyze security ${name}.service`), "systemd-analyze security");
    const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(security)?.[1]);
    t.ok(score > 0 && score < 3, `systemd-analyze security scores ${name} ${score} (below 3: "OK")`);
  }

  ok(inside("oddwire-agent snapshot > /dev/null"), "a snapshot by hand beside the running service");
  const foreign = readdirSync(at("var/lib/oddwire-agent"), { recursive: true })
    .map(String)
    .filter((f) => statSync(at(`var/lib/oddwire-agent/${f}`)).uid !== agentUser.uid);
  t.same(foreign, [], "every file in the service's state directory is still the service's");

  // --- Upgrade while the collector is down: configuration, identity and spool survive.
  ok(inside("systemctl stop oddwire-collector"), "stopping the collector");
  const spoolDir = at("var/lib/oddwire-agent/spool");
  const batches = (): string[] => readdirSync(spoolDir).filter((f) => f !== "spool-state.json" && !f.endsWith(".tmp"));
  const spooled = await waitFor("batches spooled while the collector is down", () => (batches().length >= 3 ? batches() : undefined), 60_000, 500);
  const key = readFileSync(at("var/lib/oddwire-agent/agent-key"));
  const config = readFileSync(at("etc/oddwire-agent/agent.json"));
  const upgrade = inside("dpkg -i /srv/debs/oddwire-agent_0.1.1_amd64.deb");
  t.equal(upgrade.status, 0, `the upgrade installs: ${upgrade.stderr}`);
  t.match(ok(inside("dpkg-query -W -f '${Version}' oddwire-agent"), "dpkg-query"), /^0\.1\.1$/);
  t.same(readFileSync(at("etc/oddwire-agent/agent.json")), config, "the configuration, with the administrator's schedule, is kept");
  t.same(readFileSync(at("var/lib/oddwire-agent/agent-key")), key, "the agent key is kept");
  t.equal(readFileSync(at("var/lib/oddwire-agent/host-id"), "utf8").trim(), hostId, "the host id is kept");
  t.ok(
    spooled.every((f) => existsSync(join(spoolDir, f))),
    `the ${spooled.length} unsent batches are still spooled`,
  );
  await waitFor(
    "the upgraded agent running",
    () => {
      const pid = inside("systemctl show -p MainPID --value oddwire-agent").stdout.trim();
      return pid !== "0" && pid !== mainPid && inside("systemctl is-active oddwire-agent").status === 0;
    },
    60_000,
    500,
  );
  ok(inside("systemctl start oddwire-collector"), "starting the collector");
  const after = await waitFor("the spool delivered by the upgraded agent", () => agents().find((h) => h.agentVersion === "0.1.1" && batches().length === 0), 90_000, 500);
  t.equal(after.hostId, hostId, "the same host, now on 0.1.1");
  t.equal(after.droppedBatches, 0, "nothing was dropped");
  t.ok(after.lastSeq >= first.lastSeq + spooled.length, `every spooled batch arrived (seq ${first.lastSeq} -> ${after.lastSeq})`);

  // --- Reinstalling the collector (as an upgrade does) leaves its configuration alone.
  const collectorJson = at("etc/oddwire-collector/collector.json");
  writeFileSync(collectorJson, JSON.stringify({ ...(JSON.parse(readFileSync(collectorJson, "utf8")) as object), logLevel: "warn" }, null, 2));
  const secretFile = readFileSync(at("etc/oddwire-collector/enroll-secret"));
  const reinstall = inside("dpkg -i /srv/debs/oddwire-collector_0.1.0_amd64.deb");
  t.equal(reinstall.status, 0, `the collector reinstalls: ${reinstall.stderr}`);
  t.equal((JSON.parse(readFileSync(collectorJson, "utf8")) as { logLevel: string }).logLevel, "warn", "the administrator's setting is kept");
  t.same(readFileSync(at("etc/oddwire-collector/enroll-secret")), secretFile, "and so is the secret");
  await waitFor("the collector back", () => inside("systemctl is-active oddwire-collector").status === 0, 60_000, 500);

  // --- Remove: the service stops and the program goes; configuration and state stay.
  const remove = inside("dpkg -r oddwire-agent");
  t.equal(remove.status, 0, `remove: ${remove.stderr}`);
  t.not(inside("systemctl is-active oddwire-agent").status, 0, "the agent service is stopped");
  t.notOk(existsSync(at("usr/lib/oddwire-agent")), "the program is gone");
  t.notOk(existsSync(at("usr/bin/oddwire-agent")));
  t.ok(existsSync(at("etc/oddwire-agent/agent.json")), "the configuration stays until purge");
  t.ok(existsSync(at("var/lib/oddwire-agent/host-id")), "so does the identity");

  // --- Purge: configuration, identity, spool and debconf answers go; the account stays.
  const purge = inside("dpkg -P oddwire-agent");
  t.equal(purge.status, 0, `purge: ${purge.stderr}`);
  t.notOk(existsSync(at("etc/oddwire-agent")), "purge removes the configuration");
  t.notOk(existsSync(at("var/lib/oddwire-agent")), "and the state");
  t.notOk(existsSync(at("etc/systemd/system/multi-user.target.wants/oddwire-agent.service")), "and the enablement");
  t.equal(inside("debconf-show oddwire-agent").stdout.trim(), "", "and the debconf answers");
  t.equal(inside("getent passwd oddwire-agent").status, 0, "the system account is kept, as Debian does");

  const collectorPurge = inside("dpkg -P oddwire-collector");
  t.equal(collectorPurge.status, 0, `collector purge: ${collectorPurge.stderr}`);
  t.notOk(existsSync(at("var/lib/oddwire-collector")), "purging the collector removes its database");
  t.notOk(existsSync(at("etc/oddwire-collector")), "and its configuration");
});
