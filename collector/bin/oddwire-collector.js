#!/usr/bin/env node
// Entry point installed as `oddwire-collector`; the program lives in dist/ (npm run build).
// In the installers' one-file bundle a report's worker thread runs this same file: only the main thread runs the command.
import { isMainThread } from "node:worker_threads";
import { main, reportError } from "../dist/cli.js";

if (isMainThread) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { process.exitCode = reportError(err); },
  );
}
