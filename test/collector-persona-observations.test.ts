// The store side of the persona-to-fleet link on a real SQLite database:
// the destination names hosts reached under a persona's domains become
// "destination-name" observations with the process and its user; a name
// only a server was sent, a look-alike name and a revoked host's are not.

import t from "tap";
import { join } from "node:path";
import { fleetObservations } from "oddwire-collector/persona/persona-section.js";
import { openStore } from "oddwire-collector/store/store.js";
import type { SqliteSql } from "oddwire-collector/store/sqlite-sql.js";

const T0 = 1_764_612_375_000;

t.test("destination names under the domains, from processes that reached them", async (t) => {
  const store = await openStore(join(t.testdir(), "fleet.db"));
  t.teardown(() => store.close());
  // Rows are written as they would be stored, on the store's own SQLite connection.
  const db = (store.sql as SqliteSql).db;
  const host = (id: string, revokedAt: number | null = null) =>
    db.prepare("INSERT INTO hosts (host_id, hostname, key_hash, enrolled_at, revoked_at) VALUES (?, ?, 'x', 0, ?)").run(id, `${id}.lan`, revokedAt);
  const named = (hostId: string, name: string, pid: number, exe: string, direction: string, first = T0) => {
    db.prepare(`INSERT INTO destination_names (host_id, name, kind, binary, pid, exe, cmdline, first_seen, last_seen, received_at)
      VALUES (?, ?, 'tls-sni', ?, ?, ?, ?, ?, ?, ?)`).run(hostId, name, exe, pid, exe, `${exe} --quiet`, first, first + 60_000, first);
    db.prepare(`INSERT INTO flows (host_id, binary, pid, name, exe, cmdline, transport, direction, family, client_address, client_port, server_address, server_port,
      community_id, port_protocol, wire_protocol, confidence, risks, names, bytes, packets, first_seen, last_seen, tags, seq, received_at)
      VALUES (?, ?, ?, 'x', ?, '', 'tcp', ?, 4, '10.0.0.5', 40112, '10.0.0.9', 443, '', 'https', 'TLS', 'DPI', '[]', ?, 1, 1, ?, ?, '[]', 1, ?)`).run(
      hostId,
      exe,
      pid,
      exe,
      direction,
      JSON.stringify([name]),
      first,
      first,
      first,
    );
  };
  host("a");
  host("srv");
  host("gone", T0);
  db.prepare(`INSERT INTO processes (host_id, pid, started_at, ppid, name, exe, binary, cmdline, user, uid, sha256, exe_deleted, tags)
    VALUES ('a', 100, ?, 1, 'updater', '/opt/updater', '/opt/updater', '/opt/updater --quiet', 'bob', 1000, '', 0, '[]')`).run(T0 - 1000);
  named("a", "CDN.Careers-Example.test", 100, "/opt/updater", "outbound");
  named("a", "xcareers-example.test", 101, "/opt/other", "outbound");
  named("a", "careers-example.test.evil.net", 102, "/opt/other2", "outbound");
  named("srv", "careers-example.test", 200, "/usr/sbin/nginx", "inbound");
  named("gone", "careers-example.test", 300, "/opt/updater", "outbound");
  const obs = await fleetObservations(store.personas, ["careers-example.test", "other_domain.test"]);
  t.same(
    obs.filter((o) => o.source === "destination-name"),
    [
      {
        hostId: "a",
        hostname: "a.lan",
        value: "CDN.Careers-Example.test",
        pid: 100,
        exe: "/opt/updater",
        cmdline: "/opt/updater --quiet",
        seenAtMs: T0,
        user: "bob",
        source: "destination-name",
      },
    ],
  );
});
