// The Zeek and Suricata parsers on literal lines. Neither sensor is packaged
// for this Debian, so these lines are written by hand from each format's
// published documentation: Zeek's log reference (conn, weird, dpd, analyzer,
// notice, ssl, http, dns; the TSV header and JSON writer; the Community ID
// policy script's community_id field) and Suricata's EVE JSON format page
// (flow with app_proto_ts/tc/orig/expected, anomaly, alert, tls, http, dns).

import t from "tap";
import { detectFormat, lineParser } from "oddwire-collector/sensor/sensor-format.js";
import { eveTimeMs, parseEveLine } from "oddwire-collector/sensor/suricata-eve.js";
import { ZeekTsvParser } from "oddwire-collector/sensor/zeek-tsv.js";
import { zeekLogOfFileName } from "oddwire-collector/sensor/zeek-record.js";

const TSV_HEADER = (path: string, fields: string[]) => [
  "#separator \\x09",
  "#set_separator\t,",
  "#empty_field\t(empty)",
  "#unset_field\t-",
  `#path\t${path}`,
  "#open\t2026-12-01-18-00-00",
  `#fields\t${fields.join("\t")}`,
];
const CONN_FIELDS =
  "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents".split(
    " ",
  );

t.test("Zeek conn.log TSV, without and with the community_id field", async (t) => {
  const p = new ZeekTsvParser("conn.log");
  for (const h of TSV_HEADER("conn", CONN_FIELDS)) t.equal(p.parse(h), null);
  // ssh confirmed on 443: a protocol that port does not carry.
  const odd = p.parse("1764612375.123456\tCAbc1\t10.0.0.5\t40112\t198.51.100.7\t443\ttcp\tssh\t2.5\t100\t200\tSF\tT\tF\t0\tShADadFf\t10\t600\t9\t700\t(empty)");
  t.match(odd, {
    source: "zeek",
    log: "conn",
    kind: "protocol",
    tsMs: 1764612375123,
    durationMs: 2500,
    flowKey: "CAbc1",
    communityId: "",
    transport: "tcp",
    origAddress: "10.0.0.5",
    origPort: 40112,
    respAddress: "198.51.100.7",
    respPort: 443,
  });
  t.match((odd as { text: string }).text, /^service ssh on port 443 \(conn_state SF, history ShADadFf\)$/);
  t.equal(p.parse("1764612375.2\tCAbc2\t10.0.0.5\t40113\t198.51.100.7\t443\ttcp\tssl\t1\t1\t1\tSF\tT\tF\t0\tShAD\t1\t1\t1\t1\t(empty)"), null, "TLS on 443 is no evidence");
  t.equal(p.parse("1764612375.3\tCAbc3\t10.0.0.5\t40114\t198.51.100.7\t443\ttcp\t-\t-\t-\t-\tS0\tT\tF\t0\tS\t1\t60\t0\t0\t(empty)"), null, "no service, no evidence");

  const c = new ZeekTsvParser("whatever.log");
  for (const h of TSV_HEADER("conn", [...CONN_FIELDS, "community_id"])) c.parse(h);
  const withId = c.parse("1764612375.5\tCX\t10.0.0.5\t40112\t198.51.100.7\t443\ttcp\tssh\t-\t-\t-\tS1\tT\tF\t0\tShAD\t1\t1\t1\t1\t(empty)\t1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
  t.match(withId, { communityId: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", durationMs: 0 });
  t.match(c.parse("not-a-time\tCY\t10.0.0.5\t1\t10.0.0.6\t2\ttcp\tssh"), { error: /ts "not-a-time" is not a time/ });
  t.match(new ZeekTsvParser("conn.log").parse("1.0\tC\t1.2.3.4"), { error: /before any #fields/ });
});

t.test("Zeek weird, dpd, analyzer, notice and the names, TSV with escapes", async (t) => {
  const w = new ZeekTsvParser();
  for (const h of TSV_HEADER("weird", "ts uid id.orig_h id.orig_p id.resp_h id.resp_p name addl notice peer source".split(" "))) w.parse(h);
  t.match(w.parse("1764612375.0\tCW\t10.0.0.5\t5000\t10.0.0.9\t80\tbad_HTTP_request\tGET\\x09/\\x1b[31m\tF\tzeek\tHTTP"), {
    kind: "anomaly",
    text: "weird: bad_HTTP_request (GET\t/\u001b[31m)",
    weight: 0.5,
  });
  const d = new ZeekTsvParser();
  for (const h of TSV_HEADER("dpd", "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto analyzer failure_reason".split(" "))) d.parse(h);
  t.match(d.parse("1764612375.0\tCD\t10.0.0.5\t5000\t10.0.0.9\t80\ttcp\tHTTP\tnot a http request line"), {
    kind: "anomaly",
    text: "protocol violation: HTTP gave up: not a http request line",
  });
  const a = lineParser("zeek-json", "analyzer.log");
  t.match(
    a.parse(
      '{"ts":1764612375.0,"cause":"violation","analyzer_kind":"protocol","analyzer_name":"SSL","uid":"CA","id.orig_h":"10.0.0.5","id.orig_p":5001,"id.resp_h":"10.0.0.9","id.resp_p":443,"failure_reason":"Invalid version"}',
    ),
    { kind: "anomaly", text: "protocol violation: SSL: Invalid version", respPort: 443 },
  );
  const n = lineParser("zeek-json", "notice.log");
  t.match(n.parse('{"ts":"2026-12-01T18:06:15.500Z","note":"Scan::Port_Scan","msg":"10.0.0.5 scanned 20 ports","src":"10.0.0.5","dst":"10.0.0.9","p":"22/tcp"}'), {
    kind: "anomaly",
    tsMs: Date.parse("2026-12-01T18:06:15.500Z"),
    origAddress: "10.0.0.5",
    respAddress: "10.0.0.9",
    respPort: 22,
    transport: "tcp",
  });
  const ssl = lineParser("zeek-json");
  t.match(ssl.parse('{"_path":"ssl","ts":1.5,"uid":"CS","id.orig_h":"10.0.0.5","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":443,"server_name":"c2.example"}'), {
    kind: "name",
    name: "c2.example",
  });
  t.match(ssl.parse('{"ts":1.5,"uid":"CH","id.orig_h":"10.0.0.5","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":80,"method":"GET","uri":"/","host":"h.example"}'), {
    log: "http",
    name: "h.example",
  });
  t.match(ssl.parse('{"ts":1.5,"uid":"CQ","id.orig_h":"10.0.0.5","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":53,"proto":"udp","query":"q.example","qtype_name":"A"}'), {
    log: "dns",
    name: "q.example",
    transport: "udp",
  });
  t.equal(ssl.parse('{"_path":"files","ts":1.5,"uid":"CF"}'), null, "a log oddwire does not use is skipped");
  t.match(ssl.parse("{broken"), { error: /^not JSON/ });
  t.equal(zeekLogOfFileName("/logs/2026-12-01/conn.18:00:00-19:00:00.log.gz"), "conn");
  t.equal(zeekLogOfFileName("weird.log"), "weird");
});

t.test("Suricata eve: flows in both directions, anomalies, alerts, names", async (t) => {
  // A flow as logged (src = client), with the protocols differing by direction.
  const flow = parseEveLine(
    '{"timestamp":"2026-12-01T18:06:15.123456+0100","flow_id":1234567890123456,"event_type":"flow","src_ip":"10.0.0.5","src_port":40112,"dest_ip":"198.51.100.7","dest_port":443,"proto":"TCP","app_proto":"ssh","app_proto_ts":"ssh","app_proto_tc":"tls","community_id":"1:abc=","flow":{"pkts_toserver":5,"start":"2026-12-01T18:06:15.000000+0100","end":"2026-12-01T18:06:17.000000+0100","state":"closed"}}',
  );
  t.match(flow, {
    source: "suricata",
    kind: "protocol",
    flowKey: "1234567890123456",
    communityId: "1:abc=",
    origAddress: "10.0.0.5",
    origPort: 40112,
    respAddress: "198.51.100.7",
    respPort: 443,
    tsMs: Date.parse("2026-12-01T17:06:15.000Z"),
    durationMs: 2000,
    text: "app-layer protocol ssh to the server but tls to the client on port 443",
  });
  t.match(
    parseEveLine(
      '{"timestamp":"2026-12-01T18:06:15.000000+0000","event_type":"flow","src_ip":"10.0.0.5","src_port":1,"dest_ip":"10.0.0.9","dest_port":443,"proto":"TCP","app_proto":"ssh"}',
    ),
    {
      text: "app-layer protocol ssh on port 443",
    },
  );
  t.match(
    parseEveLine(
      '{"timestamp":"2026-12-01T18:06:15Z","event_type":"flow","src_ip":"10.0.0.5","src_port":1,"dest_ip":"10.0.0.9","dest_port":443,"proto":"TCP","app_proto":"http2","app_proto_orig":"http"}',
    ),
    {
      text: "app-layer protocol changed from http to http2 on port 443",
      weight: 0.4,
    },
  );
  t.equal(
    parseEveLine('{"timestamp":"2026-12-01T18:06:15Z","event_type":"flow","src_ip":"10.0.0.5","src_port":1,"dest_ip":"10.0.0.9","dest_port":443,"proto":"TCP","app_proto":"tls"}'),
    null,
  );
  // An alert raised by a reply: src is the server; direction and flow give the flow's own order.
  const reply = parseEveLine(
    '{"timestamp":"2026-12-01T18:06:16.000000+0000","flow_id":77,"event_type":"alert","src_ip":"198.51.100.7","src_port":443,"dest_ip":"10.0.0.5","dest_port":40112,"proto":"TCP","direction":"to_client","alert":{"action":"allowed","gid":1,"signature_id":2100001,"rev":1,"signature":"ET POLICY SSH banner on 443","category":"Potential Corporate Privacy Violation","severity":1}}',
  );
  t.match(reply, { kind: "alert", origAddress: "10.0.0.5", origPort: 40112, respAddress: "198.51.100.7", respPort: 443, weight: 0.85 });
  const withFlow = parseEveLine(
    '{"timestamp":"2026-12-01T18:06:16Z","event_type":"alert","src_ip":"198.51.100.7","src_port":443,"dest_ip":"10.0.0.5","dest_port":40112,"proto":"TCP","flow":{"src_ip":"10.0.0.5","src_port":40112,"dest_ip":"198.51.100.7","dest_port":443},"alert":{"signature":"x","signature_id":1,"severity":3}}',
  );
  t.match(withFlow, { origAddress: "10.0.0.5", respPort: 443, weight: 0.5 });
  t.match(
    parseEveLine(
      '{"timestamp":"2026-12-01T18:06:16Z","event_type":"anomaly","src_ip":"10.0.0.5","src_port":1,"dest_ip":"10.0.0.9","dest_port":22,"proto":"TCP","app_proto":"ssh","anomaly":{"app_proto":"ssh","type":"applayer","event":"APPLAYER_MISMATCH_PROTOCOL_BOTH_DIRECTIONS","layer":"proto_detect"}}',
    ),
    { kind: "anomaly", text: "anomaly (applayer, proto_detect): APPLAYER_MISMATCH_PROTOCOL_BOTH_DIRECTIONS [ssh]" },
  );
  t.match(
    parseEveLine(
      '{"timestamp":"2026-12-01T18:06:16Z","event_type":"anomaly","src_ip":"10.0.0.5","dest_ip":"10.0.0.9","proto":"UDP","anomaly":{"type":"decode","event":"decoder.udp.pkt_too_small"}}',
    ),
    { text: "anomaly (decode): decoder.udp.pkt_too_small" },
  );
  t.match(
    parseEveLine(
      '{"timestamp":"2026-12-01T18:06:16Z","event_type":"tls","src_ip":"10.0.0.5","src_port":1,"dest_ip":"10.0.0.9","dest_port":443,"proto":"TCP","tls":{"sni":"c2.example"}}',
    ),
    {
      kind: "name",
      name: "c2.example",
    },
  );
  t.match(
    parseEveLine(
      '{"timestamp":"2026-12-01T18:06:16Z","event_type":"dns","src_ip":"10.0.0.5","src_port":1,"dest_ip":"10.0.0.9","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"request","queries":[{"rrname":"q.example","rrtype":"A"}]}}',
    ),
    { name: "q.example" },
  );
  t.equal(parseEveLine('{"timestamp":"2026-12-01T18:06:16Z","event_type":"stats","stats":{}}'), null);
  t.match(parseEveLine('{"timestamp":"yesterday","event_type":"alert"}'), { error: /timestamp "yesterday" is not a time/ });
  t.match(parseEveLine('{"event_type":5}'), { error: "no event_type" });
  t.equal(eveTimeMs("2009-11-24T21:27:09.534255+0100"), Date.parse("2009-11-24T20:27:09.534Z"));
});

t.test("the format is detected from the first line", async (t) => {
  t.equal(detectFormat("#separator \\x09"), "zeek-tsv");
  t.equal(detectFormat('{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1"}'), "zeek-json");
  t.equal(detectFormat('{"timestamp":"2026-12-01T18:06:16Z","event_type":"flow"}'), "suricata-eve");
  t.equal(detectFormat("Dec  1 18:06:15 host sshd[1]: hello"), null);
  t.equal(detectFormat('{"hello":1}'), null);
  t.equal(detectFormat("{not json"), null);
});

t.test("a shipper's envelope (Filebeat/Logstash message, Fluent Bit log) is unwrapped", async (t) => {
  const inner =
    '{"timestamp":"2026-12-01T18:06:16Z","event_type":"alert","src_ip":"10.0.0.5","src_port":1,"dest_ip":"10.0.0.9","dest_port":2,"proto":"TCP","alert":{"signature":"s","signature_id":1,"severity":2}}';
  const filebeat = JSON.stringify({ "@timestamp": "2026-12-01T18:06:17Z", message: inner, host: { name: "sensor-1" } });
  t.equal(detectFormat(filebeat), "suricata-eve");
  t.match(lineParser("suricata-eve").parse(filebeat), { source: "suricata", kind: "alert" });
  const fluent = JSON.stringify({
    date: 1.5,
    log: '{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.5","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":2,"name":"bad_TCP_checksum","addl":""}',
  });
  t.match(lineParser("zeek-json", "", "weird").parse(fluent), { source: "zeek", text: "weird: bad_TCP_checksum" });
  t.match(lineParser("zeek-json").parse(JSON.stringify({ message: "{broken" })), { error: /^not JSON/ });
});
