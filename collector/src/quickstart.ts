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
    throw new OddwireError("ODW_ERR_CONFIG", "quickstart runs the agent from this repository's workspace (oddwire-agent), which is not installed here; run `npm ci` at the repository root", { cause: err });
  }
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
  const collector = await startServing(config, log);
  const url = `ws://127.0.0.1:${collector.port}`;
  const agent: ChildProcess = spawn(
    process.execPath,
    [bin, "run", "--collector", url, "--enroll-secret-file", secretPath, "--state-dir", join(dataDir, "agent"), "--log-level", "warn"],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
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
  await new Promise<void>((done) => {
    process.once("SIGINT", () => done());
    process.once("SIGTERM", () => done());
    agent.once("exit", (code) => {
      process.stderr.write(`oddwire-collector: the agent exited (${code}); stopping\n`);
      done();
    });
  });
  if (agent.exitCode === null) {
    agent.kill("SIGTERM");
    await new Promise((r) => agent.once("exit", r));
  }
  await collector.stop();
  return 0;
}
