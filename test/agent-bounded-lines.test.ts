// Replay's input is read line by line with a bound on each line: an overlong
// line is skipped (and said so) without being held in memory, and the lines
// around it still count.

import t from "tap";
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { boundedLines, type BoundedLine } from "oddwire-agent/bounded-lines.js";
import { MAX_LINE_BYTES } from "oddwire-agent/replay.js";
import { AGENT_BIN, query, SECRET, startCollector } from "./lib/fleet.js";
import { kill, track } from "./lib/child-processes.js";

async function all(chunks: string[], max: number): Promise<BoundedLine[]> {
  const out: BoundedLine[] = [];
  for await (const l of boundedLines(Readable.from(chunks.map((c) => Buffer.from(c))), max)) out.push(l);
  return out;
}

t.test("lines split across chunks, CRLF, a last line without newline", async (t) => {
  t.same(await all(["ab", "c\r\nde", "f\n\ng"], 10), [{ line: "abc" }, { line: "def" }, { line: "" }, { line: "g" }]);
  t.same(await all(["é", "\n"], 10), [{ line: "é" }], "UTF-8 split over chunks");
});

t.test("an overlong line is skipped with its length; the next is whole", async (t) => {
  t.same(await all(["12345", "67890", "12\nok\n"], 8), [{ tooLong: 12 }, { line: "ok" }]);
  t.same(await all(["123456789"], 8), [{ tooLong: 9 }], "at the end, without a newline");
  t.same(await all(["12345678\n"], 8), [{ line: "12345678" }], "exactly the bound is fine");
});

t.test("replay skips a line over the limit and delivers the others", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const collector = await startCollector(t, db);
  const file = join(dir, "in.ndjson");
  const snap = (hostId: string) =>
    JSON.stringify({
      hostId,
      hostname: hostId,
      os: "linux",
      takenAtMs: "1764300000000",
      processes: [{ pid: 10, ppid: 1, name: "cron", exe: "/usr/sbin/cron", cmdline: "cron -f" }],
      sockets: [],
    });
  const out = createWriteStream(file);
  out.write(snap("before") + "\n");
  const mib = Buffer.alloc(1024 * 1024, 0x41);
  for (let i = 0; i <= MAX_LINE_BYTES / mib.length; i++) out.write(mib);
  out.write("\n" + snap("after") + "\n");
  await new Promise<void>((resolve) => out.end(resolve));
  const child = track(
    spawn(process.execPath, [AGENT_BIN, "replay", file, "--collector", collector.url, "--enroll-secret", SECRET, "--quiet"], { stdio: ["ignore", "ignore", "pipe"] }),
  );
  t.teardown(() => kill(child));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  t.equal(await new Promise((r) => child.on("exit", r)), 1, "a bad line makes the exit code 1");
  t.match(stderr, /line 2: the line is \d+ bytes, over the 67108864-byte limit of one snapshot line; skipped/);
  t.same(
    query<{ host_id: string }>(db, "SELECT host_id FROM hosts ORDER BY host_id").map((h) => h.host_id),
    ["after", "before"],
  );
});
