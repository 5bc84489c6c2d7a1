// The pure parts of the impersonation intake, on literal inputs: validation
// and its bounds, name folding and likeness, the persona-to-fleet matcher,
// scoring with its reasons, CSV reading, and the CSV rows' formula guard.

import t from "tap";
import { isOddwireError } from "@oddwire/shared";
import { domainMentionTest, matchPersona, nameInText, nameUnder, type FleetObservation } from "oddwire-collector/persona/match-persona.js";
import { closestStaffName, editDistance, foldName } from "oddwire-collector/persona/name-similarity.js";
import { columnKey, parseCsv, personasFromCsv, rosterFromCsv } from "oddwire-collector/persona/persona-csv-import.js";
import { normaliseDomain, parsePersonaInput, personaKey, PersonaInputError } from "oddwire-collector/persona/persona-input.js";
import { personaRows } from "oddwire-collector/persona/persona-table.js";
import type { ReportPersona } from "oddwire-collector/persona/persona-types.js";
import { scorePersona } from "oddwire-collector/persona/score-persona.js";
import { csvLine } from "oddwire-collector/report/csv.js";

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const DAY = 86_400_000;

/** What parsePersonaInput says about a bad report: its code, field and message (null if it was accepted). */
function rejection(raw: unknown): { code: string; field: string; message: string } | null {
  try {
    parsePersonaInput(raw, NOW);
    return null;
  } catch (err) {
    if (!(err instanceof PersonaInputError) || !isOddwireError(err, "ODW_ERR_PERSONA")) throw err;
    return { code: err.code, field: err.field, message: err.message };
  }
}

t.test("a persona report is validated field by field", async (t) => {
  const p = parsePersonaInput(
    {
      platform: " LinkedIn ",
      handle: "@Jane.Doe",
      profileUrl: "https://social.example/in/jane-doe",
      displayName: "Jane Doe",
      created: "2025-05-20",
      changed: "2025-05-30T08:00:00Z",
      requests: "41",
      requestedStaff: "Bob Smith; Al Jones|Bob Smith",
      domains: ["Careers-Example.TEST", "*.bücher.example", "https://jobs.other.example/x"],
      urls: ["http://careers-example.test/apply"],
    },
    NOW,
  );
  t.equal(p.platform, "LinkedIn");
  t.same(personaKey(p.platform, p.handle), { platformKey: "linkedin", handleKey: "jane.doe" });
  t.equal(p.createdMs, Date.UTC(2025, 4, 20));
  t.equal(p.requests, 41);
  t.same(p.requestedStaff, ["Bob Smith", "Al Jones"], "a list given as one string is split and deduplicated");
  t.same(p.domains, ["careers-example.test", "xn--bcher-kva.example", "jobs.other.example"], "domains are lower-case ASCII; a URL gives its host");

  t.match(rejection({}), { code: "ODW_ERR_PERSONA", field: "platform", message: /needs platform/ });
  t.match(rejection({ platform: "x", handle: "@" }), { code: "ODW_ERR_PERSONA", field: "handle", message: /must name the account/ });
  t.match(rejection({ platform: "x", handle: "h", handel: "h" }), { code: "ODW_ERR_PERSONA", field: "handel", message: /unknown field "handel"; did you mean "handle"\?/ });
  t.match(rejection({ platform: "x", handle: "h".repeat(257) }), { code: "ODW_ERR_PERSONA", field: "handle", message: /257 characters long; at most 256/ });
  t.match(rejection({ platform: "x", handle: "h", created: "last week" }), { code: "ODW_ERR_PERSONA", field: "created", message: /must be a date/ });
  t.match(rejection({ platform: "x", handle: "h", created: "2025-07-01" }), { code: "ODW_ERR_PERSONA", field: "created", message: /in the future/ });
  t.match(rejection({ platform: "x", handle: "h", domains: ["not a domain"] }), { code: "ODW_ERR_PERSONA", field: "domains", message: /is not a domain name/ });
  t.match(rejection({ platform: "x", handle: "h", domains: ["192.0.2.1"] }), { code: "ODW_ERR_PERSONA", field: "domains", message: /is not a domain name/ });
  t.match(rejection({ platform: "x", handle: "h", urls: ["javascript:alert(1)"] }), { code: "ODW_ERR_PERSONA", field: "urls", message: /only http and https/ });
  t.match(rejection({ platform: "x", handle: "h", requests: -1 }), { code: "ODW_ERR_PERSONA", field: "requests", message: /whole number/ });
  t.match(rejection({ platform: "x", handle: "h", domains: Array.from({ length: 51 }, (_, i) => `d${i}.example`) }), {
    code: "ODW_ERR_PERSONA",
    field: "domains",
    message: /51 entries; at most 50/,
  });
  t.match(rejection({ platform: 7, handle: "h" }), { code: "ODW_ERR_PERSONA", field: "platform", message: /must be text/ });
  t.match(rejection([]), { code: "ODW_ERR_PERSONA", field: "", message: /must be an object/ });
  t.equal(normaliseDomain("EXAMPLE.com."), "example.com");
  t.equal(normaliseDomain("localhost"), null, "a single label is not a domain to match");
});

t.test("names fold look-alikes before they are compared", async (t) => {
  t.equal(foldName("Jаne Dое"), foldName("Jane Doe"), "Cyrillic а and о fold to Latin");
  t.equal(foldName("J0hn  Smith-Jones"), foldName("John Smith Jones"), "digits, spacing and punctuation");
  t.equal(foldName("Ｊａｎｅ Ｄｏｅ"), foldName("Jane Doe"), "full-width letters");
  t.equal(foldName("Rene Müller"), foldName("René Muller"), "accents");
  t.equal(foldName("Wi11iam"), foldName("William"), "1 and I and l");
  t.equal(editDistance("kitten", "sitting"), 3);
  t.equal(editDistance("abc", "abcdef", 1), 2, "bounded: gives up past the limit");
  const roster = ["Jane Doe", "Bob Smith", "Al Li"].map((name) => ({ name, folded: foldName(name) }));
  t.same(closestStaffName("Jаne Dое", roster), { staffName: "Jane Doe", distance: 0, lookAlike: true });
  t.same(closestStaffName("Jane Doe", roster), { staffName: "Jane Doe", distance: 0, lookAlike: false });
  t.same(closestStaffName("Bob Smyth", roster), { staffName: "Bob Smith", distance: 1, lookAlike: false });
  t.equal(closestStaffName("Al Lu", roster), null, "short names must match exactly once folded");
  t.equal(closestStaffName("Mallory Hacker", roster), null);
});

t.test("a domain matches itself and its subdomains as whole names only", async (t) => {
  const d = "careers-example.test";
  t.equal(nameInText("curl http://careers-example.test:8080/", d), "careers-example.test");
  t.equal(nameInText("wget https://JOBS.Careers-Example.Test/apply", d), "JOBS.Careers-Example.Test");
  t.equal(nameInText("ping careers-example.test.", d), "careers-example.test", "a trailing dot ends a sentence");
  t.equal(nameInText("curl http://xcareers-example.test/", d), null, "a longer label is another name");
  t.equal(nameInText("curl http://careers-example.test.evil.example/", d), null, "a longer name is another name");
  t.equal(nameInText("curl http://careers-example.testing/", d), null);
  t.equal(nameInText("open https://bücher.example/", "xn--bcher-kva.example"), "bücher.example", "the Unicode spelling of an IDN");
  t.equal(nameInText("open https://XN--BCHER-KVA.example/", "xn--bcher-kva.example"), "XN--BCHER-KVA.example");
  const mentions = domainMentionTest([d, "xn--bcher-kva.example"]);
  t.ok(mentions("curl https://jobs.Careers-Example.test/x"), "the one-pass prefilter finds a subdomain");
  t.ok(mentions("open bücher.example"), "and a Unicode spelling");
  t.notOk(mentions("curl https://example.test/ careers-example.com"), "and nothing else");
  t.notOk(mentions("no dots here"));
  t.ok(nameUnder("Mail.Careers-Example.TEST.", d));
  t.notOk(nameUnder("careers-example.test.evil.example", d));

  const obs = (over: Partial<FleetObservation>): FleetObservation => ({
    hostId: "h1",
    hostname: "ws-12",
    source: "command-line",
    value: "",
    pid: 10,
    exe: "/usr/bin/curl",
    cmdline: "",
    user: "",
    seenAtMs: NOW,
    ...over,
  });
  const observations = [
    obs({ value: "curl http://careers-example.test/", cmdline: "curl http://careers-example.test/", seenAtMs: NOW + 5000 }),
    obs({ value: "curl http://careers-example.test/again", cmdline: "curl http://careers-example.test/again", seenAtMs: NOW + 1000 }),
    obs({ hostId: "h2", hostname: "ws-13", source: "destination-name", value: "cdn.careers-example.test", pid: 0, exe: "", seenAtMs: NOW + 9000 }),
    obs({ hostId: "h3", hostname: "ws-14", value: "curl http://notcareers-example.test/" }),
  ];
  const m = matchPersona({ domains: [], urls: ["https://careers-example.test/apply"] }, observations);
  t.same(
    m.map((x) => [x.hostname, x.source, x.observed, x.seenAtMs]),
    [
      ["ws-12", "command-line", "careers-example.test", NOW + 1000],
      ["ws-13", "destination-name", "cdn.careers-example.test", NOW + 9000],
    ],
    "one match per host, domain and source (the earliest); a URL matches by its host",
  );
  t.same(matchPersona({ domains: [], urls: [] }, observations), []);
});

t.test("scoring is deterministic, with reasons in words", async (t) => {
  const roster = [
    { name: "Jane Doe", folded: foldName("Jane Doe"), login: "jdoe" },
    { name: "Bob Smith", folded: foldName("Bob Smith"), login: "bsmith" },
  ];
  const persona = {
    displayName: "Jаne Dое",
    claimedEmployer: "Example Corp",
    claimedTitle: "Recruiter",
    previousName: "Crypto Deals",
    previousEmployer: "",
    createdMs: NOW - 12 * DAY,
    changedMs: NOW - 3 * DAY,
    requests: 60,
    requestedStaff: ["a", "b", "c", "d"],
    firstReportedMs: NOW - 40 * 60_000,
    contactedMs: null,
  };
  const match = {
    hostId: "h1",
    hostname: "WS-12",
    source: "destination-name" as const,
    domain: "careers-example.co",
    observed: "careers-example.co",
    pid: 0,
    exe: "",
    cmdline: "",
    user: "",
    seenAtMs: NOW,
  };
  const s = scorePersona(persona, { nowMs: NOW, roster, matches: [match] });
  t.equal(s.score, 100, "capped at 100");
  t.same(s.reasons, [
    "the account is 12 days old (created 2025-05-20)",
    'display name "Jаne Dое" imitates staff member "Jane Doe" with look-alike characters',
    'claims to work at "Example Corp" as "Recruiter"',
    "host WS-12 reached careers-example.co 40 minutes after the persona was first reported",
    'changed its name (was "Crypto Deals") 3 days ago',
    "sent 60 connection requests to staff",
    "its requests reached 4 different staff members",
  ]);
  t.same(scorePersona(persona, { nowMs: NOW, roster, matches: [match] }), s, "the same inputs give the same answer");
  t.equal(
    scorePersona(
      { ...persona, requestedStaff: ["Bob Smith"], contactedMs: NOW - 40 * 60_000 },
      {
        nowMs: NOW,
        roster,
        matches: [{ ...match, source: "command-line", observed: "careers-example.co", pid: 4411, exe: "/usr/bin/curl", user: "bsmith", seenAtMs: NOW - 90 * 60_000 }],
      },
    ).reasons[3],
    "host WS-12 named careers-example.co on a command line (curl, pid 4411) as bsmith (Bob Smith, whom the persona contacted) 50 minutes before the persona's latest message to staff",
    "the user is named when the roster gives the login of a staff member the persona contacted",
  );

  const quiet = scorePersona(
    {
      ...persona,
      displayName: "Old Account",
      claimedEmployer: "",
      claimedTitle: "",
      previousName: "",
      createdMs: NOW - 900 * DAY,
      changedMs: null,
      requests: 1,
      requestedStaff: [],
    },
    { nowMs: NOW, roster, matches: [] },
  );
  t.same(quiet, { score: 2, reasons: ["sent 1 connection request to staff"] });
  const renamed = scorePersona(
    { ...persona, displayName: "Someone Else", previousName: "Jane Doe", createdMs: null, changedMs: null, requests: null, requestedStaff: [], claimedEmployer: "" },
    { nowMs: NOW, roster, matches: [] },
  );
  t.same(renamed.reasons, ['previous display name is that of staff member "Jane Doe"'], "an account that imitated a colleague before renaming still did");
});

t.test("CSV import reads what monitoring services export", async (t) => {
  t.same(parseCsv('a,b\r\n"x, ""y""",z\n"multi\nline",\n'), [
    ["a", "b"],
    ['x, "y"', "z"],
    ["multi\nline", ""],
  ]);
  t.throws(() => parseCsv('a,b\n"open,x\n'), /line 2: a quoted field is never closed/);
  t.equal(columnKey("Display Name"), "displayName");
  t.equal(columnKey("claimed_employer"), "claimedEmployer");
  t.equal(columnKey("Account Created"), "created");
  t.equal(columnKey("Linked Domains"), "domains");
  const csv = personasFromCsv("\ufeffPlatform,Handle,Display Name,Linked Domains,Risk Score\nlinkedin,@a,Ann,a.example;b.example,99\n");
  t.same(csv.ignored, ["Risk Score"]);
  t.same(csv.rows, [{ line: 2, raw: { platform: "linkedin", handle: "@a", displayName: "Ann", domains: "a.example;b.example" } }]);
  t.same(parsePersonaInput(csv.rows[0]!.raw, NOW).domains, ["a.example", "b.example"]);
  t.throws(() => personasFromCsv("name,url\nx,y\n"), /needs platform and handle columns/);
  t.throws(() => personasFromCsv(""), /empty/);
  t.same(
    rosterFromCsv("Full Name,Dept,Login\nJane Doe,Sales,jdoe\nJane Doe,HR,jd2\n,IT,x\n"),
    [{ name: "Jane Doe", login: "jdoe" }],
    "header names the columns; duplicates and blanks left out",
  );
  t.same(
    rosterFromCsv("Jane Doe\nBob Smith,x\n"),
    [
      { name: "Jane Doe", login: "" },
      { name: "Bob Smith", login: "" },
    ],
    "no header: the first column holds the names",
  );
});

t.test("persona CSV rows are neutralised for spreadsheets and terminals", async (t) => {
  const p = {
    id: 1,
    score: 50,
    state: "new",
    platform: "x",
    handle: '=HYPERLINK("http://evil.example")',
    profileUrl: "",
    displayName: "@SUM(A1)\u202e",
    claimedEmployer: "+cmd",
    claimedTitle: "-1",
    previousName: "",
    previousEmployer: "",
    createdMs: null,
    changedMs: null,
    requests: null,
    requestedStaff: [],
    domains: [],
    urls: [],
    stateChangedAtMs: NOW,
    firstReportedMs: NOW,
    lastReportedMs: NOW,
    reports: [],
    audit: [],
    reasons: [],
    matches: [],
  } as unknown as ReportPersona;
  const line = csvLine(personaRows([p])[0]!);
  t.match(line, /,"'=HYPERLINK\(""http:\/\/evil\.example""\)",/);
  t.match(line, /,'@SUM\(A1\)\\u202e,'\+cmd,'-1,/);
});
