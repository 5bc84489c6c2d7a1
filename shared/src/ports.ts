// The port → protocol table (data/ports.json, derived from IANA's service
// name registry plus a few well-known unregistered ports) and the protocol
// groups the knowledge base refers to as "@name". Validated when loaded: a
// malformed table is a build defect and must fail loudly, not misclassify.

import { createRequire } from "node:module";
import { OddwireError } from "./errors.js";

export const UNKNOWN_PROTOCOL = "unknown";

export interface ProtocolInfo {
  name: string;
  description: string;
}

export interface PortTable {
  /** The protocol a transport and port imply, or "unknown". Only TCP and UDP have ports. */
  protocolOf(transport: "tcp" | "udp", port: number): string;
  describe(protocol: string): ProtocolInfo | undefined;
  /** Members of a group named without its "@". */
  group(name: string): readonly string[] | undefined;
  readonly protocols: ReadonlyMap<string, ProtocolInfo>;
}

type PortSpec = number | [number, number];
interface PortsFile {
  protocols: Record<string, { description: string; tcp?: PortSpec[]; udp?: PortSpec[] }>;
  groups: Record<string, string[]>;
}

const NAME = /^[a-z0-9][a-z0-9-]*$/;

/** Builds a table from the parsed JSON, checking every entry. */
export function buildPortTable(data: unknown, source = "ports.json"): PortTable {
  const fail = (what: string): never => {
    throw new OddwireError("ODW_ERR_DATA", `${source}: ${what}`);
  };
  if (!isObject(data) || !isObject(data["protocols"]) || !isObject(data["groups"])) fail('expected an object with "protocols" and "groups"');
  const file = data as unknown as PortsFile;
  const byPort: Record<"tcp" | "udp", Map<number, string>> = { tcp: new Map(), udp: new Map() };
  const protocols = new Map<string, ProtocolInfo>();
  for (const [name, spec] of Object.entries(file.protocols)) {
    if (!NAME.test(name)) fail(`protocol name "${name}" must be lower-case letters, digits and dashes`);
    if (!isObject(spec) || typeof spec.description !== "string") fail(`protocol "${name}" needs a description`);
    for (const key of Object.keys(spec)) if (!["description", "tcp", "udp"].includes(key)) fail(`protocol "${name}" has unknown key "${key}"`);
    protocols.set(name, { name, description: spec.description });
    for (const transport of ["tcp", "udp"] as const) {
      for (const entry of spec[transport] ?? []) {
        const [lo, hi] = typeof entry === "number" ? [entry, entry] : entry;
        if (!isPort(lo) || !isPort(hi) || lo > hi) fail(`protocol "${name}" has a bad ${transport} port ${JSON.stringify(entry)}`);
        for (let port = lo; port <= hi; port++) {
          const other = byPort[transport].get(port);
          if (other !== undefined) fail(`${transport}/${port} is claimed by both "${other}" and "${name}"`);
          byPort[transport].set(port, name);
        }
      }
    }
  }
  const groups = new Map<string, readonly string[]>();
  for (const [name, members] of Object.entries(file.groups)) {
    if (!Array.isArray(members)) fail(`group "${name}" must be a list`);
    for (const m of members) if (!protocols.has(m)) fail(`group "${name}" names unknown protocol "${m}"`);
    groups.set(name, Object.freeze([...members]));
  }
  return Object.freeze({
    protocolOf: (transport: "tcp" | "udp", port: number) => byPort[transport].get(port) ?? UNKNOWN_PROTOCOL,
    describe: (protocol: string) => protocols.get(protocol),
    group: (name: string) => groups.get(name),
    protocols,
  });
}

let builtIn: PortTable | undefined;

/** The table shipped with oddwire, loaded once. */
export function portTable(): PortTable {
  builtIn ??= buildPortTable(createRequire(import.meta.url)("./data/ports.json"));
  return builtIn;
}

function isPort(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
}

// biome-ignore lint/suspicious/noExplicitAny: callers read JSON of their own shape after this check
export function isObject(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
