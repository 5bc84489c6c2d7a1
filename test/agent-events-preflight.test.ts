// decidePreflight on literal facts, and one real check on this machine.

import t from "tap";
import { capEffFromStatus, decidePreflight, parseCapMask, preflight, tracefsInMounts, type PreflightFacts } from "oddwire-agent/collect/linux/events/preflight.js";

const ROOT: PreflightFacts = {
  kernelRelease: "6.18.44-fc-v857",
  tracefsMounted: true,
  tracefsReadable: true,
  tracefsMountPoint: true,
  btf: true,
  capEffHex: "000001ffffffffff",
  bpftracePath: "/usr/bin/bpftrace",
  perfEventParanoid: 2,
};

t.test("capabilities from /proc/self/status", async (t) => {
  const status = "Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\nCapBnd:\t000001ffffffffff\n";
  t.equal(capEffFromStatus(status), "000001fffeffffff");
  t.equal(capEffFromStatus("Name:\tx\n"), null);
  t.equal(parseCapMask("000001fffeffffff"), 0x1fffeffffffn);
  t.equal(parseCapMask("zz"), null);
  t.equal(parseCapMask("1".repeat(17)), null);
});

t.test("root with everything: ok", async (t) => {
  const r = decidePreflight(ROOT);
  t.same(r.missing, []);
  t.ok(r.ok);
  t.same(r.capabilities, ["CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_PERFMON", "CAP_BPF"]);
  t.same(r.warnings, []);
  t.equal(r.mountTracefs, false);
});

t.test("root without CAP_SYS_RESOURCE (this kind of VM): ok, with a memlock warning", async (t) => {
  const r = decidePreflight({ ...ROOT, capEffHex: "000001fffeffffff" });
  t.ok(r.ok);
  t.notOk(r.capabilities.includes("CAP_SYS_RESOURCE"));
  t.match(r.warnings, [/RLIMIT_MEMLOCK/]);
});

t.test("tracefs not mounted: mount it when CAP_SYS_ADMIN allows, else say how", async (t) => {
  t.equal(tracefsInMounts("sysfs /sys sysfs rw,nosuid 0 0\nnodev /sys/kernel/tracing tracefs rw,relatime 0 0\n"), true);
  t.equal(tracefsInMounts("tracefs /sys/kernel/debug/tracing tracefs rw 0 0\n"), true, "the old place, under debugfs");
  t.equal(tracefsInMounts("sysfs /sys sysfs rw 0 0\ndebugfs /sys/kernel/debug debugfs rw 0 0\n"), false);
  t.equal(tracefsInMounts("tracefs /mnt/elsewhere tracefs rw 0 0\n"), false, "bpftrace does not look there");
  const r = decidePreflight({ ...ROOT, tracefsMounted: false, tracefsReadable: false });
  t.ok(r.ok);
  t.equal(r.mountTracefs, true);
  t.match(r.warnings, [/tracefs is not mounted; it will be mounted/]);

  // CAP_BPF + CAP_PERFMON only (bits 38, 39)
  const r2 = decidePreflight({ ...ROOT, tracefsMounted: false, tracefsReadable: false, capEffHex: "000000c000000000" });
  t.notOk(r2.ok);
  t.equal(r2.mountTracefs, false);
  t.match(r2.missing, [/tracefs is not mounted.*needs CAP_SYS_ADMIN/]);

  const r3 = decidePreflight({ ...ROOT, tracefsMounted: false, tracefsReadable: false, tracefsMountPoint: false });
  t.match(r3.missing, [/no tracefs/]);

  // Mounted, but root-only (mode 0700) and this process is not root.
  const r4 = decidePreflight({ ...ROOT, tracefsReadable: false, capEffHex: "000000c000000000" });
  t.same(r4.missing, ["tracefs is mounted but this process cannot read /sys/kernel/tracing/events (root-only by default), where bpftrace finds the tracepoints"]);
});

t.test("CAP_BPF + CAP_PERFMON without CAP_SYS_ADMIN is enough to load", async (t) => {
  const r = decidePreflight({ ...ROOT, capEffHex: "000000c000000000" });
  t.ok(r.ok, r.missing.join("; "));
  t.match(r.warnings, [/RLIMIT_MEMLOCK/, /other users' processes/]);
});

t.test("an unprivileged process, no BTF, no bpftrace, old kernel: every reason in words", async (t) => {
  const r = decidePreflight({
    kernelRelease: "5.10.0-28-amd64",
    tracefsMounted: true,
    tracefsReadable: true,
    tracefsMountPoint: true,
    btf: false,
    capEffHex: "0000000000000000",
    bpftracePath: null,
    perfEventParanoid: 2,
  });
  t.notOk(r.ok);
  t.same(r.capabilities, []);
  t.match(r.missing, [/older than 6.4/, /neither CAP_SYS_ADMIN nor both CAP_BPF and CAP_PERFMON/, /cannot read kernel memory/, /no BTF/, /bpftrace is not installed/]);
  t.equal(r.missing.length, 5);

  t.match(decidePreflight({ ...ROOT, kernelRelease: "4.15.0" }).missing, [/older than 4.16/]);
  t.match(decidePreflight({ ...ROOT, capEffHex: null }).missing, [/could not be read/]);
  t.match(decidePreflight({ ...ROOT, kernelRelease: "weird" }).warnings, [/not a version number/]);
});

t.test("this machine", async (t) => {
  const r = preflight();
  t.type(r.facts.kernelRelease, "string");
  t.ok(r.facts.capEffHex, "CapEff is readable");
  if (process.getuid?.() !== 0) {
    t.notOk(r.ok, "not root: refused");
    t.ok(r.missing.length > 0);
    return;
  }
  t.ok(r.capabilities.includes("CAP_SYS_ADMIN"), "root has CAP_SYS_ADMIN");
  if (r.facts.bpftracePath === null) t.match(r.missing, [/bpftrace is not installed/]);
  // Whatever is missing is said in a sentence, and ok agrees with it.
  t.equal(r.ok, r.missing.length === 0);
  t.comment(`preflight: ok=${r.ok} missing=${JSON.stringify(r.missing)} warnings=${JSON.stringify(r.warnings)}`);
});
