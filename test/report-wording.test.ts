// The report's words and numbers on literal reports: identifiers (ports,
// pids, ranks, rule ids) are never grouped like quantities ("port 8443", not
// "port 8,443"), and counts agree with their nouns ("1 host", not "1 hosts"),
// in the terminal table and the HTML page.

import t from "tap";
import { renderReportHtml } from "oddwire-collector/report/report-html.js";
import { renderReportTable } from "oddwire-collector/report/report-text.js";
import type { Report } from "oddwire-collector/report/report-types.js";
import { reportFinding, reportHost, T0 } from "./lib/report-fixture.js";

const ONE: Report = {
  generatedAt: new Date(T0).toISOString(),
  fleet: { hosts: 1, byOs: { linux: 1 }, binaries: 1, observations: 1, smallFleet: true },
  prevalence: [{ from: 0, to: 1, groups: 1 }],
  filters: {},
  findings: [
    reportFinding({
      rank: 1,
      port: 8443,
      hostCount: 1,
      binaryHostCount: 1,
      suppressed: { id: 1234, reason: "known", by: "alice", createdAtMs: T0, expiresAtMs: null },
      hosts: [reportHost({ pid: 12345, ports: [8443, 10443] })],
    }),
  ],
};

const MANY: Report = {
  ...ONE,
  fleet: { hosts: 2, byOs: { linux: 2 }, binaries: 3, observations: 4, smallFleet: true },
  findings: [ONE.findings[0]!, { ...ONE.findings[0]!, rank: 2, suppressed: null }],
};

t.test("HTML: ports, pids and ids are not grouped; counts agree with their nouns", async (t) => {
  const html = renderReportHtml(ONE, { nonce: "nonce-for-tests" });
  t.match(html, /port 8443</, "the finding's port");
  t.match(html, />12345</, "the pid");
  t.match(html, />8443, 10443</, "the host's ports");
  t.match(html, /suppression #1234</, "the suppression's id");
  const markup = html.split('<script type="application/json"')[0]!;
  t.notMatch(markup, /\d,\d{3}/, "no grouped number in the markup: every number shown is an identifier or below 1,000");
  t.match(html, /Showing 0 of 1 finding \(1 suppressed hidden\)</);
  t.notMatch(html, /\b1 findings\b/);
  t.match(renderReportHtml(MANY, { nonce: "nonce-for-tests" }), /Showing 1 of 2 findings \(1 suppressed hidden\)</);
});

t.test("table: counts agree with their nouns, ports are not grouped", async (t) => {
  const one = renderReportTable(ONE);
  t.match(one, /: 1 host \(1 linux\), 1 binary, 1 observation\n/);
  t.match(one, /https\/tcp outbound 8443/);
  t.match(renderReportTable(MANY), /: 2 hosts \(2 linux\), 3 binaries, 4 observations\n/);
});
