// Whether an address is on the public internet, from its text alone: not
// private (RFC 1918, unique-local), loopback, link-local, carrier-grade NAT,
// multicast or unspecified. The documentation ranges (192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) count as public: fixtures
// and replayed fleets use them to stand for internet hosts.

export function isPublicAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:(?=\d+\.)/, "");
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (v4) {
    const [x, y] = [Number(v4[1]), Number(v4[2])];
    if (x === 0 || x === 10 || x === 127 || x >= 224) return false;
    if (x === 169 && y === 254) return false;
    if (x === 172 && y >= 16 && y <= 31) return false;
    if (x === 192 && y === 168) return false;
    if (x === 100 && y >= 64 && y <= 127) return false;
    return true;
  }
  if (!a.includes(":")) return false;
  if (a === "::" || a === "::1") return false;
  // fc00::/7 unique-local, fe80::/10 link-local, ff00::/8 multicast
  return !/^(f[cd]|fe[89ab]|ff)/.test(a);
}

/** A bare IPv4 or IPv6 address (as in a URL's host), not a name. */
export function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || (host.includes(":") && /^[0-9a-f:.]+$/i.test(host));
}
