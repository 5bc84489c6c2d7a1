// The pure halves of protocol identification, on literal inputs: ndpiReader's
// flow lines, packet 5-tuples, the caps of the flow window, the tags' words,
// the join by destination and time, and the collector's list of destination
// names reached (a real SQLite file).

import t from "tap";
import { join } from "node:path";
import { knowledgeBase, portTable, type ConnectionRecord, type ProcessRecord } from "@oddwire/shared";
import { parseNdpiFlows } from "oddwire-agent/collect/linux/dpi/parse-ndpi-flows.js";
import { FlowWindow } from "oddwire-agent/collect/linux/dpi/flow-window.js";
import { ipv6Text, packetTuple } from "oddwire-agent/collect/linux/dpi/parse-pcap.js";
import { wireTags } from "oddwire-agent/classify/wire-tags.js";
import { joinFlows } from "oddwire-agent/classify/join-flows.js";
import { openStore } from "oddwire-collector/store/store.js";
import { listDestinationNames, storeFlows } from "oddwire-collector/store/flows.js";

t.test("ndpiReader flow lines", async (t) => {
  const out = parseNdpiFlows(
    [
      "JA3 Host Stats: ",
      "\t1\tTCP 127.0.0.1:47120 <-> 127.16.1.1:8080 [proto: 92/SSH][Encrypted][Confidence: DPI][cat: RemoteAccess/12][6 pkts/352 bytes <-> 4 pkts/248 bytes][Hostname/SNI: SSH-2.0-OpenSSH_9.2p1 Debian-2][Risk: ** Known Protocol on Non Standard Port **][Risk Score: 50][Server: SSH-2.0-OpenSSH_9.2p1 Debian-2]",
      "\t2\tUDP [::1]:5353 <-> [fe80::1]:53 [proto: 5.126/DNS.Google][ClearText][Confidence: DPI][cat: Network/14][Hostname/SNI: x.example.test][Risk: ** Suspicious DGA Domain name **** Suspicious Entropy **]",
      "\t3\tTCP 10.0.0.1:1 <-> 10.0.0.2:443 [proto: 0/Unknown][Confidence: Unknown]",
    ].join("\n"),
  );
  t.equal(out.length, 3);
  t.match(out[0], { transport: "tcp", a: "127.0.0.1", aPort: 47120, bPort: 8080, protocol: "SSH", confidence: "DPI", category: "RemoteAccess" });
  t.same(out[0]!.risks, ["Known Protocol on Non Standard Port"]);
  t.same(out[0]!.names, ["SSH-2.0-OpenSSH_9.2p1 Debian-2"], "the banner once");
  t.match(out[1], { transport: "udp", a: "::1", b: "fe80::1", protocol: "DNS.Google" });
  t.same(out[1]!.risks, ["Suspicious DGA Domain name", "Suspicious Entropy"]);
  t.equal(out[2]!.protocol, "", "Unknown is no protocol");
});

t.test("packet tuples and the window's caps", async (t) => {
  const ip4 = Buffer.from("450000340000400040060000" + "7f000001" + "7f100101" + "d0c601bb" + "00000000000000005002ffff00000000", "hex");
  t.match(packetTuple(ip4), { transport: "tcp", family: 4, src: "127.0.0.1", srcPort: 53446, dst: "127.16.1.1", dstPort: 443, syn: true });
  t.equal(ipv6Text(Buffer.from("20010db8000000000000000000000001", "hex")), "2001:db8::1");
  const w = new FlowWindow({ packetsPerFlow: 2, newFlowsPerSecond: 2, flowsPerWindow: 10 });
  const udp = (sport: number) => {
    const b = Buffer.from("4500001c00000000401100007f0000017f000002" + "0000003500080000", "hex");
    b.writeUInt16BE(sport, 20);
    return { tsMs: 1000, ip: b, wireLength: b.length };
  };
  for (const port of [1000, 1001, 1002, 1003]) for (let i = 0; i < 3; i++) w.add(udp(port));
  const taken = w.take(1500);
  t.equal(taken.flows.length, 2, "two new flows in that second");
  t.equal(taken.packets.length, 4, "two packets of each");
  t.equal(taken.flows[0]!.packets, 3, "every packet is counted");
  t.same(w.counts, { unclassifiedRate: 2, unclassifiedWindow: 0 }, "the others counted, once each");

  // A flow caught at a window's edge waits for its packets (or for quiet) before it is classified.
  const edge = new FlowWindow({ settleMs: 1000 });
  const syn = Buffer.from(ip4);
  edge.add({ tsMs: 5_000, ip: syn, wireLength: syn.length });
  t.equal(edge.take(5_200).flows.length, 0, "a lone SYN is not classified yet");
  edge.add({ tsMs: 5_300, ip: syn, wireLength: syn.length });
  const later = edge.take(6_400);
  t.equal(later.flows.length, 1, "quiet for a second: classified");
  t.equal(later.packets.length, 2, "with every packet it kept, across windows");
});

t.test("tags say port and wire", async (t) => {
  const base = { transport: "tcp" as const, confidence: "DPI", risks: [], names: [], packets: 8 };
  t.same(wireTags({ ...base, serverPort: 443, portProtocol: "https", wireProtocol: "TLS.Google" }), [], "TLS on 443 conforms");
  t.match(
    wireTags({ ...base, serverPort: 443, portProtocol: "https", wireProtocol: "HTTP", names: ["a.example.test"] })[0]?.reason,
    /TCP port 443 implies https, but the traffic is plain HTTP \(name "a\.example\.test"\)/,
  );
  t.match(wireTags({ ...base, transport: "udp", serverPort: 53, portProtocol: "dns", wireProtocol: "WireGuard" })[0]?.reason, /the flow is not DNS: it is WireGuard/);
  t.equal(wireTags({ ...base, serverPort: 22, portProtocol: "ssh", wireProtocol: "", confidence: "" })[0]?.code, "wire-unidentified");
  t.same(wireTags({ ...base, serverPort: 22, portProtocol: "ssh", wireProtocol: "", confidence: "", packets: 2 }), [], "a failed handshake is not judged");
  t.same(wireTags({ ...base, serverPort: 443, portProtocol: "https", wireProtocol: "TLS", confidence: "Match by port" }), [], "a guess from the port is not judged");
  const tunnel = wireTags({ ...base, transport: "udp", serverPort: 53, portProtocol: "dns", wireProtocol: "DNS", names: [`x.${"q".repeat(45)}.t.example.test`] });
  t.equal(tunnel.length, 1);
  t.match(tunnel[0], { code: "wire-risk", reason: /a DNS question carries a 45-character label/ });
  t.same(wireTags({ ...base, transport: "udp", serverPort: 53, portProtocol: "dns", wireProtocol: "DNS", names: ["www.example.test"] }), [], "an ordinary question");
});

t.test("a flow joins a connection record by destination and time, and its names are listed on the collector", async (t) => {
  const proc: ProcessRecord = {
    pid: 4242,
    ppid: 1,
    name: "curl",
    exe: "/usr/bin/curl",
    cmdline: "curl http://a.example.test:443/x",
    user: "u",
    uid: 1000,
    startedAtMs: 1,
    sha256: "",
    hashError: "",
    exeDeleted: false,
    tags: [],
  };
  const record: ConnectionRecord = {
    transport: "tcp",
    direction: "outbound",
    family: 4,
    localAddress: "10.0.0.1",
    localPort: 0,
    remoteAddress: "203.0.113.9",
    remotePort: 443,
    protocol: "https",
    firstSeenMs: 10_000,
    lastSeenMs: 10_000,
    count: 1,
    failed: 0,
    process: proc,
    ancestry: [],
    tags: [],
  };
  const flow = {
    transport: "tcp" as const,
    family: 4 as const,
    client: "10.0.0.1",
    clientPort: 40000,
    server: "203.0.113.9",
    serverPort: 443,
    firstSeenMs: 10_050,
    lastSeenMs: 10_400,
    packets: 9,
    bytes: 900,
    wireProtocol: "HTTP",
    confidence: "DPI",
    risks: ["Known Protocol on Non Standard Port"],
    names: ["a.example.test"],
  };
  const later = { ...flow, clientPort: 40001, firstSeenMs: 60_000 };
  const out = joinFlows({ flows: [flow, later], sockets: [], processes: [], connections: [record], ports: portTable(), selfPid: 1 });
  t.equal(out.flows[0]!.process.cmdline, proc.cmdline, "the record's process");
  t.equal(out.flows[0]!.direction, "outbound");
  t.equal(out.flows[1]!.process.pid, 0, "a minute later is another connection");
  t.equal(out.connections[0]!.communityId, out.flows[0]!.communityId, "the record carries the flow's Community ID");
  t.same(out.connections[0]!.destinationNames, ["a.example.test"]);
  t.ok(out.connections[0]!.tags.some((x) => x.code === "wire-mismatch"));

  const db = await openStore(join(t.testdir(), "fleet.db"), { sync: "normal" });
  t.teardown(() => db.close());
  await db.sql.tx((sql) => storeFlows(sql, "host-a", "linux", 1, 20_000, out.flows));
  const names = await listDestinationNames(db.sql, { name: ".example.test" });
  t.equal(names.length, 2, "one row per process that reached it (the second flow's is unknown)");
  t.match(
    names.find((n) => n.pid === 4242),
    { hostId: "host-a", name: "a.example.test", kind: "http-host", pid: 4242, exe: "/usr/bin/curl", cmdline: proc.cmdline },
  );
  t.same(await listDestinationNames(db.sql, { name: "b.example.test" }), []);
});

t.test("names the traffic carried are judged by the destination rules, for the process behind the flow", async (t) => {
  const proc = (exe: string, cmdline: string): ProcessRecord => ({
    pid: 5151,
    ppid: 1,
    name: exe.split("/").pop()!,
    exe,
    cmdline,
    user: "u",
    uid: 1000,
    startedAtMs: 1,
    sha256: "",
    hashError: "",
    exeDeleted: false,
    tags: [],
  });
  const record = (p: ProcessRecord): ConnectionRecord => ({
    transport: "tcp",
    direction: "outbound",
    family: 4,
    localAddress: "",
    localPort: 0,
    remoteAddress: "198.51.100.7",
    remotePort: 443,
    protocol: "https",
    firstSeenMs: 10_000,
    lastSeenMs: 10_000,
    count: 1,
    failed: 0,
    process: p,
    ancestry: [],
    tags: [],
  });
  const flow = {
    transport: "tcp" as const,
    family: 4 as const,
    client: "10.0.0.1",
    clientPort: 40100,
    server: "198.51.100.7",
    serverPort: 443,
    firstSeenMs: 10_050,
    lastSeenMs: 10_400,
    packets: 9,
    bytes: 900,
    wireProtocol: "TLS",
    confidence: "DPI",
    risks: [],
    names: ["pastebin.com"],
  };
  const kb = knowledgeBase();
  // The command line names no host: only the TLS SNI tells where it went.
  const py = joinFlows({
    flows: [flow],
    sockets: [],
    processes: [],
    connections: [record(proc("/usr/bin/python3", "python3 /opt/job/sync.py"))],
    ports: portTable(),
    selfPid: 1,
    kb,
  });
  const tag = py.connections[0]!.tags.find((x) => x.code === "suspicious-destination");
  t.ok(tag, "python3 reaching a paste site by SNI is tagged");
  t.match(tag?.reason, /python3 reaches pastebin\.com, a paste site/);
  t.ok(
    py.flows[0]!.tags.some((x) => x.code === "suspicious-destination"),
    "and so is the flow",
  );
  t.notOk(
    py.connections[0]!.tags.some((x) => x.code === "wire-mismatch"),
    "TLS on 443 conforms",
  );

  const browser = joinFlows({ flows: [flow], sockets: [], processes: [], connections: [record(proc("/usr/lib/firefox/firefox", "firefox"))], ports: portTable(), selfPid: 1, kb });
  t.notOk(
    browser.connections[0]!.tags.some((x) => x.code === "suspicious-destination"),
    "a browser on a paste site is ordinary",
  );

  const withoutKb = joinFlows({ flows: [flow], sockets: [], processes: [], connections: [record(proc("/usr/bin/python3", "python3 x.py"))], ports: portTable(), selfPid: 1 });
  t.notOk(
    withoutKb.connections[0]!.tags.some((x) => x.code === "suspicious-destination"),
    "names are judged only with knowledge given",
  );
});

t.test("--dpi settings are checked up front, and what is missing is said in words", async (t) => {
  const { resolveRunConfig } = await import("oddwire-agent/run-config.js");
  const { dpiMissing } = await import("oddwire-agent/collect/linux/dpi/dpi-capture.js");
  const base = { collector: "ws://127.0.0.1:1", "enroll-secret": "x".repeat(32), "state-dir": t.testdir() };
  const c = resolveRunConfig({ ...base, dpi: "on", "dpi-interfaces": "lo,eth0", "dpi-names": "keep" }, {});
  t.match(c, { dpi: "on", dpiInterfaces: ["lo", "eth0"], dpiSendNames: false });
  t.match(resolveRunConfig(base, {}), { dpi: "auto", dpiInterfaces: [], dpiSendNames: true }, "defaults: auto, every interface, names sent");
  t.throws(() => resolveRunConfig({ ...base, dpi: "sometimes" }, {}), { code: "ODW_ERR_CONFIG", message: /must be auto, on or off/ });
  t.throws(() => resolveRunConfig({ ...base, "dpi-interfaces": "lo;rm -rf" }, {}), { code: "ODW_ERR_CONFIG" });
  t.same(dpiMissing({ tcpdump: null, ndpiReader: "/usr/bin/ndpiReader" }, 0n), [
    "tcpdump is not installed (Debian: apt-get install tcpdump)",
    "this process lacks CAP_NET_RAW, which capturing packets needs (run the agent as root, or grant it)",
  ]);
  t.same(dpiMissing({ tcpdump: "/usr/bin/tcpdump", ndpiReader: "/usr/bin/ndpiReader" }, 1n << 13n), []);
});

t.test("the page shows port says / wire says, risks and names as text; snapshot --json gives every socket its Community ID", async (t) => {
  const { renderReportHtml } = await import("oddwire-collector/report/report-html.js");
  const { layoutReport, reportFinding } = await import("./lib/report-fixture.js");
  const report = layoutReport();
  report.findings = [
    reportFinding({ protocol: "https", wireProtocol: "HTTP", risks: ["Known Protocol on Non Standard Port"], destinationNames: ['<img src=x onerror="alert(1)">.example.test'] }),
  ];
  const html = renderReportHtml(report, { nonce: "bm9uY2Vub25jZQ" });
  t.match(html, /port says <b>https<\/b> \/ wire says <b>HTTP<\/b>/);
  t.match(html, /risks: Known Protocol on Non Standard Port/);
  t.match(html, /&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;\.example\.test/, "a hostile name is text");
  t.notMatch(html, /<img src=x/);

  const { spawnSync } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const bin = fileURLToPath(new URL("../../agent/bin/oddwire-agent.js", import.meta.url));
  const r = spawnSync(process.execPath, [bin, "snapshot", "--json", "--no-hash", "--state-dir", t.testdir()], { encoding: "utf8", maxBuffer: 256 << 20 });
  t.equal(r.status, 0, r.stderr);
  const sockets = JSON.parse(r.stdout).sockets as Array<{ transport: string; communityId: string }>;
  t.ok(sockets.length > 0);
  const wrong = sockets.filter((s) =>
    s.transport === "packet" ? s.communityId !== "" : (s.transport === "tcp" || s.transport === "udp") && !/^1:[A-Za-z0-9+/]{27}=$/.test(s.communityId),
  );
  t.same(wrong, [], "tcp and udp sockets have a Community ID, packet sockets an empty one");
});

t.test("names from the traffic are cut to their bounds", async (t) => {
  const { boundNames, boundWire } = await import("oddwire-agent/bound-flows.js");
  const names = boundNames(Array.from({ length: 40 }, (_, i) => `${"a".repeat(1000)}${i}`));
  t.equal(names.length, 16, "at most 16 names");
  t.ok(
    names.every((n) => Buffer.byteLength(n) <= 256 && n.endsWith("…[truncated]")),
    "each at most 256 bytes, marked",
  );
  const w = boundWire({ portProtocol: "https", wireProtocol: "HTTP", confidence: "DPI", risks: Array.from({ length: 50 }, () => "r".repeat(500)), bytes: 1, packets: 1 });
  t.equal(w.risks.length, 32);
  t.ok(w.risks.every((r) => Buffer.byteLength(r) <= 128));
});
