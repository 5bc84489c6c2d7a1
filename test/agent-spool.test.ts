// The agent's spool on real files: seq assignment, lease / commit / rollback,
// recovery after a reopen and after a real SIGKILL mid-stream, the space
// limits with exact drop counts, and what open does with leftovers (temp files,
// a corrupt state file, a truncated batch).

import t from "tap";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isOddwireError } from "@oddwire/shared";
import { batchFileName, Spool, type SpooledBatch } from "oddwire-agent/spool/spool.js";
import { kill, track } from "./lib/child-processes.js";

const SPOOL_MODULE = fileURLToPath(new URL("../../agent/dist/spool/spool.js", import.meta.url));

function payload(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function texts(batches: SpooledBatch[]): Array<[number, string]> {
  return batches.map((b) => [b.seq, new TextDecoder().decode(b.bytes)]);
}

function filesIn(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** A payload whose length and content follow from its seq, so a reader can tell a whole one. */
function patterned(seq: number): Uint8Array {
  const len = 4 + ((seq * 7919) % 20000);
  const out = new Uint8Array(len);
  new DataView(out.buffer).setUint32(0, seq);
  for (let i = 4; i < len; i++) out[i] = (seq * 31 + i) & 0xff;
  return out;
}

t.test("seqs start at 1 and follow enqueue order, one zero-padded file each", async (t) => {
  const dir = t.testdir();
  const spool = Spool.open({ dir });
  t.equal(spool.nextSeq, 1);
  t.same(spool.enqueue(payload("alpha")), { seq: 1, dropped: 0 });
  t.same(spool.enqueue(payload("bravo!")), { seq: 2, dropped: 0 });
  t.same(spool.enqueue(payload("c")), { seq: 3, dropped: 0 });
  t.equal(spool.pending, 3);
  t.equal(spool.bytes, 12);
  t.equal(spool.nextSeq, 4);
  t.same(filesIn(dir), ["000000000001.batch", "000000000002.batch", "000000000003.batch", "spool-state.json"]);
  t.equal(statSync(join(dir, "000000000002.batch")).size, 8 + 6, "header + payload");
  t.equal(batchFileName(42), "000000000042.batch");
  t.same(texts(spool.lease(10)), [
    [1, "alpha"],
    [2, "bravo!"],
    [3, "c"],
  ]);
  t.equal(spool.pending, 3, "a lease removes nothing");
});

t.test("creates a missing nested directory, owner-only", async (t) => {
  const dir = join(t.testdir(), "a", "spool");
  Spool.open({ dir });
  t.equal(statSync(dir).mode & 0o777, 0o700);
});

t.test("lease, commit and rollback", async (t) => {
  const dir = t.testdir();
  const spool = Spool.open({ dir });
  for (const s of ["one", "two", "three", "four", "five"]) spool.enqueue(payload(s));

  t.same(texts(spool.lease(2)), [
    [1, "one"],
    [2, "two"],
  ]);
  t.same(
    texts(spool.lease(2)),
    [
      [3, "three"],
      [4, "four"],
    ],
    "a second lease continues after the first",
  );
  t.same(texts(spool.lease(2)), [[5, "five"]]);
  t.same(spool.lease(2), [], "everything is leased");

  spool.rollback();
  t.same(
    texts(spool.lease(10)),
    [
      [1, "one"],
      [2, "two"],
      [3, "three"],
      [4, "four"],
      [5, "five"],
    ],
    "rollback replays the same seqs with the same bytes",
  );

  t.equal(spool.commit(2), 2);
  t.equal(spool.commit(2), 0, "commit is idempotent");
  t.equal(spool.commit(0), 0);
  t.equal(spool.pending, 3);
  t.equal(spool.bytes, 5 + 4 + 4);
  t.notOk(existsSync(join(dir, "000000000001.batch")));
  t.notOk(existsSync(join(dir, "000000000002.batch")));
  t.ok(existsSync(join(dir, "000000000003.batch")));

  spool.rollback();
  t.equal(spool.commit(4), 2, "commit removes entries that are not leased");
  t.same(texts(spool.lease(10)), [[5, "five"]]);
  t.equal(spool.commit(100), 1);
  t.equal(spool.pending, 0);
  t.equal(spool.bytes, 0);
  t.same(filesIn(dir), ["spool-state.json"]);
  t.equal(spool.nextSeq, 6);
  t.equal(Spool.open({ dir }).nextSeq, 6, "acking the newest batch handed nextSeq to the state file first");
});

t.test("a commit inside the leased range leaves the rest leased", async (t) => {
  const spool = Spool.open({ dir: t.testdir() });
  for (const s of ["a", "b", "c", "d"]) spool.enqueue(payload(s));
  t.same(texts(spool.lease(2)), [
    [1, "a"],
    [2, "b"],
  ]);
  t.equal(spool.commit(1), 1);
  t.same(texts(spool.lease(1)), [[3, "c"]], "2 is still leased");
  spool.rollback();
  t.same(texts(spool.lease(10)), [
    [2, "b"],
    [3, "c"],
    [4, "d"],
  ]);
});

t.test("a reopen (no close: a crash) keeps batches, nextSeq and drop counts, and forgets leases", async (t) => {
  const dir = t.testdir();
  const first = Spool.open({ dir, maxEntries: 3 });
  for (const s of ["a", "b", "c", "d", "e"]) first.enqueue(payload(s));
  t.equal(first.droppedTotal, 2);
  t.same(texts(first.lease(2)), [
    [3, "c"],
    [4, "d"],
  ]);

  const second = Spool.open({ dir, maxEntries: 3 });
  t.equal(second.pending, 3);
  t.equal(second.bytes, 3);
  t.equal(second.nextSeq, 6);
  t.equal(second.droppedTotal, 2);
  t.same(
    texts(second.lease(10)),
    [
      [3, "c"],
      [4, "d"],
      [5, "e"],
    ],
    "what was leased before the crash is leased again",
  );
  t.equal(second.takeDropNotice(), true, "the notice survived the reopen");

  t.equal(second.commit(5), 3);
  const third = Spool.open({ dir, maxEntries: 3 });
  t.equal(third.pending, 0);
  t.equal(third.nextSeq, 6, "with every file gone, the state file remembers nextSeq");
  t.equal(third.droppedTotal, 2);
  t.equal(third.takeDropNotice(), false, "taken before the reopen");
  t.same(third.enqueue(payload("f")), { seq: 6, dropped: 0 });
});

t.test("a reopen with lower limits drops the oldest right away", async (t) => {
  const dir = t.testdir();
  const first = Spool.open({ dir });
  for (const s of ["a", "b", "c", "d"]) first.enqueue(payload(s));
  const second = Spool.open({ dir, maxEntries: 2 });
  t.equal(second.pending, 2);
  t.equal(second.droppedTotal, 2);
  t.same(texts(second.lease(10)), [
    [3, "c"],
    [4, "d"],
  ]);
});

t.test("maxBytes drops the oldest, with exact counts and one notice", async (t) => {
  const dir = t.testdir();
  const spool = Spool.open({ dir, maxBytes: 550 });
  const dropped: number[] = [];
  for (let i = 1; i <= 10; i++) dropped.push(spool.enqueue(new Uint8Array(100).fill(i)).dropped);
  t.same(dropped, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  t.equal(spool.pending, 5);
  t.equal(spool.bytes, 500);
  t.equal(spool.droppedTotal, 5);
  const left = spool.lease(100);
  t.same(
    left.map((b) => b.seq),
    [6, 7, 8, 9, 10],
  );
  t.same(
    left.map((b) => b.bytes[0]),
    [6, 7, 8, 9, 10],
  );
  t.notOk(existsSync(join(dir, "000000000005.batch")));
  t.equal(spool.takeDropNotice(), true);
  t.equal(spool.takeDropNotice(), false);

  // A leased batch is dropped too, and one large batch can push out several.
  t.same(spool.enqueue(new Uint8Array(550)), { seq: 11, dropped: 5 });
  t.equal(spool.pending, 1);
  t.equal(spool.bytes, 550);
  t.equal(spool.droppedTotal, 10);
  t.equal(spool.commit(10), 0, "acking dropped batches removes nothing");
  t.same(
    spool.lease(10).map((b) => b.seq),
    [11],
  );
  t.equal(spool.takeDropNotice(), true);
  t.equal(Spool.open({ dir, maxBytes: 550 }).droppedTotal, 10);
});

t.test("maxEntries drops the oldest", async (t) => {
  const spool = Spool.open({ dir: t.testdir(), maxEntries: 3 });
  const dropped: number[] = [];
  for (const s of ["a", "b", "c", "d", "e"]) dropped.push(spool.enqueue(payload(s)).dropped);
  t.same(dropped, [0, 0, 0, 1, 1]);
  t.equal(spool.pending, 3);
  t.equal(spool.droppedTotal, 2);
  t.same(texts(spool.lease(10)), [
    [3, "c"],
    [4, "d"],
    [5, "e"],
  ]);
});

t.test("bumpSeq moves nextSeq forward only, and it persists", async (t) => {
  const dir = t.testdir();
  const spool = Spool.open({ dir });
  spool.enqueue(payload("a"));
  spool.bumpSeq(100);
  t.equal(spool.nextSeq, 100);
  t.equal(spool.enqueue(payload("b")).seq, 100);
  spool.bumpSeq(50);
  t.equal(spool.nextSeq, 101, "never backwards");
  t.equal(spool.commit(100), 2);
  spool.bumpSeq(500);
  t.equal(Spool.open({ dir }).nextSeq, 500, "with no batch files, the state file carries it");
  t.throws(() => spool.bumpSeq(0), { code: "ODW_ERR_SPOOL" });
  t.throws(() => spool.bumpSeq(1.5), { code: "ODW_ERR_SPOOL" });
});

t.test("a payload larger than maxBytes is refused and nothing is written", async (t) => {
  const dir = t.testdir();
  const spool = Spool.open({ dir, maxBytes: 1000 });
  let caught: unknown;
  try {
    spool.enqueue(new Uint8Array(1001));
  } catch (err) {
    caught = err;
  }
  t.ok(isOddwireError(caught, "ODW_ERR_SPOOL"));
  t.match((caught as Error).message, /1001 bytes.*1000 bytes/);
  t.equal(spool.nextSeq, 1);
  t.equal(spool.pending, 0);
  t.same(filesIn(dir), ["spool-state.json"]);
  t.same(spool.enqueue(new Uint8Array(1000)), { seq: 1, dropped: 0 }, "exactly maxBytes fits");
});

t.test("bad limits are a configuration error", async (t) => {
  const dir = t.testdir();
  t.throws(() => Spool.open({ dir, maxBytes: 0 }), { code: "ODW_ERR_CONFIG" });
  t.throws(() => Spool.open({ dir, maxEntries: 2.5 }), { code: "ODW_ERR_CONFIG" });
});

t.test("leftover temp files are deleted on open", async (t) => {
  const dir = t.testdir();
  const spool = Spool.open({ dir });
  spool.enqueue(payload("a"));
  spool.enqueue(payload("b"));
  writeFileSync(join(dir, "000000000003.batch.tmp"), "half a ba");
  writeFileSync(join(dir, "spool-state.json.tmp"), '{"vers');
  const reopened = Spool.open({ dir });
  t.same(filesIn(dir), ["000000000001.batch", "000000000002.batch", "spool-state.json"]);
  t.equal(reopened.pending, 2);
  t.equal(reopened.nextSeq, 3);
  t.equal(reopened.takeDropNotice(), false);
});

t.test("a corrupt state file loses no batch", async (t) => {
  const dir = t.testdir();
  const spool = Spool.open({ dir, maxEntries: 3 });
  for (const s of ["a", "b", "c", "d"]) spool.enqueue(payload(s));
  t.equal(spool.takeDropNotice(), true);
  t.equal(spool.commit(2), 1, "1 was already dropped");
  writeFileSync(join(dir, "spool-state.json"), "{not json");

  const reopened = Spool.open({ dir, maxEntries: 3 });
  t.equal(reopened.pending, 2);
  t.equal(reopened.nextSeq, 5);
  t.equal(reopened.droppedTotal, 0, "earlier drops cannot be known");
  t.equal(reopened.takeDropNotice(), true, "a lost state asks for a full snapshot");
  t.same(texts(reopened.lease(10)), [
    [3, "c"],
    [4, "d"],
  ]);
  t.same(JSON.parse(readFileSync(join(dir, "spool-state.json"), "utf8")), { version: 1, nextSeq: 5, droppedTotal: 0, dropNotice: false });

  writeFileSync(join(dir, "spool-state.json"), JSON.stringify({ version: 1, nextSeq: 5, droppedTotal: -7, dropNotice: false }));
  const again = Spool.open({ dir });
  t.equal(again.droppedTotal, 0, "a well-formed but invalid state counts as corrupt");
  t.equal(again.takeDropNotice(), true);
});

t.test("a missing state file beside batches is rebuilt from them", async (t) => {
  const root = t.testdir();
  const dir = join(root, "old");
  const spool = Spool.open({ dir });
  for (const s of ["a", "b"]) spool.enqueue(payload(s));
  t.equal(Spool.open({ dir: join(root, "new") }).takeDropNotice(), false, "a brand-new spool has nothing to announce");
  rmSync(join(dir, "spool-state.json"));
  const reopened = Spool.open({ dir });
  t.equal(reopened.nextSeq, 3);
  t.equal(reopened.pending, 2);
  t.equal(reopened.takeDropNotice(), true, "batches without a state file mean the state was lost");
  t.ok(existsSync(join(dir, "spool-state.json")), "and it is written again");
});

t.test("an unreadable batch is dropped at lease and counted", async (t) => {
  const dir = t.testdir();
  const spool = Spool.open({ dir });
  for (const s of ["aaaa", "bbbb", "cccc", "dddd"]) spool.enqueue(payload(s));
  truncateSync(join(dir, "000000000002.batch"), 10);
  writeFileSync(join(dir, "000000000004.batch"), "XXXXXXXXdddd");
  t.same(texts(spool.lease(10)), [
    [1, "aaaa"],
    [3, "cccc"],
  ]);
  t.equal(spool.corrupt, 2);
  t.equal(spool.droppedTotal, 2);
  t.equal(spool.pending, 2);
  t.equal(spool.bytes, 8);
  t.notOk(existsSync(join(dir, "000000000002.batch")));
  t.notOk(existsSync(join(dir, "000000000004.batch")));
  t.equal(spool.takeDropNotice(), true);
  t.equal(spool.commit(3), 2);
  t.equal(Spool.open({ dir }).nextSeq, 5, "dropping the newest batch kept its seq taken");
});

t.test("after a SIGKILL mid-stream every batch file is whole and seqs are contiguous", async (t) => {
  const dir = t.testdir();
  // The child enqueues forever, leasing and committing now and then; it says
  // "c N" before committing up to N and "e N" after enqueue returned N.
  const script = `
    const { Spool } = await import(${JSON.stringify(pathToFileURL(SPOOL_MODULE).href)});
    const patterned = ${patterned.toString()};
    const spool = Spool.open({ dir: ${JSON.stringify(dir)} });
    for (let i = 1; ; i++) {
      const { seq } = spool.enqueue(patterned(spool.nextSeq));
      process.stdout.write("e " + seq + "\\n");
      if (i % 5 === 0) {
        const leased = spool.lease(3);
        if (i % 15 === 0) spool.rollback();
        else if (leased.length > 0) {
          const upto = leased[leased.length - 1].seq;
          process.stdout.write("c " + upto + "\\n");
          spool.commit(upto);
        }
      }
    }
  `;
  const child = track(spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] }));
  t.teardown(() => kill(child));
  // "close", not "exit": the lines still in the pipe at the kill count too.
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the child enqueued too slowly; stderr: ${err}`)), 60000);
    child.on("exit", (code) => reject(new Error(`the child exited with ${code}; stderr: ${err}`)));
    child.stdout.on("data", (d) => {
      out += d;
      if ((out.match(/^e /gm) ?? []).length >= 300) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.removeAllListeners("exit");
  await kill(child);
  await closed;
  t.equal(child.signalCode, "SIGKILL");

  const lines = out.split("\n").slice(0, -1); // the last piece may be a partial line
  const lastOf = (kind: string): number => Math.max(0, ...lines.filter((l) => l.startsWith(kind + " ")).map((l) => Number(l.slice(2))));
  const enqueued = lastOf("e");
  const committed = lastOf("c");
  t.ok(enqueued >= 300, `enqueued ${enqueued}`);
  t.ok(committed > 0, `committed up to ${committed}`);

  t.comment(`killed with ${readdirSync(dir).filter((n) => n.endsWith(".tmp")).length} write(s) in flight`);
  const spool = Spool.open({ dir });
  const names = readdirSync(dir);
  t.same(
    names.filter((n) => n.endsWith(".tmp")),
    [],
    "no temp file survives the open",
  );
  const batchNames = names.filter((n) => n.endsWith(".batch"));
  t.same(
    batchNames.filter((n) => !/^\d{12}\.batch$/.test(n)),
    [],
    "every batch name is a 12-digit seq",
  );
  const seqs = batchNames.map((n) => Number(n.slice(0, 12))).sort((a, b) => a - b);
  t.ok(seqs.length > 0);
  const first = seqs[0]!;
  const last = seqs[seqs.length - 1]!;
  t.same(
    seqs,
    Array.from({ length: last - first + 1 }, (_, i) => first + i),
    "contiguous, no duplicates",
  );
  t.ok(first <= committed + 1, `nothing after the last commit (${committed}) is missing; first is ${first}`);
  t.ok(last >= enqueued && last <= enqueued + 1, `every enqueue that returned (${enqueued}) is there; last is ${last}`);
  t.equal(spool.nextSeq, last + 1);
  t.equal(spool.pending, seqs.length);

  const batches = spool.lease(seqs.length + 10);
  t.same(
    batches.map((b) => b.seq),
    seqs,
  );
  const bad = batches.filter((b) => !Buffer.from(b.bytes).equals(Buffer.from(patterned(b.seq)))).map((b) => b.seq);
  t.same(bad, [], "every batch is whole");
  t.equal(spool.corrupt, 0);
  t.equal(spool.droppedTotal, 0);
});
