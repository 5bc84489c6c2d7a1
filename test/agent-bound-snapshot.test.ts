// boundSnapshot, the agent's side of the wire limits: what `run` applies to
// every snapshot before encoding. A 100 KB command line and 100 tags come out
// within the bounds, with a warning that says what was cut; a snapshot within
// the bounds is left as it is.

import t from "tap";
import { oddwire } from "@oddwire/proto";
import { COUNT_LIMITS, STRING_LIMITS, type ProcessRecord, type SnapshotRecord, type SocketRecord } from "@oddwire/shared";
import { boundSnapshot } from "oddwire-agent/bound-snapshot.js";

function proc(over: Partial<ProcessRecord> = {}): ProcessRecord {
  return {
    pid: 10,
    ppid: 1,
    name: "cron",
    exe: "/usr/sbin/cron",
    cmdline: "cron -f",
    user: "root",
    uid: 0,
    startedAtMs: 1,
    sha256: "",
    hashError: "",
    exeDeleted: false,
    tags: [],
    ...over,
  };
}

function sock(over: Partial<SocketRecord> = {}): SocketRecord {
  return {
    transport: "tcp",
    family: 4,
    localAddress: "10.0.0.1",
    localPort: 40000,
    remoteAddress: "10.9.9.9",
    remotePort: 443,
    state: "ESTABLISHED",
    pid: 10,
    uid: 0,
    inode: 1,
    netns: 1,
    protocol: "https",
    direction: "outbound",
    tags: [],
    ...over,
  };
}

function snap(over: Partial<SnapshotRecord> = {}): SnapshotRecord {
  return {
    hostId: "h",
    hostname: "h",
    os: "linux",
    osVersion: "6",
    arch: "x64",
    agentVersion: "0.1.0",
    takenAtMs: 1,
    processes: [proc()],
    sockets: [sock()],
    partial: false,
    warnings: [],
    ...over,
  };
}

t.test("a 100 KB command line and 100 tags are cut, with a warning", async (t) => {
  const tags = Array.from({ length: 100 }, (_, i) => ({ code: `tag-${i}`, reason: "why" }));
  const input = snap({ processes: [proc({ cmdline: "é".repeat(50 * 1024), tags })], sockets: [sock({ tags })] });
  const out = boundSnapshot(input);
  const p = out.processes[0]!;
  t.ok(Buffer.byteLength(p.cmdline) <= STRING_LIMITS.cmdline, `cmdline is ${Buffer.byteLength(p.cmdline)} bytes`);
  t.ok(p.cmdline.startsWith("éé") && p.cmdline.endsWith("…[truncated]"), "cut on a character boundary and marked");
  t.equal(p.tags.length, COUNT_LIMITS.process_tags);
  t.same(p.tags.slice(0, 2), tags.slice(0, 2), "the first tags are kept");
  t.equal(out.sockets[0]!.tags.length, COUNT_LIMITS.socket_tags);
  t.equal(out.partial, true);
  t.equal(out.warnings.length, 1);
  t.equal(
    out.warnings[0],
    "the agent cut this snapshot to the wire limits: cmdline of 1 process cut to 32768 bytes; tags: 68 left out of 1 process (at most 32 each); tags: 68 left out of 1 socket (at most 32 each)",
  );
  t.equal(input.processes[0]!.tags.length, 100, "the input is not changed");
  const frame = oddwire.v1.Batch.encode({ seq: 1, full: true, snapshot: out }).finish();
  const back = oddwire.v1.Batch.decode(frame);
  t.equal(back.snapshot!.processes![0]!.cmdline, p.cmdline, "round trip through the wire");
});

t.test("warnings are capped, keeping a slot for the one about the cuts", async (t) => {
  const warnings = Array.from({ length: 70 }, (_, i) => `w${i}`);
  const out = boundSnapshot(snap({ warnings, partial: true }));
  t.equal(out.warnings.length, COUNT_LIMITS.warnings);
  t.equal(out.warnings[62], "w62");
  t.match(out.warnings[63], /7 warnings left out \(at most 64\)/);
});

t.test("lone surrogates become U+FFFD; a snapshot within bounds is returned as it is", async (t) => {
  const out = boundSnapshot(snap({ processes: [proc({ cmdline: "x\udc80y", exe: "/a\ud800" })] }));
  t.equal(out.processes[0]!.cmdline, "x\ufffdy");
  t.equal(out.processes[0]!.exe, "/a\ufffd");
  t.match(out.warnings[0], /2 strings with lone UTF-16 surrogates/);
  const fine = snap();
  t.equal(boundSnapshot(fine), fine);
});
