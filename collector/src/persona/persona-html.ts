// The report page's section of suspected fake personas: one row per
// persona (score, account, what it claims, triage state, why, the hosts
// that reached its domains), with its reports and audit trail in a
// <details> that needs no script. Every string here came from a stranger:
// all of it goes through the page's escaping; a profile URL is shown as
// text, never made a link.

import { attr, band, ident, int, iso, isoCell, text } from "../report/report-html.js";
import type { PersonaMatch } from "./match-persona.js";
import { STATE_MEANING, type ReportPersona } from "./persona-types.js";

/** Personas drawn on the page at most (the JSON carries them all). */
const MAX_SHOWN = 200;

function none(): string {
  return `<span class="none">—</span>`;
}

function matchItem(m: PersonaMatch): string {
  const how = m.source === "destination-name" ? "reached" : "named on a command line";
  return `<li><b class="mono">${text(m.hostname || m.hostId)}</b> ${how} <span class="mono">${text(m.observed)}</span> <span class="sub">${iso(m.seenAtMs)}${m.pid > 0 ? ` · pid ${ident(m.pid)}` : ""}${m.user ? ` · ${text(m.user)}` : ""}</span>${
    m.cmdline ? `<pre class="cmd clamped">${text(m.cmdline)}</pre>` : ""
  }</li>`;
}

function renderPersona(p: ReportPersona): string {
  const score = Math.min(100, Math.max(0, Number(p.score) || 0));
  const reasons = Array.isArray(p.reasons) ? p.reasons : [];
  const matches = Array.isArray(p.matches) ? p.matches : [];
  const audit = Array.isArray(p.audit) ? p.audit : [];
  const reports = Array.isArray(p.reports) ? p.reports : [];
  const claims = [p.claimedEmployer && `works at ${text(p.claimedEmployer)}`, p.claimedTitle && `as ${text(p.claimedTitle)}`].filter(Boolean).join(" ");
  const links = [...(p.domains ?? []), ...(p.urls ?? [])];
  return `<tbody class="persona" data-persona="${ident(p.id)}">
<tr class="main">
  <td class="num">${ident(p.id)}</td>
  <td class="score"><span class="score-n ${band(score)}">${int(score)}</span></td>
  <td class="account"><div class="name">${text(p.displayName) || none()}</div><div class="mono">${text(p.platform)} · ${text(p.handle)}</div>${p.profileUrl ? `<div class="mono sub wrap">${text(p.profileUrl)}</div>` : ""}</td>
  <td class="claims">${claims || none()}${p.requests !== null && p.requests !== undefined ? `<div class="sub">${int(p.requests)} connection requests to staff</div>` : ""}${links.length > 0 ? `<div class="sub mono wrap">${links.map((l) => text(l)).join("<br>")}</div>` : ""}</td>
  <td class="state"><span class="chip state-${attr(p.state)}" title="${attr(STATE_MEANING[p.state] ?? "")}">${text(p.state)}</span><div class="sub">since ${isoCell(p.stateChangedAtMs)}</div></td>
  <td class="why">${reasons.length > 0 ? `<ol class="reasons">${reasons.map((r) => `<li>${text(r)}</li>`).join("")}</ol>` : none()}</td>
  <td class="matches">${matches.length > 0 ? `<ul class="persona-matches">${matches.map(matchItem).join("")}</ul>` : `<span class="none">no host reached its domains</span>`}</td>
</tr>
<tr class="persona-trail"><td></td><td colspan="6"><details><summary>${int(reports.length)} report${reports.length === 1 ? "" : "s"}, ${int(audit.length)} audit entr${audit.length === 1 ? "y" : "ies"}</summary>
  <ul class="trail">${reports.map((r) => `<li><span class="mono">${iso(r.reportedAtMs)}</span> reported by <b>${text(r.reportedBy)}</b> <span class="sub">(${text(r.source)})</span>${r.notes ? `: ${text(r.notes)}` : ""}</li>`).join("")}</ul>
  <ul class="trail">${audit
    .filter((a) => a.action === "state")
    .map((a) => `<li><span class="mono">${iso(a.atMs)}</span> <b>${text(a.by)}</b>: ${text(a.fromState)} → ${text(a.toState)}: ${text(a.reason)}</li>`)
    .join("")}</ul>
</details></td></tr>
</tbody>`;
}

/** The section, or "" when the report carries no personas. */
export function renderPersonaSection(personas: readonly ReportPersona[] | undefined): string {
  const list = Array.isArray(personas) ? personas : [];
  if (list.length === 0) return "";
  const shown = list.slice(0, MAX_SHOWN);
  return `<section class="panel personas" id="personas" aria-labelledby="personas-h">
  <div class="findings-head"><h2 id="personas-h">Suspected fake personas</h2><p class="count">${int(list.length)} reported${list.length > shown.length ? `, the ${int(shown.length)} highest scoring shown (the JSON has all)` : ""}</p></div>
  <p class="hint">Accounts reported as claiming to work here, scored on their age, recent changes, claims, requests to staff and likeness to staff names, and linked to the hosts that reached the domains they link to. Triage with <code>oddwire-collector persona set-state</code>.</p>
  <table class="persona-table">
    <thead><tr><th class="num">ID</th><th>Score</th><th>Account</th><th>Claims</th><th>State</th><th>Why</th><th>Fleet</th></tr></thead>
    ${shown.map(renderPersona).join("\n")}
  </table>
</section>`;
}

export const PERSONA_STYLE = `
.persona-table { table-layout: fixed; }
.persona-table th:nth-child(1) { width: 48px; } .persona-table th:nth-child(2) { width: 64px; } .persona-table th:nth-child(5) { width: 130px; }
.persona-table > tbody > tr.main > td { padding: 8px; vertical-align: top; border-top: 1px solid var(--line2); overflow-wrap: anywhere; cursor: auto; }
.persona-table .account .name { font-weight: 600; }
.persona-matches, .trail { margin: 0; padding-left: 16px; overflow-wrap: anywhere; }
.persona-matches pre.cmd { margin-top: 2px; }
tr.persona-trail > td { padding: 0 8px 8px; }
.chip.state-new { background: var(--note); color: var(--fg); }
.chip.state-taken-down, .chip.state-dismissed { background: var(--track); color: var(--muted); }
`;
