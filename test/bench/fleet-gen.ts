// A synthetic fleet for benchmarks: deterministic (seeded) Linux and Windows
// hosts with realistic process trees and sockets, written as NDJSON that
// `oddwire-agent replay` reads. Loopback and documentation addresses only.

import { createWriteStream } from "node:fs";

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const LINUX = [
  ["systemd", "/usr/lib/systemd/systemd", "/sbin/init"],
  ["sshd", "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"],
  ["cron", "/usr/sbin/cron", "/usr/sbin/cron -f"],
  ["rsyslogd", "/usr/sbin/rsyslogd", "/usr/sbin/rsyslogd -n -iNONE"],
  ["nginx", "/usr/sbin/nginx", "nginx: worker process"],
  ["postgres", "/usr/lib/postgresql/15/bin/postgres", "postgres: checkpointer"],
  ["node", "/usr/bin/node", "node /srv/app/server.js --port 3000"],
  ["python3", "/usr/bin/python3.11", "/usr/bin/python3 /usr/bin/unattended-upgrade --download-only"],
  ["bash", "/usr/bin/bash", "-bash"],
  ["chronyd", "/usr/sbin/chronyd", "/usr/sbin/chronyd -F 1"],
] as const;

export interface GenOptions {
  hosts: number;
  snapshotsPerHost: number;
  processes: number;
  sockets: number;
  seed?: number;
}

/** One host's snapshot number `n`, as the protobuf JSON mapping. */
export function snapshotOf(host: number, n: number, o: GenOptions): Record<string, unknown> {
  const r = rng((o.seed ?? 1) * 1_000_003 + host * 7919 + n);
  const processes = [];
  for (let i = 0; i < o.processes; i++) {
    const [name, exe, cmd] = LINUX[i % LINUX.length]!;
    processes.push({
      pid: 100 + i,
      ppid: i === 0 ? 0 : 1,
      name,
      exe,
      cmdline: `${cmd} --instance ${i}`,
      user: i % 3 ? "root" : "www-data",
      uid: i % 3 ? 0 : 33,
      startedAtMs: String(1764000000000 + i * 1000),
    });
  }
  const sockets = [];
  for (let i = 0; i < o.sockets; i++) {
    const owner = 100 + ((i * 7 + Math.floor(r() * 3)) % o.processes);
    const kind = i % 3;
    if (kind === 0) sockets.push({ transport: "tcp", family: 4, localAddress: "0.0.0.0", localPort: 8000 + i, state: "LISTEN", pid: owner });
    // A quiet host: one connection in twenty is new each round.
    else if (kind === 1)
      sockets.push({
        transport: "tcp",
        family: 4,
        localAddress: "10.0.0.5",
        localPort: 40000 + i * 50 + (i % 20 === n % 20 ? n : 0),
        remoteAddress: "192.0.2.10",
        remotePort: [443, 80, 5432, 53][i % 4],
        state: "ESTABLISHED",
        pid: owner,
      });
    else sockets.push({ transport: "udp", family: 4, localAddress: "127.0.0.1", localPort: 30000 + i, state: "UNCONN", pid: owner });
  }
  return {
    hostId: `bench-host-${host}`,
    hostname: `bench-${host}`,
    os: "linux",
    osVersion: "Debian GNU/Linux 12",
    agentVersion: "0.1.0",
    takenAtMs: String(1764300000000 + n * 60000),
    processes,
    sockets,
  };
}

/** Writes the fleet, snapshot rounds in order (every host's first, then every host's second...). */
export async function writeFleet(path: string, o: GenOptions): Promise<number> {
  const out = createWriteStream(path);
  let bytes = 0;
  for (let n = 0; n < o.snapshotsPerHost; n++) {
    for (let h = 0; h < o.hosts; h++) {
      const line = JSON.stringify(snapshotOf(h, n, o)) + "\n";
      bytes += line.length;
      if (!out.write(line)) await new Promise<void>((r) => out.once("drain", () => r()));
    }
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error) => (err ? reject(err) : resolve())));
  return bytes;
}
