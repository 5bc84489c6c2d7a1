// A binary's identity across hosts: its path, normalised so that per-user and
// versioned installs of the same program group together
// (C:\Users\alice\AppData\Local\Programs\app-1.2.3\app.exe and bob's 1.2.4
// are one binary), lower-cased on Windows where paths are case-insensitive.
// Where there is no path, the process name stands in.

import type { OsName } from "./model.js";

const VERSION_SEGMENT = /^(?:v?\d+(?:[._-]\d+)+[a-z0-9._+-]*|app-\d+(?:\.\d+)+|\d{6,})$/i;

export function binaryKey(exe: string, name: string, os: OsName | string): string {
  if (!exe) return `name:${name.toLowerCase()}`;
  const windows = os === "windows" || /^[a-z]:\\/i.test(exe);
  const sep = windows ? "\\" : "/";
  let path = windows ? exe.toLowerCase().replaceAll("/", "\\") : exe;
  const parts = path.split(sep);
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i]!;
    const prev = (parts[i - 1] ?? "").toLowerCase();
    // The user's directory: /home/<u>, /Users/<u>, C:\Users\<u>.
    if ((prev === "home" && i === 2) || (prev === "users" && i === 2) || (prev === "users" && windows && i === 2)) parts[i] = "*";
    else if (VERSION_SEGMENT.test(part)) parts[i] = "*";
  }
  path = parts.join(sep);
  return path;
}
