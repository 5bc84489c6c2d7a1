// A TCP load balancer on loopback for tests of several collectors: each
// connection goes to the next backend in turn that accepts it (one that
// refuses, a collector that was killed, is skipped), bytes copied both ways.
// What any TCP load balancer in front of the collectors does.

import { connect, createServer, type Server, type Socket } from "node:net";

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface Balancer {
  port: number;
  /** Connections handed to each backend port so far. */
  handed: Map<number, number>;
}

export async function startBalancer(t: Teardown, backends: readonly number[]): Promise<Balancer> {
  const handed = new Map<number, number>();
  const open = new Set<Socket>();
  let next = 0;
  const server: Server = createServer((client) => {
    open.add(client);
    client.on("close", () => open.delete(client));
    client.pause();
    const attempt = (tries: number): void => {
      if (tries >= backends.length) {
        client.destroy();
        return;
      }
      const port = backends[next++ % backends.length]!;
      const upstream = connect(port, "127.0.0.1");
      upstream.once("error", () => attempt(tries + 1));
      upstream.once("connect", () => {
        handed.set(port, (handed.get(port) ?? 0) + 1);
        open.add(upstream);
        upstream.on("close", () => open.delete(upstream));
        upstream.removeAllListeners("error");
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
        client.on("close", () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(async () => {
    for (const s of open) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as { port: number }).port, handed };
}
