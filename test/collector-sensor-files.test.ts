// Sensor log files as the collector reads them (sensor-import, and the
// follower `serve` runs on sensorDirs): a truncated last line waits for its
// newline; a file read again resumes where it stopped (no line twice, none
// skipped) also across a restart; rotation by rename and then compression is
// followed without reading a line twice; gzip files import; over-long lines
// are skipped and counted, a 1 GB file among them (sparse: a hole of NULs
// makes one over-long line, so the test stays fast). Lines are written from
// Zeek's and Suricata's published formats (neither is packaged here).

import t from "tap";
import { spawnSync } from "node:child_process";
import { appendFileSync, closeSync, ftruncateSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { createLogger } from "@oddwire/shared";
import { SensorFollower } from "oddwire-collector/sensor/sensor-follower.js";
import { openDb } from "oddwire-collector/store/open-db.js";
import { COLLECTOR_BIN, query } from "./lib/fleet.js";

const cli = (args: string[]) => spawnSync(process.execPath, [COLLECTOR_BIN, ...args], { encoding: "utf8" });
const HEADER = ["#separator \\x09", "#path\tweird", "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tname\taddl"].join("\n") + "\n";
const weird = (i: number) => `1764612375.${String(i).padStart(6, "0")}\tC${i}\t10.0.0.5\t${40000 + i}\t10.0.0.9\t80\tweird_${i}\t-\n`;
const eve = (i: number) =>
  JSON.stringify({
    timestamp: "2026-12-01T18:06:15.000000+0000",
    event_type: "anomaly",
    src_ip: "10.0.0.5",
    src_port: 1000 + i,
    dest_ip: "10.0.0.9",
    dest_port: 22,
    proto: "TCP",
    anomaly: { type: "stream", event: `e${i}` },
  }) + "\n";
const names = (db: string) => query<{ text: string }>(db, "SELECT text FROM sensor_events ORDER BY id").map((r) => r.text);

function freshDb(dir: string): string {
  const db = join(dir, "fleet.db");
  openDb(db).close();
  return db;
}

t.test("sensor-import: truncated last line, resume, gzip, errors, unknown files", async (t) => {
  const dir = t.testdir();
  const db = freshDb(dir);
  const log = join(dir, "weird.log");
  writeFileSync(log, HEADER + weird(1) + weird(2) + weird(3).slice(0, 20));
  let r = cli(["sensor-import", "--db", db, log]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /zeek-tsv, 5 lines read, 2 kept as evidence, 0 rejected, 0 too long/);
  t.match(r.stdout, /the last line has no newline yet \(20 bytes\): left for the next import/);
  appendFileSync(log, weird(3).slice(20) + "garbage\tline\n" + weird(4));
  r = cli(["sensor-import", "--db", db, log]);
  t.match(r.stdout, /3 lines read \(from byte \d+, where the last read stopped\), 2 kept as evidence, 1 rejected/);
  t.match(r.stdout, /line 7: ts "garbage" is not a time/);
  t.same(names(db), ["weird: weird_1", "weird: weird_2", "weird: weird_3", "weird: weird_4"], "every line once, the header re-read for the resumed part");
  r = cli(["sensor-import", "--db", db, log]);
  t.match(r.stdout, /0 lines read/);

  const gz = join(dir, "eve.json.gz");
  writeFileSync(gz, gzipSync(eve(1) + eve(2) + eve(3).trimEnd()));
  r = cli(["sensor-import", "--db", db, gz]);
  t.match(r.stdout, /suricata-eve, 3 lines read, 3 kept/);
  t.match(cli(["sensor-import", "--db", db, gz]).stdout, /already read to its end/);

  writeFileSync(join(dir, "syslog"), "Dec  1 18:06:15 host sshd[1]: hello\n");
  r = cli(["sensor-import", "--db", db, join(dir, "syslog")]);
  t.equal(r.status, 1);
  t.match(r.stdout, /not a Zeek or Suricata log/);
  r = cli(["sensor-import", "--db", db, join(dir, "missing.log")]);
  t.equal(r.status, 1);
  t.match(r.stderr, /missing\.log: cannot read it \(ENOENT\)/);
});

t.test("a 1 GB file: the over-long line is skipped without being held, the lines around it kept", async (t) => {
  const dir = t.testdir();
  const db = freshDb(dir);
  const big = join(dir, "weird.log");
  writeFileSync(big, HEADER + weird(1));
  const fd = openSync(big, "r+");
  ftruncateSync(fd, 1024 ** 3); // a hole of NULs up to 1 GiB: one line with no newline yet
  closeSync(fd);
  appendFileSync(big, "\n" + weird(2));
  t.ok(statSync(big).size > 1024 ** 3);
  const r = cli(["sensor-import", "--db", db, big]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /2 kept as evidence, 0 rejected, 1 too long/);
  t.same(names(db), ["weird: weird_1", "weird: weird_2"]);
});

t.test("the follower: rotation by rename, then compression, and a restart mid-file", async (t) => {
  const dir = t.testdir();
  const db = freshDb(dir);
  const logs = join(dir, "logs");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(logs);
  const quiet = createLogger({ name: "test", level: "error" });
  const follow = async () => {
    const d = openDb(db);
    try {
      await new SensorFollower(d, [logs], 65536, quiet).poll();
    } finally {
      d.close();
    }
  };
  const current = join(logs, "eve.json");
  writeFileSync(current, eve(1) + eve(2) + eve(3).slice(0, 30));
  await follow();
  t.equal(names(db).length, 2, "a truncated last line waits");
  appendFileSync(current, eve(3).slice(30) + eve(4));
  // Rotated: renamed (same inode), a new file started, then the old one compressed and removed.
  renameSync(current, join(logs, "eve.json.1"));
  writeFileSync(current, eve(5));
  await follow(); // a new follower each time: a restart
  t.equal(names(db).length, 5);
  appendFileSync(join(logs, "eve.json.1"), eve(6)); // the sensor still had it open
  writeFileSync(join(logs, "eve.json.1.gz"), gzipSync(readFileSync(join(logs, "eve.json.1"))));
  rmSync(join(logs, "eve.json.1"));
  appendFileSync(current, eve(7));
  await follow();
  t.same(
    names(db)
      .map((n) => n.replace(/^.*: /, ""))
      .sort(),
    ["e1", "e2", "e3", "e4", "e5", "e6", "e7"],
    "every line once: the compressed copy was read on from where its plain file stopped",
  );
  await follow();
  t.equal(names(db).length, 7, "nothing new, nothing read again");
});

t.test("configuration and command-line errors are one clear line each", async (t) => {
  const dir = t.testdir({
    "serve.json": JSON.stringify({ sensorDirs: ["/no/such/zeek/logs"], enrollSecret: "test-enroll-secret" }),
    "bad.json": JSON.stringify({ sensorDirs: "/var/log", enrollSecret: "test-enroll-secret" }),
  });
  const db = freshDb(dir);
  let r = cli(["serve", "--port", "0", "--db", db, "--config", join(dir, "serve.json")]);
  t.equal(r.status, 1);
  t.match(r.stderr, /ODW_ERR_CONFIG: .*"sensorDirs": "\/no\/such\/zeek\/logs" is not a directory; give the directory the sensor writes its logs to/);
  r = cli(["serve", "--port", "0", "--db", db, "--config", join(dir, "bad.json")]);
  t.match(r.stderr, /ODW_ERR_CONFIG: .*"sensorDirs" must be a list of directory paths/);
  r = cli(["sensor-import", "--db", db]);
  t.equal(r.status, 2);
  t.match(r.stderr, /sensor-import needs at least one PATH/);
  r = cli(["sensor-token", "add", "bad name!", "--db", db]);
  t.match(r.stderr, /needs the token's NAME/);
  t.equal(cli(["sensor-token", "add", "zeek-dmz", "--db", db]).status, 0);
  r = cli(["sensor-token", "add", "zeek-dmz", "--db", db]);
  t.match(r.stderr, /a sensor token named zeek-dmz exists already/);
  t.match(cli(["sensor-token", "list", "--db", db]).stdout, /^zeek-dmz {2}active {2}added .* last used -\n1 sensor token\n$/);
  t.match(cli(["sensor-token", "revoke", "nobody", "--db", db]).stderr, /no active sensor token is named "nobody"/);
});
