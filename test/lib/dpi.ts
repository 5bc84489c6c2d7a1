// What the protocol-identification tests share: an agent capturing on
// loopback (started, and waited for until its capture runs), a loopback
// address of the test's own, an HTTP server that holds each request open
// (so the client process stays until the test has seen it), and a copy of
// curl under a name of the test's own (agents see the whole machine).

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type AgentProcess, startAgent, waitFor } from "./fleet.js";

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** An agent with --dpi on, capturing loopback, once its capture has started; `args` are added. */
export async function startDpiAgent(t: Teardown, dir: string, hostId: string, url: string, args: string[] = []): Promise<AgentProcess> {
  const agent = startAgent(t, dir, hostId, url, ["--dpi", "on", "--dpi-interfaces", "lo", "--schedule", "*/2 * * * * *", ...args]);
  await waitFor(
    "the capture to start",
    () => {
      if (agent.child.exitCode !== null) throw new Error(`the agent exited: ${agent.log.join("\n")}`);
      return agent.log.some((l) => l.includes('"event":"dpi.started"'));
    },
    60_000,
  );
  return agent;
}

/** A 127.x.y.z address of this test process's own, so its flows are told apart from other tests'. */
export function ownLoopbackAddress(): string {
  const octet = () => 2 + (randomBytes(1)[0]! % 250);
  return `127.${100 + (process.pid % 100)}.${octet()}.${octet()}`;
}

/** An HTTP server on `address` that never answers (each request is held until teardown): its port, and the requests held so far. */
export async function holdingHttpServer(t: Teardown, address: string): Promise<{ port: number; held: readonly ServerResponse[] }> {
  const held: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  t.teardown(() => {
    for (const res of held) res.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, held };
}

/** A copy of this machine's curl at DIR/NAME, executable. */
export function curlCopy(dir: string, name: string): string {
  const binary = join(dir, name);
  copyFileSync(spawnSync("sh", ["-c", "command -v curl"], { encoding: "utf8" }).stdout.trim(), binary);
  chmodSync(binary, 0o755);
  return binary;
}
