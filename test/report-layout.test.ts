// The report page's layout in a real Chromium at a phone's width (400 px)
// and a laptop's (1400 px), every drill-down open: within each finding row
// and each host row, no two cells overlap and no text spills out of its cell
// (so no two text boxes overlap), and nothing reaches past the viewport's
// right edge. Boxes are measured in the page (getBoundingClientRect, and
// Range rects for text, clipped by any ancestor that clips).

import t from "tap";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium } from "playwright-core";
import { renderReportHtml } from "oddwire-collector/report/report-html.js";
import { layoutReport, reportFinding } from "./lib/report-fixture.js";

const CHROMIUM = "/usr/bin/chromium";

// Runs in the page. Returns one line per problem found.
const MEASURE = `(() => {
  const problems = [];
  const vw = document.documentElement.clientWidth;
  const EPS = 0.5;
  const describe = (el) => el.tagName.toLowerCase() + (el.className ? "." + String(el.className).trim().split(/\\s+/).join(".") : "");
  const shown = (r) => r.width > EPS && r.height > EPS;
  const intersect = (a, b) => ({ left: Math.max(a.left, b.left), right: Math.min(a.right, b.right), top: Math.max(a.top, b.top), bottom: Math.min(a.bottom, b.bottom) });
  const area = (r) => Math.max(0, r.right - r.left - EPS) * Math.max(0, r.bottom - r.top - EPS);
  // A text box as it is seen: cut by every ancestor (up to the cell) that clips its overflow.
  function visibleTextBoxes(cell) {
    const out = [];
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const raw of range.getClientRects()) {
        let r = { left: raw.left, right: raw.right, top: raw.top, bottom: raw.bottom };
        for (let el = node.parentElement; el && el !== cell.parentElement; el = el.parentElement) {
          const cs = getComputedStyle(el);
          if (cs.overflowX !== "visible" || cs.overflowY !== "visible") r = intersect(r, el.getBoundingClientRect());
        }
        if (area(r) > 0) out.push({ r, text: node.textContent.trim().slice(0, 30) });
      }
    }
    return out;
  }
  const rows = [...document.querySelectorAll("tbody.finding:not([hidden]) > tr.main, tbody.finding:not([hidden]) table.hosts tbody.host > tr:first-child")];
  if (rows.length === 0) problems.push("no rows to measure");
  for (const row of rows) {
    const cells = [...row.children].filter((c) => shown(c.getBoundingClientRect()) && getComputedStyle(c).visibility !== "hidden");
    const boxes = cells.map((c) => ({ c, r: c.getBoundingClientRect() }));
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        if (area(intersect(boxes[i].r, boxes[j].r)) > 0) problems.push("cells overlap: " + describe(boxes[i].c) + " and " + describe(boxes[j].c) + " in " + describe(row));
      }
      for (const tb of visibleTextBoxes(boxes[i].c)) {
        const r = boxes[i].r;
        if (tb.r.left < r.left - EPS || tb.r.right > r.right + EPS) problems.push("text " + JSON.stringify(tb.text) + " spills out of " + describe(boxes[i].c) + " (" + Math.round(tb.r.left) + "-" + Math.round(tb.r.right) + " outside " + Math.round(r.left) + "-" + Math.round(r.right) + ")");
        if (tb.r.right > vw + EPS) problems.push("text " + JSON.stringify(tb.text) + " ends past the viewport at " + Math.round(tb.r.right));
      }
      if (boxes[i].r.right > vw + EPS || boxes[i].r.left < -EPS) problems.push(describe(boxes[i].c) + " reaches past the viewport (" + Math.round(boxes[i].r.left) + "-" + Math.round(boxes[i].r.right) + " of " + vw + ")");
    }
  }
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (!shown(r)) continue;
    let clipped = false;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.overflowX !== "visible" && a.getBoundingClientRect().right <= vw + EPS) { clipped = true; break; }
    }
    if (!clipped && r.right > vw + EPS) { problems.push(describe(el) + " reaches past the viewport (right " + Math.round(r.right) + " of " + vw + ")"); }
  }
  if (document.documentElement.scrollWidth > vw) problems.push("the page scrolls sideways: " + document.documentElement.scrollWidth + " > " + vw);
  return [...new Set(problems)].slice(0, 40);
})()`;

t.test("the report page lays out cleanly at 400 px and 1400 px", { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)` }, async (t) => {
  const report = layoutReport();
  const single = { ...report, findings: [reportFinding({})] };
  const server = createServer((req, res) => {
    const nonce = randomBytes(18).toString("base64");
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src data:`,
    });
    res.end(renderReportHtml(req.url === "/single" ? single : report, { nonce }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  t.teardown(() => browser.close());

  for (const width of [400, 1400]) {
    await t.test(`${width} px`, async (t) => {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      t.teardown(() => page.close());
      await page.goto(url);
      await page.waitForSelector("html[data-ready=true]");
      await page.click("#expand-all");
      await page.waitForSelector("tbody.finding.open tr.detail:not([hidden])");
      t.same(await page.evaluate<string[]>(MEASURE), [], "no overlap, no spill, nothing past the viewport");
      if (process.env["ODDWIRE_SCREENSHOTS"]) await page.screenshot({ path: `${process.env["ODDWIRE_SCREENSHOTS"]}/report-${width}.png`, fullPage: true });
    });
  }

  await t.test("the page's own count of one finding is singular", async (t) => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    t.teardown(() => page.close());
    await page.goto(`${url}single`);
    await page.waitForSelector("html[data-ready=true]");
    t.equal(await page.locator("#count").textContent(), "Showing 1 of 1 finding");
  });
});
