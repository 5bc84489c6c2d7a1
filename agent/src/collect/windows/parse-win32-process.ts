// Turns the JSON that PowerShell prints for Win32_Process (see
// WIN32_PROCESS_SCRIPT in windows-backend.ts) into process records.
//
// ConvertTo-Json prints a bare object instead of an array when exactly one
// item comes down the pipe, and nothing at all when none does. Fields the
// caller may not read (ExecutablePath and CommandLine of another user's
// process without elevation; both for System Idle Process, pid 0, and
// System, pid 4) are null. A missing CreationDate is cast to
// DateTimeOffset's zero, year 1, which comes out as a large negative number.

import type { RawProcess } from "../backend.js";

export function parseWin32ProcessJson(json: string): RawProcess[] {
  // PowerShell may lead with a byte-order mark when its output encoding is UTF-8.
  const text = json.replace(/^\uFEFF/, "").trim();
  if (text === "") return [];
  const parsed: unknown = JSON.parse(text);
  const items: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
  const processes: RawProcess[] = [];
  for (const item of items) {
    const record = toRawProcess(item);
    if (record) processes.push(record);
  }
  return processes;
}

function toRawProcess(item: unknown): RawProcess | undefined {
  if (typeof item !== "object" || item === null) return undefined;
  const row = item as Record<string, unknown>;
  const pid = row["ProcessId"];
  if (!isId(pid)) return undefined;
  const ppid = row["ParentProcessId"];
  const created = row["CreationDate"];
  return {
    pid,
    ppid: isId(ppid) ? ppid : 0,
    name: text(row["Name"]),
    exe: text(row["ExecutablePath"]),
    cmdline: text(row["CommandLine"]).trim(),
    user: "",
    uid: -1,
    startedAtMs: typeof created === "number" && Number.isSafeInteger(created) && created > 0 ? created : 0,
    exeDeleted: false,
    exeReadPath: "",
  };
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}
