// Real collector and agent processes for end-to-end tests, over loopback:
// started from the built bins, each with its own state, killed at teardown.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { kill, track } from "./child-processes.js";

export const AGENT_BIN = fileURLToPath(new URL("../../../agent/bin/oddwire-agent.js", import.meta.url));
export const COLLECTOR_BIN = fileURLToPath(new URL("../../../collector/bin/oddwire-collector.js", import.meta.url));
export const SECRET = "test-enroll-secret";

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface CollectorProcess {
  child: ChildProcess;
  port: number;
  url: string;
  log: string[];
}

/** Starts `oddwire-collector serve` and resolves once it listens. */
export function startCollector(t: Teardown, db: string, opts: { port?: number; args?: string[] } = {}): Promise<CollectorProcess> {
  const child = track(
    spawn(process.execPath, [COLLECTOR_BIN, "serve", "--port", String(opts.port ?? 0), "--db", db, "--enroll-secret", SECRET, "--sync", "normal", ...(opts.args ?? [])], {
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
  t.teardown(() => kill(child));
  const log: string[] = [];
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`collector did not start: ${log.join("\n")}`)), 60000);
    child.stderr!.on("data", (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        log.push(line);
        const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve({ child, port: Number(m[1]), url: `ws://127.0.0.1:${m[1]}`, log });
        }
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`collector exited with ${code}: ${log.join("\n")}`));
    });
  });
}

export interface AgentProcess {
  child: ChildProcess;
  hostId: string;
  stateDir: string;
  log: string[];
}

/**
 * Starts `oddwire-agent run` with its own state directory and host id.
 * Connection events and protocol identification are off unless the test
 * asks for them (`--events ...`, `--dpi ...` in args): a tracer or a capture
 * per agent is cost a test about streaming does not need.
 */
export function startAgent(t: Teardown, dir: string, hostId: string, url: string, args: string[] = []): AgentProcess {
  const events = args.includes("--events") ? [] : ["--events", "off"];
  // Likewise protocol identification (a tcpdump per agent), unless asked for.
  if (!args.includes("--dpi")) events.push("--dpi", "off");
  const stateDir = join(dir, hostId);
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, "host-id"), `${hostId}\n`);
  const child = track(
    spawn(
      process.execPath,
      [AGENT_BIN, "run", "--collector", url, "--enroll-secret", SECRET, "--state-dir", stateDir, "--no-hash", "--heartbeat-seconds", "2", ...events, ...args],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    ),
  );
  const log: string[] = [];
  child.stderr!.on("data", (d) => log.push(...String(d).split("\n").filter(Boolean)));
  t.teardown(() => kill(child));
  return { child, hostId, stateDir, log };
}

/** Stops an agent with SIGTERM and waits for it to exit. */
export function stopGracefully(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.kill("SIGTERM");
  });
}

export function query<T = Record<string, unknown>>(db: string, sql: string, ...params: unknown[]): T[] {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return d.prepare(sql).all(...params) as T[];
  } finally {
    d.close();
  }
}

/** Polls cond until it gives something truthy, and resolves with it. */
export async function waitFor<T>(what: string, cond: () => T | Promise<T>, timeoutMs = 60000, intervalMs = 100): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await cond();
      if (value) return value as NonNullable<T>;
    } catch {
      // not yet (database not created, file not written...)
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Seqs of a host's applied batches, ascending. */
export function seqsOf(db: string, hostId: string): number[] {
  return query<{ seq: number }>(db, "SELECT seq FROM batches WHERE host_id = ? ORDER BY seq", hostId).map((r) => r.seq);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** A loopback port that was free a moment ago (for a collector to start on later). */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
