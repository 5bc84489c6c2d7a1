// How close a persona's display name is to a staff member's: both are folded
// (compatibility decomposition, accents dropped, lower case, look-alike
// letters and digits mapped to the Latin letter they imitate, spacing and
// punctuation removed), then compared by edit distance. "Jаne Dое" with
// Cyrillic а and о folds to exactly "janedoe". The table is the common
// confusables of Latin letters, a small subset of Unicode's list (UTS #39).

const CONFUSABLE: Record<string, string> = {
  // Cyrillic
  а: "a",
  в: "b",
  е: "e",
  ё: "e",
  з: "3",
  і: "i",
  ї: "i",
  ј: "j",
  к: "k",
  м: "m",
  н: "h",
  о: "o",
  р: "p",
  с: "c",
  т: "t",
  у: "y",
  х: "x",
  ѕ: "s",
  ԁ: "d",
  ԛ: "q",
  ԝ: "w",
  һ: "h",
  ӏ: "l",
  // Greek
  α: "a",
  β: "b",
  ε: "e",
  η: "n",
  ι: "i",
  κ: "k",
  ν: "v",
  ο: "o",
  ρ: "p",
  τ: "t",
  υ: "u",
  χ: "x",
  ζ: "z",
  // Digits and Latin look-alikes
  "0": "o",
  "1": "l",
  "3": "e",
  "5": "s",
  "|": "l",
  ı: "i",
  ł: "l",
  ø: "o",
  đ: "d",
  ß: "ss",
};

// Multi-letter look-alikes, after the single letters: "rn" reads as "m", "vv" as "w", and a capital I as l.
const SEQUENCES: Array<[RegExp, string]> = [
  [/rn/g, "m"],
  [/vv/g, "w"],
  [/cl/g, "d"],
];

/** A name folded for comparison (see the module comment). */
export function foldName(name: string): string {
  const decomposed = name.normalize("NFKD").replace(/\p{M}/gu, "");
  // A capital I imitates l (and l imitates I): fold both to l before lower-casing.
  const lower = decomposed.replace(/I/g, "l").toLowerCase();
  let out = "";
  for (const ch of lower) out += CONFUSABLE[ch] ?? ch;
  out = out.replace(/[^\p{L}\p{N}]/gu, "");
  for (const [re, to] of SEQUENCES) out = out.replace(re, to);
  return out.replace(/i/g, "l");
}

// One row of the distance table, reused: a report compares every persona with every roster name.
let row = new Uint32Array(64);

/** Levenshtein distance, bounded: past `max` it returns max + 1 early. */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (row.length < b.length + 1) row = new Uint32Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) row[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    let best = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      const v = Math.min(tmp + 1, row[j - 1]! + 1, prev + (ca === b.charCodeAt(j - 1) ? 0 : 1));
      row[j] = v;
      prev = tmp;
      if (v < best) best = v;
    }
    if (best > max) return max + 1;
  }
  return row[b.length]!;
}

export interface NameLikeness {
  staffName: string;
  /** Edit distance between the folded names (0: the same once look-alikes are folded). */
  distance: number;
  /** The display name differs from the staff name as written, yet folds to it (homoglyphs, accents, spacing). */
  lookAlike: boolean;
}

/** Edits allowed between folded names, by the staff name's folded length: short names must match closely. */
export function allowedEdits(foldedLength: number): number {
  return foldedLength < 5 ? 0 : foldedLength < 9 ? 1 : 2;
}

/**
 * The roster name closest to a display name, if close enough to be an
 * imitation: same once folded, or within allowedEdits. Ties: the first in
 * roster order, so the answer is deterministic.
 */
export function closestStaffName(displayName: string, roster: ReadonlyArray<{ name: string; folded: string }>): NameLikeness | null {
  const folded = foldName(displayName);
  if (folded.length < 3) return null;
  let best: NameLikeness | null = null;
  for (const r of roster) {
    const allowed = allowedEdits(r.folded.length);
    const d = editDistance(folded, r.folded, allowed);
    if (d > allowed || (best && d >= best.distance)) continue;
    best = { staffName: r.name, distance: d, lookAlike: d === 0 && displayName.trim() !== r.name.trim() };
    if (d === 0) break;
  }
  return best;
}
