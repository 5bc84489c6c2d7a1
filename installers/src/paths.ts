// Where the packaging reads and writes: the repository, the pinned-runtime
// cache and the output folder.

import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** installers/ (this file compiles to installers/dist/paths.js). */
export const INSTALLERS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_DIR = resolve(INSTALLERS_DIR, "..");
export const DEFAULT_OUT_DIR = join(INSTALLERS_DIR, "out");
export const DEFAULT_CACHE_DIR = join(INSTALLERS_DIR, ".cache");
