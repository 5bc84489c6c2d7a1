// Raw clients for a real collector: enrollment requests and WebSocket streams
// built by hand (no agent code in between), so a test can send exactly the
// bytes a hostile peer would, and read every close code and acknowledgement.

import { request } from "node:http";
import { WebSocket } from "ws";
import { oddwire } from "@oddwire/proto";

export interface EnrollAnswer {
  status: number;
  /** The agent key when status is 200, else the body as text. */
  key: string;
  text: string;
}

/**
 * One HTTP request on a connection of its own (no keep-alive: a test blocked
 * in spawnSync must not come back to a pooled connection the server closed).
 */
export function httpOnce(port: number, method: string, path: string, body?: Uint8Array): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, agent: false, headers: { connection: "close", ...(body && { "content-length": body.length }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** POSTs an EnrollRequest to /v1/enroll and returns the status and key or text. */
export async function enrollRaw(port: number, req: oddwire.v1.IEnrollRequest): Promise<EnrollAnswer> {
  const res = await httpOnce(port, "POST", "/v1/enroll", oddwire.v1.EnrollRequest.encode({ hostname: "h", os: "linux", agentVersion: "t", ...req }).finish());
  if (res.status === 200) return { status: 200, key: oddwire.v1.EnrollResponse.decode(res.body).agentKey, text: "" };
  return { status: res.status, key: "", text: res.body.toString("utf8") };
}

export interface RawStream {
  ws: WebSocket;
  /** lastSeq of the welcome. */
  lastSeq: number;
  /** Every message the collector sent after the welcome, decoded. */
  messages: oddwire.v1.CollectorMessage[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once the collector acknowledged `seq`. */
  acked(seq: number): Promise<void>;
  sendBatch(batch: oddwire.v1.IBatch): void;
}

/** Opens /v1/stream as `hostId` with `key` and resolves after the welcome; rejects with the HTTP status if refused. */
export function openRawStream(port: number, hostId: string, key: string, options: { autoPong?: boolean } = {}): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, {
      headers: { authorization: `Bearer ${key}`, "x-oddwire-host": hostId },
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
      ...(options.autoPong === false && { autoPong: false }),
    });
    const messages: oddwire.v1.CollectorMessage[] = [];
    const waiters: Array<() => void> = [];
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.on("close", (code, reason) => {
        r({ code, reason: reason.toString() });
        for (const w of waiters.splice(0)) w();
      }),
    );
    ws.on("error", () => undefined);
    ws.on("unexpected-response", (_req, res) => {
      res.resume();
      ws.terminate();
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
    });
    let welcomed = false;
    ws.on("message", (data) => {
      const msg = oddwire.v1.CollectorMessage.decode(data as Buffer);
      if (!welcomed && msg.welcome) {
        welcomed = true;
        resolve(stream(Number(msg.welcome.lastSeq)));
        return;
      }
      messages.push(msg);
      for (const w of waiters.splice(0)) w();
    });
    const stream = (lastSeq: number): RawStream => ({
      ws,
      lastSeq,
      messages,
      closed,
      acked: (seq) =>
        new Promise<void>((ok, fail) => {
          const check = () => {
            if (messages.some((m) => m.ack && Number(m.ack.seq) === seq)) return ok();
            if (ws.readyState === ws.CLOSED || ws.readyState === ws.CLOSING) return fail(new Error(`stream closed before seq ${seq} was acknowledged`));
            waiters.push(check);
          };
          check();
        }),
      sendBatch: (batch) => ws.send(oddwire.v1.AgentMessage.encode({ batch }).finish()),
    });
  });
}

/** The collector's counters from /metrics, by name without the oddwire_ prefix and _total suffix. */
export async function readMetrics(port: number): Promise<Record<string, number>> {
  const text = (await httpOnce(port, "GET", "/metrics")).body.toString("utf8");
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^oddwire_(\w+?)(?:_total)? (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** A protobuf length-delimited field (tag + length + bytes), for frames built by hand. */
export function lenField(fieldNumber: number, body: Uint8Array): Buffer {
  return Buffer.concat([varint(fieldNumber * 8 + 2), varint(body.length), body]);
}

export function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** A small, valid full batch for `hostId`. */
export function smallBatch(hostId: string, seq: number, over: Partial<oddwire.v1.IBatch> = {}, takenAtMs = Date.now()): oddwire.v1.IBatch {
  return {
    seq,
    full: true,
    snapshot: {
      hostId,
      hostname: hostId,
      os: "linux",
      takenAtMs,
      processes: [{ pid: 100, ppid: 1, name: "sshd", exe: "/usr/sbin/sshd", cmdline: "sshd -D", user: "root", uid: 0, startedAtMs: 1000 }],
      sockets: [
        {
          transport: "tcp",
          family: 4,
          localAddress: "10.0.0.1",
          localPort: 40000 + seq,
          remoteAddress: "10.0.0.9",
          remotePort: 443,
          state: "ESTABLISHED",
          pid: 100,
          protocol: "https",
          direction: "outbound",
          uid: 0,
        },
      ],
    },
    ...over,
  };
}

/** A connection record of a process that has exited: everything about it travels in the record. */
export function connectionRecord(over: Partial<oddwire.v1.IConnection> = {}, now = Date.now()): oddwire.v1.IConnection {
  return {
    transport: "tcp",
    direction: "outbound",
    family: 4,
    localAddress: "10.0.0.1",
    localPort: 0,
    remoteAddress: "203.0.113.9",
    remotePort: 443,
    protocol: "https",
    firstSeenMs: now - 2000,
    lastSeenMs: now,
    count: 1,
    failed: 0,
    process: { pid: 4242, ppid: 4200, name: "dropper", exe: "/tmp/.x/dropper", cmdline: "/tmp/.x/dropper --c2 203.0.113.9", user: "www-data", uid: 33, startedAtMs: now - 3000 },
    ancestry: ["/bin/sh", "/usr/sbin/nginx"],
    tags: [],
    ...over,
  };
}

/** The collector CLI's output for `args` (report, agents...), run against a database a collector may be serving. */
export async function collectorCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const { spawnSync } = await import("node:child_process");
  const { COLLECTOR_BIN } = await import("./fleet.js");
  const r = spawnSync(process.execPath, [COLLECTOR_BIN, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
