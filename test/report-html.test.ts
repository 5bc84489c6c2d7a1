// The HTML report with hostile agent strings: literal checks on the markup,
// then the page served with the collector's CSP and driven in a real Chromium.
// Nothing from the data may run, every string must read back verbatim as text,
// and the filters and drill-downs must work without a fetch.

import t from "tap";
import { randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { terminalSafe } from "@oddwire/shared";
import { renderReportHtml } from "oddwire-collector/report/report-html.js";
import type { Finding, Report, ReportHost } from "oddwire-collector/report/report-types.js";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = fileURLToPath(new URL("./report-screenshot.png", import.meta.url));

const SCRIPT_CMD = "</script><script>alert(1)</script>";
const IMG = `"><img src=x onerror=alert(1)>`;
const BIDI_PATH = "/tmp/invoice\u202Efdp.exe";
const UNICODE_NAME = "сервер-東京-🙂";
const SEPARATORS = "line\u2028para\u2029end & <done>";
const SHA_ATTR = `' " onmouseover=alert(3) x="`;
const SUPPRESSION = `<script>alert("suppressed")</script> nightly backup to the DR site`;
const BIG_CMD = `/usr/bin/python3 -c 'import base64;exec(base64.b64decode("${"QUFB".repeat(25_600)}"))'`;

const T0 = Date.UTC(2025, 4, 12, 8, 30, 0);
const HOUR = 3_600_000;

function host(over: Partial<ReportHost>): ReportHost {
  return { hostId: "h-1", hostname: "web-01", platform: "", pid: 1000, cmdline: "", user: "root", ancestry: "", firstSeenMs: T0, lastSeenMs: T0 + HOUR, ports: [443], ...over };
}

function finding(over: Partial<Finding>): Finding {
  return {
    rank: 1,
    score: 50,
    binary: { name: "x", path: "/usr/bin/x", sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" },
    protocol: "https",
    wireProtocol: "",
    risks: [],
    destinationNames: [],
    transport: "tcp",
    port: 443,
    portClass: "well-known",
    direction: "outbound",
    hostCount: 1,
    binaryHostCount: 10,
    reasons: ["r"],
    evidence: ["rarity"],
    tags: [],
    firstSeenMs: T0,
    lastSeenMs: T0 + HOUR,
    suppressed: null,
    beacon: null,
    hosts: [host({})],
    ...over,
  };
}

const curl = finding({
  rank: 1,
  score: 93,
  binary: { name: "curl", path: "/usr/bin/curl", sha256: "b4e1f7b2c0a1d3e5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3" },
  protocol: "irc",
  port: 6667,
  portClass: "registered",
  hostCount: 1,
  binaryHostCount: 212,
  reasons: ["curl speaks IRC on 1 of its 212 hosts; nowhere else in the fleet", `spawned by a web server: ${IMG}`, "never seen before this week"],
  evidence: ["rarity", "knowledge", "lineage", "novelty"],
  tags: ["beacon", "<b>bold</b>"],
  hosts: [host({ hostId: "host-\u202Eabc", hostname: IMG, pid: 4411, cmdline: SCRIPT_CMD, user: "www-data", ancestry: "nginx(812) > bash(4410) > curl(4411)", ports: [6667] })],
});
const python = finding({
  rank: 2,
  score: 71,
  binary: { name: UNICODE_NAME, path: BIDI_PATH, sha256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
  protocol: "http",
  port: 8081,
  portClass: "registered",
  hostCount: 2,
  binaryHostCount: 40,
  reasons: ["a renamed interpreter talks plain HTTP to a high port", "the binary sits in /tmp"],
  evidence: ["rarity", "lineage"],
  tags: ["odd-port", "tmp-exec"],
  hosts: [
    host({ hostId: "h-ws-07", hostname: "ws-07", pid: 9120, cmdline: BIG_CMD, user: "svc-build", ancestry: "systemd(1) > cron(402) > sh(9119) > python3(9120)", ports: [8081] }),
    host({ hostId: "h-ws-09", hostname: "ws-09", pid: 0, cmdline: "python3 fetch.py", user: "svc-build", ports: [8081, 8082] }),
  ],
});
const dnsmasq = finding({
  rank: 3,
  score: 38,
  binary: { name: "dnsmasq", path: "/usr/sbin/dnsmasq", sha256: SHA_ATTR },
  protocol: "dns",
  transport: "udp",
  port: 53,
  direction: "inbound",
  hostCount: 3,
  binaryHostCount: 9,
  reasons: [SEPARATORS],
  evidence: ["knowledge"],
  tags: ["listener"],
  hosts: [
    host({ hostId: "h-gw-1", hostname: "gw-1", cmdline: "dnsmasq -k", ports: [53] }),
    host({ hostId: "h-gw-2", hostname: "gw-2", cmdline: "dnsmasq -k --log-queries", ports: [53] }),
  ],
});
const rsync = finding({
  rank: 4,
  score: 22,
  binary: { name: "rsync", path: "/usr/bin/rsync", sha256: "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100" },
  protocol: "ssh",
  port: 22,
  reasons: ["rsync over SSH to a host outside the fleet"],
  tags: ["beacon"],
  suppressed: { id: 7, reason: SUPPRESSION, by: "alice'); alert(2)//", createdAtMs: T0 - 24 * HOUR, expiresAtMs: null },
  hosts: [host({ hostId: "h-db-1", hostname: "db-1", cmdline: "rsync -az /var/backups dr:/srv", ports: [22] })],
});

const REPORT: Report = {
  generatedAt: "2025-05-12T09:00:00Z",
  fleet: { hosts: 214, byOs: { linux: 190, windows: 18, darwin: 6 }, binaries: 3412, observations: 184_220, smallFleet: false },
  prevalence: [412, 96, 40, 22, 9, 6, 3, 5, 11, 2870].map((groups, i) => ({ from: i / 10, to: (i + 1) / 10, groups })),
  filters: { minScore: 0, since: "7d" },
  // Not in rank order: the page sorts.
  findings: [dnsmasq, curl, rsync, python],
};

const EMPTY: Report = {
  generatedAt: "2025-05-12T09:00:00Z",
  fleet: { hosts: 3, byOs: { linux: 3 }, binaries: 120, observations: 900, smallFleet: true },
  prevalence: [],
  filters: {},
  findings: [],
};

const JSON_BLOCK = /<script type="application\/json" id="report-data" nonce="[^"]*">([\s\S]*?)<\/script>/;

t.test("the markup escapes every agent string and embeds the JSON safely", async (t) => {
  const nonce = "dGVzdC1ub25jZS0xMjM0NQ==";
  const html = renderReportHtml(REPORT, { nonce });
  const block = JSON_BLOCK.exec(html);
  t.ok(block, "the report JSON is embedded");
  const json = block![1]!;
  t.notMatch(json, /[<>&\u2028\u2029]/, "the JSON block holds no <, >, & or line separators");
  t.match(json, /\\u003c\/script\\u003e\\u003cscript\\u003ealert\(1\)\\u003c\/script\\u003e/);
  t.match(json, /\\u2028para\\u2029/);
  t.same(JSON.parse(json), REPORT, "the JSON block decodes to the report");

  const rest = html.replace(JSON_BLOCK, "");
  for (const raw of [SCRIPT_CMD, IMG, SUPPRESSION, "<b>bold</b>", SHA_ATTR, "alice'); alert(2)//"])
    t.notOk(rest.includes(raw), `raw ${JSON.stringify(raw.slice(0, 30))} is not in the markup`);
  t.ok(rest.includes("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), "the script command line is there, escaped");
  t.ok(rest.includes("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"), "the img hostname is there, escaped");
  t.ok(rest.includes("&#39; &quot; onmouseover=alert(3) x=&quot;"), "a hostile sha256 stays inside its attribute");
  t.notOk(
    /<img|<iframe|<object|<embed|\sstyle=|\son[a-z]+=/i.test(rest.replace(/onerror=alert|onmouseover=alert/g, "")),
    "no image, frame, style attribute or handler in the markup",
  );
  t.equal(rest.match(/<script/g)?.length, 1, "one executable script besides the JSON");
  t.equal(html.split(`nonce="${nonce}"`).length - 1, 3, "the nonce is on the style and both scripts");
  t.notMatch(rest, /[\u202e\u2028\u2029]/, "bidi overrides and separators are shown as escapes, not emitted");
  t.ok(rest.includes(`invoice<span class="cc" title="control character">\\u202e</span>fdp.exe`), "the bidi override is marked visibly");
  t.notMatch(rest, /https?:\/\//, "nothing is loaded from anywhere");
  t.throws(() => renderReportHtml(REPORT, { nonce: `"><script>` }), TypeError, "a malformed nonce is refused");

  const empty = renderReportHtml(EMPTY, { nonce });
  t.ok(empty.includes("No findings match."));
  t.ok(empty.includes("no fleet statistics"), "the small-fleet note is shown");
});

t.test("in Chromium under the CSP", { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)` }, async (t) => {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? "");
    const report = req.url === "/" ? REPORT : req.url === "/empty" ? EMPTY : null;
    if (!report) {
      res.writeHead(404).end();
      return;
    }
    const nonce = randomBytes(18).toString("base64");
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      "x-content-type-options": "nosniff",
    });
    res.end(renderReportHtml(report, { nonce }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });

  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    t.fail(`a dialog opened: ${d.message()}`);
    void d.dismiss();
  });
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("request", (r) => {
    if (r.url() !== `${base}/` && r.url() !== `${base}/empty`) errors.push(`unexpected request ${r.url()}`);
  });
  await page.addInitScript("document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));");

  const js = <T>(expr: string): Promise<T> => page.evaluate<T>(expr);
  const shownRanks = (): Promise<string[]> => page.locator("tbody.finding:not([hidden]) .rank-n").allTextContents();
  const group = (rank: number) => page.locator("tbody.finding").filter({ has: page.locator(".rank-n", { hasText: new RegExp(`^${rank}$`) }) });

  await page.goto(`${base}/`);
  await page.waitForSelector("html[data-ready=true]");

  await t.test("findings are in rank order, suppressed hidden", async (t) => {
    t.same(await page.locator("tbody.finding .rank-n").allTextContents(), ["1", "2", "3", "4"]);
    t.same(await shownRanks(), ["1", "2", "3"]);
    t.equal(await page.locator("#count").textContent(), "Showing 3 of 4 findings (1 suppressed hidden)");
    t.equal(await page.locator("#empty").isVisible(), false);
    t.equal(await page.locator(".note").count(), 0, "no small-fleet note for 214 hosts");
  });

  await t.test("the prevalence chart has one bar per bucket", async (t) => {
    t.equal(await page.locator("svg#prevalence rect.bar").count(), REPORT.prevalence.length);
    t.match(await page.locator("svg#prevalence").textContent(), /log/, "the log scale is labelled");
  });

  await t.test("the keyboard opens a drill-down showing hostile strings verbatim", async (t) => {
    const g = group(1);
    await g.locator("button.toggle").focus();
    await page.keyboard.press("Enter");
    t.equal(await g.locator("button.toggle").getAttribute("aria-expanded"), "true");
    t.ok(await g.locator("tr.detail").isVisible(), "the drill-down is visible");
    t.equal(await g.locator("pre.cmd").textContent(), SCRIPT_CMD, "the command line reads back verbatim");
    t.ok(await g.locator("pre.cmd").isVisible());
    t.equal(await g.locator("table.hosts td.strong").textContent(), IMG, "the hostname reads back verbatim");
    t.equal(await g.locator("table.hosts td.mono").nth(1).textContent(), terminalSafe("host-\u202Eabc"), "a bidi override is shown escaped");
    t.equal(await g.locator(".reasons li").nth(1).textContent(), `spawned by a web server: ${IMG}`);
    t.same(await g.locator("td.tags .chip").allTextContents(), ["beacon", "<b>bold</b>"]);
    t.equal(await g.locator("table.hosts td").nth(4).textContent(), "nginx(812) > bash(4410) > curl(4411)");
    await page.keyboard.press("Enter");
    t.equal(await g.locator("tr.detail").isVisible(), false, "Enter again closes it");
    await page.keyboard.press("Space");
    t.ok(await g.locator("tr.detail").isVisible(), "Space opens it");
  });

  await t.test("a row click opens the 100 KB command line without breaking the layout", async (t) => {
    const g = group(2);
    await g.locator("td.bin").click();
    t.ok(await g.locator("tr.detail").isVisible());
    const pre = g.locator("pre.cmd").first();
    t.equal(await pre.textContent(), BIG_CMD, "the whole command line is in the page");
    const clamped = await pre.boundingBox();
    t.ok(clamped && clamped.height < 150 && clamped.x + clamped.width <= 1440, `clamped to a few lines inside the viewport (${JSON.stringify(clamped)})`);
    await g.locator("button.more").click();
    const full = await pre.boundingBox();
    t.ok(full && full.height > clamped!.height && full.x + full.width <= 1440, "expanded, still inside the viewport");
    t.equal(await js<boolean>("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), true, "no horizontal scrolling");
    await g.locator("button.more").click();
    t.equal(await g.locator(".bin .path").textContent(), terminalSafe(BIDI_PATH), "the bidi override in the path is visible as \\u202e");
    t.equal(await g.locator(".bin .name").textContent(), UNICODE_NAME, "unicode is kept");
    t.equal(await g.locator(".bin .sha").getAttribute("title"), `sha256 ${python.binary.sha256}`);
    t.equal(await g.locator(".bin .sha").textContent(), "0123456789ab…");
  });

  await t.test("nothing from the data became an element or a handler", async (t) => {
    t.equal(await js<number>("document.images.length"), 0, "no <img>");
    t.equal(await js<number>("document.scripts.length"), 2, "only the JSON block and the page script");
    t.equal(await js<number>("document.querySelectorAll('iframe, frame, object, embed, a, base, form[action], meta[http-equiv]').length"), 0);
    t.equal(
      await js<number>("[...document.querySelectorAll('.chip, pre.cmd, td.strong')].reduce((n, e) => n + e.querySelectorAll(':not(.cc)').length, 0)"),
      0,
      "data cells hold text only (and control-character marks)",
    );
    t.equal(await js<number>("[...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length"), 0, "no on* attribute anywhere");
    t.equal(await group(3).locator(".sha").getAttribute("title"), `sha256 ${SHA_ATTR}`, "a hostile sha256 stays one attribute");
  });

  await t.test("the filters work without a fetch", async (t) => {
    const before = requests.length;
    await page.fill("#q", "curl");
    t.same(await shownRanks(), ["1"], "search on the binary");
    await page.fill("#q", "QUFBQUFBQUFB");
    t.same(await shownRanks(), ["2"], "search inside a command line");
    await page.fill("#q", "GW-2");
    t.same(await shownRanks(), ["3"], "search on a hostname, any case");
    await page.fill("#q", "no-such-thing-anywhere");
    t.same(await shownRanks(), []);
    t.ok(await page.locator("#empty").isVisible());
    t.equal((await page.locator("#empty").textContent())?.trim(), "No findings match.");
    await page.fill("#q", "");
    t.same(await shownRanks(), ["1", "2", "3"]);

    await page.fill("#min-score", "50");
    t.same(await shownRanks(), ["1", "2"], "min score hides the low rows");
    t.equal(await page.locator("#min-score-value").textContent(), "50");
    await page.fill("#min-score", "0");

    await page.selectOption("#protocol", "=dns");
    t.same(await shownRanks(), ["3"], "protocol select");
    await page.selectOption("#protocol", "");
    await page.selectOption("#tag", { label: "<b>bold</b> (1)" });
    t.same(await shownRanks(), ["1"], "tag select, with a hostile tag as a plain option");
    await page.selectOption("#tag", "=beacon");
    t.same(await shownRanks(), ["1"], "the suppressed finding with the same tag stays hidden");

    await page.check("#show-suppressed");
    t.same(await shownRanks(), ["1", "4"], "show suppressed reveals it");
    await page.selectOption("#tag", "");
    t.same(await shownRanks(), ["1", "2", "3", "4"]);
    t.equal(await page.locator("#count").textContent(), "Showing 4 of 4 findings");
    const sup = group(4);
    t.match(await sup.getAttribute("class"), /\bsuppressed\b/, "it is marked suppressed (dimmed)");
    t.equal(await sup.locator(".supp-note").textContent(), `Suppressed: ${SUPPRESSION} (alice'); alert(2)//)`, "with its reason, verbatim");
    t.equal(requests.length, before, "no request while filtering");
  });

  await t.test("a full-page screenshot for humans", async (t) => {
    await page.locator("#q").blur();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    t.ok(statSync(SCREENSHOT).size > 10_000, `${SCREENSHOT} written`);
  });

  await t.test("an empty report says so", async (t) => {
    await page.goto(`${base}/empty`);
    await page.waitForSelector("html[data-ready=true]");
    t.ok(await page.locator("#empty").isVisible());
    t.equal((await page.locator("#empty").textContent())?.trim(), "No findings match.");
    t.equal(await page.locator("#count").textContent(), "Showing 0 of 0 findings");
    t.ok(await page.locator(".note").isVisible(), "the small-fleet note is visible");
    t.match(await page.locator(".note").textContent(), /no fleet statistics/);
    t.equal(await page.locator("svg#prevalence rect.bar").count(), 0);
    await page.check("#show-suppressed");
    t.ok(await page.locator("#empty").isVisible());
  });

  await t.test("no dialog, console error, page error, CSP violation or stray request", async (t) => {
    t.same(dialogs, []);
    t.same(errors, []);
    t.same(requests, ["/", "/empty"]);
  });
});
