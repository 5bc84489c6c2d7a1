// File access in directories the agent trusts: its state directory, its
// spool, its config and secret files. Anyone who can write there could plant
// a link where the agent expects a file and turn the agent's writes (it often
// runs as root) against another file, or feed it a host id or key of their
// choosing. So: a directory writable by group or others, or owned by another
// user (root aside), is refused; temp files are created exclusively, owner-only;
// a link is never followed where a plain file is expected. On Windows the
// installers set the ACLs (see configure.ts) and POSIX modes mean nothing, so
// only the link rules apply there.

import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { OddwireError } from "@oddwire/shared";

const POSIX = process.platform !== "win32";
// O_NOFOLLOW is 0 where Node does not define it (Windows); links are then checked by lstat.
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

function modeText(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/**
 * Refuses a directory that another user could write into (see the file's
 * comment). `checkOwner: false` is for a directory prepared for another user
 * (the installer, as root, configures the service user's state directory).
 */
export function checkPrivateDirectory(dir: string, what: string, opts: { checkOwner?: boolean } = {}): void {
  if (!POSIX) return;
  const st = statSync(dir);
  const me = process.getuid?.() ?? 0;
  if ((opts.checkOwner ?? true) && st.uid !== 0 && st.uid !== me) {
    throw new OddwireError(
      "ODW_ERR_UNSAFE_PATH",
      `${what} ${dir} is owned by uid ${st.uid}, not by this user (uid ${me}) or root, so that user could plant files in it; run \`chown ${me} ${dir} && chmod 700 ${dir}\`, or choose another directory`,
    );
  }
  if (st.mode & 0o022) {
    throw new OddwireError(
      "ODW_ERR_UNSAFE_PATH",
      `${what} ${dir} is writable by ${st.mode & 0o002 ? "every user" : "its group"} (mode ${modeText(st.mode)}), so another user could plant files or links in it; run \`chmod 700 ${dir}\`, or choose another directory`,
    );
  }
}

/** Refuses a config or secret file that every user may write (it could be replaced under the agent). */
export function checkNotWorldWritable(path: string, what: string): void {
  if (!POSIX) return;
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return; // missing or unreadable: the reader says so in its own words
  }
  if (mode & 0o002) {
    throw new OddwireError("ODW_ERR_UNSAFE_PATH", `${what} ${path} is writable by every user (mode ${modeText(mode)}); run \`chmod 600 ${path}\` (and check it was not altered)`);
  }
}

/**
 * The whole of a regular file, never through a link. Errors keep their errno
 * code (ENOENT, EACCES, EISDIR...) for the caller to judge; a link is
 * ODW_ERR_UNSAFE_PATH; with `secret`, so is a world-writable file.
 */
export function readPlainFile(path: string, opts: { secret?: boolean } = {}): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOOP") throw linkError(path, err);
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error(`EISDIR: ${path} is a directory, not a file`), { code: "EISDIR" });
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: "EINVAL" });
    if (opts.secret && POSIX && st.mode & 0o002) {
      throw new OddwireError("ODW_ERR_UNSAFE_PATH", `${path} is writable by every user (mode ${modeText(st.mode)}); run \`chmod 600 ${path}\` (and check it was not altered)`);
    }
    const chunks: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(64 * 1024);
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

function linkError(path: string, cause: unknown): OddwireError {
  return new OddwireError(
    "ODW_ERR_UNSAFE_PATH",
    `${path} is a symbolic link where the agent expects a plain file; someone may have planted it: remove it and check who can write to its directory`,
    { cause },
  );
}

/**
 * Opens `path` for writing, created here and now, owner-only: never an
 * existing file, never through a link. A leftover at that name (a crashed
 * write, or a planted link) is removed, not followed, and creation tried once more.
 */
export function createExclusive(path: string): number {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW;
  try {
    return openSync(path, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    unlinkSync(path); // removes a link itself, never its target
    return openSync(path, flags, 0o600);
  }
}

/** Writes all of `data` to `fd`. */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.byteLength) off += writeSync(fd, data, off, data.byteLength - off);
}

/**
 * Replaces `path` whole or not at all: an exclusive owner-only temp file
 * beside it, fsynced, renamed over it (a link at `path` is replaced, not followed).
 */
export function replaceFile(path: string, data: string | Uint8Array, opts: { fsync?: boolean } = {}): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = createExclusive(tmp);
  try {
    try {
      writeAll(fd, typeof data === "string" ? Buffer.from(data) : data);
      if (opts.fsync ?? true) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or gone
    }
    throw err;
  }
}
