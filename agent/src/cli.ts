// oddwire-agent's command line: parses the command and its options, runs it,
// and turns errors into one clear line on stderr and a non-zero exit code.

import { createLogger, loadConfig, OddwireError, reportCliError, runCli, type CommandSpec, type ParsedCommand } from "@oddwire/shared";
import { CONNECT_SCHEMA, resolveConnectConfig, resolveRunConfig, RUN_SCHEMA } from "./run-config.js";
import { renderSnapshot } from "./render/human-snapshot.js";
import { checkNotWorldWritable } from "./identity/safe-files.js";
import { defaultStateDir } from "./identity/state-dir.js";
import { takeSnapshot } from "./snapshot.js";
import { AGENT_VERSION } from "./version.js";

const PROGRAM = "oddwire-agent";

const STATE_DIR_OPTION = {
  type: "string",
  valueName: "DIR",
  description: "Where the agent keeps its host id and hash cache (default: $ODDWIRE_STATE_DIR, else /var/lib/oddwire-agent as root, else ~/.local/state/oddwire-agent).",
} as const;

export const SNAPSHOT_COMMAND: CommandSpec = {
  name: "snapshot",
  summary: "Take one snapshot of this host's processes and sockets, classify and tag them, and print it.",
  usage: "snapshot [--json] [--timing] [--no-hash] [--state-dir DIR] [--knowledge FILE]",
  options: {
    json: { type: "boolean", description: "Print the Snapshot in the protobuf JSON mapping (camelCase; 64-bit integers as strings) instead of the human view." },
    timing: { type: "boolean", description: 'Also print one JSON line on stderr: {"phases": {"<phase>": ms, ...}, "totalMs": ms}.' },
    "no-hash": { type: "boolean", description: "Do not hash executables (sha256 fields stay empty)." },
    "state-dir": STATE_DIR_OPTION,
    knowledge: { type: "string", valueName: "FILE", description: RUN_SCHEMA["knowledge"]!.description },
  },
};

const CONFIG_OPTION = { type: "string", valueName: "FILE", description: "JSON config file; its keys are the options' names in camelCase (flags override it)." } as const;

const CONNECT_OPTIONS = {
  collector: { type: "string", valueName: "URL", description: RUN_SCHEMA["collector"]!.description },
  "enroll-secret": { type: "string", valueName: "S", description: RUN_SCHEMA["enrollSecret"]!.description },
  "enroll-secret-file": { type: "string", valueName: "FILE", description: RUN_SCHEMA["enrollSecretFile"]!.description },
  "ca-cert": { type: "string", valueName: "FILE", description: RUN_SCHEMA["caCert"]!.description },
  "log-level": { type: "string", valueName: "LEVEL", description: `${RUN_SCHEMA["logLevel"]!.description} (default info)` },
} as const;

export const RUN_COMMAND: CommandSpec = {
  name: "run",
  summary: "Run the agent: snapshot on a schedule and stream batches to the collector, spooling them on disk while it is unreachable.",
  usage:
    "run --collector URL [--enroll-secret S] [--schedule CRON] [--events auto|on|off] [--events-rate-cap N] [--dpi auto|on|off] [--dpi-interfaces LIST] [--dpi-names send|keep] [--spool-max-bytes SIZE] [--state-dir DIR] [--knowledge FILE] [--config FILE]",
  options: {
    config: CONFIG_OPTION,
    ...CONNECT_OPTIONS,
    schedule: { type: "string", valueName: "CRON", description: `${RUN_SCHEMA["schedule"]!.description}` },
    "spool-max-bytes": { type: "string", valueName: "SIZE", description: `${RUN_SCHEMA["spoolMaxBytes"]!.description} (default 100MB)` },
    "full-every": { type: "string", valueName: "N", description: `${RUN_SCHEMA["fullEvery"]!.description} (default 60)` },
    "heartbeat-seconds": { type: "string", valueName: "N", description: `${RUN_SCHEMA["heartbeatSeconds"]!.description} (default 30)` },
    "no-hash": { type: "boolean", description: "Do not hash executables." },
    "state-dir": STATE_DIR_OPTION,
    events: { type: "string", valueName: "MODE", description: `${RUN_SCHEMA["events"]!.description} (default auto)` },
    "events-rate-cap": { type: "string", valueName: "N", description: RUN_SCHEMA["eventsRateCap"]!.description },
    dpi: { type: "string", valueName: "MODE", description: `${RUN_SCHEMA["dpi"]!.description} (default auto)` },
    "dpi-interfaces": { type: "string", valueName: "LIST", description: RUN_SCHEMA["dpiInterfaces"]!.description },
    "dpi-names": { type: "string", valueName: "MODE", description: `${RUN_SCHEMA["dpiNames"]!.description} (default send)` },
    knowledge: { type: "string", valueName: "FILE", description: RUN_SCHEMA["knowledge"]!.description },
  },
};

export const REPLAY_COMMAND: CommandSpec = {
  name: "replay",
  summary: "Send snapshots from an NDJSON file (one Snapshot per line, as snapshot --json prints it) as the hosts they name; exit once all are acknowledged.",
  usage: "replay FILE|- --collector URL --enroll-secret S [--concurrency N] [--deltas] [--idle-timeout-seconds N]",
  options: {
    config: CONFIG_OPTION,
    ...CONNECT_OPTIONS,
    concurrency: { type: "string", valueName: "N", description: "Hosts streaming at once (default 64)." },
    "idle-timeout-seconds": { type: "string", valueName: "N", description: "Give up when nothing is acknowledged for this long (default 120)." },
    deltas: { type: "boolean", description: "After a host's first snapshot, send only what changed, as a running agent does (default: every line as a full snapshot)." },
    quiet: { type: "boolean", description: "No progress lines on stderr." },
  },
  maxPositionals: 1,
};

export const CONFIGURE_COMMAND: CommandSpec = {
  name: "configure",
  summary:
    "Check the collector URL, enrollment secret and CA certificate, then write the config file and secret file that `run --config` reads (owner-only). The installers call it.",
  usage: "configure --collector URL --out FILE [--enroll-secret-file FILE|-] [--enroll-secret S] [--secret-out FILE] [--ca-cert FILE] [--state-dir DIR]",
  options: {
    collector: CONNECT_OPTIONS.collector,
    "enroll-secret": { type: "string", valueName: "S", description: "The enrollment secret (visible in the process list: prefer --enroll-secret-file or $ODDWIRE_ENROLL_SECRET)." },
    "enroll-secret-file": { type: "string", valueName: "FILE", description: "Read the enrollment secret from the first line of FILE, or of standard input when FILE is -." },
    "ca-cert": {
      type: "string",
      valueName: "FILE",
      description:
        'PEM CA certificate that the agent will trust for wss:// (checked now; its path is written). --ca-cert "" removes a pin set earlier; without the option, an earlier pin is kept.',
    },
    "state-dir": { type: "string", valueName: "DIR", description: "The state directory the service will use (created owner-only; written to the config file)." },
    out: { type: "string", valueName: "FILE", description: "The config file to write (replaced whole)." },
    "secret-out": { type: "string", valueName: "FILE", description: "The secret file to write (default: enroll-secret beside --out)." },
  },
};

const COMMANDS = [SNAPSHOT_COMMAND, RUN_COMMAND, REPLAY_COMMAND, CONFIGURE_COMMAND];
const SUMMARY = "oddwire endpoint agent: finds programs talking protocols they have no business talking.";

export function main(argv: readonly string[]): Promise<number> {
  return runCli(
    {
      name: PROGRAM,
      version: AGENT_VERSION,
      summary: SUMMARY,
      commands: COMMANDS,
      run(command, { values, positionals }) {
        if (command === "run") return runAgent(values);
        if (command === "replay") return runReplay(values, positionals);
        if (command === "configure") return runConfigure(values);
        return runSnapshot(values);
      },
    },
    argv,
  );
}

async function runAgent(values: ParsedCommand["values"]): Promise<number> {
  const config = resolveRunConfig(values);
  const { startAgent } = await import("./run.js");
  const agent = await startAgent(config);
  const signal = new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  const outcome = await Promise.race([signal, agent.fatal]);
  await agent.stop();
  if (typeof outcome !== "string") throw outcome;
  return 0;
}

async function runReplay(values: ParsedCommand["values"], positionals: string[]): Promise<number> {
  const file = positionals[0];
  if (!file) throw new OddwireError("ODW_ERR_USAGE", "replay needs the NDJSON FILE to send (or - for standard input)");
  const configFile = values["config"] as string | undefined;
  if (configFile) checkNotWorldWritable(configFile, "the config file");
  const c = loadConfig(CONNECT_SCHEMA, { file: configFile, flags: values });
  const connect = resolveConnectConfig(c, process.env);
  if (!connect.enrollSecret) throw new OddwireError("ODW_ERR_CONFIG", "replay needs the enrollment secret: --enroll-secret S, --enroll-secret-file F or $ODDWIRE_ENROLL_SECRET");
  const concurrency = positiveInt(values["concurrency"], 64, "--concurrency");
  const idle = positiveInt(values["idle-timeout-seconds"], 120, "--idle-timeout-seconds");
  const log = createLogger({ name: "replay", level: connect.logLevel === "info" ? "warn" : connect.logLevel });
  let lastPrint = 0;
  const t0 = Date.now();
  const { replay } = await import("./replay.js");
  const result = await replay({
    ...connect,
    file,
    concurrency,
    deltas: values["deltas"] === true,
    idleTimeoutMs: idle * 1000,
    log,
    progress: (p) => {
      if (values["quiet"] || Date.now() - lastPrint < 2000) return;
      lastPrint = Date.now();
      process.stderr.write(`replay: ${p.lines} lines read, ${p.acked}/${p.sent} snapshots acknowledged, ${p.hosts} hosts, ${p.bad} bad lines\n`);
    },
  });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  process.stderr.write(`replay: done in ${secs} s: ${result.acked} snapshots from ${result.hosts} hosts acknowledged, ${result.bad} bad lines\n`);
  for (const e of result.errors) process.stderr.write(`replay: ${e}\n`);
  if (result.bad > 0) throw new OddwireError("ODW_ERR_INPUT", `${result.bad} lines of ${file} could not be sent (listed above); every other line was delivered`);
  return 0;
}

async function runConfigure(values: ParsedCommand["values"]): Promise<number> {
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const collector = str("collector");
  if (!collector) throw new OddwireError("ODW_ERR_USAGE", "configure needs --collector URL");
  const out = str("out");
  if (!out) throw new OddwireError("ODW_ERR_USAGE", "configure needs --out FILE, the config file to write");
  const { configureAgent, readSecretInput } = await import("./configure.js");
  const result = configureAgent({
    collector,
    enrollSecret: readSecretInput(str("enroll-secret"), str("enroll-secret-file"), process.env["ODDWIRE_ENROLL_SECRET"]),
    out,
    ...(str("secret-out") && { secretOut: str("secret-out")! }),
    ...(str("ca-cert") !== undefined && { caCert: str("ca-cert")! }),
    ...(str("state-dir") && { stateDir: str("state-dir")! }),
  });
  await write(process.stdout, `configured: ${result.configFile} (secret in ${result.secretFile})\n`);
  return 0;
}

function positiveInt(value: unknown, dflt: number, flag: string): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new OddwireError("ODW_ERR_USAGE", `${flag} must be a whole number, 1 or more, not ${JSON.stringify(value)}`);
  return n;
}

async function runSnapshot(values: ParsedCommand["values"]): Promise<number> {
  const result = await takeSnapshot({
    stateDir: (values["state-dir"] as string | undefined) ?? defaultStateDir(),
    hash: !values["no-hash"],
    kb: (await import("@oddwire/shared")).knowledgeWithSite(values["knowledge"] as string | undefined),
  });
  // protobufjs is loaded only when JSON is asked for.
  const text = values["json"] ? JSON.stringify((await import("./render/snapshot-json.js")).snapshotToJson(result.snapshot)) + "\n" : renderSnapshot(result.snapshot);
  await write(process.stdout, text);
  if (values["timing"]) process.stderr.write(JSON.stringify({ phases: result.phases, totalMs: result.totalMs }) + "\n");
  return 0;
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (err) => (err ? reject(err) : resolve())));
}

export function reportError(err: unknown): number {
  return reportCliError(PROGRAM, err);
}
