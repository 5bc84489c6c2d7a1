// Tags for one socket, from what the knowledge base says its binary normally
// speaks. Each reason names the binary, what it normally does, and the socket.

import { isPublicAddress } from "./address.js";
import { bindShellReason } from "./command-line.js";
import type { BinaryProfile, KnowledgeBase, ProtocolSet } from "./knowledge.js";
import type { Direction, Tag } from "./model.js";
import { UNKNOWN_PROTOCOL } from "./ports.js";
import { newUnpackaged, type PackageFacts, packageWords } from "./package-facts.js";
import { type SiteKnowledge, siteNormalFor } from "./site-knowledge.js";
import { siteSocketTags } from "./site-tags.js";
import { TAG } from "./tags.js";

export interface SocketContext {
  /** The owning binary's name as shown to the reader. */
  binary: string;
  profile: BinaryProfile | undefined;
  direction: Direction;
  protocol: string;
  /** The socket in words (describe-socket.ts); called only when a tag needs it. */
  describe: () => string;
  localPort: number;
  remoteAddress: string;
  /** The owner's command line (bind shells are judged by it). */
  cmdline: string;
  /** The owner is this agent, whose own collector connection is not a finding. */
  isSelf: boolean;
  /** Where the owner's executable came from (package, age), where the OS could tell. */
  packaged?: PackageFacts;
  /** What a site's own knowledge matches on (site-knowledge.ts); absent or without knowledge: no site knowledge. */
  site?: { knowledge: SiteKnowledge | undefined; exe: string; name: string; transport: string; remotePort: number };
}

/**
 * Listening on an unregistered port in the dynamic range claims no protocol
 * (Windows RPC services, for one, listen only there): it is not "unexpected".
 * 32768 is the start of Linux's ephemeral range; Windows' starts at 49152.
 */
const DYNAMIC_PORTS_FROM = 32768;

const NO_TAGS: Tag[] = [];

/** An interpreter serving a directory or a page straight from its command line. */
const AD_HOC_SERVER = /\s-S\s|\bhttp\.server\b|\bSimpleHTTPServer\b|-run\s+-e\s*httpd|\bpyftpdlib\b|\bhttpd\b.*\s-p\s*\d/;

/**
 * The socket's tags: the site's "never" entries that match, then the
 * built-in judgement, unless the site lists this binary speaking this
 * protocol this way as normal; then only a bind shell's command line still
 * counts (what the process is and does is judged apart, in process tags).
 */
export function tagSocket(ctx: SocketContext): Tag[] {
  if (ctx.isSelf) return NO_TAGS;
  const site = ctx.site?.knowledge;
  if (!site || !ctx.site) return judgeSocket(ctx);
  const { exe, name, transport, remotePort } = ctx.site;
  const port = ctx.direction === "outbound" ? remotePort : ctx.localPort;
  const never = siteSocketTags(
    site,
    { exe, name, transport, direction: ctx.direction, protocol: ctx.protocol, port, remoteAddress: ctx.remoteAddress },
    `${ctx.binary} ${ctx.describe()}`,
  );
  if (!siteNormalFor(site, exe, name, ctx.protocol, ctx.direction)) {
    const own = judgeSocket(ctx);
    return never.length === 0 ? own : [...never, ...own];
  }
  const bind = ctx.direction === "listen" && ctx.profile?.class !== "shell" ? bindShellReason(ctx.cmdline, ctx.profile?.class) : undefined;
  return bind ? [...never, { code: TAG.BIND_SHELL, reason: `${ctx.binary} is ${ctx.describe()}; ${bind}` }] : never;
}

function judgeSocket(ctx: SocketContext): Tag[] {
  const { binary, profile, direction, protocol } = ctx;
  const outbound = direction === "outbound";
  if (!profile) {
    if (!outbound || !isPublicAddress(ctx.remoteAddress)) return NO_TAGS;
    const registered = protocol !== UNKNOWN_PROTOCOL;
    const facts = ctx.packaged ?? {};
    // Installed by the package manager and speaking a registered protocol: an installed program's ordinary traffic.
    if (facts.package && registered) return NO_TAGS;
    const port = registered ? "" : ", on a port no protocol is registered for";
    const origin = packageWords(facts);
    const tags: Tag[] = [
      {
        code: TAG.UNKNOWN_BINARY_PUBLIC,
        reason: `${binary} is not in oddwire's knowledge base and connects to a public address (${ctx.describe()})${port}: unknown software talking to the internet${origin ? `; it ${origin}` : ""}`,
      },
    ];
    const fresh = newUnpackaged(facts);
    if (fresh) tags.push({ code: TAG.NEW_UNPACKAGED_EXE, reason: `${binary} ${fresh}, and reaches the internet unknown to oddwire` });
    return tags;
  }
  const described = ctx.describe();
  const tags: Tag[] = [];
  if (direction === "listen") {
    const bind = profile.class === "shell" ? undefined : bindShellReason(ctx.cmdline, profile.class);
    if (bind) tags.push({ code: TAG.BIND_SHELL, reason: `${binary} is ${described}; ${bind}` });
    else if ((profile.class === "tool" && profile.lolbin) || (profile.class === "interpreter" && AD_HOC_SERVER.test(` ${ctx.cmdline} `))) {
      tags.push({
        code: TAG.TOOL_LISTEN,
        reason: `${binary} is ${described} itself (${ctx.cmdline.slice(0, 80)}): an ad-hoc server, file transfer or shell, not an installed service`,
      });
    }
  }
  switch (profile.class) {
    case "silent":
      tags.push({ code: TAG.SILENT_BINARY_SOCKET, reason: `${binary} normally opens no network sockets; this one is ${described}` });
      break;
    case "shell":
      if (outbound) tags.push({ code: TAG.SHELL_OUTBOUND, reason: `the shell ${binary} holds a connection itself (${described}): that is how a reverse shell looks` });
      else if (direction === "listen")
        tags.push({ code: TAG.BIND_SHELL, reason: `the shell ${binary} normally opens no network sockets; this one is ${described}, the shape of a bind shell` });
      else tags.push({ code: TAG.SILENT_BINARY_SOCKET, reason: `the shell ${binary} normally opens no network sockets; this one is ${described}` });
      break;
    case "interpreter":
      if (outbound)
        tags.push({ code: TAG.INTERPRETER_OUTBOUND, reason: `the script interpreter ${binary} holds an outbound connection (${described}); check the script in its command line` });
      break;
    default: {
      const allowed = outbound ? profile.outbound : profile.listens;
      if (!speaks(allowed, protocol) && !(protocol === UNKNOWN_PROTOCOL && !outbound && ctx.localPort >= DYNAMIC_PORTS_FROM)) {
        const usual = allowed === "*" ? "" : listProtocols(allowed);
        const verb = outbound ? "connects out with" : "listens for";
        const normally = usual ? `${binary} normally ${verb} ${usual}` : `${binary} normally ${outbound ? "makes no outbound connections" : "accepts no connections"}`;
        tags.push({ code: TAG.UNEXPECTED_PROTOCOL, reason: `${normally}; this socket is ${described}` });
      }
    }
  }
  // A download tool on its ordinary protocol is judged by its command line (process tags), not for the socket itself.
  const ordinary = profile.class === "client" && speaks(profile.outbound, protocol);
  if (profile.lolbin && outbound && !ordinary) {
    tags.push({ code: TAG.LOLBIN_OUTBOUND, reason: `${binary} has an outbound connection (${described}); ${profile.lolbin}` });
  }
  return tags;
}

/**
 * The knowledge-base profile of a process. A script run through its #! line
 * has the interpreter as its executable and the script's file name as its
 * process name (pip, dnf, unattended-upgrade): the script's profile, when
 * known, says more than the interpreter's.
 */
export function profileOf(p: { readonly name: string }, binary: string, kb: KnowledgeBase): { profile: BinaryProfile | undefined; binary: string } {
  const profile = kb.lookup(binary);
  if (profile?.class === "interpreter" && p.name) {
    const script = kb.lookup(p.name);
    if (script && script.class !== "interpreter") return { profile: script, binary: `${p.name} (run by ${binary})` };
  }
  return { profile, binary };
}

function speaks(set: ProtocolSet, protocol: string): boolean {
  return set === "*" || set.has(protocol);
}

const LISTED = 6;

function listProtocols(set: ReadonlySet<string>): string {
  const all = [...set];
  return all.length <= LISTED ? all.join(", ") : `${all.slice(0, LISTED).join(", ")} and ${all.length - LISTED} more`;
}
