// A small collector stand-in for agent tests: a real HTTP server on
// 127.0.0.1 port 0 that answers /v1/enroll and upgrades /v1/stream to a real
// WebSocket, each as the test scripts it. Closed at teardown.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { oddwire } from "@oddwire/proto";

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface EnrollAnswer {
  status: number;
  key?: string;
  text?: string;
}

export interface StubScript {
  /** The answer to the nth (0-based) enrollment. Default: 200 with key "key-<n>". */
  enroll?(req: oddwire.v1.EnrollRequest, n: number): EnrollAnswer;
  /** HTTP status for the nth upgrade (101 accepts). Default 101. */
  upgrade?(authorization: string, n: number): number;
  /** The nth accepted stream. Default: Welcome{lastSeq 0}, then every batch acknowledged. */
  stream?(ws: WebSocket, n: number): void;
}

export interface StubCollector {
  url: string;
  port: number;
  enrolls: oddwire.v1.EnrollRequest[];
  /** Authorization headers of every upgrade attempt, in order. */
  upgrades: string[];
  /** Streams accepted. */
  streams: number;
}

export function welcomeFrame(lastSeq: number): Uint8Array {
  return oddwire.v1.CollectorMessage.encode({ welcome: { lastSeq, maxFrameBytes: 1024 * 1024 } }).finish();
}

export function ackFrame(seq: number): Uint8Array {
  return oddwire.v1.CollectorMessage.encode({ ack: { seq } }).finish();
}

/** Acknowledges every batch the agent sends on `ws`. */
export function ackEverything(ws: WebSocket): void {
  ws.on("message", (data) => {
    const msg = oddwire.v1.AgentMessage.decode(data as Buffer);
    if (msg.batch) ws.send(ackFrame(Number(msg.batch.seq)));
  });
}

export async function startStubCollector(t: Teardown, script: StubScript = {}): Promise<StubCollector> {
  const state: StubCollector = { url: "", port: 0, enrolls: [], upgrades: [], streams: 0 };
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });
  const sockets = new Set<Duplex>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/enroll") {
        res.writeHead(404).end();
        return;
      }
      const er = oddwire.v1.EnrollRequest.decode(Buffer.concat(chunks));
      const n = state.enrolls.length;
      state.enrolls.push(er);
      const a = script.enroll?.(er, n) ?? { status: 200, key: `key-${n}` };
      if (a.status === 200) {
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end(oddwire.v1.EnrollResponse.encode({ hostId: er.hostId, agentKey: a.key ?? `key-${n}` }).finish());
      } else res.writeHead(a.status, { "content-type": "text/plain" }).end(a.text ?? "refused");
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const n = state.upgrades.length;
    const auth = String(req.headers.authorization ?? "");
    state.upgrades.push(auth);
    const status = script.upgrade?.(auth, n) ?? 101;
    if (status !== 101) {
      socket.end(`HTTP/1.1 ${status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const i = state.streams++;
      if (script.stream) script.stream(ws, i);
      else {
        ws.send(welcomeFrame(0));
        ackEverything(ws);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.port = (server.address() as { port: number }).port;
  state.url = `ws://127.0.0.1:${state.port}`;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        for (const s of sockets) s.destroy();
        wss.close();
        server.close(() => resolve());
      }),
  );
  return state;
}

/** JSON log lines an agent printed, parsed (lines that are not JSON are left out). */
export function logEvents(lines: string[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of lines) {
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line or plain text
    }
  }
  return out;
}

/** A stream script that welcomes the agent, keeps every batch it sends (decoded) in `into`, and acknowledges it. */
export function keepBatches(into: oddwire.v1.Batch[]): (ws: WebSocket) => void {
  return (ws) => {
    ws.send(welcomeFrame(0));
    ws.on("message", (data) => {
      const msg = oddwire.v1.AgentMessage.decode(data as Buffer);
      if (!msg.batch) return;
      into.push(msg.batch as oddwire.v1.Batch);
      ws.send(ackFrame(Number(msg.batch.seq)));
    });
  };
}
