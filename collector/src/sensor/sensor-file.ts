// Reads one sensor log file from where it was last read to, for
// `sensor-import` and for the directories `serve` follows. A file is known
// by its inode and the hash of its first bytes (so a rotated file, renamed,
// is read on from where it was; a compressed copy of a file already read is
// recognised by its decompressed first bytes and read on from the same
// place), and its progress is committed in the same transaction as the lines
// it stored: a restart neither reads a line twice nor skips one. A last line
// without its newline is left for the next read (the sensor is still
// writing it); a line longer than the bound is skipped and counted, never
// held in memory.

import { createHash } from "node:crypto";
import { createReadStream, type Stats } from "node:fs";
import { open } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { SensorStore, FileProgress, SensorFileRow } from "../store/sensor-evidence.js";
import { detectFormat, lineParser, type LineParser, type SensorFormat } from "./sensor-format.js";
import { isParseError, type SensorRecord } from "./sensor-record.js";

/** Bytes of a file's start that identify it. */
export const HEAD_BYTES = 1024;
/** Line errors kept per read, to show (all are counted). */
export const MAX_ERRORS_SHOWN = 20;

export interface ReadFileOptions {
  maxLineBytes: number;
  /** Lines per transaction (records and progress committed together). */
  batchLines: number;
  /** Where the lines came from, stored with each ("file:/var/log/zeek/conn.log"). */
  origin?: string;
  nowMs?: () => number;
  /** Called after each commit. */
  onProgress?: (p: { path: string; bytesRead: number; lines: number }) => void;
}

export interface FileReadResult {
  path: string;
  /** null: not a sensor log (or still empty). */
  format: SensorFormat | null;
  /** Lines read now (not counting those read before). */
  lines: number;
  stored: number;
  errors: number;
  tooLong: number;
  /** The first few line errors: line number in the file and what was wrong. */
  errorSamples: Array<{ line: number; error: string }>;
  /** Bytes the last line waits for its newline with (not read yet). */
  pendingBytes: number;
  /** Where reading started: 0 for a new file, else where the previous read stopped. */
  resumedAt: number;
  skippedAsKnown: boolean;
  /** First seen now. */
  isNew: boolean;
}

const isGzipName = (path: string) => path.endsWith(".gz");

/** The file's first HEAD_BYTES bytes (decompressed for .gz), or fewer if it is shorter. */
async function headOf(path: string, gz: boolean): Promise<Buffer> {
  if (!gz) {
    const fh = await open(path, "r");
    try {
      const buf = Buffer.alloc(HEAD_BYTES);
      const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
  const parts: Buffer[] = [];
  let size = 0;
  const stream = createReadStream(path).pipe(createGunzip());
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= HEAD_BYTES) break;
    }
  } catch {
    // a damaged archive: whatever came out identifies it
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, HEAD_BYTES);
}

const hashOf = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** The stored progress of this file, if it is one already known (same inode and first bytes, or a compressed copy of one). */
function knownFile(store: SensorStore, st: Stats, head: Buffer, gz: boolean): SensorFileRow | undefined {
  const byInode = store.fileByInode(st.dev, st.ino);
  if (byInode && byInode.head_len <= head.length && hashOf(head.subarray(0, byInode.head_len)) === byInode.head_hash) {
    // A plain file now shorter than what was read was truncated (copytruncate): it is a new file.
    if (gz || st.size >= byInode.offset) return byInode;
  }
  if (gz) return store.fileByHead(head, hashOf);
  return undefined;
}

/** Reads what is new in one file. */
export async function readSensorFile(store: SensorStore, path: string, st: Stats, opts: ReadFileOptions): Promise<FileReadResult> {
  const now = opts.nowMs ?? Date.now;
  const gz = isGzipName(path);
  const result: FileReadResult = {
    path,
    format: null,
    lines: 0,
    stored: 0,
    errors: 0,
    tooLong: 0,
    errorSamples: [],
    pendingBytes: 0,
    resumedAt: 0,
    skippedAsKnown: false,
    isNew: false,
  };
  if (st.size === 0) return result;
  const head = await headOf(path, gz);
  let row = knownFile(store, st, head, gz);
  if (row?.done) {
    result.skippedAsKnown = true;
    result.format = row.format === "unknown" ? null : (row.format as SensorFormat);
    return result;
  }
  let format: SensorFormat | null;
  if (row) format = row.format === "unknown" ? null : (row.format as SensorFormat);
  else {
    const first = firstLine(head);
    if (first === undefined && !gz && head.length < HEAD_BYTES) return result; // the first line is not complete yet
    format = first === undefined ? null : detectFormat(first);
    const id = store.addFile(st.dev, st.ino, path, head.length, hashOf(head), format ?? "unknown", now());
    result.isNew = true;
    row = store.fileByInode(st.dev, st.ino) ?? ({ id } as SensorFileRow);
    if (!format) {
      store.commit([], "", now(), { id, dev: st.dev, ino: st.ino, path, format: "unknown", progress: { ...emptyProgress(head), done: true } });
      return result;
    }
  }
  result.format = format;
  const parser = lineParser(format!, basename(path));
  const progress: FileProgress = {
    offset: row.offset ?? 0,
    skipping: !!row.skipping,
    headLen: head.length,
    headHash: hashOf(head),
    lines: row.lines ?? 0,
    stored: row.stored ?? 0,
    errors: row.errors ?? 0,
    tooLong: row.too_long ?? 0,
    done: false,
  };
  result.resumedAt = progress.offset;
  // A Zeek TSV file resumed mid-way needs its header again (the #fields line).
  if (format === "zeek-tsv" && progress.offset > 0) await primeHeader(path, gz, parser, opts.maxLineBytes);
  const fileRef = { id: row.id, dev: st.dev, ino: st.ino, path, format: format! };
  const origin = opts.origin ?? `file:${path}`;
  let pending: SensorRecord[] = [];
  let sinceCommit = 0;
  const flush = () => {
    store.commit(pending, origin, now(), { ...fileRef, progress });
    pending = [];
    sinceCommit = 0;
    opts.onProgress?.({ path, bytesRead: progress.offset, lines: progress.lines });
  };
  const onLine = (line: string) => {
    result.lines++;
    progress.lines++;
    const p = parser.parse(line.endsWith("\r") ? line.slice(0, -1) : line);
    if (p === null) return;
    if (isParseError(p)) {
      result.errors++;
      progress.errors++;
      if (result.errorSamples.length < MAX_ERRORS_SHOWN) result.errorSamples.push({ line: progress.lines, error: p.error });
      return;
    }
    pending.push(p);
    result.stored++;
    progress.stored++;
  };
  const input: Readable = gz ? createReadStream(path).pipe(createGunzip()) : createReadStream(path, { start: progress.offset });
  let toDiscard = gz ? progress.offset : 0; // a compressed file is read from its start; what was read before is passed over
  let parts: Buffer[] = [];
  let size = 0;
  let position = progress.offset; // bytes of the (decompressed) file up to the end of the last whole line
  let readTotal = progress.offset; // bytes of the (decompressed) file seen so far
  try {
    for await (let chunk of input as AsyncIterable<Buffer>) {
      if (toDiscard > 0) {
        if (chunk.length <= toDiscard) {
          toDiscard -= chunk.length;
          continue;
        }
        chunk = chunk.subarray(toDiscard);
        toDiscard = 0;
      }
      readTotal += chunk.length;
      let from = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, from);
        const piece = nl < 0 ? chunk.subarray(from) : chunk.subarray(from, nl);
        if (progress.skipping) {
          // The rest of an over-long line: passed over without being kept.
        } else if (size + piece.length > opts.maxLineBytes) {
          progress.skipping = true;
          parts = [];
          size = 0;
        } else if (piece.length > 0) {
          parts.push(piece);
          size += piece.length;
        }
        if (nl < 0) break;
        position += nl - from + 1;
        if (progress.skipping) {
          progress.skipping = false;
          progress.tooLong++;
          result.tooLong++;
        } else {
          // Most lines lie within one chunk: decoded in place, without a copy.
          onLine(parts.length <= 1 && size === nl - from ? chunk.toString("utf8", from, nl) : Buffer.concat(parts, size).toString("utf8"));
          parts = [];
          size = 0;
        }
        progress.offset = position;
        if (++sinceCommit >= opts.batchLines) flush();
        from = nl + 1;
      }
    }
  } catch (err) {
    flush();
    throw err;
  }
  if (gz) {
    // A compressed file is complete: its last line counts even without a newline.
    if (!progress.skipping && size > 0) onLine(Buffer.concat(parts, size).toString("utf8"));
    else if (progress.skipping) {
      progress.tooLong++;
      result.tooLong++;
    }
    progress.offset = readTotal;
    progress.skipping = false;
    progress.done = true;
  } else if (progress.skipping) {
    // An over-long line still being written: what is known to belong to it is passed over now.
    progress.offset = readTotal;
  } else result.pendingBytes = size;
  flush();
  return result;
}

function emptyProgress(head: Buffer): FileProgress {
  return { offset: 0, skipping: false, headLen: head.length, headHash: hashOf(head), lines: 0, stored: 0, errors: 0, tooLong: 0, done: false };
}

/** The first complete line of a file's head, if it has one. */
function firstLine(head: Buffer): string | undefined {
  const nl = head.indexOf(0x0a);
  if (nl < 0) return undefined;
  return head.subarray(0, nl).toString("utf8").replace(/\r$/, "");
}

/** Feeds a Zeek TSV file's leading "#" lines to the parser. */
async function primeHeader(path: string, gz: boolean, parser: LineParser, maxLineBytes: number): Promise<void> {
  const input: Readable = gz ? createReadStream(path).pipe(createGunzip()) : createReadStream(path, { end: 1024 * 1024 });
  let rest = "";
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      rest += chunk.toString("utf8");
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        if (!line.startsWith("#")) return;
        parser.parse(line.replace(/\r$/, ""));
      }
      if (rest.length > maxLineBytes) return;
    }
  } finally {
    input.destroy();
  }
}
