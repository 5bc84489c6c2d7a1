// The oddwire sensor's lines through the bpftrace line parser: literal lines as
// agent/bpf/oddwire-sensor.c writes them, its string encoding (valid UTF-8 as
// text, invalid bytes as lone surrogates \udcXX, control characters escaped),
// and agreement with the bpftrace route for the same bytes.

import t from "tap";
import { decodeEscapedBytes, parseBpftraceLine } from "oddwire-agent/collect/linux/events/parse-bpftrace-line.js";

const sensor = (line: string) => parseBpftraceLine(line, { strings: "sensor" });

t.test("each kind of line", async (t) => {
  t.same(sensor('{"type":"value","data":["hello",1,2789302065122]}'), { type: "ready" });
  t.same(sensor('{"type":"lost_events","data":{"events":17}}'), { type: "lost", count: 17 });
  t.match(sensor('{"type":"value","data":["exec",2789475710667,8077,8077,0,"node",8000,"/usr/bin/node"]}'), {
    type: "event",
    event: { kind: "exec", monoNs: 2789475710667n, pid: 8077, tid: 8077, uid: 0, comm: "node", ppid: 8000, filename: "/usr/bin/node" },
  });
  t.match(sensor('{"type":"value","data":["connect",2790458232214,8089,8089,0,"python3",6,"::1",0,"::1",1,"failed"]}'), {
    type: "event",
    event: { kind: "connect", family: 6, localAddress: "::1", localPort: 0, remoteAddress: "::1", remotePort: 1, outcome: "failed" },
  });
  t.match(sensor('{"type":"value","data":["accept",2790457844541,8089,8089,0,"python3",4,"127.0.0.1",51979,"127.0.0.1",51242]}'), {
    type: "event",
    event: { kind: "accept", family: 4, localPort: 51979, remotePort: 51242 },
  });
  t.match(sensor('{"type":"value","data":["udp",2790458003427,8089,8089,0,"python3",4,"0.0.0.0",59599,"127.0.0.1",38448,"send"]}'), {
    type: "event",
    event: { kind: "udp", direction: "send", localAddress: "0.0.0.0", remoteAddress: "127.0.0.1" },
  });
});

t.test("hostile names: escapes undone, valid UTF-8 kept, invalid bytes as the bpftrace route gives them", async (t) => {
  // a"b\c<LF>d<SOH> café <0xff> ☃ 😀 <C1 0x85>, as the sensor writes it
  const line = String.raw`{"type":"value","data":["exec",1,2,2,0,"a\"b\\c\u000ad\u0001 caf` + "é" + String.raw`",1,"/tmp/x \udcff ` + "☃ 😀" + String.raw` \u0085 \udce9"]}`;
  const parsed = sensor(line);
  t.equal(parsed.type, "event");
  const e = (parsed as { event: { comm: string; filename: string } }).event;
  t.equal(e.comm, 'a"b\\c\nd\u0001 café');
  t.equal(e.filename, "/tmp/x \ufffd ☃ 😀 \u0085 \ufffd", "lone bytes 0xff and 0xe9 are not UTF-8: U+FFFD each");
});

t.test("a sensor string encodes the same bytes to the same text as bpftrace's escapes do", async (t) => {
  const bytes = Buffer.from([0x61, 0xc3, 0xa9, 0xff, 0xe2, 0x98, 0x83, 0xe2, 0x98, 0x62]); // a é <ff> ☃ <e2 98 truncated> b
  const viaSensor = decodeEscapedBytes("aé\udcff☃\udce2\udc98b");
  const bpftraceLine = String.raw`{"type":"value","data":["exec",1,2,2,0,"c",1,"a\uffffffc3\uffffffa9\uffffffff\uffffffe2\uffffff98\uffffff83\uffffffe2\uffffff98b"]}`;
  const viaBpftrace = parseBpftraceLine(bpftraceLine);
  t.equal(viaSensor, bytes.toString("utf8"));
  t.equal((viaBpftrace as { event: { filename: string } }).event.filename, viaSensor);
});

t.test("a surrogate pair is a character, not an escaped byte", async (t) => {
  t.equal(decodeEscapedBytes("\ud83d\udc80"), "\ud83d\udc80", "U+1F480 (its low half is in the escape range)");
  t.equal(decodeEscapedBytes("plain"), "plain");
});

t.test("in sensor mode a literal \\u00e9 is the character é, not the byte 0xe9", async (t) => {
  const line = String.raw`{"type":"value","data":["exec",1,2,2,0,"caf\u00e9",1,"/x"]}`;
  t.equal((sensor(line) as { event: { comm: string } }).event.comm, "café");
  t.equal((parseBpftraceLine(line) as { event: { comm: string } }).event.comm, "caf\ufffd", "bpftrace mode reads it as a lone byte");
});

t.test("bad lines are errors in words", async (t) => {
  t.match(sensor('{"type":"value","data":["udp",1,2,2,0,"c",4,"127.0.0.1",1,"127.0.0.1",2,"sideways"]}'), { type: "error", reason: /direction/ });
  t.match(sensor("not json"), { type: "error", reason: /not JSON/ });
});

t.test("the sensor's exec carries argv as a ninth field; bpftrace's does not", async (t) => {
  const withArgs = sensor('{"type":"value","data":["exec",5,1224,1224,0,"echo",1156,"/bin/echo","/bin/echo hello \\"quoted\\" \\u001b[31m"]}');
  t.match(withArgs, { type: "event", event: { kind: "exec", filename: "/bin/echo", args: '/bin/echo hello "quoted" \u001b[31m' } });
  const without = sensor('{"type":"value","data":["exec",5,1224,1224,0,"echo",1156,"/bin/echo"]}');
  t.match(without, { type: "event", event: { kind: "exec" } });
  t.notOk("args" in (without as { event: object }).event, "no args when the producer sent none");
  t.match(sensor('{"type":"value","data":["exec",5,1224,1224,0,"echo",1156,"/bin/echo","a","b"]}'), { type: "error", reason: /exec tuple has 10 fields, expected 8/ });
});
