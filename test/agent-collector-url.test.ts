import t from "tap";
import { httpBase, streamUrl } from "oddwire-agent/transport/collector-url.js";

t.test("one collector URL gives both addresses", async (t) => {
  t.equal(streamUrl("ws://127.0.0.1:8443"), "ws://127.0.0.1:8443/v1/stream");
  t.equal(streamUrl("https://collector.example:8443/some/path?x=1#y"), "wss://collector.example:8443/v1/stream");
  t.equal(httpBase("wss://collector.example:8443/v1/stream").toString(), "https://collector.example:8443/");
  t.equal(httpBase("ws://[::1]:8443").toString(), "http://[::1]:8443/");
});
