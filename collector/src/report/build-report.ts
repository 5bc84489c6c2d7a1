// Builds the fleet rarity report from the store: groups observations by
// (binary, protocol, transport, direction, port class), scores every group,
// then looks closer (lineage, hosts, command lines, ancestry) only at the
// best candidates, so the report stays fast on large fleets.
//
// A process seen only through connection records (events: it may have lived
// two seconds) is shown like any other: each host's pid, command line, user
// and ancestry come from its latest connection record in the group when
// there is one, ahead of a live process of the same binary.

import { binaryKey, formatAncestry, type KnowledgeBase, knowledgeBase, MAX_ANCESTRY_DEPTH, siteNormalFor } from "@oddwire/shared";
import { platformOf } from "../store/hosts.js";
import type { GroupRow, ReportFilter, ReportQueries } from "../store/report-queries.js";
import { scoreGroup, type BeaconFacts } from "../score/score-finding.js";
import { buildPersonaSection } from "../persona/persona-section.js";
import { MAX_VISIBILITY_HOSTS, readVisibility } from "./fleet-visibility.js";
import { activeRules, matchSuppression } from "./suppressions.js";
import { jsonStringList } from "../store/json-list.js";
import type { PersonaStore } from "../store/personas.js";
import type { SuppressionStore } from "../store/suppressions.js";
import { readSensorEvidence } from "./sensor-report.js";
import type { SensorStore } from "../store/sensor-evidence.js";
import type { Finding, Report, ReportHost } from "./report-types.js";

export interface ReportOptions {
  nowMs: number;
  top: number;
  /** Only observations seen at or after this time. */
  sinceMs?: number | undefined;
  host?: string | undefined;
  binary?: string | undefined;
  protocol?: string | undefined;
  tag?: string | undefined;
  /** Only findings whose flows carried this destination name (".example.com": any name under it). */
  dest?: string | undefined;
  minScore?: number | undefined;
  showSuppressed?: boolean | undefined;
  hostsPerFinding?: number | undefined;
  /** The knowledge that says what is normal (default: the built-in knowledge base; with a site's, its "normal" entries count too). */
  kb?: KnowledgeBase | undefined;
}

const PORT_CLASSES = ["well-known", "registered", "dynamic"] as const;
const BUCKETS = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1];
const LINEAGE_SAMPLE = 10;
const PORT_RANGES = [
  [0, 1023],
  [1024, 49151],
  [49152, 65535],
] as const;
/** Beaconing connection records read per report at most (beacons are few; this bounds a hostile flood). */
const MAX_BEACON_ROWS = 10_000;

/** What the report reads: its queries and the allow rules. */
export interface ReportSource {
  reports: ReportQueries;
  suppressions: SuppressionStore;
  personas: PersonaStore;
  sensors: SensorStore;
}

export async function buildReport(src: ReportSource, o: ReportOptions): Promise<Report> {
  const q = src.reports;
  const filter = { sinceMs: o.sinceMs ?? 0, protocol: o.protocol, binary: o.binary, host: o.host };
  const fleet = await q.fleet();
  const binaryHosts = fleet.binaryHosts;
  const groups = await q.groups(filter, fleet.revoked > 0);

  const beacons = await beaconsByGroup(q, filter);
  // Network sensor evidence (Zeek, Suricata) joined to the processes behind its flows, by group.
  const sensors = await readSensorEvidence(src.sensors, o.sinceMs ?? 0);
  const groupKey = (g: { binary: string; protocol: string; transport: string; direction: string; pc: number }) =>
    `${g.binary}\0${g.protocol}\0${g.transport}\0${g.direction}\0${g.pc}`;
  const fleetHosts = fleet.hosts;
  const prevalence = BUCKETS.slice(0, -1).map((from, i) => ({ from, to: BUCKETS[i + 1]!, groups: 0 }));
  const scored = groups.map((g) => {
    const binaryHostCount = Math.max(binaryHosts.get(g.binary) ?? 0, g.hosts);
    const share = g.hosts / binaryHostCount;
    const bucket = prevalence.find((b) => share < b.to) ?? prevalence[prevalence.length - 1]!;
    bucket.groups++;
    const { codes: tags, reasons: tagReasons } = parseTags(g.tags);
    g.binary_name = nameOf(g.binary);
    const facts = {
      knownNormal: knownNormal(o.kb ?? knowledgeBase(), g.binary, g.binary_name, g.protocol, g.direction),
      binaryName: g.binary_name,
      protocol: g.protocol,
      direction: g.direction,
      hostCount: g.hosts,
      binaryHostCount,
      fleetHosts,
      tags,
      tagReasons,
      parentShare: null,
      parentName: "",
      firstSeenMs: g.first_seen,
      nowMs: o.nowMs,
      beacon: beacons.get(groupKey(g)) ?? null,
      sensor: sensors?.byGroup.get(groupKey(g))?.strongest ?? null,
    };
    return { g, binaryHostCount, tags, facts, first: scoreGroup(facts) };
  });

  // Lineage and details only for the best candidates; filters that can be
  // applied before the cut are, so they never hide a finding below it.
  const suppressions = activeRules(await src.suppressions.active(o.nowMs));
  const pool = scored.filter(
    (c) =>
      (!o.tag || c.tags.includes(o.tag)) &&
      (o.showSuppressed ||
        !suppressions.some(
          (r) => r.hosts === "*" && (r.binary === c.g.binary || r.binary.toLowerCase() === c.g.binary_name.toLowerCase()) && (r.protocol === "*" || r.protocol === c.g.protocol),
        )),
  );
  pool.sort((a, b) => b.first.score - a.first.score);
  const candidates = pool.slice(0, Math.max(o.top * 3, o.top + 50));
  const findings: Finding[] = [];
  const hostFilter: HostFilter = { sinceMs: o.sinceMs ?? 0, host: o.host ?? null };
  const parentCache = new Map<string, Array<{ parent: string; n: number }>>();
  const finalists: Array<{ c: (typeof candidates)[number]; finding: Finding }> = [];
  for (const c of candidates) {
    const { g } = c;
    const identity = await q.identity(g.binary);
    Object.assign(g, identity ?? {});
    c.facts.binaryName = g.binary_name;
    // A sample of hosts is enough to judge lineage; the full list is read for the findings shown.
    const detail = await hostsOf(q, g, LINEAGE_SAMPLE, hostFilter);
    // Lineage matters for rare behaviour; for common behaviour the parent is the usual one.
    const parent = c.g.hosts / c.binaryHostCount <= 0.25 ? await lineageOf(q, g.binary, detail.parentBinaries, parentCache) : null;
    const wireFacts = await wireOf(q, g);
    // Rarity over the binary and what the wire shows: on how many of the binary's hosts its traffic was this protocol, whatever the port.
    const wireHosts = wireFacts.wireProtocol ? await q.wireHosts(g.binary, wireFacts.wireProtocol) : 0;
    const wire = wireFacts.wireProtocol ? { protocol: wireFacts.wireProtocol, hostCount: wireHosts } : null;
    const s = scoreGroup({ ...c.facts, parentShare: parent?.share ?? null, parentName: parent?.name ?? "", newOnHost: await newOnHost(q, detail.hosts), wire });
    const suppression = matchSuppression(
      suppressions,
      g.binary,
      g.binary_name,
      g.protocol,
      detail.hosts.map((h) => h.hostId),
    );
    if (suppression && !o.showSuppressed) continue;
    if (o.tag && !c.tags.includes(o.tag)) continue;
    if (o.minScore !== undefined && s.score < o.minScore) continue;
    // Where the fleet is too small for rarity to speak (or it is common), the wire's share is still said.
    const wireReason =
      wireFacts.wireProtocol && !s.evidence.includes("rarity")
        ? [
            `the wire showed ${wireFacts.wireProtocol} from ${g.binary_name} on ${wireHosts} of the ${c.binaryHostCount} ${c.binaryHostCount === 1 ? "host that runs" : "hosts that run"} it (port says ${g.protocol})`,
          ]
        : [];
    if (o.dest && !wireFacts.destinationNames.some((n) => nameMatches(n, o.dest!))) continue;
    const finding: Finding = {
      rank: 0,
      score: s.score,
      binary: { name: g.binary_name, path: detail.exe || g.exe || g.binary, sha256: detail.sha256 || g.sha256 },
      protocol: g.protocol,
      wireProtocol: wireFacts.wireProtocol,
      risks: wireFacts.risks,
      destinationNames: wireFacts.destinationNames,
      transport: g.transport,
      port: mostCommonPort(detail.hosts) ?? g.port,
      portClass: PORT_CLASSES[g.pc]!,
      direction: g.direction,
      hostCount: g.hosts,
      binaryHostCount: c.binaryHostCount,
      reasons: [...s.reasons, ...wireReason],
      evidence: [...s.evidence, ...(sensors?.byGroup.get(groupKey(g))?.entries ?? []).filter((e) => !o.host || e.hostId === o.host || e.hostname === o.host)],
      tags: c.tags,
      firstSeenMs: g.first_seen,
      lastSeenMs: g.last_seen,
      suppressed: suppression ?? null,
      beacon: c.facts.beacon ?? null,
      hosts: detail.hosts,
    };
    findings.push(finding);
    finalists.push({ c, finding });
  }
  findings.sort((a, b) => b.score - a.score || a.hostCount - b.hostCount || a.binary.name.localeCompare(b.binary.name));
  const top = findings.slice(0, o.top);
  const limit = o.hostsPerFinding ?? 50;
  for (const [i, f] of top.entries()) {
    f.rank = i + 1;
    const g = finalists.find((x) => x.finding === f)!.c.g;
    if (g.hosts > LINEAGE_SAMPLE && limit > LINEAGE_SAMPLE) {
      f.hosts = (await hostsOf(q, g, limit, hostFilter)).hosts;
      f.port = mostCommonPort(f.hosts) ?? f.port;
    }
  }
  const personas = await buildPersonaSection(src, o.nowMs, top);
  return {
    generatedAt: new Date(o.nowMs).toISOString(),
    fleet: { hosts: fleetHosts, byOs: fleet.byOs, binaries: binaryHosts.size, observations: fleet.observations, smallFleet: fleetHosts <= 5 },
    prevalence,
    visibility: readVisibility(await q.visibility(MAX_VISIBILITY_HOSTS)),
    ...(sensors && { sensors: sensors.summary }),
    filters: Object.fromEntries(
      Object.entries({
        top: o.top,
        since: o.sinceMs ? new Date(o.sinceMs).toISOString() : undefined,
        host: o.host,
        binary: o.binary,
        protocol: o.protocol,
        tag: o.tag,
        dest: o.dest,
        minScore: o.minScore,
        showSuppressed: o.showSuppressed,
      }).filter(([, v]) => v !== undefined && v !== false),
    ) as Record<string, string | number | boolean>,
    findings: top,
    personas,
  };
}

/** Tag codes and, for each, the first reason an agent gave. */
function parseTags(concatenated: string | null): { codes: string[]; reasons: Record<string, string> } {
  const reasons: Record<string, string> = {};
  if (concatenated) {
    // group_concat joins JSON arrays with commas: "[..],[..]" is a JSON array of arrays once bracketed.
    try {
      for (const list of JSON.parse(`[${concatenated}]`) as Array<Array<{ code: string; reason?: string }>>) {
        for (const t of list) if (!(t.code in reasons)) reasons[t.code] = t.reason ?? "";
      }
    } catch {
      // a malformed tags value is ignored, not fatal
    }
  }
  return { codes: Object.keys(reasons).sort(), reasons };
}

type Queries = ReportQueries;

interface HostFilter {
  sinceMs: number;
  host: string | null;
}

async function hostsOf(q: Queries, g: GroupRow, limit: number, f: HostFilter): Promise<{ hosts: ReportHost[]; parentBinaries: string[]; exe: string; sha256: string }> {
  const [lo, hi] = PORT_RANGES[g.pc]!;
  const byHost = new Map<string, { host_id: string; hostname: string; first_seen: number; last_seen: number; ports: number[] }>();
  for (const r of await q.obsHosts(g, lo, hi, f, limit * 4)) {
    const h = byHost.get(r.host_id);
    if (h) {
      h.first_seen = Math.min(h.first_seen, r.first_seen);
      h.last_seen = Math.max(h.last_seen, r.last_seen);
      h.ports.push(r.port);
    } else if (byHost.size < limit) {
      byHost.set(r.host_id, {
        host_id: r.host_id,
        hostname: "",
        first_seen: r.first_seen,
        last_seen: r.last_seen,
        ports: [r.port],
      });
    }
  }
  const rows = [...byHost.values()].sort((a, b) => b.last_seen - a.last_seen);
  for (const r of rows) r.hostname = (await q.hostname(r.host_id)) ?? "";
  const parentBinaries: string[] = [];
  let exe = "";
  let sha256 = "";
  const hosts: ReportHost[] = [];
  for (const r of rows) {
    const conn = await q.connection(r.host_id, g, lo, hi);
    let proc: { pid: number; ppid: number; cmdline: string; user: string } | undefined;
    let ancestry = "";
    if (conn) {
      // The newest host first: its connection's process names the binary's path.
      if (!exe) exe = conn.exe;
      if (!sha256) sha256 = conn.sha256;
      const parents = jsonStringList(conn.ancestry);
      if (parents[0]) parentBinaries.push(binaryKey(parents[0], "", ""));
      ancestry = [...parents]
        .reverse()
        .concat(`${conn.name || baseName(conn.exe)}(${conn.pid})`)
        .join(" > ");
      proc = { pid: conn.pid, ppid: 0, cmdline: conn.cmdline, user: conn.user };
    } else {
      // Only the process that holds such a socket now: when it has exited the row says so (pid 0),
      // rather than naming another process of the same binary that was not behind the finding.
      proc = await q.liveProcess(r.host_id, g);
      if (proc) {
        const chain: Array<{ pid: number; ppid: number; name: string }> = [];
        let cur = await q.byPid(r.host_id, proc.pid);
        const seen = new Set<number>();
        while (cur && !seen.has(cur.pid) && chain.length < MAX_ANCESTRY_DEPTH) {
          chain.push(cur);
          seen.add(cur.pid);
          if (cur.ppid <= 2) break;
          cur = await q.byPid(r.host_id, cur.ppid);
        }
        ancestry = formatAncestry(chain.reverse());
        const parent = await q.byPid(r.host_id, proc.ppid);
        if (parent) parentBinaries.push(parent.binary);
      }
    }
    const live = proc;
    const f = await q.facts(r.host_id);
    hosts.push({
      hostId: r.host_id,
      hostname: r.hostname,
      platform: f
        ? platformOf({
            distro: f.distro,
            release: f.os_release,
            kernel: f.kernel,
            virtualization: f.virtualization,
            hardwareVendor: f.hardware_vendor,
            hardwareModel: f.hardware_model,
          })
        : "",
      pid: live?.pid ?? 0,
      cmdline: live?.cmdline ?? "",
      user: live?.user ?? "",
      ancestry,
      firstSeenMs: r.first_seen,
      lastSeenMs: r.last_seen,
      ports: [...new Set(r.ports)].sort((a, b) => a - b),
    });
  }
  return { hosts, parentBinaries, exe, sha256 };
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

/**
 * The steadiest beacon of each observation group (binary, protocol,
 * transport, direction, port class) among connection records inside the
 * report's filters: most connections first, then the latest.
 */
async function beaconsByGroup(q: Queries, f: ReportFilter): Promise<Map<string, BeaconFacts>> {
  const rows = await q.beacons(f, MAX_BEACON_ROWS);
  const out = new Map<string, BeaconFacts>();
  for (const r of rows) {
    const key = `${r.binary}\0${r.protocol}\0${r.transport}\0${r.direction}\0${r.pc}`;
    if (out.has(key)) continue;
    const port = r.direction === "inbound" ? r.local_port : r.remote_port;
    const address = r.remote_address.includes(":") ? `[${r.remote_address}]` : r.remote_address;
    out.set(key, {
      intervalMs: r.intervalMs,
      jitterMs: r.jitterMs,
      count: r.count,
      spanMs: r.spanMs,
      destination: r.direction === "inbound" ? `port ${port} from ${address}` : `${address}:${port}`,
    });
  }
  return out;
}

/** The usual parent of these processes, and its share among all of the binary's processes fleet-wide. */
async function lineageOf(q: Queries, binary: string, parents: string[], cache: Map<string, Array<{ parent: string; n: number }>>): Promise<{ name: string; share: number } | null> {
  if (parents.length === 0) return null;
  const counts = new Map<string, number>();
  for (const p of parents) counts.set(p, (counts.get(p) ?? 0) + 1);
  const [parent] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  let fleet = cache.get(binary);
  if (!fleet) cache.set(binary, (fleet = await q.parents(binary)));
  const total = fleet.reduce((s, r) => s + r.n, 0);
  const mine = fleet.find((r) => r.parent === parent)?.n ?? 0;
  if (total === 0) return null;
  const name = parent.split(/[\\/]/).pop() || parent;
  return { name, share: mine / total };
}

/**
 * The knowledge base says this binary normally speaks this protocol this way
 * (shells, interpreters and tools that may speak anything are never "normal"
 * by the built-in knowledge alone), or the site's knowledge lists it as normal.
 */
function knownNormal(kb: KnowledgeBase, binary: string, binaryName: string, protocol: string, direction: string): boolean {
  if (kb.site && siteNormalFor(kb.site, binary.startsWith("name:") ? "" : binary, binaryName, protocol, direction)) return true;
  const profile = kb.lookup(binaryName);
  if (!profile || ["silent", "shell", "interpreter", "tool", "lolbin"].includes(profile.class)) return false;
  const set = direction === "outbound" ? profile.outbound : profile.listens;
  return set === "*" || set.has(protocol);
}

/** The host where the group's behaviour is newest, with when that host began reporting. */
async function newOnHost(q: Queries, hosts: readonly ReportHost[]): Promise<{ hostname: string; firstSeenMs: number; hostSinceMs: number } | null> {
  let best: ReportHost | undefined;
  for (const h of hosts) if (!best || h.firstSeenMs > best.firstSeenMs) best = h;
  if (!best) return null;
  const since = await q.hostSince(best.hostId);
  return since == null ? null : { hostname: best.hostname || best.hostId, firstSeenMs: best.firstSeenMs, hostSinceMs: since };
}

/** A binary key's last path element ("name:x" keys are names already). */
function nameOf(binary: string): string {
  if (binary.startsWith("name:")) return binary.slice(5);
  return binary.split(/[\\/]/).pop() || binary;
}

function mostCommonPort(hosts: ReportHost[]): number | undefined {
  const counts = new Map<number, number>();
  for (const h of hosts) for (const p of h.ports) counts.set(p, (counts.get(p) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0];
}

/** Flow rows read per finding for its wire facts (the most recent). */
const WIRE_SAMPLE = 500;
const MAX_NAMES = 50;

/**
 * What the wire showed for a finding's flows (agent --dpi): the protocol
 * seen most ("" when none was identified), every risk, the destination names.
 */
async function wireOf(q: Queries, g: GroupRow): Promise<{ wireProtocol: string; risks: string[]; destinationNames: string[] }> {
  const [lo, hi] = PORT_RANGES[g.pc]!;
  const rows = await q.flows(g, lo, hi, WIRE_SAMPLE);
  const seen = new Map<string, number>();
  const risks = new Set<string>();
  const names = new Set<string>();
  for (const r of rows) {
    if (r.wire_protocol) seen.set(r.wire_protocol, (seen.get(r.wire_protocol) ?? 0) + 1);
    for (const x of jsonStringList(r.risks)) risks.add(x);
    for (const x of jsonStringList(r.names)) if (names.size < MAX_NAMES) names.add(x);
  }
  const wireProtocol = [...seen].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? "";
  return { wireProtocol, risks: [...risks].sort(), destinationNames: [...names] };
}

/** `name` is `wanted`, or under it when `wanted` starts with "." (case-insensitive). */
export function nameMatches(name: string, wanted: string): boolean {
  const n = name.toLowerCase();
  return wanted.startsWith(".") ? n === wanted.slice(1) || n.endsWith(wanted) : n === wanted;
}
