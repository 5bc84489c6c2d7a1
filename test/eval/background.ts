// The realistic background of an evaluation fleet: what ordinary Linux
// servers and Windows desktops run and say on the network, with the
// prevalence a mid-sized organisation sees (a mail client on a quarter of the
// desktops, a web server on some servers, package managers everywhere).

import type { EvalHost } from "./eval-host.js";

export function linuxBackground(h: EvalHost, r: () => number): void {
  const systemd = h.proc("systemd", "/usr/lib/systemd/systemd", "/sbin/init");
  const sshd = h.proc("sshd", "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D", systemd);
  h.listen(sshd, 22);
  h.proc("cron", "/usr/sbin/cron", "/usr/sbin/cron -f", systemd);
  h.proc("rsyslogd", "/usr/sbin/rsyslogd", "/usr/sbin/rsyslogd -n", systemd);
  h.connect(h.proc("chronyd", "/usr/sbin/chronyd", "/usr/sbin/chronyd -F 1", systemd), "192.0.2.123", 123, "udp");
  h.listen(h.proc("systemd-resolve", "/usr/lib/systemd/systemd-resolved", "/lib/systemd/systemd-resolved", systemd), 53, "udp", "127.0.0.53");
  const shell = h.proc("bash", "/usr/bin/bash", "-bash", sshd, { user: "alice" });
  h.proc("vim", "/usr/bin/vim.basic", "vim /etc/hosts", shell, { user: "alice" });
  const kind = r();
  if (kind < 0.4) {
    const nginx = h.proc("nginx", "/usr/sbin/nginx", "nginx: master process /usr/sbin/nginx", systemd);
    h.listen(nginx, 80);
    h.listen(nginx, 443);
    h.connect(nginx, "10.1.2.3", 8080);
    h.connect(nginx, "10.1.2.4", 3000);
  } else if (kind < 0.6) {
    h.listen(h.proc("postgres", "/usr/lib/postgresql/15/bin/postgres", "postgres -D /var/lib/postgresql/15/main", systemd, { user: "postgres" }), 5432);
  } else {
    const app = h.proc("node", "/usr/bin/node", "node /srv/app/server.js", systemd, { user: "app" });
    h.listen(app, 3000);
    h.connect(app, "10.1.3.4", 5432);
    h.connect(app, "198.51.100.20", 443);
  }
  if (r() < 0.7) h.connect(h.proc("unattended-upgr", "/usr/bin/python3.11", "/usr/bin/python3 /usr/bin/unattended-upgrade", systemd), "198.51.100.80", 443);
  if (r() < 0.5) h.connect(h.proc("curl", "/usr/bin/curl", "curl -fsS https://status.example.com/ping", systemd), "198.51.100.81", 443);
  if (r() < 0.3) h.connect(h.proc("git", "/usr/bin/git", "git fetch origin", shell, { user: "alice" }), "198.51.100.82", 22);
  if (r() < 0.3) h.connect(h.proc("ssh", "/usr/bin/ssh", "ssh deploy@10.1.5.5", shell, { user: "alice" }), "10.1.5.5", 22);
}

export function windowsBackground(h: EvalHost, r: () => number): void {
  const wininit = h.proc("wininit.exe", "C:\\Windows\\System32\\wininit.exe", "wininit.exe", 4);
  const services = h.proc("services.exe", "C:\\Windows\\System32\\services.exe", "C:\\Windows\\system32\\services.exe", wininit);
  h.listen(h.proc("lsass.exe", "C:\\Windows\\System32\\lsass.exe", "C:\\Windows\\system32\\lsass.exe", wininit), 49664);
  h.listen(h.proc("svchost.exe", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k RPCSS -p", services), 135);
  const svc2 = h.proc("svchost.exe", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k NetworkService -p", services);
  h.connect(svc2, "203.0.113.53", 53, "udp");
  h.connect(svc2, "203.0.113.10", 443);
  const explorer = h.proc("explorer.exe", "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", 900);
  const user = { user: "CORP\\bob" };
  const chrome = h.proc("chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"', explorer, user);
  h.connect(chrome, "198.51.100.1", 443);
  h.connect(chrome, "198.51.100.2", 443, "udp");
  h.proc("notepad.exe", "C:\\Windows\\System32\\notepad.exe", "notepad.exe C:\\Users\\bob\\todo.txt", explorer, user);
  h.connect(h.proc("WINWORD.EXE", "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE", '"WINWORD.EXE" /n report.docx', explorer, user), "198.51.100.30", 443);
  if (r() < 0.5)
    h.connect(
      h.proc("OneDrive.exe", "C:\\Users\\bob\\AppData\\Local\\Microsoft\\OneDrive\\24.1.0.1\\OneDrive.exe", "OneDrive.exe /background", explorer, user),
      "198.51.100.40",
      443,
    );
  if (r() < 0.6) h.proc("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "powershell.exe -NoProfile", explorer, user);
  if (r() < 0.4) h.connect(h.proc("Teams.exe", "C:\\Users\\bob\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe", "Teams.exe", explorer, user), "198.51.100.50", 443);
}
