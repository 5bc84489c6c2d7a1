// `oddwire-collector quickstart` (what `npm start` runs): the collector on
// embedded defaults plus an agent on this host enrolled against it, so one
// command shows the product working. Secrets are made once and kept under
// ./data (mode 0600) so the report's address stays the same across runs.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { createLogger, OddwireError } from "@oddwire/shared";
import { resolveServeConfig } from "./serve-config.js";
import { startServing } from "./serve-start.js";

function secretFile(path: string, bytes: number): string {
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const value = randomBytes(bytes).toString("base64url");
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return value;
}

function agentBin(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("oddwire-agent/package.json")), "bin", "oddwire-agent.js");
  } catch (err) {
    throw new OddwireError(
      "ODW_ERR_CONFIG",
      "quickstart runs the agent from this repository's workspace (oddwire-agent), which is not installed here; run `npm ci` at the repository root",
      { cause: err },
    );
  }
}

// Signals that stop the quickstart: Ctrl-C, kill, a closed terminal.
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
// How long the agent gets to finish after SIGTERM before it is killed.
const AGENT_GRACE_MS = 10_000;
const PARENT_CHECK_MS = 500;

/**
 * Resolves with the reason to stop: a signal, or the process that started
 * quickstart going away. `npm start` runs quickstart under `sh -c`; a SIGTERM
 * sent to npm kills that shell and never reaches quickstart, which would run
 * on, orphaned, with its agent. A second signal while stopping kills the
 * agent and exits at once.
 */
function stopRequests(agent: () => ChildProcess | undefined): { requested: Promise<string>; stopping(): boolean; dispose(): void } {
  let request!: (reason: string) => void;
  let stopping = false;
  const requested = new Promise<string>((resolve) => (request = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`oddwire-collector: ${signal} again; killing the agent and exiting now\n`);
      agent()?.kill("SIGKILL");
      process.exit(130);
    }
    stopping = true;
    request(`received ${signal}`);
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== parent && !stopping) {
      stopping = true;
      request("the process that started quickstart has exited");
    }
  }, PARENT_CHECK_MS);
  watch.unref();
  return {
    requested,
    stopping: () => stopping,
    dispose() {
      clearInterval(watch);
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
    },
  };
}

/** SIGTERM, then SIGKILL if the agent has not exited within the grace period. */
async function stopAgent(agent: ChildProcess): Promise<void> {
  if (agent.exitCode !== null || agent.signalCode !== null) return;
  const exited = new Promise<void>((r) => agent.once("exit", () => r()));
  agent.kill("SIGTERM");
  const grace = setTimeout(() => {
    process.stderr.write(`oddwire-collector: the agent did not stop within ${AGENT_GRACE_MS / 1000} s; killing it\n`);
    agent.kill("SIGKILL");
  }, AGENT_GRACE_MS);
  await exited;
  clearTimeout(grace);
}

export async function quickstart(values: Record<string, unknown>): Promise<number> {
  const dataDir = resolve((values["data-dir"] as string | undefined) ?? "./data");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secretPath = join(dataDir, "enroll-secret");
  const enrollSecret = secretFile(secretPath, 24);
  const readerToken = secretFile(join(dataDir, "reader-token"), 24);
  const port = values["port"] === undefined ? 8443 : Number(values["port"]);
  const config = resolveServeConfig({ port: String(port), db: join(dataDir, "oddwire.db"), "enroll-secret": enrollSecret, "reader-token": readerToken, "log-level": "warn" });
  const bin = agentBin(); // before anything starts: a missing agent is a clear error, not a hang
  const log = createLogger({ name: "collector", level: "warn" });
  let agent: ChildProcess | undefined;
  // Listening from the start: a Ctrl-C while the collector starts must still stop everything.
  const stop = stopRequests(() => agent);
  try {
    const collector = await startServing(config, log);
    try {
      if (stop.stopping()) return 0;
      const url = `ws://127.0.0.1:${collector.port}`;
      agent = spawn(process.execPath, [bin, "run", "--collector", url, "--enroll-secret-file", secretPath, "--state-dir", join(dataDir, "agent"), "--log-level", "warn"], {
        stdio: ["ignore", "inherit", "inherit"],
      });
      const report = `http://127.0.0.1:${collector.port}/report?token=${readerToken}`;
      process.stdout.write(
        [
          "oddwire is running on this host:",
          `  collector   ${url} (database ${config.db})`,
          `  agent       pid ${agent.pid}, a snapshot every minute (state ${join(dataDir, "agent")})`,
          `  report      ${report}`,
          `  from a shell: npx oddwire-collector report --db ${config.db}`,
          `  enroll more agents with: npx oddwire-agent run --collector ${url} --enroll-secret-file ${secretPath}`,
          "Ctrl-C stops both.",
          "",
        ].join("\n"),
      );
      const running = agent;
      const agentExit = new Promise<string>((r) => running.once("exit", (code, signal) => r(`the agent exited (${signal ?? code})`)));
      const reason = await Promise.race([stop.requested, agentExit]);
      process.stderr.write(`oddwire-collector: ${reason}; stopping\n`);
      await stopAgent(running);
    } finally {
      await collector.stop();
    }
  } finally {
    stop.dispose();
  }
  return 0;
}
