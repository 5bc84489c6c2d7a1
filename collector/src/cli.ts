// oddwire-collector's command line. The collector's commands (serve, agents,
// revoke, report, export...) arrive with the streaming and report work; until
// then it answers --help and --version so that installs can be checked.

import { formatProgramHelp, isOddwireError, OddwireError } from "@oddwire/shared";
import { createRequire } from "node:module";

const PROGRAM = "oddwire-collector";
const VERSION = (createRequire(import.meta.url)("../package.json") as { version: string }).version;
const SUMMARY = "oddwire collector: enrolls agents, stores the fleet in SQLite and ranks fleet-wide rarity.";

export async function main(argv: readonly string[]): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(formatProgramHelp(PROGRAM, SUMMARY, []));
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  throw new OddwireError("ODW_ERR_USAGE", `unknown command "${command}" (see --help)`);
}

export function reportError(err: unknown): number {
  if (isOddwireError(err)) {
    process.stderr.write(`${PROGRAM}: ${err.code}: ${err.message}\n`);
    return err.code === "ODW_ERR_USAGE" ? 2 : 1;
  }
  process.stderr.write(`${PROGRAM}: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
