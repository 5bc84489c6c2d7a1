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
// 5. New for this host: the first time this binary spoke this protocol on a
//    host that has reported for a while (beside "rare in the fleet").
// 6. Beaconing: the agent saw these connections repeat at a steady interval
//    (the way implants call home), damped like knowledge when most hosts
//    running the binary do the same (an update check, a telemetry client).
//
// Where the knowledge base says the binary normally speaks this protocol and
// nothing is tagged, rarity counts for little: a mail client on its mail
// ports on a quarter of the fleet is not a finding.
//
// 6. Network sensor evidence: a Zeek or Suricata anomaly, alert or protocol
//    mismatch on a flow joined to these processes (its own weight), damped
//    like knowledge when the behaviour is common.

export const MIN_HOSTS_FOR_STATS = 6;
const SITE_NEVER = "site-never";
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
  "bind-shell": 0.9,
  "suspicious-command": 0.85,
  "suspicious-destination": 0.8,
  "tool-listen": 0.55,
  "new-unpackaged-exe": 0.45,
  // The site's own knowledge said never: not damped by how common it is.
  "site-never": 0.9,
  // unknown-binary-public: see tagWeight (it depends on the port).
};

/** An unknown binary reaching the internet on a registered protocol (a vendor's updater) weighs less than one on an unregistered port. */
const UNKNOWN_PUBLIC_WEIGHT = { registered: 0.35, unregistered: 0.6 };
/** Rarity's weight where knowledge says the behaviour is normal and nothing is tagged. */
const KNOWN_NORMAL_RARITY = 0.1;
const W_HOST_NOVELTY = 0.35;

const W_RARITY = 0.85;
const W_LINEAGE = 0.5;
const W_NOVELTY = 0.25;
export const W_BEACON = 0.7;
export const W_SENSOR = 0.9;
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
  /** The knowledge base says this binary normally speaks this protocol in this direction. */
  knownNormal?: boolean;
  /** The host where this is newest, when it is new there but the host has reported for a while. */
  newOnHost?: { hostname: string; firstSeenMs: number; hostSinceMs: number } | null;
  /** The steadiest beacon of this group's connection records, if any. */
  beacon?: BeaconFacts | null | undefined;
  /**
   * What the wire showed for this group's traffic (agent --dpi), where known:
   * rarity is then over the binary and that protocol, on how many of the
   * binary's hosts its traffic was this protocol whatever the port.
   */
  wire?: { protocol: string; hostCount: number } | null | undefined;
  /** The strongest network sensor evidence joined to this group (weight 0..1, its text), if any. */
  sensor?: { weight: number; text: string } | null | undefined;
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

export function tagWeight(tag: string, protocol: string): number {
  if (tag === "unknown-binary-public") return protocol === "unknown" ? UNKNOWN_PUBLIC_WEIGHT.unregistered : UNKNOWN_PUBLIC_WEIGHT.registered;
  return TAG_WEIGHTS[tag] ?? 0.3;
}

export function scoreGroup(g: GroupFacts): Scored {
  // Each reason with the weight of the evidence behind it: the strongest first.
  const said: Array<{ weight: number; text: string }> = [];
  const say = (weight: number, text: string) => said.push({ weight, text });
  const evidence: string[] = [];
  const c = confidence(g.binaryHostCount);
  // Rarity is over what the traffic was where the wire showed it, else over what the port implies.
  const wire = g.wire?.protocol ? g.wire : null;
  const hostCount = wire ? Math.max(1, wire.hostCount) : g.hostCount;
  const p = g.binaryHostCount > 0 ? Math.min(1, hostCount / g.binaryHostCount) : 1;
  const verb = g.direction === "listen" ? "listening for" : g.direction === "inbound" ? "accepting" : "speaking";
  const what = wire ? `${g.binaryName} ${verb} ${wire.protocol} by its traffic (port says ${g.protocol})` : `${g.binaryName} ${verb} ${g.protocol}`;

  const normal = g.knownNormal === true && g.tags.length === 0;
  const rarity = c * (1 - p) * (normal ? KNOWN_NORMAL_RARITY : 1);
  const commonness = c * p;
  if (c > 0) {
    if (normal && c * (1 - p) >= 0.3) {
      say(
        0,
        `${what} on ${hostCount} of the ${g.binaryHostCount} hosts that run ${g.binaryName} (${pct(p)}); knowledge says ${g.binaryName} normally does this, so rarity alone counts for little`,
      );
    } else if (rarity >= 0.3) {
      evidence.push("rarity");
      say(W_RARITY * rarity, `${what} on ${hostCount} of the ${g.binaryHostCount} hosts that run ${g.binaryName} (${pct(p)})`);
    }
  } else if (g.fleetHosts <= 5) {
    say(0, `fleet of ${g.fleetHosts} host${g.fleetHosts === 1 ? "" : "s"}: no fleet statistics, the built-in knowledge carries the score`);
  } else {
    say(0, `${g.binaryName} runs on only ${g.binaryHostCount} host${g.binaryHostCount === 1 ? "" : "s"}: too few to say what is normal for it`);
  }

  let other = 0;
  for (const tag of g.tags) if (tag !== SITE_NEVER) other = 1 - (1 - other) * (1 - tagWeight(tag, g.protocol));
  const siteNever = g.tags.includes(SITE_NEVER) ? tagWeight(SITE_NEVER, g.protocol) : 0;
  const k = 1 - (1 - other) * (1 - siteNever);
  // What most of the fleet does is its normal, unless the site said never.
  const knowledge = 1 - (1 - other * (1 - commonness)) * (1 - siteNever);
  if (knowledge >= 0.2) {
    evidence.push("knowledge");
    const byWeight = [...g.tags].sort((a, b) => tagWeight(b, g.protocol) - tagWeight(a, g.protocol));
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
  let hostNovelty = 0;
  if (g.newOnHost && g.hostCount <= 3) {
    const n = g.newOnHost;
    const age = g.nowMs - n.firstSeenMs;
    const history = n.firstSeenMs - n.hostSinceMs;
    if (age < 7 * DAY && history >= DAY) {
      hostNovelty = (1 - age / (7 * DAY)) * (1 - p * c);
      evidence.push("new-on-host");
      say(W_HOST_NOVELTY * hostNovelty, `new for ${n.hostname}: first seen there ${duration(age)} ago, though it has reported for ${duration(history)} before that`);
    }
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
  let sensor = 0;
  if (g.sensor && g.sensor.weight > 0) {
    sensor = W_SENSOR * g.sensor.weight * (1 - commonness);
    if (sensor >= 0.1) {
      evidence.push("sensor");
      say(sensor, g.sensor.text);
    } else {
      sensor = 0;
      say(0, `${g.sensor.text}, but ${pct(p)} of the hosts running ${g.binaryName} do this: this fleet's normal`);
    }
  }
  const reasons = said.sort((a, b) => b.weight - a.weight).map((r) => r.text);

  const combined =
    1 - (1 - W_RARITY * rarity) * (1 - knowledge) * (1 - W_LINEAGE * lineage) * (1 - W_NOVELTY * novelty) * (1 - W_HOST_NOVELTY * hostNovelty) * (1 - beaconing) * (1 - sensor);
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
