// Checks a decoded batch before it is queued: every 64-bit number must be a
// safe integer (SQLite's STRICT INTEGER columns refuse anything else, and one
// bad batch must not fail a group commit shared with other hosts). Counts
// and string sizes were checked on the wire, before decoding (frame-check.ts).

import type { oddwire } from "@oddwire/proto";

const safe = (v: unknown) => v === undefined || v === null || (typeof v === "number" && Number.isSafeInteger(v) && v >= 0);

/** What is wrong with the batch, or null. */
export function batchProblem(b: oddwire.v1.IBatch): string | null {
  if (!safe(b.seq) || Number(b.seq) < 1) return "batch seq must be a whole number from 1 to 2^53";
  for (const [name, v] of [
    ["baseSeq", b.baseSeq],
    ["droppedBatches", b.droppedBatches],
    ["takenAtMs", b.snapshot?.takenAtMs],
  ] as const) {
    if (!safe(v)) return `${name} is out of range`;
  }
  const s = b.snapshot;
  for (const p of s?.processes ?? []) if (!safe(p.startedAtMs)) return "a process startedAtMs is out of range";
  for (const k of s?.sockets ?? []) if (!safe(k.inode) || !safe(k.netns)) return "a socket inode or netns is out of range";
  for (const c of s?.connections ?? []) {
    if (!safe(c.firstSeenMs) || !safe(c.lastSeenMs) || !safe(c.process?.startedAtMs) || !safe(c.beacon?.spanMs))
      return "a connection's time (firstSeenMs, lastSeenMs, process startedAtMs or beacon spanMs) is out of range";
  }
  const v = s?.visibility;
  if (v && (!safe(v.eventsAccepted) || !safe(v.droppedRate) || !safe(v.droppedRecords) || !safe(v.droppedKernel))) return "a visibility count is out of range";
  for (const k of b.processesRemoved ?? []) if (!safe(k.startedAtMs)) return "a removed process key is out of range";
  for (const k of b.socketsRemoved ?? []) if (!safe(k.inode) || !safe(k.netns)) return "a removed socket key is out of range";
  return null;
}
