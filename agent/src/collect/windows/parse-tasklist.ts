// Reads process owners out of `tasklist /v /fo csv /nh`. Win32_Process does
// not carry the owner (asking it means one GetOwner call per process), and
// tasklist /v reports it for every process in one run.
//
// Columns: "Image Name","PID","Session Name","Session#","Mem Usage","Status",
// "User Name","CPU Time","Window Title". Column order is the same on every
// language of Windows; only the header (suppressed by /nh) and some values
// ("N/A", "Unknown") are translated. A user tasklist cannot read (another
// user's process, without elevation) is "N/A"; it becomes "".

const PID_COLUMN = 1;
const USER_COLUMN = 6;
const NOT_AVAILABLE = "N/A";

export function parseTasklistCsv(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const fields = parseCsvLine(line);
    if (fields === undefined || fields.length <= USER_COLUMN) continue;
    const pidText = fields[PID_COLUMN]!.trim();
    if (!/^\d+$/.test(pidText)) continue;
    const user = fields[USER_COLUMN]!.trim();
    users.set(Number(pidText), user === NOT_AVAILABLE ? "" : user);
  }
  return users;
}

/**
 * Splits one CSV record: fields separated by commas, a field in double quotes
 * may hold commas, and `""` inside quotes is one quote. Returns undefined for
 * a line that is not well-formed (an unterminated quote, text after a closing
 * quote), so a damaged line is skipped rather than misread. tasklist never
 * puts a line break inside a field: window titles are single-line.
 */
export function parseCsvLine(line: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return undefined;
        const ch = line[i]!;
        if (ch === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else {
          field += ch;
          i++;
        }
      }
      if (i < line.length && line[i] !== ",") return undefined;
    } else {
      const comma = line.indexOf(",", i);
      const end = comma === -1 ? line.length : comma;
      field = line.slice(i, end);
      if (field.includes('"')) return undefined;
      i = end;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}
