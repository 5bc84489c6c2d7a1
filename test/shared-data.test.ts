// The shipped port table and knowledge base: they load, they say what the
// product's examples rely on, and the loaders reject malformed data with
// errors that say where.

import t from "tap";
import { buildKnowledgeBase, buildPortTable, knowledgeBase, portTable } from "@oddwire/shared";

t.test("the shipped port table maps the well-known ports", async (t) => {
  const p = portTable();
  t.equal(p.protocolOf("tcp", 443), "https");
  t.equal(p.protocolOf("udp", 443), "https", "QUIC");
  t.equal(p.protocolOf("udp", 53), "dns");
  t.equal(p.protocolOf("tcp", 22), "ssh");
  t.equal(p.protocolOf("tcp", 25), "smtp");
  t.equal(p.protocolOf("tcp", 6667), "irc");
  t.equal(p.protocolOf("tcp", 3389), "rdp");
  t.equal(p.protocolOf("tcp", 445), "smb");
  t.equal(p.protocolOf("udp", 123), "ntp");
  t.equal(p.protocolOf("tcp", 55555), "unknown");
  t.ok(p.protocols.size > 100, `${p.protocols.size} protocols`);
  t.ok(p.group("web")!.includes("https"));
});

t.test("the shipped knowledge base knows the product's examples", async (t) => {
  const kb = knowledgeBase();
  t.equal(kb.lookup("notepad.exe")?.class, "silent");
  t.equal(kb.lookup("cron")?.class, "silent");
  t.equal(kb.lookup("bash")?.class, "shell");
  t.equal(kb.lookup("powershell.exe")?.class, "shell");
  t.equal(kb.lookup("python3.11")?.class, "interpreter");
  t.equal(kb.lookup("PYTHON.EXE")?.class, "interpreter", "case-insensitive");
  t.ok(kb.lookup("certutil.exe")?.lolbin);
  t.ok(kb.lookup("svchost.exe")?.paths?.includes("c:\\windows\\system32\\"));
  const nginx = kb.lookup("nginx")!;
  t.ok(nginx.listens === "*" || nginx.listens.has("https"));
  const ssh = kb.lookup("ssh")!;
  t.ok(ssh.outbound !== "*" && ssh.outbound.has("ssh"));
  t.ok(kb.kernelThreads.includes("kworker"));
  t.ok(kb.profiles.length > 100, `${kb.profiles.length} binaries`);
});

t.test("the loaders reject malformed data, saying where", async (t) => {
  const ports = { protocols: { a: { description: "A", tcp: [1] }, b: { description: "B", tcp: [[1, 2]] } }, groups: {} };
  t.throws(() => buildPortTable(ports), { code: "ODW_ERR_DATA", message: 'ports.json: tcp/1 is claimed by both "a" and "b"' });
  t.throws(() => buildPortTable({ protocols: { A: { description: "x" } }, groups: {} }), { message: /protocol name "A"/ });
  t.throws(() => buildPortTable({ protocols: { a: { description: "x", tcp: [70000] } }, groups: {} }), { message: /bad tcp port 70000/ });
  t.throws(() => buildPortTable({ protocols: { a: { description: "x", sctp: [1] } }, groups: {} }), { message: /unknown key "sctp"/ });
  t.throws(() => buildPortTable({ protocols: {}, groups: { g: ["nope"] } }), { message: /group "g" names unknown protocol "nope"/ });
  t.throws(() => buildPortTable([]), { message: /expected an object/ });

  const p = buildPortTable({ protocols: { http: { description: "H", tcp: [80] } }, groups: { web: ["http"] } });
  const entry = { id: "x", names: ["x"], os: ["linux"], class: "client", outbound: ["@web"], listens: [] };
  t.equal(buildKnowledgeBase({ kernelThreads: [], binaries: [entry] }, p).lookup("X")?.id, "x");
  const bad = (over: object) => () => buildKnowledgeBase({ kernelThreads: [], binaries: [{ ...entry, ...over }] }, p);
  t.throws(bad({ outbound: ["@mail"] }), { message: 'binaries.json: binary "x": "outbound" names unknown group "@mail"' });
  t.throws(bad({ listens: ["gopher"] }), { message: /unknown protocol "gopher"/ });
  t.throws(bad({ class: "weird" }), { message: /"class" must be one of/ });
  t.throws(bad({ names: ["X"] }), { message: /lower-case/ });
  t.throws(bad({ colour: "red" }), { message: /unknown key "colour"/ });
  t.throws(bad({ os: ["beos"] }), { message: /"os" must list/ });
  t.throws(() => buildKnowledgeBase({ kernelThreads: [], binaries: [entry, { ...entry, id: "y" }] }, p), { message: 'binaries.json: name "x" is in both "x" and "y"' });
  t.throws(() => buildKnowledgeBase({ kernelThreads: [], binaries: [entry, entry] }, p), { message: /id "x" appears twice/ });
});
