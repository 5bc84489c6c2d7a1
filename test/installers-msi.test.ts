// The agent's .msi, read back with msitools: the checks are in
// lib/installers-msi-checks.ts and run only where wixl and msitools are
// installed (npm test elsewhere skips them with the reason; CI fails).

import t from "tap";
import { skipWithoutTools } from "./lib/system-tools.js";

const skip = skipWithoutTools(["wixl", "msibuild", "msiinfo", "msiextract", "strip"], "wixl msitools binutils");
if (skip) t.test("the agent's .msi", { skip }, async () => {});
else await import("./lib/installers-msi-checks.js");
