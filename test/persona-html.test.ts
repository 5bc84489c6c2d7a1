// The report page's personas section in a real Chromium, served by a real
// collector under its CSP: personas reported through the CLI with hostile
// strings in every field read back verbatim as text, nothing runs, nothing
// becomes a link or an element, and the reports and audit trail open
// without a script.

import t from "tap";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { terminalSafe } from "@oddwire/shared";
import { COLLECTOR_BIN, startCollector } from "./lib/fleet.js";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "reader-token-for-persona-page-0123";
const NAME = `<img src=x onerror=alert(1)>Jane "Doe"`;
const EMPLOYER = `</script><script>alert(2)</script>`;
const HANDLE = `@x' onmouseover='alert(3)`;
const NOTES = `<a href="javascript:alert(4)">click</a>\u202egnp.exe`;
const REASON = `<svg onload=alert(5)> took it down`;
const PROFILE = `https://social.example/in/"><script>alert(6)</script>`;

function collector(args: string[]) {
  return spawnSync(process.execPath, [COLLECTOR_BIN, ...args], { encoding: "utf8", env: { ...process.env, USER: "analyst-<b>1</b>", SUDO_USER: "" } });
}

t.test("the personas section in Chromium under the CSP", { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)` }, async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const add = collector([
    "persona",
    "add",
    "--db",
    db,
    "--platform",
    "linkedin<i>",
    "--handle",
    HANDLE,
    "--display-name",
    NAME,
    "--claimed-employer",
    EMPLOYER,
    "--profile-url",
    PROFILE,
    "--domain",
    "careers-example.test",
    "--notes",
    NOTES,
    "--created",
    new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10),
  ]);
  t.equal(add.status, 0, add.stderr);
  t.equal(collector(["persona", "add", "--db", db, "--platform", "x", "--handle", "quiet-one"]).status, 0);
  t.equal(collector(["persona", "set-state", "1", "taken-down", "--reason", REASON, "--db", db]).status, 0);

  const c = await startCollector(t, db, { args: ["--reader-token", TOKEN] });
  const base = `http://127.0.0.1:${c.port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on("dialog", (d) => {
    t.fail(`a dialog opened: ${d.message()}`);
    void d.dismiss();
  });
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("request", (r) => {
    if (!r.url().startsWith(`${base}/report`)) errors.push(`unexpected request ${r.url()}`);
  });
  await page.addInitScript("document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));");
  await page.goto(`${base}/report?token=${TOKEN}`);
  await page.waitForSelector("html[data-ready=true]");

  const section = page.locator("section#personas");
  t.ok(await section.isVisible(), "the section is shown");
  t.equal(await section.locator("h2").textContent(), "Suspected fake personas");
  t.equal(await section.locator("tbody.persona").count(), 2);
  const first = section.locator("tbody.persona").first();
  t.equal(await first.getAttribute("data-persona"), "1", "the highest score comes first");
  t.equal(await first.locator(".account .name").textContent(), NAME, "the display name reads back verbatim");
  t.equal(await first.locator(".account .mono").first().textContent(), `linkedin<i> · ${HANDLE}`);
  t.equal(await first.locator(".account .sub").textContent(), PROFILE, "the profile URL is text");
  t.match(await first.locator(".claims").textContent(), `works at ${EMPLOYER}`);
  t.equal(await first.locator(".state .chip").textContent(), "taken-down");
  t.equal(await first.locator(".state .chip").getAttribute("title"), "the platform took the account down");
  const reasons = await first.locator(".why li").allTextContents();
  t.ok(reasons.includes(`claims to work at "${EMPLOYER}"`), reasons.join(" | "));
  t.match(reasons[0], /^the account is 3 days old/);
  t.equal(await first.locator(".matches").textContent(), "no host reached its domains");

  t.equal(await first.locator("details").getAttribute("open"), null, "the trail is closed at first");
  await first.locator("details summary").click();
  t.ok(await first.locator("ul.trail").first().isVisible(), "and opens without a script");
  t.equal(await first.locator("ul.trail").first().locator("li").count(), 1);
  t.match(await first.locator("ul.trail").first().textContent(), `reported by analyst-<b>1</b> (cli): ${terminalSafe(NOTES)}`);
  t.match(await first.locator("ul.trail").nth(1).textContent(), `analyst-<b>1</b>: new → taken-down: ${REASON}`);

  const js = <T>(expr: string): Promise<T> => page.evaluate<T>(expr);
  t.equal(await js<number>("document.images.length"), 0, "no <img>");
  t.equal(await js<number>("document.querySelectorAll('#personas a, #personas script, #personas svg, #personas iframe').length"), 0, "no link, script or svg in the section");
  t.equal(await js<number>("[...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length"), 0, "no on* attribute anywhere");
  t.equal(await js<number>("document.scripts.length"), 2, "only the JSON block and the page script");
  t.equal(await js<boolean>("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), true, "no horizontal scrolling");
  const data = await js<{ personas: Array<{ displayName: string }> }>("JSON.parse(document.getElementById('report-data').textContent)");
  t.equal(data.personas[0]!.displayName, NAME, "the embedded JSON carries the personas");
  t.same(errors, [], "no errors, CSP violations or requests elsewhere");
});
