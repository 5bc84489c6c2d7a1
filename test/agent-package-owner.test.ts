// Class 1 of issue 12: whether an executable is packaged and how long the
// host has had it. The dpkg list parser on literal text, the cached lookup on
// a real directory of lists (refreshed when dpkg's directory changes), this
// host's own dpkg where there is one, and what the facts do to tags.

import { existsSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { knowledgeBase, TAG, tagProcess, tagSocket, type PackageFacts, type SocketContext } from "@oddwire/shared";
import { ownersInList, PackageOwners, packageOfListFile, pathAliases } from "oddwire-agent/identity/package-owner.js";

t.test("parsing dpkg's lists", async (t) => {
  t.equal(packageOfListFile("libc6:amd64.list"), "libc6");
  t.equal(packageOfListFile("coreutils.list"), "coreutils");
  t.same(pathAliases("/usr/bin/sleep"), ["/usr/bin/sleep", "/bin/sleep"]);
  t.same(pathAliases("/sbin/ip"), ["/sbin/ip", "/usr/sbin/ip"]);
  t.same(pathAliases("/opt/x/bin/y"), ["/opt/x/bin/y"]);
  const found = new Map<string, string>();
  const wanted = new Map([
    ["/usr/bin/sleep", "/usr/bin/sleep"],
    ["/bin/sleep", "/usr/bin/sleep"],
    ["/usr/bin/curl", "/usr/bin/curl"],
  ]);
  ownersInList("/.\n/bin\n/bin/sleep\n/usr/share/doc/coreutils\n", "coreutils", wanted, found);
  ownersInList("/usr/bin/curl", "curl", wanted, found);
  t.same(
    [...found],
    [
      ["/usr/bin/sleep", "coreutils"],
      ["/usr/bin/curl", "curl"],
    ],
  );
});

t.test("the cached lookup reads the lists once, again when dpkg's directory changes", async (t) => {
  const dir = t.testdir({ "coreutils.list": "/.\n/bin/sleep\n", "curl:amd64.list": "/usr/bin/curl\n", status: "" });
  const owners = new PackageOwners(dir);
  t.ok(owners.available());
  const first = owners.lookup(["/usr/bin/sleep", "/usr/bin/curl", "/tmp/dropper"])!;
  t.same(Object.fromEntries(first), {
    "/usr/bin/sleep": { package: "coreutils", source: "dpkg" },
    "/usr/bin/curl": { package: "curl", source: "dpkg" },
    "/tmp/dropper": { package: "", source: "dpkg" },
  });
  // A package installed since: the cached "no package" must not survive the change.
  writeFileSync(join(dir, "dropper.list"), "/tmp/dropper\n");
  const later = new Date(Date.now() + 5000);
  utimesSync(dir, later, later);
  t.same(owners.lookup(["/tmp/dropper"])!.get("/tmp/dropper"), { package: "dropper", source: "dpkg" });
  t.equal(new PackageOwners(join(dir, "missing")).lookup(["/usr/bin/sleep"]), undefined, "no database: no answer, not 'no package'");
});

t.test("this host's dpkg knows its own shell", { skip: existsSync("/var/lib/dpkg/info") ? false : "no dpkg on this host" }, async (t) => {
  const sh = new PackageOwners().lookup(["/usr/bin/bash"])!.get("/usr/bin/bash");
  t.same(sh, { package: "bash", source: "dpkg" });
});

const DAY = 86_400_000;
const now = Date.UTC(2026, 11, 1);

function ctx(packaged: PackageFacts, protocol = "https"): SocketContext {
  return {
    binary: "syncd",
    profile: undefined,
    direction: "outbound",
    protocol,
    describe: () => `outbound tcp to 192.0.2.70:${protocol === "https" ? 443 : 31337} (${protocol === "https" ? "https" : "unknown protocol"})`,
    localPort: 40000,
    remoteAddress: "192.0.2.70",
    cmdline: "syncd",
    isSelf: false,
    packaged,
  };
}

t.test("packaged, unpackaged and new executables in tags", async (t) => {
  const packaged = { package: "acme-sync", packageSource: "dpkg", exeSinceMs: now - 300 * DAY, nowMs: now };
  t.same(tagSocket(ctx(packaged)), [], "an installed package's program on https is its ordinary traffic");
  const odd = tagSocket(ctx(packaged, "unknown"));
  t.same(
    odd.map((x) => x.code),
    [TAG.UNKNOWN_BINARY_PUBLIC],
  );
  t.match(odd[0]!.reason, /it belongs to the installed package acme-sync \(dpkg\)/);
  const fresh = tagSocket(ctx({ package: "", packageSource: "dpkg", exeSinceMs: now - 3 * 3_600_000, nowMs: now }));
  t.same(
    fresh.map((x) => x.code),
    [TAG.UNKNOWN_BINARY_PUBLIC, TAG.NEW_UNPACKAGED_EXE],
  );
  t.match(fresh[1]!.reason, /syncd belongs to no installed package \(dpkg\) and came to this host 3 h ago, and reaches the internet unknown to oddwire/);
  const old = tagSocket(ctx({ package: "", packageSource: "dpkg", exeSinceMs: now - 30 * DAY, nowMs: now }));
  t.same(
    old.map((x) => x.code),
    [TAG.UNKNOWN_BINARY_PUBLIC],
    "a month-old unpackaged binary is unknown, not new",
  );
  t.same(
    tagSocket(ctx({})).map((x) => x.code),
    [TAG.UNKNOWN_BINARY_PUBLIC],
    "where no package database can tell, nothing changes",
  );

  const kb = knowledgeBase();
  const p = { name: "x", exe: "/tmp/x", cmdline: "/tmp/x", exeDeleted: false };
  t.same(
    tagProcess(p, { dirWorldWritable: false, package: "", packageSource: "dpkg", exeSinceMs: now - 600_000, nowMs: now }, kb, "linux").map((x) => x.code),
    [TAG.WRITABLE_DIR_EXE, TAG.NEW_UNPACKAGED_EXE],
  );
  t.same(
    tagProcess({ ...p, exe: "/usr/local/bin/x" }, { dirWorldWritable: false, package: "", packageSource: "dpkg", exeSinceMs: now - 600_000, nowMs: now }, kb, "linux"),
    [],
    "new and unpackaged alone (a build, an update) is not a tag",
  );
});
