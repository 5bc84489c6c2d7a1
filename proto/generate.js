// Generates static ES module code and TypeScript declarations from
// oddwire.proto into gen/. Run by `npm run build`; the output is not committed.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const cliDir = dirname(require.resolve("protobufjs-cli/package.json"));
const gen = join(here, "gen");
const js = join(gen, "oddwire.js");
const dts = join(gen, "oddwire.d.ts");

mkdirSync(gen, { recursive: true });
// --force-number: 64-bit fields (timestamps in ms, sequence numbers) decode to
// plain numbers; every value we carry fits in 2^53.
execFileSync(process.execPath, [join(cliDir, "bin", "pbjs"), "-t", "static-module", "-w", "es6",
  "--force-number", "--no-beautify", "--no-delimited", "--no-service", "-o", js, join(here, "oddwire.proto")],
  { stdio: "inherit" });
// protobufjs is CommonJS without an exports map: ESM needs the file extension.
const code = readFileSync(js, "utf8").replace(/from "protobufjs\/minimal"/, 'from "protobufjs/minimal.js"');
writeFileSync(js, code);
execFileSync(process.execPath, [join(cliDir, "bin", "pbts"), "--no-comments", "-o", dts, js], { stdio: "inherit" });
