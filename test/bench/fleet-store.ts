// Loads NDJSON snapshot lines into a collector store in-process, through
// the same classification (replay's parseLine) and ingest code the collector
// runs, without the network: for benchmarks and scoring tests. `location`
// is a SQLite file or a postgres:// URL.

import { knowledgeBase, portTable } from "@oddwire/shared";
import type { oddwire } from "@oddwire/proto";
import { parseLine } from "oddwire-agent/replay.js";
import { openStore, type Store } from "oddwire-collector/store/store.js";

export async function loadFleet(location: string, lines: Iterable<string>, now = Date.now()): Promise<Store> {
  const store = await openStore(location, { sync: "normal" });
  const ports = portTable();
  const kb = knowledgeBase();
  const seqs = new Map<string, number>();
  let chunk: Array<{ hostId: string; batch: oddwire.v1.IBatch; bytes: number }> = [];
  const flush = async () => {
    await store.ingest.apply(chunk, now);
    chunk = [];
  };
  for (const line of lines) {
    const snap = parseLine(line, ports, kb);
    let seq = seqs.get(snap.hostId);
    if (seq === undefined) {
      await store.hosts.enroll({ hostId: snap.hostId, hostname: snap.hostname, os: snap.os, agentVersion: snap.agentVersion }, now);
      seq = 0;
    }
    seqs.set(snap.hostId, ++seq);
    chunk.push({ hostId: snap.hostId, batch: { seq, full: true, snapshot: snap }, bytes: line.length });
    if (chunk.length >= 256) await flush();
  }
  await flush();
  return store;
}
