// Files the collector writes for people (report --out, CSV exports) are
// written under a temporary name and renamed into place, so no reader sees
// half a file. The temporary name is random and created exclusively
// (O_CREAT|O_EXCL|O_NOFOLLOW): a file or symbolic link planted at a
// predictable name can neither redirect the write nor block it.

import { randomBytes } from "node:crypto";
import { closeSync, constants, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface TempFile {
  fd: number;
  path: string;
}

/** Creates a new, empty file with a random name beside `finalPath` (hidden: it starts with a dot). */
export function createTempBeside(finalPath: string, mode: number): TempFile {
  const path = join(dirname(finalPath), `.${basename(finalPath)}.${randomBytes(6).toString("hex")}.tmp`);
  return { fd: openSync(path, CREATE_NEW, mode), path };
}

/**
 * writeSync may write less than asked (a full disk takes what fits and
 * reports the rest on the next call): loop until all of it is written.
 */
export function writeAll(fd: number, text: string): void {
  const data = Buffer.from(text, "utf8");
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
}

/** Writes text to `finalPath` through a fresh temporary file: flushed, then renamed over it. */
export function writeFileAtomically(finalPath: string, text: string, mode: number): void {
  const tmp = createTempBeside(finalPath, mode);
  try {
    try {
      writeAll(tmp.fd, text);
      fsyncSync(tmp.fd);
    } finally {
      closeSync(tmp.fd);
    }
    renameSync(tmp.path, finalPath);
  } catch (err) {
    rmSync(tmp.path, { force: true });
    throw err;
  }
}
