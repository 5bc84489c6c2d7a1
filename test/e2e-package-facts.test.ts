// Class 1 of issue 12 with a real collector: whether an unknown binary is
// packaged and how long its host has had it changes how it is judged. Two
// replayed hosts (`oddwire-agent replay` classifies each line as the agent
// does, package facts included): an executable no package owns, a few hours
// old, reaching a public address on https, and one dpkg installed reaching
// one too. Documentation addresses stand for the internet; nothing is contacted.

import t from "tap";
import { EvalHost } from "./eval/eval-host.js";
import { replayAndReport } from "./eval/run-eval.js";

interface F {
  score: number;
  binary: { name: string };
  tags: string[];
  reasons: string[];
}

t.test("an unpackaged executable new on its host outranks a packaged one, with the reason in words", async (t) => {
  const now = Date.now();
  const dropped = new EvalHost("pkg-dropped", "linux");
  const pid = dropped.proc("fetchd", "/usr/local/bin/fetchd", "/usr/local/bin/fetchd --quiet", 1, {
    packageSource: "dpkg",
    package: "",
    exeSinceMs: String(now - 3 * 3_600_000),
  });
  dropped.connect(pid, "192.0.2.80", 443);
  const installed = new EvalHost("pkg-installed", "linux");
  const pid2 = installed.proc("acme-updater", "/usr/bin/acme-updater", "/usr/bin/acme-updater --check", 1, {
    packageSource: "dpkg",
    package: "acme-updater",
    exeSinceMs: String(now - 200 * 86_400_000),
  });
  installed.connect(pid2, "192.0.2.81", 443);
  const report = await replayAndReport([dropped.line(now), installed.line(now)]);
  const findings = report.findings as F[];
  const fetchd = findings.find((f) => f.binary.name === "fetchd");
  const updater = findings.find((f) => f.binary.name === "acme-updater");
  t.ok(fetchd && updater, "both are in the report");
  t.same(fetchd!.tags.sort(), ["new-unpackaged-exe", "unknown-binary-public"]);
  t.match(fetchd!.reasons.join("\n"), /belongs to no installed package \(dpkg\) and came to this host 3 h ago/);
  t.same(updater!.tags, [], "an installed package's program on https is not unknown software");
  t.ok(fetchd!.score > updater!.score + 30, `fetchd ${fetchd!.score} > acme-updater ${updater!.score}`);
  t.equal(fetchd!.score, 64.3, "the README's worked example");
  t.equal(updater!.score, 0);
});
