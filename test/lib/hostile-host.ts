// A host that is an attacker: enrolls like an agent, then sends one full
// batch of its own making over a real stream to a real collector, with
// whatever strings it likes in every field (os, transport, direction,
// protocol, names, paths, command lines). Resolves once the batch is acked,
// i.e. committed to the collector's SQLite database.

import { WebSocket } from "ws";
import { oddwire } from "@oddwire/proto";
import { enroll } from "oddwire-agent/transport/enroll.js";
import { SECRET } from "./fleet.js";

/** Terminal controls and bidi characters an attacker would plant: ESC sequences, NUL, BEL, CR, a C1 CSI, overrides, isolates, marks. */
export const HOSTILE_TEXT = {
  clear: "\x1b[2J\x1b[H",
  title: "\x1b]0;pwned\x07",
  csi8bit: "\u009b31m",
  nul: "a\0b",
  cr: "shown\rhidden",
  rlo: "invoice\u202eexe.txt",
  isolates: "\u2066x\u2069\u2067y\u2069\u2068z\u2069",
  marks: "\u200e\u200f\u061c",
} as const;

export interface HostileSnapshot {
  hostId: string;
  hostname: string;
  os: string;
  processes: Array<Record<string, unknown>>;
  sockets: Array<Record<string, unknown>>;
}

export async function plantHost(url: string, s: HostileSnapshot): Promise<void> {
  const key = await enroll({ collector: url, secret: SECRET, hostId: s.hostId, hostname: s.hostname, os: s.os, agentVersion: "0.0.0-test" });
  const ws = new WebSocket(`${url}/v1/stream`, { headers: { authorization: `Bearer ${key}`, "x-oddwire-host": s.hostId }, perMessageDeflate: false });
  try {
    await new Promise<void>((resolve, reject) => {
      let seq = 0;
      ws.on("error", reject);
      ws.on("close", (code, reason) => reject(new Error(`the collector closed the stream: ${code} ${reason}`)));
      ws.on("unexpected-response", (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
      ws.on("message", (data) => {
        const msg = oddwire.v1.CollectorMessage.decode(new Uint8Array(data as Buffer));
        if (msg.welcome) {
          seq = Number(msg.welcome.lastSeq ?? 0) + 1;
          const snapshot = {
            hostId: s.hostId,
            hostname: s.hostname,
            os: s.os,
            osVersion: "1",
            agentVersion: "0.0.0-test",
            takenAtMs: Date.now(),
            processes: s.processes,
            sockets: s.sockets,
          };
          ws.send(oddwire.v1.AgentMessage.encode({ batch: { seq, full: true, snapshot } }).finish());
        } else if (msg.ack && Number(msg.ack.seq) === seq) resolve();
        else if (msg.error) reject(new Error(`the collector refused the batch: ${JSON.stringify(msg.error)}`));
      });
    });
  } finally {
    ws.removeAllListeners("close");
    ws.on("error", () => undefined);
    ws.close();
  }
}
