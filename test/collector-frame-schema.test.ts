// The frame walker (collector/src/ingest/frame-check.ts) must know every
// field of every message an agent sends, with a bound for each string and
// each repeated field: a field added to proto/oddwire.proto later without a
// bound would otherwise be skipped as unknown and reach the decoder
// unchecked. The .proto is parsed here, independently of the walker.

import t from "tap";
import { readFileSync } from "node:fs";
import protobuf from "protobufjs";
import { COUNT_LIMITS, STRING_LIMITS } from "@oddwire/shared";
import { oddwire } from "@oddwire/proto";
import { checkAgentFrame, walkerSchema } from "oddwire-collector/ingest/frame-check.js";

const PROTO = new URL("../../proto/oddwire.proto", import.meta.url);
const root = protobuf.parse(readFileSync(PROTO, "utf8"), { keepCase: true }).root;
const pkg = root.lookup("oddwire.v1") as protobuf.Namespace;
const messages = pkg.nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type);
const schema = walkerSchema();

/** Messages only the collector sends: the walker never reads them. */
const COLLECTOR_SENT = new Set(["EnrollResponse", "Ack", "Welcome", "Error", "CollectorMessage"]);
const NUMERIC = new Set(["int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool"]);

t.test("every message of the .proto is walked or known to be the collector's own", async (t) => {
  for (const m of messages) {
    if (COLLECTOR_SENT.has(m.name)) t.notOk(schema[m.name], `${m.name} is sent by the collector only`);
    else t.ok(schema[m.name], `${m.name} is in the walker's schema (or add it to COLLECTOR_SENT if only the collector sends it)`);
  }
});

t.test("every field of every walked message has its number, kind and bound", async (t) => {
  for (const m of messages) {
    const walked = schema[m.name];
    if (!walked) continue;
    const protoNumbers = m.fieldsArray.map((f) => f.id).sort((a, b) => a - b);
    t.same(
      walked.map((f) => f.number).sort((a, b) => a - b),
      protoNumbers,
      `${m.name}: the walker knows exactly the .proto's field numbers`,
    );
    for (const f of m.fieldsArray) {
      const w = walked.find((x) => x.number === f.id);
      if (!w) continue;
      const where = `${m.name}.${f.name} (${f.id})`;
      t.equal(w.name, f.name, `${where}: same name`);
      if (f.type === "string" || f.type === "bytes") {
        t.equal(w.type, "string", `${where}: walked as a string`);
        t.ok(typeof w.limit === "number" && w.limit > 0, `${where}: has a byte bound`);
      } else if (NUMERIC.has(f.type)) {
        t.equal(w.type, "varint", `${where}: walked as a varint`);
      } else {
        t.equal(w.type, "message", `${where}: walked as a message`);
        t.equal(w.of, f.type, `${where}: of type ${f.type}`);
      }
      if (f.repeated) t.ok(typeof w.count === "number" && w.count > 0, `${where}: repeated, so it has a count bound`);
      else t.equal(w.count, undefined, `${where}: not repeated, no count bound`);
    }
  }
});

t.test("the new fields are bounded as wire-limits says", async (t) => {
  const conn = schema["Connection"]!;
  t.equal(conn.find((f) => f.name === "ancestry")?.count, COUNT_LIMITS.ancestry);
  t.equal(conn.find((f) => f.name === "ancestry")?.limit, STRING_LIMITS.exe);
  t.equal(schema["Snapshot"]!.find((f) => f.name === "connections")?.count, COUNT_LIMITS.connections);
  t.equal(COUNT_LIMITS.connections, 20_000);
  t.equal(COUNT_LIMITS.ancestry, 16);
});

t.test("an honest batch with connections, visibility and facts passes; a bound on each new message is enforced", async (t) => {
  const batch = {
    seq: 1,
    full: true,
    snapshot: {
      hostId: "h",
      sockets: [{ transport: "raw", rawProtocol: 255, tags: [{ code: "raw-socket", reason: "r" }] }],
      connections: [
        {
          transport: "tcp",
          direction: "outbound",
          family: 4,
          remoteAddress: "203.0.113.9",
          remotePort: 443,
          protocol: "https",
          firstSeenMs: 1,
          lastSeenMs: 2,
          count: 3,
          failed: 1,
          process: { pid: 9, exe: "/tmp/x", cmdline: "x", tags: [{ code: "writable-dir-exe", reason: "r" }] },
          ancestry: ["/bin/bash", "/usr/sbin/sshd"],
          tags: [{ code: "shell-outbound", reason: "r" }],
          beacon: { intervalMs: 60000, jitterMs: 2000, count: 5, spanMs: 300000 },
        },
      ],
      visibility: { mode: "snapshots", reason: "tracefs is not mounted", droppedKernel: 4 },
      facts: { distro: "Debian GNU/Linux", release: "12" },
    },
  };
  t.equal(checkAgentFrame(oddwire.v1.AgentMessage.encode({ batch }).finish()), null);
  const long = (n: number) => "x".repeat(n + 1);
  const over = (snapshot: Record<string, unknown>) => checkAgentFrame(oddwire.v1.AgentMessage.encode({ batch: { seq: 1, snapshot } }).finish());
  t.match(over({ visibility: { mode: long(STRING_LIMITS.state) } }), { kind: "string", field: "Visibility.mode" });
  t.match(over({ visibility: { reason: long(STRING_LIMITS.reason) } }), { kind: "string", field: "Visibility.reason" });
  t.match(over({ facts: { kernel: long(STRING_LIMITS.os_version) } }), { kind: "string", field: "HostFacts.kernel" });
  t.match(over({ connections: [{ ancestry: [long(STRING_LIMITS.exe)] }] }), { kind: "string", field: "Connection.ancestry" });
  t.match(over({ connections: [{ process: { cmdline: long(STRING_LIMITS.cmdline) } }] }), { kind: "string", field: "Process.cmdline" });
  t.match(over({ connections: [{ tags: Array.from({ length: COUNT_LIMITS.socket_tags + 1 }, () => ({ code: "a" })) }] }), { kind: "count", field: "Connection.tags" });
  t.match(over({ connections: [{ ancestry: Array.from({ length: COUNT_LIMITS.ancestry + 1 }, () => "/bin/sh") }] }), { kind: "count", field: "Connection.ancestry", limit: 16 });
});
