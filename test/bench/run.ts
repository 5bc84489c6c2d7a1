// `npm run bench`: every benchmark, each against its baseline in the same run,
// printed as Markdown tables. Options: --quick (fewer rounds, less load).

import { benchSnapshot, printSnapshotBench } from "./agent-snapshot.bench.js";

const quick = process.argv.includes("--quick");
const snapshot = await benchSnapshot({ rounds: quick ? 3 : 9, extraProcesses: quick ? 300 : 2000, extraConnections: quick ? 500 : 2000 });
printSnapshotBench(snapshot);
