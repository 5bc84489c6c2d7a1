// Facts about the machine for the collector's host list and the report (OS
// distribution and release, kernel, virtualization, hardware vendor and
// model), from systeminformation: the design's library for system facts,
// which knows each OS's sources (os-release, DMI, WMI, sysctl). Read once per
// process: they do not change while the agent runs, and reading them costs
// about 0.1 s. A failure leaves the fields empty with a warning; a snapshot
// never waits more than FACTS_TIMEOUT_MS for them.

import si from "systeminformation";
import { STRING_LIMITS, truncateUtf8, type HostFactsRecord } from "@oddwire/shared";

const FACTS_TIMEOUT_MS = 5_000;
const EMPTY: HostFactsRecord = { distro: "", release: "", kernel: "", virtualization: "", hardwareVendor: "", hardwareModel: "" };

let once: Promise<{ facts: HostFactsRecord; warning: string | null }> | null = null;

/** The machine's facts, read on the first call and remembered. */
export function hostFacts(): Promise<{ facts: HostFactsRecord; warning: string | null }> {
  once ??= readFacts();
  return once;
}

/** systeminformation's answers, cut to the wire's bound. Pure. */
export function factsFrom(os: Partial<si.Systeminformation.OsData>, sys: Partial<si.Systeminformation.SystemData>): HostFactsRecord {
  const cut = (s: unknown) => truncateUtf8(typeof s === "string" ? s.trim() : "", STRING_LIMITS.os_version);
  return {
    distro: cut(os.distro),
    release: cut(os.release),
    kernel: cut(os.kernel),
    // `virtual` is systeminformation's verdict; virtualHost names the hypervisor where it can.
    virtualization: sys.virtual ? cut(sys.virtualHost) || "yes" : "",
    hardwareVendor: cut(sys.manufacturer),
    hardwareModel: cut(sys.model),
  };
}

async function readFacts(): Promise<{ facts: HostFactsRecord; warning: string | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${FACTS_TIMEOUT_MS} ms`)), FACTS_TIMEOUT_MS);
    timer.unref();
  });
  try {
    const [os, sys] = await Promise.race([Promise.all([si.osInfo(), si.system()]), timeout]);
    return { facts: factsFrom(os, sys), warning: null };
  } catch (err) {
    return { facts: EMPTY, warning: `host facts (distribution, virtualization, hardware) could not be read: ${(err as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}
