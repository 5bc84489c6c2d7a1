// The soak's short mode, in CI: 60 simulated agents (the agent's own spool
// and stream client) for 40 s against a real collector killed twice. Nothing
// lost, nothing duplicated (a kill waits for the restart before it, so a slow
// machine may fit one kill rather than two). Flatness of memory needs the long mode
// (`npm run soak`): 40 s is too short to tell growth from warm-up.

import t from "tap";
import { runSoak } from "./soak/soak.js";

t.test("60 agents, collector SIGKILLed twice: every batch stored exactly once", async (t) => {
  const r = await runSoak({ dir: t.testdir(), agents: 60, seconds: 40, batchEverySeconds: 5, killEverySeconds: 15 });
  t.ok(r.made > 300, `${r.made} batches made`);
  t.ok(r.kills >= 1, `the collector was SIGKILLed (${r.kills} times)`);
  t.equal(r.missing, 0, "no batch missing");
  t.equal(r.duplicates, 0, "no batch stored twice");
  t.equal(r.stored, r.made, "every batch made is stored");
});
