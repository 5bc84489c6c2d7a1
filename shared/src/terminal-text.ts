// Makes attacker-controlled text (command lines, process names, paths) safe to
// print on a terminal or to `cat` from a file: control characters, which could
// move the cursor, rewrite earlier lines or set the window title, and the
// invisible bidi controls, which reorder what is shown (U+202E makes
// "exe.txt" read "txt.exe"), are shown as \xNN / \uNNNN escapes.

/**
 * C0 controls, DEL, C1 controls, the Unicode line/paragraph separators and
 * every bidi control (ALM U+061C, LRM/RLM U+200E-F, embeddings and overrides
 * U+202A-E, isolates U+2066-9). Global: reset lastIndex before `test`.
 */
export const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** One unsafe character as the visible escape terminalSafe writes for it. */
export function escapeUnsafeChar(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_TEXT, escapeUnsafeChar);
}
