// Extra load for the snapshot benchmark: idle processes and open loopback
// TCP connections, created here and removed at the end. Loopback only.

import { spawn, type ChildProcess } from "node:child_process";

export interface Load {
  processes: number;
  sockets: number;
  stop(): Promise<void>;
}

/** `processes` idle sleepers, and `connections` loopback TCP connections (two sockets each) spread over holder processes. */
export async function startLoad(processes: number, connections: number): Promise<Load> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < processes; i++) children.push(spawn("sleep", ["3600"], { stdio: "ignore" }));
  const perHolder = 500;
  const holders = Math.ceil(connections / perHolder);
  const ready: Promise<void>[] = [];
  for (let h = 0; h < holders; h++) {
    const n = Math.min(perHolder, connections - h * perHolder);
    const code = `
      const net = require("net");
      const keep = [];
      const srv = net.createServer((s) => keep.push(s));
      srv.listen(0, "127.0.0.1", async () => {
        const port = srv.address().port;
        for (let i = 0; i < ${n}; i++) {
          await new Promise((ok, ko) => { const c = net.connect(port, "127.0.0.1", ok); c.on("error", ko); keep.push(c); });
        }
        console.log("ready");
      });`;
    const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(child);
    ready.push(
      new Promise((resolve, reject) => {
        child.stdout!.once("data", () => resolve());
        child.once("exit", (c) => reject(new Error(`load holder exited with ${c}`)));
      }),
    );
  }
  await Promise.all(ready);
  return {
    processes: processes + holders,
    sockets: connections * 2 + holders,
    async stop() {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once("exit", () => resolve());
              c.kill("SIGKILL");
            }),
        ),
      );
    },
  };
}
