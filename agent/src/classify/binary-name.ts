// The name a binary is known by: the basename of its executable when there is
// one (the kernel resolves it; a process cannot fake it), else the name the
// process gives itself.

import type { RawProcess } from "../collect/backend.js";

export function basename(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return path.slice(i + 1);
}

export function dirname(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i <= 0 ? path.slice(0, i + 1) : path.slice(0, i);
}

export function binaryName(p: Pick<RawProcess, "exe" | "name">): string {
  return p.exe ? basename(p.exe) : p.name;
}
