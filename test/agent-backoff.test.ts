// Reconnect backoff on outcomes, not on connects: a collector that says
// Welcome and then closes the stream (database error 1011) every time must
// see the agent's delays grow, not a reconnect storm. Real WebSocket server
// on 127.0.0.1; the random source and the clock are injected so that nothing
// here depends on wall time.

import t from "tap";
import { oddwire } from "@oddwire/proto";
import { createLogger } from "@oddwire/shared";
import { Backoff } from "oddwire-agent/transport/backoff.js";
import { MemoryQueue } from "oddwire-agent/transport/batch-queue.js";
import { StreamClient } from "oddwire-agent/transport/stream-client.js";
import { waitFor } from "./lib/fleet.js";
import { ackFrame, startStubCollector, welcomeFrame } from "./lib/stub-collector.js";

/** Backoff with the ceiling always drawn (random = 1), recording each delay. */
class RecordingBackoff extends Backoff {
  readonly delays: number[] = [];
  constructor(base: number) {
    super(base, 60_000, () => 1);
  }
  override next(): number {
    const d = super.next();
    this.delays.push(d);
    return d;
  }
}

const quiet = createLogger({ name: "test", level: "error", write: () => {} });

function batchBytes(): Uint8Array {
  return oddwire.v1.Batch.encode({ full: true, snapshot: { hostId: "h", os: "linux" } }).finish();
}

t.test("Backoff keeps full jitter under the exponential ceiling", async (t) => {
  const draws = [0.5, 0.5, 0.5, 0, 0.999, 0.5];
  const b = new Backoff(100, 1000, () => draws.shift()!);
  t.same([b.next(), b.next(), b.next(), b.next(), b.next()], [50, 100, 200, 0, 999], "random × min(cap, base × 2^n)");
  b.reset();
  t.equal(b.next(), 50, "back to the base ceiling after a reset");
});

t.test("Welcome then close 1011, every time: the delays grow", async (t) => {
  const server = await startStubCollector(t, {
    stream(ws) {
      ws.send(welcomeFrame(0));
      ws.close(1011, "database error");
    },
  });
  const backoff = new RecordingBackoff(5);
  const client = new StreamClient({ collector: server.url, hostId: "storm-1", queue: new MemoryQueue(), getKey: async () => "key", log: quiet, backoff });
  t.teardown(() => client.stop());
  client.start();
  const attempts = 7;
  await waitFor(`${attempts} streams`, () => server.streams >= attempts, 30_000, 5);
  await client.stop();
  t.equal(server.upgrades.length, server.streams, "every connect was a stream that got Welcome");
  t.same(backoff.delays.slice(0, attempts - 1), [5, 10, 20, 40, 80, 160], "each close after Welcome doubles the ceiling (no reset on Welcome)");
});

t.test("an acknowledged batch is progress: the backoff starts again", async (t) => {
  const server = await startStubCollector(t, {
    stream(ws, n) {
      ws.send(welcomeFrame(0));
      if (n !== 2) return void ws.close(1011, "database error");
      // The third stream takes the batch, acknowledges it, then fails.
      ws.on("message", (data) => {
        const msg = oddwire.v1.AgentMessage.decode(data as Buffer);
        if (msg.batch) {
          ws.send(ackFrame(Number(msg.batch.seq)));
          ws.close(1011, "database error");
        }
      });
    },
  });
  const queue = new MemoryQueue();
  queue.enqueue(batchBytes());
  const backoff = new RecordingBackoff(5);
  const client = new StreamClient({ collector: server.url, hostId: "storm-2", queue, getKey: async () => "key", log: quiet, backoff });
  t.teardown(() => client.stop());
  client.start();
  await waitFor("5 streams", () => server.streams >= 5, 30_000, 5);
  await client.stop();
  t.equal(queue.pending, 0, "the batch was acknowledged");
  t.same(backoff.delays.slice(0, 4), [5, 10, 5, 10], "reset after the ack, growing again after");
});

t.test("a stream that stayed healthy long enough resets the backoff (injected clock)", async (t) => {
  let now = 1_000_000;
  const server = await startStubCollector(t, {
    stream(ws, n) {
      ws.send(welcomeFrame(0));
      if (n !== 2) return void ws.close(1013, "overloaded");
      // The third stream "lasts" two minutes by the injected clock: the agent
      // has processed Welcome once its batch arrives.
      ws.once("message", () => {
        now += 120_000;
        ws.close(1013, "overloaded");
      });
    },
  });
  const queue = new MemoryQueue();
  queue.enqueue(batchBytes());
  const backoff = new RecordingBackoff(5);
  const client = new StreamClient({ collector: server.url, hostId: "storm-3", queue, getKey: async () => "key", log: quiet, backoff, healthyAfterMs: 60_000, now: () => now });
  t.teardown(() => client.stop());
  client.start();
  await waitFor("5 streams", () => server.streams >= 5, 30_000, 5);
  await client.stop();
  t.equal(queue.pending, 1, "nothing was acknowledged");
  t.same(backoff.delays.slice(0, 4), [5, 10, 5, 10]);
});
