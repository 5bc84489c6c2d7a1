// A stream whose peer stops answering pings is closed with 4408 (missed
// heartbeat), as documented, and counted; a peer that answers stays open.

import t from "tap";
import { join } from "node:path";
import { SECRET, startCollector, waitFor } from "./lib/fleet.js";
import { enrollRaw, openRawStream, readMetrics } from "./lib/raw-stream.js";

t.test("a peer that does not answer pings sees 4408; one that does stays open", async (t) => {
  const dir = t.testdir();
  const c = await startCollector(t, join(dir, "fleet.db"), { args: ["--heartbeat-seconds", "2"] });
  const mute = await enrollRaw(c.port, { hostId: "mute", enrollSecret: SECRET });
  const lively = await enrollRaw(c.port, { hostId: "lively", enrollSecret: SECRET });
  const m = await openRawStream(c.port, "mute", mute.key, { autoPong: false });
  const l = await openRawStream(c.port, "lively", lively.key);
  t.teardown(() => {
    m.ws.terminate();
    l.ws.terminate();
  });
  const closed = await m.closed;
  t.equal(closed.code, 4408, "closed with CLOSE.HEARTBEAT");
  t.match(closed.reason, /ping/);
  // The lively stream has seen at least as many pings by now.
  t.equal(l.ws.readyState, l.ws.OPEN, "the peer that answers pings is still connected");
  const metrics = await waitFor("the timeout counted", async () => {
    const x = await readMetrics(c.port);
    return x["heartbeat_timeouts"] === 1 ? x : null;
  });
  t.equal(metrics["open_connections"], 1);
  t.match(c.log.join("\n"), /"event":"stream\.heartbeat_timeout"/);
});
