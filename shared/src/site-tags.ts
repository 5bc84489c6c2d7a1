// Tags from a site's own knowledge (site-knowledge.ts): its "never" entries
// and its extra writable locations. Every reason names the site's knowledge
// and quotes the entry's own reason, so a reader knows who said so. Pure.

import { urlsIn, hostNamesIn } from "./command-line.js";
import type { Tag } from "./model.js";
import { type SiteKnowledge, type SiteNever, siteBinaryMatches, siteLabel } from "./site-knowledge.js";
import { TAG } from "./tags.js";

/** Tags from entries judged per process: a binary that must never run here, a destination it must never name. */
export function siteProcessTags(site: SiteKnowledge, p: { exe: string; name: string; cmdline: string }, shown: string): Tag[] {
  const tags: Tag[] = [];
  let names: string[] | undefined;
  for (const e of site.never) {
    if (e.perSocket) continue;
    if (e.binary && !siteBinaryMatches(e.binary, p.exe, p.name)) continue;
    let hit = "";
    if (e.destination) {
      names ??= [...new Set([...urlsIn(p.cmdline).map((u) => u.host), ...hostNamesIn(p.cmdline)])];
      const suffix = e.destination;
      const found = names.find((n) => n === suffix || n.endsWith(`.${suffix}`));
      if (!found) continue;
      hit = ` (its command line names ${found})`;
    }
    tags.push(neverTag(site, e, `${shown}${hit}`));
  }
  const dir = site.writableDirs.find((d) => (/^[a-z]:\\|\\/.test(d) ? p.exe.toLowerCase() : p.exe).startsWith(d));
  if (p.exe && dir) tags.push({ code: TAG.WRITABLE_DIR_EXE, reason: `runs ${p.exe} from ${dir}, which ${siteLabel(site)} lists as a place where anyone can drop files` });
  return tags;
}

export interface SiteSocket {
  exe: string;
  name: string;
  transport: string;
  direction: string;
  protocol: string;
  /** The remote port for outbound sockets, the local one for listeners and accepted connections. */
  port: number;
  remoteAddress: string;
}

/** Tags from entries judged per socket: a protocol, port, address, transport or direction that must never be seen (for one binary or any). */
export function siteSocketTags(site: SiteKnowledge, s: SiteSocket, shown: string): Tag[] {
  const tags: Tag[] = [];
  for (const e of site.never) {
    if (!e.perSocket) continue;
    if (e.protocol !== undefined && e.protocol !== s.protocol) continue;
    if (e.transport !== undefined && e.transport !== s.transport) continue;
    if (e.direction !== undefined && e.direction !== s.direction) continue;
    if (e.port !== undefined && e.port !== s.port) continue;
    if (e.inRange && !(s.remoteAddress && e.inRange(s.remoteAddress))) continue;
    if (e.binary && !siteBinaryMatches(e.binary, s.exe, s.name)) continue;
    tags.push(neverTag(site, e, shown));
  }
  return tags;
}

function neverTag(site: SiteKnowledge, e: SiteNever, shown: string): Tag {
  return { code: TAG.SITE_NEVER, reason: `${shown} matches a "never" entry of ${siteLabel(site)} (${e.what}): ${e.reason}` };
}
