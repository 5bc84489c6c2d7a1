// macOS collection from the base system's own tools, run concurrently: ps
// (twice, see parse-ps.ts) for the process table, lsof for sockets with
// their owners, and lsof again for each process's executable path.
// systeminformation is not used: on macOS it shells out to ps and netstat/lsof
// too, and its process list has no uid and takes the executable path from
// the command line, which a process can make say anything. ps and lsof give
// the uid, the kernel's process name and the path of the file actually
// executed directly, so the extra layer would only lose fields.
//
// Tools are started by absolute path so that PATH cannot substitute them.
// Without root, lsof sees only the agent user's own processes; the result
// says so rather than passing a partial socket table off as complete.

import { execFile } from "node:child_process";
import { OddwireError } from "@oddwire/shared";
import type { Backend, CollectResult, PhaseTimer, RawProcess, RawSocket } from "../backend.js";
import { LSOF_SOCKET_ARGS, LSOF_TEXT_ARGS, parseLsofFields, parseLsofTextFiles } from "./parse-lsof.js";
import { PS_ARGS_ARGS, PS_FIXED_ARGS, parsePsDarwin } from "./parse-ps.js";

const PS = "/bin/ps";
const LSOF = "/usr/sbin/lsof";
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
const PS_TIMEOUT_MS = 30_000;
// lsof walks every open file of every process; on a loaded host that takes
// seconds.
const LSOF_TIMEOUT_MS = 60_000;

export function createDarwinBackend(): Backend {
  return {
    async collect(timer: PhaseTimer): Promise<CollectResult> {
      const warnings: string[] = [];
      const [processes, sockets, exes] = await Promise.allSettled([
        timer.timeAsync("processes", () => readProcesses(warnings)),
        timer.timeAsync("sockets", () => readSockets()),
        timer.timeAsync("executables", () => runTool(LSOF, LSOF_TEXT_ARGS, LSOF_TIMEOUT_MS, true).then(parseLsofTextFiles)),
      ]);
      if (processes.status === "rejected") throw processes.reason;
      if (sockets.status === "rejected") throw sockets.reason;
      if (exes.status === "rejected") {
        warnings.push(`executable paths are missing, so no executable can be hashed: ${(exes.reason as Error).message}`);
      } else {
        for (const p of processes.value) p.exe = exes.value.get(p.pid) ?? "";
      }
      if (process.getuid?.() !== 0) {
        warnings.push("not running as root: lsof shows only this user's processes, so other users' sockets and executable paths are missing");
      }
      return { processes: processes.value, sockets: sockets.value, warnings };
    },
  };
}

async function readProcesses(warnings: string[]): Promise<RawProcess[]> {
  const [fixed, args] = await Promise.allSettled([runTool(PS, PS_FIXED_ARGS, PS_TIMEOUT_MS, false), runTool(PS, PS_ARGS_ARGS, PS_TIMEOUT_MS, false)]);
  if (fixed.status === "rejected") {
    throw new OddwireError("ODW_ERR_COLLECT", `cannot read the process table with ps: ${(fixed.reason as Error).message}`, { cause: fixed.reason });
  }
  if (args.status === "rejected") warnings.push(`command lines are missing: ${(args.reason as Error).message}`);
  const processes = parsePsDarwin(fixed.value, args.status === "fulfilled" ? args.value : "");
  if (processes.length === 0) {
    throw new OddwireError("ODW_ERR_COLLECT", `ps ${PS_FIXED_ARGS.join(" ")} printed no process this parser recognises`);
  }
  return processes;
}

async function readSockets(): Promise<RawSocket[]> {
  try {
    return parseLsofFields(await runTool(LSOF, LSOF_SOCKET_ARGS, LSOF_TIMEOUT_MS, true));
  } catch (err) {
    throw new OddwireError("ODW_ERR_COLLECT", `cannot read the socket table with lsof: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Runs a tool and returns its stdout. lsof exits 1 both when it found
 * nothing to list and when some process could not be examined, with good
 * output either way; `lsofExit` accepts that status unless lsof printed
 * nothing but an error. ps gets LC_TIME=C so
 * that lstart is in the one format parse-ps.ts reads; LC_ALL would override
 * it, so its value moves to LC_CTYPE, keeping the character set.
 */
function runTool(file: string, args: string[], timeoutMs: number, lsofExit: boolean): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_TIME: "C" };
  if (env["LC_ALL"] !== undefined) {
    env["LC_CTYPE"] = env["LC_ALL"];
    delete env["LC_ALL"];
  }
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: "utf8", maxBuffer: MAX_OUTPUT_BYTES, timeout: timeoutMs, env }, (err, stdout, stderr) => {
      const lsofNothingOrPartial = lsofExit && err?.code === 1 && !err.killed && (stdout !== "" || stderr.trim() === "");
      if (err && !lsofNothingOrPartial) {
        const detail = stderr.trim().split("\n")[0] ?? "";
        reject(new Error(`${file} failed: ${err.message}${detail ? ` (${detail})` : ""}`, { cause: err }));
        return;
      }
      resolve(stdout);
    });
  });
}
