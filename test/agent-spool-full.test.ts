// A snapshot lost because the spool's disk is full (ENOSPC) is counted in the
// same dropped-batches total the agent reports in every batch, and that count
// survives a restart; the collector shows it. The disk is a real small tmpfs
// (root only).

import t from "tap";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Spool } from "oddwire-agent/spool/spool.js";
import { AGENT_BIN, freePort, query, SECRET, startCollector, waitFor } from "./lib/fleet.js";
import { kill, track } from "./lib/child-processes.js";
import { logEvents } from "./lib/stub-collector.js";

const isRoot = process.getuid?.() === 0;

function mountTmpfs(dir: string, size = "64k"): string | null {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: "pipe" });
    return null;
  } catch (err) {
    return `cannot mount a tmpfs: ${(err as Error).message.split("\n")[0]}`;
  }
}

/**
 * A tmpfs of `size` on a fresh mount point, unmounted at teardown; null (and
 * the test skipped) when it cannot be mounted. Not under t.testdir(): tap
 * would try to remove the mount point before the teardown unmounts it.
 */
function smallDisk(t: Tap, size: string): string | null {
  const mnt = mkdtempSync(join(tmpdir(), "oddwire-full-disk-"));
  const why = mountTmpfs(mnt, size);
  if (why) {
    rmSync(mnt, { recursive: true, force: true });
    t.plan(0, why);
    return null;
  }
  t.teardown(() => {
    execFileSync("umount", [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });
  return mnt;
}

type Tap = { plan(n: number, why: string): void; teardown(fn: () => void | Promise<void>): void };

t.test("a batch lost to a full disk is counted, persistently", { skip: !isRoot && "needs root to mount a 64 KiB tmpfs" }, async (t) => {
  const mnt = smallDisk(t, "64k");
  if (!mnt) return;
  const dir = join(mnt, "spool");
  const spool = Spool.open({ dir, maxBytes: 10 * 1024 * 1024 });
  const payload = Buffer.alloc(8 * 1024, 7);
  let lost = 0;
  let stored = 0;
  for (let i = 0; i < 20; i++) {
    try {
      spool.enqueue(payload);
      stored++;
    } catch (err) {
      t.equal((err as { code?: string }).code, "ODW_ERR_SPOOL");
      t.match((err as Error).message, /no space|ENOSPC/i);
      lost++;
    }
  }
  t.ok(stored > 0 && lost > 0, `${stored} stored, ${lost} lost`);
  t.equal(spool.droppedTotal, lost, "every lost batch is counted");
  t.equal(spool.nextSeq, stored + 1, "a lost batch takes no seq: the collector sees no gap, only the count");

  // Space comes back: the count reaches the disk with the next write.
  spool.commit(stored);
  t.equal(spool.takeDropNotice(), true, "the next batch is full");
  spool.enqueue(payload);
  const reopened = Spool.open({ dir });
  t.equal(reopened.droppedTotal, lost, "the count survives a restart");
});

t.test("end to end: snapshots lost to a full disk reach the collector's droppedBatches", { skip: !isRoot && "needs root to mount a tmpfs" }, async (t) => {
  const state = smallDisk(t, "256k");
  if (!state) return;
  writeFileSync(join(state, "host-id"), "full-disk-host\n");
  // Enrolled first, while there is room for the key: an agent that cannot
  // store its key cannot send at all, which is not what this test is about.
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}`;
  const db = join(t.testdir(), "fleet.db");
  let collector = await startCollector(t, db, { port });
  const agent = track(
    spawn(
      process.execPath,
      [AGENT_BIN, "run", "--collector", url, "--enroll-secret", SECRET, "--state-dir", state, "--no-hash", "--schedule", "* * * * * *", "--full-every", "1"],
      { stdio: ["ignore", "ignore", "pipe"] },
    ),
  );
  t.teardown(() => kill(agent));
  let stderr = "";
  agent.stderr!.on("data", (d) => (stderr += d));
  await waitFor("the agent to enroll and deliver a batch", () => query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM batches WHERE host_id = 'full-disk-host'")[0]!.n > 0);
  // The collector goes away: batches pile up until the disk is full.
  collector.child.kill("SIGKILL");
  await new Promise((r) => collector.child.once("exit", r));
  const lost = () => logEvents(stderr.split("\n")).filter((e) => e["event"] === "spool.disk_full");
  await waitFor("two snapshots lost to the full disk", () => lost().length >= 2);
  t.match(lost()[0], { level: "error", code: "ODW_ERR_SPOOL", error: /ENOSPC.*lost and counted in droppedBatches/ });

  collector = await startCollector(t, db, { port });
  // The agent's reconnect delay grew while the collector was away (up to 60 s
  // plus jitter): the deadline allows for two full delays.
  const dropped = await waitFor(
    "the collector to show the dropped batches",
    () => {
      const n = query<{ dropped_batches: number }>(db, "SELECT dropped_batches FROM hosts WHERE host_id = 'full-disk-host'")[0]?.dropped_batches ?? 0;
      return n >= 2 ? n : 0;
    },
    150_000,
  );
  t.ok(dropped >= 2, `the collector shows ${dropped} dropped batches`);
  await kill(agent);
});
