// An unknown uid is -1 in the agent's model and 4294967295 on the wire
// (uint32). The collector stores it as unknown (NULL), not as a uid that
// could be mistaken for a real account; uid 0 stays 0.

import t from "tap";
import { join } from "node:path";
import { query, SECRET, startCollector } from "./lib/fleet.js";
import { enrollRaw, openRawStream, smallBatch } from "./lib/raw-stream.js";

t.test("uid 4294967295 is stored as unknown (NULL); uid 0 as 0", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db);
  const e = await enrollRaw(c.port, { hostId: "uids", enrollSecret: SECRET });
  const s = await openRawStream(c.port, "uids", e.key);
  t.teardown(() => s.ws.terminate());
  const batch = smallBatch("uids", 1);
  const snap = batch.snapshot!;
  snap.processes = [
    { ...snap.processes![0]!, uid: 4294967295 },
    { pid: 200, ppid: 1, name: "init", exe: "/sbin/init", cmdline: "init", user: "root", uid: 0, startedAtMs: 1 },
  ];
  snap.sockets = [
    { ...snap.sockets![0]!, uid: 4294967295 },
    { transport: "tcp", family: 4, localAddress: "0.0.0.0", localPort: 22, state: "LISTEN", pid: 200, direction: "listen", protocol: "ssh", uid: 0 },
  ];
  s.sendBatch(batch);
  await s.acked(1);
  t.same(query(db, "SELECT pid, uid FROM processes WHERE host_id = 'uids' ORDER BY pid"), [
    { pid: 100, uid: null },
    { pid: 200, uid: 0 },
  ]);
  t.same(query(db, "SELECT pid, uid FROM sockets WHERE host_id = 'uids' ORDER BY pid"), [
    { pid: 100, uid: null },
    { pid: 200, uid: 0 },
  ]);
});
