// oddwire-agent's command line: parses the command and its options, runs it,
// and turns errors into one clear line on stderr and a non-zero exit code.

import { formatCommandHelp, formatProgramHelp, isOddwireError, OddwireError, parseCommand, type CommandSpec } from "@oddwire/shared";
import { renderSnapshot } from "./render/human-snapshot.js";
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
  usage: "snapshot [--json] [--timing] [--no-hash] [--state-dir DIR]",
  options: {
    json: { type: "boolean", description: "Print the Snapshot in the protobuf JSON mapping (camelCase; 64-bit integers as strings) instead of the human view." },
    timing: { type: "boolean", description: 'Also print one JSON line on stderr: {"phases": {"<phase>": ms, ...}, "totalMs": ms}.' },
    "no-hash": { type: "boolean", description: "Do not hash executables (sha256 fields stay empty)." },
    "state-dir": STATE_DIR_OPTION,
  },
};

const COMMANDS = [SNAPSHOT_COMMAND];
const SUMMARY = "oddwire endpoint agent: finds programs talking protocols they have no business talking.";

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    const spec = COMMANDS.find((c) => c.name === rest[0]);
    process.stdout.write(spec ? formatCommandHelp(PROGRAM, spec) : formatProgramHelp(PROGRAM, SUMMARY, COMMANDS));
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return 0;
  }
  const spec = COMMANDS.find((c) => c.name === command);
  if (!spec) throw new OddwireError("ODW_ERR_USAGE", `unknown command "${command}"; commands: ${COMMANDS.map((c) => c.name).join(", ")} (see --help)`);
  const { values } = parseCommand(spec, rest);
  if (values["help"]) {
    process.stdout.write(formatCommandHelp(PROGRAM, spec));
    return 0;
  }
  return runSnapshot(values);
}

async function runSnapshot(values: Record<string, string | boolean | undefined>): Promise<number> {
  const result = await takeSnapshot({
    stateDir: (values["state-dir"] as string | undefined) ?? defaultStateDir(),
    hash: !values["no-hash"],
  });
  // protobufjs is loaded only when JSON is asked for.
  const text = values["json"]
    ? JSON.stringify((await import("./render/snapshot-json.js")).snapshotToJson(result.snapshot)) + "\n"
    : renderSnapshot(result.snapshot);
  await write(process.stdout, text);
  if (values["timing"]) process.stderr.write(JSON.stringify({ phases: result.phases, totalMs: result.totalMs }) + "\n");
  return 0;
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (err) => (err ? reject(err) : resolve())));
}

export function reportError(err: unknown): number {
  if (isOddwireError(err)) {
    process.stderr.write(`${PROGRAM}: ${err.code}: ${err.message}\n`);
    return err.code === "ODW_ERR_USAGE" ? 2 : 1;
  }
  process.stderr.write(`${PROGRAM}: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
