// Columns the store keeps as JSON text arrays of strings (ancestry, risks,
// destination names, a persona's domains...): read back as string[], with
// anything that is not a string dropped and unreadable text read as [].

export function jsonStringList(json: string): string[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}
