// Slow-header and half-open connections cannot hold the collector's
// descriptors for long: a client that sends half a request line, or nothing
// at all, is closed after --request-timeout-seconds, counted in /metrics and
// logged (once per window, not once per connection).

import t from "tap";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { SECRET, startCollector, waitFor } from "./lib/fleet.js";
import { enrollRaw, openRawStream, readMetrics, smallBatch } from "./lib/raw-stream.js";

function rawSocket(port: number): Promise<{ socket: Socket; closed: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.on("data", (d) => (received += d));
    socket.on("error", () => undefined);
    const closed = new Promise<string>((r) => socket.on("close", () => r(received)));
    socket.once("connect", () => resolve({ socket, closed }));
    socket.once("error", reject);
  });
}

t.test("half-sent and silent connections are closed after the request timeout, counted and logged", async (t) => {
  const dir = t.testdir();
  const c = await startCollector(t, join(dir, "fleet.db"), { args: ["--request-timeout-seconds", "1"] });
  const sockets = await Promise.all(Array.from({ length: 20 }, () => rawSocket(c.port)));
  t.teardown(() => sockets.forEach((s) => s.socket.destroy()));
  // Half a request line on most; nothing at all on the last five.
  sockets.slice(0, 15).forEach((s) => s.socket.write("GET /v1/str"));

  // Meanwhile an ordinary agent enrolls and streams.
  const e = await enrollRaw(c.port, { hostId: "ordinary", enrollSecret: SECRET });
  t.equal(e.status, 200);
  const s = await openRawStream(c.port, "ordinary", e.key);
  t.teardown(() => s.ws.terminate());
  s.sendBatch(smallBatch("ordinary", 1));
  await s.acked(1);

  const answers = await Promise.all(sockets.map((x) => x.closed));
  t.pass("the collector closed every slow connection");
  t.ok(
    answers.slice(0, 15).every((a) => a === "" || a.startsWith("HTTP/1.1 408")),
    "answered 408 or closed",
  );
  const m = await waitFor("the timeouts counted", async () => {
    const m = await readMetrics(c.port);
    return m["http_timeouts"]! >= 20 ? m : null;
  });
  t.equal(m["http_timeouts"], 20, "each one counted");
  const logged = c.log.filter((l) => l.includes('"event":"http.request_timeout"'));
  t.ok(logged.length >= 1, "logged");
  t.ok(logged.length < 20, `rate-limited: ${logged.length} lines for 20 connections`);
  t.equal(s.ws.readyState, s.ws.OPEN, "the established stream is not affected");
});
