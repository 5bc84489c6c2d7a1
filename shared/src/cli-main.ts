// The common shape of oddwire's two programs: help, version, command lookup,
// option parsing, then the command itself; errors become one line on stderr
// and an exit code: 2 for usage, 3 when the collector has revoked this host
// (restarting cannot help, so service managers are told not to), 1 otherwise.

import { formatCommandHelp, formatProgramHelp, parseCommand, type CommandSpec, type ParsedCommand } from "./cli-args.js";
import { isOddwireError, OddwireError } from "./errors.js";

export interface CliProgram {
  name: string;
  version: string;
  summary: string;
  commands: readonly CommandSpec[];
  run(command: string, parsed: ParsedCommand): Promise<number> | number;
}

export async function runCli(p: CliProgram, argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    const spec = p.commands.find((c) => c.name === rest[0]);
    process.stdout.write(spec ? formatCommandHelp(p.name, spec) : formatProgramHelp(p.name, p.summary, p.commands));
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${p.version}\n`);
    return 0;
  }
  const spec = p.commands.find((c) => c.name === command);
  if (!spec) throw new OddwireError("ODW_ERR_USAGE", `unknown command "${command}"; commands: ${p.commands.map((c) => c.name).join(", ")} (see --help)`);
  const parsed = parseCommand(spec, rest);
  if (parsed.values["help"]) {
    process.stdout.write(formatCommandHelp(p.name, spec));
    return 0;
  }
  return p.run(spec.name, parsed);
}

/** The exit code of a revoked agent; its systemd unit does not restart it (RestartPreventExitStatus). */
export const EXIT_REVOKED = 3;

export function reportCliError(program: string, err: unknown): number {
  if (isOddwireError(err)) {
    process.stderr.write(`${program}: ${err.code}: ${err.message}\n`);
    return err.code === "ODW_ERR_USAGE" ? 2 : err.code === "ODW_ERR_REVOKED" ? EXIT_REVOKED : 1;
  }
  process.stderr.write(`${program}: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
