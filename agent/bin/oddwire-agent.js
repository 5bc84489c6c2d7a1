#!/usr/bin/env node
// Entry point installed as `oddwire-agent`; the program lives in dist/ (npm run build).
import { main, reportError } from "../dist/cli.js";

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.exitCode = reportError(err); },
);
