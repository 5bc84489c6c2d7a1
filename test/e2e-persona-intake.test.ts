// Impersonation intake end to end, through every door: `persona add`, the
// authenticated endpoint of a real collector (its own token, revocable at
// once, bounded, JSON errors), and a CSV import; the same persona reported
// twice merges with both reports kept; scores with reasons; the triage states
// walked with their audit trail; the report's JSON, table and the personas
// export kind.

import t from "tap";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COLLECTOR_BIN, startCollector } from "./lib/fleet.js";
import { http } from "./lib/http.js";

function collector(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [COLLECTOR_BIN, ...args], { encoding: "utf8", env: { ...process.env, USER: "analyst-1", SUDO_USER: "", ...env } });
}

const HOSTILE = `<img src=x onerror=alert(1)>\u202e=cmd|' /C calc'!A0`;

t.test("personas come in by the CLI, the endpoint and CSV, merge, score and walk triage", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");

  // CLI intake, before the collector ever ran: the database is created.
  const add = collector([
    "persona",
    "add",
    "--db",
    db,
    "--platform",
    "LinkedIn",
    "--handle",
    "@Jane.Doe",
    "--display-name",
    "Jаne Dое",
    "--claimed-employer",
    "Example Corp",
    "--claimed-title",
    "Talent Partner",
    "--created",
    new Date(Date.now() - 5 * 86_400_000).toISOString().slice(0, 10),
    "--requests",
    "35",
    "--requested",
    "Bob Smith",
    "--requested",
    "Carol White",
    "--requested",
    "Dan Brown",
    "--domain",
    "careers-example.test",
    "--notes",
    HOSTILE,
  ]);
  t.equal(add.status, 0, add.stderr);
  t.equal(add.stdout, "added persona 1\n");
  t.match(add.stderr, /created the database/);

  const bad = collector(["persona", "add", "--db", db, "--platform", "x", "--handle", "h", "--created", "someday"]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /ODW_ERR_PERSONA: the persona\.created must be a date/);
  const wrongOption = collector(["persona", "list", "--db", db, "--handle", "h"]);
  t.equal(wrongOption.status, 2);
  t.match(wrongOption.stderr, /persona list does not take --handle/);
  const wrongSub = collector(["persona", "lsit", "--db", db]);
  t.match(wrongSub.stderr, /unknown persona subcommand "lsit"; did you mean "list"\?/);

  writeFileSync(join(dir, "staff.csv"), "Full Name,Department\nJane Doe,Sales\nBob Smith,IT\nCarol White,HR\n");
  const roster = collector(["persona", "roster", join(dir, "staff.csv"), "--db", db]);
  t.equal(roster.stdout, "staff roster: 3 names\n", roster.stderr);

  // The endpoint: a token of its own.
  const c = await startCollector(t, db, { args: ["--reader-token", "reader-token-for-tests-0123456789"] });
  const base = `http://127.0.0.1:${c.port}/v1/personas`;
  const mint = collector(["persona", "token-add", "monitor-svc", "--db", db]);
  t.equal(mint.status, 0, mint.stderr);
  const token = mint.stdout.trim();
  t.match(token, /^odwp_[A-Za-z0-9_-]{32}$/);
  const post = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}` }) =>
    http(base, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

  await t.test("the endpoint refuses what it must", async (t) => {
    const none = await post({ platform: "x", handle: "y" }, {});
    t.equal(none.status, 401);
    t.match(await none.json(), { error: { code: "ODW_ERR_AUTH", message: /intake token is needed/ } });
    const reader = await post({ platform: "x", handle: "y" }, { authorization: "Bearer reader-token-for-tests-0123456789" });
    t.equal(reader.status, 401, "the reader token is not an intake token");
    const get = await http(base, { headers: { authorization: `Bearer ${token}` } });
    t.equal(get.status, 405);
    const form = await http(base, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" }, body: "platform=x" });
    t.equal(form.status, 415);
    t.match(await form.json(), { error: { code: "ODW_ERR_PERSONA" } });
    const notJson = await post("{platform:");
    t.equal(notJson.status, 400);
    t.match(await notJson.json(), { error: { message: /the body is not JSON/ } });
    const big = await post({ platform: "x", handle: "y", notes: "n".repeat(300 * 1024) });
    t.equal(big.status, 413);
    t.match(await big.json(), { error: { message: /over 262144 bytes/ } });
    const badField = await post({
      personas: [
        { platform: "x", handle: "ok" },
        { platform: "x", handle: "y", domains: ["not a domain"] },
      ],
    });
    t.equal(badField.status, 400);
    t.same(await badField.json(), {
      error: { code: "ODW_ERR_PERSONA", message: 'personas[1].domains: "not a domain" is not a domain name (such as careers-example.com)', field: "domains", index: 1 },
    });
    const listed = JSON.parse(collector(["persona", "list", "--db", db, "--format", "json"]).stdout);
    t.equal(listed.personas.length, 1, "a rejected batch stores nothing");
  });

  await t.test("the endpoint takes reports, and the same persona merges", async (t) => {
    const r = await post({
      personas: [
        {
          platform: "linkedin",
          handle: "jane.doe",
          displayName: "Jane Doe",
          urls: ["https://jobs.careers-example.test/apply"],
          requestedStaff: ["Erin Gray"],
          reportedBy: "soc-form",
          notes: "second report",
        },
        { platform: "x", handle: "@Hostile", displayName: HOSTILE, claimedEmployer: "=1+1", domains: ["bücher.example"] },
      ],
    });
    t.equal(r.status, 200);
    t.same(await r.json(), {
      accepted: [
        { id: 1, merged: true },
        { id: 2, merged: false },
      ],
    });
    t.ok(await waitForLog(c.log, /"event":"persona\.intake".*"sender":"monitor-svc"/), "the intake is logged with its sender");
  });

  await t.test("a revoked token stops working at once", async (t) => {
    const second = collector(["persona", "token-add", "form", "--db", db]).stdout.trim();
    const ok = await post({ platform: "github", handle: "fake-it" }, { authorization: `Bearer ${second}` });
    t.equal(ok.status, 200);
    const revoke = collector(["persona", "token-revoke", "form", "--db", db]);
    t.equal(revoke.stdout, "revoked intake token form\n", revoke.stderr);
    const after = await post({ platform: "github", handle: "fake-it-2" }, { authorization: `Bearer ${second}` });
    t.equal(after.status, 401);
    t.equal((await post({ platform: "github", handle: "fake-it-3" })).status, 200, "other tokens still work");
    const tokens = collector(["persona", "tokens", "--db", db]).stdout;
    t.match(tokens, /monitor-svc .* analyst-1 +live/);
    t.match(tokens, /form .* revoked /);
    t.notMatch(tokens, new RegExp(second), "tokens are never shown again");
  });

  await t.test("CSV import, merging with what is there", async (t) => {
    writeFileSync(
      join(dir, "export.csv"),
      [
        "Platform,Handle,Display Name,Claimed Employer,Account Created,Connection Requests,Targets,Linked Domains,Risk Score",
        `linkedin,Jane.Doe,"Jane Doe","Example Corp",,50,"Bob Smith;Frank Green",,88`,
        `linkedin,@recruiter.bob,"B0b Smith","Example Corp",${new Date(Date.now() - 20 * 86_400_000).toISOString().slice(0, 10)},12,,"hr-portal.test",70`,
      ].join("\r\n") + "\r\n",
    );
    const imp = collector(["persona", "import", "--db", db, join(dir, "export.csv")]);
    t.equal(imp.status, 0, imp.stderr);
    t.equal(imp.stdout, "imported 2 persona reports (1 merged into personas already known)\n");
    t.match(imp.stderr, /ignored columns naming no persona field: "Risk Score"/);
    writeFileSync(join(dir, "broken.csv"), `platform,handle,created\nx,a,2020-01-01\nx,b,tomorrow-ish\n`);
    const broken = collector(["persona", "import", "--db", db, join(dir, "broken.csv")]);
    t.equal(broken.status, 1);
    t.match(broken.stderr, /broken\.csv: row 3\.created must be a date .*; nothing was imported/);
  });

  await t.test("merged, scored with reasons", async (t) => {
    const { personas } = JSON.parse(collector(["persona", "list", "--db", db, "--format", "json"]).stdout);
    const jane = personas.find((p: any) => p.id === 1);
    t.equal(jane.reports.length, 3, "three reports of one persona, all kept");
    t.same(
      jane.reports.map((r: any) => [r.source, r.reportedBy]),
      [
        ["cli", "analyst-1"],
        ["http:monitor-svc", "soc-form"],
        ["csv:export.csv", "analyst-1"],
      ],
    );
    t.equal(jane.requests, 50, "the highest request count");
    t.same(jane.requestedStaff, ["Bob Smith", "Carol White", "Dan Brown", "Erin Gray", "Frank Green"], "requests to staff joined");
    t.same(jane.domains, ["careers-example.test"]);
    t.same(jane.urls, ["https://jobs.careers-example.test/apply"]);
    t.equal(jane.displayName, "Jane Doe");
    t.equal(jane.previousName, "Jаne Dое", "the rename between reports is kept as the previous name");
    t.ok(jane.changedMs > Date.now() - 600_000, "and counts as a recent change");
    t.match(jane.reasons, [/the account is 5 days old/]);
    t.ok(jane.reasons.includes('display name is that of staff member "Jane Doe"'), jane.reasons.join(" | "));
    t.ok(jane.reasons.includes('changed its name (was "Jаne Dое") today'));
    t.ok(jane.reasons.includes("its requests reached 5 different staff members"));
    t.equal(jane.score, 100);
    const bob = personas.find((p: any) => p.handle === "@recruiter.bob");
    t.ok(bob.reasons.includes('display name "B0b Smith" imitates staff member "Bob Smith" with look-alike characters'), bob.reasons.join(" | "));
    const hostile = personas.find((p: any) => p.handle === "@Hostile");
    t.equal(hostile.displayName, HOSTILE, "hostile strings are stored exactly");
    t.same(hostile.domains, ["xn--bcher-kva.example"]);

    const table = collector(["persona", "list", "--db", db]).stdout;
    t.notMatch(table, /[\u202e\u0000-\u0008]/, "no raw controls or bidi overrides in the table");
    t.match(table, /\\u202e/);
  });

  await t.test("triage states and their audit trail", async (t) => {
    const walk = [
      ["investigating", "checking with HR"],
      ["reported", "reported to LinkedIn, case 42"],
      ["taken-down", "LinkedIn removed it"],
    ];
    for (const [state, reason] of walk) {
      const r = collector(["persona", "set-state", "1", state!, "--reason", reason!, "--by", "alice"]);
      t.equal(r.status, 1, "a missing --db default is refused, not created");
      const ok = collector(["persona", "set-state", "1", state!, "--reason", reason!, "--by", "alice", "--db", db]);
      t.equal(ok.status, 0, ok.stderr);
    }
    const noReason = collector(["persona", "set-state", "2", "dismissed", "--db", db]);
    t.equal(noReason.status, 2);
    t.match(noReason.stderr, /needs --reason/);
    const badState = collector(["persona", "set-state", "2", "closed", "--reason", "x", "--db", db]);
    t.match(badState.stderr, /the state must be one of new, investigating, reported, taken-down, dismissed/);
    const missing = collector(["persona", "set-state", "99", "dismissed", "--reason", "x", "--db", db]);
    t.match(missing.stderr, /no persona has id 99/);
    t.equal(collector(["persona", "set-state", "2", "dismissed", "--reason", "a parody account", "--db", db]).status, 0);

    const report = JSON.parse(collector(["report", "--db", db, "--format", "json"]).stdout);
    t.ok(Array.isArray(report.personas), "report --format json has a top-level personas array");
    const jane = report.personas.find((p: any) => p.id === 1);
    t.equal(jane.state, "taken-down");
    t.same(
      jane.audit.filter((a: any) => a.action === "state").map((a: any) => [a.by, a.fromState, a.toState, a.reason]),
      [
        ["alice", "new", "investigating", "checking with HR"],
        ["alice", "investigating", "reported", "reported to LinkedIn, case 42"],
        ["alice", "reported", "taken-down", "LinkedIn removed it"],
      ],
    );
    for (const p of report.personas) for (const k of ["score", "reasons", "state", "matches"]) t.ok(k in p, `persona.${k}`);
    const dismissed = report.personas.find((p: any) => p.id === 2);
    t.same([dismissed.score, dismissed.reasons], [0, ["dismissed in triage"]]);
    t.same(
      report.personas.map((p: any) => p.score),
      [...report.personas.map((p: any) => p.score)].sort((a: number, b: number) => b - a),
      "highest score first",
    );
    const text = collector(["report", "--db", db]).stdout;
    t.match(text, /suspected fake personas/);
  });

  await t.test("the personas export kind", async (t) => {
    const out = join(dir, "exports");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(out);
    const r = collector(["export", "--what", "personas", "--out", out, "--db", db, "--min-score", "1"]);
    t.equal(r.status, 0, r.stderr);
    const [file] = readdirSync(out);
    t.match(file, /^manual-personas-\d{8}T\d{6}\.\d{3}Z\.csv$/);
    const csv = readFileSync(join(out, file!), "utf8");
    const lines = csv.trimEnd().split("\r\n");
    t.equal(
      lines[0],
      "id,score,state,platform,handle,profile_url,display_name,claimed_employer,claimed_title,account_created,last_changed,requests,requested_staff,domains,urls,reasons,matched_hosts,matches,reported_by,reports,first_reported,last_reported,state_changed,last_contacted",
    );
    t.notOk(
      lines.some((l) => l.startsWith("2,")),
      "the dismissed persona (score 0) is under --min-score 1",
    );
    t.ok(lines.some((l) => l.startsWith("1,100,taken-down,linkedin,Jane.Doe,")));
    t.notMatch(csv, /,=|,"=|,\+|,@/, "no field starts a formula");
  });
});

async function waitForLog(log: string[], re: RegExp): Promise<boolean> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    if (log.some((l) => re.test(l))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
