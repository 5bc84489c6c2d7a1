// Reads /proc files into one reusable buffer. readFileSync would allocate a
// fresh Buffer per file, thousands per snapshot, which the agent's memory
// pays for in fragmentation long after the garbage is collected. procfs
// reports size 0, so a file is read until EOF, growing the buffer if needed.

import { closeSync, openSync, readSync } from "node:fs";

const INITIAL = 64 * 1024;

export class ProcReader {
  private buf = Buffer.allocUnsafe(INITIAL);

  /** The file's bytes, valid until the next read. */
  bytes(path: string): Buffer {
    const fd = openSync(path, "r");
    try {
      let len = 0;
      for (;;) {
        if (len === this.buf.length) {
          const bigger = Buffer.allocUnsafe(this.buf.length * 2);
          this.buf.copy(bigger, 0, 0, len);
          this.buf = bigger;
        }
        const n = readSync(fd, this.buf, len, this.buf.length - len, null);
        if (n === 0) break;
        len += n;
      }
      return this.buf.subarray(0, len);
    } finally {
      closeSync(fd);
    }
  }

  /** The file as a latin1 string (procfs text is ASCII, except names a process chose). */
  text(path: string, encoding: BufferEncoding = "latin1"): string {
    const b = this.bytes(path);
    return b.toString(encoding, 0, b.length);
  }
}
