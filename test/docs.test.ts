// The README documents every command, every option and every error code the
// code declares (fastify's rule: an undocumented code is a defect).

import t from "tap";
import { readFileSync } from "node:fs";
import { ERROR_CODES } from "@oddwire/shared";
import { CONFIGURE_COMMAND, REPLAY_COMMAND, RUN_COMMAND, SNAPSHOT_COMMAND } from "oddwire-agent/cli.js";
import { COMMANDS as COLLECTOR_COMMANDS } from "oddwire-collector/cli.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

t.test("every command and option is in the README", async (t) => {
  const programs = [
    ["oddwire-agent", [SNAPSHOT_COMMAND, RUN_COMMAND, REPLAY_COMMAND, CONFIGURE_COMMAND]],
    ["oddwire-collector", COLLECTOR_COMMANDS],
  ] as const;
  for (const [program, commands] of programs) {
    for (const c of commands) {
      const at = readme.indexOf(`### \`${program} ${c.name}`);
      t.ok(at >= 0, `${program} ${c.name} has a section`);
      const section = readme.slice(at, readme.indexOf("\n### ", at + 1));
      for (const option of Object.keys(c.options)) t.match(section, `\`--${option}`, `${program} ${c.name} --${option} is documented in its section`);
    }
  }
});

t.test("every error code is in the README", async (t) => {
  for (const code of Object.keys(ERROR_CODES)) t.match(readme, `| \`${code}\` |`, code);
});

t.test("every option of npm run package is in installers/README.md", async (t) => {
  const installersReadme = readFileSync(new URL("../../installers/README.md", import.meta.url), "utf8");
  const { HELP } = (await import(new URL("../../installers/dist/package.js", import.meta.url).href)) as { HELP: string };
  const options = [...HELP.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]!);
  t.ok(options.length >= 6, "the help lists the options");
  for (const option of options) t.match(installersReadme, `| \`${option}`, `${option} is in the options table`);
});
