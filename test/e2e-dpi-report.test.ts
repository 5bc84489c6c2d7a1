// Protocol truth end to end: a real agent with --dpi on, a real collector,
// and a copy of bash (this test's own binary) that sends a plain HTTP
// request to port 443 on a loopback address of this run. The JSON report must
// show port says https / wire says HTTP with the mismatch, find it by its
// destination name (--dest) and by --mismatch, and the CSV must carry the
// wire's columns. Loopback only.

import t from "tap";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, realpathSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startQuiet, startUntilLine } from "./lib/child-processes.js";
import { COLLECTOR_BIN, query, startCollector, waitFor } from "./lib/fleet.js";
import { ownLoopbackAddress, startDpiAgent } from "./lib/dpi.js";
import { skipWithoutTools } from "./lib/system-tools.js";

const PEERS = fileURLToPath(new URL("../fixtures/dpi-peers.cjs", import.meta.url));
const skip =
  process.platform !== "linux" ? "Linux only" : process.getuid?.() !== 0 ? "needs root to capture packets" : skipWithoutTools(["tcpdump", "ndpiReader"], "tcpdump libndpi-bin");

t.test("plain HTTP to port 443 is in the report: port says https, wire says HTTP, found by its destination name", { skip }, async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db);
  const agent = await startDpiAgent(t, dir, "dpi-report", c.url);
  const addr = ownLoopbackAddress();
  const name = `plain-${randomBytes(4).toString("hex")}.example.test`;
  await startUntilLine(t, process.execPath, [PEERS, "http-server", addr, "443"]);
  const bash = join(dir, "bin", "bash");
  mkdirSync(join(dir, "bin"));
  copyFileSync(realpathSync("/bin/bash"), bash);
  chmodSync(bash, 0o755);
  await startQuiet(t, bash, [
    "-c",
    `exec 3<>/dev/tcp/${addr}/443; printf 'GET /a HTTP/1.1\\r\\nHost: ${name}\\r\\n\\r\\n' >&3; read -t 10 line <&3; sleep 600 3>&-`,
    "dpi-report-client",
  ]);

  const report = (...args: string[]) => {
    const out = spawnSync(process.execPath, [COLLECTOR_BIN, "report", "--db", db, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
    if (out.status !== 0) throw new Error(out.stderr);
    return out.stdout;
  };
  const finding = await waitFor(
    "the finding, by its destination name",
    () => (JSON.parse(report("--format", "json", "--dest", name)).findings as any[]).find((f) => f.binary.path === bash),
    120_000,
    500,
  ).catch((err: Error) => {
    const flows = query(db, "SELECT binary, pid, direction, port_protocol, wire_protocol, names, tags FROM flows WHERE server_address = ?", addr);
    const findings = (JSON.parse(report("--format", "json", "--binary", bash)).findings as any[]).map(
      (f) => `${f.protocol} ${f.direction} ${f.port} wire=${f.wireProtocol} names=${f.destinationNames}`,
    );
    throw new Error(`${err.message}\nflows: ${JSON.stringify(flows)}\nfindings: ${findings.join(" | ")}\nagent log:\n${agent.log.slice(-10).join("\n")}`);
  });
  t.equal(finding.protocol, "https", "port says https");
  t.equal(finding.wireProtocol, "HTTP", "wire says HTTP");
  t.ok(Array.isArray(finding.risks), "risks is a list");
  t.ok(finding.destinationNames.includes(name), "the name is its evidence");
  t.ok(finding.tags.includes("wire-mismatch"), `tagged: ${finding.tags}`);
  t.ok(
    finding.reasons.some((r: string) => /port 443 implies https, but the traffic is plain HTTP/.test(r)),
    `the reason in words: ${finding.reasons.join(" | ")}`,
  );
  t.ok(
    finding.reasons.some((r: string) => r === "the wire showed HTTP from bash on 1 of the 1 host that runs it (port says https)"),
    "rarity over the binary and what the wire shows",
  );
  t.match(finding.hosts[0]?.cmdline ?? "", /dpi-report-client/, "with the process's command line");

  const visibility = JSON.parse(report("--format", "json")).visibility;
  t.match(visibility.dpi, { hostsOn: 1, hostsOff: 0, hostsUnknown: 0, off: [] }, "the fleet's protocol identification");
  const others = JSON.parse(report("--format", "json", "--dest", `other-${name}`)).findings as any[];
  t.notOk(
    others.some((f) => f.binary.path === bash),
    "another name does not find it",
  );
  const mismatches = JSON.parse(report("--format", "json", "--mismatch", "--top", "1000")).findings as any[];
  t.ok(
    mismatches.some((f) => f.binary.path === bash),
    `--mismatch lists it: ${mismatches.map((f) => f.binary.path).join(", ")}; filters ${JSON.stringify(JSON.parse(report("--format", "json", "--mismatch")).filters)}`,
  );
  const csv = report("--format", "csv", "--dest", name);
  const [header, row] = csv.trim().split("\n");
  t.match(header, /,wire_protocol,risks,destination_names/, "the CSV's wire columns");
  t.ok(row?.endsWith(`,HTTP,${finding.risks.join("; ")},${name}`), `the CSV's row ends with the wire's facts: ${row?.slice(-200)}`);
});
