// The build tools the packaging runs, and the Debian package each comes in:
// checked on PATH (not run: msibuild given any argument creates a database
// by that name) before any work starts.

import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { PackagingError } from "./errors.js";

const DEBIAN_PACKAGE: Record<string, string> = {
  "dpkg-deb": "dpkg",
  lintian: "lintian",
  strip: "binutils",
  wixl: "wixl",
  msibuild: "msitools",
  msiinfo: "msitools",
  // The agent's eBPF sensor (agent/bpf/Makefile).
  make: "make",
  clang: "clang",
  "llvm-strip": "llvm",
  bpftool: "bpftool",
  cc: "gcc",
  "pkg-config": "pkg-config",
};

function onPath(tool: string): boolean {
  return (process.env["PATH"] ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir || ".", tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function requireTools(tools: readonly string[]): void {
  for (const tool of tools) {
    if (onPath(tool)) continue;
    const pkg = DEBIAN_PACKAGE[tool] ?? tool;
    throw new PackagingError(`${tool} is not installed: it comes in the Debian package ${pkg} (apt-get install ${pkg})`);
  }
}
