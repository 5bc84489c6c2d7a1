// BpftraceSource's life cycle with a stand-in for bpftrace: a shell script that
// prints what bpftrace would and then dies or waits. Runs without root.

import t from "tap";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BpftraceSource, EVENTS_PROGRAM, type SourceStatus, type TimedEvent } from "oddwire-agent/collect/linux/events/bpftrace-source.js";
import { waitFor } from "./lib/fleet.js";

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

const HELLO = `{"type": "value", "data": ["hello",1,1]}`;
const CONNECT = `{"type": "value", "data": ["connect",5000000000,4242,4242,0,"curl",4,"127.0.0.1",40000,"127.0.0.1",8080,"established"]}`;

t.test("the program file is where the compiled source looks for it", async (t) => {
  t.ok(existsSync(EVENTS_PROGRAM), EVENTS_PROGRAM);
  t.match(EVENTS_PROGRAM, /agent\/bpf\/oddwire-events\.bt$/);
});

t.test("a child that dies is reported and restarted; events, losses and bad lines reach the caller", async (t) => {
  const dir = t.testdir();
  // Each run prints hello, one event, a lost-events record, a bad line, then dies with 3.
  const fake = script(
    dir,
    "fake-bpftrace",
    `echo '${HELLO}'\necho '${CONNECT}'\necho '{"type": "lost_events", "data": {"events": 2}}'\necho 'garbage'\necho 'it broke' >&2\nexit 3`,
  );
  const events: TimedEvent[] = [];
  const statuses: SourceStatus[] = [];
  const errors: string[] = [];
  let lost = 0;
  const source = new BpftraceSource({
    bpftracePath: fake,
    restartDelayMs: 10,
    maxRestarts: 2,
    onEvent: (e) => events.push(e),
    onLost: (n) => (lost += n),
    onError: (r) => errors.push(r),
    onStatus: (s) => statuses.push(s),
  });
  t.teardown(() => source.stop());
  source.start();
  await waitFor("three runs", () => events.length >= 3 && statuses.filter((s) => s.state === "exited").length >= 3, 20000, 20);
  const exits = statuses.filter((s): s is Extract<SourceStatus, { state: "exited" }> => s.state === "exited");
  t.same(exits[0], { state: "exited", code: 3, signal: null, stderr: "it broke", restartInMs: 10 });
  // A run that printed its ready line resets the count, so it keeps restarting at the first delay.
  t.ok(exits.every((e) => e.restartInMs === 10));
  t.match(events[0], { kind: "connect", pid: 4242, remotePort: 8080 });
  t.type(events[0]!.timeMs, "number");
  t.ok(lost >= 6);
  t.match(errors[0], /not JSON/);
  await source.stop();
  t.equal(statuses.at(-1)!.state, "stopped");
});

t.test("a child that never gets ready is given up after maxRestarts, with its stderr", async (t) => {
  const dir = t.testdir();
  const fake = script(dir, "fake-bpftrace", `echo 'ERROR: tracepoint not found: sock:sock_send_length' >&2\nexit 1`);
  const statuses: SourceStatus[] = [];
  const source = new BpftraceSource({ bpftracePath: fake, restartDelayMs: 5, maxRestarts: 2, onEvent: () => {}, onStatus: (s) => statuses.push(s) });
  t.teardown(() => source.stop());
  source.start();
  await waitFor("giving up", () => statuses.some((s) => s.state === "exited" && s.restartInMs === null), 20000, 20);
  const exits = statuses.filter((s) => s.state === "exited");
  t.same(
    exits.map((s) => (s as { restartInMs: number | null }).restartInMs),
    [5, 10, null],
    "delay doubles, then stops",
  );
  t.match(exits[2], { stderr: /tracepoint not found/ });
});

t.test("a missing binary is reported as an exit, not thrown", async (t) => {
  const statuses: SourceStatus[] = [];
  const source = new BpftraceSource({ bpftracePath: "/nonexistent/bpftrace", maxRestarts: 0, onEvent: () => {}, onStatus: (s) => statuses.push(s) });
  t.teardown(() => source.stop());
  source.start();
  await waitFor("the exit", () => statuses.some((s) => s.state === "exited"), 20000, 20);
  t.match(
    statuses.find((s) => s.state === "exited"),
    { restartInMs: null, stderr: /ENOENT/ },
  );
});

t.test("stop() ends a running child and resolves only once it is reaped", async (t) => {
  const dir = t.testdir();
  // Ignores SIGINT like a bpftrace stuck detaching: stop() must fall back to SIGKILL.
  const fake = script(dir, "fake-bpftrace", `trap '' INT\necho '${HELLO}'\nexec sleep 60`);
  const source = new BpftraceSource({ bpftracePath: fake, stopGraceMs: 200, onEvent: () => {} });
  t.teardown(() => source.stop());
  source.start();
  await source.ready();
  const pid = source.pid!;
  t.ok(alive(pid));
  await source.stop();
  t.equal(source.pid, null);
  t.notOk(alive(pid), "reaped: the pid no longer exists");
});
