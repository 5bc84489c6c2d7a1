// The fleet rarity report: what `oddwire-collector report` prints (table,
// JSON, HTML, CSV) and what the collector serves. The JSON names are a
// contract: extend, never rename.

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
  /** Which evidence drove the score: "rarity", "knowledge", "lineage", "novelty", "beaconing". */
  evidence: string[];
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
  findings: Finding[];
}
