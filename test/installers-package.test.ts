// `npm run package`'s command line and the bundler's bookkeeping: bad
// requests fail before anything is built, with one line that says what to fix.

import t from "tap";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as BundleModule from "../installers/dist/bundle.js";

const CLI = fileURLToPath(new URL("../../installers/dist/package.js", import.meta.url));
const { bundledPackages, licenceText } = (await import(new URL("../../installers/dist/bundle.js", import.meta.url).href)) as typeof BundleModule;

function pkg(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
}

t.test("--help lists every option", async (t) => {
  const r = pkg(["--help"]);
  t.equal(r.status, 0);
  for (const option of ["--only", "--version", "--out", "--cache", "--compression", "--no-lintian"]) t.match(r.stdout, option);
});

t.test("bad requests are refused before anything is built", async (t) => {
  const out = t.testdir();
  const cases: [string[], number, RegExp][] = [
    [["--only", "agent-rpm"], 1, /^package: --only: unknown target "agent-rpm" \(targets: agent-deb, collector-deb, agent-msi\)\n$/],
    [["--compression", "zstd"], 1, /^package: --compression must be one of xz, gzip, none\n$/],
    [["--only", "agent-deb", "--version", "v1 beta"], 1, /^package: "v1 beta" is not a Debian version/],
    [["--only", "agent-msi", "--version", "1.2"], 1, /^package: .*1\.2/],
    [["--frobnicate"], 2, /^package: Unknown option '--frobnicate'/],
  ];
  for (const [args, code, message] of cases) {
    const r = pkg([...args, "--out", join(out, "o")]);
    t.equal(r.status, code, args.join(" "));
    t.match(r.stderr, message);
  }
  t.notOk(existsSync(join(out, "o")), "nothing was written");
});

t.test("the notices name the npm packages a bundle took code from, not the project's own", async (t) => {
  t.same(
    bundledPackages([
      "node_modules/ws/lib/websocket.js",
      "node_modules/ws/index.js",
      "../node_modules/@protobufjs/float/index.js",
      "node_modules/@oddwire/shared/dist/index.js",
      "node_modules/oddwire-agent/dist/cli.js",
      "agent/dist/run.js",
      "node_modules/node-cron/dist/esm/node-cron.js",
    ]),
    ["@protobufjs/float", "node-cron", "ws"],
  );
});

t.test("a package's licence comes from its LICENSE file, else its README's licence section (pg-types ships no file)", async (t) => {
  const dir = t.testdir();
  const pkg = (name: string, files: Record<string, string>) => {
    mkdirSync(join(dir, name));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, name, f), text);
    return join(dir, name);
  };
  t.equal(licenceText(pkg("a", { "LICENSE.md": "  MIT, Someone  \n", "README.md": "# a\n## License\nother" })), "MIT, Someone");
  t.equal(
    licenceText(pkg("b", { "README.md": "# b\n\nuse it\n\n## license\n\nThe MIT License\n\nCopyright (c) 2014 X\n\n## Thanks\nnot this" })),
    "The MIT License\n\nCopyright (c) 2014 X",
  );
  t.equal(licenceText(pkg("c", { "README.md": "# c\n### Licence: ISC\nISC text at the end" })), "ISC text at the end");
  t.equal(licenceText(pkg("d", { "README.md": "# d\nno licence here" })), "", "neither: the build refuses it");
});
