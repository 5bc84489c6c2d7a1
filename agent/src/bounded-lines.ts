// Lines of a stream (NDJSON input for replay), each at most maxBytes: a line
// longer than that is skipped without being held in memory (readline would
// keep all of it: a file with no newline at all would fill the heap), and
// reported where it was so the caller can say which line was refused.

import type { Readable } from "node:stream";

export type BoundedLine = { line: string } | { tooLong: number };

/** Splits on "\n" (a "\r" before it is dropped); UTF-8. */
export async function* boundedLines(input: Readable, maxBytes: number): AsyncGenerator<BoundedLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  let skipped = 0;
  const finish = (): BoundedLine => {
    let buf = Buffer.concat(parts, size);
    if (buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
    parts = [];
    size = 0;
    return { line: buf.toString("utf8") };
  };
  for await (const chunk of input) {
    let data = chunk as Buffer;
    for (;;) {
      const nl = data.indexOf(0x0a);
      const piece = nl < 0 ? data : data.subarray(0, nl);
      if (skipping) skipped += piece.length;
      else if (size + piece.length > maxBytes) {
        skipping = true;
        skipped = size + piece.length;
        parts = [];
        size = 0;
      } else {
        parts.push(piece);
        size += piece.length;
      }
      if (nl < 0) break;
      if (skipping) {
        yield { tooLong: skipped };
        skipping = false;
        skipped = 0;
      } else yield finish();
      data = data.subarray(nl + 1);
    }
  }
  if (skipping) yield { tooLong: skipped };
  else if (size > 0) yield finish();
}
