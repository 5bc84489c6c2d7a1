// Picks the collection backend for this OS. The Windows and macOS backends are
// loaded only there, so a Linux agent never loads their code.

import { OddwireError, type OsName } from "@oddwire/shared";
import type { Backend } from "./backend.js";

export function osName(platform: NodeJS.Platform = process.platform): OsName {
  switch (platform) {
    case "linux":
      return "linux";
    case "win32":
      return "windows";
    case "darwin":
      return "darwin";
    default:
      throw new OddwireError("ODW_ERR_UNSUPPORTED_OS", `oddwire-agent runs on Linux, Windows and macOS, not on ${platform}`);
  }
}

export async function backendFor(os: OsName): Promise<Backend> {
  switch (os) {
    case "linux":
      return (await import("./linux/linux-backend.js")).createLinuxBackend();
    case "windows":
      return (await import("./windows/windows-backend.js")).createWindowsBackend();
    case "darwin":
      return (await import("./darwin/darwin-backend.js")).createDarwinBackend();
  }
}
