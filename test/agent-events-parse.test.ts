// parseBpftraceLine on literal lines, as bpftrace 0.17 prints them with -f json.

import t from "tap";
import { parseBpftraceLine, repairByteEscapes } from "oddwire-agent/collect/linux/events/parse-bpftrace-line.js";

const event = (line: string) => {
  const p = parseBpftraceLine(line);
  if (p.type !== "event") throw new Error(`expected an event, got ${JSON.stringify(p)}`);
  return p.event;
};
const reason = (line: string) => {
  const p = parseBpftraceLine(line);
  return p.type === "error" ? p.reason : `not an error: ${p.type}`;
};

t.test("connect, accept, udp and exec tuples", async (t) => {
  t.same(event(`{"type": "value", "data": ["connect",586889750473,11384,11385,1000,"python3",4,"127.0.0.1",45404,"127.0.0.1",51225,"established"]}`), {
    kind: "connect",
    monoNs: 586889750473n,
    pid: 11384,
    tid: 11385,
    uid: 1000,
    comm: "python3",
    family: 4,
    localAddress: "127.0.0.1",
    localPort: 45404,
    remoteAddress: "127.0.0.1",
    remotePort: 51225,
    outcome: "established",
  });
  t.match(event(`{"type": "value", "data": ["connect",586890215771,11384,11384,0,"python3",4,"127.0.0.1",54740,"127.0.0.1",1,"failed"]}`), { outcome: "failed", remotePort: 1 });
  t.same(event(`{"type": "value", "data": ["accept",586889834269,11384,11384,0,"python3",6,"::1",40123,"::1",38816]}`), {
    kind: "accept",
    monoNs: 586889834269n,
    pid: 11384,
    tid: 11384,
    uid: 0,
    comm: "python3",
    family: 6,
    localAddress: "::1",
    localPort: 40123,
    remoteAddress: "::1",
    remotePort: 38816,
  });
  t.match(event(`{"type": "value", "data": ["udp",586890445880,11384,11384,0,"python3",4,"0.0.0.0",60987,"127.0.0.1",52608,"send"]}`), {
    kind: "udp",
    direction: "send",
    localAddress: "0.0.0.0",
    remotePort: 52608,
  });
  t.match(event(`{"type": "value", "data": ["udp",586891339206,11384,11384,0,"python3",6,"::1",48893,"::ffff:127.0.0.1",56629,"recv"]}`), {
    direction: "recv",
    remoteAddress: "::ffff:127.0.0.1",
  });
  t.same(event(`{"type": "value", "data": ["exec",497947512965,9564,9564,0,"mkdir",7225,"/usr/bin/mkdir"]}`), {
    kind: "exec",
    monoNs: 497947512965n,
    pid: 9564,
    tid: 9564,
    uid: 0,
    comm: "mkdir",
    ppid: 7225,
    filename: "/usr/bin/mkdir",
  });
});

t.test("lines that are not events", async (t) => {
  t.same(parseBpftraceLine(`{"type": "attached_probes", "data": {"probes": 14}}`), { type: "ignore" });
  t.same(parseBpftraceLine(""), { type: "ignore" });
  t.same(parseBpftraceLine("   "), { type: "ignore" });
  t.same(parseBpftraceLine(`{"type": "value", "data": ["hello",1,123]}`), { type: "ready" });
  t.same(parseBpftraceLine(`{"type": "map", "data": {"@udp_seen": {}}}`), { type: "ignore" });
  t.same(parseBpftraceLine(`{"type": "lost_events", "data": {"events": 17}}`), { type: "lost", count: 17 });
  t.match(reason(`{"type": "lost_events", "data": {}}`), /without a count/);
});

t.test("malformed and hostile lines are errors, never events", async (t) => {
  t.match(reason("Attaching 14 probes..."), /not JSON/);
  t.match(reason(`{"type": "value", "data": ["connect",1,2,3,4,"x",4,"127.0.0.1",1,"127.0.0.1",2]}`), /11 fields, expected 12/);
  t.match(reason(`{"type": "value", "data": ["nuke",1]}`), /unknown event kind "nuke"/);
  t.match(reason(`{"type": "value", "data": ["connect",1,0,3,4,"x",4,"127.0.0.1",1,"127.0.0.1",2,"established"]}`), /pid 0 is not a process id/);
  t.match(reason(`{"type": "value", "data": ["connect",1,2,3,-4,"x",4,"127.0.0.1",1,"127.0.0.1",2,"established"]}`), /uid -4/);
  t.match(reason(`{"type": "value", "data": ["connect",1,2,3,4,"x",4,"127.0.0.1",70000,"127.0.0.1",2,"established"]}`), /local port 70000 is not a port/);
  t.match(reason(`{"type": "value", "data": ["connect",1,2,3,4,"x",5,"127.0.0.1",1,"127.0.0.1",2,"established"]}`), /family 5/);
  t.match(reason(`{"type": "value", "data": ["connect",1,2,3,4,"x",4,"127.0.0.1",1,"<script>",2,"established"]}`), /remote address "<script>" is not an IPv4 address/);
  t.match(reason(`{"type": "value", "data": ["connect",1,2,3,4,"x",6,"127.0.0.1",1,"::1",2,"established"]}`), /not an IPv6 address/);
  t.match(reason(`{"type": "value", "data": ["connect",1,2,3,4,"x",4,"127.0.0.1",1,"127.0.0.1",2,"maybe"]}`), /outcome "maybe"/);
  t.match(reason(`{"type": "value", "data": ["udp",1,2,3,4,"x",4,"127.0.0.1",1,"127.0.0.1",2,"sideways"]}`), /direction "sideways"/);
  t.match(reason(`{"type": "value", "data": ["exec",1,2,3,4,{"a":1},1,"/bin/sh"]}`), /other than strings and numbers/);
  t.match(reason(`{"type": "value", "data": ["exec",1,2,3,4,"${"c".repeat(65)}",1,"/bin/sh"]}`), /comm is longer/);
  t.match(reason(`{"type": "value", "data": ["exec",1,2,3,4,"sh",1,"/${"a".repeat(4096)}"]}`), /filename is longer/);
  t.match(reason(`{"type": "value", "data": ["exec",1,2,3,4,"sh",1,"/${"a".repeat(17000)}"]}`), /longer than 16384/);
  t.match(reason(`{"type": "value", "data": ["exec",1.5,2,3,4,"sh",1,"/bin/sh"]}`), /time 1.5/);
  t.match(reason(`[1,2,3]`), /not a bpftrace JSON record/);
});

t.test("hostile comm and filename strings come through as text, unchanged", async (t) => {
  // Quotes, backslashes, control characters and JSON look-alikes, as bpftrace escapes them.
  const e = event(String.raw`{"type": "value", "data": ["exec",1,2,2,0,"we\"ird\\name",1,"/tmp/we\"ird\\name\n\u0001\"}]"]}`);
  t.equal(e.comm, `we"ird\\name`);
  t.equal((e as { filename: string }).filename, `/tmp/we"ird\\name\n\u0001"}]`);

  // bpftrace 0.17 writes a byte >= 0x80 as a sign-extended \uffffffXX (seen: 0xff → \uffffffff).
  const raw = `{"type": "value", "data": ["exec",1,2,2,0,"c\\u0001x\\uffffffffy",1,"/tmp/caf\\uffffffc3\\uffffffa9"]}`;
  const x = event(raw);
  t.equal(x.comm, "c\u0001x\ufffdy", "an invalid UTF-8 byte becomes U+FFFD, never \\uffff plus 'ffff'");
  t.equal((x as { filename: string }).filename, "/tmp/café", "valid UTF-8 bytes are decoded");

  // An escaped backslash before "uffffff" is text, not an escape.
  t.equal(repairByteEscapes(String.raw`"a\\uffffffc3"`), String.raw`"a\\uffffffc3"`);
  t.equal(repairByteEscapes(String.raw`"a\\\uffffffc3"`), String.raw`"a\\\u00c3"`);
  const lit = event(String.raw`{"type": "value", "data": ["exec",1,2,2,0,"x\\uffffffc3",1,"/bin/x"]}`);
  t.equal(lit.comm, String.raw`x\uffffffc3`);
});
