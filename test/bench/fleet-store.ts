// Loads NDJSON snapshot lines into a collector database in-process, through
// the same classification (replay's parseLine) and ingest code the collector
// runs, without the network: for benchmarks and scoring tests.

import { knowledgeBase, portTable } from "@oddwire/shared";
import type { oddwire } from "@oddwire/proto";
import { parseLine } from "oddwire-agent/replay.js";
import { HostStore } from "oddwire-collector/store/hosts.js";
import { Ingester } from "oddwire-collector/store/ingest.js";
import { openDb, type Db } from "oddwire-collector/store/open-db.js";

export function loadFleet(path: string, lines: Iterable<string>, now = Date.now()): Db {
  const db = openDb(path, { sync: "normal" });
  const hosts = new HostStore(db);
  const ingester = new Ingester(db);
  const ports = portTable();
  const kb = knowledgeBase();
  const seqs = new Map<string, number>();
  let chunk: Array<{ hostId: string; batch: oddwire.v1.IBatch; bytes: number }> = [];
  const flush = () => {
    ingester.apply(chunk, now);
    chunk = [];
  };
  for (const line of lines) {
    const snap = parseLine(line, ports, kb);
    let seq = seqs.get(snap.hostId);
    if (seq === undefined) {
      hosts.enroll({ hostId: snap.hostId, hostname: snap.hostname, os: snap.os, agentVersion: snap.agentVersion }, now);
      seq = 0;
    }
    seqs.set(snap.hostId, ++seq);
    chunk.push({ hostId: snap.hostId, batch: { seq, full: true, snapshot: snap }, bytes: line.length });
    if (chunk.length >= 256) flush();
  }
  flush();
  return db;
}
