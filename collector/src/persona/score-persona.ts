// How likely a reported persona is an impersonation aimed at the staff, 0 to
// 100, with the reasons in words. Deterministic: the same persona, roster,
// matches and clock give the same score and the same sentences. Each signal
// adds points; the reasons are ordered by the points they added.

import { countOf as plural } from "../report/plural.js";
import { closestStaffName } from "./name-similarity.js";
import type { PersonaMatch } from "./match-persona.js";
import type { PersonaRecord } from "./persona-types.js";

const DAY = 86_400_000;

export interface PersonaScore {
  score: number;
  reasons: string[];
}

export interface ScoreContext {
  nowMs: number;
  roster: ReadonlyArray<{ name: string; folded: string; login: string }>;
  matches: readonly PersonaMatch[];
}

type Scored = Pick<
  PersonaRecord,
  | "displayName"
  | "claimedEmployer"
  | "claimedTitle"
  | "previousName"
  | "previousEmployer"
  | "createdMs"
  | "changedMs"
  | "requests"
  | "requestedStaff"
  | "firstReportedMs"
  | "contactedMs"
>;

export function scorePersona(p: Scored, ctx: ScoreContext): PersonaScore {
  const parts: Array<{ points: number; reason: string }> = [];
  const add = (points: number, reason: string) => parts.push({ points, reason });

  if (p.createdMs !== null) {
    const days = Math.max(0, Math.floor((ctx.nowMs - p.createdMs) / DAY));
    if (days < 30) add(25, `the account is ${plural(days, "day")} old (created ${day(p.createdMs)})`);
    else if (days < 90) add(15, `the account is only ${plural(days, "day")} old (created ${day(p.createdMs)})`);
    else if (days < 365) add(5, `the account is under a year old (created ${day(p.createdMs)})`);
  }

  if (p.changedMs !== null) {
    const days = Math.max(0, Math.floor((ctx.nowMs - p.changedMs) / DAY));
    const what = [
      p.previousName && p.previousName !== p.displayName ? `its name (was "${p.previousName}")` : "",
      p.previousEmployer && p.previousEmployer !== p.claimedEmployer ? `its employer (was "${p.previousEmployer}")` : "",
    ].filter(Boolean);
    const changed = what.length > 0 ? what.join(" and ") : "its name or employer";
    if (days < 30) add(15, `changed ${changed} ${days === 0 ? "today" : `${plural(days, "day")} ago`}`);
    else if (days < 90) add(5, `changed ${changed} ${plural(days, "day")} ago`);
  }

  if (p.claimedEmployer) add(20, `claims to work at "${p.claimedEmployer}"${p.claimedTitle ? ` as "${p.claimedTitle}"` : ""}`);

  if (p.requests !== null && p.requests > 0) {
    const n = p.requests;
    add(n >= 50 ? 15 : n >= 10 ? 10 : n >= 3 ? 5 : 2, `sent ${plural(n, "connection request")} to staff`);
  }
  const spread = p.requestedStaff.length;
  if (spread >= 3) add(spread >= 10 ? 10 : 5, `its requests reached ${spread} different staff members`);

  // The current name first, then the one before its last change: an account that imitated a colleague and then renamed still did.
  for (const [name, which] of [
    [p.displayName, "display name"],
    [p.previousName, "previous display name"],
  ] as const) {
    const like = name && ctx.roster.length > 0 ? closestStaffName(name, ctx.roster) : null;
    if (!like) continue;
    if (like.distance === 0 && like.lookAlike) add(25, `${which} "${name}" imitates staff member "${like.staffName}" with look-alike characters`);
    else if (like.distance === 0) add(20, `${which} is that of staff member "${like.staffName}"`);
    else add(15, `${which} "${name}" is ${plural(like.distance, "edit")} away from staff member "${like.staffName}"`);
    break;
  }

  if (ctx.matches.length > 0) {
    const first = ctx.matches[0]!;
    const hosts = new Set(ctx.matches.map((m) => m.hostId));
    const others = hosts.size - 1;
    add(20, `${matchSentence(first, p, ctx.roster)}${others > 0 ? `; and ${plural(others, "other host")}` : ""}`);
  }

  parts.sort((a, b) => b.points - a.points);
  return {
    score: Math.min(
      100,
      parts.reduce((s, x) => s + x.points, 0),
    ),
    reasons: parts.map((x) => x.reason),
  };
}

/**
 * "host WS-12 reached careers-example.co as bob, whom the persona contacted,
 * 40 minutes after the persona's latest message to staff" (or "named ... on a
 * command line"; "after the persona was first reported" when the report does
 * not say when it contacted staff). The user is named when the roster gives
 * the login of a staff member the persona sent a request to.
 */
export function matchSentence(
  m: PersonaMatch,
  p: Pick<PersonaRecord, "contactedMs" | "firstReportedMs" | "requestedStaff">,
  roster: ReadonlyArray<{ name: string; login: string }> = [],
): string {
  const exe = m.exe.split(/[\\/]/).pop() || m.exe;
  const how = m.source === "destination-name" ? `reached ${m.observed}` : `named ${m.observed} on a command line${exe ? ` (${exe}${m.pid > 0 ? `, pid ${m.pid}` : ""})` : ""}`;
  const contacted = new Set(p.requestedStaff.map((n) => n.toLowerCase()));
  const target = m.user ? roster.find((r) => r.login !== "" && r.login === m.user && contacted.has(r.name.toLowerCase())) : undefined;
  const as = target ? ` as ${m.user} (${target.name}, whom the persona contacted)` : "";
  const ref = p.contactedMs ?? p.firstReportedMs;
  const what = p.contactedMs !== null ? "the persona's latest message to staff" : "the persona was first reported";
  const gap = m.seenAtMs - ref;
  const when = ref > 0 && m.seenAtMs > 0 ? ` ${span(Math.abs(gap))} ${gap >= 0 ? "after" : "before"} ${what}` : "";
  return `host ${m.hostname || m.hostId} ${how}${as}${when}`;
}

function span(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return "less than a minute";
  if (minutes < 120) return plural(minutes, "minute");
  const hours = Math.round(minutes / 60);
  if (hours < 48) return plural(hours, "hour");
  return plural(Math.round(hours / 24), "day");
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
