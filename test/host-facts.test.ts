// Host facts (distribution, release, kernel, virtualization, hardware) read
// by the agent through systeminformation, carried in full batches, and shown
// by the collector's `agents` and the report.

import t from "tap";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { factsFrom, hostFacts } from "oddwire-agent/host-facts.js";
import { COLLECTOR_BIN, startAgent, startCollector, waitFor } from "./lib/fleet.js";

t.test("systeminformation's answers become the wire's facts, bounded", async (t) => {
  t.same(
    factsFrom(
      { distro: "Debian GNU/Linux ", release: "12", kernel: "6.1.0-18-amd64" },
      { manufacturer: "QEMU", model: "Standard PC (Q35 + ICH9, 2009)", virtual: true, virtualHost: "KVM" },
    ),
    {
      distro: "Debian GNU/Linux",
      release: "12",
      kernel: "6.1.0-18-amd64",
      virtualization: "KVM",
      hardwareVendor: "QEMU",
      hardwareModel: "Standard PC (Q35 + ICH9, 2009)",
    },
  );
  t.equal(factsFrom({}, { virtual: true }).virtualization, "yes", "virtual without a named hypervisor");
  t.equal(factsFrom({}, { virtual: false, virtualHost: "KVM" }).virtualization, "", "bare metal");
  t.ok(Buffer.byteLength(factsFrom({ distro: "x".repeat(10_000) }, {}).distro) <= 256, "a long answer is cut to the wire's bound");
});

t.test("this host's facts match /etc/os-release and are read once", async (t) => {
  const a = await hostFacts();
  const b = await hostFacts();
  t.equal(a, b, "the same answer object: read once per process");
  t.equal(a.warning, null);
  const osRelease = readFileSync("/etc/os-release", "utf8");
  const name = /^NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1];
  t.ok(name && a.facts.distro.startsWith(name.split(" ")[0]!), `distro ${a.facts.distro} is this system's (${name})`);
  t.equal(a.facts.kernel, readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(), "kernel");
});

t.test("a real agent's facts reach `agents` and the report", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db);
  startAgent(t, dir, "facts-host", c.url, ["--schedule", "* * * * * *"]);
  const agents = await waitFor("the agent's facts in `agents`", () => {
    const r = spawnSync(process.execPath, [COLLECTOR_BIN, "agents", "--db", db, "--format", "json"], { encoding: "utf8" });
    const host = JSON.parse(r.stdout).hosts.find((h: any) => h.hostId === "facts-host");
    return host?.facts?.kernel ? host : null;
  });
  t.equal(agents.facts.kernel, readFileSync("/proc/sys/kernel/osrelease", "utf8").trim());
  const table = spawnSync(process.execPath, [COLLECTOR_BIN, "agents", "--db", db], { encoding: "utf8" }).stdout;
  t.match(table, new RegExp(`facts-host\\s+\\S+\\s+linux\\s+${agents.facts.distro.split(" ")[0]}`), "the table's PLATFORM column");
});
