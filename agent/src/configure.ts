// `oddwire-agent configure`: validates the collector URL, the enrollment
// secret and the CA certificate, then writes the service's config file and
// secret file, owner-only. The installers call it (the .deb's postinst, the
// .msi's custom action) so a bad value fails the install with a clear line
// instead of a service that restarts forever.

import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { OddwireError, resolveSecret } from "@oddwire/shared";
import { checkEnrollSecret } from "./enroll-secret.js";
import { checkPrivateDirectory } from "./identity/safe-files.js";
import { RUN_SCHEMA } from "./run-config.js";

export { checkEnrollSecret };

export interface ConfigureRequest {
  collector: string;
  enrollSecret: string;
  /** Where the config file goes (the service's --config). */
  out: string;
  /** Where the secret file goes (default: enroll-secret beside the config file). */
  secretOut?: string;
  /** A PEM CA certificate to pin; "" removes a pin set earlier; absent leaves it. */
  caCert?: string;
  stateDir?: string;
}

export interface ConfigureResult {
  configFile: string;
  secretFile: string;
}

export function checkCollectorUrl(url: string): string {
  const fail = (why: string): never => {
    throw new OddwireError("ODW_ERR_CONFIG", `the collector URL ${JSON.stringify(url)} ${why}`);
  };
  const spec = RUN_SCHEMA["collector"];
  if (spec?.type === "string" && spec.pattern && !spec.pattern.test(url)) fail("must be a ws://, wss://, http:// or https:// URL, such as wss://collector.example:8443");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail("is not a valid URL");
  }
  if (!parsed.hostname) fail("names no host");
  if (parsed.username || parsed.password) fail("must not carry a user name or password (the agent authenticates with its key)");
  return url;
}

function checkCaCert(path: string): string {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new OddwireError("ODW_ERR_INPUT", `cannot read the CA certificate ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    new X509Certificate(pem);
  } catch (err) {
    throw new OddwireError("ODW_ERR_INPUT", `${path} is not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
  return path;
}

/** Writes a file owner-only, whole or not at all (temporary file, then rename). */
function writeOwnerOnly(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    writeFileSync(tmp, text, { mode: 0o600, flag: "wx" });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new OddwireError("ODW_ERR_CONFIG", `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * On Windows, a folder under ProgramData is readable by every user. This
 * leaves it to SYSTEM (S-1-5-18) and Administrators (S-1-5-32-544), named by
 * SID so that it works in every language, in an order that never opens it
 * wider on the way: first the folder's own entries are replaced (inheritance
 * from ProgramData cut), then everything below is reset to inherit only
 * those, then Administrators take ownership (a folder made before the
 * install by another user is theirs until then).
 */
export function restrictDirectoryOnWindows(dir: string): void {
  if (process.platform !== "win32") return;
  refuseLink(dir);
  try {
    for (const args of [
      [dir, "/inheritance:r", "/grant:r", "*S-1-5-18:(OI)(CI)F", "*S-1-5-32-544:(OI)(CI)F"],
      [join(dir, "*"), "/reset", "/T", "/C", "/Q"],
      [dir, "/setowner", "*S-1-5-32-544", "/T", "/C", "/Q"],
    ]) {
      const r = spawnSync("icacls", args, { stdio: "pipe", windowsHide: true, encoding: "utf8" });
      // "/reset" on dir\* finds nothing to do in an empty folder; anything else must succeed.
      if (r.status !== 0 && !(args[1] === "/reset" && readdirSync(dir).length === 0))
        throw new Error(`icacls ${args.join(" ")}: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
    }
  } catch (err) {
    throw new OddwireError("ODW_ERR_CONFIG", `cannot restrict ${dir} to SYSTEM and Administrators: ${(err as Error).message}`, { cause: err });
  }
}

/** A link (or junction) where a directory should be would send the writes elsewhere. */
function refuseLink(path: string): void {
  let isLink = false;
  try {
    isLink = lstatSync(path).isSymbolicLink();
  } catch {
    return; // not there yet
  }
  if (isLink) throw new OddwireError("ODW_ERR_CONFIG", `${path} is a link or junction, not a directory; remove it and configure again`);
}

export function configureAgent(req: ConfigureRequest): ConfigureResult {
  const collector = checkCollectorUrl(req.collector);
  const secret = checkEnrollSecret(req.enrollSecret);
  // "" removes a CA pin set earlier; undefined leaves it as it is.
  const caCert = req.caCert ? checkCaCert(resolve(req.caCert)) : req.caCert;
  const stateDir = req.stateDir ? resolve(req.stateDir) : undefined;
  const configFile = resolve(req.out);
  const secretFile = resolve(req.secretOut ?? `${dirname(configFile)}/enroll-secret`);
  if (configFile === secretFile) throw new OddwireError("ODW_ERR_USAGE", "the config file and the secret file must be different files");
  // Read before anything is written: a config file that cannot be kept fails the whole command.
  const previous = previousSettings(configFile);
  for (const dir of new Set([dirname(configFile), dirname(secretFile)])) {
    refuseLink(dir);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    restrictDirectoryOnWindows(dir);
  }
  if (stateDir) {
    refuseLink(stateDir);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    restrictDirectoryOnWindows(stateDir);
    // `run` would refuse it at every start: better to fail the install now.
    // Its owner is not checked: the installers run this as root for the
    // service's own user, who owns the directory.
    checkPrivateDirectory(stateDir, "the state directory", { checkOwner: false });
  }
  writeOwnerOnly(secretFile, `${secret}\n`);
  // Settings an administrator added (schedule, spoolMaxBytes...) survive a reconfigure.
  const config: Record<string, unknown> = { ...previous, collector, enrollSecretFile: secretFile };
  delete config["enrollSecret"];
  if (caCert) config["caCert"] = caCert;
  else if (caCert === "") delete config["caCert"];
  if (stateDir) config["stateDir"] = stateDir;
  writeOwnerOnly(configFile, `${JSON.stringify(config, null, 2)}\n`);
  return { configFile, secretFile };
}

function previousSettings(configFile: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(configFile, "utf8");
  } catch {
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new OddwireError("ODW_ERR_CONFIG", `${configFile} exists but is not a JSON object; fix or remove it, then configure again`);
}

/** The secret from --enroll-secret-file (- for standard input), --enroll-secret or the environment. */
export function readSecretInput(given: string | undefined, file: string | undefined, envValue: string | undefined): string {
  let secret: string | undefined;
  if (file === "-") {
    try {
      secret = readFileSync(0, "utf8").split("\n", 1)[0]!.trim();
    } catch (err) {
      throw new OddwireError("ODW_ERR_CONFIG", `cannot read the enrollment secret from standard input: ${(err as Error).message}`, { cause: err });
    }
  } else {
    secret = resolveSecret(given, file, envValue, "enrollment secret");
  }
  if (secret === undefined || (secret === "" && file === undefined))
    throw new OddwireError("ODW_ERR_CONFIG", "configure needs the enrollment secret: --enroll-secret-file F (- for standard input), --enroll-secret S or $ODDWIRE_ENROLL_SECRET");
  return secret;
}
