// Protocol identification on this machine, for real: an agent with --dpi on
// (tcpdump + nDPI's ndpiReader), and real flows from real processes over two
// loopback addresses this test picks. Three conform and must carry no
// mismatch: a TLS handshake to port 443 (openssl s_server/s_client), HTTP to
// port 80, a DNS question to port 53. Three do not and must be tagged with the
// process and its command line: plain HTTP to port 443, an SSH banner on port
// 80, DNS queries with long random labels (a tunnel's shape).

import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { oddwire } from "@oddwire/proto";
import { kill, startUntilLine, track } from "./lib/child-processes.js";
import { waitFor } from "./lib/fleet.js";
import { keepBatches, startStubCollector } from "./lib/stub-collector.js";
import { startDpiAgent } from "./lib/dpi.js";
import { skipWithoutTools } from "./lib/system-tools.js";

const PEERS = fileURLToPath(new URL("../fixtures/dpi-peers.cjs", import.meta.url));

const skip =
  process.platform !== "linux"
    ? "Linux only"
    : process.getuid?.() !== 0
      ? "needs root to capture packets"
      : skipWithoutTools(["tcpdump", "ndpiReader", "openssl"], "tcpdump libndpi-bin openssl");

type Flow = oddwire.v1.IFlow;

t.test("conforming flows carry no mismatch; plain HTTP on 443, SSH on 80 and a DNS tunnel are tagged with their process", { skip }, async (t) => {
  const dir = t.testdir();
  // Two loopback addresses of this run's own: the conforming servers on one, the odd ones on the other.
  const octet = () => 2 + (randomBytes(1)[0]! % 250);
  const net = `127.${100 + (process.pid % 100)}.${octet()}`;
  const good = `${net}.${octet()}`;
  let odd = `${net}.${octet()}`;
  while (odd === good) odd = `${net}.${octet()}`;
  const marker = `dpi-${process.pid}-${randomBytes(3).toString("hex")}`;

  const batches: oddwire.v1.Batch[] = [];
  const server = await startStubCollector(t, { stream: keepBatches(batches) });
  const agent = await startDpiAgent(t, dir, "dpi-live", server.url);

  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  const made = spawnSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=www.example.test"],
    {
      encoding: "utf8",
    },
  );
  t.equal(made.status, 0, `a certificate for the TLS server: ${made.stderr}`);

  const peer = (args: string[]) => startUntilLine(t, process.execPath, [PEERS, ...args]);
  // Servers.
  // openssl ends a connection when its stdin ends: each gets a pipe from this process that stays open. Started
  // directly (no shell pipeline between), so stopping it at teardown stops openssl itself, not a shell that leaves it behind.
  const openssl = (args: string[]) => {
    const child = track(spawn("openssl", args, { stdio: ["pipe", "ignore", "ignore"] }));
    t.teardown(() => kill(child));
  };
  openssl(["s_server", "-accept", `${good}:443`, "-key", key, "-cert", cert, "-alpn", "http/1.1", "-quiet"]);
  await waitFor("openssl s_server to listen", () => spawnSync("ss", ["-Htln", `src ${good}:443`], { encoding: "utf8" }).stdout.includes(`${good}:443`), 15_000);
  await peer(["http-server", good, "80"]);
  await peer(["dns-server", good, "53"]);
  await peer(["http-server", odd, "443"]);
  await peer(["ssh-server", odd, "80"]);

  // Clients: each holds its socket open until the test ends, its marker in its command line.
  openssl(["s_client", "-connect", `${good}:443`, "-servername", "www.example.test", "-alpn", "http/1.1", "-quiet"]);
  await peer(["http-client", good, "80", "www.example.test", `${marker}-http`]);
  await peer(["dns-client", good, "53", "www.example.test", `${marker}-dns`]);
  await peer(["http-client", odd, "443", "plain.example.test", `${marker}-http-on-443`]);
  await peer(["ssh-client", odd, "80", `${marker}-ssh-on-80`]);
  const label = () => randomBytes(30).toString("hex").slice(0, 52);
  const tunnel = [1, 2, 3, 4].map(() => `${label()}.${label()}.t.tunnel.example.test`).join(",");
  await peer(["dns-client", good, "53", tunnel, `${marker}-tunnel`]);

  const flows = (): Flow[] => batches.flatMap((b) => (b.snapshot?.flows ?? []) as Flow[]);
  const flowOf = (server: string, port: number, cmd: string): Flow | undefined =>
    flows().find((f) => f.serverAddress === server && f.serverPort === port && (f.process?.cmdline ?? "").includes(cmd));
  const tagsOf = (f: Flow | undefined) => (f?.tags ?? []).map((x) => x.code);
  const expectations = [
    { what: "HTTP to port 80", server: good, port: 80, cmd: `${marker}-http` },
    { what: "DNS to port 53", server: good, port: 53, cmd: `${marker}-dns` },
    { what: "plain HTTP to port 443", server: odd, port: 443, cmd: `${marker}-http-on-443` },
    { what: "an SSH banner to port 80", server: odd, port: 80, cmd: `${marker}-ssh-on-80` },
    { what: "DNS tunnel queries", server: good, port: 53, cmd: `${marker}-tunnel` },
  ];
  await waitFor(
    "every flow classified and joined to its process",
    () =>
      expectations.every((e) => flowOf(e.server, e.port, e.cmd)) &&
      flows().some((f) => f.serverAddress === good && f.serverPort === 443 && (f.process?.cmdline ?? "").includes("s_client")),
    120_000,
    250,
  ).catch((err: Error) => {
    const seen = flows()
      .filter((f) => f.serverAddress === good || f.serverAddress === odd)
      .map((f) => `${f.clientAddress}:${f.clientPort} -> ${f.serverAddress}:${f.serverPort} ${f.wire?.wireProtocol} pid ${f.process?.pid} ${f.process?.cmdline}`);
    throw new Error(`${err.message}\nflows seen:\n${seen.join("\n")}\nagent log:\n${agent.log.slice(-15).join("\n")}`);
  });

  const tls = flows().find((f) => f.serverAddress === good && f.serverPort === 443 && (f.process?.cmdline ?? "").includes("s_client"))!;
  t.equal(tls.wire?.wireProtocol, "TLS", "the wire says TLS on 443");
  t.equal(tls.wire?.portProtocol, "https");
  t.same(tls.destinationNames, ["www.example.test"], "the SNI is its destination name");
  t.notOk(tagsOf(tls).includes("wire-mismatch"), "a real TLS handshake on 443 is no mismatch");
  t.match(tls.process?.cmdline ?? "", /openssl s_client/, "joined to openssl s_client");
  t.match(tls.communityId ?? "", /^1:[A-Za-z0-9+/]{27}=$/, "it has a Community ID");

  const http = flowOf(good, 80, `${marker}-http`)!;
  t.equal(http.wire?.wireProtocol, "HTTP");
  t.same(http.destinationNames, ["www.example.test"], "the Host header is its destination name");
  t.same(tagsOf(http), [], "real HTTP on 80: no tag");

  const dns = flowOf(good, 53, `${marker}-dns`)!;
  t.equal(dns.wire?.wireProtocol, "DNS");
  t.equal(dns.wire?.portProtocol, "dns");
  t.same(tagsOf(dns), [], "a DNS question on 53: no tag");

  const plain = flowOf(odd, 443, `${marker}-http-on-443`)!;
  t.equal(plain.wire?.portProtocol, "https", "port says https");
  t.equal(plain.wire?.wireProtocol, "HTTP", "wire says HTTP");
  t.ok(tagsOf(plain).includes("wire-mismatch"), `tagged as a mismatch: ${tagsOf(plain)}`);
  t.match(plain.tags?.find((x) => x.code === "wire-mismatch")?.reason ?? "", /port 443 implies https, but the traffic is plain HTTP \(name "plain\.example\.test"\)/);
  t.equal(plain.direction, "outbound");
  t.match(plain.process?.exe ?? "", /node/, "the process's executable");

  const ssh = flowOf(odd, 80, `${marker}-ssh-on-80`)!;
  t.equal(ssh.wire?.wireProtocol, "SSH", "wire says SSH");
  t.match(ssh.tags?.find((x) => x.code === "wire-mismatch")?.reason ?? "", /port 80 implies http, but the traffic is SSH \(software "SSH-2\.0-OpenSSH/);
  t.ok((ssh.wire?.risks ?? []).includes("Known Protocol on Non Standard Port"), `nDPI's risk: ${ssh.wire?.risks}`);

  const tun = flowOf(good, 53, `${marker}-tunnel`)!;
  t.equal(tun.wire?.wireProtocol, "DNS");
  t.ok(tagsOf(tun).includes("wire-risk"), `the tunnel's queries are flagged: ${tagsOf(tun)}`);
  t.match(tun.tags?.find((x) => x.code === "wire-risk")?.reason ?? "", /-character label .*DNS tunnels/, "in words");

  // Every socket carries its Community ID; the client's socket carries the flow's, and the mismatch.
  const last = batches.filter((b) => (b.snapshot?.sockets ?? []).length > 0).at(-1)!;
  const sockets = last.snapshot!.sockets ?? [];
  t.ok(
    sockets.filter((s) => s.transport === "tcp" || s.transport === "udp").every((s) => /^1:/.test(s.communityId ?? "")),
    "every tcp and udp socket has a Community ID",
  );
  const dpi = batches.at(-1)!.snapshot!.dpi!;
  t.equal(dpi.mode, "on");
  t.same(dpi.interfaces, ["lo"]);
  t.ok(Number(dpi.flowsClassified) >= 6, `flows classified: ${dpi.flowsClassified}`);
  t.equal(Number(dpi.unclassifiedRate) + Number(dpi.unclassifiedWindow), 0, "no flow left out by the caps");

  // A capture that dies is restarted, and said so.
  const tcpdumpOf = () =>
    spawnSync("ps", ["-o", "pid=,comm=", "--ppid", String(agent.child.pid)], { encoding: "utf8" })
      .stdout.split("\n")
      .filter((l) => l.includes("tcpdump"))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
  const [first] = tcpdumpOf();
  t.ok(first, "the agent's tcpdump");
  process.kill(first!, "SIGKILL");
  await waitFor("the capture error in the log", () => agent.log.some((l) => l.includes('"event":"dpi.capture_error"') && l.includes("SIGKILL")), 30_000);
  const [second] = await waitFor("a new tcpdump", () => (tcpdumpOf().some((p) => p !== first) ? tcpdumpOf() : null), 30_000);
  t.not(second, first, "restarted");
  t.equal(agent.child.exitCode, null, "the agent runs on");
});
