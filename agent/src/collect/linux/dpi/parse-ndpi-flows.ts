// ndpiReader's flow lines (`ndpiReader -i FILE -v 2`), one per flow:
//   1	TCP 127.0.0.1:43108 <-> 127.16.1.1:80 [proto: 7/HTTP][ClearText][Confidence: DPI]...[Hostname/SNI: www.example.test]...[Risk: ** Known Protocol on Non Standard Port **]...
// Pure: text in, flows out. Fields this parser does not know are ignored, so
// a newer nDPI that adds some still parses.

export interface NdpiFlow {
  transport: "tcp" | "udp";
  /** As ndpiReader prints them: the side it saw first, then the other. */
  a: string;
  aPort: number;
  b: string;
  bPort: number;
  /** "HTTP", "TLS.Google", ... ; "" when nDPI said Unknown. */
  protocol: string;
  confidence: string;
  category: string;
  risks: string[];
  /** TLS SNI, HTTP Host, DNS question (Hostname/SNI), SSH software (Client:/Server:), DNS answer-less names: in that order, deduplicated. */
  names: string[];
}

const FLOW_LINE = /^\s*\d+\s+(TCP|UDP)\s+(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)\s+<->\s+(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)\s+(.*)$/;
const BRACKETS = /\[([^[\]]*)\]/g;

export function parseNdpiFlows(text: string): NdpiFlow[] {
  const flows: NdpiFlow[] = [];
  for (const line of text.split("\n")) {
    const m = FLOW_LINE.exec(line);
    if (!m) continue;
    const [, proto, a, aPort, b, bPort, rest] = m as unknown as [string, string, string, string, string, string, string];
    const flow: NdpiFlow = {
      transport: proto === "TCP" ? "tcp" : "udp",
      a: unbracket(a),
      aPort: Number(aPort),
      b: unbracket(b),
      bPort: Number(bPort),
      protocol: "",
      confidence: "",
      category: "",
      risks: [],
      names: [],
    };
    for (const [, field = ""] of rest.matchAll(BRACKETS)) {
      const colon = field.indexOf(":");
      if (colon < 0) continue;
      const key = field.slice(0, colon).trim();
      const value = field.slice(colon + 1).trim();
      switch (key) {
        case "proto": {
          // "7/HTTP", "91.126/TLS.Google", "0/Unknown"
          const name = value.slice(value.indexOf("/") + 1);
          flow.protocol = name === "Unknown" ? "" : name;
          break;
        }
        case "Confidence":
          flow.confidence = value;
          break;
        case "cat":
          flow.category = value.replace(/\/\d+$/, "");
          break;
        case "Risk":
          for (const r of value.split("**")) if (r.trim() && r.trim() !== ",") flow.risks.push(r.trim().replace(/^,\s*/, ""));
          break;
        case "Hostname/SNI":
        case "Client":
        case "Server":
          if (value && !flow.names.includes(value)) flow.names.push(value);
          break;
      }
    }
    flows.push(flow);
  }
  return flows;
}

function unbracket(address: string): string {
  return address.startsWith("[") ? address.slice(1, -1) : address;
}
