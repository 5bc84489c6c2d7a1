// `npm run bench`: every benchmark, each against its baseline in the same run,
// printed as Markdown tables. Options: --quick (fewer rounds, less load),
// --only snapshot|ingest|rarity|scale|installers|events|persona|sensor|dpi; --hosts N sets the scale benchmark's fleet.

import { benchSnapshot, printSnapshotBench } from "./agent-snapshot.bench.js";
import { benchDpi, printDpiBench } from "./dpi.bench.js";
import { benchEvents, printEventsBench } from "./events.bench.js";
import { benchIngest, printIngestBench } from "./ingest.bench.js";
import { benchInstallers, printInstallersBench } from "./installers.bench.js";
import { benchPersonas, printPersonaBench } from "./persona.bench.js";
import { benchQuality, benchReportTime, printQuality, printReportTime } from "./rarity.bench.js";
import { benchScale, printScaleBench } from "./scale.bench.js";
import { benchSensor, printSensorBench } from "./sensor.bench.js";

const quick = process.argv.includes("--quick");
const only = process.argv[process.argv.indexOf("--only") + 1];
const want = (name: string) => !process.argv.includes("--only") || only === name;

if (want("snapshot")) {
  printSnapshotBench(await benchSnapshot({ rounds: quick ? 3 : 9, extraProcesses: quick ? 300 : 2000, extraConnections: quick ? 500 : 2000 }));
}
if (want("ingest")) {
  printIngestBench(
    await benchIngest({
      fleet: { hosts: quick ? 200 : 1000, snapshotsPerHost: quick ? 2 : 3, processes: 150, sockets: 60 },
      runs: quick
        ? [
            { concurrency: 50, deltas: false },
            { concurrency: 50, deltas: true },
          ]
        : [
            { concurrency: 50, deltas: false },
            { concurrency: 250, deltas: false },
            { concurrency: 250, deltas: true },
          ],
    }),
  );
}
if (want("rarity")) {
  printQuality(await benchQuality());
  printReportTime(await benchReportTime(quick ? [1000] : [1000, 10000]));
}
if (want("scale")) {
  const hostsArg = process.argv.indexOf("--hosts");
  printScaleBench(await benchScale({ hosts: hostsArg > 0 ? Number(process.argv[hostsArg + 1]) : quick ? 1000 : 10_000 }));
}
if (want("installers")) {
  printInstallersBench(await benchInstallers({ rounds: quick ? 5 : 15 }));
}
if (want("events")) {
  if (process.getuid?.() !== 0) console.log("\n(events benchmark skipped: loading tracing programs needs root)");
  else printEventsBench(await benchEvents({ rates: [0, 100, 1000, 5000], stepSeconds: quick ? 6 : 12 }));
}
if (want("persona")) {
  printPersonaBench(await benchPersonas(quick ? [1000] : [1000, 10000]));
}
if (want("sensor")) {
  printSensorBench(await benchSensor({ lines: quick ? 200_000 : 1_000_000, rounds: quick ? 2 : 3 }));
}
if (want("dpi")) {
  if (process.getuid?.() !== 0) console.log("\n(protocol identification benchmark skipped: capturing packets needs root)");
  else printDpiBench(await benchDpi({ stepSeconds: quick ? 6 : 15 }));
}
