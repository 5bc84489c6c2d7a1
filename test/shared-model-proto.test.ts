// One definition of each record: the proto is the source, and the plain
// TypeScript shapes in shared/src/model.ts must carry exactly its fields.
// The type assertions below stop the build when a field is added to one and
// not the other; the round trip checks that values survive the wire.

import t from "tap";
import { oddwire } from "@oddwire/proto";
import type {
  BeaconRecord,
  ConnectionRecord,
  DpiVisibilityRecord,
  FlowRecord,
  HostFactsRecord,
  WireInfoRecord,
  ProcessRecord,
  SnapshotRecord,
  SocketRecord,
  Tag,
  VisibilityRecord,
} from "@oddwire/shared";

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type ProtoKeys<T> = Exclude<keyof T, "$unknowns">;

// Snapshot's host_id..arch are the record's too; the record adds nothing the proto lacks.
const tagKeys: Same<keyof Tag, ProtoKeys<oddwire.v1.Tag.$Properties>> = true;
const processKeys: Same<keyof ProcessRecord, ProtoKeys<oddwire.v1.Process.$Properties>> = true;
const socketKeys: Same<keyof SocketRecord, ProtoKeys<oddwire.v1.Socket.$Properties>> = true;
const snapshotKeys: Same<keyof SnapshotRecord, ProtoKeys<oddwire.v1.Snapshot.$Properties>> = true;
const connectionKeys: Same<keyof ConnectionRecord, ProtoKeys<oddwire.v1.Connection.$Properties>> = true;
const beaconKeys: Same<keyof BeaconRecord, ProtoKeys<oddwire.v1.Beacon.$Properties>> = true;
const visibilityKeys: Same<keyof VisibilityRecord, ProtoKeys<oddwire.v1.Visibility.$Properties>> = true;
const factsKeys: Same<keyof HostFactsRecord, ProtoKeys<oddwire.v1.HostFacts.$Properties>> = true;
const wireKeys: Same<keyof WireInfoRecord, ProtoKeys<oddwire.v1.WireInfo.$Properties>> = true;
const flowKeys: Same<keyof FlowRecord, ProtoKeys<oddwire.v1.Flow.$Properties>> = true;
const dpiKeys: Same<keyof DpiVisibilityRecord, ProtoKeys<oddwire.v1.DpiVisibility.$Properties>> = true;

t.test("the records and the proto messages have the same fields", async (t) => {
  t.ok(tagKeys && processKeys && socketKeys && snapshotKeys && connectionKeys && beaconKeys && visibilityKeys && factsKeys && wireKeys && flowKeys && dpiKeys);
  // And at run time: every field, with a value, through encode and decode.
  const proc: ProcessRecord = {
    pid: 1,
    ppid: 0,
    name: "n",
    exe: "/e",
    cmdline: "c",
    user: "u",
    uid: 5,
    startedAtMs: 1,
    sha256: "",
    hashError: "",
    exeDeleted: false,
    tags: [],
    package: "coreutils",
    packageSource: "dpkg",
    exeSinceMs: 1700000000000,
  };
  const sock: SocketRecord = {
    transport: "tcp",
    family: 4,
    localAddress: "127.0.0.1",
    localPort: 1,
    remoteAddress: "",
    remotePort: 0,
    state: "LISTEN",
    pid: 1,
    uid: 0,
    inode: 2,
    netns: 3,
    protocol: "p",
    direction: "listen",
    tags: [],
    rawProtocol: 0,
    communityId: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
    wire: { portProtocol: "https", wireProtocol: "HTTP", confidence: "DPI", risks: ["Known Protocol on Non Standard Port"], bytes: 900, packets: 9 },
    destinationNames: ["www.example.test"],
  };
  const conn: ConnectionRecord = {
    transport: "tcp",
    direction: "outbound",
    family: 4,
    localAddress: "10.0.0.1",
    localPort: 0,
    remoteAddress: "10.0.0.2",
    remotePort: 443,
    protocol: "https",
    firstSeenMs: 1,
    lastSeenMs: 2,
    count: 3,
    failed: 1,
    process: proc,
    ancestry: ["/usr/bin/bash"],
    tags: [{ code: "c", reason: "r" }],
    beacon: { intervalMs: 60000, jitterMs: 2000, count: 30, spanMs: 1800000 },
    communityId: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
    wire: { portProtocol: "https", wireProtocol: "TLS", confidence: "DPI", risks: [], bytes: 1, packets: 1 },
    destinationNames: ["a.example.test", "b.example.test"],
  };
  const flow: FlowRecord = {
    transport: "tcp",
    family: 4,
    clientAddress: "10.0.0.1",
    clientPort: 40000,
    serverAddress: "10.0.0.2",
    serverPort: 443,
    communityId: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
    wire: { portProtocol: "https", wireProtocol: "HTTP", confidence: "DPI", risks: ["Known Protocol on Non Standard Port"], bytes: 900, packets: 9 },
    destinationNames: ["www.example.test"],
    firstSeenMs: 1,
    lastSeenMs: 2,
    process: proc,
    direction: "outbound",
    tags: [{ code: "wire-mismatch", reason: "r" }],
  };
  const snap: SnapshotRecord = {
    hostId: "h",
    hostname: "h",
    os: "linux",
    osVersion: "v",
    arch: "x64",
    agentVersion: "a",
    takenAtMs: 7,
    processes: [proc],
    sockets: [sock],
    partial: false,
    warnings: [],
    connections: [conn],
    visibility: { mode: "events+snapshots", reason: "", eventsAccepted: 5, droppedRate: 1, droppedRecords: 2, droppedKernel: 3 },
    flows: [flow],
    dpi: { mode: "on", reason: "", interfaces: ["any"], flowsClassified: 3, unclassifiedRate: 1, unclassifiedWindow: 2, packetsDropped: 4 },
    facts: { distro: "Debian GNU/Linux", release: "12", kernel: "6.1", virtualization: "kvm", hardwareVendor: "QEMU", hardwareModel: "Standard PC" },
    knowledgeVersion: "0.1.0.3f2a9c1d+b41e0a77c2d9",
  };
  const bytes = oddwire.v1.Snapshot.encode(snap).finish();
  const back = oddwire.v1.Snapshot.toObject(oddwire.v1.Snapshot.decode(bytes), { defaults: true, arrays: true });
  t.same(Object.keys(back).sort(), Object.keys(snap).sort(), "snapshot fields");
  t.same(Object.keys(back["processes"][0]).sort(), Object.keys(proc).sort(), "process fields");
  t.same(Object.keys(back["sockets"][0]).sort(), Object.keys(sock).sort(), "socket fields");
  t.same(Object.keys(back["connections"][0]).sort(), Object.keys(conn).sort(), "connection fields");
  t.same(Object.keys(back["flows"][0]).sort(), Object.keys(flow).sort(), "flow fields");
  t.same(back, snap, "every value survives the wire");
});
