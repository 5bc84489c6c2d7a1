// SensorSource's life cycle with a stand-in for the sensor: a shell script
// that prints what oddwire-sensor would and then dies or waits. Runs without
// root and without the sensor built.

import t from "tap";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findSensor, SensorSource, sensorCandidates, type SourceStatus, type TimedEvent } from "oddwire-agent/collect/linux/events/sensor-source.js";

function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves with the first status that matches. */
function statusWhere(list: SourceStatus[], hooks: Array<() => void>, match: (s: SourceStatus[]) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => match(list) && resolve();
    hooks.push(check);
    check();
  });
}

const HELLO = `{"type":"value","data":["hello",1,1]}`;
// comm "cu<0xff>rl" as the sensor escapes a byte that is not UTF-8
const CONNECT = String.raw`{"type":"value","data":["connect",5000000000,4242,4242,0,"cu\udcffrl",4,"127.0.0.1",40000,"127.0.0.1",8080,"established"]}`;

t.test("the sensor is looked for beside the runtime, then in agent/bpf/build", async (t) => {
  const [beside, built] = sensorCandidates("/usr/lib/oddwire-agent/bin/node");
  t.equal(beside, "/usr/lib/oddwire-agent/bin/oddwire-sensor");
  t.match(built, /agent\/bpf\/build\/oddwire-sensor$/);
  const dir = t.testdir();
  const fake = script(dir, "oddwire-sensor", "exit 0");
  t.equal(findSensor(["/nonexistent/oddwire-sensor", fake]), fake);
  t.equal(findSensor(["/nonexistent/oddwire-sensor"]), null);
});

t.test("a child that dies is reported and restarted; events, losses and bad lines reach the caller", async (t) => {
  const dir = t.testdir();
  const fake = script(
    dir,
    "fake-sensor",
    `echo '${HELLO}'\necho '${CONNECT}'\necho '{"type":"lost_events","data":{"events":2}}'\necho 'garbage'\necho 'libbpf: it broke' >&2\nexit 3`,
  );
  const events: TimedEvent[] = [];
  const statuses: SourceStatus[] = [];
  const hooks: Array<() => void> = [];
  const errors: string[] = [];
  let lost = 0;
  const source = new SensorSource({
    sensorPath: fake,
    restartDelayMs: 10,
    maxRestarts: 2,
    onEvent: (e) => events.push(e),
    onLost: (n) => {
      lost += n;
    },
    onError: (r) => errors.push(r),
    onStatus: (s) => {
      statuses.push(s);
      for (const h of hooks) h();
    },
  });
  t.teardown(() => source.stop());
  source.start();
  await statusWhere(statuses, hooks, (l) => l.filter((s) => s.state === "exited").length >= 3);
  const exits = statuses.filter((s): s is Extract<SourceStatus, { state: "exited" }> => s.state === "exited");
  t.same(exits[0], { state: "exited", code: 3, signal: null, stderr: "libbpf: it broke", restartInMs: 10 });
  t.ok(
    exits.every((e) => e.restartInMs === 10),
    "a run that got ready resets the count",
  );
  t.match(events[0], { kind: "connect", pid: 4242, remotePort: 8080, comm: "cu\ufffdrl" });
  t.type(events[0]!.timeMs, "number");
  t.ok(lost >= 6);
  t.match(errors[0], /not JSON/);
  await source.stop();
  t.equal(statuses.at(-1)!.state, "stopped");
});

t.test("a sensor that cannot load is given up after maxRestarts, with its stderr; the ring size is passed on", async (t) => {
  const dir = t.testdir();
  const fake = script(dir, "fake-sensor", `echo "oddwire-sensor: cannot load the BPF programs: Operation not permitted ($*)" >&2\nexit 1`);
  const statuses: SourceStatus[] = [];
  const hooks: Array<() => void> = [];
  const source = new SensorSource({
    sensorPath: fake,
    ringBytes: 65536,
    restartDelayMs: 5,
    maxRestarts: 2,
    onEvent: () => {},
    onStatus: (s) => {
      statuses.push(s);
      for (const h of hooks) h();
    },
  });
  t.teardown(() => source.stop());
  source.start();
  await statusWhere(statuses, hooks, (l) => l.some((s) => s.state === "exited" && s.restartInMs === null));
  const exits = statuses.filter((s) => s.state === "exited");
  t.same(
    exits.map((s) => (s as { restartInMs: number | null }).restartInMs),
    [5, 10, null],
    "delay doubles, then stops",
  );
  t.match(exits[2], { code: 1, stderr: /Operation not permitted \(--ring-bytes 65536\)/ });
});

t.test("a missing binary is reported as an exit, not thrown", async (t) => {
  const statuses: SourceStatus[] = [];
  const hooks: Array<() => void> = [];
  const source = new SensorSource({
    sensorPath: "/nonexistent/oddwire-sensor",
    maxRestarts: 0,
    onEvent: () => {},
    onStatus: (s) => {
      statuses.push(s);
      for (const h of hooks) h();
    },
  });
  t.teardown(() => source.stop());
  source.start();
  await statusWhere(statuses, hooks, (l) => l.some((s) => s.state === "exited"));
  t.match(
    statuses.find((s) => s.state === "exited"),
    { restartInMs: null, stderr: /ENOENT/ },
  );
});

t.test("stop() sends SIGINT, falls back to SIGKILL, and resolves only once the child is reaped", async (t) => {
  const dir = t.testdir();
  const fake = script(dir, "fake-sensor", `trap '' INT\necho '${HELLO}'\nexec sleep 60`);
  const source = new SensorSource({ sensorPath: fake, stopGraceMs: 200, onEvent: () => {} });
  t.teardown(() => source.stop());
  source.start();
  await source.ready();
  const pid = source.pid!;
  t.ok(alive(pid));
  await source.stop();
  t.equal(source.pid, null);
  t.notOk(alive(pid), "reaped: the pid no longer exists");
});
