// Counts in words for the report's text, page and messages: "1 host",
// "2 hosts", "1 binary", "3 binaries", never "1 hosts".

const IRREGULAR: Record<string, string> = { binary: "binaries", entry: "entries", process: "processes" };

/** The noun for n of it: "host" → "hosts" unless n is exactly 1. */
export function pluralOf(n: number, noun: string): string {
  return n === 1 ? noun : (IRREGULAR[noun] ?? `${noun}s`);
}

/** "1 host", "2 hosts"; formatted is how n is written (grouping, if any, is the caller's choice). */
export function countOf(n: number, noun: string, formatted: string = String(n)): string {
  return `${formatted} ${pluralOf(n, noun)}`;
}
