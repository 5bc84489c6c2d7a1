// From aggregated connection events to the wire's Connection records, on
// literal input: exact drop counts over the rate cap, tags from the socket
// and process rules, the beacon tracker across batches and its tag, the
// wire-limit cuts, and which program feeds the events.

import t from "tap";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COUNT_LIMITS, knowledgeBase, portTable, STRING_LIMITS, TAG, TRUNCATION_MARK, type ConnectionRecord } from "@oddwire/shared";
import { ConnectionAggregator, MAX_STARTS_PER_RECORD, type ConnectionRecord as EventRecord } from "oddwire-agent/collect/linux/events/connection-aggregator.js";
import type { ConnectEvent } from "oddwire-agent/collect/linux/events/parse-bpftrace-line.js";
import { ProcessCache } from "oddwire-agent/collect/linux/events/process-cache.js";
import { BeaconTracker } from "oddwire-agent/events/beacon-tracker.js";
import { boundConnections } from "oddwire-agent/events/connection-events.js";
import { toConnectionRecords, type ConnectionContext } from "oddwire-agent/events/connection-records.js";
import { chooseEventSource } from "oddwire-agent/events/event-source.js";

const ports = portTable();
const kb = knowledgeBase();

function connect(pid: number, timeMs: number, remotePort = 9999): ConnectEvent & { timeMs: number } {
  return {
    kind: "connect",
    outcome: "established",
    monoNs: 0n,
    pid,
    tid: pid,
    uid: 0,
    comm: "x",
    family: 4,
    localAddress: "127.0.0.1",
    localPort: 40000,
    remoteAddress: "127.0.0.1",
    remotePort,
    timeMs,
  };
}

function record(over: Partial<EventRecord>): EventRecord {
  return {
    kind: "tcp-out",
    pid: 4242,
    ppid: 1,
    uid: 1000,
    comm: "python3",
    user: "",
    startedAtMs: 1_700_000_000_000,
    exe: "/usr/bin/python3",
    cmdline: "python3 -c x",
    ancestry: [{ pid: 1, exe: "/usr/lib/systemd/systemd" }],
    family: 4,
    remoteAddress: "127.0.0.1",
    remotePort: 443,
    localPort: 0,
    firstSeenMs: 1000,
    lastSeenMs: 1000,
    count: 1,
    failed: 0,
    startsMs: [1000],
    ...over,
  };
}

function context(over: Partial<ConnectionContext> = {}): ConnectionContext {
  return { os: "linux", ports, kb, users: new Map([[1000, "alice"]]), selfPid: 1, tracker: new BeaconTracker(), dirWorldWritable: () => false, ...over };
}

t.test("over the rate cap, every dropped event is counted, per second of event time", async (t) => {
  const agg = new ConnectionAggregator({ cache: new ProcessCache(), maxEventsPerSecond: 3 }, 0);
  const second = (s: number, n: number) => Array.from({ length: n }, (_, i) => connect(100 + i, s * 1000 + i));
  const results = [...second(1, 10), ...second(2, 2), ...second(3, 4)].map((e) => agg.add(e));
  t.equal(results.filter((r) => !r).length, 7 + 0 + 1);
  const b = agg.flush(5000);
  t.equal(b.accepted, 3 + 2 + 3);
  t.same(b.dropped, { rate: 8, records: 0, kernel: 0 });
  t.same(agg.flush(6000).dropped, { rate: 0, records: 0, kernel: 0 }, "the aggregator's counts are per batch; the agent keeps the totals");
});

t.test("each record keeps its connections' start times, bounded", async (t) => {
  const agg = new ConnectionAggregator({ cache: new ProcessCache(), maxEventsPerSecond: 100_000 }, 0);
  for (let i = 0; i < MAX_STARTS_PER_RECORD + 10; i++) agg.add(connect(7, i * 10));
  const [r] = agg.flush(1e6).records;
  t.equal(r!.count, MAX_STARTS_PER_RECORD + 10);
  t.equal(r!.startsMs.length, MAX_STARTS_PER_RECORD);
});

t.test("a connection record: transport, direction, protocol by port, the process self-contained, tags with reasons", async (t) => {
  const [c] = toConnectionRecords([record({ exe: "/tmp/x/python3", cmdline: "python3 /tmp/x/a.py" })], context());
  t.match(c, { transport: "tcp", direction: "outbound", protocol: "https", remoteAddress: "127.0.0.1", remotePort: 443, count: 1, ancestry: ["/usr/lib/systemd/systemd"] });
  t.match(c!.process, { pid: 4242, ppid: 1, exe: "/tmp/x/python3", cmdline: "python3 /tmp/x/a.py", user: "alice", uid: 1000, startedAtMs: 1_700_000_000_000, name: "python3" });
  const codes = c!.tags.map((x) => x.code);
  t.ok(codes.includes(TAG.INTERPRETER_OUTBOUND), codes.join());
  t.ok(codes.includes(TAG.WRITABLE_DIR_EXE), codes.join());
  t.match(c!.tags.find((x) => x.code === TAG.INTERPRETER_OUTBOUND)?.reason, "outbound tcp to 127.0.0.1:443 (https)");

  const [inbound] = toConnectionRecords([record({ kind: "tcp-in", exe: "/usr/bin/bash", comm: "bash", remotePort: 0, localPort: 4444 })], context());
  t.match(inbound, { direction: "inbound", localPort: 4444, remotePort: 0 });
  t.match(inbound!.tags.find((x) => x.code === TAG.SILENT_BINARY_SOCKET)?.reason, "inbound tcp on port 4444 (unknown protocol) from 127.0.0.1");

  const [own] = toConnectionRecords([record({ pid: 1 })], context());
  t.same(
    own!.tags.filter((x) => x.code === TAG.INTERPRETER_OUTBOUND),
    [],
    "the agent's own connections are not findings",
  );
  const [unknownUser] = toConnectionRecords([record({ uid: 4321, exe: null, cmdline: null, ancestry: [{ pid: 9, exe: null }] })], context());
  t.match(unknownUser!.process, { user: "4321", exe: "", cmdline: "" });
  t.same(unknownUser!.ancestry, [""], "a parent whose executable is unknown is an empty string");
});

t.test("a series every 2 s across batches becomes a Beacon and the beaconing tag", async (t) => {
  const tracker = new BeaconTracker();
  const ctx = context({ tracker });
  const starts = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i * 2000 + (i % 2 ? 50 : -50));
  // Two batches, 5 connections then 25, from different pids of the same executable.
  const first = toConnectionRecords([record({ pid: 10, exe: "/usr/bin/bash", comm: "bash", remotePort: 9999, startsMs: starts(0, 5), count: 5 })], ctx);
  t.equal(first[0]!.beacon, undefined, "not yet: the rhythm is judged on what the tracker holds");
  const [c] = toConnectionRecords([record({ pid: 11, exe: "/usr/bin/bash", comm: "bash", remotePort: 9999, startsMs: starts(10_000, 25), count: 25 })], ctx);
  t.same(c!.beacon, { intervalMs: 2000, jitterMs: 100, count: 30, spanMs: 58_000 });
  t.equal(c!.tags.find((x) => x.code === TAG.BEACONING)?.reason, "bash connects every 2 s ± 100 ms for 58 s to 127.0.0.1:9999 (30 connections)");
  const [other] = toConnectionRecords([record({ pid: 12, exe: "/usr/bin/bash", comm: "bash", remotePort: 8888, startsMs: [100_000] })], ctx);
  t.equal(other!.beacon, undefined, "another destination is another series");
});

t.test("the beacon tracker is bounded in keys and in times per key, oldest dropped", async (t) => {
  const tr = new BeaconTracker({ maxKeys: 2, maxTimesPerKey: 3, maxAgeMs: 10_000 });
  tr.add("a", [1, 2, 3, 4, 5]);
  t.same(tr.times("a"), [3, 4, 5]);
  tr.add("a", [20_000]);
  t.same(tr.times("a"), [20_000], "older than maxAgeMs before the newest: forgotten");
  tr.add("b", [1]);
  tr.add("c", [1]);
  t.equal(tr.size, 2);
  t.same(tr.times("a"), [], "the least recently updated key went first");
  t.equal(tr.evictedKeys, 1);
});

t.test("records beyond the wire limit are cut and their events counted; strings and lists bounded", async (t) => {
  const base = toConnectionRecords([record({ cmdline: "A".repeat(40_000), ancestry: Array.from({ length: 20 }, (_, i) => ({ pid: i + 2, exe: `/bin/p${i}` })) })], context())[0]!;
  const short = { ...base, process: { ...base.process, cmdline: "x" }, ancestry: [] };
  // One process with a long command line on every record (a scanner): each distinct string is cut once.
  const all: ConnectionRecord[] = Array.from({ length: COUNT_LIMITS.connections + 2 }, (_, i) => (i < 1000 ? base : { ...short, count: i >= COUNT_LIMITS.connections ? 5 : 1 }));
  const { connections, cutEvents } = boundConnections(all);
  t.equal(connections.length, COUNT_LIMITS.connections);
  t.equal(cutEvents, 10);
  const c = connections[999]!;
  t.ok(Buffer.byteLength(c.process.cmdline) <= STRING_LIMITS.cmdline && c.process.cmdline.endsWith(TRUNCATION_MARK));
  t.equal(c.ancestry.length, COUNT_LIMITS.ancestry);
  const lone = boundConnections([{ ...base, process: { ...base.process, name: "a\uD800b" } }]).connections[0]!;
  t.equal(lone.process.name, "a\uFFFDb");
});

t.test("a compiled sensor, when shipped, is preferred to bpftrace", async (t) => {
  const dir = t.testdir({});
  const sensor = join(dir, "oddwire-sensor");
  t.match(chooseEventSource("/usr/bin/bpftrace", sensor), { kind: "bpftrace", path: "/usr/bin/bpftrace" });
  writeFileSync(sensor, "#!/bin/sh\n");
  t.match(chooseEventSource("/usr/bin/bpftrace", sensor), { kind: "bpftrace" }, "not executable: not used");
  chmodSync(sensor, 0o755);
  t.match(chooseEventSource("/usr/bin/bpftrace", sensor), { kind: "sensor", path: sensor });
});
