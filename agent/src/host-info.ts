// Describes this host for the snapshot header.

import { readFileSync } from "node:fs";
import { arch, hostname, release, version } from "node:os";
import type { OsName } from "@oddwire/shared";

export interface HostInfo {
  hostname: string;
  osVersion: string;
  arch: string;
}

export function readHostInfo(os: OsName): HostInfo {
  return { hostname: hostname(), osVersion: osVersion(os), arch: arch() };
}

function osVersion(os: OsName): string {
  if (os === "linux") {
    try {
      const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"));
      if (m) return `${m[1]}, kernel ${release()}`;
    } catch {
      // fall through
    }
  }
  return `${version()} ${release()}`.trim();
}
