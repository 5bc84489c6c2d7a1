// Makes attacker-controlled text (command lines, process names, paths) safe to
// print on a terminal: control characters, which could move the cursor,
// rewrite earlier lines or set the window title, are shown as \xNN escapes.

// C0 controls except none, DEL, C1 controls, and the Unicode line/paragraph separators and bidi overrides.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
