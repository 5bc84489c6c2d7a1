// The fleet rarity report as one self-contained HTML page: fleet summary,
// prevalence chart, client-side filters and the ranked findings with their
// drill-downs. Every string in a Report comes from agents and is hostile, so
// everything is built here as escaped text; the one inline script only filters
// and toggles, reading the data as JSON and writing nothing but textContent.
// The page needs no network: a strict nonce-only CSP fits it.

import { terminalSafe, UNSAFE_TEXT } from "@oddwire/shared";
import { countOf } from "./plural.js";
import { visibilitySentence } from "./fleet-visibility.js";
import { PERSONA_STYLE, renderPersonaSection } from "../persona/persona-html.js";
import type { Finding, Report, ReportHost, SensorEvidence } from "./report-types.js";
import { flowText, sensorSentence } from "./sensor-text.js";

export interface ReportHtmlOptions {
  /** The CSP nonce of the response; put on the <style> and both <script> elements. */
  nonce: string;
}

const HTML_SPECIAL = /[&<>"']/g;
const HTML_ENTITY: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
// The characters terminalSafe escapes: controls, line separators and bidi
// overrides. In a page they could hide text or reorder it (U+202E makes
// "exe.txt" read "txt.exe"), so they are shown as marked \xNN / \uNNNN.
const INVISIBLE = UNSAFE_TEXT;
// Characters that end or confuse an inline <script> block, and the two that ended JS strings before ES2019.
const SCRIPT_UNSAFE = /[<>&\u2028\u2029]/g;
const NONCE = /^[A-Za-z0-9+/_=-]{8,200}$/;
// Past this a command line is clamped to a few lines with a button to show all of it.
const CLAMP_CHARS = 600;

const number = new Intl.NumberFormat("en-US");

/** Escapes for HTML text and quoted attribute values alike. */
export function esc(value: unknown): string {
  return String(value ?? "").replace(HTML_SPECIAL, (c) => HTML_ENTITY[c]!);
}

/** Agent text as HTML: escaped, with invisible and reordering characters made visible. */
export function text(value: unknown): string {
  const s = String(value ?? "");
  let out = "";
  let last = 0;
  for (const m of s.matchAll(INVISIBLE)) {
    out += esc(s.slice(last, m.index!)) + `<span class="cc" title="control character">${esc(terminalSafe(m[0]))}</span>`;
    last = m.index! + m[0].length;
  }
  return out + esc(s.slice(last));
}

/** Agent text for an attribute (a tooltip): escaped, invisible characters spelled out. */
export function attr(value: unknown): string {
  return esc(terminalSafe(String(value ?? "")));
}

/** JSON that can sit inside <script type="application/json"> whatever the strings hold. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(SCRIPT_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function int(n: unknown): string {
  return typeof n === "number" && Number.isFinite(n) ? number.format(Math.round(n)) : "—";
}

/** An identifier that happens to be a number (port, pid, uid, rank, rule id): never grouped, "8443" not "8,443". */
export function ident(n: unknown): string {
  return typeof n === "number" && Number.isFinite(n) ? String(Math.round(n)) : "—";
}

export function iso(ms: unknown): string {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0) return "—";
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? "—" : d.toISOString().replace(/\.000Z$/, "Z");
}

/** A time for a narrow cell: it may break after the date ("2025-11-28T" / "23:59:58.987Z"), never inside either part. */
export function isoCell(ms: unknown): string {
  return iso(ms).replace("T", "T<wbr>");
}

function percent(share: number): string {
  const p = share * 100;
  if (p > 0 && p < 0.1) return "<0.1%";
  return `${p > 0 && p < 1 ? p.toFixed(1) : Math.round(p)}%`;
}

function scoreOf(f: Finding): number {
  const s = Number(f.score);
  return Number.isFinite(s) ? Math.min(100, Math.max(0, s)) : 0;
}

export function band(score: number): string {
  return score >= 75 ? "s-high" : score >= 50 ? "s-mid" : score >= 25 ? "s-low" : "s-min";
}

function chips(values: unknown, cls: string): string {
  const list = Array.isArray(values) ? values : [];
  return list.length === 0 ? `<span class="none">—</span>` : list.map((v) => `<span class="chip ${cls}">${text(v)}</span>`).join("");
}

function shortSha(sha: string): string {
  return sha.length > 16 ? `${sha.slice(0, 12)}…` : sha;
}

function renderHeader(report: Report): string {
  const fleet = report.fleet;
  const byOs = Object.entries(fleet.byOs ?? {})
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .map(([os, n]) => `<span class="os">${text(os)} <b>${int(n)}</b></span>`)
    .join("");
  const findings = report.findings ?? [];
  const suppressed = findings.filter((f) => f.suppressed).length;
  const filters = Object.entries(report.filters ?? {});
  const small = fleet.smallFleet
    ? `<p class="note" role="note"><b>Small fleet.</b> With 5 hosts or fewer there are no fleet statistics: nothing is rare or common yet, and the scores rest on oddwire's built-in knowledge of what each binary should be talking.</p>`
    : "";
  return `<header class="top">
  <div class="title"><h1><span class="brand">oddwire</span> — fleet rarity report</h1>
  <p class="generated">Generated <time>${text(report.generatedAt)}</time></p></div>
  <dl class="stats">
    <div><dt>Hosts</dt><dd>${int(fleet.hosts)}</dd><dd class="sub">${byOs || "—"}</dd></div>
    <div><dt>Binaries</dt><dd>${int(fleet.binaries)}</dd></div>
    <div><dt>Observations</dt><dd>${int(fleet.observations)}</dd></div>
    <div><dt>Findings</dt><dd>${int(findings.length)}</dd><dd class="sub">${suppressed > 0 ? `${int(suppressed)} suppressed` : "none suppressed"}</dd></div>
  </dl>
  ${small}
  ${renderVisibility(report)}
  ${filters.length > 0 ? `<p class="report-filters">Report filters: ${filters.map(([k, v]) => `<code>${text(k)}=${text(v)}</code>`).join(" ")}</p>` : ""}
</header>`;
}

/** One line on where the fleet is blind to short connections (every reason is agent text). */
function renderVisibility(report: Report): string {
  const line = visibilitySentence(report.visibility);
  if (!line) return "";
  const v = report.visibility!;
  const blind = v.hostsSnapshotsOnly + v.hostsUnknown > 0;
  return `<p class="note visibility" role="note"><b>${blind ? "Blind spots." : "Connection events."}</b> ${text(line.charAt(0).toUpperCase() + line.slice(1))}.</p>`;
}

/** A server-side SVG bar chart of report.prevalence; log-scaled when the counts span orders of magnitude. */
function renderPrevalence(prevalence: Report["prevalence"]): string {
  const buckets = Array.isArray(prevalence) ? prevalence : [];
  const W = 1000;
  const H = 220;
  const m = { l: 56, r: 12, t: 18, b: 46 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const counts = buckets.map((b) => (typeof b.groups === "number" && Number.isFinite(b.groups) && b.groups > 0 ? b.groups : 0));
  const max = Math.max(0, ...counts);
  const minPositive = Math.min(...counts.filter((c) => c > 0));
  const log = max >= 100 && max / minPositive >= 20;
  let top: number;
  let ticks: number[];
  let y: (v: number) => number;
  if (log) {
    top = 10 ** Math.ceil(Math.log10(max));
    ticks = [];
    for (let v = 1; v <= top; v *= 10) ticks.push(v);
    y = (v) => ph - (Math.log10(1 + v) / Math.log10(1 + top)) * ph;
  } else {
    const raw = Math.max(1, max) / 4;
    const mag = 10 ** Math.floor(Math.log10(raw));
    // Counts are whole numbers: no tick below 1.
    const step = Math.max(1, [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw);
    top = Math.max(step, Math.ceil(Math.max(1, max) / step) * step);
    ticks = [];
    for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
    y = (v) => ph - (v / top) * ph;
  }
  const n = Math.max(1, buckets.length);
  const slot = pw / n;
  const gap = Math.min(6, slot * 0.2);
  const labelEvery = n > 20 ? Math.ceil(n / 10) : n > 12 ? 2 : 1;
  const grid = ticks
    .map((v) => {
      const ty = (m.t + y(v)).toFixed(1);
      return `<line class="grid" x1="${m.l}" x2="${W - m.r}" y1="${ty}" y2="${ty}"/><text class="tick" x="${m.l - 6}" y="${ty}" dy="0.32em" text-anchor="end">${int(v)}</text>`;
    })
    .join("");
  const bars = buckets
    .map((b, i) => {
      const c = counts[i]!;
      const x = m.l + i * slot + gap / 2;
      const by = m.t + y(c);
      const h = m.t + ph - by;
      const range = `${percent(Number(b.from) || 0)}–${percent(Number(b.to) || 0)}`;
      const label = c > 0 && n <= 24 ? `<text class="count" x="${(x + (slot - gap) / 2).toFixed(1)}" y="${(by - 4).toFixed(1)}" text-anchor="middle">${int(c)}</text>` : "";
      const xl = i % labelEvery === 0 ? `<text class="tick" x="${(x + (slot - gap) / 2).toFixed(1)}" y="${m.t + ph + 15}" text-anchor="middle">${esc(range)}</text>` : "";
      return `<g><rect class="bar" x="${x.toFixed(1)}" y="${by.toFixed(1)}" width="${(slot - gap).toFixed(1)}" height="${Math.max(0, h).toFixed(1)}"><title>${esc(range)} of the binary's hosts: ${int(c)} observation group${c === 1 ? "" : "s"}</title></rect>${label}${xl}</g>`;
    })
    .join("");
  const empty = buckets.length === 0 ? `<text class="tick" x="${m.l + pw / 2}" y="${m.t + ph / 2}" text-anchor="middle">No observations yet.</text>` : "";
  return `<section class="panel prevalence" aria-labelledby="prev-h">
  <div><h2 id="prev-h">Prevalence across the fleet</h2>
  <p class="hint">How many observation groups (a binary speaking a protocol) fall in each band of “share of that binary's hosts that show it”.</p>
  <p class="hint">The left end is behaviour only a few of a binary's hosts show: the rarity the scores rank highest.${log ? " Counts are on a log scale." : ""}</p></div>
  <svg id="prevalence" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="prev-t" preserveAspectRatio="xMinYMin meet">
    <title id="prev-t">Observation groups by share of the binary's hosts${log ? " (log scale)" : ""}</title>
    ${grid}
    <line class="axis" x1="${m.l}" x2="${W - m.r}" y1="${m.t + ph}" y2="${m.t + ph}"/>
    ${bars}${empty}
    <text class="axis-label" x="${m.l + pw / 2}" y="${H - 6}" text-anchor="middle">share of the binary's hosts that show the behaviour</text>
    <text class="axis-label" transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">observation groups${log ? " (log)" : ""}</text>
  </svg>
</section>`;
}

function renderFilters(findings: Finding[]): string {
  const protocols = new Map<string, number>();
  const tags = new Map<string, number>();
  for (const f of findings) {
    const p = String(f.protocol ?? "");
    protocols.set(p, (protocols.get(p) ?? 0) + 1);
    for (const tag of new Set((Array.isArray(f.tags) ? f.tags : []).map(String))) tags.set(tag, (tags.get(tag) ?? 0) + 1);
  }
  // Values carry a "=" prefix so that an empty or odd protocol never collides with "all".
  const options = (all: string, m: Map<string, number>): string =>
    `<option value="">${all}</option>` +
    [...m.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([v, c]) => `<option value="=${esc(v)}">${attr(v === "" ? "(none)" : v)} (${int(c)})</option>`)
      .join("");
  return `<form class="filters" id="filters" role="search" aria-label="Filter findings">
  <label class="search"><span>Search</span><input type="search" id="q" placeholder="binary, path, protocol, host, command line…" autocomplete="off" spellcheck="false"></label>
  <label class="range"><span>Min score <output id="min-score-value" for="min-score">0</output></span><input type="range" id="min-score" min="0" max="100" step="1" value="0"></label>
  <label><span>Protocol</span><select id="protocol">${options("All protocols", protocols)}</select></label>
  <label><span>Tag</span><select id="tag">${options("All tags", tags)}</select></label>
  <label class="check"><input type="checkbox" id="show-suppressed"> Show suppressed</label>
  <span class="actions"><button type="button" id="expand-all">Expand all</button><button type="button" id="collapse-all">Collapse all</button><button type="reset" id="reset">Reset</button></span>
</form>`;
}

function renderHost(h: ReportHost, key: string): string {
  const cmd = String(h.cmdline ?? "");
  const ports = Array.isArray(h.ports) && h.ports.length > 0 ? h.ports.map((p) => ident(p)).join(", ") : "—";
  const clamp = cmd.length > CLAMP_CHARS ? `<button type="button" class="more" aria-controls="${key}" aria-expanded="false">Show all ${int(cmd.length)} characters</button>` : "";
  return `<tbody class="host">
<tr><td class="mono strong" data-label="Hostname"${h.platform ? ` title="${attr(h.platform)}"` : ""}>${text(h.hostname)}</td><td class="mono" data-label="Host ID">${text(h.hostId)}</td><td class="num" data-label="PID">${Number(h.pid) > 0 ? ident(h.pid) : `<span class="none" title="the process is gone">gone</span>`}</td><td class="mono" data-label="User">${text(h.user) || `<span class="none">—</span>`}</td><td class="mono" data-label="Ancestry">${text(h.ancestry) || `<span class="none">—</span>`}</td><td class="mono time" data-label="First seen">${isoCell(h.firstSeenMs)}</td><td class="mono time" data-label="Last seen">${isoCell(h.lastSeenMs)}</td><td class="mono" data-label="Ports">${ports}</td></tr>
<tr class="cmdrow"><td colspan="8"><pre class="cmd${cmd.length > CLAMP_CHARS ? " clamped" : ""}" id="${key}">${cmd === "" ? `<span class="none">${Number(h.pid) > 0 ? "(no command line)" : "(the process behind this finding has exited)"}</span>` : text(cmd)}</pre>${clamp}</td></tr>
</tbody>`;
}

function renderDetail(f: Finding, i: number): string {
  const reasons = Array.isArray(f.reasons) ? f.reasons : [];
  const hosts = Array.isArray(f.hosts) ? f.hosts : [];
  const s = f.suppressed;
  const suppression = s
    ? `<div class="suppression"><h4>Suppressed</h4><p>${text(s.reason)}</p><p class="sub">by ${text(s.by)} · ${iso(s.createdAtMs)} · ${s.expiresAtMs === null ? "never expires" : `expires ${iso(s.expiresAtMs)}`} · suppression #${ident(s.id)}</p></div>`
    : "";
  return `<tr class="detail" id="d-${i}" hidden><td colspan="7"><div class="drill">
  <div class="facts">
    <div><h4>Reasons</h4>${reasons.length > 0 ? `<ol class="reasons">${reasons.map((r) => `<li>${text(r)}</li>`).join("")}</ol>` : `<p class="none">—</p>`}</div>
    <div><h4>Evidence</h4><p>${chips(
      (Array.isArray(f.evidence) ? f.evidence : []).filter((e) => typeof e === "string"),
      "ev",
    )}</p>
      ${renderSensorEvidence(f)}
      <h4>Seen</h4><p class="mono">${iso(f.firstSeenMs)} → ${iso(f.lastSeenMs)}</p>
      <h4>Binary</h4><p class="mono wrap">${text(f.binary?.path)}</p><p class="mono wrap sub">sha256 ${text(f.binary?.sha256)}</p>
      ${f.beacon ? `<h4>Beacon</h4><p class="mono">every ${int(f.beacon.intervalMs)} ms ± ${int(f.beacon.jitterMs)} ms, ${int(f.beacon.count)} connections over ${int(f.beacon.spanMs)} ms to ${text(f.beacon.destination)}</p>` : ""}</div>
    ${suppression}
  </div>
  <h4>Hosts (${int(hosts.length)})</h4>
  <table class="hosts">
    <colgroup><col class="c-hn"><col class="c-hid"><col class="c-pid"><col class="c-user"><col class="c-anc"><col class="c-t"><col class="c-t"><col class="c-ports"></colgroup>
    <thead><tr><th>Hostname</th><th>Host ID</th><th class="num">PID</th><th>User</th><th>Ancestry</th><th>First seen</th><th>Last seen</th><th>Ports</th></tr></thead>
    ${hosts.length > 0 ? hosts.map((h, j) => renderHost(h, `cmd-${i}-${j}`)).join("\n") : `<tbody><tr><td colspan="8" class="none">No hosts recorded.</td></tr></tbody>`}
  </table>
</div></td></tr>`;
}

/** The network sensors' evidence on a finding: what each said, about which flow, joined how (every field is sensor text). */
function renderSensorEvidence(f: Finding): string {
  const list = (Array.isArray(f.evidence) ? f.evidence : []).filter((e): e is SensorEvidence => typeof e === "object" && e !== null);
  if (list.length === 0) return "";
  return `<h4>Network sensors</h4><ul class="sensor-ev">${list
    .map(
      (e) =>
        `<li><b>${text(e.text)}</b><div class="sub mono">${text(flowText(e.flow ?? {}))} · ${iso(e.atMs)} · ${text(e.hostname || e.hostId)} pid ${ident(e.pid)} (${text(e.side)}) · joined by ${text(e.join)}, ${text(e.confidence)} confidence${Array.isArray(e.names) && e.names.length > 0 ? ` · names ${e.names.map((n) => text(n)).join(", ")}` : ""}</div></li>`,
    )
    .join("")}</ul>`;
}

/** Sensor anomalies no agent stands behind, with their addresses: the fleet's blind spot. */
function renderBlindSpots(report: Report): string {
  const s = report.sensors;
  if (!s) return "";
  const rows = Array.isArray(s.blindSpots) ? s.blindSpots : [];
  return `<section class="panel blind-spots" aria-labelledby="blind-h">
  <h2 id="blind-h">Network sensor anomalies with no agent behind them</h2>
  <p class="sub">${text(sensorSentence(s))}.</p>
  ${
    rows.length === 0
      ? `<p class="none">None: every sensor anomaly was joined to a process.</p>`
      : `<table class="blind"><thead><tr><th>Sensor</th><th>What</th><th>Flow</th><th>When</th><th>Why unmatched</th></tr></thead><tbody>${rows
          .map(
            (b) =>
              `<tr><td>${text(b.source)}</td><td>${text(b.text)}</td><td class="mono">${text(flowText(b))}</td><td class="mono time">${isoCell(b.atMs)}</td><td><b>${text(b.reason)}</b><div class="sub">${text(b.detail)}</div></td></tr>`,
          )
          .join("")}</tbody></table>${s.unmatched > rows.length ? `<p class="sub">${int(s.unmatched - rows.length)} more not listed.</p>` : ""}`
  }
</section>`;
}

function renderFinding(f: Finding, i: number): string {
  const score = scoreOf(f);
  const sha = String(f.binary?.sha256 ?? "");
  const hostShare = Number(f.binaryHostCount) > 0 ? Number(f.hostCount) / Number(f.binaryHostCount) : NaN;
  const reasons = Array.isArray(f.reasons) ? f.reasons : [];
  const s = f.suppressed;
  const hidden = s ? " hidden" : "";
  const fill = ((score / 100) * 56).toFixed(1);
  return `<tbody class="finding${s ? " suppressed" : ""}" data-i="${i}"${hidden}>
<tr class="main">
  <td class="rank"><button type="button" class="toggle" aria-expanded="false" aria-controls="d-${i}" aria-label="Details of finding ${ident(f.rank)}"><span aria-hidden="true">▸</span></button><span class="rank-n">${ident(f.rank)}</span></td>
  <td class="score"><span class="score-n ${band(score)}">${int(score)}</span><svg class="sbar" width="56" height="6" viewBox="0 0 56 6" aria-hidden="true"><rect class="track" width="56" height="6" rx="3"/><rect class="fill ${band(score)}" width="${fill}" height="6" rx="3"/></svg></td>
  <td class="bin"><div class="name">${text(f.binary?.name)}</div><div class="path mono">${text(f.binary?.path)}</div><div class="sha mono" title="sha256 ${attr(sha)}">${text(shortSha(sha))}</div></td>
  <td class="proto"><div><b>${text(f.protocol)}</b> <span class="sub">/ ${text(f.transport)}</span></div><div class="sub">${text(f.direction)} · port ${ident(f.port)}</div><div class="sub port-class">${text(f.portClass)}</div>${wireCell(f)}</td>
  <td class="hosts-n"><b>${int(f.hostCount)}</b> <span class="sub">/ ${int(f.binaryHostCount)}</span>${Number.isFinite(hostShare) ? `<div class="sub">${percent(hostShare)} of its hosts</div>` : ""}</td>
  <td class="tags">${chips(f.tags, "tag")}</td>
  <td class="why">${reasons.length > 0 ? `<div class="reason">${text(reasons[0])}</div>` : `<span class="none">—</span>`}${reasons.length > 1 ? `<div class="sub">+${int(reasons.length - 1)} more</div>` : ""}${s ? `<div class="supp-note"><b>Suppressed:</b> ${text(s.reason)} <span class="sub">(${text(s.by)})</span></div>` : ""}</td>
</tr>
${renderDetail(f, i)}
</tbody>`;
}

export function renderReportHtml(report: Report, opts: ReportHtmlOptions): string {
  if (!NONCE.test(opts.nonce)) throw new TypeError(`The CSP nonce must be 8 to 200 base64 characters, got ${JSON.stringify(opts.nonce)}`);
  const nonce = esc(opts.nonce);
  const findings = Array.isArray(report.findings) ? report.findings : [];
  // Rendered by rank; data-i keeps the index into report.findings, which the script filters on.
  const order = findings.map((f, i) => ({ f, i })).sort((a, b) => (Number(a.f.rank) || Infinity) - (Number(b.f.rank) || Infinity) || scoreOf(b.f) - scoreOf(a.f) || a.i - b.i);
  const visible = findings.filter((f) => !f.suppressed).length;
  const suppressed = findings.length - visible;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>oddwire — fleet rarity report</title>
<style nonce="${nonce}">${STYLE}${PERSONA_STYLE}</style>
</head>
<body>
<main>
${renderHeader(report)}
${renderPrevalence(report.prevalence)}
<section class="panel findings" aria-labelledby="findings-h">
  <div class="findings-head"><h2 id="findings-h">Findings</h2><p id="count" class="count" aria-live="polite">Showing ${int(visible)} of ${countOf(findings.length, "finding", int(findings.length))}${suppressed > 0 ? ` (${int(suppressed)} suppressed hidden)` : ""}</p></div>
  ${renderFilters(findings)}
  <table class="ranked">
    <colgroup><col class="c-rank"><col class="c-score"><col class="c-bin"><col class="c-proto"><col class="c-hosts"><col class="c-tags"><col class="c-why"></colgroup>
    <thead><tr><th>#</th><th>Score</th><th>Binary</th><th>Protocol</th><th>Hosts</th><th>Tags</th><th>Why</th></tr></thead>
    ${order.map(({ f, i }) => renderFinding(f, i)).join("\n")}
    <tbody id="empty"${visible > 0 ? " hidden" : ""}><tr><td colspan="7" class="empty">No findings match.</td></tr></tbody>
  </table>
</section>
${renderBlindSpots(report)}
${renderPersonaSection(report.personas)}
<footer>Every name, path, command line and reason on this page was reported by agents and is shown as text; control and bidi characters appear as <span class="cc">\\xNN</span> / <span class="cc">\\uNNNN</span>.</footer>
</main>
<script type="application/json" id="report-data" nonce="${nonce}">${scriptJson(report)}</script>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}

// Filters and drill-downs. Reads the report from the JSON block; only ever sets
// textContent, `hidden`, classes and aria attributes, never markup.
const SCRIPT = `
(function () {
  "use strict";
  var report = JSON.parse(document.getElementById("report-data").textContent || "{}");
  var findings = Array.isArray(report.findings) ? report.findings : [];
  function str(v) { return v === null || v === undefined ? "" : String(v); }
  function byId(id) { return document.getElementById(id); }
  var haystacks = findings.map(function (f) {
    var b = f.binary || {};
    var parts = [b.name, b.path, b.sha256, f.protocol, f.wireProtocol, f.transport, f.direction, f.port].concat(Array.isArray(f.destinationNames) ? f.destinationNames : [], Array.isArray(f.risks) ? f.risks : []);
    (Array.isArray(f.hosts) ? f.hosts : []).forEach(function (h) { parts.push(h.hostname, h.hostId, h.cmdline, h.user, h.ancestry); });
    return parts.map(str).join("\\n").toLowerCase();
  });
  var q = byId("q"), min = byId("min-score"), minOut = byId("min-score-value"), proto = byId("protocol"),
    tag = byId("tag"), showSup = byId("show-suppressed"), count = byId("count"), empty = byId("empty");
  var groups = Array.prototype.slice.call(document.querySelectorAll("tbody.finding"));
  var number = new Intl.NumberFormat("en-US");

  function apply() {
    var terms = q.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var minScore = Number(min.value) || 0;
    var p = proto.value, t = tag.value, sup = showSup.checked;
    var shown = 0, hiddenSuppressed = 0;
    minOut.textContent = String(minScore);
    groups.forEach(function (g) {
      var i = Number(g.getAttribute("data-i")), f = findings[i];
      var ok = !!f && Number(f.score) >= minScore &&
        (p === "" || "=" + str(f.protocol) === p) &&
        (t === "" || (Array.isArray(f.tags) ? f.tags : []).some(function (x) { return "=" + str(x) === t; })) &&
        terms.every(function (term) { return haystacks[i].indexOf(term) >= 0; });
      if (ok && f.suppressed && !sup) { ok = false; hiddenSuppressed++; }
      g.hidden = !ok;
      if (ok) shown++;
    });
    empty.hidden = shown > 0;
    count.textContent = "Showing " + number.format(shown) + " of " + number.format(findings.length) + (findings.length === 1 ? " finding" : " findings") +
      (hiddenSuppressed > 0 ? " (" + number.format(hiddenSuppressed) + " suppressed hidden)" : "");
  }

  function setOpen(g, open) {
    var button = g.querySelector("button.toggle"), detail = g.querySelector("tr.detail");
    if (!button || !detail) return;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    detail.hidden = !open;
    g.classList.toggle("open", open);
  }

  document.addEventListener("click", function (e) {
    var target = e.target;
    if (!(target instanceof Element)) return;
    var more = target.closest("button.more");
    if (more) {
      var pre = byId(more.getAttribute("aria-controls"));
      if (!more.hasAttribute("data-label")) more.setAttribute("data-label", more.textContent);
      var full = pre.classList.toggle("full");
      more.setAttribute("aria-expanded", full ? "true" : "false");
      more.textContent = full ? "Clamp" : more.getAttribute("data-label");
      return;
    }
    var toggle = target.closest("button.toggle");
    var row = toggle || target.closest("tr.main");
    if (!row) return;
    // A click on the row toggles too, unless it ends a text selection.
    if (!toggle && String(window.getSelection() || "") !== "") return;
    var g = row.closest("tbody.finding");
    if (g) setOpen(g, !g.classList.contains("open"));
  });

  [q, min].forEach(function (el) { el.addEventListener("input", apply); });
  [proto, tag, showSup].forEach(function (el) { el.addEventListener("change", apply); });
  byId("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  byId("filters").addEventListener("reset", function () { setTimeout(apply, 0); });
  byId("expand-all").addEventListener("click", function () { groups.forEach(function (g) { if (!g.hidden) setOpen(g, true); }); });
  byId("collapse-all").addEventListener("click", function () { groups.forEach(function (g) { setOpen(g, false); }); });
  apply();
  document.documentElement.setAttribute("data-ready", "true");
})();
`;

const STYLE = `
:root {
  --bg: #f4f5f7; --panel: #fff; --fg: #1c2128; --muted: #5f6b7a; --line: #dfe3e8; --line2: #eef0f3;
  --accent: #2f5fd0; --chip: #eef2fb; --chip-fg: #2a3f73; --ev: #eef7f1; --ev-fg: #1f5a35;
  --high: #c0392b; --mid: #d9731a; --low: #c9a227; --min: #8a96a3; --track: #e6e9ee;
  --note: #fff7e0; --note-line: #f0c96a; --sup: #f6f0ff; --cc: #fde8e8; --cc-fg: #a3201b; --code: #f6f8fa;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418; --panel: #1a1e24; --fg: #e3e7ec; --muted: #94a0ae; --line: #2c333c; --line2: #232931;
    --accent: #7aa2ff; --chip: #243152; --chip-fg: #c9d7ff; --ev: #1d3527; --ev-fg: #a9dfbb;
    --track: #2c333c; --note: #3a3017; --note-line: #7d6420; --sup: #2a2338; --cc: #4a1f1f; --cc-fg: #ffb4ae; --code: #14181d;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1480px; margin: 0 auto; padding: 18px 20px 28px; }
h1 { font-size: 20px; margin: 0; font-weight: 600; letter-spacing: -0.01em; }
h1 .brand { color: var(--accent); font-weight: 700; }
h2 { font-size: 15px; margin: 0 0 4px; font-weight: 600; }
h4 { font-size: 11px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 10px 0 4px; font-weight: 600; }
p { margin: 0; }
b { font-weight: 600; }
.mono, code, pre { font-family: var(--mono); font-size: 12px; }
.sub { color: var(--muted); font-size: 12px; }
.none { color: var(--muted); }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.nowrap { white-space: nowrap; }
.wrap { overflow-wrap: anywhere; }
/* Agent text never reorders its neighbours, whatever direction it is written in. */
td, dd, li, .chip, pre, option, p { unicode-bidi: isolate; }
.cc { background: var(--cc); color: var(--cc-fg); border-radius: 3px; padding: 0 2px; font-family: var(--mono); font-size: 0.92em; }
.top { display: grid; grid-template-columns: 1fr auto; gap: 12px 24px; align-items: start; margin-bottom: 14px; }
.title .generated { color: var(--muted); margin-top: 2px; }
.stats { display: flex; gap: 10px; margin: 0; flex-wrap: wrap; justify-content: flex-end; }
.stats > div { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 120px; }
.stats dt { font-size: 11px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); }
.stats dd { margin: 0; font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.stats dd.sub { font-size: 12px; font-weight: 400; }
.stats .os { margin-right: 8px; white-space: nowrap; }
.note { grid-column: 1 / -1; background: var(--note); border: 1px solid var(--note-line); border-radius: 8px; padding: 9px 12px; }
.report-filters { grid-column: 1 / -1; color: var(--muted); }
.report-filters code { background: var(--code); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; margin-right: 4px; overflow-wrap: anywhere; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin-bottom: 14px; }
.hint { color: var(--muted); margin-top: 6px; }
.prevalence { display: grid; grid-template-columns: minmax(180px, 260px) minmax(0, 1fr); gap: 8px 28px; align-items: start; }
.chart { display: block; width: 100%; max-width: 1000px; height: auto; }
.chart .bar { fill: var(--accent); }
.chart .bar:hover { opacity: 0.8; }
.chart .grid { stroke: var(--line2); stroke-width: 1; }
.chart .axis { stroke: var(--muted); stroke-width: 1; }
.chart text { fill: var(--muted); font-size: 11px; font-family: inherit; }
.chart .count { fill: var(--fg); font-size: 10.5px; font-variant-numeric: tabular-nums; }
.chart .axis-label { font-size: 11.5px; }
.findings-head { display: flex; align-items: baseline; gap: 14px; }
.count { color: var(--muted); }
.filters { display: flex; flex-wrap: wrap; align-items: flex-end; gap: 10px 16px; padding: 10px 0 12px; border-bottom: 1px solid var(--line); }
.filters label { display: flex; flex-direction: column; gap: 3px; font-size: 11px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); }
.filters label.check { flex-direction: row; align-items: center; gap: 6px; text-transform: none; letter-spacing: 0; font-size: 13px; color: var(--fg); padding-bottom: 5px; }
.filters .search { flex: 1 1 300px; }
.filters input[type=search], .filters select { font: inherit; font-size: 13px; color: var(--fg); background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 5px 8px; min-width: 0; max-width: 260px; }
.filters input[type=search] { max-width: none; width: 100%; }
.filters input[type=range] { width: 160px; accent-color: var(--accent); margin: 6px 0 5px; }
.filters output { color: var(--fg); font-weight: 600; font-variant-numeric: tabular-nums; }
.actions { display: flex; gap: 6px; padding-bottom: 2px; margin-left: auto; }
button { font: inherit; font-size: 12px; color: var(--fg); background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; cursor: pointer; }
button:hover { border-color: var(--accent); }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
table { border-collapse: collapse; width: 100%; }
.ranked { table-layout: fixed; }
.ranked col.c-rank { width: 64px; } .ranked col.c-score { width: 96px; } .ranked col.c-bin { width: 24%; }
.ranked col.c-proto { width: 150px; } .ranked col.c-hosts { width: 110px; } .ranked col.c-tags { width: 15%; }
th { text-align: left; font-size: 11px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); font-weight: 600; padding: 8px 8px 6px; border-bottom: 1px solid var(--line); }
.ranked > tbody > tr.main > td { padding: 8px; vertical-align: top; border-bottom: 1px solid var(--line2); overflow-wrap: anywhere; }
tr.main { cursor: pointer; }
tr.main:hover > td { background: color-mix(in srgb, var(--accent) 5%, transparent); }
tbody.finding.open > tr.main > td { background: color-mix(in srgb, var(--accent) 8%, transparent); border-bottom-color: transparent; }
tbody.suppressed > tr.main > td { opacity: 0.55; }
tbody.suppressed > tr.main > td.why { opacity: 1; }
tbody.suppressed > tr.main > td.why > :not(.supp-note) { opacity: 0.55; }
.supp-note { margin-top: 4px; background: var(--sup); border-radius: 4px; padding: 2px 6px; font-size: 12px; }
td.rank { white-space: nowrap; }
.rank-n { font-variant-numeric: tabular-nums; font-weight: 600; margin-left: 6px; }
.toggle { width: 22px; height: 22px; padding: 0; line-height: 20px; text-align: center; color: var(--muted); }
.toggle span { display: inline-block; transition: transform 0.12s; }
.toggle[aria-expanded=true] span { transform: rotate(90deg); }
.score-n { display: inline-block; min-width: 26px; font-weight: 700; font-variant-numeric: tabular-nums; }
.sbar { vertical-align: middle; margin-left: 4px; }
.sbar .track { fill: var(--track); }
.fill.s-high { fill: var(--high); } .fill.s-mid { fill: var(--mid); } .fill.s-low { fill: var(--low); } .fill.s-min { fill: var(--min); }
.score-n.s-high { color: var(--high); } .score-n.s-mid { color: var(--mid); } .score-n.s-low { color: var(--low); } .score-n.s-min { color: var(--min); }
.bin .name { font-weight: 600; font-size: 13.5px; }
.bin .path { color: var(--muted); display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.bin .sha { color: var(--muted); font-size: 11px; }
.port-class { font-size: 11px; }
.chip { display: inline-block; max-width: 100%; background: var(--chip); color: var(--chip-fg); border-radius: 10px; padding: 0 7px; margin: 0 4px 3px 0; font-family: var(--mono); font-size: 11px; line-height: 18px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; vertical-align: top; }
.chip.ev { background: var(--ev); color: var(--ev-fg); }
.why .reason { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden; }
tr.detail > td { padding: 0 8px 14px 8px; border-bottom: 1px solid var(--line); background: color-mix(in srgb, var(--accent) 3%, transparent); }
.drill { padding: 4px 4px 0 36px; }
.facts { display: grid; grid-template-columns: minmax(0, 1.4fr) minmax(0, 1fr) minmax(0, 1fr); gap: 0 24px; }
.facts p { overflow-wrap: anywhere; }
.reasons { margin: 0; padding-left: 18px; overflow-wrap: anywhere; }
.reasons li { margin-bottom: 2px; }
.suppression { background: var(--sup); border-radius: 8px; padding: 0 12px 10px; overflow-wrap: anywhere; }
table.hosts { table-layout: fixed; margin-top: 2px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
table.hosts col.c-hn { width: 14%; } table.hosts col.c-hid { width: 12%; } table.hosts col.c-pid { width: 84px; }
/* Wide enough for a time with milliseconds in most monospace fonts; one that is wider breaks after the date instead of spilling. */
table.hosts col.c-user { width: 9%; } table.hosts col.c-t { width: 192px; } table.hosts col.c-ports { width: 9%; }
table.hosts th { padding: 6px 8px; }
table.hosts td { padding: 6px 8px 2px; vertical-align: top; overflow-wrap: anywhere; }
table.hosts tbody.host { border-top: 1px solid var(--line2); }
td.strong { font-weight: 600; }
ul.sensor-ev { margin: 0 0 8px; padding-left: 18px; overflow-wrap: anywhere; }
ul.sensor-ev li { margin-bottom: 4px; }
table.blind th, table.blind td { padding: 6px 8px; text-align: left; vertical-align: top; overflow-wrap: anywhere; border-top: 1px solid var(--line2); }
tr.cmdrow > td { padding: 0 8px 8px; }
pre.cmd { margin: 0; padding: 6px 8px; background: var(--code); border: 1px solid var(--line2); border-radius: 5px; white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-all; max-height: 40vh; overflow: auto; }
pre.cmd.clamped { max-height: 6.2em; overflow: hidden; }
pre.cmd.clamped.full { max-height: 60vh; overflow: auto; }
button.more { margin-top: 4px; font-size: 11px; padding: 2px 8px; }
td.empty { padding: 28px 8px; text-align: center; color: var(--muted); font-size: 14px; }
footer { color: var(--muted); font-size: 12px; padding: 4px 2px; }
@media (max-width: 1100px) {
  table.hosts col.c-hn { width: 16%; } table.hosts col.c-t { width: 13%; } table.hosts col.c-ports { width: 10%; }
}
@media (max-width: 900px) {
  .top { grid-template-columns: minmax(0, 1fr); } .stats { justify-content: flex-start; }
  .facts, .prevalence { grid-template-columns: minmax(0, 1fr); } .drill { padding-left: 0; }
  .ranked col.c-tags { width: 0; } .ranked th:nth-child(6), .ranked td.tags { display: none; }
}
/* Phones and narrow windows: each finding, and each host of a drill-down, becomes a card of labelled fields instead of a table row. */
@media (max-width: 760px) {
  main { padding: 12px 8px 20px; }
  .panel { padding: 10px; }
  h1 { font-size: 18px; }
  .stats > div { min-width: 0; flex: 1 1 40%; padding: 6px 10px; }
  .stats .os { display: inline-block; }
  .findings-head { flex-wrap: wrap; }
  .filters .search { flex-basis: 100%; }
  .filters input[type=range] { width: 100%; }
  .filters label.range { flex: 1 1 40%; }
  .filters select { max-width: 100%; }
  .actions { margin-left: 0; flex-wrap: wrap; }
  .ranked, .ranked > tbody, .ranked > tbody > tr, .ranked > tbody > tr > td, tr.detail > td { display: block; width: auto; }
  .ranked > colgroup, .ranked > thead { display: none; }
  .ranked > tbody > tr.main { display: grid; grid-template-columns: auto minmax(0, 1fr); grid-template-areas: "rank score" "bin bin" "proto hosts" "tags tags" "why why"; gap: 2px 10px; padding: 8px 2px; border-bottom: 1px solid var(--line2); }
  .ranked > tbody > tr.main > td { padding: 0; border-bottom: 0; min-width: 0; }
  tbody.finding.open > tr.main { background: color-mix(in srgb, var(--accent) 8%, transparent); }
  tbody.finding.open > tr.main > td, tr.main:hover > td { background: none; }
  .ranked > tbody > tr.main > td.rank { grid-area: rank; } .ranked > tbody > tr.main > td.score { grid-area: score; align-self: center; }
  .ranked > tbody > tr.main > td.bin { grid-area: bin; } .ranked > tbody > tr.main > td.proto { grid-area: proto; }
  .ranked > tbody > tr.main > td.hosts-n { grid-area: hosts; } .ranked > tbody > tr.main > td.why { grid-area: why; }
  .ranked > tbody > tr.main > td.tags { grid-area: tags; display: block; }
  .ranked > tbody > tr.main > td.tags:has(> .none) { display: none; }
  tr.detail > td { padding: 0 2px 12px; }
  table.hosts, table.hosts > tbody, table.hosts > tbody > tr, table.hosts > tbody > tr > td { display: block; width: auto; }
  table.hosts > colgroup, table.hosts > thead { display: none; }
  table.hosts > tbody.host > tr:first-child { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 4px 10px; padding: 6px 8px 4px; }
  table.hosts > tbody.host > tr:first-child > td { padding: 0; text-align: left; }
  table.hosts > tbody.host > tr:first-child > td.mono.strong, table.hosts > tbody.host > tr:first-child > td[data-label=Ancestry] { grid-column: 1 / -1; }
  table.hosts td[data-label]::before { content: attr(data-label); display: block; font-family: system-ui, sans-serif; font-size: 10.5px; font-weight: 400; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); }
  tr.cmdrow > td { padding: 0 8px 8px; }
}
@media print { tr.detail[hidden] { display: none; } .filters { display: none; } }
`;

/** "port says / wire says", the engine's risks and the destination names, where the agent identified the traffic (--dpi). */
function wireCell(f: Finding): string {
  const wire = String(f.wireProtocol ?? "");
  const risks = Array.isArray(f.risks) ? f.risks : [];
  const names = Array.isArray(f.destinationNames) ? f.destinationNames : [];
  if (!wire && risks.length === 0 && names.length === 0) return "";
  const says = `<div class="sub wire">port says <b>${text(f.protocol)}</b> / wire says <b>${wire ? text(wire) : "unidentified"}</b></div>`;
  const risk = risks.length ? `<div class="sub wire-risks">risks: ${risks.map((r) => text(r)).join("; ")}</div>` : "";
  const shown = names.slice(0, 5);
  const dest = shown.length
    ? `<div class="sub wire-names mono">${shown.map((n) => text(n)).join(", ")}${names.length > shown.length ? ` +${names.length - shown.length}` : ""}</div>`
    : "";
  return says + risk + dest;
}
