// Windows collection: the process table from Win32_Process through
// PowerShell, owners from tasklist, sockets from netstat, all three run at
// once. systeminformation would spawn the same PowerShell and netstat
// underneath, yet hand back less: its process list leaves the owner empty,
// and its sockets come with no say in how the tools are started. Calling the
// tools ourselves keeps the fields we need, starts each tool from a known
// path, and lets a failure name the tool that failed.
//
// Tools are started by full path under %SystemRoot%: a security agent must
// not run whichever netstat.exe happens to come first on PATH.

import { execFile } from "node:child_process";
import { win32 } from "node:path";
import { OddwireError } from "@oddwire/shared";
import type { Backend, CollectResult, PhaseTimer, RawProcess, RawSocket } from "../backend.js";
import { parseNetstatWindows } from "./parse-netstat.js";
import { parseTasklistCsv } from "./parse-tasklist.js";
import { parseWin32ProcessJson } from "./parse-win32-process.js";

const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
// PowerShell alone can take several seconds to start on a busy or freshly
// booted host, and tasklist /v asks every window for its title.
const POWERSHELL_TIMEOUT_MS = 60_000;
const TASKLIST_TIMEOUT_MS = 60_000;
const NETSTAT_TIMEOUT_MS = 30_000;

/**
 * Prints every process as one JSON array. The output encoding is set to
 * UTF-8 (without a byte-order mark) so that non-ASCII paths and command
 * lines survive; the default is the OEM code page. No double quotes: the
 * script travels as one command-line argument.
 */
export const WIN32_PROCESS_SCRIPT =
  "[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false; " +
  "Get-CimInstance Win32_Process | Select-Object ProcessId,ParentProcessId,Name,ExecutablePath,CommandLine," +
  "@{n='CreationDate';e={[DateTimeOffset]$_.CreationDate | ForEach-Object ToUnixTimeMilliseconds}} | " +
  "ConvertTo-Json -Compress";

// Not -EncodedCommand: other endpoint products flag base64 PowerShell as an
// attack technique, and so may we.
export const POWERSHELL_ARGS = ["-NoProfile", "-NonInteractive", "-Command", WIN32_PROCESS_SCRIPT];
export const TASKLIST_ARGS = ["/v", "/fo", "csv", "/nh"];
export const NETSTAT_ARGS = ["-nao"];

export function createWindowsBackend(): Backend {
  const system32 = win32.join(process.env["SystemRoot"] ?? "C:\\Windows", "System32");
  const powershell = win32.join(system32, "WindowsPowerShell", "v1.0", "powershell.exe");
  const tasklist = win32.join(system32, "tasklist.exe");
  const netstat = win32.join(system32, "netstat.exe");

  return {
    async collect(timer: PhaseTimer): Promise<CollectResult> {
      const warnings: string[] = [];
      const processesRead = timer.timeAsync("processes", () => readProcesses(powershell));
      const usersRead = timer.timeAsync("users", () => readUsers(tasklist));
      const socketsRead = timer.timeAsync("sockets", () => readSockets(netstat));
      // Settle all three before throwing so no child outlives the call unobserved.
      const [processes, users, sockets] = await Promise.allSettled([processesRead, usersRead, socketsRead]);
      if (processes.status === "rejected") throw processes.reason;
      if (sockets.status === "rejected") throw sockets.reason;
      if (users.status === "rejected") {
        warnings.push(`process owners are missing: ${(users.reason as Error).message}`);
      } else {
        for (const p of processes.value) p.user = users.value.get(p.pid) ?? "";
      }
      if (sockets.value.length === 0) warnings.push("netstat -nao listed no sockets this parser recognises");
      return { processes: processes.value, sockets: sockets.value, warnings };
    },
  };
}

async function readProcesses(powershell: string): Promise<RawProcess[]> {
  let processes: RawProcess[];
  try {
    const out = await runTool(powershell, POWERSHELL_ARGS, POWERSHELL_TIMEOUT_MS);
    processes = parseWin32ProcessJson(out.toString("utf8"));
  } catch (err) {
    throw new OddwireError("ODW_ERR_COLLECT", `cannot read the process table through PowerShell Get-CimInstance Win32_Process: ${(err as Error).message}`, { cause: err });
  }
  // Every Windows host has at least System Idle Process and System.
  if (processes.length === 0) {
    throw new OddwireError("ODW_ERR_COLLECT", "PowerShell Get-CimInstance Win32_Process returned no processes; check that the WMI service (winmgmt) is running");
  }
  return processes;
}

async function readUsers(tasklist: string): Promise<Map<number, string>> {
  const out = await runTool(tasklist, TASKLIST_ARGS, TASKLIST_TIMEOUT_MS);
  return parseTasklistCsv(decodeConsoleOutput(out));
}

async function readSockets(netstat: string): Promise<RawSocket[]> {
  try {
    const out = await runTool(netstat, NETSTAT_ARGS, NETSTAT_TIMEOUT_MS);
    return parseNetstatWindows(decodeConsoleOutput(out));
  } catch (err) {
    throw new OddwireError("ODW_ERR_COLLECT", `cannot read the socket table with netstat -nao: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Console tools write in the OEM code page (437, 850...), which Node cannot
 * decode. UTF-8 is tried strictly first (hosts set to "Beta: Use Unicode
 * UTF-8"); otherwise Latin-1, which keeps every ASCII byte and turns each
 * other byte into exactly one character, so columns and digits stay intact
 * and only non-ASCII letters in names come out wrong.
 */
export function decodeConsoleOutput(bytes: Buffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString("latin1");
  }
}

function runTool(file: string, args: string[], timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: "buffer", maxBuffer: MAX_OUTPUT_BYTES, timeout: timeoutMs, windowsHide: true }, (err, stdout, stderr) => {
      if (err) {
        const detail = stderr.toString("latin1").trim().split(/\r?\n/)[0] ?? "";
        reject(new Error(`${win32.basename(file)} failed: ${err.message}${detail ? ` (${detail})` : ""}`, { cause: err }));
        return;
      }
      resolve(stdout);
    });
  });
}
