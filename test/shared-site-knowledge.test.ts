// The site knowledge file: what it accepts, what it refuses (with where and
// what), and what its entries do to the tags the agent and the collector
// give: "never" entries tag with the site's reason, "normal" entries stand
// in for the built-in profile, writable directories count as writable.

import t from "tap";
import {
  knowledgeBase,
  parseSiteKnowledge,
  portTable,
  siteNormalFor,
  TAG,
  tagProcess,
  tagSocket,
  withSiteKnowledge,
  type KnowledgeBase,
  type SocketContext,
} from "@oddwire/shared";

const ports = portTable();
const parse = (v: unknown) => parseSiteKnowledge(typeof v === "string" ? v : JSON.stringify(v), ports, "site.json");

t.test("a valid file: entries, defaults, version", async (t) => {
  const text = JSON.stringify({
    $comment: "acme's own",
    name: "acme prod",
    normal: [{ binary: "acme-sync", protocol: "https", direction: "outbound", reason: "our file sync" }, { binary: "/opt/acme/bin/" }],
    never: [
      { binary: "AnyDesk.exe", reason: "no remote-access tools" },
      { destination: "Mega.NZ", reason: "no file sharing" },
      { address: "203.0.113.0/24", reason: "a known bad range" },
      { address: "2001:db8::1", reason: "one bad address" },
      { port: 6667, transport: "tcp", direction: "outbound", reason: "no IRC" },
    ],
    writableDirs: ["/srv/upload/", "D:\\Shares\\Public\\"],
  });
  const site = parseSiteKnowledge(text, ports, "site.json");
  t.equal(site.name, "acme prod");
  t.match(site.sha256, /^[0-9a-f]{64}$/);
  t.same(
    site.normal.map((n) => [n.binary.kind, n.binary.value, n.protocol ?? "*", n.direction ?? "*"]),
    [
      ["name", "acme-sync", "https", "outbound"],
      ["dir", "/opt/acme/bin/", "*", "*"],
    ],
  );
  t.same(
    site.never.map((n) => [n.what, n.perSocket]),
    [
      ["binary AnyDesk.exe", false],
      ["destination mega.nz", false],
      ["address 203.0.113.0/24", true],
      ["address 2001:db8::1", true],
      ["port 6667/tcp, outbound", true],
    ],
  );
  t.ok(site.never[2]!.inRange!("203.0.113.77") && site.never[2]!.inRange!("::ffff:203.0.113.9"));
  t.notOk(site.never[2]!.inRange!("198.51.100.1"));
  t.ok(site.never[3]!.inRange!("2001:db8:0:0:0:0:0:1"));
  t.same(site.writableDirs, ["/srv/upload/", "d:\\shares\\public\\"]);
  const kb = withSiteKnowledge(knowledgeBase(), site);
  t.equal(kb.version, `${knowledgeBase().version}+${site.sha256.slice(0, 12)}`);
  t.match(knowledgeBase().version, /^\d+\.\d+\.\d+\.[0-9a-f]{8}$/);
  t.equal(withSiteKnowledge(knowledgeBase(), undefined), knowledgeBase());
  t.ok(siteNormalFor(site, "/usr/local/bin/acme-sync", "acme-sync", "https", "outbound"));
  t.notOk(siteNormalFor(site, "/usr/local/bin/acme-sync", "acme-sync", "ssh", "outbound"));
  t.ok(siteNormalFor(site, "/opt/acme/bin/agent", "agent", "irc", "listen"));
});

t.test("invalid and hostile files are refused with where and what", async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ["{", /^site\.json: not valid JSON/],
    ["[]", /must hold a JSON object/],
    ["null", /must hold a JSON object/],
    [{}, /^site\.json: name is missing$/],
    [{ name: "" }, /name must be 1 to 64 letters/],
    [{ name: "a".repeat(65) }, /name must be 1 to 64/],
    [{ name: "<script>" }, /name must be 1 to 64 letters/],
    [{ name: "x", colour: 1 }, /colour is not a known key; allowed: name, normal, never, writableDirs/],
    [{ name: "x", never: {} }, /never must be a list/],
    [{ name: "x", never: [{ reason: "r" }] }, /never\[0\] must name at least one of binary, protocol, port, address or destination/],
    [{ name: "x", never: [{ transport: "tcp", reason: "r" }] }, /never\[0\] must name at least one/],
    [{ name: "x", never: [{ binary: "nc" }] }, /never\[0\]\.reason is missing/],
    [{ name: "x", never: [{ binary: "nc", reason: "" }] }, /never\[0\]\.reason must not be empty/],
    [{ name: "x", never: [{ binary: "nc", reason: "r".repeat(513) }] }, /reason must be at most 512 characters/],
    [{ name: "x", never: [{ port: 0, reason: "r" }] }, /never\[0\]\.port must be a whole number from 1 to 65535/],
    [{ name: "x", never: [{ port: "22", reason: "r" }] }, /port must be a whole number/],
    [{ name: "x", never: [{ port: 22.5, reason: "r" }] }, /port must be a whole number/],
    [{ name: "x", never: [{ address: "10.0.0.0/33", reason: "r" }] }, /never\[0\]\.address must be an IP address or a CIDR range/],
    [{ name: "x", never: [{ address: "example.com", reason: "r" }] }, /address must be an IP address/],
    [{ name: "x", never: [{ address: "10.0.0.0/8/1", reason: "r" }] }, /address must be an IP address/],
    [{ name: "x", never: [{ destination: "http://mega.nz/", reason: "r" }] }, /never\[0\]\.destination must be a host name or domain/],
    [{ name: "x", never: [{ destination: "mega.nz", port: 443, reason: "r" }] }, /destination is judged from a process's command line/],
    [{ name: "x", never: [{ protocol: "gopherz", reason: "r" }] }, /never\[0\]\.protocol names unknown protocol "gopherz"/],
    [{ name: "x", never: [{ direction: "sideways", binary: "a", reason: "r" }] }, /direction must be one of outbound, inbound, listen/],
    [{ name: "x", never: [{ binary: "nc", reason: "r", why: "?" }] }, /never\[0\]\.why is not a known key/],
    [{ name: "x", normal: [{ protocol: "https" }] }, /normal\[0\]\.binary is missing/],
    [{ name: "x", normal: [{ binary: "a", protocol: "nope" }] }, /normal\[0\]\.protocol names unknown protocol/],
    [{ name: "x", normal: ["curl"] }, /normal\[0\] must be an object/],
    [{ name: "x", writableDirs: ["/srv/upload"] }, /writableDirs\[0\] must be a directory ending with/],
    [{ name: "x", never: Array.from({ length: 10_001 }, () => ({ binary: "a", reason: "r" })) }, /never must hold at most 10000 entries/],
    [`{"name":"x","pad":"${"a".repeat(1024 * 1024)}"}`, /larger than 1048576 bytes/],
  ];
  for (const [input, expected] of cases) {
    t.throws(() => parse(input), { code: "ODW_ERR_CONFIG", message: expected }, `${JSON.stringify(input).slice(0, 80)} → ${expected}`);
  }
  // __proto__ is an unknown key like any other, not a way into the object's prototype.
  t.throws(() => parse('{"name":"x","__proto__":{"polluted":1}}'), { message: /__proto__ is not a known key/ });
  t.equal(({} as Record<string, unknown>)["polluted"], undefined);
});

const site = (v: unknown): KnowledgeBase => withSiteKnowledge(knowledgeBase(), parse(v));

function socketCtx(kb: KnowledgeBase, exe: string, over: Partial<SocketContext> = {}): SocketContext {
  const name = exe.slice(exe.lastIndexOf("/") + 1);
  const profile = kb.lookup(name);
  return {
    binary: name,
    profile,
    direction: "outbound",
    protocol: "https",
    describe: () => "outbound tcp to 203.0.113.5:443 (https)",
    localPort: 40000,
    remoteAddress: "203.0.113.5",
    cmdline: name,
    isSelf: false,
    site: { knowledge: kb.site, exe, name, transport: "tcp", remotePort: 443 },
    ...over,
  };
}

t.test("'never' entries tag with the site's reason", async (t) => {
  const kb = site({
    name: "acme",
    never: [
      { binary: "anydesk", reason: "no remote-access tools here" },
      { destination: "mega.nz", reason: "no file sharing" },
      { address: "203.0.113.0/24", reason: "a bad range" },
      { binary: "python3", protocol: "ssh", reason: "python never speaks ssh here" },
    ],
  });
  const p = tagProcess({ name: "anydesk", exe: "/usr/bin/anydesk", cmdline: "anydesk --service", exeDeleted: false }, { dirWorldWritable: false }, kb, "linux");
  t.same(
    p.map((x) => x.code),
    [TAG.SITE_NEVER],
  );
  t.equal(p[0]!.reason, 'anydesk matches a "never" entry of site knowledge "acme" (binary anydesk): no remote-access tools here');
  const d = tagProcess({ name: "curl", exe: "/usr/bin/curl", cmdline: "curl -O https://x.mega.nz/file", exeDeleted: false }, { dirWorldWritable: false }, kb, "linux");
  t.match(d.find((x) => x.code === TAG.SITE_NEVER)?.reason, /curl \(its command line names x\.mega\.nz\) matches .*destination mega\.nz.*no file sharing/);
  t.same(tagProcess({ name: "curl", exe: "/usr/bin/curl", cmdline: "curl https://example.org", exeDeleted: false }, { dirWorldWritable: false }, kb, "linux"), []);

  const s = tagSocket(socketCtx(kb, "/usr/bin/firefox"));
  t.match(
    s.map((x) => x.reason).join("\n"),
    /firefox outbound tcp to 203\.0\.113\.5:443 \(https\) matches a "never" entry of site knowledge "acme" \(address 203\.0\.113\.0\/24\): a bad range/,
  );
  const py = tagSocket(socketCtx(kb, "/usr/bin/python3", { protocol: "ssh", remoteAddress: "10.0.0.5", describe: () => "outbound tcp to 10.0.0.5:22 (ssh)" }));
  t.ok(py.some((x) => x.code === TAG.SITE_NEVER && /python never speaks ssh here/.test(x.reason)));
  t.ok(
    py.some((x) => x.code === TAG.INTERPRETER_OUTBOUND),
    "the built-in judgement stays beside it",
  );
  t.notOk(
    tagSocket(socketCtx(kb, "/usr/bin/python3", { remoteAddress: "10.0.0.5" })).some((x) => x.code === TAG.SITE_NEVER),
    "only its own protocol",
  );
});

t.test("'normal' entries stand in for the built-in profile; writable dirs count", async (t) => {
  const kb = site({
    name: "acme",
    normal: [
      { binary: "acme-sync", protocol: "unknown", direction: "outbound" },
      { binary: "nginx", protocol: "ssh" },
    ],
    writableDirs: ["/srv/upload/"],
  });
  const plain = knowledgeBase();
  const unknownPort = { protocol: "unknown", describe: () => "outbound tcp to 203.0.113.5:31337 (unknown protocol)" };
  t.same(
    tagSocket(socketCtx(plain, "/usr/local/bin/acme-sync", unknownPort)).map((x) => x.code),
    [TAG.UNKNOWN_BINARY_PUBLIC],
    "without the site: unknown software on the internet",
  );
  t.same(tagSocket(socketCtx(kb, "/usr/local/bin/acme-sync", unknownPort)), [], "with it: normal here");
  t.same(
    tagSocket(socketCtx(plain, "/usr/sbin/nginx", { protocol: "ssh" })).map((x) => x.code),
    [TAG.UNEXPECTED_PROTOCOL],
  );
  t.same(tagSocket(socketCtx(kb, "/usr/sbin/nginx", { protocol: "ssh" })), []);
  const nc = tagSocket(
    socketCtx(site({ name: "acme", normal: [{ binary: "nc" }] }), "/usr/bin/nc", { direction: "listen", protocol: "unknown", cmdline: "nc -l -p 4444 -e /bin/sh" }),
  );
  t.same(
    nc.map((x) => x.code),
    [TAG.BIND_SHELL],
    "a bind shell's command line counts even where the binary is normal",
  );
  const w = tagProcess({ name: "tool", exe: "/srv/upload/tool", cmdline: "tool", exeDeleted: false }, { dirWorldWritable: false }, kb, "linux");
  t.same(
    w.map((x) => x.code),
    [TAG.WRITABLE_DIR_EXE],
  );
  t.match(w[0]!.reason, /site knowledge "acme" lists as a place where anyone can drop files/);
  const tmp = tagProcess({ name: "tool", exe: "/tmp/tool", cmdline: "tool", exeDeleted: false }, { dirWorldWritable: true }, kb, "linux");
  t.equal(tmp.filter((x) => x.code === TAG.WRITABLE_DIR_EXE).length, 1, "one writable-dir-exe at most");
});
