// What the OS says about where an executable came from: the installed
// package it belongs to (dpkg on Linux) and how long this host has had the
// file. Packaged software is what someone installed; an executable no
// package owns that appeared within the last week, run from where anyone
// can write or unknown to the knowledge base, is how a dropped payload
// looks. Pure: the agent gathers the facts, the collector stores them.

export interface PackageFacts {
  /** The installed package the executable belongs to; "" none (when packageSource is set). */
  package?: string | undefined;
  /** The package database that answered ("dpkg"); "" or absent when none could: package says nothing then. */
  packageSource?: string | undefined;
  /** When the executable file came to this host (birth time, else ctime); 0 or absent: unknown. */
  exeSinceMs?: number | undefined;
  /** When the facts were observed (the snapshot's time), to say how new the file is. */
  nowMs?: number | undefined;
}

/** An executable this new counts as new on the host. */
export const NEW_EXE_MS = 7 * 86_400_000;

/** "belongs to the installed package curl (dpkg)" or undefined when no package database could tell. */
export function packageWords(f: PackageFacts): string | undefined {
  if (!f.packageSource) return undefined;
  return f.package ? `belongs to the installed package ${f.package} (${f.packageSource})` : `belongs to no installed package (${f.packageSource})`;
}

/** Words for an executable no package owns that came to the host within NEW_EXE_MS, else undefined. */
export function newUnpackaged(f: PackageFacts): string | undefined {
  if (!f.packageSource || f.package || !f.exeSinceMs || !f.nowMs) return undefined;
  const age = f.nowMs - f.exeSinceMs;
  if (age < 0 || age >= NEW_EXE_MS) return undefined;
  return `belongs to no installed package (${f.packageSource}) and came to this host ${ago(age)} ago`;
}

function ago(ms: number): string {
  if (ms < 120_000) return `${Math.max(1, Math.round(ms / 1000))} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}
