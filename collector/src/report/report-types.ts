// The fleet rarity report: what `oddwire-collector report` prints (table,
// JSON, HTML, CSV) and what the collector serves. The JSON names are a
// contract: extend, never rename.

import type { ReportPersona } from "../persona/persona-types.js";

export interface ReportHost {
  hostId: string;
  hostname: string;
  /** The machine in one phrase ("Debian GNU/Linux 12 (KVM)"); "" until its agent sends a full batch. */
  platform: string;
  /** 0 when the process is gone (the observation is historical). */
  pid: number;
  cmdline: string;
  user: string;
  /** "nginx(812) > bash(4410) > curl(4411)"; "" when the process is gone. */
  ancestry: string;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Ports seen on this host for this finding (remote ports outbound, local otherwise). */
  ports: number[];
}

export interface Suppression {
  id: number;
  reason: string;
  by: string;
  createdAtMs: number;
  expiresAtMs: number | null;
}

export interface Finding {
  rank: number;
  /** 0 to 100. */
  score: number;
  binary: { name: string; path: string; sha256: string };
  /** The protocol the port implies ("https", "dns", "unknown"). */
  protocol: string;
  /** What the traffic was (agent --dpi: nDPI's name, "HTTP", "TLS", "SSH"); "" when not identified or not watched. */
  wireProtocol: string;
  /** The identification engine's flow risks ("Known Protocol on Non Standard Port"). */
  risks: string[];
  /** Destination names the traffic carried (TLS SNI, HTTP Host, DNS question, SSH software), at most 50. */
  destinationNames: string[];
  transport: string;
  /** The most common port of the finding; portClass says which class it stands for. */
  port: number;
  portClass: "well-known" | "registered" | "dynamic";
  direction: string;
  /** Hosts where this binary speaks this protocol. */
  hostCount: number;
  /** Hosts where this binary runs at all. */
  binaryHostCount: number;
  /** Why, in words, most important first. */
  reasons: string[];
  /**
   * Which evidence drove the score: "rarity", "knowledge", "lineage",
   * "novelty", "beaconing", "persona" (a persona's linked domain, named or
   * reached by this process), "sensor" (strings); then the network sensors'
   * evidence joined to this finding's processes (objects with a `source`).
   */
  evidence: Array<string | SensorEvidence>;
  /** Tag codes seen on this finding's sockets. */
  tags: string[];
  firstSeenMs: number;
  lastSeenMs: number;
  suppressed: Suppression | null;
  /** The steadiest beacon among this finding's connection records (the agent judged the series periodic), or null. */
  beacon: FindingBeacon | null;
  hosts: ReportHost[];
}

export interface FindingBeacon {
  /** Median gap between connections, ms. */
  intervalMs: number;
  /** How far the gaps stray from it, ms. */
  jitterMs: number;
  /** Connections in the series. */
  count: number;
  /** From the first to the last, ms. */
  spanMs: number;
  /** "203.0.113.9:443" ("[2001:db8::1]:443" for IPv6). */
  destination: string;
}

/** Where the fleet is blind to short connections (not revoked hosts only). */
export interface ReportVisibility {
  /** Hosts whose agent records connections as they are made. */
  hostsWithEvents: number;
  /** Hosts whose agent sees only what each snapshot catches. */
  hostsSnapshotsOnly: number;
  /** Hosts whose agent never said (older agents): treat as snapshots only. */
  hostsUnknown: number;
  /** Events dropped, summed over the hosts, by cause (each host's count since its agent started). */
  dropped: { rate: number; records: number; kernel: number };
  /** The snapshots-only hosts with the agent's reason, by hostname (at most 1,000). */
  snapshotsOnly: Array<{ hostId: string; hostname: string; reason: string }>;
  /** Hosts that dropped events, most first (at most 1,000). */
  dropping: Array<{ hostId: string; hostname: string; droppedRate: number; droppedRecords: number; droppedKernel: number }>;
  /** Protocol identification (agent --dpi): hosts where the wire is watched, hosts where ports alone name protocols and why. */
  dpi?: ReportDpiVisibility;
}

export interface ReportDpiVisibility {
  hostsOn: number;
  hostsOff: number;
  /** Hosts whose agent never said (older agents): ports alone. */
  hostsUnknown: number;
  /** Flows left unclassified by the agents' caps, summed over the hosts (each since its agent started). */
  unclassified: number;
  /** Hosts without it, with the agent's reason (at most 1,000). */
  off: Array<{ hostId: string; hostname: string; reason: string }>;
}

export interface Report {
  generatedAt: string;
  fleet: {
    hosts: number;
    byOs: Record<string, number>;
    binaries: number;
    observations: number;
    /** Five hosts or fewer: no statistics, the built-in knowledge carries the score. */
    smallFleet: boolean;
  };
  /** How many observation groups fall in each prevalence bucket (share of the binary's hosts that show it). */
  prevalence: Array<{ from: number; to: number; groups: number }>;
  filters: Record<string, string | number | boolean>;
  /** Where the fleet is blind to short connections (absent in reports made before it existed). */
  visibility?: ReportVisibility;
  /** Network sensor evidence (Zeek, Suricata): counts and the blind spot; absent when no sensor line is stored. */
  sensors?: ReportSensors;
  findings: Finding[];
  /** Suspected fake personas, highest score first (absent in reports made before they existed). */
  personas?: ReportPersona[];
}

/** A network sensor's line about a flow, joined to the process behind it. */
export interface SensorEvidence {
  source: "zeek" | "suricata";
  /** The sensor's log or event type (weird, notice, dpd, analyzer, conn; anomaly, alert, flow). */
  log: string;
  kind: "anomaly" | "alert" | "protocol";
  /** "Zeek weird: bad_HTTP_request", "Suricata: app-layer protocol ssh on port 443". */
  text: string;
  /** When the sensor saw it (the sensor's clock). */
  atMs: number;
  /** 0..1: its weight in the score. */
  weight: number;
  flow: SensorFlow;
  /** Names the sensor logged for the same flow (TLS server name, HTTP host, DNS query). */
  names: string[];
  hostId: string;
  hostname: string;
  pid: number;
  /** Which end of the flow the process is. */
  side: "originator" | "responder";
  /** How the flow was joined to the process: by Community ID and time, by 5-tuple and time, or (a connection record without its source port) by destination and time. */
  join: "community-id" | "5-tuple" | "destination";
  /** high: a connection record of that time; medium: a socket open now (when it opened is unknown); low: the destination alone, one process on one host. */
  confidence: "high" | "medium" | "low";
}

export interface SensorFlow {
  transport: string;
  origAddress: string;
  origPort: number;
  respAddress: string;
  respPort: number;
  /** As the sensor logged it ("" when it did not). */
  communityId: string;
}

/** A sensor's anomaly that no agent stands behind. */
export interface ReportSensorBlindSpot extends SensorFlow {
  source: "zeek" | "suricata";
  text: string;
  atMs: number;
  /** no-agent: neither address is an agent's; no-agent-flow: an agent's address, but it never saw the flow; ambiguous: several hosts did; nat-or-proxy: an agent reached the same server from elsewhere; no-tuple: the line names no flow. */
  reason: "no-agent" | "no-agent-flow" | "ambiguous" | "nat-or-proxy" | "no-tuple";
  detail: string;
  /** Hosts one of the addresses belongs to (from their agents' sockets). */
  agentHosts: string[];
}

export interface ReportSensors {
  /** Sensor evidence lines in the report's time range. */
  events: number;
  /** Of which joined now (the newest, up to 20,000). */
  joined: number;
  matched: number;
  unmatched: number;
  /** Up to 1,000 of the unmatched, newest first. */
  blindSpots: ReportSensorBlindSpot[];
}
