// A snapshot lost because the spool's disk is full (ENOSPC) is counted in the
// same dropped-batches total the agent reports in every batch, and that count
// survives a restart. The disk is a real 64 KiB tmpfs (root only).

import t from "tap";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Spool } from "oddwire-agent/spool/spool.js";

const isRoot = process.getuid?.() === 0;

function mountTmpfs(dir: string): string | null {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dir], { stdio: "pipe" });
    return null;
  } catch (err) {
    return `cannot mount a tmpfs: ${(err as Error).message.split("\n")[0]}`;
  }
}

t.test("a batch lost to a full disk is counted, persistently", { skip: !isRoot && "needs root to mount a 64 KiB tmpfs" }, async (t) => {
  // Not under t.testdir(): tap would try to remove the mount point before the
  // teardown below unmounts it.
  const mnt = mkdtempSync(join(tmpdir(), "oddwire-full-disk-"));
  const why = mountTmpfs(mnt);
  if (why) {
    rmSync(mnt, { recursive: true, force: true });
    t.plan(0, why);
    return;
  }
  t.teardown(() => {
    execFileSync("umount", [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });
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
