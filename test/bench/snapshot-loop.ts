// Takes snapshots back to back in one process, as `oddwire-agent run` will,
// and prints the resident set size after each: the agent's steady memory.
// Usage: node snapshot-loop.js STATE_DIR COUNT

import { takeSnapshot } from "oddwire-agent/snapshot.js";
import { encodeSnapshot } from "oddwire-agent/render/snapshot-json.js";

const [stateDir, count] = process.argv.slice(2);
const rss: number[] = [];
let bytes = 0;
for (let i = 0; i < Number(count ?? 10); i++) {
  const { snapshot } = await takeSnapshot({ stateDir: stateDir! });
  bytes = encodeSnapshot(snapshot).length;
  rss.push(process.memoryUsage().rss);
}
console.log(JSON.stringify({ rssBytes: rss, wireBytes: bytes }));
