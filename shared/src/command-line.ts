// What a command line says about intent, whatever the binary: a download
// from a bare IP or from a paste, file-sharing or tunnel service, output
// written into a temp directory, a download piped into a shell, an encoded
// command, bash's /dev/tcp, and a listener that hands its connection to a
// shell (a bind shell). Pure: the agent calls it per process, the collector
// when it judges stored data again.
//
// Facts from LOLBAS-Project/LOLBAS yml/OSBinaries (Certutil.yml, Bitsadmin.yml,
// Mshta.yml, Regsvr32.yml, Rundll32.yml: download and execute switches),
// GTFOBins/GTFOBins.github.io _gtfobins (nc, ncat, socat, bash, php, python,
// perl, ruby: reverse-shell, bind-shell and file-download entries) and SigmaHQ/sigma
// rules/windows/process_creation (proc_creation_win_powershell_base64_*,
// proc_creation_win_curl_download_*) and rules/linux/process_creation
// (proc_creation_lnx_susp_curl_*, proc_creation_lnx_netcat_reverse_shell.yml).

import { isIpLiteral, isPublicAddress } from "./address.js";
import { type DestinationTable, destinationTable, judgeDestinations } from "./destinations.js";
import type { KnowledgeBase } from "./knowledge.js";
import type { Tag } from "./model.js";
import { TAG } from "./tags.js";

/** Characters of a command line looked at: enough for any real one, bounded for hostile ones. */
const MAX_CMDLINE = 8192;
const SHOWN = 80;

const URL = /\b(?:https?|ftps?|tftp):\/\/(\[[0-9a-f:.]+\]|[^\s/:"'`|;)<>]+)(?::\d+)?[^\s"'`|;<>]*/gi;

/** URLs in a command line, with their hosts (lower case, IPv6 without brackets). */
export function urlsIn(cmdline: string): Array<{ url: string; host: string }> {
  const out: Array<{ url: string; host: string }> = [];
  for (const m of cmdline.slice(0, MAX_CMDLINE).matchAll(URL)) {
    out.push({ url: m[0], host: m[1]!.replace(/^\[|\]$/g, "").toLowerCase() });
    if (out.length >= 16) break;
  }
  return out;
}

const NAME_TOKEN = /^[a-z0-9-]+(?:\.[a-z0-9-]+)+$/i;

/** Bare host names among a command line's words (ssh -R 80:localhost:80 serveo.net, user@host, host:port), for the destination check. */
export function hostNamesIn(cmdline: string): string[] {
  const out: string[] = [];
  for (const word of cmdline.slice(0, MAX_CMDLINE).split(/[\s"'=,;|()<>`]+/)) {
    const host = word.replace(/^[^@]*@/, "").replace(/:\d+$/, "");
    if (NAME_TOKEN.test(host) && /[a-z]/i.test(host.slice(host.lastIndexOf(".") + 1))) out.push(host.toLowerCase());
    if (out.length >= 32) break;
  }
  return out;
}

interface Pattern {
  test: RegExp;
  say: (match: string) => string;
}

const TEMP_OUTPUT =
  /(?:^|[\s"'=>])(?:-o\s*|-O\s*|--output[= ]\s*|--output-document[= ]\s*|-OutFile\s+|>\s*)["']?((?:\/tmp|\/var\/tmp|\/dev\/shm)\/\S*|%temp%\S*|\$env:temp\S*|[a-z]:\\(?:windows\\temp|users\\public|programdata|perflogs)\\\S*|\S*\\appdata\\local\\temp\\\S*)/i;

/** Patterns that need a download in the same command line (a URL or a download verb). */
const DOWNLOAD_PATTERNS: Pattern[] = [{ test: TEMP_OUTPUT, say: (m) => `writes what it downloads into a temp directory (${m})` }];

const PATTERNS: Pattern[] = [
  {
    test: /\|\s*(?:sudo\s+)?(?:\/(?:usr\/)?bin\/)?(?:ba|z|da|k)?sh\b|\|\s*(?:python\d?|perl|ruby|php)\b|\|\s*iex\b|\biex\s*\(|invoke-expression/i,
    say: (m) => `pipes what it fetches straight into an interpreter (${m.trim()})`,
  },
  {
    test: /(?:^|\s)[-/]e(?:c|n|nc|nco|ncod|ncode|ncoded|ncodedc|ncodedco|ncodedcom|ncodedcomm|ncodedcomma|ncodedcomman|ncodedcommand)?\s+[a-z0-9+/]{16,}={0,2}(?:\s|$)/i,
    say: () => "runs a base64-encoded PowerShell command (-enc), which hides what it does",
  },
  { test: /frombase64string|base64\s+(?:-d|--decode|-D)\b|certutil(?:\.exe)?\s+-decode/i, say: (m) => `decodes base64 on the fly (${m.trim()})` },
  { test: /\/dev\/(?:tcp|udp)\/[^\s/]+\/\d+/i, say: (m) => `opens a network connection through bash's ${m} (a reverse shell's classic form)` },
  {
    test: /certutil(?:\.exe)?\s.*-(?:urlcache|verifyctl)\b/i,
    say: () => "uses certutil -urlcache/-verifyctl to download a file (listed in LOLBAS as a download technique)",
  },
  { test: /bitsadmin(?:\.exe)?\s.*\/(?:transfer|addfile)\b/i, say: () => "uses bitsadmin /transfer to download a file (LOLBAS)" },
  { test: /regsvr32(?:\.exe)?\s.*\/i:\s*https?:/i, say: () => "regsvr32 loads a scriptlet from a URL (/i:http..., the Squiblydoo technique)" },
  { test: /mshta(?:\.exe)?\s+["']?(?:https?:|javascript:|vbscript:)/i, say: () => "mshta runs script from a URL or inline javascript:/vbscript: (LOLBAS)" },
  { test: /rundll32(?:\.exe)?\s.*(?:javascript:|url\.dll,\s*(?:openurl|fileprotocolhandler)|ieframe\.dll,\s*openurl)/i, say: () => "rundll32 runs script or opens a URL (LOLBAS)" },
  {
    test: /\.download(?:string|file|data)\s*\(|start-bitstransfer|net\.webclient/i,
    say: (m) => `downloads with a PowerShell download cradle (${m.replace(/\s*\($/, "")})`,
  },
  { test: /\bmkfifo\b.*\b(?:nc|ncat|netcat|telnet|openssl)\b/i, say: () => "wires a named pipe to a network tool and a shell (mkfifo ... nc: a reverse shell)" },
];

const DOWNLOAD_VERB = /\b(?:curl|wget|invoke-webrequest|iwr|invoke-restmethod|irm|start-bitstransfer|certutil|bitsadmin|tftp|ftp)\b|\.download(?:string|file|data)/i;

/** Shell handed to a connection: nc -e, ncat --sh-exec, socat EXEC:/SYSTEM:. */
const EXEC_TO_SOCKET = /\b(?:nc|ncat|netcat|nc\.traditional|nc\.openbsd|busybox\s+nc)\b[^|;]*\s(?:-e|-c|--exec|--sh-exec|--lua-exec)\s|\bsocat\b[^|;]*\b(?:exec|system):/i;
const LISTEN_FLAG =
  /\b(?:nc|ncat|netcat|nc\.traditional|nc\.openbsd|busybox\s+nc)\b[^|;]*\s-[a-z]*l[a-z]*\b|--listen\b|\bsocat\b[^|;]*\b(?:tcp|tcp4|tcp6|udp|udp4|udp6|openssl)-listen:/i;
const ONE_LINER = /\s-(?:c|e|r|E)\s|\s-r\s*socket|\s-rsocket/;
const SOCKET_API = /\bsocket\b|\bTCPServer\b|\bcreateServer\b|\bIO::Socket\b|\bfsockopen\b|\bsocket_create\b|\bbind\s*\(|\bpty\.spawn\b|\bsubprocess\b/i;

/**
 * Tags for a command line: SUSPICIOUS_COMMAND (with every reason found) and,
 * for URLs naming a listed service, SUSPICIOUS_DESTINATION. `binary` is the
 * executable's basename, used for the destination check and in reasons.
 */
export function judgeCommandLine(cmdline: string, binary: string, kb: KnowledgeBase, table: DestinationTable = destinationTable()): Tag[] {
  if (!cmdline) return [];
  const text = cmdline.slice(0, MAX_CMDLINE);
  const reasons: string[] = [];
  const urls = urlsIn(text);
  for (const u of urls) {
    if (isIpLiteral(u.host) && isPublicAddress(u.host)) {
      reasons.push(`fetches ${shorten(u.url)} from a bare public IP address, not a named host as software downloads do`);
      break;
    }
  }
  for (const p of PATTERNS) {
    const m = p.test.exec(text);
    if (m) reasons.push(p.say(shorten(m[0])));
  }
  if (urls.length > 0 || DOWNLOAD_VERB.test(text)) {
    for (const p of DOWNLOAD_PATTERNS) {
      const m = p.test.exec(text);
      if (m) reasons.push(p.say(shorten(m[1] ?? m[0])));
    }
  }
  const tags: Tag[] = [];
  if (reasons.length > 0) tags.push({ code: TAG.SUSPICIOUS_COMMAND, reason: `its command line ${reasons.join("; ")}` });
  const names = [...new Set([...urls.map((u) => u.host), ...hostNamesIn(text)])];
  if (names.length > 0) tags.push(...judgeDestinations(names, { binary, cmdline }, kb, table));
  return tags;
}

/**
 * Why a listening socket's owner looks like a bind shell, or undefined: a
 * netcat-style tool listening with -e / EXEC:, or an interpreter one-liner
 * that opens a socket. `kind` is the owner's knowledge-base class.
 */
export function bindShellReason(cmdline: string, kind: string | undefined): string | undefined {
  const text = cmdline.slice(0, MAX_CMDLINE);
  if (EXEC_TO_SOCKET.test(text) && LISTEN_FLAG.test(text)) return `its command line (${shorten(text)}) listens and hands each connection to a program: a bind shell`;
  if (kind === "interpreter" && ONE_LINER.test(` ${text} `) && SOCKET_API.test(text)) {
    return `an interpreter one-liner (${shorten(text)}) opens the listening socket itself: the shape of a bind shell or an ad-hoc server`;
  }
  return undefined;
}

function shorten(s: string): string {
  return s.length > SHOWN ? `${s.slice(0, SHOWN - 1)}…` : s;
}
