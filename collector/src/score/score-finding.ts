// Scores one observation group (binary, protocol, transport, direction, port
// class) from 0 to 100, and says why. Pure: every count arrives as input.
//
// Evidence, in order of weight:
// 1. Rarity, conditional on the binary: of the hosts that run this binary,
//    how few show this behaviour. Needs enough hosts to mean anything
//    (confidence grows with the binary's host count; none below MIN_HOSTS).
// 2. Knowledge: the agent's tags (noisy-or of per-tag weights), damped when
//    the behaviour is common for this binary across the fleet: what most of
//    the fleet does is this fleet's normal, whatever the tag says.
// 3. Lineage: the binary runs here under a parent it rarely has elsewhere.
// 4. Novelty: first seen recently, on few hosts.
// 5. Beaconing: the agent saw these connections repeat at a steady interval
//    (the way implants call home), damped like knowledge when most hosts
//    running the binary do the same (an update check, a telemetry client).

export const MIN_HOSTS_FOR_STATS = 6;
const FULL_CONFIDENCE_HOSTS = 30;

export const TAG_WEIGHTS: Record<string, number> = {
  "shell-outbound": 0.9,
  "name-imitation": 0.9,
  "lolbin-outbound": 0.85,
  "deleted-exe": 0.8,
  "silent-binary-socket": 0.8,
  "writable-dir-exe": 0.75,
  "wire-mismatch": 0.85,
  "unexpected-protocol": 0.6,
  "wire-risk": 0.5,
  "wire-unidentified": 0.5,
  "interpreter-outbound": 0.4,
};

const W_RARITY = 0.85;
const W_LINEAGE = 0.5;
const W_NOVELTY = 0.25;
export const W_BEACON = 0.7;
const DAY = 86_400_000;

export interface GroupFacts {
  binaryName: string;
  protocol: string;
  direction: string;
  hostCount: number;
  binaryHostCount: number;
  fleetHosts: number;
  tags: string[];
  /** The agent's reason for each tag code, when known. */
  tagReasons?: Record<string, string>;
  /** Share (0..1) of this binary's processes fleet-wide that have the parent these have; null when unknown. */
  parentShare: number | null;
  parentName: string;
  firstSeenMs: number;
  nowMs: number;
  /** The steadiest beacon of this group's connection records, if any. */
  beacon?: BeaconFacts | null | undefined;
}

export interface BeaconFacts {
  intervalMs: number;
  jitterMs: number;
  count: number;
  spanMs: number;
  destination: string;
}

export interface Scored {
  score: number;
  reasons: string[];
  evidence: string[];
}

export function confidence(binaryHostCount: number): number {
  if (binaryHostCount < MIN_HOSTS_FOR_STATS) return 0;
  return Math.min(1, Math.log(binaryHostCount) / Math.log(FULL_CONFIDENCE_HOSTS));
}

export function scoreGroup(g: GroupFacts): Scored {
  // Each reason with the weight of the evidence behind it: the strongest first.
  const said: Array<{ weight: number; text: string }> = [];
  const say = (weight: number, text: string) => said.push({ weight, text });
  const evidence: string[] = [];
  const c = confidence(g.binaryHostCount);
  const p = g.binaryHostCount > 0 ? Math.min(1, g.hostCount / g.binaryHostCount) : 1;
  const what = `${g.binaryName} ${g.direction === "listen" ? "listening for" : g.direction === "inbound" ? "accepting" : "speaking"} ${g.protocol}`;

  const rarity = c * (1 - p);
  const commonness = c * p;
  if (c > 0) {
    if (rarity >= 0.3) {
      evidence.push("rarity");
      say(W_RARITY * rarity, `${what} on ${g.hostCount} of the ${g.binaryHostCount} hosts that run ${g.binaryName} (${pct(p)})`);
    }
  } else if (g.fleetHosts <= 5) {
    say(0, `fleet of ${g.fleetHosts} host${g.fleetHosts === 1 ? "" : "s"}: no fleet statistics, the built-in knowledge carries the score`);
  } else {
    say(0, `${g.binaryName} runs on only ${g.binaryHostCount} host${g.binaryHostCount === 1 ? "" : "s"}: too few to say what is normal for it`);
  }

  let k = 0;
  for (const tag of g.tags) k = 1 - (1 - k) * (1 - (TAG_WEIGHTS[tag] ?? 0.3));
  const knowledge = k * (1 - commonness);
  if (knowledge >= 0.2) {
    evidence.push("knowledge");
    const byWeight = [...g.tags].sort((a, b) => (TAG_WEIGHTS[b] ?? 0.3) - (TAG_WEIGHTS[a] ?? 0.3));
    const top = byWeight[0]!;
    const reason = g.tagReasons?.[top];
    const others = byWeight.slice(1);
    say(knowledge, `${reason ? `agent (${top}): ${reason}` : `agent tags: ${top}`}${others.length ? `; also tagged ${others.join(", ")}` : ""}`);
  } else if (k > 0 && commonness > 0.5) {
    say(0, `tagged ${g.tags.join(", ")}, but ${pct(p)} of the hosts running ${g.binaryName} do this: this fleet's normal`);
  }

  const lineage = g.parentShare !== null && g.parentShare < 0.1 && g.binaryHostCount >= 3 ? (1 - g.parentShare) * Math.max(c, 0.5) : 0;
  if (lineage > 0) {
    evidence.push("lineage");
    say(W_LINEAGE * lineage, `runs under ${g.parentName}, the parent of only ${pct(g.parentShare!)} of ${g.binaryName} processes across the fleet`);
  }

  const age = g.nowMs - g.firstSeenMs;
  const novelty = age < DAY && g.hostCount <= 3 && g.fleetHosts > 5 ? (1 - age / DAY) * (1 - p * c) : 0;
  if (novelty >= 0.2) {
    evidence.push("novelty");
    const minutes = Math.max(1, Math.round(age / 60000));
    say(W_NOVELTY * novelty, `first seen ${minutes} minute${minutes === 1 ? "" : "s"} ago, on ${g.hostCount} host${g.hostCount === 1 ? "" : "s"}`);
  }
  let beaconing = 0;
  if (g.beacon) {
    const b = g.beacon;
    const rhythm = `beacons every ${duration(b.intervalMs)} ± ${duration(b.jitterMs)} for ${duration(b.spanMs)} to ${b.destination} (${b.count} connection${b.count === 1 ? "" : "s"})`;
    beaconing = W_BEACON * (1 - commonness);
    if (beaconing >= 0.2) {
      evidence.push("beaconing");
      say(beaconing, rhythm);
    } else {
      beaconing = 0;
      say(0, `${rhythm}, but ${pct(p)} of the hosts running ${g.binaryName} do this: this fleet's normal`);
    }
  }
  const reasons = said.sort((a, b) => b.weight - a.weight).map((r) => r.text);

  const combined = 1 - (1 - W_RARITY * rarity) * (1 - knowledge) * (1 - W_LINEAGE * lineage) * (1 - W_NOVELTY * novelty) * (1 - beaconing);
  return { score: Math.round(combined * 1000) / 10, reasons, evidence };
}

/** A duration as people say it: "500 ms", "60 s", "15 min", "5 h", "3 d". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 2 * DAY) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / DAY)} d`;
}

function pct(x: number): string {
  const v = x * 100;
  return `${v < 1 && v > 0 ? v.toFixed(1) : Math.round(v)}%`;
}
