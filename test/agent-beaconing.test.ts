// detectBeaconing on literal timestamp series.

import t from "tap";
import { detectBeaconing, fmt } from "oddwire-agent/classify/beaconing.js";

const T0 = 1_764_600_000_000;
const S = 1000;

/** n connections every `every` ms, each shifted by the next offset in the cycle. */
function series(n: number, every: number, offsets: number[] = [0]): number[] {
  return Array.from({ length: n }, (_, i) => T0 + i * every + offsets[i % offsets.length]!);
}

t.test("regular: every 60 s ± 2 s for 5 h", async (t) => {
  // 301 connections a minute apart, each early or late by up to 2 s.
  const times = series(301, 60 * S, [0, 2 * S, -1 * S, 1 * S, -2 * S]);
  const v = detectBeaconing(times, { destination: "203.0.113.9:443" });
  t.equal(v.beaconing, true);
  t.equal(v.intervalMs, 60 * S);
  t.equal(v.count, 301);
  t.equal(v.spanMs, 300 * 60 * S);
  t.equal(v.onBeat, 1);
  t.equal(v.jitterMs, 2 * S, "each connection within 2 s of the beat, though gaps vary by up to 4 s");
  t.equal(v.reason, "every 60 s ± 2 s for 5 h to 203.0.113.9:443 (301 connections)");

  const exact = detectBeaconing(series(10, 300 * S));
  t.same({ ...exact, reason: "" }, { beaconing: true, intervalMs: 300 * S, jitterMs: 0, count: 10, spanMs: 2700 * S, missedBeats: 0, onBeat: 1, reason: "" });
  t.equal(exact.reason, "every 5 min ± 0 ms for 45 min (10 connections)");
});

t.test("given in any order, duplicates counted once", async (t) => {
  const times = series(8, 30 * S);
  const v = detectBeaconing([...times].reverse().concat(times[3]!));
  t.equal(v.count, 8);
  t.equal(v.beaconing, true);
  t.equal(v.intervalMs, 30 * S);
});

t.test("missed beats and a stray connection do not break the rhythm", async (t) => {
  // Every 60 s, but beats 5, 6 and 12 missing, and one extra connection at 100 s.
  const times = series(20, 60 * S)
    .filter((_, i) => i !== 5 && i !== 6 && i !== 12)
    .concat(T0 + 100 * S);
  const v = detectBeaconing(times, { destination: "198.51.100.7:8443" });
  t.equal(v.beaconing, true);
  t.equal(v.intervalMs, 60 * S);
  t.equal(v.missedBeats, 3);
  t.equal(v.reason, "every 60 s ± 0 ms for 19 min to 198.51.100.7:8443 (18 connections, 3 beats missed, 2 off-beat)");
});

t.test("jittered beyond the tolerance: irregular", async (t) => {
  // Gaps of 60 s ± 20 s: a third of the interval.
  const offsets = [0, 20 * S, -15 * S, 18 * S, -20 * S, 5 * S, -12 * S];
  const v = detectBeaconing(series(30, 60 * S, offsets));
  t.equal(v.beaconing, false);
  t.match(v.reason, /^irregular: typical gap [\d.]+ s, but only \d+% of 29 gaps within ± [\d.]+ s of a multiple of it$/);
  t.equal(v.jitterMs, 0, "no jitter claimed for an irregular series");
  t.ok(v.onBeat < 0.8);
  // Within 5 s of a 60 s beat is within the default 10%.
  t.equal(detectBeaconing(series(30, 60 * S, [0, 5 * S, -4 * S, 3 * S, -5 * S])).beaconing, true);
});

t.test("random times: irregular", async (t) => {
  // A fixed linear congruential sequence: the same "random" times every run.
  let x = 12345;
  const times: number[] = [];
  let at = T0;
  for (let i = 0; i < 100; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    at += 1 * S + (x % (600 * S));
    times.push(at);
  }
  const v = detectBeaconing(times, { destination: "192.0.2.1:80" });
  t.equal(v.beaconing, false);
  t.ok(v.onBeat < 0.8);
  t.match(v.reason, /^irregular: .* to 192\.0\.2\.1:80, but only/);
});

t.test("too few, a burst, and long sessions are not beacons", async (t) => {
  t.same(detectBeaconing([]), {
    beaconing: false,
    intervalMs: 0,
    jitterMs: 0,
    count: 0,
    spanMs: 0,
    missedBeats: 0,
    onBeat: 0,
    reason: "only 0 connections; at least 6 are needed to call a rhythm",
  });
  t.equal(detectBeaconing([T0]).reason, "only 1 connection; at least 6 are needed to call a rhythm");
  const five = detectBeaconing(series(5, 60 * S), { destination: "203.0.113.9:443" });
  t.equal(five.beaconing, false);
  t.equal(five.intervalMs, 60 * S, "the interval is still measured");
  t.equal(five.reason, "only 5 connections to 203.0.113.9:443; at least 6 are needed to call a rhythm");
  t.equal(detectBeaconing(series(5, 60 * S), { minCount: 5 }).beaconing, true);

  const burst = detectBeaconing(series(50, 100));
  t.equal(burst.beaconing, false);
  t.equal(burst.reason, "connections 100 ms apart are a burst, not a rhythm (floor 1 s)");

  const durations = Array.from({ length: 10 }, () => 45 * S);
  const sessions = detectBeaconing(series(10, 60 * S), { destination: "203.0.113.9:22" }, durations);
  t.equal(sessions.beaconing, false);
  t.equal(sessions.reason, "regular every 60 s to 203.0.113.9:22, but connections last 45 s (median): a long-lived session, not short calls");
  t.equal(
    detectBeaconing(
      series(10, 60 * S),
      {},
      durations.map(() => 200),
    ).beaconing,
    true,
    "200 ms calls every minute",
  );
});

t.test("durations in words", async (t) => {
  t.same([fmt(250), fmt(2000), fmt(1500), fmt(90 * S), fmt(300 * S), fmt(5 * 3600 * S), fmt(3 * 86400 * S)], ["250 ms", "2 s", "1.5 s", "90 s", "5 min", "5 h", "3 d"]);
});
