// Literal reports for tests of the report's rendering: realistic values of
// realistic lengths (long paths, many tags, several hosts, the longest
// timestamps, five-digit ports and pids), built without a database.

import type { Finding, Report, ReportHost } from "oddwire-collector/report/report-types.js";

// Milliseconds, as agents report them: the longest timestamps a page shows.
export const T0 = Date.UTC(2025, 10, 28, 23, 59, 58, 987);
const HOUR = 3_600_000;

export function reportHost(over: Partial<ReportHost>): ReportHost {
  return {
    hostId: "h-1",
    hostname: "web-01",
    platform: "Debian GNU/Linux 12 (KVM)",
    pid: 31337,
    cmdline: "",
    user: "root",
    ancestry: "",
    firstSeenMs: T0 - 50 * HOUR,
    lastSeenMs: T0,
    ports: [8443],
    ...over,
  };
}

export function reportFinding(over: Partial<Finding>): Finding {
  return {
    rank: 1,
    score: 50,
    binary: { name: "x", path: "/usr/bin/x", sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" },
    protocol: "https",
    wireProtocol: "",
    risks: [],
    destinationNames: [],
    transport: "tcp",
    port: 8443,
    portClass: "registered",
    direction: "outbound",
    hostCount: 1,
    binaryHostCount: 10,
    reasons: ["r"],
    evidence: ["rarity"],
    tags: [],
    firstSeenMs: T0 - 50 * HOUR,
    lastSeenMs: T0,
    suppressed: null,
    beacon: null,
    hosts: [reportHost({})],
    ...over,
  };
}

/** Four findings whose strings stress the layout: long unbroken paths and names, many tags, long reasons, several hosts. */
export function layoutReport(): Report {
  const findings: Finding[] = [
    reportFinding({
      rank: 1,
      score: 97,
      binary: {
        name: "systemd-networkd-wait-online-helper",
        path: "/opt/vendor/very-long-directory-name-without-any-breaks/bin/systemd-networkd-wait-online-helper",
        sha256: "b4e1f7b2c0a1d3e5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3",
      },
      protocol: "unknown-protocol-name",
      transport: "tcp",
      port: 54321,
      portClass: "dynamic",
      direction: "outbound",
      hostCount: 1,
      binaryHostCount: 12345,
      reasons: [
        "systemd-networkd-wait-online-helper speaks unknown-protocol-name on 1 of the 12345 hosts that run it; nowhere else in the fleet, and its parent is unusual",
        "never seen before this week",
      ],
      evidence: ["rarity", "knowledge", "lineage", "novelty"],
      tags: ["shell-outbound", "writable-dir-exe", "unexpected-protocol", "interpreter-outbound", "silent-binary-socket"],
      hosts: [
        reportHost({
          hostId: "host-id-0123456789abcdef0123456789abcdef",
          hostname: "a-very-long-hostname-for-the-layout.eu-west-3.compute.internal",
          pid: 4194304,
          user: "NT AUTHORITY\\NETWORK SERVICE",
          ancestry: "systemd(1) > containerd-shim-runc-v2(41234) > bash(51234) > systemd-networkd-wait-online-helper(61234)",
          cmdline: "/opt/vendor/bin/helper --connect 192.0.2.44:54321 --retry-forever --token=0123456789abcdef0123456789abcdef",
          ports: [54321, 54322, 54323, 60001, 60002, 65535],
        }),
        reportHost({ hostId: "h-2", hostname: "db-02", pid: 0, cmdline: "", ports: [54321] }),
      ],
    }),
    reportFinding({
      rank: 2,
      score: 71,
      binary: { name: "python3", path: "/tmp/.x/python3", sha256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
      protocol: "http",
      port: 8081,
      hostCount: 2,
      binaryHostCount: 40,
      reasons: ["a renamed interpreter talks plain HTTP to a high port"],
      tags: ["tmp-exec"],
      hosts: [reportHost({ hostId: "h-ws-07", hostname: "ws-07", pid: 9120, cmdline: `python3 -c '${"A".repeat(2000)}'`, ports: [8081] })],
    }),
    reportFinding({
      rank: 3,
      score: 38,
      binary: { name: "dnsmasq", path: "/usr/sbin/dnsmasq", sha256: "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100" },
      protocol: "dns",
      transport: "udp",
      port: 53,
      portClass: "well-known",
      direction: "inbound",
      hostCount: 3,
      binaryHostCount: 9,
      reasons: ["listens for DNS"],
      tags: ["listener"],
    }),
    reportFinding({
      rank: 4,
      score: 12,
      binary: { name: "rsync", path: "/usr/bin/rsync", sha256: "" },
      protocol: "ssh",
      port: 22,
      portClass: "well-known",
      reasons: ["rsync over SSH"],
      tags: [],
    }),
  ];
  return {
    generatedAt: new Date(T0).toISOString(),
    fleet: { hosts: 12345, byOs: { linux: 12000, windows: 300, darwin: 45 }, binaries: 3412, observations: 1_184_220, smallFleet: false },
    prevalence: [412, 96, 40, 22, 9, 6, 3].map((groups, i) => ({ from: i / 7, to: (i + 1) / 7, groups })),
    filters: { since: "7d" },
    findings,
  };
}
