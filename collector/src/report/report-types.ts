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
  protocol: string;
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
  /** Which evidence drove the score: "rarity", "knowledge", "lineage", "novelty". */
  evidence: string[];
  /** Tag codes seen on this finding's sockets. */
  tags: string[];
  firstSeenMs: number;
  lastSeenMs: number;
  suppressed: Suppression | null;
  hosts: ReportHost[];
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
  findings: Finding[];
}
