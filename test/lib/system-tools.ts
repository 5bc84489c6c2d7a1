// Optional system tools a test needs. `npm test` on a machine without one
// skips that test and says which Debian package brings it; under CI (CI=true,
// where .ci/run installs them all) a missing tool is a failure, so a broken
// install step cannot hide behind a skip.

import { spawnSync } from "node:child_process";

/** The tools in `tools` that are not on PATH. */
export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((tool) => spawnSync("sh", ["-c", `command -v '${tool.replace(/'/g, "")}'`]).status !== 0);
}

/**
 * A skip reason when a tool is missing (false when all are there). Under CI
 * it throws instead: .ci/run is expected to have installed every tool.
 */
export function skipWithoutTools(tools: readonly string[], packages: string): string | false {
  const missing = missingTools(tools);
  if (missing.length === 0) return false;
  const reason = `needs ${missing.join(", ")} (apt-get install ${packages}, as .ci/run does)`;
  if (process.env["CI"] === "true") throw new Error(`CI is missing system tools: ${reason}`);
  return reason;
}
