// Settings of `oddwire-agent run` (and the collector settings `replay`
// shares), from flags and/or a JSON config file, validated before anything
// starts.

import { readFileSync } from "node:fs";
import { type ConfigOf, type ConfigSchema, type KnowledgeBase, knowledgeWithSite, loadConfig, OddwireError, parseByteSize, resolveSecret } from "@oddwire/shared";
import { checkEnrollSecret } from "./enroll-secret.js";
import { checkNotWorldWritable } from "./identity/safe-files.js";
import { defaultStateDir } from "./identity/state-dir.js";
import { DEFAULT_SPOOL_MAX_BYTES } from "./spool/spool.js";
import { DEFAULT_MAX_EVENTS_PER_SECOND } from "./collect/linux/events/connection-aggregator.js";
import type { EventsMode } from "./events/connection-events.js";
import type { DpiMode } from "./events/wire-protocols.js";

export const CONNECT_SCHEMA = {
  collector: {
    type: "string",
    description: "The collector's URL: ws://host:port for a loopback lab, wss://host:port otherwise.",
    pattern: /^(wss?|https?):\/\/[^\s]+$/i,
    patternHint: "must be a ws://, wss://, http:// or https:// URL",
  },
  enrollSecret: { type: "string", description: "The fleet's enrollment secret, presented once to obtain this host's key. Also: $ODDWIRE_ENROLL_SECRET or --enroll-secret-file." },
  enrollSecretFile: { type: "string", description: "A file whose first line is the enrollment secret." },
  caCert: { type: "string", description: "PEM CA certificate to trust for wss:// (pins the collector's CA instead of the system's)." },
  logLevel: {
    type: "string",
    default: "info",
    pattern: /^(debug|info|warn|error)$/,
    patternHint: "must be debug, info, warn or error",
    description: "Least severe log level printed (JSON lines on stderr).",
  },
} as const satisfies ConfigSchema;

export const RUN_SCHEMA = {
  ...CONNECT_SCHEMA,
  schedule: { type: "string", default: "* * * * *", description: 'When to snapshot, as a node-cron expression (5 or 6 fields; default every minute: "* * * * *").' },
  spoolMaxBytes: { type: "string", default: "100MB", description: "Most disk the spool of unacknowledged batches may use; past it the oldest are dropped, counted and reported." },
  fullEvery: { type: "integer", default: 60, min: 1, max: 100000, description: "Send a full snapshot every N batches (the others carry only what changed)." },
  stateDir: { type: "string", description: "Where the agent keeps its host id, key, hash cache and spool (default as for snapshot)." },
  hash: { type: "boolean", default: true, description: "Hash executables (use --no-hash on the command line to turn off)." },
  heartbeatSeconds: { type: "integer", default: 30, min: 1, max: 3600, description: "Ping interval; a collector that misses a ping is reconnected to." },
  events: {
    type: "string",
    default: "auto",
    pattern: /^(auto|on|off)$/,
    patternHint: "must be auto, on or off",
    description:
      "Record every connection as it is made (Linux: eBPF tracepoints; Windows: Sysmon): auto = where this host allows it, else snapshots only with the reason logged and sent; on = refuse to start without it; off = snapshots only.",
  },
  knowledge: {
    type: "string",
    description: 'A site knowledge file (JSON): what is normal and what must never happen in this organisation (README "Site knowledge"); read at start.',
  },
  eventsRateCap: {
    type: "integer",
    default: DEFAULT_MAX_EVENTS_PER_SECOND,
    min: 1,
    max: 1_000_000,
    description: `Connection events accepted per second; the rest are dropped and counted (default ${DEFAULT_MAX_EVENTS_PER_SECOND}).`,
  },
  dpi: {
    type: "string",
    default: "auto",
    pattern: /^(auto|on|off)$/,
    patternHint: "must be auto, on or off",
    description:
      "Identify the protocol of each new flow from its first packets (Linux: tcpdump + nDPI's ndpiReader): auto = where this host allows it, else the reason logged and sent; on = refuse to start without it; off = protocols from port numbers only.",
  },
  dpiInterfaces: {
    type: "string",
    default: "any",
    pattern: /^[A-Za-z0-9_.:@-]{1,15}(,[A-Za-z0-9_.:@-]{1,15})*$/,
    patternHint: "must be interface names separated by commas (eth0,lo), or any",
    description: 'Interfaces protocol identification captures on, comma-separated (default "any": every interface that is up, loopback included).',
  },
  dpiNames: {
    type: "string",
    default: "send",
    pattern: /^(send|keep)$/,
    patternHint: "must be send or keep",
    description:
      "Destination names the traffic carries (TLS SNI, HTTP Host, DNS question, SSH software): send = to the collector; keep = they never leave the host (dropped after classification, absent from reasons).",
  },
} as const satisfies ConfigSchema;

export interface ConnectConfig {
  collector: string;
  enrollSecret: string;
  ca?: Buffer;
  logLevel: "debug" | "info" | "warn" | "error";
}

export interface RunConfig extends ConnectConfig {
  schedule: string;
  spoolMaxBytes: number;
  fullEvery: number;
  stateDir: string;
  hash: boolean;
  heartbeatMs: number;
  events: EventsMode;
  eventsRateCap: number;
  dpi: DpiMode;
  dpiInterfaces: string[];
  dpiSendNames: boolean;
  /** The built-in knowledge base with the site's knowledge over it, when --knowledge is given. */
  kb: KnowledgeBase;
}

export function resolveConnectConfig(c: ConfigOf<typeof CONNECT_SCHEMA>, env: NodeJS.ProcessEnv): ConnectConfig {
  const fail = (msg: string): never => {
    throw new OddwireError("ODW_ERR_CONFIG", msg);
  };
  const collector = c.collector ?? fail("the collector's URL is needed: --collector ws://127.0.0.1:8443 (or collector in the config file)");
  const secretFile = c.enrollSecretFile;
  if (secretFile) checkNotWorldWritable(secretFile, "the enrollment secret file");
  const secret = resolveSecret(c.enrollSecret, secretFile, env["ODDWIRE_ENROLL_SECRET"], "enrollment secret");
  // The same rules as configure and the collector, checked before anything starts.
  if (secret) checkEnrollSecret(secret);
  let ca: Buffer | undefined;
  if (c.caCert) {
    try {
      ca = readFileSync(c.caCert);
    } catch (err) {
      fail(`cannot read the CA certificate ${c.caCert}: ${(err as Error).message}`);
    }
  }
  return {
    collector,
    enrollSecret: secret ?? "",
    ...(ca && { ca }),
    logLevel: c.logLevel as ConnectConfig["logLevel"],
  };
}

export function resolveRunConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): RunConfig {
  const f = { ...flags };
  if (f["no-hash"]) f["hash"] = false;
  const configFile = f["config"] as string | undefined;
  if (configFile) checkNotWorldWritable(configFile, "the config file");
  const c = loadConfig(RUN_SCHEMA, { file: configFile, flags: f });
  const schedule = c.schedule; // checked by startAgent, which loads node-cron
  // Whoever can write the site knowledge can declare anything "normal".
  if (c.knowledge) checkNotWorldWritable(c.knowledge, "the site knowledge file");
  return Object.freeze({
    ...resolveConnectConfig(c, env),
    schedule,
    spoolMaxBytes: parseByteSize(c.spoolMaxBytes ?? DEFAULT_SPOOL_MAX_BYTES, "--spool-max-bytes"),
    fullEvery: c.fullEvery,
    stateDir: c.stateDir ?? defaultStateDir(env),
    hash: c.hash,
    heartbeatMs: c.heartbeatSeconds * 1000,
    events: c.events as EventsMode,
    eventsRateCap: c.eventsRateCap,
    dpi: c.dpi as DpiMode,
    dpiInterfaces: c.dpiInterfaces.split(",").filter((i) => i !== "any"),
    dpiSendNames: c.dpiNames === "send",
    kb: knowledgeWithSite(c.knowledge),
  });
}
