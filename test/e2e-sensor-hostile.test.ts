// Hostile strings in sensor log fields (a crafted HTTP host, weird addl,
// alert signature, TLS server name: all set by whoever sends the packets)
// stay harmless: exact in the JSON report, escaped and formula-guarded in
// CSV, terminal-safe in the table, shown as text in the served page in a
// real Chromium under its CSP (no dialog, no element they name, no request).
// Lines are written from Zeek's and Suricata's published formats (neither is
// packaged here); the flow is a connection record a raw stream sent.

import t from "tap";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { SECRET, startCollector } from "./lib/fleet.js";
import { collectorCli, connectionRecord, enrollRaw, openRawStream, smallBatch } from "./lib/raw-stream.js";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "reader-token-for-sensor-hostile-0123";
const SCRIPT = "<script>alert(1)</script>";
const IMG = `"><img src=x onerror=alert(2)>`;
const ESC = "\u001b[31mred\u001b]0;title\u0007";
const BIDI = "evil\u202egpj.exe";
const FORMULA = '=HYPERLINK("http://198.51.100.9/x","click")';

t.test("hostile sensor strings in JSON, CSV, table and the page", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db, { args: ["--reader-token", TOKEN] });
  const now = Date.now();
  const k = await enrollRaw(c.port, { hostId: "h1", enrollSecret: SECRET });
  const s = await openRawStream(c.port, "h1", k.key);
  t.teardown(() => s.ws.terminate());
  const b = smallBatch("h1", 1, {}, now);
  b.snapshot!.connections = [connectionRecord({ localAddress: "10.0.0.1", localPort: 40000 }, now)];
  s.sendBatch(b);
  await s.acked(1);

  const ts = (now / 1000).toFixed(6);
  // Zeek escapes non-printable bytes as \xNN in TSV; the parser turns them back into the bytes.
  const tsvEsc = ESC.replace(/[\u0000-\u001f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`);
  writeFileSync(
    join(dir, "weird.log"),
    `#separator \\x09\n#path\tweird\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tname\taddl\n${ts}\tC1\t10.0.0.1\t40000\t203.0.113.9\t443\t${SCRIPT}\t${tsvEsc}${BIDI}\n`,
  );
  const iso = new Date(now).toISOString().replace("Z", "+0000");
  writeFileSync(
    join(dir, "eve.json"),
    [
      {
        timestamp: iso,
        flow_id: 7,
        event_type: "alert",
        src_ip: "10.0.0.1",
        src_port: 40000,
        dest_ip: "203.0.113.9",
        dest_port: 443,
        proto: "TCP",
        alert: { signature: `${FORMULA} ${IMG}`, signature_id: 1, severity: 1 },
      },
      {
        timestamp: iso,
        flow_id: 7,
        event_type: "tls",
        src_ip: "10.0.0.1",
        src_port: 40000,
        dest_ip: "203.0.113.9",
        dest_port: 443,
        proto: "TCP",
        tls: { sni: `${BIDI}${SCRIPT}` },
      },
      {
        timestamp: iso,
        flow_id: 8,
        event_type: "anomaly",
        src_ip: "192.0.2.66",
        src_port: 1,
        dest_ip: "192.0.2.67",
        dest_port: 2,
        proto: "TCP",
        anomaly: { type: "applayer", event: `${IMG}${ESC}${BIDI}` },
      },
    ]
      .map((e) => JSON.stringify(e))
      .join("\n") + "\n",
  );
  const imported = await collectorCli(["sensor-import", "--db", db, join(dir, "weird.log"), join(dir, "eve.json")]);
  t.equal(imported.status, 0, imported.stderr);

  const json = JSON.parse((await collectorCli(["report", "--db", db, "--format", "json"])).stdout);
  const f = json.findings.find((x: any) => x.binary.name === "dropper");
  const ev = f.evidence.filter((e: any) => typeof e === "object");
  t.ok(
    ev.some((e: any) => e.text === `Zeek weird: ${SCRIPT} (${ESC}${BIDI})`),
    "JSON carries the exact strings",
  );
  t.ok(ev.some((e: any) => e.text.includes(FORMULA) && e.names.includes(`${BIDI}${SCRIPT}`)));
  t.ok(json.sensors.blindSpots[0].text.includes(IMG));

  for (const [what, out] of [
    ["table", (await collectorCli(["report", "--db", db])).stdout],
    ["csv", (await collectorCli(["report", "--db", db, "--format", "csv"])).stdout],
  ] as const) {
    t.notOk(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/.test(out.replace(/\r\n/g, "\n")), `${what}: no raw control or bidi character`);
    t.match(out, /\\x1b\[31mred/, `${what}: ESC shown as \\x1b`);
    t.match(out, /\\u202e/, `${what}: the bidi override shown as \\u202e`);
  }
  const csv = (await collectorCli(["report", "--db", db, "--format", "csv"])).stdout;
  t.notOk(/(^|,)"?=HYPERLINK/m.test(csv), "no CSV field starts with a formula");

  await t.test("the served page in Chromium", { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)` }, async (t) => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
    t.teardown(() => browser.close());
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("dialog", (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    const base = `http://127.0.0.1:${c.port}`;
    page.on("request", (r) => {
      if (!r.url().startsWith(`${base}/report`)) problems.push(`request ${r.url()}`);
    });
    await page.goto(`${base}/report?token=${TOKEN}`);
    await page.waitForSelector("html[data-ready=true]");
    await page.locator("tbody.finding .toggle").first().click();
    const sensorText = await page.locator(".sensor-ev").first().textContent();
    t.ok(sensorText?.includes(`Zeek weird: ${SCRIPT}`), "the weird name is shown as text");
    t.ok(sensorText?.includes(`${FORMULA} ${IMG}`), "the signature is shown as text");
    t.match(sensorText, /\\u202e/, "the bidi override is made visible");
    t.ok((await page.locator(".blind").textContent())?.includes(IMG), "the blind spot's anomaly is shown as text");
    t.equal(await page.evaluate("document.images.length"), 0, "no <img> from the strings");
    t.equal(await page.locator("script").count(), 2, "only the page's own two scripts");
    t.same(problems, []);
  });
});
