// Every file under a directory, as paths relative to it with "/" separators,
// sorted: what a package's md5sums, size and file tables are made from.

import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";

export function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), base) : [relative(base, join(dir, e.name)).split(sep).join("/")]))
    .sort();
}
