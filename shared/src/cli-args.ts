// Command-line parsing for both programs: each command declares its options
// once, and that declaration drives parsing, validation and --help. Unknown
// options are errors that suggest the nearest known one.

import { parseArgs } from "node:util";
import { OddwireError } from "./errors.js";

export interface OptionSpec {
  type: "string" | "boolean";
  description: string;
  /** Shown in help as --name VALUE. */
  valueName?: string;
  short?: string;
  /** May be given more than once; the value is then a list (--domain a --domain b). */
  multiple?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Positional arguments accepted, at most. */
  maxPositionals?: number;
}

export interface ParsedCommand {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseCommand(spec: CommandSpec, argv: readonly string[]): ParsedCommand {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = { help: { type: "boolean", short: "h" } };
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type, ...(o.short && { short: o.short }), ...(o.multiple && { multiple: true }) };
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (err) {
    const message = (err as Error).message;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
    if (unknown) {
      const near = nearest(unknown.replace(/^-+/, ""), Object.keys(options));
      throw new OddwireError("ODW_ERR_USAGE", `unknown option ${unknown} for "${spec.name}"${near ? `; did you mean --${near}?` : ""} (see --help)`, { cause: err });
    }
    throw new OddwireError("ODW_ERR_USAGE", `${spec.name}: ${message.split(/\n/)[0]} (see --help)`, { cause: err });
  }
  const max = spec.maxPositionals ?? 0;
  if (parsed.positionals.length > max) {
    throw new OddwireError(
      "ODW_ERR_USAGE",
      `${spec.name} takes ${max === 0 ? "no arguments" : `at most ${max} argument(s)`}, got "${parsed.positionals.slice(max).join(" ")}" (usage: ${spec.usage})`,
    );
  }
  return { values: parsed.values as ParsedCommand["values"], positionals: parsed.positionals };
}

export function formatCommandHelp(program: string, spec: CommandSpec): string {
  const lines = [`Usage: ${program} ${spec.usage}`, "", spec.summary, "", "Options:"];
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.valueName ?? "VALUE"}` : ""}`;
    return [flag, o.description] as const;
  });
  rows.push(["-h, --help", "Show this help."]);
  const width = Math.max(...rows.map(([f]) => f.length));
  for (const [flag, desc] of rows) lines.push(`  ${flag.padEnd(width)}  ${desc}`);
  return lines.join("\n") + "\n";
}

export function formatProgramHelp(program: string, summary: string, commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `Usage: ${program} <command> [options]`,
    "",
    summary,
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    `Run "${program} <command> --help" for a command's options; "${program} --version" prints the version.`,
    "",
  ].join("\n");
}

/** The closest candidate within two edits, for "did you mean". */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
