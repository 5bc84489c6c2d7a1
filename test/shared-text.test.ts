// Shared helpers on literal input: command-line parsing and its errors,
// terminal-safe text, ancestry chains.

import t from "tap";
import { ancestry, formatAncestry, nearest, OddwireError, parseCommand, terminalSafe, type CommandSpec } from "@oddwire/shared";

const spec: CommandSpec = {
  name: "snapshot",
  summary: "s",
  usage: "snapshot [--json]",
  options: { json: { type: "boolean", description: "j" }, "state-dir": { type: "string", description: "d" } },
};

t.test("parseCommand accepts declared options and rejects others with a suggestion", async (t) => {
  t.same(parseCommand(spec, ["--json", "--state-dir", "/x"]).values, { json: true, "state-dir": "/x" });
  t.throws(() => parseCommand(spec, ["--jsno"]), { code: "ODW_ERR_USAGE", message: /unknown option --jsno for "snapshot"; did you mean --json\?/ });
  t.throws(() => parseCommand(spec, ["--frobnicate"]), { code: "ODW_ERR_USAGE", message: /^unknown option --frobnicate for "snapshot" \(see --help\)$/ });
  t.throws(() => parseCommand(spec, ["extra"]), { code: "ODW_ERR_USAGE", message: /takes no arguments, got "extra"/ });
  t.throws(() => parseCommand(spec, ["--state-dir"]), OddwireError);
  t.equal(nearest("stat-dir", ["json", "state-dir"]), "state-dir");
  t.equal(nearest("zzzzzz", ["json"]), undefined);
});

t.test("terminalSafe neutralises control characters and bidi overrides", async (t) => {
  t.equal(terminalSafe("ls -la"), "ls -la");
  t.equal(terminalSafe("evil\x1b]0;pwned\x07\r\n"), "evil\\x1b]0;pwned\\x07\\x0d\\x0a");
  t.equal(terminalSafe("a\u202eexe.txt"), "a\\u202eexe.txt");
  t.equal(terminalSafe("\u200ex\u200f\u061c\u2066y\u2069\u009b"), "\\u200ex\\u200f\\u061c\\u2066y\\u2069\\x9b", "marks, isolates and C1 controls too");
  t.equal(terminalSafe("café <script>"), "café <script>", "printable text, non-ASCII included, is kept");
});

t.test("ancestry stops below init, survives cycles and missing parents", async (t) => {
  const procs = new Map([
    [1, { pid: 1, ppid: 0, name: "systemd" }],
    [812, { pid: 812, ppid: 1, name: "nginx" }],
    [4410, { pid: 4410, ppid: 812, name: "bash" }],
    [4411, { pid: 4411, ppid: 4410, name: "curl" }],
    [7, { pid: 7, ppid: 8, name: "a" }],
    [8, { pid: 8, ppid: 7, name: "b" }],
    [9, { pid: 9, ppid: 999, name: "orphan" }],
  ]);
  t.equal(formatAncestry(ancestry(4411, procs)), "nginx(812) > bash(4410) > curl(4411)");
  t.equal(formatAncestry(ancestry(7, procs)), "b(8) > a(7)");
  t.equal(formatAncestry(ancestry(9, procs)), "orphan(9)");
  t.same(ancestry(12345, procs), []);
});
