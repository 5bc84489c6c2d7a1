// Gives the agent's Windows service its recovery actions. The .msi runs it
// with the bundled node.exe as SYSTEM (deferred custom action
// SetServiceRecovery), after InstallServices has created the service:
//
//   node.exe "<INSTALLDIR>\lib\service-recovery.mjs" oddwire-agent
//
// Why a script: WinSW 1.x applies <onfailure> from its XML only in its own
// `install` command (one ChangeServiceConfig2 call after creating the
// service), never when the service starts; the .msi creates the service
// with ServiceInstall instead, and wixl cannot write the MSI's own
// failure-action table (ServiceConfig). So the actions are set here, with
// sc.exe, on every install, repair and upgrade.

import { execFileSync } from "node:child_process";
import { join } from "node:path";

// Restart 10 s after the first failure, 30 s after the second, then every
// 60 s; a day without a failure resets the count.
const RESET_SECONDS = 86400;
const ACTIONS = "restart/10000/restart/30000/restart/60000";

const service = process.argv[2];
if (!service || process.argv.length > 3) {
  process.stderr.write("usage: service-recovery.mjs SERVICE_NAME\n");
  process.exit(2);
}
const sc = join(process.env.SystemRoot ?? process.env.windir ?? "C:\\Windows", "System32", "sc.exe");

function runSc(args) {
  try {
    execFileSync(sc, args, { stdio: "pipe", windowsHide: true });
  } catch (err) {
    const out = `${err.stdout ?? ""}${err.stderr ?? ""}`.trim().replace(/\s+/g, " ");
    process.stderr.write(`service-recovery: sc.exe ${args.join(" ")} failed: ${out || err.message}\n`);
    process.exit(1);
  }
}

runSc(["failure", service, "reset=", String(RESET_SECONDS), "actions=", ACTIONS]);
// Also count a stop that reports a non-zero exit code as a failure (WinSW
// 1.17 does not report one, but a later wrapper might).
runSc(["failureflag", service, "1"]);
