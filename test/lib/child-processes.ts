// Real processes for tests: started with spawn, waited for until they say
// they are ready (a line on stdout) or until a server of the test's sees
// their connection, and always killed at teardown.

import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server, type Socket } from "node:net";

export interface Started {
  child: ChildProcess;
  pid: number;
  /** The first line the child printed. */
  line: string;
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** Starts a process and resolves with its first stdout line. */
export function startUntilLine(t: Teardown, cmd: string, args: string[], timeoutMs = 15000): Promise<Started> {
  const child = track(spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }));
  t.teardown(() => kill(child));
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`${cmd} printed nothing within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
    child.stderr!.on("data", (d) => (err += d));
    child.stdout!.on("data", (d) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ child, pid: child.pid!, line: out.slice(0, nl) });
      }
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited with ${code} before it was ready; stderr: ${err}`));
    });
  });
}

/** Starts a process with no output and resolves once it is running. */
export function startQuiet(t: Teardown, cmd: string, args: string[], argv0?: string): Promise<ChildProcess> {
  const child = track(spawn(cmd, args, { stdio: "ignore", ...(argv0 !== undefined && { argv0 }) }));
  t.teardown(() => kill(child));
  return new Promise((resolve, reject) => {
    child.on("spawn", () => resolve(child));
    child.on("error", reject);
  });
}

/** A loopback TCP server that records its connections. */
export async function loopbackServer(t: Teardown, host = "127.0.0.1"): Promise<{ server: Server; port: number; nextConnection(): Promise<Socket> }> {
  const waiting: Array<(s: Socket) => void> = [];
  const arrived: Socket[] = [];
  const all: Socket[] = [];
  const server = createServer((s) => {
    all.push(s);
    const w = waiting.shift();
    if (w) w(s);
    else arrived.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of all) s.destroy();
      }),
  );
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    nextConnection: () => (arrived.length ? Promise.resolve(arrived.shift()!) : new Promise<Socket>((resolve) => waiting.push(resolve))),
  };
}

const running = new Set<ChildProcess>();

/**
 * Remembers a child so that it is killed when this test process ends by any
 * route: a failed assertion, an uncaught error, or tap's timeout (SIGTERM).
 * Returns the child.
 */
export function track<C extends ChildProcess>(child: C): C {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

function killAllNow(): void {
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}
process.once("exit", killAllNow);
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  process.once(signal, () => {
    killAllNow();
    // Whatever else listens (tap reports a timeout) goes on; alone, die of the signal as before.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

/**
 * Stops a child the way an operator would (SIGTERM, so a collector records its
 * coverage and closes its database), then SIGKILL if it has not exited within
 * graceMs. Resolves once it has exited.
 */
export function kill(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(hard);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** A node one-liner that listens and prints "ready <port>". */
export function nodeListener(kind: "tcp" | "udp", host: string): string[] {
  const body =
    kind === "tcp"
      ? `const s=require("net").createServer();s.listen(0,${JSON.stringify(host)},()=>console.log("ready "+s.address().port));`
      : `const s=require("dgram").createSocket(${JSON.stringify(host.includes(":") ? "udp6" : "udp4")});s.bind(0,${JSON.stringify(host)},()=>console.log("ready "+s.address().port));`;
  return ["-e", body + "setInterval(()=>{},1e6);"];
}
