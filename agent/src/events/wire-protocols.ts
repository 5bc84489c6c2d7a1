// Protocol identification for the run loop (--dpi auto|on|off): decides at
// start whether this host can capture and classify, runs the capture, and at
// each tick hands over the flows classified since the previous one, with what
// it could see and what its caps left unclassified.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { OddwireError, type DpiVisibilityRecord, type Logger, type OsName } from "@oddwire/shared";
import { DpiCapture, dpiMissing, findDpiTools, type ClassifiedFlow } from "../collect/linux/dpi/dpi-capture.js";
import type { WindowOptions } from "../collect/linux/dpi/flow-window.js";
import { capEffFromStatus, parseCapMask } from "../collect/linux/events/preflight.js";
import type { ObservedFlow } from "../classify/join-flows.js";

export type DpiMode = "auto" | "on" | "off";
export const DPI_MODES: readonly DpiMode[] = ["auto", "on", "off"];

export interface WireProtocolsOptions {
  mode: DpiMode;
  /** Interfaces to capture on; empty or ["any"]: every interface that is up, loopback included. */
  interfaces: string[];
  /** false: destination names are dropped on the host (never sent, never in a reason). */
  sendNames: boolean;
  os: OsName;
  stateDir: string;
  log: Logger;
  window?: WindowOptions;
  windowMs?: number;
}

export interface WireProtocols {
  readonly mode: "on" | "off";
  collect(nowMs: number): Promise<{ flows: ObservedFlow[]; dpi: DpiVisibilityRecord }>;
  stop(): Promise<void>;
}

export async function startWireProtocols(o: WireProtocolsOptions): Promise<WireProtocols> {
  const { log } = o;
  const interfaces = o.interfaces.length === 0 ? ["any"] : o.interfaces;
  let reason = "";
  let capture: DpiCapture | null = null;
  const refuse = (why: string): void => {
    reason = why;
    if (o.mode === "on")
      throw new OddwireError(
        "ODW_ERR_DPI",
        `--dpi on, but protocol identification cannot run on this host: ${why}. Fix that, or run with --dpi auto (the reason sent to the collector) or --dpi off`,
      );
    log.warn("dpi.unavailable", { reason: why });
  };

  if (o.mode === "off") reason = "protocol identification is turned off (--dpi off)";
  else if (o.os !== "linux") refuse(`oddwire identifies protocols on the wire on Linux only (this host runs ${o.os})`);
  else {
    const tools = findDpiTools();
    let cap: bigint | null = null;
    try {
      cap = parseCapMask(capEffFromStatus(readFileSync("/proc/self/status", "utf8")) ?? "");
    } catch {
      cap = null;
    }
    const missing = dpiMissing(tools, cap);
    if (missing.length > 0) refuse(missing.join("; "));
    else {
      const c = new DpiCapture({
        tools: { tcpdump: tools.tcpdump!, ndpiReader: tools.ndpiReader! },
        interfaces,
        dir: join(o.stateDir, "dpi"),
        ...(o.window && { window: o.window }),
        ...(o.windowMs !== undefined && { windowMs: o.windowMs }),
        onError: (what) => log.warn("dpi.capture_error", { error: what }),
      });
      try {
        await c.start();
        capture = c;
        log.info("dpi.started", { interfaces, tcpdump: tools.tcpdump, ndpiReader: tools.ndpiReader });
      } catch (err) {
        await c.stop();
        refuse(`the capture could not start: ${(err as Error).message}`);
      }
    }
  }

  return {
    get mode() {
      return capture && !capture.failure ? "on" : "off";
    },
    async collect(nowMs) {
      const c = capture;
      if (!c) return { flows: [], dpi: { mode: "off", reason, interfaces: [], flowsClassified: 0, unclassifiedRate: 0, unclassifiedWindow: 0, packetsDropped: 0 } };
      const classified = await c.collect(nowMs);
      return {
        flows: classified.map((f) => observed(f, o.sendNames)),
        dpi: {
          mode: c.failure ? "off" : "on",
          reason: c.failure ?? "",
          interfaces,
          flowsClassified: c.flowsClassified,
          unclassifiedRate: c.caps.unclassifiedRate,
          unclassifiedWindow: c.caps.unclassifiedWindow,
          packetsDropped: c.packetsDropped,
        },
      };
    },
    async stop() {
      const c = capture;
      capture = null;
      await c?.stop();
    },
  };
}

function observed({ watched: w, ndpi }: ClassifiedFlow, sendNames: boolean): ObservedFlow {
  // A guess from the port is not identification: the wire protocol stays "" then.
  const identified = ndpi !== null && ndpi.protocol !== "" && ndpi.confidence.startsWith("DPI");
  return {
    transport: w.transport,
    family: w.family,
    client: w.client,
    clientPort: w.clientPort,
    server: w.server,
    serverPort: w.serverPort,
    firstSeenMs: w.firstSeenMs,
    lastSeenMs: w.lastSeenMs,
    packets: w.packets,
    bytes: w.bytes,
    wireProtocol: identified ? ndpi.protocol : "",
    confidence: ndpi?.confidence ?? "",
    risks: ndpi?.risks ?? [],
    names: sendNames ? (ndpi?.names ?? []) : [],
  };
}
