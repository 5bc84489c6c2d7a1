// The agent's durable queue between collection and transport. Every batch is
// written here before it is sent, and only the collector's ack removes it:
// enqueue / lease / commit / rollback, as in Velociraptor's client spool. A
// crash, even a SIGKILL mid-write, replays what was leased and never loses what
// enqueue returned for; only the space limits drop data, oldest first, and they
// leave a notice so the agent follows up with a full snapshot.
//
// One directory, one file per batch:
//   000000000042.batch  8-byte header (magic, payload length) + payload
//   spool-state.json    nextSeq, droppedTotal, dropNotice
//   *.tmp               a write that did not finish; deleted on open
// Each file is written under a temp name, fsynced, renamed into place and the
// directory fsynced, so a batch name that exists always holds a whole batch.
// The header is there for what fsync cannot promise (fsync off, a lying disk):
// a truncated or foreign file is found at lease and dropped, not sent.
// Memory holds only the index (seq → payload size); payloads are read at lease.
// One process per directory: two agents sharing a spool would reuse seqs.

import { closeSync, fsyncSync, lstatSync, openSync, readdirSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { isOddwireError, OddwireError } from "@oddwire/shared";
import { createExclusive, readPlainFile, writeAll } from "../identity/safe-files.js";
import { ensureStateDir } from "../identity/state-dir.js";

export const DEFAULT_SPOOL_MAX_BYTES = 100 * 1024 * 1024;
export const DEFAULT_SPOOL_MAX_ENTRIES = 100_000;

export interface SpoolOptions {
  dir: string;
  /** Bound on the payload bytes kept (headers not counted). */
  maxBytes?: number;
  /** Bound on the number of batch files kept. */
  maxEntries?: number;
  /** Default true. Off only for tests and benchmarks: a power cut may then lose or truncate recent batches. */
  fsync?: boolean;
}

export interface SpooledBatch {
  seq: number;
  bytes: Uint8Array;
}

const STATE_FILE = "spool-state.json";
const TEMP_SUFFIX = ".tmp";
const BATCH_NAME = /^(\d+)\.batch$/;
const SEQ_DIGITS = 12;
const MAGIC = 0x4f445742; // "ODWB"
const HEADER_BYTES = 8;
const MAX_PAYLOAD = 0xffffffff; // the header's length field is a u32
// Write failures that mean the disk (or the user's quota) is full: the batch
// is lost, and counted like a batch dropped for space.
const DISK_FULL_ERRORS = new Set(["ENOSPC", "EDQUOT"]);
// Read failures that say the process is short of something, not that the file
// is bad: dropping the batch for these would lose good data.
const TRANSIENT_READ_ERRORS = new Set(["EMFILE", "ENFILE", "ENOMEM", "EAGAIN", "EINTR", "EBUSY"]);

interface PersistedState {
  nextSeq: number;
  droppedTotal: number;
  dropNotice: boolean;
}

export function batchFileName(seq: number): string {
  return `${String(seq).padStart(SEQ_DIGITS, "0")}.batch`;
}

export class Spool {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  private readonly fsync: boolean;

  // The index, oldest first: seqs[head..] with their payload sizes. Entries
  // leave mostly from the front (commit, drops), so a head offset avoids
  // shifting a 100 000-entry array on every ack.
  private seqs: number[] = [];
  private sizes: number[] = [];
  private head = 0;
  // Leases are taken oldest first and removals take the oldest, so the leased
  // entries are always the first `leased` of the index.
  private leased = 0;
  private totalBytes = 0;

  private seq = 1;
  private persistedNextSeq = 0;
  private dropped = 0;
  private notice = false;
  private corruptCount = 0;
  /** The state on disk is behind (a write failed, the disk being full): written at the next chance. */
  private stateBehind = false;

  private constructor(dir: string, maxBytes: number, maxEntries: number, fsync: boolean) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.maxEntries = maxEntries;
    this.fsync = fsync;
  }

  /** Opens (creating if needed, owner-only) the spool in `opts.dir` and recovers its state from disk. */
  static open(opts: SpoolOptions): Spool {
    const maxBytes = opts.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES;
    const maxEntries = opts.maxEntries ?? DEFAULT_SPOOL_MAX_ENTRIES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new OddwireError("ODW_ERR_CONFIG", `spool maxBytes must be a positive integer, got ${String(maxBytes)}`);
    }
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new OddwireError("ODW_ERR_CONFIG", `spool maxEntries must be a positive integer, got ${String(maxEntries)}`);
    }
    try {
      ensureStateDir(opts.dir, "the spool directory");
    } catch (err) {
      if (isOddwireError(err, "ODW_ERR_UNSAFE_PATH")) throw err;
      const reason = ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
      throw new OddwireError("ODW_ERR_SPOOL", `cannot create the spool directory ${opts.dir}: ${reason}`, { cause: err });
    }
    const spool = new Spool(opts.dir, maxBytes, maxEntries, opts.fsync ?? true);
    spool.recover();
    return spool;
  }

  /**
   * Writes one batch durably and returns its seq, then drops the oldest
   * batches (leased or not, never this one) until the spool is within its
   * limits; `dropped` counts those.
   */
  enqueue(bytes: Uint8Array): { seq: number; dropped: number } {
    const limit = Math.min(this.maxBytes, MAX_PAYLOAD);
    if (bytes.byteLength > limit) {
      throw new OddwireError(
        "ODW_ERR_SPOOL",
        `a batch of ${bytes.byteLength} bytes is larger than the spool's limit of ${limit} bytes; send smaller batches or raise the spool's maxBytes`,
      );
    }
    const seq = this.seq;
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt32BE(MAGIC, 0);
    header.writeUInt32BE(bytes.byteLength, 4);
    try {
      this.writeFile(batchFileName(seq), [header, bytes]);
    } catch (err) {
      if (!DISK_FULL_ERRORS.has(((err as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? "")) throw err;
      // The batch is lost but takes no seq: the collector sees no gap, so the
      // count in droppedBatches (and the full snapshot that follows) is the
      // only trace. The count reaches the disk once there is room again.
      this.dropped++;
      this.notice = true;
      this.writeStateIfPossible();
      throw new OddwireError(
        "ODW_ERR_SPOOL",
        `${(err as Error).message}; this snapshot is lost and counted in droppedBatches (${this.dropped} so far): free space on that disk or lower --spool-max-bytes`,
        { cause: (err as Error).cause },
      );
    }
    // The file is in place: from here the seq is taken even if the directory
    // fsync below fails, so it can never be handed out twice.
    this.seq = seq + 1;
    this.seqs.push(seq);
    this.sizes.push(bytes.byteLength);
    this.totalBytes += bytes.byteLength;
    this.syncDir();
    if (this.stateBehind) this.writeStateIfPossible();
    return { seq, dropped: this.enforceLimits() };
  }

  /** Up to `max` batches not already leased, oldest first, read from disk and marked leased (in memory only). */
  lease(max: number): SpooledBatch[] {
    const out: SpooledBatch[] = [];
    const corrupt: number[] = [];
    let i = this.head + this.leased;
    try {
      while (out.length < max && i < this.seqs.length) {
        const seq = this.seqs[i]!;
        const payload = this.readBatch(seq, this.sizes[i]!);
        if (payload) {
          out.push({ seq, bytes: payload });
          this.leased++;
          i++;
        } else {
          corrupt.push(seq);
          this.totalBytes -= this.sizes[i]!;
          this.seqs.splice(i, 1);
          this.sizes.splice(i, 1);
        }
      }
    } catch (err) {
      // Nothing is handed out when the read failed for want of resources.
      this.leased -= out.length;
      throw err;
    } finally {
      if (corrupt.length > 0) {
        this.corruptCount += corrupt.length;
        this.recordDrops(corrupt.length);
        this.unlinkBatches(corrupt);
      }
    }
    return out;
  }

  /** The collector has everything up to `uptoSeq`: removes those batches, leased or not. Returns how many went. */
  commit(uptoSeq: number): number {
    let n = 0;
    while (this.head + n < this.seqs.length && this.seqs[this.head + n]! <= uptoSeq) n++;
    if (n === 0) return 0;
    // The directory listing is what remembers nextSeq between state writes;
    // before the newest file goes, the state file must take over.
    if (this.head + n === this.seqs.length && this.persistedNextSeq < this.seq) {
      try {
        this.writeState();
      } catch (err) {
        // A full disk: the older files go first to make room, then once more.
        if (n === 1 || !DISK_FULL_ERRORS.has(((err as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? "")) throw err;
        this.unlinkBatches(this.removeOldest(n - 1));
        this.writeState();
        this.unlinkBatches(this.removeOldest(1));
        return n;
      }
    }
    const removed = this.removeOldest(n);
    // No directory fsync: an unlink lost to a power cut only replays batches
    // the collector already has, and it keeps the first of each seq.
    this.unlinkBatches(removed);
    return n;
  }

  /** The connection is gone: every leased batch will be leased again, same seq, same bytes. */
  rollback(): void {
    this.leased = 0;
  }

  /** Batches dropped for space or found unreadable since the spool was created (persisted). */
  get droppedTotal(): number {
    return this.dropped;
  }

  /** Batch files found unreadable or malformed at lease since this open (and dropped). */
  get corrupt(): number {
    return this.corruptCount;
  }

  get pending(): number {
    return this.seqs.length - this.head;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get nextSeq(): number {
    return this.seq;
  }

  /** The collector already has seq `atLeast - 1` (this host was wiped and re-enrolled): continue after it. */
  bumpSeq(atLeast: number): void {
    if (!Number.isSafeInteger(atLeast) || atLeast < 1) {
      throw new OddwireError("ODW_ERR_SPOOL", `cannot move the spool's next seq to ${String(atLeast)}: it must be a positive integer`);
    }
    if (atLeast <= this.seq) return;
    this.seq = atLeast;
    this.writeState();
  }

  /**
   * True once after any drop since the last call: the collector has a gap and
   * the agent should send a full snapshot. Cleared on disk before returning, so
   * a crash right after this call forgets it; the agent's startup snapshot
   * covers that window.
   */
  takeDropNotice(): boolean {
    if (!this.notice) return false;
    this.notice = false;
    this.writeStateIfPossible();
    return true;
  }

  private recover(): void {
    const found: Array<[number, number]> = [];
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      throw this.fail(`cannot list the spool directory ${this.dir}`, err);
    }
    for (const name of names) {
      if (name.endsWith(TEMP_SUFFIX)) {
        this.unlinkQuietly(name);
        continue;
      }
      const m = BATCH_NAME.exec(name);
      if (!m) continue;
      const seq = Number(m[1]);
      if (!Number.isSafeInteger(seq) || seq < 1) continue;
      try {
        // lstat: a link is not a batch, whatever it points at.
        const st = lstatSync(join(this.dir, name));
        if (st.isFile()) found.push([seq, Math.max(0, st.size - HEADER_BYTES)]);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw this.fail(`cannot stat ${join(this.dir, name)}`, err);
      }
    }
    found.sort((a, b) => a[0] - b[0]);
    for (const [seq, size] of found) {
      this.seqs.push(seq);
      this.sizes.push(size);
      this.totalBytes += size;
    }

    const state = this.readState();
    const highest = found.length > 0 ? found[found.length - 1]![0] : 0;
    if (state !== "missing" && state !== "corrupt") {
      this.seq = Math.max(state.nextSeq, highest + 1);
      this.dropped = state.droppedTotal;
      this.notice = state.dropNotice;
      this.persistedNextSeq = state.nextSeq;
    } else {
      // Without the state file, nextSeq comes from the files alone, and drops
      // before the loss cannot be counted: droppedTotal starts again from 0.
      // Whether a drop is still unannounced cannot be known either, so a lost
      // state (not a brand-new spool) raises the notice: one extra full
      // snapshot is cheaper than a silent gap.
      this.seq = highest + 1;
      this.notice = state === "corrupt" || found.length > 0;
      this.writeState();
    }
    // The limits may have been lowered since the last run.
    this.enforceLimits();
  }

  private readState(): PersistedState | "missing" | "corrupt" {
    let text: string;
    try {
      text = readPlainFile(join(this.dir, STATE_FILE)).toString("utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
      // A link or unreadable file: treated as lost, and replaced at the next write.
      return "corrupt";
    }
    try {
      const s = JSON.parse(text) as Partial<PersistedState> & { version?: unknown };
      if (
        s.version === 1 &&
        Number.isSafeInteger(s.nextSeq) &&
        s.nextSeq! >= 1 &&
        Number.isSafeInteger(s.droppedTotal) &&
        s.droppedTotal! >= 0 &&
        typeof s.dropNotice === "boolean"
      ) {
        return { nextSeq: s.nextSeq!, droppedTotal: s.droppedTotal!, dropNotice: s.dropNotice };
      }
    } catch {
      // falls through: not JSON
    }
    return "corrupt";
  }

  private writeState(): void {
    const state = { version: 1, nextSeq: this.seq, droppedTotal: this.dropped, dropNotice: this.notice };
    this.writeFile(STATE_FILE, [Buffer.from(JSON.stringify(state) + "\n")]);
    this.syncDir();
    this.persistedNextSeq = this.seq;
    this.stateBehind = false;
  }

  /** writeState, or remember to retry it: for counts that must not fail the caller when the disk is full. */
  private writeStateIfPossible(): void {
    try {
      this.writeState();
    } catch {
      this.stateBehind = true;
    }
  }

  /** Drops the oldest batches, never the newest, until both limits hold. Returns how many. */
  private enforceLimits(): number {
    let n = 0;
    let bytes = this.totalBytes;
    const count = this.pending;
    while (count - n > 1 && (count - n > this.maxEntries || bytes > this.maxBytes)) {
      bytes -= this.sizes[this.head + n]!;
      n++;
    }
    if (n === 0) return 0;
    // The state (count and notice) goes first: a crash before the unlinks
    // drops those batches again on the next enqueue and counts them twice,
    // which is better than a gap nobody announces.
    this.recordDrops(n);
    this.unlinkBatches(this.removeOldest(n));
    return n;
  }

  private recordDrops(n: number): void {
    this.dropped += n;
    this.notice = true;
    this.writeState();
  }

  private removeOldest(n: number): number[] {
    const removed = this.seqs.slice(this.head, this.head + n);
    for (let i = this.head; i < this.head + n; i++) this.totalBytes -= this.sizes[i]!;
    this.head += n;
    this.leased = Math.max(0, this.leased - n);
    if (this.head > 1024 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    return removed;
  }

  /** The payload of one batch, or undefined when the file is gone or malformed (the caller drops it). */
  private readBatch(seq: number, expected: number): Uint8Array | undefined {
    let buf: Buffer;
    try {
      buf = readPlainFile(join(this.dir, batchFileName(seq)));
    } catch (err) {
      if (TRANSIENT_READ_ERRORS.has((err as NodeJS.ErrnoException).code ?? "")) {
        throw this.fail(`cannot read spooled batch ${seq}; it is kept and will be leased again`, err);
      }
      return undefined;
    }
    if (buf.length < HEADER_BYTES || buf.readUInt32BE(0) !== MAGIC) return undefined;
    const len = buf.readUInt32BE(4);
    if (len !== buf.length - HEADER_BYTES || len !== expected) return undefined;
    return buf.subarray(HEADER_BYTES);
  }

  /**
   * Temp file (created exclusively, never through a link), fsync, rename: a
   * reader sees the old file or the whole new one.
   */
  private writeFile(name: string, chunks: Uint8Array[]): void {
    const path = join(this.dir, name);
    const tmp = path + TEMP_SUFFIX;
    try {
      const fd = createExclusive(tmp);
      try {
        for (const chunk of chunks) writeAll(fd, chunk);
        if (this.fsync) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (err) {
      this.unlinkQuietly(name + TEMP_SUFFIX);
      throw this.fail(`cannot write ${path}`, err);
    }
  }

  /** Makes renames and creations durable; Windows cannot fsync a directory and orders them itself. */
  private syncDir(): void {
    if (!this.fsync || process.platform === "win32") return;
    try {
      const fd = openSync(this.dir, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw this.fail(`cannot fsync the spool directory ${this.dir}`, err);
    }
  }

  private unlinkBatches(seqs: number[]): void {
    let first: unknown;
    for (const seq of seqs) {
      try {
        unlinkSync(join(this.dir, batchFileName(seq)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") first ??= err;
      }
    }
    // The index has already let these go; a file left behind comes back at the
    // next open and is sent or dropped again, never lost.
    if (first !== undefined) throw this.fail(`cannot delete spooled batches in ${this.dir}`, first);
  }

  private unlinkQuietly(name: string): void {
    try {
      unlinkSync(join(this.dir, name));
    } catch {
      // already gone, or left for the next open to retry
    }
  }

  private fail(what: string, err: unknown): OddwireError {
    return new OddwireError("ODW_ERR_SPOOL", `${what}: ${(err as Error).message}`, { cause: err });
  }
}
