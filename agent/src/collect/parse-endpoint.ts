// "address:port" as Windows netstat and macOS lsof print it: `*` for any
// address or port, IPv6 in brackets, zone ids (`%12`, `%en0`) dropped because
// they name a local interface, not the peer, and Linux records carry none.

export interface Endpoint {
  /** "" for `*`. */
  address: string;
  port: number;
  /** 0 when the address is `*`. */
  family: 4 | 6 | 0;
}

const PORT = /^\d{1,5}$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-f:.]+$/i;

export function parseEndpoint(text: string): Endpoint | undefined {
  const colon = text.lastIndexOf(":");
  if (colon <= 0) return undefined;
  const host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  let port: number;
  if (portText === "*") port = 0;
  else if (PORT.test(portText) && Number(portText) <= 65535) port = Number(portText);
  else return undefined;

  if (host === "*") return { address: "", port, family: 0 };
  if (IPV4.test(host)) return { address: host, port, family: 4 };
  if (host.startsWith("[") && host.endsWith("]")) {
    const inner = host.slice(1, -1);
    const percent = inner.indexOf("%");
    const address = (percent === -1 ? inner : inner.slice(0, percent)).toLowerCase();
    if (address.includes(":") && IPV6.test(address)) return { address, port, family: 6 };
  }
  return undefined;
}
